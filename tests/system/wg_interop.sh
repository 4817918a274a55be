#!/bin/sh
# Wire compatibility of tunnels/ with the reference userspace WireGuard:
# wgprobe (our protocol core on a bare UDP socket) in one namespace,
# wireguard-go configured with wg in the other. Both roles: we initiate
# and ping through wireguard-go; wireguard-go initiates and pings through
# us. Then a peer with the wrong key gets nowhere.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/wglab.sh"

wg_lab_up
N=$$
IF=spw$((N % 100000))
PROBE=$BIN/wgprobe

wg_keypair ours
wg_keypair theirs
wg_go_up B "$IF" "$T/theirs.key" 51820 10.99.0.2/24
wg_peer B "$IF" "$T/ours.pub" "$WG_A_IP:51821" 10.99.0.1/32

# We initiate: handshake, an echo request through the tunnel, its reply.
run_expect "our initiation completes a handshake with wireguard-go" 0 "handshake complete" \
	wg_exec A "$PROBE" ping "$(cat "$T/ours.key")" "$(cat "$T/theirs.pub")" \
	"$WG_B_IP:51820" 51821 10.99.0.1 10.99.0.2
check "wireguard-go decrypts our echo request and we decrypt its reply" sh -c \
	"printf '%s' \"\$1\" | grep -q 'echo reply received and decrypted: ok'" - "$OUT"
check "wireguard-go records the handshake" test "$(wg_handshake B "$IF" "$T/ours.pub")" -gt 0

# wireguard-go initiates: it must forget our first session, so the peer
# is removed and added again; then its ping goes through our responder.
wg_exec B wg set "$IF" peer "$(cat "$T/ours.pub")" remove
wg_peer B "$IF" "$T/ours.pub" "$WG_A_IP:51821" 10.99.0.1/32
wg_exec A "$PROBE" serve "$(cat "$T/ours.key")" "$(cat "$T/theirs.pub")" 51821 10.99.0.1 6 \
	>"$T/serve.log" 2>&1 &
SERVE=$!
sleep 0.3
run_expect "wireguard-go's ping goes through our responder" 0 " 0% packet loss" \
	wg_exec B ping -c 3 -W 2 10.99.0.1
wait "$SERVE"
check "our responder answered its handshake and its echoes" grep -q '1 handshakes, 3 echo requests answered' "$T/serve.log"

# A peer configured with another key: no handshake, no traffic.
wg_keypair stranger
run_expect "a wrong key gets no handshake" 1 "no handshake response" \
	wg_exec A "$PROBE" ping "$(cat "$T/stranger.key")" "$(cat "$T/theirs.pub")" \
	"$WG_B_IP:51820" 51822 10.99.0.1 10.99.0.2

finish
