#!/bin/sh
# Install the Debian 12 packages Signpost needs to build and test, and only
# those that are missing, so that `make run` and `make test` work on a fresh
# machine and cost nothing on a ready one. Non-interactive; needs root when
# something is missing.
set -eu

# Build: compiler, CMake, pkg-config, and the chosen libraries (GLib and
# GDBus, gio-2.0, come with libnice-dev, which depends on libglib2.0-dev).
BUILD="gcc make cmake pkg-config clang libldns-dev libsodium-dev libnice-dev
libcurl4-openssl-dev libssl-dev libqrencode-dev libcmocka-dev libzbar-dev
libpng-dev libjpeg-dev"
# Tests: the real peers the system tests talk to.
#   ldnsutils: ldns-key2ds, ldns-verify-zone; bind9-dnsutils: delv, dig;
#   unbound: unbound-checkconf and the validating resolver; iproute2: ip netns;
#   jq: checks the JSON the CLI prints; knot-dnsutils: kdig; nsd: the
#   secondary and the lab's root; openssh-client: ssh-keygen for SSHFP;
#   dnsperf: floods for the rate-limiting test and the benchmark;
#   wireguard-go, wireguard-tools: the reference WireGuard peer and wg;
#   iputils-ping, netcat-openbsd, iperf3: traffic through the tunnels;
#   util-linux: setsid, unshare (signpostd as PID 1 of a namespace);
#   faketime: TSIG requests signed at another time; zbar-tools, librsvg2-bin:
#   zbarimg decodes the pairing QR codes, rsvg-convert renders the SVG one;
#   nftables: the lab's NATs; tcpdump: what the gateway sees of relayed
#   traffic; coturn, miniupnpd-nftables: TURN and UPnP-IGD in the lab;
#   dbus, python3-dbusmock: a private bus and a mock systemd-resolved;
#   python3: reach.sh's forged relay frames and its DNS-altering proxy;
#   openssl: paths.sh fetches the relay's certificate with s_client.
TEST="ldnsutils bind9-dnsutils unbound iproute2 procps jq knot-dnsutils nsd
openssh-client dnsperf wireguard-go wireguard-tools iputils-ping netcat-openbsd
iperf3 util-linux faketime zbar-tools librsvg2-bin nftables tcpdump coturn
miniupnpd-nftables dbus python3-dbusmock python3 openssl"
# The gateway image (make unikernel): Debian's kernel source and what its
# build needs, cpio to list the initramfs, QEMU to boot it.
UNIKERNEL="linux-source-6.1 bc flex bison libelf-dev cpio xz-utils
qemu-system-x86"

missing=""
for p in $BUILD $TEST $UNIKERNEL; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = "installed" ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: these Debian packages are missing; run as root or install them:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "install-deps: done"
