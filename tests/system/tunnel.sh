#!/bin/sh
# signpostd's tunnel interface against wireguard-go, configured only with
# the standard wg tool, in two network namespaces: pings and a byte-exact
# TCP transfer both ways, wg show as for wireguard-go, the overlay address
# and route, roaming when signpostd's address changes mid-transfer, a
# wrong key; then signpostd on both ends.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/wglab.sh"

wg_lab_up
SP=spt$(( $$ % 100000 ))
GO=${WG_ID}g

# signpostd in A (its WireGuard key is its device key), wireguard-go in B.
sp --state "$T/a" init --zone alice.example --name a >/dev/null
printf 'interface-ipv4 10.99.0.1/24\n' >"$T/a.conf"
wg_spawn A sp_a "$BIN/signpostd" --config "$T/a.conf" --state "$T/a" --interface "$SP"
i=0
until wg_exec A wg show "$SP" >/dev/null 2>&1 || [ $i -gt 50 ]; do sleep 0.1; i=$((i + 1)); done
check "signpostd's interface answers wg show" wg_exec A wg show "$SP"
SP_PUB=$(wg_exec A wg show "$SP" public-key)
# The device's WireGuard key as libsodium derives it from the Ed25519 seed
# (crypto_sign_ed25519_sk_to_curve25519): the first half of SHA-512 of the
# seed, clamped, which wg pubkey does itself. Nothing if the state has not
# exactly one unsealed device key.
device_x25519_pub() {
	set -- "$1"/keys/device-*.key
	[ $# -eq 1 ] && [ -f "$1" ] || return 1
	seed=$(sed -n 's/^secret //p' "$1")
	[ -n "$seed" ] || return 1
	printf '%s' "$seed" | base64 -d | sha512sum | cut -c1-64 | tr a-f A-F |
		basenc --base16 -d | base64 | wg pubkey
}
same_key() {        # same_key GOT WANT
	[ -n "$2" ] && [ "$1" = "$2" ] && return 0
	echo "# wg show says '$1', the device key gives '$2'"
	return 1
}
check "its public key is the device key's X25519 form" \
	same_key "$SP_PUB" "$(device_x25519_pub "$T/a")"
check "the interface has the device's overlay address" sh -c \
	"ip -n '$WG_A_NS' -6 addr show dev '$SP' | grep -q 'inet6 fd[0-9a-f:]*/128'"
check "and a route to the zone's /48" sh -c "ip -n '$WG_A_NS' -6 route show dev '$SP' | grep -q '/48'"

# With no --interface the tunnel is sp0; `--interface none` is no tunnel.
sp --state "$T/d" init --zone alice.example --name d >/dev/null
wg_spawn B sp_d "$BIN/signpostd" --state "$T/d"
D_PID=$WG_PID
i=0
until wg_exec B wg show sp0 >/dev/null 2>&1 || [ $i -gt 50 ]; do sleep 0.1; i=$((i + 1)); done
check "with no --interface signpostd makes sp0, and wg shows it" wg_exec B wg show sp0
kill "$D_PID"; wait "$D_PID" 2>/dev/null
check "...which goes, with its UAPI socket, when it stops" sh -c \
	"! ip -n '$WG_B_NS' link show sp0 2>/dev/null && test ! -e /var/run/wireguard/sp0.sock"

wg_keypair go
wg_go_up B "$GO" "$T/go.key" 51820 10.99.0.2/24
wg_peer B "$GO" "$SP_PUB" "$WG_A_IP:51821" 10.99.0.1/32
wg_exec A wg set "$SP" listen-port 51821 peer "$(cat "$T/go.pub")" endpoint "$WG_B_IP:51820" \
	allowed-ips 10.99.0.2/32 persistent-keepalive 1
check "the interface has the IPv4 address its config gives" sh -c \
	"ip -n '$WG_A_NS' -4 addr show dev '$SP' | grep -q 'inet 10.99.0.1/24'"

run_expect "signpostd pings wireguard-go" 0 " 0% packet loss" wg_exec A ping -c 3 -W 2 10.99.0.2
ST=$(sp --state "$T/a" status --json)
check "signpost status lists the tunnel and the peer with a handshake" sh -c \
	"printf '%s' \"\$1\" | jq -e '.tunnel == \"$SP\" and (.peers[0].handshake >= 0) and (.peers[0].tx > 0)' >/dev/null" - "$ST"
run_expect "wireguard-go pings signpostd" 0 " 0% packet loss" wg_exec B ping -c 3 -W 2 10.99.0.1
SHOW=$(wg_exec A wg show "$SP")
check "wg show lists the peer with its endpoint and allowed IPs" sh -c \
	"printf '%s' \"\$1\" | grep -q 'endpoint: $WG_B_IP:51820' && printf '%s' \"\$1\" | grep -q 'allowed ips: 10.99.0.2/32'" - "$SHOW"
check "wg show reports a recent handshake" sh -c \
	"printf '%s' \"\$1\" | grep -q 'latest handshake: [0-9]* second'" - "$SHOW"

# A byte-exact TCP transfer each way.
head -c 3000000 /dev/urandom >"$T/blob"
SUM=$(sha256sum <"$T/blob" | cut -d' ' -f1)
transfer() {    # transfer FROM_SIDE TO_SIDE TO_ADDR PORT
	wg_spawn "$2" "nc_$4" sh -c "nc -l -p $4 >'$T/got.$4'"
	wg_wait_tcp "$2" "$4"
	wg_exec "$1" sh -c "nc -N $3 $4 <'$T/blob'"
	i=0
	while [ "$(stat -c %s "$T/got.$4" 2>/dev/null)" != 3000000 ] && [ $i -lt 50 ]; do
		sleep 0.1; i=$((i + 1)); done
	[ "$(sha256sum <"$T/got.$4" | cut -d' ' -f1)" = "$SUM" ]
}
check "3 MB from signpostd to wireguard-go arrive intact" transfer A B 10.99.0.2 7001
check "3 MB from wireguard-go to signpostd arrive intact" transfer B A 10.99.0.1 7002

# Roaming: signpostd's underlay address changes during a ping; its
# keepalives and replies come from the new address, and wireguard-go
# follows them (the endpoint follows the latest authenticated packet).
wg_exec B ping -c 30 -i 0.2 -W 1 10.99.0.1 >"$T/roam.ping" 2>&1 &
PING=$!
sleep 2
ip -n "$WG_A_NS" addr del "$WG_A_IP/24" dev eth0
ip -n "$WG_A_NS" addr add 10.77.0.11/24 dev eth0
wait "$PING"
GOT=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$T/roam.ping")
echo "# $GOT of 30 pings answered across the move"
# wireguard-go learns the new address from signpostd's next packet, a
# keepalive within a second (persistent-keepalive 1): about five pings at
# 0.2 s may fall in that gap, so at most eight may be lost.
check "the ping survives signpostd moving (at most 8 of 30 lost)" test "${GOT:-0}" -ge 22
endpoint_moved() { wg_exec B wg show "$GO" endpoints | grep -q '10.77.0.11:51821'; }
check "wireguard-go now sends to signpostd's new address" endpoint_moved

# A handshake flood from a known key: after the first handshakes of the
# second, signpostd answers with cookies instead of spending DH on each.
wg_keypair flooder
wg_exec A wg set "$SP" peer "$(cat "$T/flooder.pub")" allowed-ips 10.99.0.9/32
FLOOD=$(wg_exec B "$BIN/wgprobe" flood "$(cat "$T/flooder.key")" "$SP_PUB" "10.77.0.11:51821" 51829 500)
echo "# $FLOOD"
check "a handshake flood is answered with cookie replies" sh -c \
	"printf '%s' \"\$1\" | grep -Eq ', [1-9][0-9]* cookie replies'" - "$FLOOD"
check "and few handshakes are spent on it" sh -c \
	"test \$(printf '%s' \"\$1\" | sed -n 's/.*sent, \\([0-9]*\\) responses.*/\\1/p') -le 100" - "$FLOOD"
run_expect "the tunnel still works after the flood" 0 " 0% packet loss" \
	wg_exec A ping -c 2 -W 2 10.99.0.2

# Garbage and truncated datagrams: dropped, counted by reason, harmless.
for i in 1 2 3 4 5; do
	wg_exec B bash -c 'printf "\011garbage" >/dev/udp/10.77.0.11/51821
		printf "\004\000\000\000short" >/dev/udp/10.77.0.11/51821'
done
sleep 0.3
ST=$(sp --state "$T/a" status --json)
echo "# $(printf '%s' "$ST" | jq -r '."tunnel-drops"')"
check "garbage is counted as dropped, by reason" sh -c "printf '%s' \"\$1\" | jq -e \
	'.\"tunnel-dropped\" >= 10 and (.\"tunnel-drops\" | test(\"bad-type=[1-9]\") and \
	test(\"bad-size=[1-9]\") and test(\"cookies-sent=[1-9]\"))' >/dev/null" - "$ST"
run_expect "and the tunnel works" 0 " 0% packet loss" wg_exec A ping -c 2 -W 2 10.99.0.2

# A stranger's key: no handshake.
wg_keypair stranger
wg_exec A wg set "$SP" peer "$(cat "$T/stranger.pub")" endpoint "$WG_B_IP:51820" allowed-ips 10.99.0.3/32
run_expect "a peer with a key wireguard-go does not know gets no answer" 1 "100% packet loss" \
	wg_exec A ping -c 2 -W 1 10.99.0.3

# signpostd on both ends, configured only through wg set.
wg_go_down "$GO"
sp --state "$T/b" init --zone alice.example --name b >/dev/null
SP_B=spu$(( $$ % 100000 ))
wg_spawn B sp_b "$BIN/signpostd" --state "$T/b" --interface "$SP_B"
i=0
until wg_exec B wg show "$SP_B" >/dev/null 2>&1 || [ $i -gt 50 ]; do sleep 0.1; i=$((i + 1)); done
SPB_PUB=$(wg_exec B wg show "$SP_B" public-key)
wg_exec B wg set "$SP_B" listen-port 51820 peer "$SP_PUB" endpoint 10.77.0.11:51821 allowed-ips 10.98.0.1/32
wg_exec B ip addr add 10.98.0.2/24 dev "$SP_B"
wg_exec A wg set "$SP" peer "$SPB_PUB" endpoint "$WG_B_IP:51820" allowed-ips 10.98.0.2/32
wg_exec A ip addr add 10.98.0.1/24 dev "$SP"
run_expect "signpostd pings signpostd" 0 " 0% packet loss" wg_exec A ping -c 3 -W 2 10.98.0.2
run_expect "and back" 0 " 0% packet loss" wg_exec B ping -c 3 -W 2 10.98.0.1
check "3 MB between two signpostd arrive intact" transfer A B 10.98.0.2 7003

finish
