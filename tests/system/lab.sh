# The DNS lab: network namespaces joined by a bridge, NSD serving a lab root
# zone and example., and unbound validating from the lab root's trust anchor.
# Sourced after lib.sh. Needs root, ip, nsd, unbound, ldnsutils and dig.
#
#   lab_up                          namespaces, bridge and addresses
#   lab_exec HOST CMD...            run CMD in HOST's namespace (root|auth|res)
#   lab_spawn HOST NAME CMD...      start CMD there in the background; the pid
#                                   goes to LAB_PID_<NAME>, output to
#                                   $LAB_DIR/NAME.log
#   lab_stop NAME                   stop what lab_spawn started as NAME
#   lab_sign ORIGIN ZONEFILE        Ed25519 KSK+ZSK (made once, next to the
#                                   zone file), sign to ZONEFILE.signed, the
#                                   KSK's DS to ZONEFILE.ds
#   lab_nsd HOST NAME ZONE FILE...  an NSD for the ZONE FILE pairs on HOST's
#                                   addresses, port 53; waits for it
#   lab_root_sign CHILD DS_FILE CHILD_NS_IP4
#                                   sign . and example. with CHILD delegated
#                                   and its DS, (re)start their NSD on `root`
#   lab_resolver_up                 (re)start unbound on `res`; a restart
#                                   empties its cache
#   lab_query NAME TYPE [DIG_OPT...] dig +dnssec through the resolver
#   lab_ad DIG_OUTPUT               true if the answer has the AD flag
#   lab_delv_anchor DS_FILE         print the DS lines as a delv -a file
#   lab_down                        end every process in the namespaces and
#                                   delete them; runs from the EXIT trap
#
# The addresses exist only inside the lab's namespaces, which have no route
# anywhere else, so no query can leave them.

LAB_ID=sp$$
LAB_DIR=$T/lab
LAB_HOSTS="root auth res"
LAB_NETNS=
LAB_PIDS=
LAB_ROOT_IP4=10.53.0.1
LAB_ROOT_IP6=fd53::1
LAB_AUTH_IP4=10.53.0.2
LAB_AUTH_IP6=fd53::2
LAB_RES_IP4=10.53.0.3
LAB_RES_IP6=fd53::3
LAB_ROOT_ANCHOR=$LAB_DIR/root.anchor
export LAB_ID LAB_DIR LAB_ROOT_IP4 LAB_ROOT_IP6 LAB_AUTH_IP4 LAB_AUTH_IP6 \
	LAB_RES_IP4 LAB_RES_IP6 LAB_ROOT_ANCHOR

# lib.sh traps EXIT, INT and TERM with cleanup, which removes $T: the lab's
# daemons must be gone before their files are. An interrupted test exits
# rather than carrying on without its lab; the EXIT trap then does both.
trap 'lab_down; cleanup' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# lab_die MESSAGE [LOG...]: the lab cannot work, so neither can the test.
lab_die() {
	msg=$1
	shift
	echo "Bail out! lab: $msg"
	for log in "$@"; do
		[ -s "$log" ] || continue
		echo "--- last lines of $log:" >&2
		tail -n 25 "$log" >&2
	done
	exit 1
}

lab_ns() {
	case $1 in
	root | auth | res | lan) echo "$LAB_ID-$1" ;;
	*) lab_die "unknown lab host '$1' (root, auth or res)" ;;
	esac
}

lab_ip4() { eval "echo \"\$LAB_$(echo "$1" | tr a-z A-Z)_IP4\""; }
lab_ip6() { eval "echo \"\$LAB_$(echo "$1" | tr a-z A-Z)_IP6\""; }

lab_exec() {
	ns=$(lab_ns "$1")
	shift
	ip netns exec "$ns" "$@"
}

lab_up() {
	[ "$(id -u)" -eq 0 ] || lab_die "needs root to create network namespaces"
	for tool in ip nsd nsd-checkconf unbound unbound-checkconf ldns-keygen \
		ldns-signzone ldns-key2ds dig; do
		command -v "$tool" >/dev/null ||
			lab_die "$tool is missing (apt-get install iproute2 nsd unbound ldnsutils bind9-dnsutils)"
	done
	mkdir -p "$LAB_DIR"
	lan=$(lab_ns lan)
	for h in lan $LAB_HOSTS; do
		ns=$(lab_ns "$h")
		ip netns add "$ns" 2>"$LAB_DIR/ip.log" ||
			lab_die "cannot create network namespace $ns" "$LAB_DIR/ip.log"
		LAB_NETNS="$LAB_NETNS $ns"
		ip -n "$ns" link set lo up
	done
	# The bridge lives in a namespace of its own, so the host's network
	# sees no new link at all.
	(
		ip -n "$lan" link add br0 type bridge &&
			ip -n "$lan" link set br0 up &&
			for h in $LAB_HOSTS; do
				ns=$(lab_ns "$h")
				ip -n "$ns" link add eth0 type veth peer name "$h" netns "$lan" &&
					ip -n "$lan" link set "$h" master br0 up &&
					ip -n "$ns" link set eth0 up &&
					ip -n "$ns" addr add "$(lab_ip4 "$h")/24" dev eth0 &&
					ip -n "$ns" addr add "$(lab_ip6 "$h")/64" dev eth0 nodad ||
					exit 1
			done
	) 2>"$LAB_DIR/ip.log" || lab_die "cannot wire the lab network" "$LAB_DIR/ip.log"
}

# Each spawned command leads a session of its own, so that lab_stop ends
# the daemons it forks too (NSD's xfrd and server processes) by its id.
lab_spawn() {
	host=$1 name=$2
	shift 2
	setsid ip netns exec "$(lab_ns "$host")" "$@" >"$LAB_DIR/$name.log" 2>&1 &
	eval "LAB_PID_$name=$!"
	LAB_PIDS="$LAB_PIDS $!"
}

lab_stop() {
	eval "pid=\${LAB_PID_$1:-}"
	[ -n "$pid" ] || return 0
	kill -TERM "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	i=0
	while lab_group_running "$pid" && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	lab_group_running "$pid" && kill -KILL "-$pid" 2>/dev/null
	eval "LAB_PID_$1="
}

# NSD's main process exits before reaping its server child, which is left a
# zombie until init reaps it; a zombie holds no socket, so it does not count.
lab_group_running() {
	ps -e -o pgid= -o stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { f = 1 } END { exit !f }'
}

lab_alive() {
	eval "pid=\${LAB_PID_$1:-}"
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# lab_wait NAME SERVER QNAME QTYPE [QCLASS] [LOG...]: until SERVER, queried
# from `res`, answers NOERROR; fails loudly if NAME exits first or 10 s pass.
lab_wait() {
	name=$1 server=$2 qname=$3 qtype=$4 qclass=$5
	shift 5
	i=0
	while [ $i -lt 100 ]; do
		lab_alive "$name" ||
			lab_die "$name exited while starting" "$LAB_DIR/$name.log" "$@"
		lab_exec res dig +norec +time=1 +tries=1 @"$server" "$qname" "$qclass" "$qtype" \
			2>&1 | grep -q 'status: NOERROR' && return 0
		sleep 0.1
		i=$((i + 1))
	done
	lab_die "$name does not answer $qname $qtype at $server after 10 s" \
		"$LAB_DIR/$name.log" "$@"
}

# Dates for RRSIGs: a day of clock skew before, ten years after. Further than
# 68 years would wrap RFC 4034 serial arithmetic into the past.
lab_sign() {
	origin=$1 zonefile=$2
	dir=$(dirname "$zonefile")
	keyname=$(printf '%s' "$origin" | tr -c 'a-zA-Z0-9.-' _)
	[ "$keyname" = . ] && keyname=root
	if [ ! -f "$dir/$keyname.ksk" ]; then
		(cd "$dir" && ldns-keygen -a ED25519 -k "$origin" >"$keyname.ksk" &&
			ldns-keygen -a ED25519 "$origin" >"$keyname.zsk") 2>"$dir/keygen.log" ||
			lab_die "ldns-keygen failed for $origin" "$dir/keygen.log"
	fi
	ksk=$dir/$(cat "$dir/$keyname.ksk")
	zsk=$dir/$(cat "$dir/$keyname.zsk")
	ldns-signzone -o "$origin" -i "$(date -u -d '-1 day' +%Y%m%d)" \
		-e "$(date -u -d '+10 years' +%Y%m%d)" -f "$zonefile.signed" \
		"$zonefile" "$ksk" "$zsk" 2>"$dir/sign.log" ||
		lab_die "ldns-signzone failed for $origin" "$dir/sign.log"
	ldns-key2ds -n -2 "$ksk.key" >"$zonefile.ds"
}

lab_nsd() {
	host=$1 name=$2
	shift 2
	[ $# -ge 2 ] || lab_die "lab_nsd $host $name: no ZONE FILE pair"
	first=$1
	dir=$LAB_DIR/$name
	mkdir -p "$dir"
	conf=$dir/nsd.conf
	# NSD has no way to run without its xfrd process; with no zone that
	# has a primary it simply idles.
	cat >"$conf" <<EOF
server:
	ip-address: $(lab_ip4 "$host")
	ip-address: $(lab_ip6 "$host")
	port: 53
	server-count: 1
	username: ""
	chroot: ""
	zonesdir: "$dir"
	database: ""
	zonelistfile: "$dir/zone.list"
	xfrdfile: "$dir/xfrd.state"
	xfrdir: "$dir"
	pidfile: "$dir/nsd.pid"
	cookie-secret-file: "$dir/cookiesecrets.txt"
	logfile: "$dir/nsd.log"
	verbosity: 1
	hide-version: yes
remote-control:
	control-enable: no
EOF
	while [ $# -ge 2 ]; do
		printf 'zone:\n\tname: "%s"\n\tzonefile: "%s"\n' "$1" "$2" >>"$conf"
		shift 2
	done
	nsd-checkconf "$conf" >"$dir/checkconf.log" 2>&1 ||
		lab_die "nsd-checkconf rejects $conf" "$dir/checkconf.log"
	lab_stop "$name"
	lab_spawn "$host" "$name" nsd -d -c "$conf"
	lab_wait "$name" "$(lab_ip4 "$host")" "$first" SOA IN "$dir/nsd.log"
	lab_wait "$name" "$(lab_ip6 "$host")" "$first" SOA IN "$dir/nsd.log"
}

lab_root_sign() {
	child=$1 ds_file=$2 child_ip4=$3
	child=$(printf '%s' "$child" | tr A-Z a-z)
	case $child in *.) ;; *) child=$child. ;; esac
	case $child in
	*?.example.) ;;
	*) lab_die "lab_root_sign: '$child' is not a zone under example." ;;
	esac
	grep -E '^[^;[:space:]]+[[:space:]].*[[:space:]]DS[[:space:]]' "$ds_file" \
		>"$LAB_DIR/child.ds" 2>/dev/null
	[ -s "$LAB_DIR/child.ds" ] ||
		lab_die "lab_root_sign: no DS record for $child in '$ds_file'" "$ds_file"
	grep -qvi "^$child[[:space:]]" "$LAB_DIR/child.ds" &&
		lab_die "lab_root_sign: '$ds_file' has a DS that is not for $child" "$ds_file"

	dir=$LAB_DIR/root_nsd
	mkdir -p "$dir"
	serial=$(date +%s)
	cat >"$dir/example.zone" <<EOF
\$TTL 3600
example.	IN	SOA	ns.example. hostmaster.example. $serial 1800 900 604800 300
example.	IN	NS	ns.example.
ns.example.	IN	A	$LAB_ROOT_IP4
ns.example.	IN	AAAA	$LAB_ROOT_IP6
$child	IN	NS	ns.$child
ns.$child	IN	A	$child_ip4
ns.$child	IN	AAAA	$LAB_AUTH_IP6
EOF
	cat "$LAB_DIR/child.ds" >>"$dir/example.zone"
	lab_sign example. "$dir/example.zone"

	cat >"$dir/root.zone" <<EOF
\$TTL 3600
.	IN	SOA	ns.lab. hostmaster.lab. $serial 1800 900 604800 300
.	IN	NS	ns.lab.
ns.lab.	IN	A	$LAB_ROOT_IP4
ns.lab.	IN	AAAA	$LAB_ROOT_IP6
example.	IN	NS	ns.example.
ns.example.	IN	A	$LAB_ROOT_IP4
ns.example.	IN	AAAA	$LAB_ROOT_IP6
EOF
	cat "$dir/example.zone.ds" >>"$dir/root.zone"
	lab_sign . "$dir/root.zone"
	cp "$dir/root.zone.ds" "$LAB_ROOT_ANCHOR"

	lab_nsd root root_nsd . "$dir/root.zone.signed" example. "$dir/example.zone.signed"
}

lab_resolver_up() {
	[ -s "$LAB_ROOT_ANCHOR" ] || lab_die "lab_resolver_up: no root trust anchor; call lab_root_sign first"
	dir=$LAB_DIR/unbound
	mkdir -p "$dir"
	cat >"$dir/root.hints" <<EOF
.	3600000	IN	NS	ns.lab.
ns.lab.	3600000	IN	A	$LAB_ROOT_IP4
ns.lab.	3600000	IN	AAAA	$LAB_ROOT_IP6
EOF
	# use-syslog off and no logfile: with -d everything goes to stderr,
	# which lab_spawn keeps in $LAB_DIR/unbound.log.
	cat >"$dir/unbound.conf" <<EOF
server:
	interface: $LAB_RES_IP4
	interface: $LAB_RES_IP6
	interface: 127.0.0.1
	port: 53
	num-threads: 1
	username: ""
	chroot: ""
	directory: "$dir"
	pidfile: "$dir/unbound.pid"
	use-syslog: no
	logfile: ""
	log-time-ascii: yes
	verbosity: 1
	val-log-level: 2
	access-control: 127.0.0.0/8 allow
	access-control: 10.53.0.0/24 allow
	access-control: fd53::/64 allow
	root-hints: "$dir/root.hints"
	trust-anchor-file: "$LAB_ROOT_ANCHOR"
	do-not-query-localhost: no
	harden-dnssec-stripped: yes
remote-control:
	control-enable: no
EOF
	unbound-checkconf "$dir/unbound.conf" >"$dir/checkconf.log" 2>&1 ||
		lab_die "unbound-checkconf rejects $dir/unbound.conf" "$dir/checkconf.log"
	lab_stop unbound
	lab_spawn res unbound unbound -d -c "$dir/unbound.conf"
	lab_wait unbound "$LAB_RES_IP4" version.server TXT CH
}

lab_query() {
	name=$1 type=$2
	shift 2
	lab_exec res dig +dnssec +time=3 +tries=1 "$@" @"$LAB_RES_IP4" "$name" "$type"
}

# lab_delv_anchor DS_FILE: the DS lines as the trust-anchors clause delv -a
# reads; delv does not take zone-file DS lines.
lab_delv_anchor() {
	awk '/^[^;]/ { for (i = 1; i <= NF && $i != "DS"; i++) ; if (i > NF) next
		d = ""; for (j = i + 4; j <= NF; j++) d = d $j
		a = a sprintf("\t%s static-ds %s %s %s \"%s\";\n", $1, $(i + 1), $(i + 2), $(i + 3), d) }
		END { if (a == "") exit 1; printf "trust-anchors {\n%s};\n", a }' "$1"
}

lab_ad() { printf '%s\n' "$1" | grep -Eq '^;; flags:[a-z ]* ad[ ;]'; }

lab_down() {
	[ -n "$LAB_NETNS" ] || return 0
	# Every process in the lab's namespaces was started by this test.
	for sig in TERM TERM TERM TERM TERM TERM TERM TERM TERM TERM KILL; do
		pids=
		for ns in $LAB_NETNS; do
			pids="$pids $(ip netns pids "$ns" 2>/dev/null)"
		done
		[ -n "$(echo $pids)" ] || break
		# shellcheck disable=SC2086
		kill -"$sig" $pids 2>/dev/null
		sleep 0.2
	done
	for pid in $LAB_PIDS; do
		wait "$pid" 2>/dev/null
	done
	LAB_PIDS=
	for ns in $LAB_NETNS; do
		ip netns delete "$ns" 2>/dev/null ||
			echo "# lab: could not delete network namespace $ns" >&2
	done
	LAB_NETNS=
}
