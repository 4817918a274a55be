#!/bin/sh
# signpostd/device/resolved.c against a mock systemd-resolved
# (python3-dbusmock) on a private D-Bus bus, driven by tools/resolvedprobe:
# the calls and their arguments (the interface index, the address bytes,
# the zone as a routing-only domain), RevertLink at stop, registering again
# when resolved restarts, a stop while a registration is in flight, a
# refusal, and no bus at all (one info line, no more).
. "$(dirname "$0")/lib.sh"

ZONE=alice.example
ADDR=fd00:a11c:5167:1::1
ADDR_HEX=fd00a11c516700010000000000000001
BUS=unix:path=$T/bus
NS=
BUSPID=
MOCKPID=
FIRSTPID=
PROBEPID=

bail() { echo "# $1"; not_ok "$1"; finish; exit 1; }

end_all() {
	[ -n "$PROBEPID" ] && kill -TERM "$PROBEPID" 2>/dev/null && wait "$PROBEPID" 2>/dev/null
	for _m in $MOCKPID $FIRSTPID; do kill -TERM "$_m" 2>/dev/null && wait "$_m" 2>/dev/null; done
	[ -n "$BUSPID" ] && kill -TERM "$BUSPID" 2>/dev/null
	[ -n "$NS" ] && ip netns del "$NS" 2>/dev/null
	PROBEPID= MOCKPID= FIRSTPID= BUSPID= NS=
}
trap 'end_all; cleanup' EXIT INT TERM

PY=
for p in python3 /usr/bin/python3; do
	if "$p" -c 'import dbusmock' 2>/dev/null; then PY=$p; break; fi
done
missing=
command -v dbus-daemon >/dev/null 2>&1 || missing="$missing dbus"
command -v dbus-send >/dev/null 2>&1 || missing="$missing dbus"
[ -n "$PY" ] || missing="$missing python3-dbusmock"
[ -z "$missing" ] || bail "missing Debian packages:$missing (scripts/install-deps.sh)"

# The interface: one with an index nobody would guess, in a network
# namespace of its own (a dummy, or a veth where there is no dummy
# module); without root, loopback.
RUN=
IF=lo
if [ "$(id -u)" -eq 0 ] && ip netns add "sp-res$$" 2>/dev/null; then
	NS=sp-res$$
	if ip -n "$NS" link add sp0t index 4242 type dummy 2>/dev/null ||
		ip -n "$NS" link add sp0t index 4242 type veth peer name sp0p 2>/dev/null; then
		IF=sp0t
		RUN="ip netns exec $NS"
	fi
fi
[ "$IF" = lo ] && echo "# no interface of our own (not root?): using lo"
IDX=$($RUN cat "/sys/class/net/$IF/ifindex")

# The mock: resolved's Manager with the four calls, each written to a file
# of its own as one plain line in the order the mock takes them.
cat >"$T/resolve1.py" <<'EOF'
'''A mock of systemd-resolved's Manager, for tests/system/resolved.sh.'''
import time

import dbus

BUS_NAME = 'org.freedesktop.resolve1'
MAIN_OBJ = '/org/freedesktop/resolve1'
MAIN_IFACE = 'org.freedesktop.resolve1.Manager'
SYSTEM_BUS = True


def load(mock, parameters):
    calls = parameters['calls']
    slow = float(parameters.get('slow', 0))
    deny = parameters.get('deny', False)

    def record(line):
        with open(calls, 'a', encoding='ascii') as f:
            f.write(line + '\n')

    def set_dns(_self, ifindex, servers):
        record('SetLinkDNS %d %s' % (ifindex, ' '.join(
            '%d:%s' % (family, bytes(addr).hex()) for family, addr in servers)))
        if deny:
            raise dbus.exceptions.DBusException(
                'Access denied (mock polkit)', name='org.freedesktop.DBus.Error.AccessDenied')
        time.sleep(slow)

    def set_domains(_self, ifindex, domains):
        record('SetLinkDomains %d %s' % (ifindex, ' '.join(
            ('~' if routing else '') + name for name, routing in domains)))

    def set_default_route(_self, ifindex, enable):
        record('SetLinkDefaultRoute %d %s' % (ifindex, 'true' if enable else 'false'))

    def revert(_self, ifindex):
        record('RevertLink %d' % ifindex)

    mock.AddMethods(MAIN_IFACE, [
        ('SetLinkDNS', 'ia(iay)', '', set_dns),
        ('SetLinkDomains', 'ia(sb)', '', set_domains),
        ('SetLinkDefaultRoute', 'ib', '', set_default_route),
        ('RevertLink', 'i', '', revert),
    ])
EOF

# wait_for TENTHS COMMAND...: until the command succeeds, at most TENTHS/10 s.
wait_for() {
	_w=$1
	shift
	while [ "$_w" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		_w=$((_w - 1))
	done
	"$@"
}

resolved_on_bus() {
	dbus-send --bus="$BUS" --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
		org.freedesktop.DBus.NameHasOwner string:org.freedesktop.resolve1 2>/dev/null |
		grep -q 'boolean true'
}
resolved_gone() { ! resolved_on_bus; }
owner_now() {
	dbus-send --bus="$BUS" --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
		org.freedesktop.DBus.GetNameOwner string:org.freedesktop.resolve1 2>/dev/null |
		sed -n 's/^ *string "\(.*\)"$/\1/p'
}
owner_is_not() { _o=$(owner_now) && [ -n "$_o" ] && [ "$_o" != "$1" ]; }

# mock_start NAME [JSON PARAMETERS...]: calls go to $T/NAME.calls. A mock
# takes the name from one that runs (dbusmock replaces the owner), as a
# restarted resolved would.
mock_start() {
	_calls=$T/$1.calls
	_was=$(owner_now)
	shift
	: >"$_calls"
	DBUS_SYSTEM_BUS_ADDRESS=$BUS "$PY" -m dbusmock -t "$T/resolve1.py" \
		-p "{\"calls\": \"$_calls\"$*}" >"$T/mock.log" 2>&1 &
	MOCKPID=$!
	wait_for 100 owner_is_not "$_was" ||
		{ echo "# the mock did not start:"; sed 's/^/#   /' "$T/mock.log"; }
}

mock_stop() {
	kill -TERM "$MOCKPID" 2>/dev/null
	wait "$MOCKPID" 2>/dev/null
	MOCKPID=
	wait_for 50 resolved_gone || true
}

# probe_start NAME BUS RECHECK_MS [STOP_AFTER_MS]: out and err in
# $T/NAME.out, .err.
probe_start() {
	_n=$1 _bus=$2 _recheck=$3
	shift 3
	DBUS_SYSTEM_BUS_ADDRESS=$_bus $RUN "$BIN/resolvedprobe" "$IF" "$ADDR" "$ZONE" \
		"$_recheck" "$@" >"$T/$_n.out" 2>"$T/$_n.err" &
	PROBEPID=$!
}

# probe_stop: TERM it as the daemon is stopped; PSTATUS is its exit status.
probe_stop() {
	kill -TERM "$PROBEPID"
	wait "$PROBEPID"
	PSTATUS=$?
	PROBEPID=
}

stop_ms() { sed -n 's/^stopped in \([0-9]*\) ms$/\1/p' "$1"; }
count() { grep -c -- "$1" "$2"; }
has_line() { grep -qx -- "$1" "$2"; }
show() { echo "# $1:"; sed 's/^/#   /' "$1"; }

# ---- 1. no bus at all ---------------------------------------------------------
probe_start nobus "unix:path=$T/nobus" 100
sleep 1.5
probe_stop
check "without a bus the probe starts, runs and stops cleanly" test "$PSTATUS" -eq 0
check "without a bus: one info line in 1.5 s of checks every 100 ms" \
	test "$(count 'systemd-resolved not found' "$T/nobus.err")" -eq 1
check "the line names the missing bus and docs/resolver.md" grep -q \
	"info.*systemd-resolved not found: no system bus at unix:path=$T/nobus .*see docs/resolver.md" \
	"$T/nobus.err"
check "without a bus nothing is registered" sh -c \
	"grep -qx 'registered 0' '$T/nobus.out' && ! grep -q 'registered 1' '$T/nobus.out'"
# Nothing was registered, so nothing is reverted (no stall at stop).
check "without a bus the stop is immediate" test "$(stop_ms "$T/nobus.out")" -lt 100

# ---- 2. a bus, then resolved --------------------------------------------------
dbus-daemon --session --address="$BUS" --fork --print-pid >"$T/bus.pid" 2>"$T/bus.err" ||
	bail "dbus-daemon did not start: $(cat "$T/bus.err")"
BUSPID=$(cat "$T/bus.pid")
probe_start main "$BUS" 300
check "a bus without resolved: the info line says nothing owns its name" \
	wait_for 50 grep -q 'systemd-resolved not found: nothing owns org.freedesktop.resolve1' \
	"$T/main.err"
mock_start first
check "when resolved appears, the link is registered" wait_for 50 grep -qx 'registered 1' \
	"$T/main.out"
check "SetLinkDNS: the interface's index ($IDX) and the address's 16 bytes, AF_INET6" \
	has_line "SetLinkDNS $IDX 10:$ADDR_HEX" "$T/first.calls"
check "SetLinkDomains: the zone, routing-only (~$ZONE), and nothing else" \
	has_line "SetLinkDomains $IDX ~$ZONE" "$T/first.calls"
check "SetLinkDefaultRoute: false" has_line "SetLinkDefaultRoute $IDX false" "$T/first.calls"
sleep 1
check "the same resolved is not told again at each check" \
	test "$(count SetLinkDNS "$T/first.calls")" -eq 1
check "one info line while resolved was missing" \
	test "$(count 'systemd-resolved not found' "$T/main.err")" -eq 1

# ---- 3. resolved restarts (a new owner of its name) ---------------------------
# First a new owner that takes the name from the old one, so that no check
# ever sees the name unowned: only the owner's change tells.
FIRSTPID=$MOCKPID
mock_start second
kill -TERM "$FIRSTPID"
wait "$FIRSTPID" 2>/dev/null
FIRSTPID=
check "a new owner of resolved's name is told within the check period" \
	wait_for 30 has_line "SetLinkDNS $IDX 10:$ADDR_HEX" "$T/second.calls"
check "...with the routing-only domain too" wait_for 10 has_line "SetLinkDomains $IDX ~$ZONE" \
	"$T/second.calls"
check "...and no more was said to the old one" test "$(count SetLinkDNS "$T/first.calls")" -eq 1
# Then resolved killed and started again, with a gap.
mock_stop
mock_start third
check "a killed and restarted resolved is told again within the check period" \
	wait_for 30 has_line "SetLinkDNS $IDX 10:$ADDR_HEX" "$T/third.calls"
check "...with the routing-only domain too" wait_for 10 has_line "SetLinkDomains $IDX ~$ZONE" \
	"$T/third.calls"
check "...and the probe says registered" wait_for 10 sh -c "tail -n1 '$T/main.out' | grep -qx 'registered 1'"

# ---- 4. stop ----------------------------------------------------------------
probe_stop
check "the probe stops cleanly" test "$PSTATUS" -eq 0
check "stop calls RevertLink with the index" has_line "RevertLink $IDX" "$T/third.calls"
check "RevertLink is the last call" test "$(tail -n1 "$T/third.calls")" = "RevertLink $IDX"
check "the stop took at most 1 s" test "$(stop_ms "$T/main.out")" -le 1000
[ "$FAIL" -eq 0 ] || for f in main.err first.calls second.calls third.calls; do show "$T/$f"; done
mock_stop

# ---- 5. a stop while a registration is in flight ------------------------------
# The mock takes 0.8 s over SetLinkDNS; the probe stops after 0.3 s, while
# its check waits on that call, and runs 2 s more for the check to come back
# to a stopped object. Whatever the order, the link must end reverted.
mock_start slow ", \"slow\": 0.8"
probe_start inflight "$BUS" 300 300
wait "$PROBEPID"
PSTATUS=$?
PROBEPID=
check "a stop during a check: the probe exits cleanly" test "$PSTATUS" -eq 0
check "the check was indeed in flight (SetLinkDomains came after the stop's RevertLink)" \
	sh -c "grep -n . '$T/slow.calls' | tr '\n' ' ' | grep -q '^1:SetLinkDNS .*:RevertLink $IDX .*:SetLinkDomains '"
check "the link ends reverted (the check reverts what it did after the stop)" \
	test "$(tail -n1 "$T/slow.calls")" = "RevertLink $IDX"
check "that stop too took at most 1 s" test "$(stop_ms "$T/inflight.out")" -le 1000
[ "$FAIL" -eq 0 ] || show "$T/slow.calls"
mock_stop

# ---- 6. resolved refuses (polkit) ---------------------------------------------
mock_start denied ", \"deny\": true"
probe_start denied "$BUS" 100
sleep 1.5
probe_stop
check "a refusal: never registered" sh -c "! grep -q 'registered 1' '$T/denied.out'"
check "it was asked again at the checks" test "$(count SetLinkDNS "$T/denied.calls")" -ge 3
check "one warning with resolved's reason, not one per check" \
	test "$(count 'warn.*cannot register.*AccessDenied\|warn.*cannot register.*Access denied' \
	"$T/denied.err")" -eq 1
mock_stop

end_all
finish
