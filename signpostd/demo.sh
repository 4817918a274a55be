#!/bin/sh
# The main job of `make run`: create a fresh personal cloud in a temporary
# state directory, start signpostd, show its status and keys, and stop it
# cleanly. Later issues grow this into the full demo (signed DNS, tunnels).
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

say "signpost zone anchor --format unbound"
"$BIN/signpost" --state "$STATE" zone anchor --format unbound

say "signpostd --state $STATE"
"$BIN/signpostd" --state "$STATE" &
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
