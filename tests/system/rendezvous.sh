#!/bin/sh
# The gateway's ICE rendezvous (docs/control-plane.md, "ICE signalling")
# refuses the signalling it must refuse, in the NAT lab: a gateway on gw, a
# laptop and a phone each behind a cone NAT, both joined (ICE on), and a
# WireGuard-app member `tab` (paired, never running). tests/tools/cpprobe
# speaks the control plane as the laptop, from the laptop's namespace and
# overlay address, and the gateway's `rendezvous` counters (forwarded=,
# refused=, rate-limited=) and the phone's `ice` counters (msgs-in=,
# msgs-stale=, msgs-out=) are read before and after each probe:
#
#   a. HELLO signed by a key that is no member's, from the laptop's address:
#      refused at HELLO, counted in control-plane-refused, nothing forwarded,
#      and the laptop's own connection is not displaced;
#   b. ICE for a key that is no member's: refused, nothing forwarded;
#   c. ICE for the WireGuard-app member: refused;
#   d. ICE for the laptop itself: refused;
#  d2. ICE for the phone from a connection whose HELLO said version 1 (a
#      member from before ICE): refused;
#   e. ICE for the phone: forwarded, and the phone took it as the laptop's
#      (msgs-in, not msgs-stale: the gateway wrote the sender into `peer`);
#   f. 100 ICE messages at once for the phone: 64 reach it, the rest are
#      rate-limited;
#   g. the phone's signpostd still runs, its control plane never dropped.
#
# Each probe's HELLO replaces the laptop's own connection (a member's newer
# verified connection replaces its older one), and the laptop's signpostd
# connects again 1 s later, replacing the probe's. The tunnel lives in that
# signpostd, so it keeps running; the test waits for its control plane to be
# up again before each probe. cpprobe sends a PING after its ICE messages:
# the PONG says the gateway has handled them all, so the counters are read
# with nothing in flight. Only a DNS lookup of a member's name starts ICE
# (signpostd/device/peers.c), and nothing here looks one up, so before e no
# other ICE message crosses the gateway; from e on, the phone answers the
# probe's offer, and its own messages (counted in its msgs-out) are allowed
# for in the bounds.
#
# The rate is counted per second of the gateway's CLOCK_MONOTONIC, which
# cpprobe shares: it starts on a second's edge (--align) and reports in how
# many seconds the gateway handled the burst ("fenced S"). Split over two
# seconds, 100 messages could all pass within the limit, so such a burst
# proves nothing and is sent again (at most 3 times).
#
# Keys: `signpost devices --json` shows only a key id (a hash); the ICE
# `peer` field is the key itself, which `signpost device list` prints in
# base64 (the WireGuard-app member's X25519 key, the others' Ed25519).
#
# Needs root, iproute2, nftables, util-linux and jq. Without root it exits
# 77 (skipped).
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root for network namespaces"
	exit 77
fi
. "$(dirname "$0")/../lab/nat.sh"
. "$(dirname "$0")/../lab/cloud.sh"

S=$T/s
GW=$S/gw
L=$S/laptop
P=$S/phone
IFG=sprv$$g
CLOUD_IFACES="$IFG sprv$$l sprv$$p"
STARTED=

down() {
	if [ -n "$STARTED" ]; then
		cloud_down "$L" "$P"
	else
		cloud_down
	fi
}
trap 'down; cleanup' EXIT

show_logs() {
	for _l_log in "$@" "$T/gwd-gw.log" "$L/signpostd.log" "$P/signpostd.log"; do
		[ -s "$_l_log" ] || continue
		echo "# --- last lines of $_l_log:" >&2
		tail -n 15 "$_l_log" | sed 's/^/#   /' >&2
	done
}

bail() {
	echo "Bail out! rendezvous: $1"
	shift
	show_logs "$@"
	exit 1
}


field() { cloud_json "$1" | jq -r --arg f "$2" '.[$f] // "" | tostring'; }

# snap PREFIX: the phone's counters, then the gateway's (so that, taken
# again after a probe in the other order, the phone's deltas bound what
# the gateway counted of its messages).
snap_before() {
	eval "${1}_in=\$(cloud_kv \"\$P\" ice msgs-in) ${1}_stale=\$(cloud_kv \"\$P\" ice msgs-stale)"
	eval "${1}_out=\$(cloud_kv \"\$P\" ice msgs-out)"
	snap_gw "$1"
}
snap_after() {
	snap_gw "$1"
	eval "${1}_in=\$(cloud_kv \"\$P\" ice msgs-in) ${1}_stale=\$(cloud_kv \"\$P\" ice msgs-stale)"
	eval "${1}_out=\$(cloud_kv \"\$P\" ice msgs-out)"
}
snap_gw() {
	eval "${1}_fw=\$(cloud_kv \"\$GW\" rendezvous forwarded) ${1}_rf=\$(cloud_kv \"\$GW\" rendezvous refused)"
	eval "${1}_rl=\$(cloud_kv \"\$GW\" rendezvous rate-limited)"
	eval "${1}_cpr=\$(field \"\$GW\" control-plane-refused)"
}
# delta NAME: after's minus before's.
delta() { eval "echo \$((\${a_$1:-0} - \${b_$1:-0}))"; }
# deltas: the change, as one line for the log.
deltas() {
	echo "forwarded+$(delta fw) refused+$(delta rf) rate-limited+$(delta rl)" \
		"control-plane-refused+$(delta cpr); phone msgs-in+$(delta in)" \
		"msgs-stale+$(delta stale) msgs-out+$(delta out)"
}

laptop_ready() {
	[ "$(field "$L" control-plane)" = up ] && [ "$(field "$GW" members-connected)" = 2 ]
}
wait_ready() {
	cloud_until 20 laptop_ready ||
		bail "the laptop's control plane is not up again within 20 s ($(field "$L" control-plane), members-connected $(field "$GW" members-connected))"
}

# probe NAME ARG...: cpprobe as the laptop, in its namespace, from its
# overlay address; output in $T/probe-NAME.out, status in PRC.
probe() {
	_p_name=$1
	shift
	nat_exec laptop timeout 30 "$BIN/cpprobe" --state "$L" --gateway "[$GO]:5301" \
		--bind "$LA" "$@" >"$T/probe-$_p_name.out" 2>&1
	PRC=$?
	echo "# probe $_p_name (exit $PRC): $(tr '\n' ';' <"$T/probe-$_p_name.out")"
}
said() { grep -q -- "$2" "$T/probe-$1.out"; }
fenced() { sed -n 's/^fenced //p' "$T/probe-$1.out"; }

# phone_got N: the phone's msgs-in + msgs-stale have grown by N since the
# before snapshot.
phone_got() {
	_g_in=$(cloud_kv "$P" ice msgs-in)
	_g_stale=$(cloud_kv "$P" ice msgs-stale)
	# shellcheck disable=SC2154
	[ $((${_g_in:-0} + ${_g_stale:-0} - ${b_in:-0} - ${b_stale:-0})) -ge "$1" ]
}

down_lines() { grep -c 'control plane to the gateway is down' "$1/signpostd.log" 2>/dev/null || true; }

missing=
for pair in ip:iproute2 nft:nftables setsid:util-linux jq:jq timeout:coreutils; do
	command -v "${pair%%:*}" >/dev/null 2>&1 || missing="$missing ${pair#*:}"
done
[ -z "$missing" ] || bail "missing Debian packages:$missing (scripts/install-deps.sh)"
[ -c /dev/net/tun ] || bail "no /dev/net/tun"
[ -x "$BIN/cpprobe" ] || bail "$BIN/cpprobe is not built (tests/tools/cpprobe.c)"

# ---- the lab ---------------------------------------------------------------------

mkdir "$S"
nat_lab_up
nat_home cone home laptop
nat_home cone away phone
cloud_gw_start "$GW" "$IFG" || bail "the gateway did not start" "$T/gw-init.log"
STARTED=1
cloud_join laptop laptop "$L" "sprv$$l" || bail "the laptop did not join" "$T/join-laptop.log"
cloud_join phone phone "$P" "sprv$$p" || bail "the phone did not join" "$T/join-phone.log"
sp --state "$GW" pair --wireguard --name tab --uri >"$T/tab.conf" 2>"$T/tab.err" ||
	bail "pair --wireguard tab failed" "$T/tab.err"
LA=$(cloud_address laptop)
GO=$(cloud_address gw)
sp --state "$GW" device list >"$T/devices" 2>&1 || bail "device list failed" "$T/devices"
key_of() { sed -n "s/^name=$1 .*key=\([^ ]*\) .*/\1/p" "$T/devices"; }
K_LAPTOP=$(key_of laptop)
K_PHONE=$(key_of phone)
K_TAB=$(key_of tab)
K_NOBODY=$(head -c 32 /dev/urandom | base64)
if [ -z "$LA" ] || [ -z "$GO" ] || [ -z "$K_LAPTOP" ] || [ -z "$K_PHONE" ] || [ -z "$K_TAB" ]; then
	bail "the gateway does not list the members ($(tr '\n' ';' <"$T/devices"))"
fi
echo "# laptop $LA, gateway $GO; keys: laptop $K_LAPTOP phone $K_PHONE tab $K_TAB"
phone_ready() { [ "$(field "$P" control-plane)" = up ]; }
cloud_until 20 phone_ready || bail "the phone's control plane is not up within 20 s"
wait_ready
case $(field "$P" ice) in
on*) ;;
*) bail "ICE is not on on the phone ($(field "$P" ice)): its counters are what e and f read" ;;
esac
PHONE_PID=$(field "$P" pid)
PHONE_DOWN0=$(down_lines "$P")

# ---- a. a key that is no member's ------------------------------------------------

LAPTOP_DOWN0=$(down_lines "$L")
snap_before b
probe a --key-random ice "$K_PHONE"
snap_after a
echo "# a: $(deltas)"
verify "a. HELLO signed by a key that is no member's, from the laptop's address: closed before MEMBERS (exit $PRC, wanted 3)" \
	test "$PRC" -eq 3 -a "$(grep -c '^hello-accepted' "$T/probe-a.out")" -eq 0
verify "... counted once in control-plane-refused (+$(delta cpr)), nothing in rendezvous (forwarded+$(delta fw) refused+$(delta rf))" \
	test "$(delta cpr)" -eq 1 -a "$(delta fw)" -eq 0 -a "$(delta rf)" -eq 0
# A displaced connection would be closed at the HELLO, and the laptop would
# log its drop within a round trip; a second is ample.
sleep 1
verify "... and the laptop's own connection was not displaced (its log's drops: $LAPTOP_DOWN0 -> $(down_lines "$L"); control plane $(field "$L" control-plane))" \
	test "$(down_lines "$L")" -eq "$LAPTOP_DOWN0" -a "$(field "$L" control-plane)" = up

# ---- b, c, d, d2. refusals --------------------------------------------------------

# refused CHECK NAME WHAT KEY [FLAG...]: ICE for KEY, FLAGs for cpprobe.
refused() {
	_r_check=$1 _r_name=$2 _r_what=$3 _r_key=$4
	shift 4
	wait_ready
	snap_before b
	probe "$_r_name" "$@" ice "$_r_key"
	snap_after a
	echo "# $_r_name: $(deltas)"
	verify "$_r_check. ICE for $_r_what: sent after the laptop's HELLO was accepted, handled (exit $PRC, fenced $(fenced "$_r_name"))" \
		test "$PRC" -eq 0 -a -n "$(fenced "$_r_name")" -a "$(grep -c '^sent 1$' "$T/probe-$_r_name.out")" -eq 1
	verify "... refused +1 ($(delta rf)), forwarded unchanged (+$(delta fw)), not rate-limited (+$(delta rl))" \
		test "$(delta rf)" -eq 1 -a "$(delta fw)" -eq 0 -a "$(delta rl)" -eq 0
	verify "... and nothing reached the phone (msgs-in+$(delta in) msgs-stale+$(delta stale))" \
		test "$(delta in)" -eq 0 -a "$(delta stale)" -eq 0
}

refused b nob "a key that is no member's" "$K_NOBODY"
refused c tab "the WireGuard-app member tab" "$K_TAB"
refused d self "the laptop itself" "$K_LAPTOP"
refused d2 v1 "the phone, from a connection whose HELLO said version 1" "$K_PHONE" \
	--hello-version 1

# ---- e. forwarded ----------------------------------------------------------------

wait_ready
snap_before b
probe e ice "$K_PHONE"
cloud_until 10 phone_got 1
snap_after a
echo "# e: $(deltas)"
verify "e. ICE for the phone: sent and handled (exit $PRC, fenced $(fenced e))" \
	test "$PRC" -eq 0 -a -n "$(fenced e)"
verify "... forwarded +$(delta fw): at least the probe's one, at most it and the phone's own $(delta out) messages" \
	test "$(delta fw)" -ge 1 -a "$(delta fw)" -le $((1 + $(delta out)))
verify "... the phone got exactly one, as the laptop's (msgs-in+$(delta in), msgs-stale+$(delta stale): the gateway put the sender in peer)" \
	test "$(delta in)" -eq 1 -a "$(delta stale)" -eq 0
if said e '^received 11 '; then
	_e_peer=$(sed -n 's/^received 11 peer=//p' "$T/probe-e.out" | sort -u)
	verify "... and the phone's answer came back to the probe from the phone's key ($_e_peer)" \
		test "$_e_peer" = "$K_PHONE"
else
	echo "# e: the phone's answer did not reach the probe before it closed (the laptop's signpostd had it)"
fi

# ---- f. the rate ----------------------------------------------------------------

attempt=0
span=
while [ $attempt -lt 3 ]; do
	attempt=$((attempt + 1))
	wait_ready
	snap_before b
	probe "f$attempt" --align ice "$K_PHONE" 100
	span=$(fenced "f$attempt")
	[ "$PRC" -eq 0 ] && [ "$span" = 1 ] && break
	echo "# f: attempt $attempt handled in ${span:-?} seconds (exit $PRC); again"
	cloud_until 10 phone_got 1
done
verify "f. 100 ICE messages at once for the phone: sent, and handled within one second of the gateway's clock (attempt $attempt, fenced ${span:-none})" \
	test "$PRC" -eq 0 -a "$span" = 1
cloud_until 10 phone_got 64
# The phone counts what was forwarded to it as it reads it; a moment more
# would show any beyond the 64.
sleep 0.5
snap_after a
echo "# f: $(deltas)"
verify "... the phone got exactly 64 (msgs-in+$(delta in) msgs-stale+$(delta stale))" \
	test $(($(delta in) + $(delta stale))) -eq 64
verify "... rate-limited +$(delta rl): at least the 36 over 64" \
	test "$(delta rl)" -ge 36
verify "... forwarded +$(delta fw): at least 64, at most 64 and the phone's own $(delta out) messages" \
	test "$(delta fw)" -ge 64 -a "$(delta fw)" -le $((64 + $(delta out)))

# ---- g. the phone ---------------------------------------------------------------

sleep 1
verify "g. the phone's signpostd still runs (pid $PHONE_PID) and answers status" \
	test -n "$PHONE_PID" -a "$(field "$P" pid)" = "$PHONE_PID"
verify "... its control plane is up ($(field "$P" control-plane)) and never dropped (its log's drops: $PHONE_DOWN0 -> $(down_lines "$P"))" \
	test "$(field "$P" control-plane)" = up -a "$(down_lines "$P")" -eq "$PHONE_DOWN0"
verify "... and the gateway still has both members connected" cloud_until 10 laptop_ready

finish
