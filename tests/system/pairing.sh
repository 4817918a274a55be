#!/bin/sh
# Pairing a device by QR code, end to end: a gateway and new devices in
# network namespaces on one bridge. The code as PNG, SVG and terminal text
# decoded by zbarimg; a join by QR image, then its name validating with
# delv and the gateway answering pings within a second; a used code, two
# devices racing for one code, revocation, expired, mistyped, forged and
# foreign codes; the gateway killed with -9 in the middle of joins; a flood
# of requests; and the WireGuard-app form loaded into wireguard-go. What
# the signpost CLI never sends (a revoked key replayed, a forged request,
# the flood) comes from tests/tools/pairtool.
#
# Needs root, iproute2, util-linux, wireguard-go, wireguard-tools, zbar-tools,
# librsvg2-bin, bind9-dnsutils, iputils-ping and jq; and tests/tools' termqr
# and pairtool, built beside signpost.
. "$(dirname "$0")/lib.sh"

ZONE=alice.example
NSP=sppair$$
NS_G=$NSP-g     # the gateway; its br0 is the LAN
NS_A=$NSP-a     # new devices
NS_B=$NSP-b
NS_C=$NSP-c     # a stranger: foreign codes, the flood
NS_W=$NSP-w     # a phone with only the WireGuard app
GW_IP=10.88.0.1
A_IP=10.88.0.2
B_IP=10.88.0.3
C_IP=10.88.0.4
W_IP=10.88.0.5
NOBODY_IP=10.88.0.99
# /var/run/wireguard is shared by every namespace: each interface name
# carries this run's $$.
IFG=spg$$
IFA=spa$$
IFN=spn$$
IFW=spw$$
IFM=spm$$
G=$T/gw
GWPID=
LAB_NETNS=

lab_down() {
	[ -n "$LAB_NETNS" ] || return 0
	# Whatever runs in the lab's namespaces was started by this test: the
	# gateway, the signpostd each join started, wireguard-go, the joins.
	# shellcheck disable=SC2086
	netns_end $LAB_NETNS
	[ -n "$GWPID" ] && wait "$GWPID" 2>/dev/null
	for _l_if in $IFG $IFA $IFN $IFW $IFM; do
		rm -f "/var/run/wireguard/$_l_if.sock"
	done
	for _l_ns in $LAB_NETNS; do
		ip netns delete "$_l_ns" 2>/dev/null ||
			echo "# pairing: could not delete network namespace $_l_ns" >&2
	done
	LAB_NETNS=
}
trap 'lab_down; cleanup' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bail() {
	echo "Bail out! pairing: $1"
	shift
	for _b_log in "$@"; do
		[ -s "$_b_log" ] || continue
		echo "--- last lines of $_b_log:" >&2
		tail -n 25 "$_b_log" >&2
	done
	exit 1
}

in_ns() {
	_i_ns=$1
	shift
	ip netns exec "$_i_ns" "$@"
}

# spawn NS LOG STDIN CMD...: CMD in NS, in a session of its own, in the
# background; its pid in SPAWNED. setsid does not fork here (the shell
# leads no process group) and `ip netns exec` execs, so the pid is CMD's.
spawn() {
	_s_ns=$1 _s_log=$2 _s_in=$3
	shift 3
	setsid ip netns exec "$_s_ns" "$@" <"$_s_in" >"$_s_log" 2>&1 &
	SPAWNED=$!
}

now() { date +%s.%N; }
ms_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%d", (b - a) * 1000 }'; }
not() { ! "$@"; }
quiet() { "$@" >/dev/null 2>&1; }
# has TEXT PATTERN / has_fixed TEXT STRING: grep in a value.
has() { printf '%s\n' "$1" | grep -q -- "$2"; }
has_fixed() { printf '%s\n' "$1" | grep -qF -- "$2"; }
# in_ps SECRET: a process's arguments hold SECRET. The secret goes to awk
# through its environment, so no argument of this check holds it.
in_ps() { ps -eo args | SECRET=$1 awk 'index($0, ENVIRON["SECRET"]) { f = 1 } END { exit !f }'; }
in_cmdline() { tr '\0' ' ' <"/proc/$1/cmdline" | SECRET=$2 awk 'index($0, ENVIRON["SECRET"]) { f = 1 } END { exit !f }'; }

# ---- 1. the lab ---------------------------------------------------------------

[ "$(id -u)" -eq 0 ] || bail "needs root to create network namespaces"
[ -c /dev/net/tun ] || bail "no /dev/net/tun"
missing=
for pair in ip:iproute2 setsid:util-linux script:bsdutils wg:wireguard-tools \
	wg-quick:wireguard-tools wireguard-go:wireguard-go zbarimg:zbar-tools \
	rsvg-convert:librsvg2-bin delv:bind9-dnsutils dig:bind9-dnsutils ping:iputils-ping jq:jq; do
	command -v "${pair%%:*}" >/dev/null 2>&1 || missing="$missing ${pair#*:}"
done
[ -z "$missing" ] || bail "missing Debian packages:$missing (scripts/install-deps.sh)"
for tool in termqr pairtool; do
	[ -x "$BIN/$tool" ] || bail "$BIN/$tool is not built (tests/tools/$tool.c)"
done

for ns in $NS_G $NS_A $NS_B $NS_C $NS_W; do
	ip netns add "$ns" 2>"$T/ip.log" || bail "cannot create namespace $ns" "$T/ip.log"
	LAB_NETNS="$LAB_NETNS $ns"
	ip -n "$ns" link set lo up
done
# The bridge lives in the gateway's namespace; each device has a veth on it.
# No namespace has a default route: nothing leaves the lab.
{
	ip -n "$NS_G" link add br0 type bridge &&
		ip -n "$NS_G" link set br0 up &&
		ip -n "$NS_G" addr add "$GW_IP/24" dev br0
} 2>"$T/ip.log" || bail "cannot make the bridge" "$T/ip.log"
for pair in "$NS_A:$A_IP" "$NS_B:$B_IP" "$NS_C:$C_IP" "$NS_W:$W_IP"; do
	ns=${pair%%:*} ip4=${pair#*:}
	{
		ip -n "$NS_G" link add "p${ip4##*.}" type veth peer name eth0 netns "$ns" &&
			ip -n "$NS_G" link set "p${ip4##*.}" master br0 up &&
			ip -n "$ns" link set eth0 up &&
			ip -n "$ns" addr add "$ip4/24" dev eth0
	} 2>"$T/ip.log" || bail "cannot wire $ns to the bridge" "$T/ip.log"
done
check "the LAN works: a device pings the gateway's underlay address" \
	quiet in_ns "$NS_A" ping -c1 -W2 "$GW_IP"

sp --state "$G" init --zone "$ZONE" --name gw >/dev/null 2>&1 || bail "signpost init failed"

# gw_start: the gateway, until its own pid answers `status` and its tunnel
# interface exists.
gw_start() {
	setsid ip netns exec "$NS_G" "$BIN/signpostd" --state "$G" --interface "$IFG" \
		--dns-listen "$GW_IP:53" --public-endpoint "$GW_IP:51820" \
		</dev/null >>"$T/gw.log" 2>&1 &
	GWPID=$!
	_g_i=0
	while [ $_g_i -lt 200 ]; do
		kill -0 "$GWPID" 2>/dev/null || return 1
		if [ "$(sp --state "$G" status --json 2>/dev/null | jq -r .pid 2>/dev/null)" = "$GWPID" ] &&
			in_ns "$NS_G" wg show "$IFG" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.05
		_g_i=$((_g_i + 1))
	done
	return 1
}
gw_start || bail "the gateway did not start" "$T/gw.log"
ok "the gateway runs in its namespace with tunnel $IFG"
GW_OV=$(sp --state "$G" devices --json | jq -r '.devices[] | select(.kind == "gateway") | .address')
check "devices names the gateway's overlay address ($GW_OV), a ULA" has "$GW_OV" '^fd[0-9a-f]*:'
check "... and it is on the gateway's tunnel interface" \
	has "$(ip -n "$NS_G" -6 addr show dev "$IFG")" "inet6 $GW_OV/"
PREFIX=$(ip -n "$NS_G" -6 route show dev "$IFG" | awk '$1 ~ /\/48$/ { print $1; exit }')
sp --state "$G" zone anchor --format bind >"$T/gw-anchor.conf"
# A copy with the first digit of the DS digest changed: delv must refuse it.
awk '{ i = index($0, "\""); if (i > 0) { c = substr($0, i + 1, 1)
	$0 = substr($0, 1, i) (c == "0" ? "1" : "0") substr($0, i + 2) } print }' \
	"$T/gw-anchor.conf" >"$T/bad-anchor.conf"
cmp -s "$T/gw-anchor.conf" "$T/bad-anchor.conf" && bail "could not damage the anchor"

# dv NS ANCHOR NAME TYPE: delv against the gateway's DNS, from NS.
dv() {
	timeout 10 ip netns exec "$1" delv -a "$2" "@$GW_IP" +root="$ZONE" "$3" "$4" 2>&1
}
# validated NS ANCHOR NAME TYPE: fully validated, with an answer of TYPE.
validated() {
	_v_out=$(dv "$@")
	printf '%s' "$_v_out" | grep -q '^; fully validated' &&
		printf '%s' "$_v_out" | grep -q "IN[[:space:]]$4[[:space:]]"
}
# validated_absent NS ANCHOR NAME TYPE: a validated negative answer.
validated_absent() {
	dv "$@" | grep -q '^; negative response, fully validated'
}
check "delv validates the gateway's own name with the gateway's anchor" \
	validated "$NS_A" "$T/gw-anchor.conf" "gw.$ZONE" AAAA
check "... and refuses it under a damaged anchor" \
	not validated "$NS_A" "$T/bad-anchor.conf" "gw.$ZONE" AAAA

# ---- 2. the code as a QR code ---------------------------------------------------

# pair NAME OUTFILE FLAGS...: a code; stdout to OUTFILE, stderr to OUTFILE.err.
pair() {
	_p_name=$1 _p_out=$2
	shift 2
	sp --state "$G" pair --name "$_p_name" "$@" >"$_p_out" 2>"$_p_out.err"
}
uri_of() { grep '^signpost:pair?' "$1"; }
token_of() { sed -n 's/.*[?&]t=\([A-Za-z0-9_-]*\).*/\1/p' "$1"; }
code_id() { sed -n "s/.*pairing: code \([0-9a-f]*\) made for $1,.*/\1/p" "$T/gw.log" | tail -n 1; }
decode() { zbarimg --raw -q --nodbus "$1" 2>/dev/null; }

check "pair --qr png: --uri --no-wait makes a code" pair phone "$T/phone.out" \
	--qr "png:$T/phone.png" --uri --no-wait
uri_of "$T/phone.out" >"$T/phone.uri"
PHONE_URI=$(cat "$T/phone.uri")
check "--uri prints the signpost: URI on its own line (and nothing else on stdout)" \
	test "$(wc -l <"$T/phone.out")" -eq 1 -a -s "$T/phone.uri"
check "zbarimg decodes the PNG to exactly the --uri line" \
	test "$(decode "$T/phone.png")" = "$PHONE_URI"

check "pair --qr svg: makes a code" pair laptop "$T/laptop.out" --qr "svg:$T/laptop.svg" \
	--uri --no-wait
uri_of "$T/laptop.out" >"$T/laptop.uri"
rsvg-convert "$T/laptop.svg" -o "$T/laptop-svg.png" 2>"$T/rsvg.log"
check "the SVG, rendered by rsvg-convert, decodes to that call's URI" \
	test "$(decode "$T/laptop-svg.png")" = "$(cat "$T/laptop.uri")"
check "... which is another code than the PNG's (the comparison can fail)" \
	test "$(decode "$T/laptop-svg.png")" != "$PHONE_URI"

check "pair --qr terminal with stdout to a file makes a code" pair tv "$T/tv.out" \
	--qr terminal --uri --no-wait
uri_of "$T/tv.out" >"$T/tv.uri"
grep -v '^signpost:pair?' "$T/tv.out" >"$T/tv.qr.txt"
plain_glyphs() { ! grep -q "$(printf '\033')" "$1" && grep -q '█' "$1"; }
check "... drawn in plain glyphs: no ANSI escapes when stdout is a file" plain_glyphs "$T/tv.qr.txt"
"$BIN/termqr" "$T/tv.qr.txt" "$T/tv-term.png" 2>"$T/termqr.log"
check "the terminal QR code, through termqr, decodes to that call's URI" \
	test "$(decode "$T/tv-term.png")" = "$(cat "$T/tv.uri")"
# On a terminal, colours; this code expires unused (and shows that a
# pending code costs nothing once it has).
script -qec "'$BIN/signpost' --state '$G' pair --name colours --ttl 10s --no-wait" /dev/null \
	>"$T/colours.out" 2>&1
check "... and with ANSI colours when stdout is a terminal" \
	grep -q "$(printf '\033')\[" "$T/colours.out"

# An expired code for section 7, made now so that its 10 s pass meanwhile.
pair late "$T/late.out" --qr "png:$T/late.png" --uri --no-wait --ttl 10s
uri_of "$T/late.out" >"$T/late.uri"
LATE_MADE=$(now)

# ---- 3. a join by QR image, then the name and the tunnel -------------------------

D1=$T/d1
T0=$(now)
in_ns "$NS_A" "$BIN/signpost" --state "$D1" join --qr-image "$T/phone.png" --interface "$IFA" \
	>"$T/join1.out" 2>&1
JOIN_RC=$?
T1=$(now)
# Measured side by side from the moment join returned: the first answered
# ping, and delv validating both records (the anchor the device stored).
sp --state "$D1" zone anchor --format bind >"$T/d1-anchor.conf" 2>"$T/d1-anchor.err"
(
	deadline=$(awk -v t="$T1" 'BEGIN { printf "%d", t + 5 }')
	until in_ns "$NS_A" ping -6 -c1 -W1 "$GW_OV" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$deadline" ] || exit 1
		sleep 0.02
	done
	now >"$T/ping.at"
) &
PINGER=$!
# Both types in one round, side by side: a delv costs this machine a
# good part of the budget by itself, and the zone is what is measured.
deadline=$(awk -v t="$T1" 'BEGIN { printf "%d", t + 5 }')
VALID_AT=
rounds=0
while [ "$(date +%s)" -lt "$deadline" ]; do
	rounds=$((rounds + 1))
	rm -f "$T/valid.AAAA" "$T/valid.IPSECKEY"
	pids=
	for type in AAAA IPSECKEY; do
		validated "$NS_A" "$T/d1-anchor.conf" "phone.$ZONE" "$type" && : >"$T/valid.$type" &
		pids="$pids $!"
	done
	# shellcheck disable=SC2086
	wait $pids
	if [ -e "$T/valid.AAAA" ] && [ -e "$T/valid.IPSECKEY" ]; then
		VALID_AT=$(now)
		break
	fi
	sleep 0.05
done
wait "$PINGER"
PING_AT=$(cat "$T/ping.at" 2>/dev/null)

check "join --qr-image succeeds and says it reached the gateway ($(head -c 300 "$T/join1.out"))" \
	test "$JOIN_RC" -eq 0 -a -n "$(grep "Joined $ZONE. as phone.$ZONE., at .*has reached its gateway" "$T/join1.out")"
JOIN_MS=$(ms_between "$T0" "$T1")
echo "# join --qr-image took $JOIN_MS ms"
check "the device's stored anchor is the gateway's" cmp -s "$T/d1-anchor.conf" "$T/gw-anchor.conf"
if [ -n "$VALID_AT" ]; then
	echo "# time from join to phone.$ZONE AAAA and IPSECKEY fully validated: $(ms_between "$T0" "$VALID_AT") ms ($(ms_between "$T1" "$VALID_AT") ms after join returned; $rounds round(s) of delv)"
	check "AAAA and IPSECKEY validate within 1000 ms of join returning" \
		test "$(ms_between "$T1" "$VALID_AT")" -lt 1000
else
	not_ok "AAAA and IPSECKEY validate within 1000 ms of join returning (not within 5 s: $(dv "$NS_A" "$T/d1-anchor.conf" "phone.$ZONE" AAAA | head -n 3))"
fi
if [ -n "$PING_AT" ]; then
	echo "# time from join to the first answered ping of the gateway's overlay address: $(ms_between "$T0" "$PING_AT") ms ($(ms_between "$T1" "$PING_AT") ms after join returned)"
	check "the device pings the gateway's overlay address within 1000 ms of join returning" \
		test "$(ms_between "$T1" "$PING_AT")" -lt 1000
else
	not_ok "the device pings the gateway's overlay address within 1000 ms of join returning (no answer within 5 s)"
fi
PHONE_ADDR=$(sp --state "$G" devices --json | jq -r '.devices[] | select(.name == "phone") | .address')
check "devices lists phone at the address join printed (${PHONE_ADDR:-none})" \
	grep -q "at ${PHONE_ADDR:-none}[;,]" "$T/join1.out"
check "the validated AAAA is that address" \
	has "$(dv "$NS_A" "$T/d1-anchor.conf" "phone.$ZONE" AAAA)" "AAAA[[:space:]]*${PHONE_ADDR:-none}\$"
check "the gateway's log says phone joined from the device's address" \
	grep -q "pairing: phone.$ZONE. joined from $A_IP:" "$T/gw.log"
sp --state "$D1" status --json >"$T/d1-status.json"
check "the member's status shows a gateway handshake" \
	quiet jq -e '.role == "device" and .["gateway-handshake"] >= 0' "$T/d1-status.json"

PHONE_TOKEN=$(token_of "$T/phone.uri")
{ sp --state "$G" status --json; sp --state "$G" status; sp --state "$G" devices --json; } >"$T/gw-outputs" 2>&1
{ cat "$D1/signpostd.log"; sp --state "$D1" status --json; } >"$T/d1-outputs" 2>&1
check "the code's token is not in the gateway's log" test -n "$PHONE_TOKEN" -a -z "$(grep -F -- "$PHONE_TOKEN" "$T/gw.log")"
check "... nor in its status or devices output" not grep -qF -- "$PHONE_TOKEN" "$T/gw-outputs"
check "... nor in the member's log or status" not grep -qF -- "$PHONE_TOKEN" "$T/d1-outputs"
check "... while the log does name the code by its id" grep -q "code $(code_id phone) made for phone" "$T/gw.log"

# ---- 4. a used code ------------------------------------------------------------

D2=$T/d2
run_expect "the same code again, from another device, is refused as used" 1 \
	"the gateway refused to pair this device (used)" \
	in_ns "$NS_B" "$BIN/signpost" --state "$D2" join --no-start - <"$T/phone.uri"
# nothing_written DIR: no cloud file, no key, nothing but perhaps a lock.
nothing_written() { [ ! -e "$1/cloud" ] && [ -z "$(find "$1" -type f ! -name lock 2>/dev/null)" ]; }
check "... and nothing is written there (no cloud file, no key)" nothing_written "$D2"
check "the gateway's log names the refusal" \
	grep -q "pairing: refused a join from $B_IP:[0-9]* with code $(code_id phone): .*used already" "$T/gw.log"

# ---- 5. two devices race for one code --------------------------------------------

spawn "$NS_A" "$T/race-a.log" "$T/laptop.uri" "$BIN/signpost" --state "$T/race-a" join --no-start -
RA=$SPAWNED
spawn "$NS_B" "$T/race-b.log" "$T/laptop.uri" "$BIN/signpost" --state "$T/race-b" join --no-start -
RB=$SPAWNED
wait "$RA"
RA_RC=$?
wait "$RB"
RB_RC=$?
won=0
for side in a b; do
	[ -e "$T/race-$side/cloud" ] && won=$((won + 1))
done
check "of two joins racing with one code exactly one succeeds (exits $RA_RC and $RB_RC)" \
	test $(( (RA_RC == 0) + (RB_RC == 0) )) -eq 1 -a "$won" -eq 1
check "... and the other is refused as used" \
	has "$(cat "$T/race-a.log" "$T/race-b.log")" 'refused to pair this device (used)'

check "devices lists exactly one laptop" \
	test "$(sp --state "$G" devices --json | jq '[.devices[] | select(.name == "laptop")] | length')" -eq 1
for side in a b; do
	if [ ! -e "$T/race-$side/cloud" ]; then
		check "the loser wrote nothing" nothing_written "$T/race-$side"
	fi
done

# ---- 5b. a member pairs the next device ------------------------------------------

# phone, a member, asks for a code through its control plane to the
# gateway, and waits for its use; desk joins with it, and then the two
# members reach each other through the gateway.
D4=$T/d4
spawn "$NS_A" "$T/desk.out" /dev/null "$BIN/signpost" --state "$D1" pair --name desk --uri --wait \
	--qr "png:$T/desk.png" --ttl 60
DESK_PAIR=$SPAWNED
i=0
until grep -q '^signpost:pair?' "$T/desk.out" 2>/dev/null || [ $i -ge 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
uri_of "$T/desk.out" >"$T/desk.uri"
[ -s "$T/desk.uri" ] || sed 's/^/# pair on phone: /' "$T/desk.out"
check "a member makes a code through the gateway (pair on phone)" test -s "$T/desk.uri"
check "... which the gateway made and logged as asked by phone" \
	grep -q "pairing: code [0-9a-f]* made for desk, asked by phone" "$T/gw.log"
run_expect "desk joins by the QR image of the member's code" 0 "Joined $ZONE. as desk.$ZONE." \
	in_ns "$NS_B" "$BIN/signpost" --state "$D4" join --interface "$IFM" --qr-image "$T/desk.png"
wait "$DESK_PAIR"
DESK_PAIR_RC=$?
DESK_ADDR=$(sp --state "$G" devices --json | jq -r '.devices[] | select(.name == "desk") | .address')
check "... and phone's waiting pair hears of it from the gateway (exit $DESK_PAIR_RC)" \
	test "$DESK_PAIR_RC" -eq 0 -a -n "$(grep "^desk.* joined, at ${DESK_ADDR:-none}" "$T/desk.out")"
# member_lists DIR NAME: the member in DIR lists NAME (its copy of the
# gateway's list, which the control plane keeps current).
member_lists() {
	sp --state "$1" devices --json | jq -e ".devices[] | select(.name == \"$2\")" >/dev/null
}
eventually() {
	_e_i=0
	until "$@"; do
		[ $_e_i -lt 30 ] || return 1
		sleep 0.1
		_e_i=$((_e_i + 1))
	done
}
check "phone's devices lists desk" eventually member_lists "$D1" desk
check "desk's devices lists phone and the gateway" \
	eventually member_lists "$D4" phone && member_lists "$D4" gw
check "desk pings the gateway's overlay address" quiet in_ns "$NS_B" ping -6 -c2 -W2 "$GW_OV"
check "desk pings phone's overlay address, through the gateway" \
	quiet in_ns "$NS_B" ping -6 -c2 -W2 "$PHONE_ADDR"
check "... and phone pings desk's" quiet in_ns "$NS_A" ping -6 -c2 -W2 "${DESK_ADDR:-::1}"
# A code phone asks for now, unused when phone is revoked (section 6).
sp --state "$D1" pair --name tab3 --qr "png:$T/tab3.png" --uri --no-wait >"$T/tab3.out" \
	2>/dev/null
uri_of "$T/tab3.out" >"$T/tab3.uri"
run_expect "a member cannot make a WireGuard-app code (only the gateway holds the keys)" 1 \
	"gateway" sp --state "$D1" pair --name tab2 --wireguard --no-wait

# ---- 6. revocation ------------------------------------------------------------------

PHONE_X=$(in_ns "$NS_A" wg show "$IFA" public-key)
PHONE_ED=$(sed -n 's/^public //p' "$D1"/keys/device-*.key)
gw_peers() { in_ns "$NS_G" wg show "$IFG" peers; }
check "before revocation the gateway's wg show lists phone's key" \
	has_fixed "$(gw_peers)" "${PHONE_X:-none}"
run_expect "revoke phone says what it did" 0 "Revoked phone.$ZONE." sp --state "$G" revoke phone
said_all() { has "$1" 'removed from the zone' && has "$1" 'tunnel: peer removed, sessions closed' &&
	has "$1" 'its key is refused'; }
check "... out of the zone, tunnel peer removed, key refused" said_all "$OUT"
check "delv gets a validated negative answer for phone's AAAA" \
	validated_absent "$NS_A" "$T/d1-anchor.conf" "phone.$ZONE" AAAA
check "... and for its IPSECKEY" \
	validated_absent "$NS_A" "$T/d1-anchor.conf" "phone.$ZONE" IPSECKEY
# member NAME: devices lists NAME.
member() { sp --state "$G" devices --json | jq -e ".devices[] | select(.name == \"$1\")" >/dev/null; }
check "devices no longer lists phone" not member phone
not_listed() { ! member_lists "$@"; }
check "... nor does desk's copy of the list" eventually not_listed "$D4" phone
run_expect "a code phone made before it was revoked is void" 1 \
	"refused to pair this device (unknown-token)" \
	in_ns "$NS_C" "$BIN/signpost" --state "$T/tab3" join --no-start - <"$T/tab3.uri"
# Another program on desk's host reaches the control port from desk's
# address (the tunnel lets it), but it is not desk's signpostd and cannot
# sign HELLO: a PAIR it sends first makes no code.
cp_refused() { sp --state "$G" status --json | jq '."control-plane-refused"'; }
CPR0=$(cp_refused)
# 22 bytes: PAIR (3), seq 1, name "evil", ttl 600.
in_ns "$NS_B" bash -c "exec 3<>/dev/tcp/$GW_OV/5301 &&
	printf '\000\026\003\002\000\004\000\000\000\001\003\000\004evil\004\000\004\000\000\002\130' >&3 &&
	sleep 1" >/dev/null 2>&1
CPR1=$(cp_refused)
check "a program on a member's host that is not its signpostd is refused ($CPR0 -> $CPR1)" \
	test "${CPR1:-0}" -gt "${CPR0:-0}"
check "... and no code was made for it" not grep -q "made for evil" "$T/gw.log"
check "... while desk's own control plane stays up" \
	quiet sp --state "$D4" status --json
has_cp_up() { sp --state "$D4" status --json | jq -e '."control-plane" == "up"' >/dev/null; }
check "... (its status says up)" has_cp_up
# A device removed is gone for good: its old pairing request, replayed
# with the same code and key, admits nothing.
# Renamed on the gateway, the member learns its new name.
quiet sp --state "$G" rename desk desk2
named() { test "$(sp --state "$D4" status --json | jq -r .name)" = "desk2.$ZONE."; }
check "a member renamed on the gateway takes its new name (status, cloud file)" \
	eventually named
check "... and keeps it in its cloud file" grep -q '^name desk2$' "$D4/cloud"
quiet sp --state "$G" device remove desk2
run_expect "a removed device's pairing request, replayed, is refused as used" 3 "refused used" \
	in_ns "$NS_B" "$BIN/pairtool" join - "$(ls "$D4"/keys/device-*.key)" <"$T/desk.uri"
neither() { ! member desk && ! member desk2; }
check "... and it is not a member again" neither
check "the gateway's wg show no longer lists phone's key" not has_fixed "$(gw_peers)" "${PHONE_X:-none}"
check "the revoked device's ping of the gateway goes unanswered" \
	not quiet in_ns "$NS_A" ping -6 -c1 -W1 "$GW_OV"
# Its daemon, restarted, shakes hands at once: the gateway refuses it as an
# unknown peer, and the device never gets a handshake.
unknown_peer() {
	sp --state "$G" status --json | jq -r '."tunnel-drops"' |
		sed -n 's/.*unknown-peer=\([0-9]*\).*/\1/p'
}
PHONE_PID=$(sp --state "$D1" status --json | jq -r .pid)
UP0=$(unknown_peer)
kill -TERM "$PHONE_PID" 2>/dev/null
i=0
while kill -0 "$PHONE_PID" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
spawn "$NS_A" "$T/phone-again.log" /dev/null "$BIN/signpostd" --state "$D1" --interface "$IFA"
PHONE_PID=$SPAWNED
i=0
while [ "$(unknown_peer)" -le "$UP0" ] && [ $i -lt 40 ]; do sleep 0.1; i=$((i + 1)); done
UP1=$(unknown_peer)
check "the revoked device's handshakes are dropped as from an unknown peer ($UP0 -> $UP1)" \
	test "$UP1" -gt "$UP0"
sp --state "$D1" status --json >"$T/d1-status.json"
check "... and its status has no gateway handshake" \
	quiet jq -e '.["gateway-handshake"] < 0' "$T/d1-status.json"
# Its own key, replayed through pairing with a fresh code, is refused.
pair spare "$T/spare.out" --qr "png:$T/spare.png" --uri --no-wait
uri_of "$T/spare.out" >"$T/spare.uri"
run_expect "a join with the revoked key and a fresh code is refused as revoked" 3 \
	"refused revoked: this device's key was revoked (it was phone)" \
	in_ns "$NS_A" "$BIN/pairtool" join - "$(ls "$D1"/keys/device-*.key)" <"$T/spare.uri"
run_expect "device add with the revoked key is refused, saying the key was revoked" 1 \
	"that key was revoked" sp --state "$G" device add phoneagain --key "$PHONE_ED"
group_stop "$PHONE_PID"
D3=$T/d3
run_expect "a fresh code joined by a new key works (the terminal code, tv)" 0 \
	"Joined $ZONE. as tv.$ZONE." \
	in_ns "$NS_A" "$BIN/signpost" --state "$D3" join --interface "$IFN" - <"$T/tv.uri"
TV_ADDR=$(sp --state "$G" devices --json | jq -r '.devices[] | select(.name == "tv") | .address')
check "tv pings the gateway's overlay address" quiet in_ns "$NS_A" ping -6 -c1 -W2 "$GW_OV"

# ---- 7. bad codes ----------------------------------------------------------------

pair mallory "$T/mallory.out" --qr "png:$T/mallory.png" --uri --no-wait
MALLORY=$(uri_of "$T/mallory.out")
MTOKEN=$(token_of "$T/mallory.out")
# Another gateway's key: a valid Ed25519 point, base64url without padding.
sp --state "$T/other" init --zone bob.example --name x >/dev/null 2>&1
OTHER_K=$(sed -n 's/^public //p' "$T/other"/keys/device-*.key | tr '+/' '-_' | tr -d '=')
printf '%s\n' "$MALLORY" | sed "s/&k=[^&]*/\&k=$OTHER_K/" >"$T/foreign-key.uri"
printf '%s\n' "$MALLORY" | sed "s/&e=[^&]*/\&e=$NOBODY_IP:51820/" >"$T/nobody.uri"
printf '%s\n' "$MALLORY" | sed "s/&e=[^&]*/\&e=$GW_IP:51999/" >"$T/closed.uri"
cmp -s "$T/foreign-key.uri" "$T/mallory.out" && bail "could not change the code's key"
# The three that wait for an answer run side by side. One whose gateway
# does not exist takes its code as an argument: join must wipe it from its
# command line.
S7=$(now)
# shellcheck disable=SC2016
spawn "$NS_C" "$T/foreign-key.log" "$T/foreign-key.uri" sh -c '"$@"; rc=$?; date +%s.%N >"$0"; exit $rc' \
	"$T/foreign.end" "$BIN/signpost" --state "$T/foreign" join --no-start -
FOREIGN=$SPAWNED
spawn "$NS_C" "$T/nobody.log" /dev/null \
	"$BIN/signpost" --state "$T/nobody" join --no-start "$(cat "$T/nobody.uri")"
NOBODY=$SPAWNED
spawn "$NS_C" "$T/closed.log" "$T/closed.uri" "$BIN/signpost" --state "$T/closed" join --no-start -
CLOSED=$SPAWNED
sleep 0.5
NTOKEN=$(token_of "$T/nobody.uri")
check "while join runs, its code is not in its /proc/PID/cmdline" \
	test -r "/proc/$NOBODY/cmdline" -a -n "$NTOKEN" -a -z "$(in_cmdline "$NOBODY" "$NTOKEN" && echo found)"
check "... nor anywhere in ps output" not in_ps "$NTOKEN"
check "... which does show the join itself (so the check can fail)" sh -c \
	"ps -o args= -p $NOBODY | grep -q 'signpost --state $T/nobody join --no-start'"

# The expired code, once its 10 s have passed.
while [ "$(ms_between "$LATE_MADE" "$(now)")" -lt 11000 ]; do sleep 0.2; done
run_expect "an expired code is refused as expired" 1 "refused to pair this device (expired)" \
	in_ns "$NS_B" "$BIN/signpost" --state "$T/late" join --no-start - <"$T/late.uri"

# One character of the token changed, still 22 characters of base64url: a
# token the gateway never made, and the request names its (unknown) id.
first=$(printf '%s' "$MTOKEN" | cut -c1)
case $first in A) other=B ;; *) other=A ;; esac
printf '%s\n' "$MALLORY" | sed "s/&t=$first/\&t=$other/" >"$T/mistyped.uri"
run_expect "a mistyped code is refused (forged, or unknown: its id is the typo's)" 1 \
	"refused to pair this device (" \
	in_ns "$NS_B" "$BIN/signpost" --state "$T/mistyped" join --no-start - <"$T/mistyped.uri"
check "... as forged or unknown-token" has "$OUT" 'device (\(forged\|unknown-token\))'
check "... and nothing is written" test ! -e "$T/mistyped/cloud"
# A request that names the real code's id without knowing its token.
run_expect "a request with the code's id but not its token is refused as forged" 3 \
	"refused forged" in_ns "$NS_B" "$BIN/pairtool" forge - <"$T/mallory.out"
check "the gateway's log names the forgery" \
	grep -q "refused a join from $B_IP:[0-9]* with code $(code_id mallory): .*forged" "$T/gw.log"
# The usage puts the options after the code: join URI [--no-start] ...
# Nothing on standard input, so no code is spent finding out.
run_expect "join takes its options after the code, as its usage says (join - --no-start)" 2 \
	"no pairing code on standard input" \
	sp --state "$T/order" join - --no-start </dev/null
run_expect "garbage text is not a Signpost pairing code" 2 "not a Signpost pairing code" \
	sh -c "echo 'hello, world' | ip netns exec '$NS_B' '$BIN/signpost' --state '$T/garbage' join --no-start -"
printf '%s\n' "$MALLORY" | sed 's/z=alice\.example/z=alice..example/' >"$T/badzone.uri"
run_expect "a code with a malformed zone says so" 2 "the pairing code's zone is malformed" \
	in_ns "$NS_B" "$BIN/signpost" --state "$T/badzone" join --no-start - <"$T/badzone.uri"
run_expect "pair refuses a name that is taken" 1 "the name 'laptop' is taken" \
	sp --state "$G" pair --name laptop --qr "png:$T/taken.png" --uri --no-wait
check "... and makes no image" test ! -e "$T/taken.png"

wait "$FOREIGN"
FOREIGN_RC=$?
FOREIGN_MS=$(ms_between "$S7" "$(cat "$T/foreign.end")")
check "a code with another gateway's key: the gateway did not answer (its replies do not verify)" \
	test "$FOREIGN_RC" -eq 1 -a -n "$(grep "the gateway did not answer at $GW_IP:51820" "$T/foreign-key.log")"
check "... within 10 s (${FOREIGN_MS} ms)" test "$FOREIGN_MS" -lt 10000
check "... while the gateway did refuse it (as forged: it cannot open it)" \
	grep -q "refused a join from $C_IP:[0-9]* with code $(code_id mallory): .*forged" "$T/gw.log"
wait "$NOBODY"
NOBODY_RC=$?
check "a code whose gateway does not exist: did not answer" \
	test "$NOBODY_RC" -eq 1 -a -n "$(grep "the gateway did not answer at $NOBODY_IP:51820" "$T/nobody.log")"
wait "$CLOSED"
CLOSED_RC=$?
check "a code pointing at a port where nothing listens: did not answer" \
	test "$CLOSED_RC" -eq 1 -a -n "$(grep "the gateway did not answer at $GW_IP:51999" "$T/closed.log")"
none_written() { for _n_d; do nothing_written "$T/$_n_d" || return 1; done; }
check "... and none of the refused or unreadable codes wrote anything" \
	none_written late mistyped garbage badzone
# An unanswered join keeps the device's key (the answer may have been lost
# after the gateway admitted it), and nothing else: a second run is safe.
key_only() {
	[ ! -e "$1/cloud" ] && [ -n "$(ls "$1"/keys/device-*.key 2>/dev/null)" ] &&
		[ -z "$(find "$1" -type f ! -name lock ! -path "$1/keys/*" 2>/dev/null)" ]
}
keys_only() { for _k_d; do key_only "$T/$_k_d" || return 1; done; }
check "... and the unanswered ones kept this device's key and nothing else" \
	keys_only foreign nobody closed
run_expect "after all that, the code itself still pairs" 0 "Joined $ZONE. as mallory.$ZONE." \
	in_ns "$NS_A" "$BIN/signpost" --state "$T/mallory" join --no-start - <"$T/mallory.out"

# ---- 8. kill -9 in the middle of joins -----------------------------------------------

for k in k1 k2 k3 k4 k5; do
	pair "$k" "$T/$k.out" --qr "png:$T/$k.png" --uri --no-wait ||
		not_ok "pair --name $k ($(cat "$T/$k.out.err"))"
done
KPIDS=
for k in k1 k2 k3 k4 k5; do
	spawn "$NS_B" "$T/$k.log" "$T/$k.out" "$BIN/signpost" --state "$T/$k" join --no-start -
	KPIDS="$KPIDS $SPAWNED"
done
# A random moment within the first 60 ms of the joins.
sleep "$(awk -v s="$$" 'BEGIN { srand(s); printf "0.%03d", int(rand() * 60) }')"
kill -KILL "$GWPID"
wait "$GWPID" 2>/dev/null
BEFORE=$(grep -c "pairing: k[1-5].$ZONE. joined" "$T/gw.log")
rm -f "/var/run/wireguard/$IFG.sock"
check "the gateway, killed with -9 mid-joins, starts again" gw_start
for pid in $KPIDS; do wait "$pid"; done
AFTER=$(grep -c "pairing: k[1-5].$ZONE. joined" "$T/gw.log")
echo "# kill -9 came when $BEFORE of 5 joins had been admitted; $((AFTER - BEFORE)) more after the restart"
sp --state "$G" devices --json >"$T/devices.json"
half=
for k in k1 k2 k3 k4 k5; do
	file=0 listed=0 zone=0 absent=0 joined=0
	[ -e "$G/devices/$k" ] && file=1
	jq -e ".devices[] | select(.name == \"$k\")" "$T/devices.json" >/dev/null && listed=1
	validated "$NS_B" "$T/gw-anchor.conf" "$k.$ZONE" AAAA &&
		validated "$NS_B" "$T/gw-anchor.conf" "$k.$ZONE" IPSECKEY && zone=1
	validated_absent "$NS_B" "$T/gw-anchor.conf" "$k.$ZONE" AAAA && absent=1
	[ -e "$T/$k/cloud" ] && joined=1
	state="file=$file listed=$listed in-zone=$zone absent=$absent device-joined=$joined"
	echo "# $k: $state"
	case "$file$listed$zone$absent" in
	1110 | 0001) ;;
	*) half="$half $k($state)" ;;
	esac
	# A device told it joined is a member.
	[ $joined -eq 1 ] && [ $listed -eq 0 ] && half="$half $k(joined but not a member)"
done
check "after kill -9, every kN is a whole member or wholly absent (never half)${half:+:$half}" \
	test -z "$half"
# No record that devices does not list, nor the other way round.
jq -r '.devices[] | select(.kind != "gateway") | .name' "$T/devices.json" | sort >"$T/listed"
find "$G/devices" -type f ! -name '.*' -printf '%f\n' | sort >"$T/stored"
check "the gateway's devices/ holds a record for exactly the devices it lists" \
	cmp -s "$T/listed" "$T/stored"
# A write the kill cut short leaves its temporary file (".NAME.tmpPID");
# the restarted gateway should remove it: in pairing/ or keys/ it would
# keep a token or a key nobody wipes.
find "$G" -name '.*.tmp*' >"$T/leftovers"
check "no temporary file of a write cut short by the kill is left in the store ($(tr '\n' ' ' <"$T/leftovers"))" \
	test ! -s "$T/leftovers"
addresses_match() {
	for _a_k in k1 k2 k3 k4 k5; do
		_a_a=$(jq -r ".devices[] | select(.name == \"$_a_k\") | .address" "$T/devices.json")
		[ -n "$_a_a" ] || continue
		has "$(dv "$NS_B" "$T/gw-anchor.conf" "$_a_k.$ZONE" AAAA)" "AAAA[[:space:]]*$_a_a\$" ||
			return 1
	done
}
check "every member kN's zone address is the one devices lists" addresses_match
run_expect "a code made before the kill still pairs after it (spare)" 0 "Joined $ZONE. as spare.$ZONE." \
	in_ns "$NS_A" "$BIN/signpost" --state "$T/spare" join --no-start - <"$T/spare.uri"

# ---- 9. a flood of requests ------------------------------------------------------------

pair flood "$T/flood.out" --qr "png:$T/flood.png" --uri --no-wait
uri_of "$T/flood.out" >"$T/flood.uri"
# Well formed, for this gateway, with a token it never made.
sed "s/&t=[A-Za-z0-9_-]*/\&t=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')/" \
	"$T/flood.uri" >"$T/garbage.uri"
limited() { sp --state "$G" status --json | jq -r .pairing | sed -n 's/.*limited=\([0-9]*\).*/\1/p'; }
L0=$(limited)
spawn "$NS_C" "$T/flood.log" "$T/garbage.uri" "$BIN/pairtool" flood - 200 1000
FLOOD=$SPAWNED
slow=0 lost=0 polls=0
while kill -0 "$FLOOD" 2>/dev/null; do
	s=$(now)
	sp --state "$G" status >/dev/null 2>&1 || lost=$((lost + 1))
	in_ns "$NS_A" dig +tries=1 +timeout=1 "@$GW_IP" "gw.$ZONE" AAAA 2>&1 | grep -q 'status: NOERROR' ||
		lost=$((lost + 1))
	[ "$(ms_between "$s" "$(now)")" -lt 500 ] || slow=$((slow + 1))
	polls=$((polls + 1))
	sleep 0.1
done
wait "$FLOOD"
L1=$(limited)
echo "# flood: $(tr '\n' ' ' <"$T/flood.log"); limited $L0 -> $L1"
check "the flood sent 200 requests in a second" grep -q '^sent=200 ' "$T/flood.log"
check "the gateway's status shows them limited (pairing limited $L0 -> $L1)" \
	test "$((L1 - L0))" -ge 150
ANSWERED=$(sed -n 's/.*verified=\([0-9]*\).*/\1/p' "$T/flood.log")
check "... and answered only a handful (its rate limit: ${ANSWERED:-?})" test "${ANSWERED:-99}" -le 10
check "status and DNS kept answering during the flood ($polls polls, $lost lost, $slow slow)" \
	test "$polls" -ge 3 -a "$lost" -eq 0 -a "$slow" -eq 0
run_expect "a legitimate join from another device right after works" 0 "Joined $ZONE. as flood.$ZONE." \
	in_ns "$NS_B" "$BIN/signpost" --state "$T/flooded" join --no-start - <"$T/flood.uri"

# ---- 10. a phone with only the WireGuard app --------------------------------------------

check "pair --wireguard makes a configuration" pair tablet "$T/wg.out" --wireguard \
	--qr "png:$T/wg.png" --uri
check "zbarimg decodes the PNG to exactly the configuration --uri printed" \
	test "$(decode "$T/wg.png")" = "$(cat "$T/wg.out")"
TABLET_ADDR=$(sp --state "$G" devices --json | jq -r '.devices[] | select(.name == "tablet") | .address')
GW_WGKEY=$(in_ns "$NS_G" wg show "$IFG" public-key)
# conf_ok FILE: the fields the WireGuard apps read, each once and in its
# section; MTU is optional; anything else fails.
conf_ok() {
	awk -v addr="$TABLET_ADDR/128" -v dns="$GW_OV, $ZONE" -v key="$GW_WGKEY" \
		-v ep="$GW_IP:51820" -v aips="$PREFIX" '
	function fail(why) { print "# config: " why; bad = 1 }
	/^[[:space:]]*$/ { next }
	/^\[Interface\]$/ { sec = "I"; ni++; next }
	/^\[Peer\]$/ { sec = "P"; np++; next }
	{
		eq = index($0, " = ")
		if (eq == 0) { fail("not KEY = VALUE: " $0); next }
		k = substr($0, 1, eq - 1); v = substr($0, eq + 3)
		seen[sec k]++
		if (sec == "I" && k == "PrivateKey") { if (length(v) != 44 || v !~ /^[A-Za-z0-9+\/]+=$/) fail("PrivateKey is not a key") }
		else if (sec == "I" && k == "Address") { if (v != addr) fail("Address " v " != " addr) }
		else if (sec == "I" && k == "DNS") { if (v != dns) fail("DNS " v " != " dns) }
		else if (sec == "I" && k == "MTU") { if (v !~ /^[0-9]+$/ || v < 1280) fail("MTU " v) }
		else if (sec == "P" && k == "PublicKey") { if (v != key) fail("PublicKey " v " != " key) }
		else if (sec == "P" && k == "Endpoint") { if (v != ep) fail("Endpoint " v " != " ep) }
		else if (sec == "P" && k == "AllowedIPs") { if (v != aips) fail("AllowedIPs " v " != " aips) }
		else if (sec == "P" && k == "PersistentKeepalive") { if (v !~ /^[0-9]+$/ || v < 1 || v > 65535) fail("PersistentKeepalive " v) }
		else fail("unexpected " (sec == "" ? "line" : sec == "I" ? "[Interface] key" : "[Peer] key") ": " k)
	}
	END {
		if (ni != 1 || np != 1) fail("wants one [Interface] and one [Peer]")
		n = split("IPrivateKey IAddress IDNS PPublicKey PEndpoint PAllowedIPs PPersistentKeepalive", need, " ")
		for (i = 1; i <= n; i++) if (seen[need[i]] != 1) fail(substr(need[i], 2) " missing or repeated")
		for (s in seen) if (seen[s] > 1) fail(substr(s, 2) " repeated")
		exit bad
	}' "$1"
}
check "the configuration has exactly the fields the apps take, with the gateway's values" \
	conf_ok "$T/wg.out"
sed '/^\[Peer\]/i Table = off' "$T/wg.out" >"$T/wg-extra.conf"
check "... and the field check rejects one with a wg-quick-only line (Table = off)" \
	not quiet conf_ok "$T/wg-extra.conf"
PRIV=$(sed -n 's/^PrivateKey = //p' "$T/wg.out")
PRIV_HEX=$(printf '%s' "$PRIV" | base64 -d 2>/dev/null | od -An -tx1 | tr -d ' \n')
# in_tree SECRET PATH...: a file there holds SECRET, in any case (for the
# hex form). grep reads it from a pattern file, so no process's arguments
# hold it.
in_tree() {
	printf '%s\n' "$1" >"$T/pattern"
	shift
	grep -rqiF -D skip -f "$T/pattern" "$@"
	set -- $?
	rm -f "$T/pattern"
	return "$1"
}
check "the private key appears nowhere in the gateway's state or log (base64 or hex)" \
	test -n "$PRIV" -a -n "$PRIV_HEX" -a -z "$(in_tree "$PRIV" "$G" "$T/gw.log" && echo b64)$(in_tree "$PRIV_HEX" "$G" "$T/gw.log" && echo hex)"
check "... while that search does find the tablet's public key in its record" \
	in_tree "$(printf '%s' "$PRIV" | wg pubkey)" "$G"

# wg-quick strip wants the file named after the interface.
(umask 077 && cp "$T/wg.out" "$T/$IFW.conf")
wg-quick strip "$T/$IFW.conf" >"$T/wg-stripped.conf" 2>"$T/strip.log"
stripped_ok() { grep -q '^PrivateKey = ' "$1" && grep -q "^Endpoint = $GW_IP:51820\$" "$1" && ! grep -q '^DNS' "$1"; }
check "wg-quick strip takes the configuration (and strips DNS, Address, MTU)" stripped_ok "$T/wg-stripped.conf"
spawn "$NS_W" "$T/wg-$IFW.log" /dev/null env WG_PROCESS_FOREGROUND=1 wireguard-go -f "$IFW"
WGGO=$SPAWNED
i=0
until in_ns "$NS_W" wg show "$IFW" >/dev/null 2>&1 || [ $i -gt 50 ]; do sleep 0.1; i=$((i + 1)); done
wg_app_up() {
	in_ns "$NS_W" wg setconf "$IFW" "$T/wg-stripped.conf" &&
		ip -n "$NS_W" -6 addr add "$TABLET_ADDR/128" dev "$IFW" nodad &&
		ip -n "$NS_W" link set "$IFW" up &&
		ip -n "$NS_W" -6 route add "$PREFIX" dev "$IFW" &&
		has_fixed "$(in_ns "$NS_W" wg show "$IFW" peers)" "$GW_WGKEY"
}
check "wg setconf loads it into wireguard-go, with the Address and a route to $PREFIX" \
	wg_app_up
run_expect "the WireGuard-app phone pings the gateway's overlay address" 0 " 0% packet loss" \
	in_ns "$NS_W" ping -6 -c2 -W2 "$GW_OV"
DIG=$(in_ns "$NS_W" dig +tries=2 +timeout=2 "@$GW_OV" "tv.$ZONE" AAAA +short 2>&1)
check "dig through the tunnel at the gateway's overlay address answers tv's AAAA (${DIG:-nothing})" \
	test -n "$TV_ADDR" -a "$DIG" = "$TV_ADDR"
check "... and the phone's only way there is the tunnel" \
	has "$(ip -n "$NS_W" -6 route get "$GW_OV" 2>&1)" "dev $IFW"
group_stop "$WGGO"

# ---- no code's secret was kept ----------------------------------------------------------

cat "$T"/*.uri "$T"/*.out 2>/dev/null | sed -n 's/^signpost:pair?.*[?&]t=\([A-Za-z0-9_-]*\).*/\1/p' |
	sort -u >"$T/tokens"
sp --state "$G" status --json >"$T/final-status" 2>&1
check "no token of the $(wc -l <"$T/tokens") codes made is in the gateway's log or status" \
	test "$(wc -l <"$T/tokens")" -ge 10 -a -z "$(grep -lF -f "$T/tokens" "$T/gw.log" "$T/final-status")"
check "... nor anywhere in the members' state directories or logs" \
	test -z "$(grep -rlF -D skip -f "$T/tokens" "$D1" "$D3" "$T"/k? "$T/race-a" "$T/race-b" 2>/dev/null)"
check "... while the gateway keeps them in its pairing/ store (the search finds them there)" \
	test -n "$(grep -rlF -f "$T/tokens" "$G/pairing" 2>/dev/null)"

finish
