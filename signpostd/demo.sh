#!/bin/sh
# The main job of `make run`: create a fresh personal cloud in a temporary
# state directory, start signpostd serving the signed zone on loopback, add
# a device, and watch delv validate its records against the zone's trust
# anchor; then stop cleanly. Later issues add tunnels.
set -eu
BIN=${1:-build/bin}
STATE=$(mktemp -d /tmp/signpost-demo.XXXXXX)
PID=
cleanup() {
	if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
		kill -TERM "$PID"
		wait "$PID" || true
	fi
	rm -rf "$STATE"
}
trap cleanup EXIT INT TERM
chmod 700 "$STATE"

if [ -t 1 ]; then
	say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
	say() { printf '\n== %s\n' "$*"; }
fi

say "signpost init --zone alice.example --name gateway"
"$BIN/signpost" --state "$STATE" init --zone alice.example --name gateway

say "signpost keys"
"$BIN/signpost" --state "$STATE" keys

say "signpost zone anchor --format bind  (the trust anchor delv will use)"
"$BIN/signpost" --state "$STATE" zone anchor --format bind | tee "$STATE/anchor"

PORT=$((40000 + $$ % 20000))
say "signpostd --state $STATE --dns-listen 127.0.0.1:$PORT --interface none"
"$BIN/signpostd" --state "$STATE" --dns-listen "127.0.0.1:$PORT" --interface none &
PID=$!
i=0
until "$BIN/signpost" --state "$STATE" status >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$PID" 2>/dev/null; then
		echo "demo: signpostd did not come up" >&2
		exit 1
	fi
	sleep 0.05
done

say "signpost device add phone --key ..."
"$BIN/signpost" --state "$STATE" device add phone --key l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=
"$BIN/signpost" --state "$STATE" device list

delv_demo() {
	say "delv -a anchor @127.0.0.1 -p $PORT +root=alice.example $*"
	out=$(delv -a "$STATE/anchor" @127.0.0.1 -p "$PORT" +root=alice.example "$@" 2>&1)
	printf '%s\n' "$out"
	printf '%s\n' "$out" | grep -Eq '^; (fully validated|negative response, fully validated)' || {
		echo "demo: delv did not validate $*" >&2
		exit 1
	}
}
delv_demo phone.alice.example AAAA
delv_demo phone.alice.example IPSECKEY
delv_demo alice.example DNSKEY
delv_demo nothing-here.alice.example AAAA

say "signpost status"
"$BIN/signpost" --state "$STATE" status

say "stopping signpostd (SIGTERM)"
kill -TERM "$PID"
status=0
wait "$PID" || status=$?
PID=
if [ "$status" -ne 0 ]; then
	echo "demo: signpostd exited with status $status" >&2
	exit 1
fi
say "signpostd stopped cleanly; the demo's state directory is removed"
