#!/bin/sh
# The main job of `make run`: the story so far, on this machine, in network
# namespaces it makes and removes. A home LAN with a gateway, a phone and a
# laptop; a personal cloud made on the gateway; the phone paired by the QR
# code the gateway shows; its name validated with DNSSEC from the anchor
# the code carried; the gateway reaching it over WireGuard; the phone
# pairing the laptop in turn; the laptop looking the phone up by name, its
# own signpostd validating the answer and opening a tunnel to the phone
# through the gateway's relay, end to end encrypted; then the phone's
# network dropping UDP, and the phone moving to TLS on TCP 443. Needs root.
set -eu
BIN=${1:-build/bin}
BIN=$(cd "$BIN" && pwd)
ZONE=alice.example
N=$(($$ % 10000))
NS_G=spdemo$N-gw
NS_P=spdemo$N-phone
NS_L=spdemo$N-laptop
# /var/run/wireguard is one folder for every namespace: names of our own.
IF_G=spdg$N
IF_P=spdp$N
IF_L=spdl$N
LAN=192.168.77
T=$(mktemp -d /tmp/signpost-demo.XXXXXX)
G=$T/gateway
P=$T/phone
L=$T/laptop
GPID=
NETNS=
NETNS_ETC=

if [ -t 1 ]; then
	say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
	say() { printf '\n== %s\n' "$*"; }
fi
die() { echo "demo: $*" >&2; exit 1; }
sp() { "$BIN/signpost" "$@"; }
in_ns() { _ns=$1; shift; ip netns exec "$_ns" "$@"; }

# A member's signpostd was started by its join, detached: its pid is in
# its status.
stop_member() {
	_pid=$(sp --state "$1" status --json 2>/dev/null | sed -n 's/.*"pid":\([0-9]*\).*/\1/p')
	[ -n "$_pid" ] && kill -TERM "$_pid" 2>/dev/null
	return 0
}
cleanup() {
	set +e
	stop_member "$P"
	stop_member "$L"
	if [ -n "$GPID" ] && kill -0 "$GPID" 2>/dev/null; then
		kill -TERM "$GPID"
		wait "$GPID"
	fi
	sleep 0.3
	for ns in $NETNS; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	[ -n "$NETNS_ETC" ] && rm -rf "$NETNS_ETC"
	rm -f "/var/run/wireguard/$IF_G.sock" "/var/run/wireguard/$IF_P.sock" \
		"/var/run/wireguard/$IF_L.sock"
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
chmod 700 "$T"

[ "$(id -u)" -eq 0 ] || die "make run needs root: it makes network namespaces and tunnels"
for tool in ip delv dig ping nc nft; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is missing (scripts/install-deps.sh)"
done

say "A home LAN: the gateway at $LAN.1, a phone at $LAN.2, a laptop at $LAN.3"
for ns in $NS_G $NS_P $NS_L; do
	ip netns add "$ns"
	NETNS="$NETNS $ns"
	ip -n "$ns" link set lo up
done
ip -n "$NS_G" link add br0 type bridge
ip -n "$NS_G" link set br0 up
ip -n "$NS_G" addr add "$LAN.1/24" dev br0
k=2
for ns in $NS_P $NS_L; do
	ip -n "$NS_G" link add "v$k" type veth peer name eth0 netns "$ns"
	ip -n "$NS_G" link set "v$k" master br0 up
	ip -n "$ns" link set eth0 up
	ip -n "$ns" addr add "$LAN.$k/24" dev eth0
	k=$((k + 1))
done
echo "(network namespaces $NS_G, $NS_P, $NS_L; nothing leaves this machine)"

say "signpost init --zone $ZONE --name gateway"
sp --state "$G" init --zone "$ZONE" --name gateway

say "signpostd, the gateway: the signed zone on $LAN.1:53, WireGuard on $LAN.1:51820, the relay over TLS on $LAN.1:443"
# Not through in_ns: a backgrounded function is a subshell, and $! would
# be its pid, not signpostd's.
ip netns exec "$NS_G" "$BIN/signpostd" --state "$G" --interface "$IF_G" --dns-listen "$LAN.1:53" \
	--public-endpoint "$LAN.1:51820" --relay-tls-listen "$LAN.1:443" 2>"$T/gateway.log" &
GPID=$!
i=0
until sp --state "$G" status >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -le 100 ] && kill -0 "$GPID" 2>/dev/null || { cat "$T/gateway.log" >&2; die "signpostd did not start"; }
	sleep 0.05
done
sed 's/^[^ ]* //' "$T/gateway.log"

say "signpost pair --name phone   (on the gateway: the code for the phone to scan)"
sp --state "$G" pair --name phone --qr terminal --qr "png:$T/phone.png" --wait >"$T/pair.out" \
	2>"$T/pair.err" &
PAIR=$!
i=0
until grep -q 'Waiting' "$T/pair.err" 2>/dev/null; do
	i=$((i + 1))
	[ $i -le 100 ] || die "pair made no code: $(cat "$T/pair.err")"
	sleep 0.05
done
cat "$T/pair.out" "$T/pair.err"

say "On the phone: signpost join --qr-image phone.png   (its camera reads the code)"
in_ns "$NS_P" "$BIN/signpost" --state "$P" join --qr-image "$T/phone.png" --interface "$IF_P"
wait "$PAIR" || die "the gateway's pair did not see the join"
echo "(and on the gateway, pair says:)"
tail -n 1 "$T/pair.out"

PHONE=$(sp --state "$G" devices --json | sed -n 's/.*"name":"phone"[^}]*"address":"\([^"]*\)".*/\1/p')
GW=$(sp --state "$G" devices --json | sed -n 's/.*"name":"gateway"[^}]*"address":"\([^"]*\)".*/\1/p')
[ -n "$PHONE" ] && [ -n "$GW" ] || die "devices does not list the phone"

say "phone.$ZONE, validated: delv on the phone, with the anchor the QR code's DS vouched for"
sp --state "$P" zone anchor --format bind >"$T/anchor"
out=$(in_ns "$NS_P" delv -a "$T/anchor" @"$GW" +root="$ZONE" "phone.$ZONE" AAAA 2>&1)
printf '%s\n' "$out"
printf '%s\n' "$out" | grep -q '^; fully validated' || die "delv did not validate phone.$ZONE"
echo "(asked of the gateway at $GW, its address inside the tunnel)"

say "The gateway reaches the phone over WireGuard: ping $PHONE"
in_ns "$NS_G" ping -6 -c 3 -i 0.2 -W 2 "$PHONE" || die "the phone does not answer"

say "On the phone: signpost pair --name laptop   (a member pairs the next device)"
sp --state "$P" pair --name laptop --qr "png:$T/laptop.png" --no-wait
say "On the laptop: signpost join --qr-image laptop.png"
in_ns "$NS_L" "$BIN/signpost" --state "$L" join --qr-image "$T/laptop.png" --interface "$IF_L"

LAPTOP=$(sp --state "$G" devices --json | sed -n 's/.*"name":"laptop"[^}]*"address":"\([^"]*\)".*/\1/p')
[ -n "$LAPTOP" ] || die "devices does not list the laptop"
# The laptop's programs ask its own signpostd, as /etc/resolv.conf (or
# systemd-resolved, docs/resolver.md) would tell them to.
mkdir -p "/etc/netns/$NS_L"
echo "nameserver $LAPTOP" >"/etc/netns/$NS_L/resolv.conf"
NETNS_ETC="/etc/netns/$NS_L"

say "On the laptop: dig phone.$ZONE   (its own signpostd answers, validated: flag ad)"
start=$(date +%s%N)
out=$(in_ns "$NS_L" dig +dnssec +noall +answer +comments "phone.$ZONE" AAAA @"$LAPTOP")
printf '%s\n' "$out" | grep -E 'flags:|AAAA'
printf '%s\n' "$out" | grep -q 'flags:.* ad' || die "the laptop's answer is not validated"

say "The laptop reaches the phone by name: ping phone.$ZONE   (the lookup opened the tunnel)"
in_ns "$NS_L" ping -6 -c 3 -i 0.2 -W 2 "phone.$ZONE" >"$T/ping" || { cat "$T/ping"; die "the laptop does not reach phone.$ZONE"; }
end=$(date +%s%N)
cat "$T/ping"
echo "(from the lookup to the third reply: $(((end - start) / 1000000)) ms)"

say "A file from the laptop to phone.$ZONE over TCP, end to end encrypted through the gateway's relay"
head -c 2000000 /dev/urandom >"$T/file"
in_ns "$NS_P" nc -6 -l -N 7000 >"$T/received" &
NC=$!
sleep 0.2
in_ns "$NS_L" nc -6 -N "phone.$ZONE" 7000 <"$T/file" || die "the transfer failed"
wait "$NC" || true
a=$(sha256sum <"$T/file" | cut -c1-16)
b=$(sha256sum <"$T/received" | cut -c1-16)
echo "sent 2000000 bytes, sha256 $a...; the phone got $(wc -c <"$T/received") bytes, sha256 $b..."
[ "$a" = "$b" ] || die "the file arrived damaged"

say "signpost status   (on the laptop: the path to each member)"
sp --state "$L" status | sed -n '/gateway:/p;/members (/,/^  [a-z]*:/p' | grep -v '^  tunnel:'

say "signpost status   (on the gateway: what its relay forwarded, and never opened)"
sp --state "$G" status | grep 'relay:'

say "The phone's network starts dropping all UDP (nftables in its namespace); the phone pings the laptop"
in_ns "$NS_P" nft -f - <<EOF
table inet demo_block {
	chain out { type filter hook output priority 0; meta l4proto udp drop; }
	chain in { type filter hook input priority 0; meta l4proto udp drop; }
}
EOF
t0=$(date +%s%N)
in_ns "$NS_P" ping -6 -c 1 -W 1 "$LAPTOP" >/dev/null 2>&1 || true
i=0
until sp --state "$P" status --json | grep -q '"gateway-path":"tcp-443"'; do
	i=$((i + 1))
	[ $i -le 200 ] || die "the phone did not move to TCP 443"
	sleep 0.05
done
t1=$(date +%s%N)
echo "(the phone's session with its gateway moved to TLS on TCP 443 after $(((t1 - t0) / 1000000)) ms)"
say "The laptop still reaches phone.$ZONE: ping, and the path on each side"
in_ns "$NS_L" ping -6 -c 3 -i 0.2 -W 2 "phone.$ZONE" || die "the laptop does not reach the phone over TCP 443"
echo "on the phone:"
sp --state "$P" status | sed -n '/gateway:/p;/members (/,/^  [a-z]*:/p' | grep -v '^  [a-z]*:  '
echo "on the laptop:"
sp --state "$L" status | sed -n '/members (/,/^  [a-z]*:/p' | grep -v '^  [a-z]*:  '
in_ns "$NS_P" nft delete table inet demo_block

say "signpost devices   (on the phone: the list its gateway keeps it up to date with)"
sp --state "$P" devices

say "signpost status   (on the gateway)"
sp --state "$G" status | sed -n '1,12p'

say "Stopping: the members' signpostd, then the gateway's (SIGTERM)"
stop_member "$P"
stop_member "$L"
kill -TERM "$GPID"
status=0
wait "$GPID" || status=$?
GPID=
[ "$status" -eq 0 ] || die "the gateway's signpostd exited with status $status"
say "Stopped cleanly; the namespaces and the demo's state are removed"
