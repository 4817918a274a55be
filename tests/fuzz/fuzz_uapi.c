/* libFuzzer target: the UAPI set parser (tunnels/uapi.c). */
#include <stdint.h>
#include <string.h>

#include "sp_uapi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int ok_key(void *a, const uint8_t k[32]) { (void)a; (void)k; return 0; }
static int ok_u16(void *a, uint16_t v) { (void)a; (void)v; return 0; }
static int ok_u32(void *a, uint32_t v) { (void)a; (void)v; return 0; }
static int ok_void(void *a) { (void)a; return 0; }
static int ok_peer(void *a, const uint8_t k[32], int u) { (void)a; (void)k; (void)u; return 0; }

static int
ok_endpoint(void *a, const struct sockaddr *sa, socklen_t len)
{
	(void)a;
	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		__builtin_trap();
	(void)len;
	return 0;
}

static int
ok_allowed(void *a, int family, const uint8_t *addr, unsigned cidr)
{
	(void)a;
	(void)addr;
	if ((family != 4 && family != 6) || cidr > (family == 4 ? 32u : 128u))
		__builtin_trap();
	return 0;
}

static const struct sp_uapi_ops ops = {
	ok_key, ok_u16, ok_u32, ok_void, ok_peer, ok_void, ok_key, ok_endpoint, ok_u16,
	ok_void, ok_allowed,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sp_uapi_set((const char *)data, size, &ops, NULL);
	return 0;
}
