#!/bin/sh
# signpost init, keys, zone ds|dnskey|anchor against ldns-key2ds, delv and
# unbound-checkconf; and the errors that must change nothing.
. "$(dirname "$0")/lib.sh"

S=$T/state
run_expect "init creates a cloud" 0 "Created the personal cloud alice.example." \
	sp --state "$S" init --zone Alice.Example --name gateway
INIT_OUT=$OUT

check "state dir is 0700" test "$(stat -c %a "$S")" = 700
check "keys dir is 0700" test "$(stat -c %a "$S/keys")" = 700
check "three key files, all 0600" test \
	"$(find "$S/keys" -name '*.key' -perm 0600 | wc -l)" = 3
check "unsealed keys hold a clear secret" grep -q '^secret ' "$S"/keys/ksk-*.key

sp --state "$S" zone ds >"$T/ds" 2>&1
sp --state "$S" zone dnskey >"$T/dnskey" 2>&1
check "zone dnskey prints the KSK and the ZSK" test \
	"$(grep -c 'DNSKEY	25[67] 3 15 ' "$T/dnskey")" = 2
ldns-key2ds -n -2 "$T/dnskey" >"$T/ldns-ds"
check "zone ds is exactly what ldns-key2ds -n -2 prints" cmp -s "$T/ds" "$T/ldns-ds"
check "init printed the same DS" sh -c "printf '%s\n' \"\$1\" | grep -qxF \"\$(cat \"\$2\")\"" \
	- "$INIT_OUT" "$T/ds"

TAG=$(awk '{print $5}' "$T/ds")
sp --state "$S" keys >"$T/keys"
check "keys lists the KSK with the DS key tag" grep -Eq "^ksk +15/ed25519 +$TAG " "$T/keys"
check "keys lists a ZSK and a device key" sh -c \
	"grep -q '^zsk ' '$T/keys' && grep -q '^device ' '$T/keys'"

# delv must accept the BIND-format anchor: with a good anchor it gets as
# far as sending the query (to a closed port); a broken one it rejects.
sp --state "$S" zone anchor --format bind >"$T/anchor.bind"
check "bind anchor uses static-ds" grep -q "alice.example. static-ds $TAG 15 2 \"" "$T/anchor.bind"
delv_try() {
	timeout 20 delv -a "$1" +root=alice.example @127.0.0.1 -p 9 alice.example SOA 2>&1
}
D=$(delv_try "$T/anchor.bind")
if printf '%s' "$D" | grep -q 'resolving' && ! printf '%s' "$D" | grep -q 'failed to add trusted key'; then
	ok "delv -a accepts the bind anchor"
else
	not_ok "delv -a accepts the bind anchor: $D"
fi
sed 's/" *;/0";/' "$T/anchor.bind" >"$T/anchor.bad"
check "delv rejects a damaged anchor (the check above can fail)" sh -c \
	"timeout 20 delv -a '$T/anchor.bad' +root=alice.example @127.0.0.1 -p 9 alice.example SOA 2>&1 | grep -q 'failed to add trusted key'"

sp --state "$S" zone anchor --format unbound >"$T/anchor.unbound"
printf 'server:\n\tchroot: ""\n\tusername: ""\n\tdirectory: "%s"\n\tpidfile: ""\n' "$T" >"$T/unbound.conf"
sed 's/^/\t/' "$T/anchor.unbound" >>"$T/unbound.conf"
check "unbound-checkconf accepts the unbound anchor" unbound-checkconf "$T/unbound.conf"
sed 's/ 15 2 / 15 2 zz/' "$T/unbound.conf" >"$T/unbound-bad.conf"
check "unbound-checkconf rejects a damaged anchor" sh -c "! unbound-checkconf '$T/unbound-bad.conf' >/dev/null 2>&1"

BEFORE=$(tree_hash "$S")
run_expect "a second init is refused" 1 "refusing to overwrite" \
	sp --state "$S" init --zone bob.example --name laptop
check "the refused init changed nothing" test "$(tree_hash "$S")" = "$BEFORE"

run_expect "init without --zone is a usage error" 2 "usage: signpost init" \
	sp --state "$T/new" init --name laptop
run_expect "init with a bad zone name says why" 2 "label 'a_b'" \
	sp --state "$T/new" init --zone a_b.example --name laptop
check "a refused init creates no state directory" test ! -e "$T/new"

chmod 755 "$S"
run_expect "an open state directory is refused, naming it and its mode" 1 "$S: state directory is open to group or others (mode 0755)" \
	sp --state "$S" zone ds
chmod 700 "$S"

# Sealed keys.
printf 'correct horse battery staple\n' >"$T/pass"
chmod 600 "$T/pass"
run_expect "init with a passphrase seals the keys" 0 "sealed with your passphrase" \
	sp --state "$T/sealed" init --zone carol.example --name router --passphrase-file "$T/pass"
check "sealed key files hold no clear secret" sh -c \
	"grep -l '^sealed argon2id13 ' '$T'/sealed/keys/*.key | wc -l | grep -qx 3 && ! grep -q '^secret ' '$T'/sealed/keys/*.key"
check "zone ds works without the passphrase" sh -c "sp() { '$BIN/signpost' \"\$@\"; }; sp --state '$T/sealed' zone ds | grep -q 'carol.example.	3600	IN	DS	'"
chmod 644 "$T/pass"
run_expect "a passphrase file open to others is refused" 1 "expected 0600" \
	sp --state "$T/sealed2" init --zone d.example --name r --passphrase-file "$T/pass"

run_expect "status without a daemon says it is not running" 3 "not running" \
	sp --state "$S" status

finish
