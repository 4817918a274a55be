#!/bin/sh
# The WireGuard lab itself, with wireguard-go on both sides where signpostd
# will later take one: pings and TCP transfers both ways over IPv4 and IPv6
# in the tunnel; A's underlay address changing in the middle of a transfer,
# which only WireGuard's roaming (B's endpoint follows the latest
# authenticated packet) survives; a peer with a wrong public key, which must
# get no handshake; and wg_lab_down leaving no namespace, process or socket.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/wglab.sh"

# The negative control reads B's verbose log.
export WG_LOG_LEVEL=verbose
wg_lab_up

IFA=${WG_ID}a
IFB=${WG_ID}b
PORT=51820
wg_keypair a
wg_keypair b
wg_go_up A "$IFA" "$T/a.key" $PORT 10.99.0.1/24 fd99::1/64
wg_go_up B "$IFB" "$T/b.key" $PORT 10.99.0.2/24 fd99::2/64
# B first: A would initiate at once. A keeps the tunnel alive, so it
# speaks first after it has moved.
wg_peer B "$IFB" "$T/a.pub" "$WG_A_IP:$PORT" 10.99.0.1/32,fd99::1/128
wg_peer A "$IFA" "$T/b.pub" "$WG_B_IP:$PORT" 10.99.0.2/32,fd99::2/128 1

# quiet CMD...: its output only if it fails, as TAP comments.
quiet() {
	"$@" >"$T/quiet.log" 2>&1 && return 0
	sed 's/^/# /' "$T/quiet.log"
	return 1
}
check "the underlay works: A pings B" quiet wg_exec A ping -c 1 -W 2 "$WG_B_IP"
check "the underlay works: A pings B, IPv6" quiet wg_exec A ping -c 1 -W 2 "$WG_B_IP6"
check "A pings B over the tunnel" quiet wg_exec A ping -c 3 -W 2 10.99.0.2
check "B pings A over the tunnel" quiet wg_exec B ping -c 3 -W 2 10.99.0.1
check "A pings B over the tunnel, IPv6" quiet wg_exec A ping -c 3 -W 2 fd99::2
check "B pings A over the tunnel, IPv6" quiet wg_exec B ping -c 3 -W 2 fd99::1
check "A has a handshake with B" test "$(wg_handshake A "$IFA" "$T/b.pub")" -gt 0
check "B has a handshake with A" test "$(wg_handshake B "$IFB" "$T/a.pub")" -gt 0

# nc_transfer FROM TO TO_ADDR PORT: 4 MiB of random bytes through the
# tunnel; true if TO received exactly them.
head -c 4194304 /dev/urandom >"$T/blob"
nc_transfer() {
	rm -f "$T/got"
	wg_spawn "$2" "nc_$2" sh -c 'exec timeout 20 nc -l "$1" "$2" >"$3"' - "$3" "$4" "$T/got"
	_pid=$WG_PID
	wg_wait_tcp "$2" "$4" || return 1
	wg_exec "$1" timeout 20 nc -N "$3" "$4" <"$T/blob" || return 1
	wait "$_pid" || return 1
	[ "$(sha256sum <"$T/got")" = "$(sha256sum <"$T/blob")" ]
}
check "4 MiB A -> B over TCP arrive intact" nc_transfer A B 10.99.0.2 7001
check "4 MiB B -> A over TCP/IPv6 arrive intact" nc_transfer B A fd99::1 7002

# iperf3, which the interoperability tests will use. Its receiver's count is
# taken when the sender says it is done, with data still in flight, so only
# the sender's is exact; nc's transfers above are the byte-exact ones.
wg_spawn B iperf3 iperf3 -s -B 10.99.0.2 -p 5201
check "iperf3 listens on B" wg_wait_tcp B 5201
# iperf3 -n reports the receiver's count only as far as it got when the
# sender stopped, which on a busy machine can be nothing yet; delivery is
# proved byte for byte by the nc transfers above, so this checks that all
# 5 MiB went out without an error. -n stops at the first 128 KiB block at
# or past 5 MiB, so one more block may go (seen: 5373952 bytes).
iperf_sent() {
	wg_exec A iperf3 -c 10.99.0.2 -p 5201 -n 5M -J "$@" >"$T/iperf.json" &&
		jq -e '.end.sum_sent.bytes >= 5242880 and .error == null' "$T/iperf.json" >/dev/null ||
		{ echo "# iperf3: $(jq -c '{error, sent: .end.sum_sent.bytes}' "$T/iperf.json" 2>&1)"; false; }
}
check "iperf3 A -> B: 5 MiB" iperf_sent
check "iperf3 B -> A: 5 MiB" iperf_sent -R

# Roaming: B still has A's old endpoint. Once 10.77.0.1 is gone nothing
# answers there, so B's replies arrive only if it takes the new one from A's
# packets.
wg_spawn A roam_ping ping -i 0.2 -c 30 -W 1 10.99.0.2
PING_PID=$WG_PID
wg_spawn A roam_iperf iperf3 -c 10.99.0.2 -p 5201 -t 6 -i 1 -J
IPERF_PID=$WG_PID
sleep 2
wg_move_address A 10.77.0.1 10.77.0.11
check "wg_move_address follows A's address" test "$WG_A_IP" = 10.77.0.11
wait "$IPERF_PID"
check "the TCP transfer across the move completes" test $? -eq 0
wait "$PING_PID"
LOST=$(sed -n 's/^\([0-9]*\) packets transmitted, \([0-9]*\) received.*/\1 \2/p' \
	"$T/roam_ping.log" | awk '{ print $1 - $2 }')
# Without roaming about 20 pings would be lost and the transfer would stall
# for good; the margins allow for a machine busy with other tests.
check "at most 6 of 30 pings lost across the move (lost: ${LOST:-?})" \
	test "${LOST:-99}" -le 6
check "the transfer moved data in at least 5 of its 6 seconds" \
	quiet jq -e '(.intervals | length) == 6 and ([.intervals[] | select(.sum.bytes > 0)] | length) >= 5' \
	"$T/roam_iperf.log"
endpoint_of_a() { wg_exec B wg show "$IFB" endpoints | grep -q "	$1:$PORT\$"; }
check "B's endpoint for A is now 10.77.0.11" endpoint_of_a 10.77.0.11
check "A pings B from its new address" quiet wg_exec A ping -c 3 -W 2 10.99.0.2

# Negative control: A now knows B by a key B does not have. B cannot even
# check the MAC of A's handshake initiations, let alone answer them.
# A's first initiation leaves as soon as the peer is set: count before.
MAC1_BEFORE=$(grep -c 'Received packet with invalid mac1' "$T/wg-$IFB.log")
wg_keypair wrong
wg_exec A wg set "$IFA" peer "$(cat "$T/b.pub")" remove
wg_peer A "$IFA" "$T/wrong.pub" "$WG_B_IP:$PORT" 10.99.0.2/32 1
# fails CMD...: true if CMD fails; its output only if it does not.
fails() {
	"$@" >"$T/quiet.log" 2>&1 || return 0
	sed 's/^/# /' "$T/quiet.log"
	return 1
}
check "with B's key wrong, A cannot ping B" fails wg_exec A ping -c 3 -W 2 10.99.0.2
check "with B's key wrong, A gets no handshake" \
	test "$(wg_handshake A "$IFA" "$T/wrong.pub")" -eq 0
check "B got A's initiations and rejected them (invalid mac1)" test \
	"$(grep -c 'Received packet with invalid mac1' "$T/wg-$IFB.log")" -gt "$MAC1_BEFORE"

NETNS=$WG_NETNS
IFS_USED=$WG_IFS
PIDS=$(for ns in $NETNS; do ip netns pids "$ns"; done)
check "wireguard-go runs in the lab" sh -c \
	'for p in $1; do ps -o args= -p "$p" | grep -qx "wireguard-go -f $2" && exit 0; done; exit 1' \
	- "$PIDS" "$IFA"
wg_lab_down
check "wg_lab_down deletes every namespace" sh -c \
	'for ns in $1; do ip netns list | grep -q "^$ns\( \|$\)" && exit 1; done; exit 0' - "$NETNS"
check "wg_lab_down ends every process of the lab" sh -c \
	'for p in $1; do ps -o stat= -p "$p" | grep -q "^[^Z]" && exit 1; done; exit 0' - "$PIDS"
check "no wireguard-go of this run is left" sh -c \
	'for i in $1; do ps -e -o args= | grep -qx "wireguard-go -f $i" && exit 1; done; exit 0' \
	- "$IFS_USED"
check "wg_lab_down removes the UAPI sockets" sh -c \
	'for i in $1; do [ -e "/var/run/wireguard/$i.sock" ] && exit 1; done; exit 0' - "$IFS_USED"

finish
