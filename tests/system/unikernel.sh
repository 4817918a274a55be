#!/bin/sh
# The gateway image (make unikernel) under QEMU (TCG) in a network
# namespace: its initramfs holds signpostd and nothing else; it boots,
# makes its cloud on a blank disk, and serves the zone signed, which kdig
# and delv check over IPv4 and IPv6; `poweroff` on its console ends it;
# it boots again from its disk with the same keys; after a power cut it
# still does; without a disk it runs from memory and says so.
. "$(dirname "$0")/lib.sh"

UK=$(cd "$BIN/.." && pwd)/unikernel
IMG=$UK/signpost-gateway.img
CPIO=$UK/linux/usr/initramfs_data.cpio
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NS=sp-uk-$$
TAP=spuk$(( $$ % 100000 ))
GUEST4=10.53.0.2
GUEST6=fd53::2
QPID=

if [ ! -f "$IMG" ] || [ ! -f "$CPIO" ]; then
	not_ok "the image is built (run 'make unikernel'; $IMG is missing)"
	finish
	exit 1
fi

uk_cleanup() {
	[ -n "$QPID" ] && kill "$QPID" 2>/dev/null && wait "$QPID" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	cleanup
}
trap uk_cleanup EXIT INT TERM

# The initramfs: one file, /init, and it is signpostd.
LIST=$(cpio -it <"$CPIO" 2>/dev/null | sort | tr '\n' ' ')
echo "# initramfs: $LIST"
check "the initramfs holds only /init" test "$LIST" = "init "
check "...which is the static signpostd" sh -c \
	"cpio -i --to-stdout init <'$CPIO' 2>/dev/null | cmp -s - '$UK/init' &&
	 ! readelf -l '$UK/init' | grep -q 'program interpreter'"

ip netns add "$NS"
ip -n "$NS" link set lo up
mkfifo "$T/console"
# Held open here too, so a write never waits for a reader that is gone.
exec 3<>"$T/console"
DISK=$T/state.img
truncate -s 16M "$DISK"

# boot N [run.sh options]: start the image, wait for "ready" on its console.
boot() {
	n=$1
	shift
	LOG=$T/console.$n.log
	ip netns exec "$NS" sh "$ROOT/unikernel/run.sh" --tcg --tap "$TAP" "$@" \
		0<>"$T/console" >"$LOG" 2>&1 &
	QPID=$!
	i=0
	while [ $i -lt 600 ]; do
		grep -q 'signpostd: ready' "$LOG" && return 0
		kill -0 "$QPID" 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	cat "$LOG"
	return 1
}

# The trust anchor is the DS a first boot printed for the parent (in log $1).
anchor() {
	sed -n 's/.*DS for the parent: \([^ 	]*\)[ 	].*DS[ 	]*\([0-9]*\) 15 2 \([0-9a-f]*\).*/trust-anchors { \1 static-ds \2 15 2 "\3"; };/p' \
		"$1" >"$T/anchor"
	test -s "$T/anchor"
}

validated() {
	OUT=$(ip netns exec "$NS" delv -a "$T/anchor" @"$1" +root=alice.example \
		gateway.alice.example AAAA 2>&1)
	printf '%s' "$OUT" | grep -q '; fully validated' &&
		printf '%s' "$OUT" | grep -q 'gateway.alice.example.*AAAA.*fd'
}

check "the image boots on a blank disk and is ready" boot 1 --disk "$DISK"
check "its first boot makes the cloud and prints the DS" anchor "$T/console.1.log"
check "kdig gets the device record signed, over IPv4" sh -c \
	"ip netns exec '$NS' kdig @$GUEST4 +dnssec gateway.alice.example AAAA | grep -q 'RRSIG.*AAAA 15'"
check "delv validates it from the DS, over IPv4" validated "$GUEST4"
check "...and over IPv6" validated "$GUEST6"
check "the WireGuard interface is up inside" grep -q 'tunnel: sp0 up' "$T/console.1.log"
KSK1=$(ip netns exec "$NS" kdig @$GUEST4 alice.example DNSKEY +short | grep '^257')

echo poweroff >"$T/console"
i=0
while kill -0 "$QPID" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
check "poweroff on the console ends QEMU" sh -c "! kill -0 $QPID 2>/dev/null"
wait "$QPID" 2>/dev/null
QPID=
check "...after signpostd stopped cleanly" grep -q 'signpostd\[info\]: stopped' "$T/console.1.log"

check "it boots again from its disk" boot 2 --disk "$DISK"
check "...without making a new cloud" sh -c "! grep -q 'first boot' '$LOG'"
check "...with the same KSK" test "$(ip netns exec "$NS" kdig @$GUEST4 alice.example DNSKEY +short | grep '^257')" = "$KSK1"
check "...which the old anchor still validates" validated "$GUEST4"

# Pairing the first device from the console: the image has no shell, so
# its console takes "pair NAME" and shows the code there; a device in the
# host's namespace joins with it, and its name validates.
DEV=$T/phone
DEVIF=spukd$(( $$ % 100000 ))
printf 'pair phone 120\n' >"$T/console"
i=0
until grep -q '^signpost:pair?' "$LOG" || [ $i -ge 300 ]; do sleep 0.1; i=$((i + 1)); done
grep '^signpost:pair?' "$LOG" | tail -n 1 >"$T/phone.uri"
check "pair on the console shows a pairing code" test -s "$T/phone.uri"
check "...and the log names it by its id only" sh -c \
	"grep -q 'pairing: code [0-9a-f]* made for phone, asked by the console' '$LOG'"
run_expect "a device joins the image's cloud with it" 0 "Joined alice.example. as phone" \
	ip netns exec "$NS" "$BIN/signpost" --state "$DEV" join --interface "$DEVIF" - \
	<"$T/phone.uri"
i=0
until grep -q 'phone.alice.example. joined, at' "$LOG" || [ $i -ge 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
check "...and the console says it joined" grep -q 'signpostd: phone.alice.example. joined, at fd' "$LOG"
phone_validated() {
	OUT=$(ip netns exec "$NS" delv -a "$T/anchor" @"$GUEST4" +root=alice.example \
		phone.alice.example AAAA 2>&1)
	printf '%s' "$OUT" | grep -q '; fully validated'
}
check "delv validates the new device's name" phone_validated
GWOV=$(ip netns exec "$NS" kdig @$GUEST4 gateway.alice.example AAAA +short | head -n 1)
check "the device pings the gateway's overlay address ($GWOV) through the tunnel" \
	ip netns exec "$NS" ping -6 -c 2 -W 3 "$GWOV"
# The gateway's STUN service answers on its WireGuard port in the image
# too (coturn's client, a stranger to our code, reads the answer): members'
# ICE agents learn their reflexive address from it (docs/stun.md).
check "the image answers STUN on its WireGuard port with the asker's address" sh -c \
	"ip netns exec '$NS' timeout 10 turnutils_stunclient -p 51820 $GUEST4 2>&1 |
	grep -q 'UDP reflexive addr: 10\.53\.0\.1:'"
check "the reused code is refused" sh -c \
	"! ip netns exec '$NS' '$BIN/signpost' --state '$T/phone2' join --no-start - <'$T/phone.uri' 2>/dev/null"
DEVPID=$(sp --state "$DEV" status --json 2>/dev/null | sed -n 's/.*"pid":\([0-9]*\).*/\1/p')
[ -n "$DEVPID" ] && kill "$DEVPID" 2>/dev/null

# A power cut: no chance to stop cleanly.
kill -KILL "$QPID"
wait "$QPID" 2>/dev/null
QPID=
check "after a power cut it boots from its disk" boot 3 --disk "$DISK"
check "...with the same KSK" test "$(ip netns exec "$NS" kdig @$GUEST4 alice.example DNSKEY +short | grep '^257')" = "$KSK1"
kill -KILL "$QPID"
wait "$QPID" 2>/dev/null
QPID=

check "without a disk it runs from memory" boot 4 --disk none
check "...and says so" grep -q 'running from memory' "$T/console.4.log"
check "...and prints its own DS" anchor "$T/console.4.log"
check "...a new zone of its own" validated "$GUEST4"
echo poweroff >"$T/console"
wait "$QPID" 2>/dev/null
QPID=

# A wrong setting on the kernel command line stops the boot, saying which.
ip netns exec "$NS" sh "$ROOT/unikernel/run.sh" --tcg --tap "$TAP" --disk none -- \
	signpost_rrl-rate=lots 0<>"$T/console" >"$T/console.6.log" 2>&1 &
QPID=$!
i=0
while kill -0 "$QPID" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
check "a bad boot argument stops the boot, naming it" \
	grep -q "cannot run the gateway: kernel command line:1: rrl-rate 'lots'" "$T/console.6.log"
check "...and QEMU ends" sh -c "! kill -0 $QPID 2>/dev/null"
kill "$QPID" 2>/dev/null
wait "$QPID" 2>/dev/null
QPID=

# A disk that is not a store is refused, not overwritten.
head -c 65536 /dev/urandom >"$T/junk"
truncate -s 16M "$T/junk"
cp "$T/junk" "$T/junk.orig"
ip netns exec "$NS" sh "$ROOT/unikernel/run.sh" --tcg --tap "$TAP" --disk "$T/junk" \
	0<>"$T/console" >"$T/console.5.log" 2>&1 &
QPID=$!
i=0
while kill -0 "$QPID" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
check "a disk holding something else stops the boot, saying why" \
	grep -q 'cannot run the gateway: .*refusing to overwrite' "$T/console.5.log"
check "...and is left as it was" cmp -s "$T/junk" "$T/junk.orig"
kill "$QPID" 2>/dev/null
wait "$QPID" 2>/dev/null
QPID=

finish
