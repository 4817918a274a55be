/*
 * Cryptokey routing (the WireGuard paper, section 2): each peer owns a set
 * of IP prefixes. An outgoing packet goes to the peer owning the longest
 * prefix that matches its destination; a decrypted packet is accepted only
 * if its source lies in a prefix of the peer it came from. A path-compressed
 * binary trie per family (allowedips.c); pure.
 */
#ifndef SP_ALLOWEDIPS_H
#define SP_ALLOWEDIPS_H

#include <stddef.h>
#include <stdint.h>

#include "sp_err.h"

typedef struct sp_allowedips sp_allowedips;

int sp_allowedips_new(sp_allowedips **out);
void sp_allowedips_free(sp_allowedips *t);

/* family is 4 or 6; addr is 4 or 16 bytes; bits past cidr are ignored. A
 * prefix has one owner: inserting it again moves it to peer. */
int sp_allowedips_insert(sp_allowedips *t, int family, const uint8_t *addr, unsigned cidr,
    void *peer) __attribute__((warn_unused_result));
/* The owner of the longest matching prefix, or NULL. */
void *sp_allowedips_lookup(const sp_allowedips *t, int family, const uint8_t *addr);
/* Forget every prefix of peer. */
void sp_allowedips_remove_peer(sp_allowedips *t, void *peer);
/* Call cb for each prefix of peer (for `wg show`), in the order added. */
void sp_allowedips_walk(const sp_allowedips *t, const void *peer,
    void (*cb)(void *arg, int family, const uint8_t *addr, unsigned cidr), void *arg);

/* How many trie nodes exist (tests: removal frees what it empties). */
size_t sp_allowedips_nodes(const sp_allowedips *t);

/* Where an IP packet comes from and goes to: SP_EINVAL if it is not a
 * well-formed IPv4 or IPv6 header within len. */
int sp_ip_addrs(const uint8_t *pkt, size_t len, int *family, const uint8_t **src,
    const uint8_t **dst);

#endif
