#!/bin/sh
# The paths under reach-by-name, in the NAT lab: roaming and TCP 443.
# A gateway on the lab's internet with the relay over TLS on port 443; a
# laptop at home behind a cone NAT; a phone on a mobile network behind a
# symmetric NAT, and a cafe (restricted NAT) it can move to.
#
# - Roaming: while the laptop sends the phone a file by name through the
#   relay, the phone moves to the cafe (a new link, a new address, a new
#   NAT). The gateway sees the phone at the cafe's address within 2 s, and
#   the file arrives byte for byte.
# - TCP 443: the cafe drops all UDP. The phone's session with its gateway
#   moves to TLS on TCP 443; the laptop still pings it and sends it a file
#   by name, and the phone shows the laptop as relay-tcp. When UDP comes
#   back, the phone's session returns to UDP.
# - The relay's certificate: openssl s_client fetches it from 11.0.0.1:443;
#   its key's SHA-256 is the TLSA record delv validates at
#   _443._tcp.gateway.alice.example, and the gateway's identity key.
# - Revocation: the gateway revokes a third member; the laptop drops it as
#   a peer at once, and its name no longer answers.
# - Serve-stale: the zone's TTL is 3 s here. With the gateway killed, once
#   the TTL has run out the laptop's resolver still answers the phone's
#   name, stale (TTL 30), counted as such.
# Members join with --ice off: these are the relay's paths (tests/system/
# ice.sh has the direct ones, and relay-tcp with ICE on).
#
# Needs root, iproute2, nftables, util-linux, iputils-ping, netcat-openbsd,
# bind9-dnsutils, jq, openssl (scripts/install-deps.sh). Without root it
# exits 77 (skipped).
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root for network namespaces"
	exit 77
fi
. "$(dirname "$0")/../lab/nat.sh"

ZONE=alice.example
N=$(($$ % 10000))
IFG=spag$N
IFL=spal$N
IFP=spap$N
GW=$T/gw
L=$T/laptop
P=$T/phone
GWPID=

paths_down() {
	rm -f "/var/run/wireguard/$IFG.sock" "/var/run/wireguard/$IFL.sock" \
		"/var/run/wireguard/$IFP.sock" "/var/run/wireguard/spat$N.sock"
}
trap 'paths_down; nat_lab_down; cleanup' EXIT

show_logs() {
	for _l in "$T/gwd.log" "$L/signpostd.log" "$P/signpostd.log"; do
		[ -s "$_l" ] || continue
		echo "# --- last lines of $_l:" >&2
		tail -n 12 "$_l" | sed 's/^/#   /' >&2
	done
}
bail() {
	echo "Bail out! paths: $1"
	show_logs
	exit 1
}
now_ns() { date +%s%N; }
json() { sp --state "$1" status --json 2>/dev/null; }
field() { json "$1" | jq -r --arg f "$2" '.[$f] // "" | tostring'; }
peer_path() {
	json "$1" | jq -r --arg n "$2" '.["member-peers"][]? | select(.name == $n) | .path'
}
address_of() {
	sp --state "$GW" devices --json | jq -r --arg n "$1" '.devices[] | select(.name == $n) | .address'
}
endpoint_of() {
	sp --state "$GW" devices --json | jq -r --arg n "$1" '.devices[] | select(.name == $n) | .endpoint'
}
# until_true TENTHS COMMAND...: poll every 0.1 s.
until_true() {
	_u_n=$1
	shift
	while [ "$_u_n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		_u_n=$((_u_n - 1))
	done
	return 1
}

missing=
for pair in ip:iproute2 nft:nftables setsid:util-linux ping:iputils-ping nc:netcat-openbsd \
	delv:bind9-dnsutils jq:jq openssl:openssl sha256sum:coreutils; do
	command -v "${pair%%:*}" >/dev/null 2>&1 || missing="$missing ${pair#*:}"
done
[ -z "$missing" ] || bail "missing Debian packages:$missing (scripts/install-deps.sh)"
[ -c /dev/net/tun ] || bail "no /dev/net/tun"

nat_lab_up
nat_home cone home laptop
nat_home symmetric mobile phone
nat_home restricted cafe cafehost
CAFE_WAN=$(nat_wan cafe)

sp --state "$GW" init --zone "$ZONE" --name gateway >/dev/null || bail "init failed"
printf 'zone-ttl 3\n' >"$T/gw.conf"
nat_spawn gw gwd "$BIN/signpostd" --state "$GW" --config "$T/gw.conf" --interface "$IFG" \
	--dns-listen "$NAT_GW_IP:53" --public-endpoint "$NAT_GW_IP:51820" \
	--relay-tls-listen "$NAT_GW_IP:443"
GWPID=$NAT_PID
gw_up() { sp --state "$GW" status >/dev/null 2>&1; }
until_true 100 gw_up || bail "the gateway did not start"

# join NODE STATE IFNAME NAME: pair NAME by URI and join it from NODE.
join() {
	_j_uri=$(sp --state "$GW" pair --name "$4" --uri --no-wait 2>/dev/null |
		grep '^signpost:pair?') || bail "no code for $4"
	nat_exec "$1" "$BIN/signpost" --state "$2" join "$_j_uri" --interface "$3" --ice off \
		>"$T/join-$4.log" 2>&1 || bail "$4 did not join: $(cat "$T/join-$4.log")"
}
join laptop "$L" "$IFL" laptop
join phone "$P" "$IFP" phone
IFT=spat$N
TB=$T/tablet
join cafehost "$TB" "$IFT" tablet
LA=$(address_of laptop)
PA=$(address_of phone)
GA=$(address_of gateway)
nat_resolver laptop "$LA"
nat_resolver phone "$PA"
ok "a gateway with the relay over TLS, and two members behind NATs, paired"

laptop_has_phone() { [ "$(peer_path "$L" phone)" = relay-udp ]; }
until_true 100 laptop_has_phone ||
	bail "the laptop never took the phone as a peer"
verify "the laptop pings phone.$ZONE by name (relay over UDP)" \
	nat_exec laptop ping -n -6 -c 2 -W 2 "phone.$ZONE"

# ---- roaming ---------------------------------------------------------------

head -c 3000000 /dev/urandom >"$T/roam.bin"
nat_exec phone nc -6 -l -N 7001 >"$T/roam.got" &
NC=$!
nat_wait_port phone tcp 7001 || bail "nc did not listen on the phone"
# 30 chunks of 100 KB, 0.1 s apart: the transfer lasts about 3 s.
(
	i=0
	while [ $i -lt 30 ]; do
		dd if="$T/roam.bin" bs=100000 skip=$i count=1 2>/dev/null
		sleep 0.1
		i=$((i + 1))
	done
) | nat_exec laptop nc -6 -N "phone.$ZONE" 7001 &
SEND=$!
sleep 1
OLD_EP=$(endpoint_of phone)
t0=$(now_ns)
nat_move phone cafe
moved=0
at_cafe() { endpoint_of phone | grep -q "^$CAFE_WAN:"; }
if until_true 50 at_cafe; then
	moved=$((($(now_ns) - t0) / 1000000))
fi
echo "# roaming: the gateway saw the phone at $(endpoint_of phone) (was $OLD_EP) after ${moved} ms"
if [ "$moved" -eq 0 ]; then
	echo "# the gateway's relay: $(field "$GW" relay)"
	echo "# the phone: $(json "$P" | jq -c "{\"gateway-path\", \"gateway-handshake\", \"link-changes\", peers, \"member-peers\"}")"
fi
verify "the gateway follows the phone to the cafe's address" test "$moved" -gt 0
verify "... within 2 s of the move (${moved} ms)" test "$moved" -gt 0 -a "$moved" -le 2000
wait "$SEND" 2>/dev/null
i=0
while kill -0 "$NC" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
kill "$NC" 2>/dev/null
verify "the transfer in progress completes byte for byte ($(wc -c <"$T/roam.got") bytes)" \
	cmp -s "$T/roam.bin" "$T/roam.got"

# ---- TCP 443 -----------------------------------------------------------------

nat_udp_block cafe on
t0=$(now_ns)
nat_exec phone ping -n -6 -c 1 -W 1 "laptop.$ZONE" >/dev/null 2>&1
gw_path_is() { [ "$(field "$P" gateway-path)" = "$1" ]; }
if until_true 150 gw_path_is tcp-443; then
	echo "# tcp-443: the phone moved to TLS after $((($(now_ns) - t0) / 1000000)) ms"
	ok "with UDP dropped, the phone's session with its gateway moves to TLS on TCP 443"
else
	not_ok "with UDP dropped, the phone's session with its gateway moves to TLS on TCP 443"
	show_logs
fi
verify "the laptop pings phone.$ZONE by name" nat_exec laptop ping -n -6 -c 3 -i 0.3 -W 2 "phone.$ZONE"
head -c 1000000 /dev/urandom >"$T/tcp.bin"
nat_exec phone nc -6 -l -N 7002 >"$T/tcp.got" &
NC=$!
nat_wait_port phone tcp 7002 || bail "nc did not listen on the phone"
nat_exec laptop nc -6 -N "phone.$ZONE" 7002 <"$T/tcp.bin"
i=0
while kill -0 "$NC" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
kill "$NC" 2>/dev/null
verify "a file sent by name arrives byte for byte over TCP 443" cmp -s "$T/tcp.bin" "$T/tcp.got"
verify "the phone shows the laptop as relay-tcp" test "$(peer_path "$P" laptop)" = relay-tcp
verify "the gateway counts the TLS connection ($(field "$GW" relay-tls))" test "$(field "$GW" relay-tls | sed -n 's/^connections=\([0-9]*\).*/\1/p')" = 1
nat_udp_block cafe off
if until_true 250 gw_path_is udp; then
	ok "when UDP works again, the phone's session goes back to UDP"
else
	not_ok "when UDP works again, the phone's session goes back to UDP"
	show_logs
fi
verify "... and the laptop still reaches it" nat_exec laptop ping -n -6 -c 2 -W 2 "phone.$ZONE"

# ---- the relay's certificate and its TLSA record -------------------------------

sp --state "$L" zone anchor --format bind >"$T/anchor" 2>/dev/null || bail "no anchor on the laptop"
tlsa=$(nat_exec laptop delv -a "$T/anchor" @"$GA" +root="$ZONE" "_443._tcp.gateway.$ZONE" TLSA 2>&1)
printf '%s\n' "$tlsa" | grep -q '^; fully validated' && ok "delv validates _443._tcp.gateway.$ZONE TLSA" ||
	{ not_ok "delv validates _443._tcp.gateway.$ZONE TLSA"; printf '%s\n' "$tlsa" | sed 's/^/# /'; }
want=$(printf '%s\n' "$tlsa" | awk '$4 == "TLSA" && $5 == 3 && $6 == 1 && $7 == 1 { for (i = 8; i <= NF; i++) printf "%s", $i; print "" }' |
	tr 'A-F' 'a-f')
got=$(nat_exec pub sh -c "openssl s_client -connect $NAT_GW_IP:443 </dev/null 2>/dev/null" |
	openssl x509 -pubkey -noout 2>/dev/null | openssl pkey -pubin -outform DER 2>/dev/null |
	sha256sum | cut -d' ' -f1)
echo "# TLSA $want; the certificate's key ${got:-none}"
verify "the certificate openssl s_client gets has the key the TLSA record names" \
	test -n "$want" -a "$want" = "$got"
gwkey=$(sp --state "$GW" status --json | jq -r '.keys[] | select(.role == "device") | .id')
certkey=$(nat_exec pub sh -c "openssl s_client -connect $NAT_GW_IP:443 </dev/null 2>/dev/null" |
	openssl x509 -pubkey -noout 2>/dev/null | openssl pkey -pubin -outform DER 2>/dev/null |
	tail -c 32 | sha256sum | cut -c1-16)
verify "... and that key is the gateway's identity key (id $gwkey)" test "$certkey" = "$gwkey"

# ---- revocation ------------------------------------------------------------------

tablet_peer() { [ "$(peer_path "$L" tablet)" = relay-udp ]; }
verify "the laptop has the tablet as a peer" until_true 100 tablet_peer
sp --state "$GW" revoke tablet >/dev/null 2>&1 || not_ok "signpost revoke tablet"
tablet_gone() { [ -z "$(peer_path "$L" tablet)" ]; }
verify "after signpost revoke tablet the laptop drops it as a peer within 2 s" until_true 20 tablet_gone
st=$(nat_exec laptop dig +tries=1 +time=3 "tablet.$ZONE" AAAA @"$LA" | sed -n 's/.*status: \([A-Z]*\),.*/\1/p')
verify "... and tablet.$ZONE no longer answers ($st)" test "$st" = NXDOMAIN

# ---- serve-stale -----------------------------------------------------------------

nat_exec laptop dig +short "phone.$ZONE" AAAA @"$LA" >/dev/null
stale0=$(field "$L" resolver | sed -n 's/.*stale=\([0-9]*\).*/\1/p')
kill -KILL "$GWPID" 2>/dev/null
sleep 4   # past the 3 s TTL
t0=$(now_ns)
out=$(nat_exec laptop dig +tries=1 +time=5 +noall +answer "phone.$ZONE" AAAA @"$LA")
ms=$((($(now_ns) - t0) / 1000000))
stale1=$(field "$L" resolver | sed -n 's/.*stale=\([0-9]*\).*/\1/p')
echo "# serve-stale: $(printf '%s' "$out" | tr '\t' ' ') after ${ms} ms; stale $stale0 -> $stale1"
verify "with the gateway gone and the TTL run out, the phone's name still answers (stale)" \
	sh -c "printf '%s' \"\$1\" | grep -q \"AAAA[[:space:]]*$PA\$\"" - "$out"
verify "... with the stale TTL of 30 s" sh -c "printf '%s' \"\$1\" | awk '{ exit \$2 != 30 }'" - "$out"
verify "... counted as stale" test "${stale1:-0}" -gt "${stale0:-0}"

finish
