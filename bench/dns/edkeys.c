/* Print N fresh Ed25519 public keys, one base64 line each, for the DNS
 * benchmark's devices. The secret halves are wiped and never written. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	char b64[sodium_base64_ENCODED_LEN(crypto_sign_PUBLICKEYBYTES,
	    sodium_base64_VARIANT_ORIGINAL)];
	char *end;
	long i, n;

	if (argc != 2 || (n = strtol(argv[1], &end, 10)) < 0 || *end != '\0') {
		fprintf(stderr, "usage: edkeys COUNT\n");
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	for (i = 0; i < n; i++) {
		if (crypto_sign_keypair(pk, sk) != 0)
			return 1;
		sodium_bin2base64(b64, sizeof b64, pk, sizeof pk,
		    sodium_base64_VARIANT_ORIGINAL);
		puts(b64);
	}
	sodium_memzero(sk, sizeof sk);
	return ferror(stdout) ? 1 : 0;
}
