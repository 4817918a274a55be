#!/bin/sh
# The gateway image (make unikernel): its size, the memory it runs in, and
# the time from starting QEMU to the first DNS answer that delv validates,
# beside the same gateway as a normal process on this machine.
#
#   bench/unikernel.sh [BUILD_DIR]     (default build)
#
# Each boot is on a blank disk, so the time includes the first boot's key
# generation. KVM is used when QEMU can start a KVM guest here; otherwise
# its row says why not. MirageOS's DNS unikernels are printed as published
# (a few hundred KB, booting in milliseconds on Solo5), for reference: they
# are not measured here.
#
# Like every benchmark this prints numbers and never fails on a number;
# it fails only when something does not work.
set -eu

BUILD=$(cd "${1:-build}" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
IMG=$BUILD/unikernel/signpost-gateway.img
[ -f "$IMG" ] || { echo "unikernel.sh: $IMG is missing: run 'make unikernel'" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "unikernel.sh: needs root for a network namespace" >&2; exit 1; }

NS=sp-ukb-$$
TAP=spukb$(( $$ % 10000 ))
T=$(mktemp -d /tmp/sp-bench-uk.XXXXXX)
QPID=
DPID=
done_() {
	[ -n "$QPID" ] && kill "$QPID" 2>/dev/null && wait "$QPID" 2>/dev/null
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$T"
}
trap done_ EXIT INT TERM
ip netns add "$NS"
ip -n "$NS" link set lo up
mkfifo "$T/console"
# Held open here too, so a write never waits for a reader that is gone.
exec 3<>"$T/console"

now_ms() { date +%s%3N; }

# first_answer LOG SERVER: ms until delv validates gateway.alice.example
# through SERVER, with the anchor from the DS the log shows; "-" on failure.
first_answer() {
	t0=$1 log=$2 server=$3
	i=0
	while [ $i -lt 1200 ]; do
		if grep -q 'DS for the parent' "$log" 2>/dev/null || [ -s "$T/anchor" ]; then
			[ -s "$T/anchor" ] || sed -n 's/.*DS for the parent: \([^ 	]*\)[ 	].*DS[ 	]*\([0-9]*\) 15 2 \([0-9a-f]*\).*/trust-anchors { \1 static-ds \2 15 2 "\3"; };/p' "$log" >"$T/anchor"
			if ip netns exec "$NS" timeout 3 delv -a "$T/anchor" @"$server" +root=alice.example \
			    gateway.alice.example AAAA 2>&1 | grep -q 'fully validated'; then
				echo $(( $(now_ms) - t0 ))
				return 0
			fi
		fi
		sleep 0.02
		i=$((i + 1))
	done
	echo -
}

# boot_image ACCEL MEM: ms from QEMU start to the first validated answer.
boot_image() {
	rm -f "$T/anchor" "$T/disk"
	truncate -s 16M "$T/disk"
	t0=$(now_ms)
	ip netns exec "$NS" sh "$ROOT/unikernel/run.sh" $1 --mem "$2" --tap "$TAP" --disk "$T/disk" \
		0<>"$T/console" >"$T/log" 2>&1 &
	QPID=$!
	ms=$(first_answer "$t0" "$T/log" 10.53.0.2)
	echo poweroff >"$T/console"
	sleep 1
	kill "$QPID" 2>/dev/null || true
	wait "$QPID" 2>/dev/null || true
	QPID=
	echo "$ms"
}

SIZE=$(wc -c <"$IMG")
INIT=$(wc -c <"$BUILD/unikernel/init")
TCG32=$(boot_image --tcg 32M)
TCG24=$(boot_image --tcg 24M)
TCG20=$(boot_image --tcg 20M)
if [ -w /dev/kvm ] && timeout 20 qemu-system-x86_64 -M microvm -accel kvm -cpu host -m 32M \
    -nodefaults -no-user-config -display none -no-reboot -kernel "$IMG" \
    -append "console=ttyS0" >/dev/null 2>"$T/kvm.err"; then
	KVM=$(boot_image "" 32M)
else
	KVM="not usable here: $(head -1 "$T/kvm.err" 2>/dev/null | cut -c1-70)"
fi

# The same gateway as a process: signpostd on a fresh state directory, in
# the namespace, from its start to the first validated answer.
ip -n "$NS" addr add 10.53.9.1/32 dev lo
"$BUILD/bin/signpost" --state "$T/proc" init --zone alice.example --name gateway >"$T/init.out"
rm -f "$T/anchor"
t0=$(now_ms)
"$BUILD/bin/signpost" --state "$T/proc" zone anchor --format bind >"$T/anchor"
ip netns exec "$NS" "$BUILD/bin/signpostd" --state "$T/proc" --interface none \
	--dns-listen 10.53.9.1:53 2>"$T/proc.log" &
DPID=$!
PROC=$(first_answer "$t0" "$T/proc.log" 10.53.9.1)
kill "$DPID"; wait "$DPID" 2>/dev/null || true
DPID=

echo
echo "The gateway image, booted with unikernel/run.sh on a blank disk"
echo
printf '%-34s %s\n' "image (kernel + initramfs)" "$SIZE bytes = $(( SIZE / 1024 )) KiB (target < 3 MB, goal < 2 MB)"
printf '%-34s %s\n' "signpostd inside (static, stripped)" "$INIT bytes"
printf '%-34s %s\n' "QEMU start -> validated answer" "TCG, 32 MB: $TCG32 ms"
printf '%-34s %s\n' "" "TCG, 24 MB: $TCG24 ms; 20 MB: $TCG20 ms (- = did not come up)"
printf '%-34s %s\n' "" "KVM, 32 MB: $KVM"
printf '%-34s %s\n' "same gateway as a process" "start -> validated answer: $PROC ms"
printf '%-34s %s\n' "MirageOS DNS unikernels (published)" "a few hundred KB; boot in milliseconds on Solo5"
echo
echo "The times include first-boot key generation and delv's own start-up."
