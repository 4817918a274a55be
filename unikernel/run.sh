#!/bin/sh
# Boot the gateway image under QEMU's microvm machine: KVM when the host
# has it, TCG otherwise. The serial console is this terminal: the log
# appears here, and typing `poweroff` stops it cleanly (QEMU then exits).
#
#   unikernel/run.sh [options] [-- KERNEL_ARGS...]
#
#   --image FILE   the image (default build/unikernel/signpost-gateway.img)
#   --disk FILE    the state disk, made (16 MB) if missing
#                  (default build/unikernel/state.img); "none": no disk,
#                  the gateway runs from memory
#   --tap NAME     the tap device to attach (default sptap0); made with the
#                  host side 10.53.0.1/24 and fd53::1/64 if it does not exist
#   --zone ZONE    the zone, for the first boot (default alice.example)
#   --mem SIZE     guest memory (default 48M; docs/unikernel.md says why)
#   --tcg          never use KVM
#
# The guest gets 10.53.0.2/24 (the kernel's ip= setting) and fd53::2/64
# unless KERNEL_ARGS say otherwise; every setting is in docs/unikernel.md.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
IMAGE=$ROOT/build/unikernel/signpost-gateway.img
DISK=$ROOT/build/unikernel/state.img
TAP=sptap0
ZONE=alice.example
MEM=48M
ACCEL=
usage() { sed -n '2,/^set -eu/p' "$0" | sed 's/^# \{0,1\}//; /^set -eu/d' >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--image) IMAGE=$2; shift 2 ;;
	--disk) DISK=$2; shift 2 ;;
	--tap) TAP=$2; shift 2 ;;
	--zone) ZONE=$2; shift 2 ;;
	--mem) MEM=$2; shift 2 ;;
	--tcg) ACCEL=tcg; shift ;;
	--) shift; break ;;
	*) usage ;;
	esac
done

[ -f "$IMAGE" ] || { echo "run.sh: $IMAGE is missing: run 'make unikernel' first" >&2; exit 1; }
# KVM when QEMU can really start a KVM machine here: a paused one is
# enough to find a /dev/kvm that is there but broken (as under some
# nested hypervisors), which would otherwise abort at the first vCPU.
kvm_works() {
	[ -w /dev/kvm ] && (echo quit | timeout 10 qemu-system-x86_64 -M microvm -accel kvm \
		-cpu host -nodefaults -no-user-config -display none -S -monitor stdio \
		>/dev/null 2>&1) 2>/dev/null
}
if [ -z "$ACCEL" ]; then
	if kvm_works; then ACCEL=kvm; else ACCEL=tcg; fi
	[ "$ACCEL" = kvm ] || echo "run.sh: KVM is not usable here; emulating (TCG)" >&2
fi
# KVM passes the host's CPU through; TCG emulates the most it can.
if [ "$ACCEL" = kvm ]; then CPU=host; else CPU=max; fi
if ! ip link show "$TAP" >/dev/null 2>&1; then
	ip tuntap add dev "$TAP" mode tap
	ip addr add 10.53.0.1/24 dev "$TAP"
	ip addr add fd53::1/64 dev "$TAP" nodad
	ip link set "$TAP" up
fi
DRIVE=""
if [ "$DISK" != none ]; then
	[ -f "$DISK" ] || truncate -s 16M "$DISK"
	DRIVE="-drive id=d0,file=$DISK,format=raw,if=none,cache=writeback -device virtio-blk-device,drive=d0"
fi

# -no-reboot: the guest's reboot ends QEMU, so whoever runs this decides.
# shellcheck disable=SC2086
exec qemu-system-x86_64 \
	-M microvm,x-option-roms=off,isa-serial=on,rtc=on,acpi=off \
	-accel "$ACCEL" -cpu "$CPU" -smp 1 -m "$MEM" \
	-nodefaults -no-user-config -nographic -no-reboot \
	-serial stdio \
	-kernel "$IMAGE" \
	-append "console=ttyS0 quiet ip=10.53.0.2::10.53.0.1:255.255.255.0::eth0:off signpost_ip6=fd53::2/64 signpost_zone=$ZONE $*" \
	-netdev "tap,id=n0,ifname=$TAP,script=no,downscript=no" \
	-device virtio-net-device,netdev=n0 \
	$DRIVE \
	-device virtio-rng-device
