#!/bin/sh
# signpostd's life: start, status (text and JSON), a second instance, clean
# stops on SIGTERM and SIGINT, -n, config errors, sealed keys and damaged
# key files; and that no secret reaches the log.
. "$(dirname "$0")/lib.sh"

S=$T/state
sp --state "$S" init --zone alice.example --name gateway >/dev/null

run_expect "status says when the daemon is not running" 3 "signpostd is not running" \
	sp --state "$S" status
OUT=$(sp --state "$S" status --json 2>/dev/null)
check "status --json reports running=false when stopped" test \
	"$(printf '%s' "$OUT" | jq -r .running)" = false

check "signpostd starts" start_daemon "$S"
check "the control socket is 0600" test "$(stat -c %a "$S/control.sock")" = 600
run_expect "status shows the role and the device" 0 "device:  gateway.alice.example." \
	sp --state "$S" status
check "status shows the zone" sh -c "printf '%s' \"\$1\" | grep -q 'zone:    alice.example.'" - "$OUT"

J=$(sp --state "$S" status --json)
check "status --json is valid JSON with the role" test "$(printf '%s' "$J" | jq -r .role)" = gateway
check "status --json has a numeric uptime" test "$(printf '%s' "$J" | jq -r '.uptime|type')" = number
KSK_TAG=$(sp --state "$S" zone ds | awk '{print $5}')
check "status --json lists the KSK with the DS tag" test \
	"$(printf '%s' "$J" | jq -r '.keys[]|select(.role=="ksk")|.tag')" = "$KSK_TAG"
check "status --json lists three keys" test "$(printf '%s' "$J" | jq '.keys|length')" = 3

run_expect "a second signpostd on the same state is refused" 1 "already running" \
	"$BIN/signpostd" --state "$S"
run_expect "the first one still answers" 0 "is running" sp --state "$S" status

stop_daemon TERM
check "SIGTERM stops it with status 0" test "$DSTATUS" -eq 0
check "the socket is removed on stop" test ! -e "$S/control.sock"
check "the log says it stopped" grep -q 'stopped' "$T/daemon.log"

check "signpostd starts again" start_daemon "$S"
stop_daemon INT
check "SIGINT stops it with status 0" test "$DSTATUS" -eq 0

# A stale socket left by a crash does not stop the next start.
start_daemon "$S"
kill -KILL "$DPID"; wait "$DPID" 2>/dev/null; DPID=
check "after a crash the stale socket is replaced" start_daemon "$S"
stop_daemon TERM

# --syslog sends the log away from stderr.
check "signpostd starts with --syslog" start_daemon "$S" --syslog
stop_daemon TERM
check "with --syslog nothing is logged to stderr" test ! -s "$T/daemon.log"

# Configuration.
cat >"$T/good.conf" <<CONF
# test configuration
state $S
log-level debug
CONF
run_expect "-n checks and prints the configuration" 0 "# configuration OK" \
	"$BIN/signpostd" --config "$T/good.conf" -n
check "-n prints the state directory from the file" sh -c "printf '%s' \"\$1\" | grep -qx 'state $S'" - "$OUT"
run_expect "-n: a flag overrides the file" 0 "log-level warn" \
	"$BIN/signpostd" --config "$T/good.conf" --log-level warn -n
printf 'state %s\n\nlisten everywhere\n' "$S" >"$T/bad.conf"
run_expect "a bad config names file, line and problem" 1 "$T/bad.conf:3: unknown option 'listen'" \
	"$BIN/signpostd" --config "$T/bad.conf" -n
printf 'state relative\n' >"$T/bad2.conf"
run_expect "a bad value says what is wrong" 1 "$T/bad2.conf:1: state 'relative': must be an absolute path" \
	"$BIN/signpostd" --config "$T/bad2.conf"
run_expect "a missing config file is named" 1 "$T/none.conf" \
	"$BIN/signpostd" --config "$T/none.conf" -n
run_expect "-n without a cloud says how to make one" 1 "signpost init" \
	"$BIN/signpostd" --state "$T/empty-but-missing" -n
check "the config file's state directory is used" start_daemon "$S" --config "$T/good.conf"
stop_daemon TERM

# Sealed keys: no passphrase, a wrong one, the right one.
P=$T/sealed
printf 'hunter2 is not a good passphrase\n' >"$T/pass"
printf 'hunter3 is not a good passphrase\n' >"$T/wrong"
chmod 600 "$T/pass" "$T/wrong"
sp --state "$P" init --zone carol.example --name router --passphrase-file "$T/pass" >/dev/null
run_expect "sealed keys without a passphrase: says to give one" 1 "--passphrase-file" \
	"$BIN/signpostd" --state "$P"
run_expect "a wrong passphrase says so and names the key file" 1 "/keys/" \
	"$BIN/signpostd" --state "$P" --passphrase-file "$T/wrong"
check "...with the words 'wrong passphrase'" sh -c "printf '%s' \"\$1\" | grep -q 'wrong passphrase'" - "$OUT"
check "the right passphrase starts it" start_daemon "$P" --passphrase-file "$T/pass"
run_expect "and it answers" 0 "carol.example." sp --state "$P" status
stop_daemon TERM
cp "$T/daemon.log" "$T/sealed.log"
if grep -q 'hunter' "$T/daemon.log"; then not_ok "the passphrase is not logged"; else ok "the passphrase is not logged"; fi

# Secrets of unsealed keys never reach the log, even at debug level. The
# logs of both runs are searched for the seed of each of the three keys
# `init` made and for the passphrase, each as written and in hex; the count
# stops a run that finds no key file from passing.
start_daemon "$S" --log-level debug
sp --state "$S" status >/dev/null
stop_daemon TERM
cat "$T/sealed.log" "$T/daemon.log" >"$T/logs"
hex() { od -An -v -tx1 | tr -d ' \n'; }
leaks=
searched=0
logged() {          # logged NAME TEXT HEX
	searched=$((searched + 1))
	grep -qF -- "$2" "$T/logs" && leaks="$leaks $1"
	grep -qiF -- "$3" "$T/logs" && leaks="$leaks $1(hex)"
}
for k in "$S"/keys/*.key; do
	seed=$(sed -n 's/^secret //p' "$k" 2>/dev/null)
	[ -n "$seed" ] && logged "${k##*/}" "$seed" "$(printf '%s' "$seed" | base64 -d | hex)"
done
PASSPHRASE=$(head -n 1 "$T/pass")
logged passphrase "$PASSPHRASE" "$(printf '%s' "$PASSPHRASE" | hex)"
echo "# searched the log for $searched secrets in 2 encodings"
check "the log was searched for 4 secrets (3 seeds, the passphrase)" test "$searched" -eq 4
check "no private key or passphrase appears in the log, as written or in hex${leaks:+ (found:$leaks)}" \
	test -z "$leaks"

# Damaged key files: a clear error naming the file, and nothing changes.
KEY=$(ls "$S"/keys/zsk-*.key)
cp "$KEY" "$T/zsk.orig"
head -c 120 "$T/zsk.orig" >"$KEY"
BEFORE=$(tree_hash "$S")
run_expect "a truncated key file is named" 1 "$KEY: truncated" "$BIN/signpostd" --state "$S"
check "the failed start changed nothing" test "$(tree_hash "$S")" = "$BEFORE"
sed 's/^secret \(.\)/secret X/' "$T/zsk.orig" >"$KEY"
run_expect "an altered key file is named" 1 "$KEY: checksum mismatch" "$BIN/signpostd" --state "$S"
cp "$T/zsk.orig" "$KEY"
chmod 640 "$KEY"
run_expect "a key file open to its group is refused" 1 "$KEY: file is open to group or others (mode 0640)" \
	"$BIN/signpostd" --state "$S"
chmod 600 "$KEY"
check "with the file restored it starts" start_daemon "$S"
stop_daemon TERM

finish
