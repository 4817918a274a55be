#!/bin/sh
# The whole chain of trust, in network namespaces: NSD serves a lab root
# and example. with the DS of alice.example; signpostd serves alice.example
# from its own host; unbound, knowing only the lab root's key, validates
# the device's name from the root down. Then the same from a host that is
# not loopback shows rate limiting at work.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lab.sh"

lab_up

S=$T/gw
sp --state "$S" init --zone alice.example --name gw >/dev/null
sp --state "$S" device add phone --key l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4= >/dev/null
sp --state "$S" zone ds >"$T/alice.ds"
cat >"$T/gw.conf" <<EOF
state $S
dns-listen $LAB_AUTH_IP4:53
dns-listen [$LAB_AUTH_IP6]:53
zone-ns ns.alice.example
zone-address $LAB_AUTH_IP4
zone-address $LAB_AUTH_IP6
rrl-rate 5
interface none
EOF
lab_spawn auth gw "$BIN/signpostd" --config "$T/gw.conf"
lab_wait gw "$LAB_AUTH_IP4" alice.example IN SOA "$LAB_DIR/gw.log"

lab_root_sign alice.example. "$T/alice.ds" "$LAB_AUTH_IP4"
lab_resolver_up

run_expect "the device's name resolves from the lab root" 0 "status: NOERROR" \
	lab_query phone.alice.example AAAA
check "...validated (AD)" lab_ad "$OUT"
PHONE=$(printf '%s\n' "$OUT" | awk '$4 == "AAAA" {print $5}')
check "...to the device's overlay address" sh -c "case '$PHONE' in fd*) true;; *) false;; esac"
run_expect "its identity key resolves" 0 "IPSECKEY" lab_query phone.alice.example IPSECKEY
check "...validated (AD)" lab_ad "$OUT"
run_expect "a missing name is answered (compact denial: NOERROR, no data)" 0 "ANSWER: 0" \
	lab_query nope.alice.example AAAA
check "...validated (AD)" lab_ad "$OUT"
run_expect "the gateway's name server name resolves" 0 "$LAB_AUTH_IP4" lab_query ns.alice.example A
check "...validated (AD)" lab_ad "$OUT"

# A device added now is visible through the chain at once.
sp --state "$S" device add tablet --key zPnZ/QwEe7S8C5SPz2OfS5RR40ATk2/rYnE9xHIEijs= >/dev/null
run_expect "a new device resolves through the chain" 0 "status: NOERROR" \
	lab_query tablet.alice.example AAAA
check "...validated (AD)" lab_ad "$OUT"

# Negative control: the parent publishing another key's DS breaks it.
sp --state "$T/other" init --zone alice.example --name x >/dev/null
sp --state "$T/other" zone ds >"$T/wrong.ds"
lab_root_sign alice.example. "$T/wrong.ds" "$LAB_AUTH_IP4"
lab_resolver_up
run_expect "with the wrong DS in the parent, validation fails" 0 "status: SERVFAIL" \
	lab_query phone.alice.example AAAA

# Rate limiting, from a host that is not loopback: 300 identical queries
# at once from the resolver's host, at most 5 answers a second.
printf 'phone.alice.example AAAA\n' >"$T/flood.q"
lab_exec res dnsperf -s "$LAB_AUTH_IP4" -l 2 -Q 300 -t 1 -d "$T/flood.q" >"$T/flood" 2>&1
STATUS=$(sp --state "$S" status --json)
check "the flood was rate limited" test "$(printf '%s' "$STATUS" | jq '."rrl-dropped" + ."rrl-slipped"')" -gt 100
check "and some answers slipped (TC, so real clients retry over TCP)" test \
	"$(printf '%s' "$STATUS" | jq '."rrl-slipped"')" -gt 0
tcp_answers() { lab_exec res kdig @"$LAB_AUTH_IP4" +tcp phone.alice.example AAAA | grep -q "$PHONE"; }
check "TCP is not limited" tcp_answers

finish
