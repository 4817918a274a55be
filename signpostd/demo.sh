#!/bin/sh
# The main job of `make run`: the story so far, on this machine, in the NAT
# lab's network namespaces (tests/lab/), made and removed here. An
# "internet" with the gateway on it; a laptop at home behind a cone NAT; a
# phone on a mobile network behind a symmetric NAT. A personal cloud made on
# the gateway; the phone paired by the QR code the gateway shows; its name
# validated with DNSSEC from the anchor the code carried; the phone pairing
# the laptop in turn; the laptop looking up phone.alice.example with its
# own validating resolver and pinging it by name: the first reply through
# the gateway's relay, end to end encrypted, then ICE finding a direct path
# through both NATs and the tunnel moving onto it, with both paths and the
# time of the switch shown; a file sent by name on the direct path; then
# the phone's network dropping all UDP: the direct path goes silent, the
# pair falls back to the relay, and the phone moves to TLS on TCP 443.
# Needs root.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "demo: make run needs root: it makes network namespaces and tunnels" >&2; exit 1; }
for tool in ip nft delv dig ping nc setsid; do
	command -v "$tool" >/dev/null 2>&1 || { echo "demo: $tool is missing (scripts/install-deps.sh)" >&2; exit 1; }
done
# lib.sh: $BIN, the scratch directory $T, sp; nat.sh: the lab. Their EXIT
# trap removes everything.
. "$ROOT/tests/system/lib.sh"
. "$ROOT/tests/lab/nat.sh"
set -e
ZONE=alice.example
N=$(($$ % 10000))
# /var/run/wireguard is one folder for every namespace: names of our own.
IF_G=spdg$N
IF_P=spdp$N
IF_L=spdl$N
G=$T/gateway
P=$T/phone
L=$T/laptop
GPID=

if [ -t 1 ]; then
	say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
	say() { printf '\n== %s\n' "$*"; }
fi
die() { echo "demo: $*" >&2; exit 1; }
demo_down() {
	set +e
	rm -f "/var/run/wireguard/$IF_G.sock" "/var/run/wireguard/$IF_P.sock" \
		"/var/run/wireguard/$IF_L.sock"
}
trap 'demo_down; nat_lab_down; cleanup' EXIT

say "The lab: an internet with the gateway at 11.0.0.1; a laptop at home behind a cone NAT; a phone on a mobile network behind a symmetric NAT"
nat_lab_up
nat_home cone home laptop
nat_home symmetric mobile phone
echo "(network namespaces $NAT_ID-*; nothing leaves this machine)"

say "signpost init --zone $ZONE --name gateway"
sp --state "$G" init --zone "$ZONE" --name gateway

say "signpostd, the gateway: the signed zone on 11.0.0.1:53, WireGuard on 11.0.0.1:51820, the relay over TLS on 11.0.0.1:443"
nat_spawn gw gateway "$BIN/signpostd" --state "$G" --interface "$IF_G" --dns-listen 11.0.0.1:53 \
	--public-endpoint 11.0.0.1:51820 --relay-tls-listen 11.0.0.1:443
GPID=$NAT_PID
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
nat_exec phone "$BIN/signpost" --state "$P" join --qr-image "$T/phone.png" --interface "$IF_P"
wait "$PAIR" || die "the gateway's pair did not see the join"
echo "(and on the gateway, pair says:)"
tail -n 1 "$T/pair.out"

addr_of() { sp --state "$G" devices --json | sed -n "s/.*\"name\":\"$1\"[^}]*\"address\":\"\\([^\"]*\\)\".*/\\1/p"; }
PHONE=$(addr_of phone)
GW=$(addr_of gateway)
[ -n "$PHONE" ] && [ -n "$GW" ] || die "devices does not list the phone"

say "phone.$ZONE, validated: delv on the phone, with the anchor the QR code's DS vouched for"
sp --state "$P" zone anchor --format bind >"$T/anchor"
out=$(nat_exec phone delv -a "$T/anchor" @"$GW" +root="$ZONE" "phone.$ZONE" AAAA 2>&1)
printf '%s\n' "$out"
printf '%s\n' "$out" | grep -q '^; fully validated' || die "delv did not validate phone.$ZONE"
echo "(asked of the gateway at $GW, its address inside the tunnel)"

say "On the phone: signpost pair --name laptop   (a member pairs the next device)"
sp --state "$P" pair --name laptop --qr "png:$T/laptop.png" --no-wait
say "On the laptop, at home: signpost join --qr-image laptop.png"
nat_exec laptop "$BIN/signpost" --state "$L" join --qr-image "$T/laptop.png" --interface "$IF_L"
LAPTOP=$(addr_of laptop)
[ -n "$LAPTOP" ] || die "devices does not list the laptop"
# The members' programs ask their own signpostd, as systemd-resolved (or
# /etc/resolv.conf, docs/resolver.md) would have them do.
nat_resolver laptop "$LAPTOP"
nat_resolver phone "$PHONE"

forwarded() { sp --state "$G" status --json | sed -n 's/.*"relay":"[^"]*forwarded=\([0-9]*\).*/\1/p'; }
say "On the laptop: dig phone.$ZONE   (its own signpostd answers, validated: flag ad)"
f0=$(forwarded)
start=$(date +%s%N)
out=$(nat_exec laptop dig +dnssec +noall +answer +comments "phone.$ZONE" AAAA)
printf '%s\n' "$out" | grep -E 'flags:|AAAA'
printf '%s\n' "$out" | grep -q 'flags:.* ad' || die "the laptop's answer is not validated"

path_to() { sp --state "$1" status --json | sed -n "s/.*{\"name\":\"$2\"[^}]*\"path\":\"\([^\"]*\)\".*/\1/p"; }
ice_line() { sp --state "$1" status | sed -n "s/^ *ice name=$2 //p" | sed 's/ switches=.*//'; }

say "The laptop reaches the phone by name, across both NATs: ping -c 1 phone.$ZONE"
nat_exec laptop ping -6 -c 1 -W 2 "phone.$ZONE" >"$T/ping" || { cat "$T/ping"; die "the laptop does not reach phone.$ZONE"; }
end=$(date +%s%N)
sed -n '2p' "$T/ping"
echo "(from the lookup to the first reply: $(((end - start) / 1000000)) ms. The lookup opened the tunnel"
echo " through the gateway's relay, which forwarded $(($(forwarded) - f0)) packets it cannot read: the handshake;"
echo " and it started ICE)"

say "ICE: the laptop and the phone traded candidates through the gateway and found a direct path"
i=0
until [ "$(path_to "$L" phone)" = reflexive ] && [ "$(path_to "$P" laptop)" = reflexive ]; do
	i=$((i + 1))
	[ $i -le 200 ] || die "no direct path in 10 s (laptop: $(path_to "$L" phone))"
	sleep 0.05
done
echo "the path was relay-udp; it is now $(path_to "$L" phone) (through both NATs' mappings), switched $(sp --state "$L" status --json | sed -n 's/.*"direct-after-ms":"\([0-9]*\)".*/\1/p') ms after the lookup started ICE"
echo "laptop: $(ice_line "$L" phone)"
echo "phone:  $(ice_line "$P" laptop)"

say "ping phone.$ZONE again: now on the direct path; the relay forwards nothing"
f0=$(forwarded)
nat_exec laptop ping -6 -c 3 -i 0.2 -W 2 "phone.$ZONE" | sed -n '2,4p'
echo "(the gateway's relay forwarded $(($(forwarded) - f0)) packets meanwhile)"

say "A file from the laptop to phone.$ZONE over TCP, end to end encrypted, on the direct path"
head -c 2000000 /dev/urandom >"$T/file"
nat_exec phone nc -6 -l -N 7000 >"$T/received" &
NC=$!
nat_wait_port phone tcp 7000 || die "nc did not listen on the phone"
nat_exec laptop nc -6 -N "phone.$ZONE" 7000 <"$T/file" || die "the transfer failed"
wait "$NC" || true
a=$(sha256sum <"$T/file" | cut -c1-16)
b=$(sha256sum <"$T/received" | cut -c1-16)
echo "sent 2000000 bytes, sha256 $a...; the phone got $(wc -c <"$T/received") bytes, sha256 $b..."
[ "$a" = "$b" ] || die "the file arrived damaged"

say "signpost status   (on the laptop: the path to each member)"
sp --state "$L" status | sed -n '/gateway:/p;/members (/,/^  [a-z]*:/p' | grep -v '^  [a-z]*:  '

say "signpost status   (on the gateway: its relay, its STUN service and the ICE rendezvous)"
sp --state "$G" status --json | sed -n 's/.*"relay":"\([^"]*\)".*/  relay:      \1/p'
sp --state "$G" status --json | sed -n 's/.*"stun":"\([^"]*\)".*/  stun:       \1/p'
sp --state "$G" status --json | sed -n 's/.*"rendezvous":"\([^"]*\)".*/  rendezvous: \1/p'

say "The phone's mobile network starts dropping all UDP; the phone pings the laptop"
nat_udp_block mobile on
t0=$(date +%s%N)
nat_exec phone ping -6 -c 1 -W 1 "laptop.$ZONE" >/dev/null 2>&1 || true
i=0
until sp --state "$P" status --json | grep -q '"gateway-path":"tcp-443"' &&
	[ "$(path_to "$L" phone)" = relay-udp ]; do
	i=$((i + 1))
	[ $i -le 400 ] || die "the phone did not move to TCP 443, or the pair stayed direct"
	sleep 0.05
done
t1=$(date +%s%N)
echo "(after $(((t1 - t0) / 1000000)) ms: the direct path went silent and the pair fell back to the relay;"
echo " the phone's session with its gateway moved to TLS on TCP 443)"
say "The laptop still reaches phone.$ZONE: ping, and the path on each side"
nat_exec laptop ping -6 -c 3 -i 0.2 -W 2 "phone.$ZONE" || die "the laptop does not reach the phone over TCP 443"
echo "on the phone:"
sp --state "$P" status | sed -n '/gateway:/p;/members (/,/^  [a-z]*:/p' | grep -v '^  [a-z]*:  '
echo "on the laptop:"
sp --state "$L" status | sed -n '/members (/,/^  [a-z]*:/p' | grep -v '^  [a-z]*:  '
nat_udp_block mobile off

say "signpost devices   (on the phone: the list its gateway keeps it up to date with)"
sp --state "$P" devices

say "Stopping: the members' signpostd, then the gateway's (SIGTERM)"
for s in "$P" "$L"; do
	pid=$(sp --state "$s" status --json 2>/dev/null | sed -n 's/.*"pid":\([0-9]*\).*/\1/p')
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
done
kill -TERM "$GPID"
status=0
wait "$GPID" || status=$?
[ "$status" -eq 0 ] || die "the gateway's signpostd exited with status $status"
say "Stopped cleanly; the namespaces and the demo's state are removed"
