#!/bin/sh
# Reach by name through the gateway's relay, in the NAT lab: how long the
# first connection takes, the round trip once it is up, and what relayed
# throughput costs the gateway.
#
#   bench/connect.sh [-t SECONDS] [BIN_DIR]
#
#   -t SECONDS  length of each iperf3 run (default 10)
#   BIN_DIR     where signpost and signpostd are (default build/bin)
#
# For each scenario, a fresh lab (tests/lab/nat.sh): the gateway on the
# public host gw, and the members laptop and phone paired by URI, each
# behind a NAT of the scenario's kinds, each pointed at its own resolver.
# Once both members have taken the other as a peer (the control plane told
# them, the IPSECKEY validated), it measures:
#
#   first reply  from the first lookup of phone.alice.example to the first
#                reply of a `ping -c 1` to it by name: the lookup through
#                the laptop's resolver, the handshake through the relay, one
#                round trip. Once per scenario: there is no way to close
#                the tunnel or flush the cache between runs, so only a
#                freshly started pair's first connection counts.
#   ping         the median of 20 round trips by name, 50 ms apart, with
#                the session up
#   relayed      iperf3, TCP, one stream, laptop to phone by name, through
#                the relay: Gbit/s, the slowest and fastest second
#   gateway CPU  the gateway's signpostd during that run, from /proc/PID/stat
#                (utime + stime), in % of one core; and that divided by
#                the Gbit/s relayed. The members' signpostd beside it.
#
# relay-tcp: the phone's network drops all UDP after the join, so its
# session with the gateway runs over TLS on TCP 443. A direct path (ICE) is
# not built yet: its row says so; the direct figure beside the relayed
# ones is bench/tunnel.sh's (two signpostd on one veth), run at the end. Nothing is pinned; the machine's own load before the runs is
# printed, because the numbers mean little on a busy machine.
#
# Like every benchmark this prints numbers and never fails on a number; it
# fails only when something does not work. Needs root.
set -eu

usage() {
	echo "usage: $0 [-t SECONDS] [-D] [BIN_DIR]   (-D: skip bench/tunnel.sh's direct figure)" >&2
	exit 2
}

SECONDS_PER_RUN=10
DIRECT=1
while getopts t:Dh opt; do
	case $opt in
	t) SECONDS_PER_RUN=$OPTARG ;;
	D) DIRECT=0 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -le 1 ] || usage
case $SECONDS_PER_RUN in '' | *[!0-9]*) usage ;; esac
[ "$SECONDS_PER_RUN" -gt 0 ] || usage
BIN_ARG=${1:-build/bin}
HERE=$(cd "$(dirname "$0")" && pwd)

[ "$(id -u)" -eq 0 ] || { echo "connect.sh: needs root for network namespaces" >&2; exit 1; }
[ -x "$BIN_ARG/signpostd" ] && [ -x "$BIN_ARG/signpost" ] ||
	{ echo "connect.sh: no signpost and signpostd in $BIN_ARG (build first)" >&2; exit 1; }

# Debian packages this benchmark needs, installed only when missing.
install_missing() {
	missing=""
	for p in iperf3 iproute2 iputils-ping jq procps nftables util-linux; do
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
install_missing

# The system tests' helpers and the NAT lab: $T, its removal, nat_*.
set -- "$BIN_ARG"
. "$HERE/../tests/system/lib.sh"
. "$HERE/../tests/lab/nat.sh"
# The lab's functions are not written for -e: failures are checked here.
set +e

ZONE=alice.example
N=0
S=
GW=
LAPTOP=
PHONE=
GWPID=
IFACES=

die() {
	echo "connect.sh: $1" >&2
	shift
	for log in "$@" "$T/gwd$N.log" "$LAPTOP/signpostd.log" "$PHONE/signpostd.log"; do
		[ -s "$log" ] || continue
		echo "--- last lines of $log:" >&2
		tail -n 15 "$log" >&2
	done
	exit 1
}

json() { "$BIN/signpost" --state "$1" status --json 2>/dev/null; }
pid_of() { json "$1" | jq -r '.pid // empty'; }
address_of() {
	"$BIN/signpost" --state "$GW" devices --json |
		jq -r --arg n "$1" '.devices[] | select(.name == $n) | .address'
}
peer_ready() {
	[ "$(json "$1" | jq -r --arg n "$2" \
		'.["member-peers"][]? | select(.name == $n) | .path')" = relay-udp ]
}
now_ns() { date +%s%N; }

# A member's signpostd was started by its join, detached: its pid is in
# its status.
member_stop() {
	[ -S "$1/control.sock" ] || return 0
	pid=$(pid_of "$1" || true)
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 30 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -KILL "$pid" 2>/dev/null || true
}

scenario_down() {
	[ -n "$LAPTOP" ] && member_stop "$LAPTOP"
	[ -n "$PHONE" ] && member_stop "$PHONE"
	[ -n "$GWPID" ] && nat_stop "$GWPID"
	GWPID=
	nat_lab_down
	for ifname in $IFACES; do
		rm -f "/var/run/wireguard/$ifname.sock"
	done
	return 0
}
trap 'scenario_down; cleanup' EXIT

# tree_pids PID: the process and all its descendants.
tree_pids() {
	echo "$1"
	for kid in $(pgrep -P "$1" || true); do
		tree_pids "$kid"
	done
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

# join NODE NAME IFNAME: false when the member's signpostd did not reach
# the gateway, with the reason in WHY.
join() {
	"$BIN/signpost" --state "$GW" pair --name "$2" --qr "png:$T/s$N-$2.png" --uri --no-wait \
		>"$T/s$N-$2.uri" 2>"$T/s$N-$2.err" || die "pair --name $2 failed" "$T/s$N-$2.err"
	nat_exec "$1" "$BIN/signpost" --state "$S/$2" join "$(grep '^signpost:pair?' "$T/s$N-$2.uri")" \
		--interface "$3" >"$T/s$N-$2.join" 2>&1 && return 0
	WHY="$2 did not join: $(grep -h 'error\]' "$S/$2/signpostd.log" 2>/dev/null | tail -n 1 |
		sed 's/^[^ ]* //')"
	[ -n "${WHY##*: }" ] || WHY="$2 did not join: $(tail -n 1 "$T/s$N-$2.join")"
	return 1
}

# scenario_up KIND_L KIND_P: a fresh lab, gateway and pair, until each
# member has the other as a peer. False when a member did not join.
scenario_up() {
	N=$((N + 1))
	S=$T/s$N
	GW=$S/gw
	LAPTOP=$S/laptop
	PHONE=$S/phone
	IFACES="$IFACES spc$$g$N spc$$l$N spc$$p$N"
	mkdir "$S" || die "cannot make $S"
	nat_lab_up >/dev/null
	nat_home "$1" home laptop >/dev/null
	nat_home "$2" away phone >/dev/null
	"$BIN/signpost" --state "$GW" init --zone "$ZONE" --name gw >"$T/s$N-init.log" 2>&1 ||
		die "signpost init failed" "$T/s$N-init.log"
	nat_spawn gw "gwd$N" "$BIN/signpostd" --state "$GW" --interface "spc$$g$N" \
		--dns-listen "$NAT_GW_IP:53" --public-endpoint "$NAT_GW_IP:51820" \
		--relay-tls-listen "$NAT_GW_IP:443"
	GWPID=$NAT_PID
	i=0
	until [ "$(pid_of "$GW" || true)" = "$GWPID" ]; do
		kill -0 "$GWPID" 2>/dev/null || die "the gateway exited"
		[ $i -lt 200 ] || die "the gateway did not answer in 10 s"
		sleep 0.05
		i=$((i + 1))
	done
	join laptop laptop "spc$$l$N" || return 1
	join phone phone "spc$$p$N" || return 1
	nat_resolver laptop "$(address_of laptop)"
	nat_resolver phone "$(address_of phone)"
	i=0
	until peer_ready "$LAPTOP" phone && peer_ready "$PHONE" laptop; do
		[ $i -lt 100 ] || die "the members did not take each other as peers in 10 s"
		sleep 0.1
		i=$((i + 1))
	done
	# relay-tcp: the phone's network then drops all UDP, and the phone's
	# session with its gateway moves to TLS on TCP 443.
	if [ "${3:-}" = tcp ]; then
		nat_udp_block away on
		nat_exec phone ping -n -6 -c 1 -W 1 "laptop.$ZONE" >/dev/null 2>&1 || true
		i=0
		until [ "$("$BIN/signpost" --state "$PHONE" status --json | jq -r '."gateway-path"')" = tcp-443 ]; do
			[ $i -lt 200 ] || die "the phone did not move to TCP 443 in 20 s"
			sleep 0.1
			i=$((i + 1))
		done
	fi
}

# measure LABEL: the four figures of one scenario into $T/LABEL.*.
measure() {
	name=phone.$ZONE
	# -n: the lab has no resolver for reverse names, and ping would wait
	# for each reverse lookup to time out.
	t0=$(now_ns)
	tries=1
	until nat_exec laptop ping -n -6 -c 1 -W 2 "$name" >/dev/null 2>&1; do
		[ $tries -lt 5 ] || die "$1: no reply from $name in 5 tries"
		tries=$((tries + 1))
	done
	echo "$((($(now_ns) - t0) / 1000000)) $tries" >"$T/$1.first"

	nat_exec laptop ping -n -6 -c 20 -i 0.05 -W 2 "$name" >"$T/$1.ping.out" 2>&1 ||
		die "$1: ping $name failed: $(tail -n 2 "$T/$1.ping.out")"
	sed -n 's/.* time=\([0-9.]*\) ms/\1/p' "$T/$1.ping.out" | sort -n |
		awk '{ v[NR] = $1 } END { if (NR) printf "%.3f\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }' \
			>"$T/$1.ping"

	nat_spawn phone "s$N-iperf3" iperf3 -s -1
	server=$NAT_PID
	nat_wait_port phone tcp 5201 || die "$1: iperf3 -s does not listen" "$T/s$N-iperf3.log"
	lp=$(pid_of "$LAPTOP")
	pp=$(pid_of "$PHONE")
	before="$(ticks "$GWPID") $(ticks "$lp") $(ticks "$pp") $(machine_ticks)"
	timeout $((SECONDS_PER_RUN + 30)) ip netns exec "$NAT_ID-laptop" \
		iperf3 -6 -c "$name" -t "$SECONDS_PER_RUN" -J >"$T/$1.json" 2>"$T/$1.json.err" ||
		die "$1: iperf3 -c $name failed: $(jq -r '.error // empty' "$T/$1.json" 2>/dev/null) $(cat "$T/$1.json.err")"
	after="$(ticks "$GWPID") $(ticks "$lp") $(ticks "$pp") $(machine_ticks)"
	nat_stop "$server"
	jq -r '.end.sum_received.bits_per_second // empty' "$T/$1.json" >"$T/$1.bps"
	[ -s "$T/$1.bps" ] || die "$1: no sum_received in iperf3's output: $(head -c 300 "$T/$1.json")"
	jq -r '[.intervals[].sum.bits_per_second] | "\(min // 0) \(max // 0)"' "$T/$1.json" |
		awk '{ printf "%.2f-%.2f\n", $1 / 1e9, $2 / 1e9 }' >"$T/$1.range"
	# The CPU in % of one core over the run's length as iperf3 measured it.
	secs=$(jq -r '.end.sum_received.seconds' "$T/$1.json")
	echo "$before $after" | awk -v hz="$(getconf CLK_TCK)" -v s="$secs" 'NF == 10 {
		printf "%.0f %.0f %.0f %.0f\n", 100 * ($6 - $1) / hz / s, 100 * ($7 - $2) / hz / s,
		    100 * ($8 - $3) / hz / s, 100 * ($9 - $4) / ($10 - $5)
	}' >"$T/$1.cpu"
}

# row LABEL: one line of the table.
row() {
	read -r first tries <"$T/$1.first"
	read -r gcpu lcpu pcpu busy <"$T/$1.cpu"
	gbps=$(awk '{ printf "%.2f", $1 / 1e9 }' "$T/$1.bps")
	per=$(awk -v c="$gcpu" -v g="$gbps" 'BEGIN { if (g > 0) printf "%.0f", c / g; else print "-" }')
	printf '%-20s %11s %7s %8s %10s %8s %11s %13s %5s\n' "$1" "$first ($tries)" \
		"$(cat "$T/$1.ping")" "$gbps" "$(cat "$T/$1.range")" "$gcpu%" "$per%" \
		"$lcpu% / $pcpu%" "$busy%"
}

before=$(machine_ticks)
sleep 1
QUIET=$(echo "$before $(machine_ticks)" | awk '{ printf "%.0f", 100 * ($3 - $1) / ($4 - $2) }')

SCENARIOS="cone-cone:cone:cone cone-symmetric:cone:symmetric
symmetric-symmetric:symmetric:symmetric double-restricted:double:restricted
relay-tcp:cone:restricted:tcp"
# A scenario whose member did not join is started once more, and the
# reason printed under the table: a benchmark measures connections, but a
# start that fails is a finding too.
NOTES=
for sc in $SCENARIOS; do
	label=${sc%%:*}
	kinds=${sc#*:}
	k1=${kinds%%:*}
	k2=${kinds#*:}
	k3=
	case $k2 in *:*) k3=${k2#*:}; k2=${k2%%:*} ;; esac
	echo "$label" >&2
	if ! scenario_up "$k1" "$k2" "$k3"; then
		NOTES="$NOTES$label: started again, because $WHY
"
		scenario_down
		scenario_up "$k1" "$k2" "$k3" || die "$label: $WHY"
	fi
	measure "$label"
	scenario_down
done

echo
echo "Reach by name through the gateway's relay, NAT lab, $(nproc) CPUs, nothing pinned"
echo "laptop behind the first NAT, phone behind the second; iperf3 TCP laptop -> phone, one stream, $SECONDS_PER_RUN s"
echo "machine busy before the runs: $QUIET% of all CPUs$([ "$QUIET" -lt 10 ] || echo " (not quiet: the numbers are disturbed)")"
echo "first reply: first lookup to first ping reply, once per fresh pair (DNS, handshake, one round trip)"
echo "ping: median of 20 round trips by name; CPU: % of one core during the iperf3 run; busy: all CPUs"
echo
printf '%-20s %11s %7s %8s %10s %8s %11s %13s %5s\n' "" "first reply" ping relayed "per second" gateway "gateway CPU" "members CPU" busy
printf '%-20s %11s %7s %8s %10s %8s %11s %13s %5s\n' scenario "ms (tries)" ms Gbit/s Gbit/s CPU "per Gbit/s" "laptop/phone" ""
for sc in $SCENARIOS; do
	row "${sc%%:*}"
done
printf '%-20s %s\n' "direct (ICE)" "not built yet: no direct path in the lab"
# The direct figure beside it: bench/tunnel.sh's, two signpostd on one veth.
if [ "$DIRECT" = 1 ]; then
	sh "$HERE/tunnel.sh" -t "$SECONDS_PER_RUN" "$BIN" >"$T/tunnel.out" 2>&1 ||
		die "bench/tunnel.sh failed" "$T/tunnel.out"
	direct=$(awk '$1 == "signpostd" && $2 ~ /^[0-9.]+$/ { print $2; exit }' "$T/tunnel.out")
	echo
	echo "direct, bench/tunnel.sh (two signpostd on one veth, one stream): ${direct:-?} Gbit/s"
	for sc in $SCENARIOS; do
		l=${sc%%:*}
		awk -v l="$l" -v d="$direct" '{ g = $1 / 1e9; if (d > 0) printf "%-20s relayed / direct: %.2fx\n", l, g / d }' "$T/$l.bps"
	done
fi
[ -z "$NOTES" ] || printf '\n%s' "$NOTES"
