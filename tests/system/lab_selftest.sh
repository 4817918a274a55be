#!/bin/sh
# The netns DNS lab itself: a stand-in alice.example. on NSD in `auth`, its DS
# in the lab's example., and unbound validating the whole chain from the lab
# root; then a DS of another key in the parent, which must make it fail; and
# lab_down leaving no namespace or process behind.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lab.sh"

lab_up

Z=$T/alice
mkdir "$Z"
cat >"$Z/alice.zone" <<EOF
\$TTL 3600
alice.example.	IN	SOA	ns.alice.example. hostmaster.alice.example. 1 1800 900 604800 300
alice.example.	IN	NS	ns.alice.example.
ns.alice.example.	IN	A	$LAB_AUTH_IP4
ns.alice.example.	IN	AAAA	$LAB_AUTH_IP6
phone.alice.example.	IN	AAAA	fd00::1
EOF
lab_sign alice.example. "$Z/alice.zone"
lab_nsd auth auth_nsd alice.example. "$Z/alice.zone.signed"

lab_root_sign alice.example. "$Z/alice.zone.ds" "$LAB_AUTH_IP4"
lab_resolver_up

run_expect "the lab root validates" 0 "status: NOERROR" lab_query . SOA
check "the lab root's SOA has AD" lab_ad "$OUT"

run_expect "phone.alice.example AAAA resolves" 0 "status: NOERROR" \
	lab_query phone.alice.example AAAA
check "phone.alice.example AAAA has AD" lab_ad "$OUT"
check "phone.alice.example AAAA is fd00::1" sh -c \
	"printf '%s\n' \"\$1\" | grep -Eq '^phone\.alice\.example\.[[:space:]].*AAAA[[:space:]]+fd00::1$'" - "$OUT"

run_expect "nope.alice.example is NXDOMAIN" 0 "status: NXDOMAIN" \
	lab_query nope.alice.example AAAA
check "the NXDOMAIN has AD" lab_ad "$OUT"

lab_delv_anchor "$Z/alice.zone.ds" >"$Z/alice.anchor"
run_expect "delv validates the stand-in from its own DS, straight at auth" 0 \
	"; fully validated" lab_exec res delv @"$LAB_AUTH_IP4" -a "$Z/alice.anchor" \
	+root=alice.example phone.alice.example AAAA

# Negative control: the parent now vouches for a key alice.example. does not
# have. A fresh resolver (empty cache) must refuse the same, still
# reachable, data.
ROGUE=$(cd "$Z" && ldns-keygen -a ED25519 -k alice.example.)
ldns-key2ds -n -2 "$Z/$ROGUE.key" >"$Z/rogue.ds"
lab_root_sign alice.example. "$Z/rogue.ds" "$LAB_AUTH_IP4"
lab_resolver_up

run_expect "with a DS of another key, phone.alice.example is SERVFAIL" 0 \
	"status: SERVFAIL" lab_query phone.alice.example AAAA
check "the SERVFAIL has no AD" sh -c '! printf "%s\n" "$1" | grep -Eq "^;; flags:[a-z ]* ad[ ;]"' - "$OUT"
run_expect "with +cd the same data is still served" 0 "fd00::1" \
	lab_query phone.alice.example AAAA +cd
# delv exits 0 even when the chain is broken; only its output tells.
lab_delv_anchor "$Z/rogue.ds" >"$Z/rogue.anchor"
run_expect "delv from the other key's DS finds a broken chain" 0 \
	"broken trust chain" lab_exec res delv @"$LAB_AUTH_IP4" -a "$Z/rogue.anchor" \
	+root=alice.example phone.alice.example AAAA
check "unbound logs why: the DS matches no DNSKEY" \
	grep -q 'validation failure <phone.alice.example. AAAA IN>.*DS' "$LAB_DIR/unbound.log"

NETNS=$LAB_NETNS
PIDS=$(for ns in $NETNS; do ip netns pids "$ns"; done)
lab_down
check "lab_down deletes every namespace" sh -c \
	'for ns in $1; do ip netns list | grep -q "^$ns\( \|$\)" && exit 1; done; exit 0' - "$NETNS"
check "lab_down ends every process of the lab" sh -c \
	'for p in $1; do ps -o stat= -p "$p" | grep -q "^[^Z]" && exit 1; done; exit 0' - "$PIDS"

finish
