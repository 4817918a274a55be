#!/bin/sh
# signpostd's WireGuard data plane next to wireguard-go and the bare veth,
# measured with iperf3 and ping between two network namespaces.
#
#   bench/tunnel.sh [-t SECONDS] [BIN_DIR]
#
#   -t SECONDS  length of each iperf3 run (default 10)
#   BIN_DIR     where signpost and signpostd are (default build/bin)
#
# Two namespaces made here, A and B, are joined by a veth pair, 10.88.0.1/24
# in A and 10.88.0.2/24 in B, MTU 1500. Each tunnel runs one daemon per
# namespace, configured with `wg` as a pair of peers over the veth, with the
# overlay 10.89.0.1/24 in A and 10.89.0.2/24 in B and the daemon's default
# MTU (1420 for wireguard-go). For each of the bare veth, wireguard-go and
# signpostd: ping latency from A to B (20 pings 50 ms apart, after one
# that makes the handshake), then TCP throughput from A to B with iperf3,
# one stream and four.
#
# Nothing is pinned: the two daemons, the iperf3 client and server and the
# kernel's work share the two CPUs as the scheduler likes. The CPU each
# daemon used during each run, in % of one core, and how busy the whole
# machine was, are printed under the table to show where the limit is.
#
# Memory is the VmRSS from /proc of each daemon and its descendants, added
# up, in A and in B: idle after setup and the first pings, and loaded, the
# larger of two samples taken halfway through each iperf3 run.
#
# signpostd is measured once its --help mentions --interface: then
# `signpostd --state DIR --interface NAME` is expected to make the TUN
# interface NAME in its namespace and the WireGuard UAPI socket
# /var/run/wireguard/NAME.sock, like wireguard-go, so the same `wg` and `ip`
# commands set both up. Until then its row says it is not available yet.
#
# Like every benchmark this prints numbers and their ratio and never fails
# on a number; it fails only when something does not work.
set -eu

usage() {
	echo "usage: $0 [-t SECONDS] [BIN_DIR]" >&2
	exit 2
}

SECONDS_PER_RUN=10
while getopts t:h opt; do
	case $opt in
	t) SECONDS_PER_RUN=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -le 1 ] || usage
BIN=${1:-build/bin}
case $SECONDS_PER_RUN in '' | *[!0-9]*) usage ;; esac
[ "$SECONDS_PER_RUN" -gt 0 ] || usage

[ "$(id -u)" -eq 0 ] || { echo "tunnel.sh: needs root for network namespaces" >&2; exit 1; }

# Interface names have at most 15 characters and a PID at most 7 digits.
# The UAPI sockets live in one directory for all namespaces, so the four
# daemons' interfaces all have different names.
NS_A=sp-tun-a-$$
NS_B=sp-tun-b-$$
VETH_A=spv$$a
VETH_B=spv$$b
UNDER_A=10.88.0.1
UNDER_B=10.88.0.2
OVER_A=10.89.0.1
OVER_B=10.89.0.2
WG_PORT=51820
UAPI_DIR=/var/run/wireguard

umask 077
T=$(mktemp -d /tmp/sp-bench-tunnel.XXXXXX)
chmod 700 "$T"
# Every process started here, for cleanup; and the namespaces made.
PIDS=""
NAMESPACES=""
SOCKETS=""
MADE_UAPI_DIR=""

die() {
	echo "tunnel.sh: $*" >&2
	exit 1
}

# alive PID: the process exists and is not a zombie waiting to be reaped.
alive() {
	state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$state" ] && [ "$state" != Z ]
}

# stop PID...: SIGTERM, up to 3 s to go, then SIGKILL; reaped either way.
stop() {
	for p in "$@"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "$@"; do
		i=0
		while alive "$p" && [ $i -lt 30 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		! alive "$p" || kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
}

forget_pids() {
	for p in "$@"; do
		PIDS=$(echo "$PIDS" | tr ' ' '\n' | grep -vx "$p" | tr '\n' ' ' || true)
	done
}

cleanup() {
	set +e
	# shellcheck disable=SC2086
	[ -z "$PIDS" ] || stop $PIDS
	# Whatever still runs in the namespaces made here was started here.
	for ns in $NAMESPACES; do
		# shellcheck disable=SC2046
		stop $(ip netns pids "$ns" 2>/dev/null)
		ip netns del "$ns" 2>/dev/null
	done
	for s in $SOCKETS; do
		rm -f "$s"
	done
	[ -z "$MADE_UAPI_DIR" ] || rmdir "$UAPI_DIR" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# Debian packages this benchmark needs, installed only when missing.
install_missing() {
	missing=""
	for p in iperf3 wireguard-go wireguard-tools iproute2 iputils-ping jq procps; do
		status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
		[ "$status" = installed ] || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	echo "installing:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

in_a() {
	ip netns exec "$NS_A" "$@"
}

in_b() {
	ip netns exec "$NS_B" "$@"
}

# pause SECONDS: sleep, waited for in the background so that a signal
# stops the run at once.
pause() {
	sleep "$1" &
	wait $!
}

# tree_pids PID: the process and all its descendants.
tree_pids() {
	echo "$1"
	for kid in $(pgrep -P "$1"); do
		tree_pids "$kid"
	done
}

# rss_kib PID: VmRSS of the process and its descendants, added up.
rss_kib() {
	for p in $(tree_pids "$1"); do
		awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || true
	done | awk '{ t += $1 } END { print t + 0 }'
}

# ticks PID: CPU clock ticks used so far by the process and its descendants.
ticks() {
	for p in $(tree_pids "$1"); do
		sed 's/.*) //' "/proc/$p/stat" 2>/dev/null || true
	done | awk '{ t += $12 + $13 } END { print t + 0 }'
}

# machine_ticks: busy and total clock ticks of all CPUs, from /proc/stat.
machine_ticks() {
	awk '$1 == "cpu" {
		t = 0
		for (i = 2; i <= NF; i++)
			t += $i
		print t - $5 - $6, t
	}' /proc/stat
}

# netns_up: the two namespaces joined by the veth pair.
netns_up() {
	ip netns add "$NS_A"
	NAMESPACES="$NAMESPACES $NS_A"
	ip netns add "$NS_B"
	NAMESPACES="$NAMESPACES $NS_B"
	ip link add "$VETH_A" netns "$NS_A" type veth peer name "$VETH_B" netns "$NS_B"
	in_a ip addr add "$UNDER_A/24" dev "$VETH_A"
	in_b ip addr add "$UNDER_B/24" dev "$VETH_B"
	for ns in "$NS_A" "$NS_B"; do
		ip -n "$ns" link set lo up
	done
	in_a ip link set "$VETH_A" up
	in_b ip link set "$VETH_B" up
}

# iperf3's server in B, answering every run of the benchmark in turn.
start_iperf_server() {
	ip netns exec "$NS_B" iperf3 -s >"$T/iperf3-server.log" 2>&1 &
	IPERF_SERVER=$!
	PIDS="$PIDS $IPERF_SERVER"
	i=0
	until [ -n "$(in_b ss -Htln 'sport = :5201')" ]; do
		alive "$IPERF_SERVER" || die "iperf3 -s failed: $(cat "$T/iperf3-server.log")"
		[ $i -lt 50 ] || die "iperf3 -s does not listen after 5 s"
		sleep 0.1
		i=$((i + 1))
	done
}

# reachable ADDR: from A, with a few tries for the first WireGuard handshake.
reachable() {
	i=0
	while [ $i -lt 5 ]; do
		in_a ping -c 1 -W 2 "$1" >/dev/null 2>&1 && return 0
		i=$((i + 1))
	done
	return 1
}

# ping_ms LABEL ADDR: average round trip from A to ADDR, into LABEL.ping.
ping_ms() {
	in_a ping -q -c 20 -i 0.05 -w 10 "$2" >"$T/$1.ping.out" 2>&1 ||
		die "$1: ping $2 failed: $(cat "$T/$1.ping.out")"
	awk -F' = ' '/^rtt / { split($2, v, "/"); printf "%.3f\n", v[2] }' \
		"$T/$1.ping.out" >"$T/$1.ping"
}

# DAEMON_A and DAEMON_B: the PIDs of the tunnel daemons under test, if any.
DAEMON_A=""
DAEMON_B=""

# sample_rss LABEL: one mid-run sample of both daemons' memory, added to
# LABEL.rss-loaded.
sample_rss() {
	[ -n "$DAEMON_A" ] || return 0
	echo "$(rss_kib "$DAEMON_A") $(rss_kib "$DAEMON_B")" >>"$T/$1.rss-loaded"
}

# daemon_ticks: CPU ticks of both daemons so far, "0 0" without daemons.
daemon_ticks() {
	if [ -n "$DAEMON_A" ]; then
		echo "$(ticks "$DAEMON_A") $(ticks "$DAEMON_B")"
	else
		echo "0 0"
	fi
}

# iperf LABEL STREAMS ADDR: a TCP run from A to ADDR; leaves the rate in
# bit/s in LABEL.STREAMS.bps, the slowest and fastest second's in Gbit/s in
# LABEL.STREAMS.range and the CPU used in LABEL.STREAMS.cpu.
iperf() {
	out=$T/$1.$2.json
	timeout $((SECONDS_PER_RUN + 30)) ip netns exec "$NS_A" \
		iperf3 -c "$3" -t "$SECONDS_PER_RUN" -P "$2" -J >"$out" 2>"$out.err" &
	client=$!
	PIDS="$PIDS $client"
	before="$(daemon_ticks) $(machine_ticks)"
	half=$(awk -v s="$SECONDS_PER_RUN" 'BEGIN { print s / 2 }')
	pause "$half"
	sample_rss "$1"
	pause "$half"
	after="$(daemon_ticks) $(machine_ticks)"
	status=0
	wait "$client" || status=$?
	forget_pids "$client"
	[ "$status" -eq 0 ] || die "$1: iperf3 -c $3 -P $2 failed ($status): $(jq -r '.error // empty' "$out" 2>/dev/null) $(cat "$out.err")"
	jq -r '.end.sum_received.bits_per_second // empty' "$out" >"$T/$1.$2.bps"
	[ -s "$T/$1.$2.bps" ] || die "$1: no sum_received in iperf3's output: $(head -c 500 "$out")"
	# The slowest and fastest second show how steady the run was.
	jq -r '[.intervals[].sum.bits_per_second] | "\(min // 0) \(max // 0)"' "$out" |
		awk '{ printf "%.2f %.2f\n", $1 / 1e9, $2 / 1e9 }' >"$T/$1.$2.range"
	# The daemons' CPU in % of one core and the machine's busy share in %
	# of all its CPUs, over the run.
	hz=$(getconf CLK_TCK)
	echo "$before $after" | awk -v hz="$hz" -v s="$SECONDS_PER_RUN" 'NF == 8 {
		printf "%.0f %.0f %.0f\n", 100 * ($5 - $1) / hz / s, 100 * ($6 - $2) / hz / s,
		    100 * ($7 - $3) / ($8 - $4)
	}' >"$T/$1.$2.cpu"
}

# measure LABEL ADDR: ping, then one and four streams; memory of the
# daemons when idle, before any of it but the handshake's first ping.
measure() {
	reachable "$2" || die "$1: $2 does not answer ping from $NS_A"
	if [ -n "$DAEMON_A" ]; then
		echo "$(rss_kib "$DAEMON_A") $(rss_kib "$DAEMON_B")" >"$T/$1.rss-idle"
	fi
	ping_ms "$1" "$2"
	iperf "$1" 1 "$2"
	iperf "$1" 4 "$2"
}

# start_daemon LABEL NS IFNAME SIDE: the tunnel daemon LABEL in NS making
# IFNAME and its UAPI socket; its PID is in LAST_PID once the socket is there.
start_daemon() {
	label=$1 ns=$2 ifname=$3 side=$4
	SOCKETS="$SOCKETS $UAPI_DIR/$ifname.sock"
	log=$T/$label.$side.log
	case $label in
	wireguard-go)
		# LOG_LEVEL=error keeps it quiet per packet. WG_PROCESS_FOREGROUND
		# drops the banner it prints on every Linux start, which says the
		# kernel module would do: this kernel has none.
		LOG_LEVEL=error WG_PROCESS_FOREGROUND=1 \
			ip netns exec "$ns" wireguard-go -f "$ifname" >>"$log" 2>&1 &
		;;
	signpostd)
		ip netns exec "$ns" "$BIN/signpostd" --state "$T/state-$side" \
			--interface "$ifname" >>"$log" 2>&1 &
		;;
	esac
	pid=$!
	PIDS="$PIDS $pid"
	i=0
	until [ -S "$UAPI_DIR/$ifname.sock" ] && ip -n "$ns" link show "$ifname" >/dev/null 2>&1; do
		alive "$pid" || die "$label in $ns exited: $(tail -5 "$log")"
		[ $i -lt 100 ] || die "$label in $ns made no $UAPI_DIR/$ifname.sock in 10 s"
		sleep 0.1
		i=$((i + 1))
	done
	LAST_PID=$pid
}

# configure NS IFNAME KEY PEER_PUB PEER_UNDER OVER PEER_OVER: one end of a
# tunnel, with the standard tools only.
configure() {
	ip netns exec "$1" wg set "$2" private-key "$3" listen-port "$WG_PORT" \
		peer "$4" endpoint "$5:$WG_PORT" allowed-ips "$7/32" ||
		die "wg set $2 in $1 failed"
	ip -n "$1" addr add "$6/24" dev "$2"
	ip -n "$1" link set "$2" up
}

# tunnel LABEL IFNAME_A IFNAME_B: the daemons up, configured, measured and
# stopped.
tunnel() {
	mkdir -p "$UAPI_DIR"
	start_daemon "$1" "$NS_A" "$2" a
	DAEMON_A=$LAST_PID
	start_daemon "$1" "$NS_B" "$3" b
	DAEMON_B=$LAST_PID
	configure "$NS_A" "$2" "$T/a.key" "$(cat "$T/b.pub")" "$UNDER_B" "$OVER_A" "$OVER_B"
	configure "$NS_B" "$3" "$T/b.key" "$(cat "$T/a.pub")" "$UNDER_A" "$OVER_B" "$OVER_A"
	ip -n "$NS_A" -o link show "$2" | sed -n 's/.* mtu \([0-9]*\) .*/\1/p' >"$T/$1.mtu"
	measure "$1" "$OVER_B"
	stop "$DAEMON_A" "$DAEMON_B"
	forget_pids "$DAEMON_A" "$DAEMON_B"
	DAEMON_A=""
	DAEMON_B=""
}

gbps() {
	if [ -s "$T/$1.$2.bps" ]; then
		awk '{ printf "%.2f", $1 / 1e9 }' "$T/$1.$2.bps"
	else
		echo -
	fi
}

# mib FILE: "A / B" in MiB from a file of "A_KIB B_KIB" lines, the largest
# of each column.
mib() {
	if [ -s "$1" ]; then
		awk '$1 > a { a = $1 } $2 > b { b = $2 }
			END { printf "%.1f / %.1f", a / 1024, b / 1024 }' "$1"
	else
		echo -
	fi
}

# row LABEL NAME: one line of the table.
row() {
	printf '%-14s %9s %10s %8s %13s %13s\n' "$2" "$(gbps "$1" 1)" "$(gbps "$1" 4)" \
		"$(cat "$T/$1.ping")" "$(mib "$T/$1.rss-idle")" "$(mib "$T/$1.rss-loaded")"
}

# during LABEL NAME: one line of the table of what happened during the
# runs, from LABEL.STREAMS.range and LABEL.STREAMS.cpu.
during() {
	cat "$T/$1.1.range" "$T/$1.1.cpu" "$T/$1.4.range" "$T/$1.4.cpu" | tr '\n' ' ' |
		awk -v name="$2" -v bare="$([ "$1" != bare ] || echo 1)" 'NF == 10 {
			d1 = bare ? "-" : $3 "% / " $4 "%"
			d4 = bare ? "-" : $8 "% / " $9 "%"
			printf "%-14s %11s %13s %5s%%  %11s %13s %5s%%\n", name,
			    $1 "-" $2, d1, $5, $6 "-" $7, d4, $10
		}'
}

# ratio STREAMS: signpostd over wireguard-go.
ratio() {
	awk -v a="$(cat "$T/signpostd.$1.bps")" -v b="$(cat "$T/wireguard-go.$1.bps")" \
		'BEGIN { printf "%.2fx", a / b }'
}

install_missing

# Why signpostd cannot be measured yet; empty when it can.
SP_MISSING=""
if [ ! -x "$BIN/signpostd" ] || [ ! -x "$BIN/signpost" ]; then
	SP_MISSING="no signpost and signpostd in $BIN (build first)"
elif ! "$BIN/signpostd" --help 2>&1 | grep -q -- '--interface'; then
	SP_MISSING="signpostd --help has no --interface"
fi
[ -n "$SP_MISSING" ] || BIN=$(cd "$BIN" && pwd)

[ -d "$UAPI_DIR" ] || MADE_UAPI_DIR=yes
wg genkey >"$T/a.key"
wg genkey >"$T/b.key"
wg pubkey <"$T/a.key" >"$T/a.pub"
wg pubkey <"$T/b.key" >"$T/b.pub"

# How busy the machine was before anything ran here: the numbers mean
# little when something else competes for the two CPUs.
before=$(machine_ticks)
pause 1
QUIET=$(echo "$before $(machine_ticks)" | awk '{ printf "%.0f", 100 * ($3 - $1) / ($4 - $2) }')

netns_up
start_iperf_server

echo "bare veth" >&2
measure bare "$UNDER_B"

echo "wireguard-go" >&2
tunnel wireguard-go "spwa$$" "spwb$$"

if [ -z "$SP_MISSING" ]; then
	echo "signpostd" >&2
	for side in a b; do
		"$BIN/signpost" --state "$T/state-$side" init --zone bench.example --name "$side" \
			>"$T/init-$side.log" 2>&1 || die "signpost init failed: $(cat "$T/init-$side.log")"
	done
	tunnel signpostd "spsa$$" "spsb$$"
fi

echo
echo "Tunnels, TCP from netns A to B with iperf3, $SECONDS_PER_RUN s per run, $(nproc) CPUs, nothing pinned"
echo "veth MTU 1500; wireguard-go MTU $(cat "$T/wireguard-go.mtu")$([ -n "$SP_MISSING" ] || echo "; signpostd MTU $(cat "$T/signpostd.mtu")")"
echo "machine busy before the runs: $QUIET% of all CPUs$([ "$QUIET" -lt 10 ] || echo " (not quiet: the numbers are disturbed)")"
echo "ping: average of 20 round trips, 50 ms apart; RSS: VmRSS of the daemon in A / in B, MiB"
echo
printf '%-14s %9s %10s %8s %13s %13s\n' "" "1 stream" "4 streams" ping "RSS idle" "RSS loaded"
printf '%-14s %9s %10s %8s %13s %13s\n' "" Gbit/s Gbit/s ms MiB MiB
row bare "bare veth"
row wireguard-go wireguard-go
if [ -z "$SP_MISSING" ]; then
	row signpostd signpostd
else
	printf '%-14s not available yet (%s)\n' signpostd "$SP_MISSING"
fi
echo
if [ -z "$SP_MISSING" ]; then
	echo "signpostd / wireguard-go: $(ratio 1) (target >= 2.0x); 4 streams: $(ratio 4)"
	awk -v a="$(cut -d' ' -f1 "$T/signpostd.rss-idle")" -v b="$(cut -d' ' -f2 "$T/signpostd.rss-idle")" \
		'BEGIN { m = a > b ? a : b; printf "signpostd RSS idle: %.1f MiB (target < 8 MB)\n", m / 1024 }'
else
	echo "signpostd / wireguard-go: n/a (target >= 2.0x)"
	echo "signpostd RSS idle: n/a (target < 8 MB)"
fi

echo
echo "During the runs: the slowest and fastest second in Gbit/s, each daemon's CPU"
echo "in % of one core (A / B), and how busy the whole machine was"
printf '%-14s %s  %s\n' "" "----------- 1 stream ------------" "---------- 4 streams ------------"
printf '%-14s %11s %13s %6s  %11s %13s %6s\n' "" "per second" "daemons" busy "per second" "daemons" busy
during bare "bare veth"
during wireguard-go wireguard-go
[ -n "$SP_MISSING" ] || during signpostd signpostd
