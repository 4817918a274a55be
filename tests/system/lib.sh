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

# verify DESCRIPTION COMMAND...: check, and when it fails, the test's own
# show_logs (if it has one) prints what helps.
verify() {
	_v_desc=$1
	shift
	if "$@"; then
		ok "$_v_desc"
	else
		not_ok "$_v_desc"
		command -v show_logs >/dev/null 2>&1 && show_logs
	fi
	return 0
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
# left by a killed daemon is there before the new one is ready. Tests run
# side by side in one namespace, so no tunnel unless one is asked for.
start_daemon() {
	dir=$1
	shift
	case " $* " in
	*" --interface "*) ;;
	*) set -- --interface none "$@" ;;
	esac
	"$BIN/signpostd" --state "$dir" "$@" 2>"$T/daemon.log" &
	DPID=$!
	i=0
	while [ $i -lt 200 ]; do
		if ! kill -0 "$DPID" 2>/dev/null; then
			echo "# signpostd exited; its log:" >&2
			sed 's/^/#   /' "$T/daemon.log" | tail -5 >&2
			return 1
		fi
		"$BIN/signpost" --state "$dir" status >/dev/null 2>&1 && return 0
		sleep 0.05
		i=$((i + 1))
	done
	echo "# signpostd did not answer within 10 s; its log:" >&2
	sed 's/^/#   /' "$T/daemon.log" | tail -5 >&2
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
# The state's lock file is not state: any command that may write takes the
# lock first, so a refused one may leave the (empty) file behind.
tree_hash() { (cd "$1" && find . -type f ! -path ./lock -print0 | sort -z | xargs -0 sha256sum; \
	find . ! -path ./lock -printf '%p %m\n' | sort) | sha256sum; }

# Processes the labs start lead sessions of their own (setsid), so a whole
# service and what it forks can be ended by one id.

# group_running PGID: true while a non-zombie process of the group lives (a
# zombie holds no socket, and NSD leaves one for init to reap).
group_running() {
	ps -e -o pgid= -o stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { f = 1 } END { exit !f }'
}

# group_stop PID: TERM the group PID leads, wait up to 5 s, then KILL it.
group_stop() {
	[ -n "$1" ] || return 0
	kill -TERM "-$1" 2>/dev/null || kill -TERM "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	_g_i=0
	while group_running "$1" && [ $_g_i -lt 50 ]; do
		sleep 0.1
		_g_i=$((_g_i + 1))
	done
	group_running "$1" && kill -KILL "-$1" 2>/dev/null
	return 0
}

# netns_end NS...: end every process in these namespaces, whoever started
# it: TERM, then KILL for what is left after 3 s.
netns_end() {
	for _g_sig in TERM KILL; do
		_g_i=0
		while [ $_g_i -lt 30 ]; do
			_g_pids=
			for _g_ns in "$@"; do
				_g_pids="$_g_pids $(ip netns pids "$_g_ns" 2>/dev/null)"
			done
			case $_g_pids in *[0-9]*) ;; *) return 0 ;; esac
			# shellcheck disable=SC2086
			[ $_g_i -eq 0 ] && kill -"$_g_sig" $_g_pids 2>/dev/null
			sleep 0.1
			_g_i=$((_g_i + 1))
		done
	done
}

finish() {
	echo "$PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ]
}
