#!/bin/sh
# signpostd's authoritative DNS next to NSD, measured with dnsperf on
# loopback, then signpostd's memory with the given number of devices.
#
#   bench/dns.sh [-d SECONDS] [-n DEVICES] [BIN_DIR]
#
#   -d SECONDS  length of each dnsperf run (default 10)
#   -n DEVICES  devices in the zone (default 10000)
#   BIN_DIR     where signpost and signpostd are (default build/bin)
#   NSD_PORT, SP_PORT  loopback ports used (default 5301 and 5302)
#
# The devices go in one `signpost device add` at a time through the
# running signpostd, which is then restarted with them. Both servers serve
# the same signed zone: signpostd's own, and NSD its `signpost zone export`.
# Memory is the PSS of each server's processes and their VmRSS, read from
# /proc after the adds, at start and after the run. Until the signpost
# binaries have --dns-listen, `device add` and `zone export`, only NSD is
# measured, on a zone of the same shape made here with ldns-signzone.
#
# Query mix, one file for both servers, every query with the DO bit:
#   30% AAAA of an existing device, 30% IPSECKEY of an existing device,
#   30% AAAA of a missing name, 10% DNSKEY at the apex. A missing name is
#   NXDOMAIN with NSEC records from NSD and NOERROR with one NSEC from
#   signpostd's compact denial (RFC 9824). The file holds 30,000 distinct
#   missing names and dnsperf goes round it, so after the first pass
#   signpostd's cache of denials is warm.
#
# One server process each, with rate limiting off. With two or more CPUs
# the server runs on CPU 0 and dnsperf on CPU 1, so each server gets one
# core. Like every benchmark this prints numbers and their ratio and never
# fails on a number; it fails only when something does not work.
set -eu

usage() {
	echo "usage: $0 [-d SECONDS] [-n DEVICES] [BIN_DIR]" >&2
	exit 2
}

SECONDS_PER_RUN=10
DEVICES=10000
while getopts d:n:h opt; do
	case $opt in
	d) SECONDS_PER_RUN=$OPTARG ;;
	n) DEVICES=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -le 1 ] || usage
BIN=${1:-build/bin}
case $SECONDS_PER_RUN in '' | *[!0-9]*) usage ;; esac
case $DEVICES in '' | *[!0-9]*) usage ;; esac
if [ "$SECONDS_PER_RUN" -eq 0 ] || [ "$DEVICES" -eq 0 ]; then usage; fi

NSD_PORT=${NSD_PORT:-5301}
SP_PORT=${SP_PORT:-5302}
ZONE=alice.example
QUERIES=100000
# Enough sockets and queries in flight to keep one server core busy without
# drowning it: more outstanding queries only add latency on loopback.
CLIENTS=4
OUTSTANDING=256
# Concurrent `signpost device add` calls while the zone is filled.
ADD_JOBS=4

HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d /tmp/sp-bench-dns.XXXXXX)
chmod 700 "$T"
SERVER_PID=
LOAD_PID=

die() {
	echo "dns.sh: $*" >&2
	exit 1
}

stop_server() {
	if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	SERVER_PID=
}

cleanup() {
	[ -z "$LOAD_PID" ] || kill "$LOAD_PID" 2>/dev/null || true
	stop_server
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Debian packages this benchmark needs, installed only when missing.
install_missing() {
	missing=""
	for p in dnsperf nsd ldnsutils bind9-dnsutils gcc libsodium-dev procps util-linux; do
		status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
		[ "$status" = installed ] || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	[ "$(id -u)" -eq 0 ] || die "missing Debian packages; run as root or install them:$missing"
	echo "installing:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# Each server gets CPU 0 and dnsperf CPU 1 when there are two CPUs.
if [ "$(nproc)" -ge 2 ]; then
	ON_SERVER_CPU="taskset -c 0"
	ON_LOAD_CPU="taskset -c 1"
else
	ON_SERVER_CPU=""
	ON_LOAD_CPU=""
fi

port_free() {
	[ -z "$(ss -Hlun "sport = :$1" 2>/dev/null)" ]
}

# ask PORT NAME TYPE: one query with DO, printed by dig.
ask() {
	dig @127.0.0.1 -p "$1" +norec +dnssec +time=1 +tries=1 "$2" "$3" 2>&1
}

# wait_answer PORT: until the server on PORT answers for the apex SOA, for
# at most 30 s, which leaves time to sign a large zone at start.
wait_answer() {
	i=0
	while [ $i -lt 300 ]; do
		kill -0 "$SERVER_PID" 2>/dev/null || return 1
		ask "$1" "$APEX" SOA | grep -q 'status: NOERROR' && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# answered OUT STATUS TYPE: dig's output OUT has a status matching STATUS
# and an RRSIG over a type matching TYPE (both extended regexps).
answered() {
	printf '%s' "$1" | grep -Eq "status: ($2)," &&
		printf '%s' "$1" | grep -Eq "IN[[:space:]]+RRSIG[[:space:]]+($3)[[:space:]]"
}

# check_answers LABEL PORT: the server gives signed answers of each kind in
# the mix before it is measured, so a fast server of wrong answers is caught.
# A missing name is NXDOMAIN, or NOERROR with compact denial (RFC 9824).
check_answers() {
	out=$(ask "$2" "$SAMPLE_NAME" AAAA)
	answered "$out" NOERROR AAAA || die "$1: no signed AAAA for $SAMPLE_NAME:
$out"
	out=$(ask "$2" "nx-check.$APEX" AAAA)
	answered "$out" 'NXDOMAIN|NOERROR' 'NSEC|NSEC3' ||
		die "$1: no signed denial for nx-check.$APEX:
$out"
	out=$(ask "$2" "$APEX" DNSKEY)
	answered "$out" NOERROR DNSKEY || die "$1: no signed DNSKEY at $APEX:
$out"
}

# tree_pids PID: the process and all its descendants.
tree_pids() {
	echo "$1"
	for kid in $(pgrep -P "$1"); do
		tree_pids "$kid"
	done
}

# memory LABEL PID STAGE: adds to LABEL.mem one line of the memory table:
# the proportional set size of the process and its descendants (pages
# shared by forked processes counted once), then each one's VmRSS.
memory() {
	total=0
	each=""
	for p in $(tree_pids "$2"); do
		pss=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null || true)
		rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || true)
		if [ -z "$pss" ] || [ -z "$rss" ]; then continue; fi
		total=$((total + pss))
		each="$each${each:+, }$(cat "/proc/$p/comm") $rss"
	done
	printf '%-10s %-8s %10s  %s\n' "$1" "$3" "$total" "$each" >>"$T/$1.mem"
}

# cpu_busy: busy and total clock ticks of CPU 0 and CPU 1, from /proc/stat.
cpu_busy() {
	awk '$1 == "cpu0" || $1 == "cpu1" {
		t = 0
		for (i = 2; i <= NF; i++)
			t += $i
		printf "%d %d ", t - $5 - $6, t
	}' /proc/stat
}

# server_ticks: CPU clock ticks used so far by the server and its children.
server_ticks() {
	for p in $(tree_pids "$SERVER_PID"); do
		sed 's/.*) //' "/proc/$p/stat" 2>/dev/null || true
	done | awk '{ t += $12 + $13 } END { print t + 0 }'
}

# udp_rcvbuf_errors: UDP datagrams dropped so far for a full socket buffer.
udp_rcvbuf_errors() {
	awk '$1 == "Udp:" {
		if (!n) { for (i = 2; i <= NF; i++) col[$i] = i; n = 1; next }
		print $col["RcvbufErrors"]
	}' /proc/net/snmp
}

# measure LABEL PORT: dnsperf against the server on PORT; leaves LABEL.out,
# LABEL.cpu and LABEL.drops. The CPU is sampled over the run itself, not
# over dnsperf's wait for lost queries at the end.
measure() {
	drops=$(udp_rcvbuf_errors)
	# shellcheck disable=SC2086
	$ON_LOAD_CPU dnsperf -s 127.0.0.1 -p "$2" -d "$T/queries" -D \
		-l "$SECONDS_PER_RUN" -c "$CLIENTS" -T 1 -q "$OUTSTANDING" -t 2 \
		>"$T/$1.out" 2>&1 &
	LOAD_PID=$!
	before="$(server_ticks) $(cpu_busy)"
	# Waited for in the background so that a signal stops the run at once.
	sleep "$SECONDS_PER_RUN" &
	wait $!
	after="$(server_ticks) $(cpu_busy)"
	wait "$LOAD_PID" || die "$1: dnsperf failed: $(cat "$T/$1.out")"
	LOAD_PID=
	echo $(($(udp_rcvbuf_errors) - drops)) >"$T/$1.drops"
	# Where the CPU went: the server's share of its core, how busy
	# dnsperf's core was, and what else ran on the server's core (other
	# processes, and interrupt work). A server well below 100% means dnsperf
	# could not keep up; much "other" means the machine was not quiet.
	echo "$before $after" | awk 'NF == 10 {
		srv = 100 * ($6 - $1) / ($8 - $3)
		printf "%.0f%% %.0f%% %.0f%%\n", srv, 100 * ($9 - $4) / ($10 - $5),
		    100 * ($7 - $2) / ($8 - $3) - srv
	} NF != 10 { print "- - -" }' >"$T/$1.cpu"
	qps=$(awk '/Queries per second:/ { print $4 }' "$T/$1.out")
	[ -n "$qps" ] || die "$1: no result from dnsperf: $(cat "$T/$1.out")"
	awk '/Queries completed:/ { done = $3 } END { exit done > 0 ? 0 : 1 }' "$T/$1.out" ||
		die "$1: answered no query: $(cat "$T/$1.out")"
}

# row LABEL: one line of the speed table from LABEL.out and LABEL.cpu.
row() {
	awk -v label="$1" -v cpu="$(cat "$T/$1.cpu")" '
		/Queries per second:/ { qps = $4 }
		/Queries lost:/ { lost = $3 " " $4 }
		/Average Latency/ { lat = sprintf("%.3f ms", $4 * 1000) }
		/Response codes:/ {
			sub(/.*Response codes: */, "")
			n = split($0, part, /, /)
			for (i = 1; i <= n; i++) {
				split(part[i], f, / /)
				gsub(/[()]/, "", f[3])
				codes = codes (i > 1 ? ", " : "") f[1] " " f[3]
			}
		}
		END {
			split(cpu, c, / /)
			printf "%-10s %10.0f  %-12s %9s  %6s %7s %5s   %s\n",
			    label, qps, lost, lat, c[1], c[2], c[3], codes
		}
	' "$T/$1.out"
}

qps_of() {
	awk '/Queries per second:/ { print $4 }' "$T/$1.out"
}

# start_signpostd: serve state $S on SP_PORT and wait for its answers.
start_signpostd() {
	# shellcheck disable=SC2086
	$ON_SERVER_CPU "$BIN/signpostd" --state "$S" --dns-listen "127.0.0.1:$SP_PORT" \
		>>"$T/signpostd.log" 2>&1 &
	SERVER_PID=$!
	wait_answer "$SP_PORT" ||
		die "signpostd did not answer on 127.0.0.1:$SP_PORT: $(tail -5 "$T/signpostd.log")"
}

# sign_zone UNSIGNED SIGNED: sign a zone file with a fresh Ed25519 KSK and
# ZSK and an NSEC chain, as NSD needs it.
sign_zone() {
	(
		cd "$T"
		ksk=$(ldns-keygen -a ED25519 -k "$ZONE")
		zsk=$(ldns-keygen -a ED25519 "$ZONE")
		ldns-signzone -o "$ZONE" -f "$2" "$1" "$ksk" "$zsk" &&
			rm -f "$ksk".* "$zsk".*
	) || die "ldns-signzone cannot sign $1"
}

install_missing
cc -O2 -o "$T/edkeys" "$HERE/dns/edkeys.c" -lsodium || die "cannot build bench/dns/edkeys.c"
"$T/edkeys" "$DEVICES" >"$T/keys"

# Why signpostd cannot be measured yet; empty when it can.
SP_MISSING=""
if [ ! -x "$BIN/signpostd" ] || [ ! -x "$BIN/signpost" ]; then
	SP_MISSING="no signpost and signpostd in $BIN (build first)"
elif ! "$BIN/signpostd" --help 2>&1 | grep -q -- '--dns-listen'; then
	SP_MISSING="signpostd --help has no --dns-listen"
elif ! "$BIN/signpost" --help 2>&1 | grep -Eq 'device .*add'; then
	SP_MISSING="signpost --help has no 'device add'"
elif ! "$BIN/signpost" --help 2>&1 | grep -Eq 'zone .*export'; then
	SP_MISSING="signpost --help has no 'zone export'"
fi
[ -n "$SP_MISSING" ] || BIN=$(cd "$BIN" && pwd)
port_free "$NSD_PORT" || die "UDP port $NSD_PORT is taken; set NSD_PORT"
[ -n "$SP_MISSING" ] || port_free "$SP_PORT" || die "UDP port $SP_PORT is taken; set SP_PORT"

# The devices are named d00001, d00002 ... in both cases.
ADD_NOTE=""
if [ -z "$SP_MISSING" ]; then
	S=$T/state
	"$BIN/signpost" --state "$S" init --zone "$ZONE" --name gateway >/dev/null ||
		die "signpost init failed"
	APEX=$ZONE.
	# The devices go in through the running daemon, the way a gateway gets
	# them. Each add costs a zone rebuild in the daemon, so with thousands
	# of devices this is the slow part of the run; a few CLI calls at once
	# keep the daemon busy while the next processes start.
	start_signpostd
	echo "adding $DEVICES devices through signpostd, $ADD_JOBS at a time" >&2
	start=$(date +%s.%N)
	# shellcheck disable=SC2016
	awk '{ printf "d%05d %s\n", NR, $0 }' "$T/keys" |
		xargs -P "$ADD_JOBS" -n 2 sh -c \
			'exec "$0" --state "$1" device add "$3" --key "$4" >/dev/null 2>>"$2"' \
			"$BIN/signpost" "$S" "$T/add.err" ||
		die "device add failed: $(head -5 "$T/add.err")"
	end=$(date +%s.%N)
	ADD_NOTE=$(awk -v s="$start" -v e="$end" -v n="$DEVICES" -v j="$ADD_JOBS" \
		'BEGIN { printf "%d devices added through signpostd in %.1f s (%.1f ms each, %d at a time)",
		    n, e - s, (e - s) * 1000 / n, j }')
	memory signpostd "$SERVER_PID" grown
	# Measured from here on: a daemon started with the devices, as after a
	# reboot of the gateway.
	stop_server
	start_signpostd
	memory signpostd "$SERVER_PID" started
	"$BIN/signpost" --state "$S" zone export >"$T/zone.signed" 2>"$T/export.err" ||
		die "signpost zone export failed: $(cat "$T/export.err")"
else
	# The same shape signpostd will serve: apex SOA and NS, a gateway, and
	# each device with an overlay AAAA and its Ed25519 key in IPSECKEY
	# (algorithm 4, RFC 9373), signed with an Ed25519 KSK and ZSK and NSEC.
	awk -v zone="$ZONE" '
		BEGIN {
			printf "$ORIGIN %s.\n$TTL 3600\n", zone
			print "@ IN SOA gateway hostmaster 1 3600 900 604800 300"
			print "@ IN NS gateway"
			print "gateway IN AAAA fd00::1"
		}
		{
			printf "d%05d IN AAAA fd00::1:%x\n", NR, NR
			printf "d%05d IN IPSECKEY 10 0 4 . %s\n", NR, $0
		}
	' "$T/keys" >"$T/zone"
	sign_zone "$T/zone" "$T/zone.signed"
fi
NSD_NOTE=""
if ! grep -Eq '[[:space:]]NSEC3?[[:space:]]' "$T/zone.signed"; then
	# Online compact denial leaves no NSEC chain in the export, and NSD
	# cannot sign: it gets the same records signed here with fresh keys of
	# the same algorithm, so its answers have the same sizes.
	ldns-read-zone -s -e DNSKEY "$T/zone.signed" >"$T/zone" 2>/dev/null ||
		die "ldns-read-zone cannot read the exported zone"
	sign_zone "$T/zone" "$T/zone.signed"
	NSD_NOTE="the export has no NSEC chain, so NSD serves its records signed by ldns-signzone"
fi
nsd-checkzone "$ZONE" "$T/zone.signed" >"$T/check.out" 2>&1 ||
	die "NSD rejects the zone: $(cat "$T/check.out")"

# The query file, from the records the zone really has.
ldns-read-zone -E SOA -E AAAA -E IPSECKEY "$T/zone.signed" 2>/dev/null |
	awk -v n="$QUERIES" '
		$4 == "SOA" { apex = $1 }
		$4 == "AAAA" && $1 != apex { aaaa[na++] = $1; exists[$1] = 1 }
		$4 == "IPSECKEY" { ipseckey[ni++] = $1 }
		END {
			if (na == 0 || apex == "")
				exit 1
			# A zone without IPSECKEY still gets the queries, as NODATA.
			if (ni == 0)
				for (i = 0; i < na; i++)
					ipseckey[ni++] = aaaa[i]
			srand(42)
			for (i = 0; i < n; i++) {
				r = rand()
				if (r < 0.3) {
					print aaaa[int(rand() * na)], "AAAA"
				} else if (r < 0.6) {
					print ipseckey[int(rand() * ni)], "IPSECKEY"
				} else if (r < 0.9) {
					do
						name = sprintf("nx%08x.%s", int(rand() * 4294967296), apex)
					while (name in exists)
					print name, "AAAA"
				} else {
					print apex, "DNSKEY"
				}
			}
		}
	' >"$T/queries" || die "no device AAAA records in the zone"
APEX=$(awk '$2 == "DNSKEY" { print $1; exit }' "$T/queries")
SAMPLE_NAME=$(awk '$2 == "AAAA" && $1 !~ /^nx/ { print $1; exit }' "$T/queries")

if [ -z "$SP_MISSING" ]; then
	check_answers signpostd "$SP_PORT"
	measure signpostd "$SP_PORT"
	memory signpostd "$SERVER_PID" loaded
	stop_server
fi

# NSD as a reference: one server process, no rate limiting, no database
# file, no remote control, everything in the scratch directory. xfrd
# cannot be turned off in NSD 4; with no secondary zones it stays idle.
cat >"$T/nsd.conf" <<CONF
server:
	ip-address: 127.0.0.1@$NSD_PORT
	do-ip6: no
	server-count: 1
	reuseport: no
	username: ""
	chroot: ""
	zonesdir: "$T"
	database: ""
	zonelistfile: "$T/zone.list"
	xfrdfile: "$T/xfrd.state"
	xfrdir: "$T"
	pidfile: "$T/nsd.pid"
	logfile: "$T/nsd.log"
	verbosity: 1
	rrl-ratelimit: 0
	rrl-whitelist-ratelimit: 0
remote-control:
	control-enable: no
zone:
	name: "$ZONE"
	zonefile: "$T/zone.signed"
CONF
nsd-checkconf "$T/nsd.conf" || die "nsd-checkconf rejects $T/nsd.conf"
[ "$(nsd-checkconf -o rrl-ratelimit "$T/nsd.conf")" = 0 ] || die "NSD's rate limiting is not off"
# shellcheck disable=SC2086
$ON_SERVER_CPU nsd -d -c "$T/nsd.conf" 2>>"$T/nsd.log" &
SERVER_PID=$!
wait_answer "$NSD_PORT" || die "NSD did not answer on 127.0.0.1:$NSD_PORT: $(cat "$T/nsd.log")"
memory nsd "$SERVER_PID" started
check_answers nsd "$NSD_PORT"
measure nsd "$NSD_PORT"
memory nsd "$SERVER_PID" loaded
stop_server

echo
echo "DNS, $DEVICES devices in $APEX, $SECONDS_PER_RUN s per server, UDP on 127.0.0.1"
echo "mix of $QUERIES queries with DO: 30% AAAA + 30% IPSECKEY existing, 30% AAAA missing, 10% DNSKEY"
if [ -n "$ON_SERVER_CPU" ]; then
	echo "server on CPU 0, dnsperf on CPU 1 ($CLIENTS clients, $OUTSTANDING outstanding)"
fi
[ -z "$ADD_NOTE" ] || echo "$ADD_NOTE"
[ -z "$NSD_NOTE" ] || echo "$NSD_NOTE"
echo
printf '%-10s %10s  %-12s %9s  %-20s\n' "" "" "" "" "  ------ CPU ------"
printf '%-10s %10s  %-12s %9s  %6s %7s %5s   %s\n' server qps lost latency server dnsperf other responses
if [ -z "$SP_MISSING" ]; then
	row signpostd
else
	printf '%-10s not available yet (%s)\n' signpostd "$SP_MISSING"
fi
row nsd
for label in signpostd nsd; do
	if [ -s "$T/$label.drops" ] && [ "$(cat "$T/$label.drops")" -gt 0 ]; then
		echo "$label: $(cat "$T/$label.drops") UDP datagrams dropped for a full socket buffer"
	fi
done
if [ -z "$SP_MISSING" ]; then
	awk -v a="$(qps_of signpostd)" -v b="$(qps_of nsd)" \
		'BEGIN { printf "\nsignpostd/nsd: %.2fx (target >= 1.00x)\n", a / b }'
else
	echo
	echo "signpostd/nsd: n/a (target >= 1.00x)"
fi

echo
echo "memory with $DEVICES devices, KiB: after the adds (signpostd), when started, after its run"
printf '%-10s %-8s %10s  %s\n' server "" "PSS" "VmRSS of each process"
if [ -z "$SP_MISSING" ]; then
	cat "$T/signpostd.mem"
else
	printf '%-10s %s\n' signpostd "not available yet"
fi
cat "$T/nsd.mem"
