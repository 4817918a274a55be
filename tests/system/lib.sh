# Shared by the system tests: a scratch directory removed on exit, TAP-like
# results, and helpers to run the real binaries. Sourced with $1 = bin dir.
set -u

BIN=${1:?usage: $0 BIN_DIR}
BIN=$(cd "$BIN" && pwd)
T=$(mktemp -d /tmp/sp-system.XXXXXX)
chmod 700 "$T"
PASS=0
FAIL=0
DPID=

cleanup() {
	if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then
		kill -TERM "$DPID" 2>/dev/null
		wait "$DPID" 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

ok() { PASS=$((PASS + 1)); echo "ok - $1"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $1"; }

# check DESCRIPTION COMMAND...: passes if the command succeeds.
check() {
	desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# run_expect DESCRIPTION STATUS SUBSTRING COMMAND...: the command exits with
# STATUS and its stderr+stdout contains SUBSTRING. Output is kept in $OUT.
run_expect() {
	desc=$1 want=$2 needle=$3
	shift 3
	OUT=$("$@" 2>&1)
	got=$?
	if [ "$got" -eq "$want" ] && printf '%s' "$OUT" | grep -qF -- "$needle"; then
		ok "$desc"
	else
		not_ok "$desc (exit $got, wanted $want with '$needle'; output: $OUT)"
	fi
}

sp() { "$BIN/signpost" "$@"; }

# Start signpostd on state dir $1 (more flags after it) and wait until it
# answers on its control socket. The socket file alone is not enough: one
# left by a killed daemon is there before the new one is ready.
start_daemon() {
	dir=$1
	shift
	"$BIN/signpostd" --state "$dir" "$@" 2>"$T/daemon.log" &
	DPID=$!
	i=0
	while [ $i -lt 200 ]; do
		kill -0 "$DPID" 2>/dev/null || return 1
		"$BIN/signpost" --state "$dir" status >/dev/null 2>&1 && return 0
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}

# Stop it with signal $1; sets DSTATUS to its exit status.
stop_daemon() {
	kill -"$1" "$DPID"
	wait "$DPID"
	DSTATUS=$?
	DPID=
}

# A hash of every file under $1, to show that a failed command changed nothing.
tree_hash() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum; \
	find . -printf '%p %m\n' | sort) | sha256sum; }

finish() {
	echo "$PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ]
}
