#!/bin/sh
# Reach by name in the NAT lab: how long the first connection takes, how
# soon ICE moves it onto a direct path, and what the path it ends on carries.
#
#   bench/connect.sh [-t SECONDS] [-D] [BIN_DIR]
#
#   -t SECONDS  length of each iperf3 run (default 10)
#   -D          skip bench/tunnel.sh's raw figure, and so the ratios to it
#   BIN_DIR     where signpost and signpostd are (default build/bin)
#
# For each scenario, a fresh lab (tests/lab/nat.sh, tests/lab/cloud.sh): the
# gateway on the public host gw, and the members laptop and phone paired by
# URI, each behind a NAT of the scenario's kinds, each pointed at its own
# resolver. The scenarios, and the path each should end on (the laptop's
# `member-peers` path for the phone, as tests/system/ice.sh makes them):
#
#   direct               one restricted NAT for both: host to host on its LAN
#   cone-cone            reflexive, through both NATs' mappings
#   symmetric-cone       reflexive (the laptop's NAT is the symmetric one)
#   upnp                 symmetric with miniupnpd on the laptop's home,
#                        symmetric: upnp, through the router's mapping
#   turn                 symmetric, symmetric, coturn on pub and the gateway
#                        started with --relay off and a TURN server and
#                        secret in its --config file: turn
#   symmetric-symmetric  ICE on, and it must give up: relay-udp
#   relay-udp            cone, cone, both members joined with --ice off: the
#                        gateway's relay over UDP, as before ICE
#   relay-tcp            cone, restricted; after the pair is up the phone's
#                        network drops all UDP and its session with the
#                        gateway moves to TLS on TCP 443 (--relay-tls-listen).
#                        ICE stays on and must give up, as for a real phone;
#                        the phone then sees relay-tcp, the laptop relay-udp
#
# Once both members have taken the other as a peer (the control plane told
# them, the IPSECKEY validated), it measures:
#
#   first reply  from the first lookup of phone.alice.example to the first
#                reply of a `ping -c 1` to it by name: the lookup through
#                the laptop's resolver, the handshake through the relay, one
#                round trip. Once per scenario: there is no way to close
#                the tunnel or flush the cache between runs, so only a
#                freshly started pair's first connection counts.
#   in use       from the same lookup until the laptop's status shows the
#                scenario's ICE path for the phone (polled every 50 ms after
#                the first reply, so never less than it); "-" where there is
#                none. The ICE column: its own figure (member-ice direct-after-ms),
#                from its agent's start to the first selected pair. Where ICE
#                must give up, the time until it did is printed under the
#                table. Then, untimed, until the phone shows the same path.
#   ping         the median of 20 round trips by name, 50 ms apart, on the
#                path the pair is on by then
#   Gbit/s       iperf3, TCP, one stream, laptop to phone by name, through
#                that path: the average, the slowest and fastest second. The
#                path column is the one the laptop shows after the run (and
#                the phone's after a slash where it differs).
#   CPU          each signpostd during that run (gateway, laptop, phone),
#                from /proc/PID/stat (utime + stime), in % of one core; busy:
#                all CPUs of the machine. In the turn scenario, coturn's CPU
#                is printed under the table.
#
# The lab's own ceiling: on a 2-core machine the NAT routers' forwarding
# shares the CPUs with the tunnel, so for the scenarios whose pair crosses
# only the lab's links (direct, cone-cone, symmetric-cone) it also runs
# iperf3 between the two members without the tunnel over the same hops:
# LAN address to LAN address for direct; for the reflexive ones, through a
# TCP port forward to the phone added on the phone's router, so the flow
# crosses both NATs as the pair does (plain TCP, not the tunnel's UDP).
#
# At the end bench/tunnel.sh (two signpostd on one veth, no lab) gives the
# raw signpostd figure; each scenario's Gbit/s is printed as a share of it,
# with the issue's targets: first reply within 300 ms; the ICE path in use
# within 1 s where ICE finds one (turn included); a direct path (direct,
# reflexive, upnp: not turn, which coturn relays) at least 0.90 of the raw
# figure. Each is "met" or "missed": informative, never a failure.
#
# Nothing is pinned; the machine's own load before the runs is printed,
# because the numbers mean little on a busy machine. Like every benchmark
# this prints numbers and never fails on a number; it fails only when
# something does not work (a scenario not ending on its path is printed
# with the rest, then the exit status is 1). Needs root.
set -eu

usage() {
	echo "usage: $0 [-t SECONDS] [-D] [BIN_DIR]   (-D: skip bench/tunnel.sh's raw figure)" >&2
	exit 2
}

SECONDS_PER_RUN=10
RAW=1
while getopts t:Dh opt; do
	case $opt in
	t) SECONDS_PER_RUN=$OPTARG ;;
	D) RAW=0 ;;
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
	for p in iperf3 iproute2 iputils-ping jq procps nftables util-linux coturn \
		miniupnpd-nftables; do
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

# The system tests' helpers, the NAT lab (nat_*) and the cloud in it
# (cloud_*, now_ns, ms_since).
set -- "$BIN_ARG"
. "$HERE/../tests/system/lib.sh"
. "$HERE/../tests/lab/nat.sh"
. "$HERE/../tests/lab/cloud.sh"
# The lab's functions are not written for -e: failures are checked here.
set +e

N=0
S=
LAPTOP=
PHONE=
IFACES=
TURN_SECRET=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
# Findings: what did not work, printed under the table (then exit 1), and
# what is worth knowing.
BROKEN=
NOTES=

die() {
	echo "connect.sh: $1" >&2
	shift
	for log in "$@" "$T/gwd-gw$N.log" "$LAPTOP/signpostd.log" "$PHONE/signpostd.log"; do
		[ -s "$log" ] || continue
		echo "--- last lines of $log:" >&2
		tail -n 15 "$log" >&2
	done
	exit 1
}
note() { NOTES="$NOTES$1
"; }
broken() { BROKEN="$BROKEN$1
"; }

path_of() { cloud_peer "$1" "$2" path; }
path_is() { [ "$(path_of "$1" "$2")" = "$3" ]; }
pid_of() { cloud_json "$1" | jq -r '.pid // empty'; }
peers_known() {
	[ -n "$(path_of "$LAPTOP" phone)" ] && [ -n "$(path_of "$PHONE" laptop)" ] &&
		[ "$(cloud_peer "$LAPTOP" phone state)" != resolving ]
}
ice_failed() { [ "$(cloud_ice "$LAPTOP" phone state)" = failed ]; }
gw_path_tcp() { [ "$(cloud_json "$PHONE" | jq -r '."gateway-path"')" = tcp-443 ]; }

scenario_down() {
	[ -n "$LAPTOP" ] && cloud_member_stop "$LAPTOP"
	[ -n "$PHONE" ] && cloud_member_stop "$PHONE"
	[ -n "$CLOUD_GWPID" ] && nat_stop "$CLOUD_GWPID"
	CLOUD_GWPID=
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

# ticks PID: CPU clock ticks used so far by the process and its descendants
# (0 without a PID).
ticks() {
	[ -n "$1" ] || { echo 0; return; }
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

# join NAME [JOINFLAG...]: NAME (laptop or phone, a lab node of that name)
# joins; false when it did not reach the gateway, with the reason in WHY.
join() {
	jname=$1
	shift
	cloud_join "$jname" "$jname" "$S/$jname" "spc$$$(echo "$jname" | cut -c1)$N" "$@" &&
		return 0
	WHY="$jname did not join: $(grep -h 'error\]' "$S/$jname/signpostd.log" 2>/dev/null |
		tail -n 1 | sed 's/^[^ ]* //')"
	[ -n "${WHY##*: }" ] ||
		WHY="$jname did not join: $(tail -n 1 "$T/join-$jname.log" "$T/pair-$jname.err" 2>/dev/null |
			grep -v '^==>' | grep . | tail -n 1)"
	return 1
}

# scenario_up KIND_L KIND_P HOW: a fresh lab, gateway and pair (KIND_P
# "same": the phone in the laptop's home), until each member has the other
# as a peer. False when a member did not join.
scenario_up() {
	N=$((N + 1))
	S=$T/s$N
	LAPTOP=$S/laptop
	PHONE=$S/phone
	IFACES="$IFACES spc$$g$N spc$$l$N spc$$p$N"
	mkdir "$S" || die "cannot make $S"
	how=$3
	nat_lab_up >/dev/null
	if [ "$2" = same ]; then
		nat_home "$1" home laptop phone >/dev/null
	else
		nat_home "$1" home laptop >/dev/null
		nat_home "$2" away phone >/dev/null
	fi
	set --
	joinflags=
	case $how in
	upnp) nat_upnp home ;;
	turn)
		nat_turn pub "$TURN_SECRET"
		(umask 077 && printf 'turn-server %s:3478\nturn-secret %s\n' "$NAT_PUB_IP" \
			"$TURN_SECRET" >"$S/gw.conf") || die "cannot write $S/gw.conf"
		set -- --relay off --config "$S/gw.conf"
		;;
	tcp) set -- --relay-tls-listen "$NAT_GW_IP:443" ;;
	iceoff) joinflags="--ice off" ;;
	esac
	cloud_gw_start "$S/gw$N" "spc$$g$N" "$@" || die "the gateway did not start" "$T/gw-init.log"
	# shellcheck disable=SC2086
	join laptop $joinflags || return 1
	# shellcheck disable=SC2086
	join phone $joinflags || return 1
	nat_resolver laptop "$(cloud_address laptop)"
	nat_resolver phone "$(cloud_address phone)"
	cloud_until 15 peers_known || die "the members did not take each other as peers in 15 s"
	if [ "$how" = tcp ]; then
		nat_udp_block away on
		cloud_until 30 gw_path_tcp || die "the phone did not move to TCP 443 in 30 s"
	fi
	return 0
}

# iperf LABEL.WHAT ADDR FAMILY: iperf3 TCP, one stream, laptop to the phone
# at ADDR; the average bits/s into $T/LABEL.WHAT.bps.
iperf() {
	nat_spawn phone "s$N-$1-iperf3" iperf3 -s -1
	server=$NAT_PID
	nat_wait_port phone tcp 5201 || die "$1: iperf3 -s does not listen" "$T/s$N-$1-iperf3.log"
	timeout $((SECONDS_PER_RUN + 30)) ip netns exec "$NAT_ID-laptop" \
		iperf3 "$3" -c "$2" -t "$SECONDS_PER_RUN" -J >"$T/$1.json" 2>"$T/$1.json.err" ||
		die "$1: iperf3 -c $2 failed: $(jq -r '.error // empty' "$T/$1.json" 2>/dev/null) $(cat "$T/$1.json.err")"
	nat_stop "$server"
	jq -r '.end.sum_received.bits_per_second // empty' "$T/$1.json" >"$T/$1.bps"
	[ -s "$T/$1.bps" ] || die "$1: no sum_received in iperf3's output: $(head -c 300 "$T/$1.json")"
}

# measure LABEL WANT HOW: the figures of one scenario into $T/LABEL.*.
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
	echo "$(ms_since "$t0") $tries" >"$T/$1.first"

	echo "- -" >"$T/$1.direct"
	case $3 in
	ice | upnp | turn)
		if cloud_until 10 path_is "$LAPTOP" phone "$2"; then
			echo "$(ms_since "$t0") $(cloud_ice "$LAPTOP" phone direct-after-ms)" >"$T/$1.direct"
			cloud_until 5 path_is "$PHONE" laptop "$2" ||
				broken "$1: the phone did not take the $2 path within 5 s of the laptop ($(path_of "$PHONE" laptop))"
			note "$1: ICE pair (laptop) $(cloud_ice "$LAPTOP" phone local) -> $(cloud_ice "$LAPTOP" phone remote), fast=$(cloud_ice "$LAPTOP" phone fast) (phone: fast=$(cloud_ice "$PHONE" laptop fast))"
		else
			broken "$1: the laptop was not on a $2 path 10 s after the lookup ($(path_of "$LAPTOP" phone); ICE $(cloud_ice "$LAPTOP" phone state) $(cloud_ice "$LAPTOP" phone why)); measured on that path"
		fi
		;;
	fail | tcp)
		if cloud_until 30 ice_failed; then
			note "$1: ICE gave up $(ms_since "$t0") ms after the lookup ($(cloud_ice "$LAPTOP" phone why))"
		else
			broken "$1: ICE did not give up within 30 s (state $(cloud_ice "$LAPTOP" phone state))"
		fi
		;;
	esac

	nat_exec laptop ping -n -6 -c 20 -i 0.05 -W 2 "$name" >"$T/$1.ping.out" 2>&1 ||
		die "$1: ping $name failed: $(tail -n 2 "$T/$1.ping.out")"
	sed -n 's/.* time=\([0-9.]*\) ms/\1/p' "$T/$1.ping.out" | sort -n |
		awk '{ v[NR] = $1 } END { if (NR) printf "%.3f\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }' \
			>"$T/$1.ping"

	gp=$CLOUD_GWPID
	lp=$(pid_of "$LAPTOP")
	pp=$(pid_of "$PHONE")
	tp=${NAT_TURN_pub:-}
	before="$(ticks "$gp") $(ticks "$lp") $(ticks "$pp") $(ticks "$tp") $(machine_ticks)"
	iperf "$1" "$name" -6
	after="$(ticks "$gp") $(ticks "$lp") $(ticks "$pp") $(ticks "$tp") $(machine_ticks)"
	jq -r '[.intervals[].sum.bits_per_second] | "\(min // 0) \(max // 0)"' "$T/$1.json" |
		awk '{ printf "%.2f-%.2f\n", $1 / 1e9, $2 / 1e9 }' >"$T/$1.range"
	# The CPU in % of one core over the run's length as iperf3 measured it.
	secs=$(jq -r '.end.sum_received.seconds' "$T/$1.json")
	echo "$before $after" | awk -v hz="$(getconf CLK_TCK)" -v s="$secs" 'NF == 12 {
		printf "%.0f %.0f %.0f %.0f %.0f\n", 100 * ($7 - $1) / hz / s, 100 * ($8 - $2) / hz / s,
		    100 * ($9 - $3) / hz / s, 100 * ($11 - $5) / ($12 - $6), 100 * ($10 - $4) / hz / s
	}' >"$T/$1.cpu"
	[ -n "$tp" ] && note "$1: coturn on pub used $(awk '{ print $5 }' "$T/$1.cpu")% of one core during the iperf3 run"

	# The path the run ended on, as each side sees it.
	lpath=$(path_of "$LAPTOP" phone)
	ppath=$(path_of "$PHONE" laptop)
	[ "$lpath" = "$2" ] || broken "$1: the laptop ended on ${lpath:-no path}, not $2"
	[ "$3" != tcp ] || [ "$ppath" = relay-tcp ] ||
		broken "$1: the phone ended on ${ppath:-no path}, not relay-tcp"
	if [ "$lpath" = "$ppath" ]; then echo "$lpath"; else echo "$lpath/$ppath"; fi >"$T/$1.path"

	# The lab's ceiling, without the tunnel, over the hops of the pair's
	# direct path (see the header). nat_home sets NAT_IP_* and NAT_WAN_*.
	# shellcheck disable=SC2154
	case $1 in
	direct) iperf "$1.lab" "$NAT_IP_phone" -4 ;;
	cone-cone | symmetric-cone)
		printf 'table ip benchfwd {\n\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat - 5; policy accept;\n\t\tiifname "wan0" tcp dport 5201 dnat to %s\n\t}\n}\n' \
			"$NAT_IP_phone" | nat_exec away nft -f - >"$S/fwd.err" 2>&1 ||
			die "$1: cannot forward TCP 5201 on the phone's router" "$S/fwd.err"
		iperf "$1.lab" "$NAT_WAN_away" -4
		;;
	esac
}

ROW='%-19s %-19s %11s %6s %5s %6s %6s %10s %7s %11s %4s\n'

# row LABEL: one line of the table.
row() {
	read -r first tries <"$T/$1.first"
	read -r inuse ice <"$T/$1.direct"
	read -r gcpu lcpu pcpu busy _ <"$T/$1.cpu"
	# shellcheck disable=SC2059
	printf "$ROW" "$1" "$(cat "$T/$1.path")" "$first ($tries)" "$inuse" "$ice" \
		"$(cat "$T/$1.ping")" "$(awk '{ printf "%.2f", $1 / 1e9 }' "$T/$1.bps")" \
		"$(cat "$T/$1.range")" "$gcpu%" "$lcpu% / $pcpu%" "$busy%"
}

# verdict OK: met or missed.
verdict() { if [ "$1" = 1 ]; then echo met; else echo missed; fi; }

before=$(machine_ticks)
sleep 1
QUIET=$(echo "$before $(machine_ticks)" | awk '{ printf "%.0f", 100 * ($3 - $1) / ($4 - $2) }')

# LABEL:NAT_L:NAT_P:PATH:HOW. HOW: ice (ICE finds PATH), upnp and turn (the
# same, with miniupnpd or coturn), fail (ICE must give up), tcp (the phone's
# UDP dropped; ICE must give up), iceoff (both joined with --ice off).
SCENARIOS="direct:restricted:same:direct:ice cone-cone:cone:cone:reflexive:ice
symmetric-cone:symmetric:cone:reflexive:ice upnp:symmetric:symmetric:upnp:upnp
turn:symmetric:symmetric:turn:turn symmetric-symmetric:symmetric:symmetric:relay-udp:fail
relay-udp:cone:cone:relay-udp:iceoff relay-tcp:cone:restricted:relay-udp:tcp"
# A scenario whose member did not join is started once more, and the
# reason printed under the table: a benchmark measures connections, but a
# start that fails is a finding too.
for sc in $SCENARIOS; do
	IFS=: read -r label kl kp want how <<EOF
$sc
EOF
	echo "$label" >&2
	if ! scenario_up "$kl" "$kp" "$how"; then
		note "$label: started again, because $WHY"
		scenario_down
		scenario_up "$kl" "$kp" "$how" || die "$label: $WHY"
	fi
	measure "$label" "$want" "$how"
	scenario_down
done

if [ "$RAW" = 1 ]; then
	echo "bench/tunnel.sh" >&2
	sh "$HERE/tunnel.sh" -t "$SECONDS_PER_RUN" "$BIN" >"$T/tunnel.out" 2>&1 ||
		die "bench/tunnel.sh failed" "$T/tunnel.out"
fi
raw=$(awk '$1 == "signpostd" && $2 ~ /^[0-9.]+$/ { print $2; exit }' "$T/tunnel.out" 2>/dev/null)
veth=$(awk '$1 == "bare" && $2 == "veth" && $3 ~ /^[0-9.]+$/ { print $3; exit }' "$T/tunnel.out" 2>/dev/null)

echo
echo "Reach by name in the NAT lab, $(nproc) CPUs, nothing pinned"
echo "laptop behind the first NAT, phone behind the second; iperf3 TCP laptop -> phone by name, one stream, $SECONDS_PER_RUN s"
echo "machine busy before the runs: $QUIET% of all CPUs$([ "$QUIET" -lt 10 ] || echo " (not quiet: the numbers are disturbed)")"
echo "first reply: first lookup to first ping reply, once per fresh pair; in use: first lookup to the ICE path in"
echo "the laptop's status; ICE: its agent's start to the first selected pair; ping: median of 20 round trips by name"
echo "CPU: % of one core during the iperf3 run (gateway, laptop / phone signpostd); busy: all CPUs"
echo
# shellcheck disable=SC2059
printf "$ROW" "" "path" "first reply" "in use" ICE ping "" "per second" gateway "members CPU" busy
# shellcheck disable=SC2059
printf "$ROW" scenario "laptop/phone" "ms (tries)" ms ms ms Gbit/s Gbit/s CPU "laptop/phone" ""
for sc in $SCENARIOS; do
	row "${sc%%:*}"
done

echo
echo "The lab without the tunnel: iperf3 TCP, one stream, laptop -> phone over the same hops"
for label in direct cone-cone symmetric-cone; do
	[ -s "$T/$label.lab.bps" ] || continue
	case $label in
	direct) hops="LAN to LAN, the home's bridge" ;;
	*) hops="both NATs (port forward on the phone's router)" ;;
	esac
	awk -v l="$label" -v h="$hops" -v t="$(cat "$T/$label.bps")" '{
		printf "  %-19s %-47s %6.2f Gbit/s; the tunnel carried %.2fx of it\n", l, h, $1 / 1e9, t / $1
	}' "$T/$label.lab.bps"
done
echo "  (the relayed, upnp and turn paths cross the gateway or pub: no such figure)"
[ -z "$veth" ] || echo "  bench/tunnel.sh's bare veth, no lab: $veth Gbit/s"

echo
if [ -n "$raw" ]; then
	echo "Raw: $raw Gbit/s, bench/tunnel.sh (two signpostd on one veth, one stream, no lab)"
else
	echo "Raw: not measured (-D), so no share of it"
fi
echo "Targets (informative): first reply <= 300 ms; ICE path in use <= 1000 ms where ICE finds one;"
echo "a direct path's Gbit/s >= 0.90 of raw (direct, reflexive, upnp; turn is relayed by coturn)"
TROW='%-19s %-19s %9s %14s %14s %16s\n'
# shellcheck disable=SC2059
printf "$TROW" scenario path "of raw" "first reply" "in use" "Gbit/s >= 0.90"
for sc in $SCENARIOS; do
	IFS=: read -r label kl kp want how <<EOF
$sc
EOF
	read -r first tries <"$T/$label.first"
	read -r inuse ice <"$T/$label.direct"
	gbps=$(awk '{ print $1 / 1e9 }' "$T/$label.bps")
	share=-
	[ -z "$raw" ] || share=$(awk -v g="$gbps" -v r="$raw" 'BEGIN { printf "%.2fx", g / r }')
	t_first=$(verdict "$([ "$first" -le 300 ] && echo 1)")
	t_inuse=-
	t_gbps=-
	case $how in
	ice | upnp | turn)
		if [ "$inuse" = - ]; then t_inuse=missed; else t_inuse=$(verdict "$([ "$inuse" -le 1000 ] && echo 1)"); fi
		;;
	esac
	case $how in
	ice | upnp)
		[ -z "$raw" ] ||
			t_gbps=$(verdict "$(awk -v g="$gbps" -v r="$raw" 'BEGIN { if (g >= 0.9 * r) print 1 }')")
		;;
	esac
	if [ "$inuse" = - ]; then inuse=$t_inuse; else inuse="$inuse ms $t_inuse"; fi
	# shellcheck disable=SC2059
	printf "$TROW" "$label" "$(cat "$T/$label.path")" "$share" "$first ms $t_first" \
		"$inuse" "$t_gbps"
done
[ -z "$NOTES" ] || printf '\n%s' "$NOTES"
if [ -n "$BROKEN" ]; then
	printf '\nDid not work:\n%s' "$BROKEN"
	exit 1
fi
exit 0
