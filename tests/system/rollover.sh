#!/bin/sh
# Key rollovers with delv watching: a ZSK rollover runs through published,
# active/retired and removed by itself, and every answer validates at
# every step; a KSK rollover keeps both the old and the new DS working
# until --complete, after which only the new one does.
. "$(dirname "$0")/lib.sh"

S=$T/gw
PORT=$((30000 + $$ % 10000))
sp --state "$S" init --zone alice.example --name gw >/dev/null
sp --state "$S" zone anchor --format bind >"$T/old-anchor"
# One-second TTLs and propagation delay make each step take two seconds.
printf 'state %s\ndns-listen 127.0.0.1:%s\nzone-ttl 1\nzone-key-ttl 1\npropagation-delay 1\n' \
	"$S" "$PORT" >"$T/conf"
check "signpostd starts" start_daemon "$S" --config "$T/conf"

validates() {
	for q in "gw.alice.example AAAA" "alice.example DNSKEY" "alice.example SOA"; do
		# shellcheck disable=SC2086
		timeout 30 delv -a "$1" @127.0.0.1 -p "$PORT" +root=alice.example $q 2>&1 |
			grep -q '^; fully validated' || return 1
	done
	timeout 30 delv -a "$1" @127.0.0.1 -p "$PORT" +root=alice.example nope.alice.example A 2>&1 |
		grep -q '^; negative response, fully validated'
}
zsks() { sp --state "$S" keys | awk '$1 == "zsk" {print $5}' | sort | tr '\n' ' '; }

OLD_ZSK=$(sp --state "$S" keys | awk '$1 == "zsk" {print $3}')
run_expect "a ZSK rollover can be started" 0 "A ZSK rollover has started" \
	sp --state "$S" zone rollover zsk
run_expect "a second one is refused while it runs" 1 "already under way" \
	sp --state "$S" zone rollover zsk

# Watch it: every state must be seen, and validation must hold in each.
seen="" bad=0 i=0
while [ $i -lt 80 ]; do
	now=$(zsks)
	case "$seen" in *"[$now]"*) ;; *) seen="$seen[$now]" ;; esac
	validates "$T/old-anchor" || { bad=$((bad + 1)); echo "# not valid during: $now"; }
	[ "$now" = "active " ] && [ $i -gt 2 ] && break
	sleep 0.25
	i=$((i + 1))
done
echo "# ZSK states seen: $seen"
check "the successor was published first" sh -c "echo '$seen' | grep -qF '[active published ]'"
check "then active, with the old key retired" sh -c "echo '$seen' | grep -qF '[active retired ]'"
check "then the old key was removed" test "$(zsks)" = "active "
check "answers validated at every step" test "$bad" -eq 0
check "the old ZSK's file is gone" sh -c "! '$BIN/signpost' --state '$S' keys | grep -q ' $OLD_ZSK '"
NEW_ZSK=$(sp --state "$S" keys | awk '$1 == "zsk" {print $3}')
check "the new ZSK signs" sh -c \
	"kdig @127.0.0.1 -p $PORT +dnssec gw.alice.example AAAA | grep -q 'RRSIG.* $NEW_ZSK alice.example.'"

# KSK: double-KSK, then --complete.
run_expect "a KSK rollover prints both DS records" 0 "Give the parent" \
	sp --state "$S" zone rollover ksk
check "...two of them" test "$(printf '%s\n' "$OUT" | grep -c '	DS	')" -eq 2
OLD_TAG=$(awk '/static-ds/ {print $3}' "$T/old-anchor")
printf '%s\n' "$OUT" | awk -v old="$OLD_TAG" '$3 == "IN" && $4 == "DS" && $5 != old {
	printf "trust-anchors {\n\t%s static-ds %s %s %s \"%s\";\n};\n", $1, $5, $6, $7, $8 }' \
	>"$T/new-anchor"
check "the new anchor is a different key" sh -c \
	"grep -q static-ds '$T/new-anchor' && ! grep -q ' $OLD_TAG ' '$T/new-anchor'"
check "during the KSK rollover the old DS validates" validates "$T/old-anchor"
check "during the KSK rollover the new DS validates" validates "$T/new-anchor"
check "CDS announces both" test "$(kdig @127.0.0.1 -p "$PORT" +short alice.example CDS | wc -l)" -eq 2
run_expect "a second KSK rollover is refused" 1 "already under way" \
	sp --state "$S" zone rollover ksk
run_expect "--complete removes the old KSK" 0 "The old KSK is removed" \
	sp --state "$S" zone rollover ksk --complete
check "after it the new DS validates" validates "$T/new-anchor"
check "and the old DS no longer does" sh -c "! timeout 30 delv -a '$T/old-anchor' @127.0.0.1 -p $PORT +root=alice.example alice.example DNSKEY 2>&1 | grep -q '^; fully validated'"
check "CDS announces only the new key" test "$(kdig @127.0.0.1 -p "$PORT" +short alice.example CDS | wc -l)" -eq 1
run_expect "--complete without a rollover is refused" 1 "no KSK rollover" \
	sp --state "$S" zone rollover ksk --complete
stop_daemon TERM
check "a restart keeps the new keys" start_daemon "$S" --config "$T/conf"
check "and validates with the new DS" validates "$T/new-anchor"
stop_daemon TERM

finish
