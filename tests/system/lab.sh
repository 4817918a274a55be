# The DNS lab: network namespaces joined by a bridge, NSD serving a lab root
# zone and example., and unbound validating from the lab root's trust anchor.
# Sourced after lib.sh. Needs root, iproute2, nsd, unbound, ldnsutils and dig
# (delv for lab_delv_anchor's users).
#
#   lab_up                           namespaces, bridge and addresses
#   lab_exec HOST CMD...             run CMD in HOST's namespace (root|auth|res)
#   lab_spawn HOST NAME CMD...       start CMD there in the background: pid in
#                                    LAB_PID_<NAME>, output in $LAB_DIR/NAME.log
#                                    (NAME: letters, digits, _)
#   lab_stop NAME                    stop it and whatever it forked
#   lab_sign ORIGIN ZONEFILE         Ed25519 KSK+ZSK (made once, next to the
#                                    zone file), sign to ZONEFILE.signed, the
#                                    KSK's DS (ldns-key2ds -n -2) to ZONEFILE.ds
#   lab_nsd HOST NAME ZONE FILE [ZONE FILE...]
#                                    (re)start an NSD for the zones on HOST's
#                                    addresses, port 53; wait until it answers
#   lab_root_sign CHILD DS_FILE CHILD_NS_IP4
#                                    sign . and example. with CHILD delegated
#                                    and its DS; (re)start their NSD on `root`
#   lab_resolver_up                  (re)start unbound on `res`; a restart
#                                    also empties its cache
#   lab_query NAME TYPE [DIG_OPT...] dig +dnssec through the resolver
#   lab_ad DIG_OUTPUT                true if dig's flags include ad
#   lab_delv_anchor DS_FILE          print the DS lines as a delv -a file
#   lab_down                         end every process in the namespaces and
#                                    delete them; the EXIT trap runs it
#
# The addresses exist only inside the lab's namespaces, which have no route
# anywhere else, so no query can leave them. Internal variables start with _l
# because POSIX sh has no locals.

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
# rather than carrying on without its lab; its EXIT trap then does both.
trap 'lab_down; cleanup' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# lab_die MESSAGE [LOG...]: the lab cannot work, so neither can the test.
lab_die() {
	echo "Bail out! lab: $1"
	echo "lab: $1" >&2
	shift
	for _l_log in "$@"; do
		[ -s "$_l_log" ] || continue
		echo "--- last lines of $_l_log:" >&2
		tail -n 25 "$_l_log" >&2
	done
	exit 1
}

# lab_host HOST: sets _l_ns, _l_ip4 and _l_ip6 for it.
lab_host() {
	case $1 in
	root) _l_ip4=$LAB_ROOT_IP4 _l_ip6=$LAB_ROOT_IP6 ;;
	auth) _l_ip4=$LAB_AUTH_IP4 _l_ip6=$LAB_AUTH_IP6 ;;
	res) _l_ip4=$LAB_RES_IP4 _l_ip6=$LAB_RES_IP6 ;;
	lan) _l_ip4='' _l_ip6='' ;;
	*) lab_die "unknown lab host '$1' (root, auth or res)" ;;
	esac
	_l_ns=$LAB_ID-$1
}

lab_exec() {
	lab_host "$1"
	shift
	ip netns exec "$_l_ns" "$@"
}

lab_up() {
	[ "$(id -u)" -eq 0 ] || lab_die "needs root to create network namespaces"
	for _l_tool in ip setsid nsd nsd-checkconf unbound unbound-checkconf \
		ldns-keygen ldns-signzone ldns-key2ds dig; do
		command -v "$_l_tool" >/dev/null ||
			lab_die "$_l_tool is missing (apt-get install iproute2 nsd unbound ldnsutils bind9-dnsutils)"
	done
	mkdir -p "$LAB_DIR"
	for _l_h in lan $LAB_HOSTS; do
		lab_host "$_l_h"
		ip netns add "$_l_ns" 2>"$LAB_DIR/ip.log" ||
			lab_die "cannot create network namespace $_l_ns" "$LAB_DIR/ip.log"
		LAB_NETNS="$LAB_NETNS $_l_ns"
		ip -n "$_l_ns" link set lo up
	done
	# The bridge lives in a namespace of its own, so the host's network
	# sees no new link at all. nodad: the IPv6 addresses work at once.
	_l_lan=$LAB_ID-lan
	{
		ip -n "$_l_lan" link add br0 type bridge &&
			ip -n "$_l_lan" link set br0 up
	} 2>"$LAB_DIR/ip.log" ||
		lab_die "cannot create the lab's bridge" "$LAB_DIR/ip.log"
	for _l_h in $LAB_HOSTS; do
		lab_host "$_l_h"
		{
			ip -n "$_l_ns" link add eth0 type veth peer name "$_l_h" netns "$_l_lan" &&
				ip -n "$_l_lan" link set "$_l_h" master br0 up &&
				ip -n "$_l_ns" link set eth0 up &&
				ip -n "$_l_ns" addr add "$_l_ip4/24" dev eth0 &&
				ip -n "$_l_ns" addr add "$_l_ip6/64" dev eth0 nodad
		} 2>"$LAB_DIR/ip.log" ||
			lab_die "cannot wire $_l_h to the lab's bridge" "$LAB_DIR/ip.log"
	done
}

# Each spawned command leads a session of its own (setsid does not fork when
# its caller is no group leader, so $! is the command), and lab_stop can end
# what it forks too, NSD's xfrd and server processes, by that one id.
lab_spawn() {
	lab_host "$1"
	_l_name=$2
	shift 2
	setsid ip netns exec "$_l_ns" "$@" >"$LAB_DIR/$_l_name.log" 2>&1 &
	eval "LAB_PID_$_l_name=$!"
	LAB_PIDS="$LAB_PIDS $!"
}

lab_stop() {
	eval "_l_pid=\${LAB_PID_$1:-}"
	[ -n "$_l_pid" ] || return 0
	group_stop "$_l_pid"
	eval "LAB_PID_$1="
}

lab_alive() {
	eval "_l_pid=\${LAB_PID_$1:-}"
	[ -n "$_l_pid" ] && kill -0 "$_l_pid" 2>/dev/null
}

# lab_wait NAME SERVER QNAME QCLASS QTYPE [LOG...]: until SERVER, asked from
# `res`, answers NOERROR; fails loudly if NAME exits first or 10 s pass.
lab_wait() {
	_l_name=$1 _l_server=$2 _l_q="$3 $4 $5"
	shift 5
	_l_end=$(($(date +%s) + 10))
	while [ "$(date +%s)" -le $_l_end ]; do
		lab_alive "$_l_name" ||
			lab_die "$_l_name exited while starting" "$LAB_DIR/$_l_name.log" "$@"
		# shellcheck disable=SC2086
		lab_exec res dig +norec +time=1 +tries=1 @"$_l_server" $_l_q 2>&1 |
			grep -q 'status: NOERROR' && return 0
		sleep 0.1
	done
	lab_die "$_l_name does not answer $_l_q at $_l_server after 10 s" \
		"$LAB_DIR/$_l_name.log" "$@"
}

# RRSIGs from a day before now (clock skew) to ten years after: further than
# 68 years would wrap RFC 4034's serial arithmetic into the past.
lab_sign() {
	_l_origin=$1 _l_zone=$2
	_l_dir=$(dirname "$_l_zone")
	_l_key=$(printf '%s' "$_l_origin" | tr -c 'a-zA-Z0-9.-' _)
	[ "$_l_key" = . ] && _l_key=root
	if [ ! -s "$_l_dir/$_l_key.zsk" ]; then
		(cd "$_l_dir" && ldns-keygen -a ED25519 -k "$_l_origin" >"$_l_key.ksk" &&
			ldns-keygen -a ED25519 "$_l_origin" >"$_l_key.zsk") 2>"$_l_dir/keygen.log" ||
			lab_die "ldns-keygen failed for $_l_origin" "$_l_dir/keygen.log"
	fi
	_l_ksk=$_l_dir/$(cat "$_l_dir/$_l_key.ksk")
	_l_zsk=$_l_dir/$(cat "$_l_dir/$_l_key.zsk")
	ldns-signzone -o "$_l_origin" -i "$(date -u -d '-1 day' +%Y%m%d)" \
		-e "$(date -u -d '+10 years' +%Y%m%d)" -f "$_l_zone.signed" \
		"$_l_zone" "$_l_ksk" "$_l_zsk" 2>"$_l_dir/sign.log" ||
		lab_die "ldns-signzone failed for $_l_origin" "$_l_dir/sign.log"
	ldns-key2ds -n -2 "$_l_ksk.key" >"$_l_zone.ds" ||
		lab_die "ldns-key2ds failed for $_l_ksk.key"
}

lab_nsd() {
	lab_host "$1"
	_l_host=$1 _l_name=$2 _l_v4=$_l_ip4 _l_v6=$_l_ip6
	shift 2
	[ $# -ge 2 ] || lab_die "lab_nsd: no ZONE FILE pair for $_l_name"
	_l_first=$1
	_l_dir=$LAB_DIR/$_l_name
	mkdir -p "$_l_dir"
	# Every path NSD would take from /etc or /var/lib is set here. NSD cannot
	# run without its xfrd process; with no primaries to ask, it idles.
	cat >"$_l_dir/nsd.conf" <<EOF
server:
	ip-address: $_l_v4
	ip-address: $_l_v6
	port: 53
	server-count: 1
	username: ""
	chroot: ""
	zonesdir: "$_l_dir"
	database: ""
	zonelistfile: "$_l_dir/zone.list"
	xfrdfile: "$_l_dir/xfrd.state"
	xfrdir: "$_l_dir"
	pidfile: "$_l_dir/nsd.pid"
	cookie-secret-file: "$_l_dir/cookiesecrets.txt"
	logfile: "$_l_dir/nsd.log"
	verbosity: 1
	hide-version: yes
remote-control:
	control-enable: no
EOF
	while [ $# -ge 2 ]; do
		printf 'zone:\n\tname: "%s"\n\tzonefile: "%s"\n' "$1" "$2" >>"$_l_dir/nsd.conf"
		shift 2
	done
	nsd-checkconf "$_l_dir/nsd.conf" >"$_l_dir/checkconf.log" 2>&1 ||
		lab_die "nsd-checkconf rejects $_l_dir/nsd.conf" "$_l_dir/checkconf.log"
	lab_stop "$_l_name"
	lab_spawn "$_l_host" "$_l_name" nsd -d -c "$_l_dir/nsd.conf"
	lab_wait "$_l_name" "$_l_v4" "$_l_first" IN SOA "$_l_dir/nsd.log"
	lab_wait "$_l_name" "$_l_v6" "$_l_first" IN SOA "$_l_dir/nsd.log"
}

lab_root_sign() {
	_l_child=$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')
	_l_ds=$2 _l_child_ip4=$3
	case $_l_child in *.) ;; *) _l_child=$_l_child. ;; esac
	case $_l_child in
	*?.example.) ;;
	*) lab_die "lab_root_sign: '$_l_child' is not a zone under example." ;;
	esac
	_l_dir=$LAB_DIR/root_nsd
	mkdir -p "$_l_dir"
	grep -E '^[^;[:space:]]+[[:space:]].*[[:space:]]DS[[:space:]]' "$_l_ds" \
		>"$_l_dir/child.ds" 2>/dev/null
	[ -s "$_l_dir/child.ds" ] ||
		lab_die "lab_root_sign: no DS record in '$_l_ds'" "$_l_ds"
	grep -qvi "^${_l_child}[[:space:]]" "$_l_dir/child.ds" &&
		lab_die "lab_root_sign: '$_l_ds' has a DS that is not for $_l_child" "$_l_ds"

	_l_serial=$(date +%s)
	cat - "$_l_dir/child.ds" >"$_l_dir/example.zone" <<EOF
\$TTL 3600
example.	IN	SOA	ns.example. hostmaster.example. $_l_serial 1800 900 604800 300
example.	IN	NS	ns.example.
ns.example.	IN	A	$LAB_ROOT_IP4
ns.example.	IN	AAAA	$LAB_ROOT_IP6
$_l_child	IN	NS	ns.$_l_child
ns.$_l_child	IN	A	$_l_child_ip4
ns.$_l_child	IN	AAAA	$LAB_AUTH_IP6
EOF
	lab_sign example. "$_l_dir/example.zone"

	cat - "$_l_dir/example.zone.ds" >"$_l_dir/root.zone" <<EOF
\$TTL 3600
.	IN	SOA	ns.lab. hostmaster.lab. $_l_serial 1800 900 604800 300
.	IN	NS	ns.lab.
ns.lab.	IN	A	$LAB_ROOT_IP4
ns.lab.	IN	AAAA	$LAB_ROOT_IP6
example.	IN	NS	ns.example.
ns.example.	IN	A	$LAB_ROOT_IP4
ns.example.	IN	AAAA	$LAB_ROOT_IP6
EOF
	lab_sign . "$_l_dir/root.zone"
	cp "$_l_dir/root.zone.ds" "$LAB_ROOT_ANCHOR"

	lab_nsd root root_nsd . "$_l_dir/root.zone.signed" \
		example. "$_l_dir/example.zone.signed"
}

lab_resolver_up() {
	[ -s "$LAB_ROOT_ANCHOR" ] ||
		lab_die "lab_resolver_up: no root trust anchor yet; call lab_root_sign first"
	_l_dir=$LAB_DIR/unbound
	mkdir -p "$_l_dir"
	cat >"$_l_dir/root.hints" <<EOF
.	3600000	IN	NS	ns.lab.
ns.lab.	3600000	IN	A	$LAB_ROOT_IP4
ns.lab.	3600000	IN	AAAA	$LAB_ROOT_IP6
EOF
	# No syslog and no logfile: under -d unbound then logs to stderr, which
	# lab_spawn keeps in $LAB_DIR/unbound.log.
	cat >"$_l_dir/unbound.conf" <<EOF
server:
	interface: $LAB_RES_IP4
	interface: $LAB_RES_IP6
	interface: 127.0.0.1
	port: 53
	num-threads: 1
	username: ""
	chroot: ""
	directory: "$_l_dir"
	pidfile: "$_l_dir/unbound.pid"
	use-syslog: no
	logfile: ""
	log-time-ascii: yes
	verbosity: 1
	val-log-level: 2
	access-control: 127.0.0.0/8 allow
	access-control: 10.53.0.0/24 allow
	access-control: fd53::/64 allow
	root-hints: "$_l_dir/root.hints"
	trust-anchor-file: "$LAB_ROOT_ANCHOR"
	do-not-query-localhost: no
	harden-dnssec-stripped: yes
remote-control:
	control-enable: no
EOF
	unbound-checkconf "$_l_dir/unbound.conf" >"$_l_dir/checkconf.log" 2>&1 ||
		lab_die "unbound-checkconf rejects $_l_dir/unbound.conf" "$_l_dir/checkconf.log"
	lab_stop unbound
	lab_spawn res unbound unbound -d -c "$_l_dir/unbound.conf"
	lab_wait unbound "$LAB_RES_IP4" version.server CH TXT
}

lab_query() {
	_l_qname=$1 _l_qtype=$2
	shift 2
	lab_exec res dig +dnssec +time=3 +tries=1 "$@" @"$LAB_RES_IP4" "$_l_qname" "$_l_qtype"
}

lab_ad() { printf '%s\n' "$1" | grep -Eq '^;; flags:[a-z ]* ad[ ;]'; }

# lab_delv_anchor DS_FILE: delv -a reads named.conf's trust-anchors clause,
# not zone-file DS lines.
lab_delv_anchor() {
	awk '/^[^;]/ { for (i = 1; i <= NF && $i != "DS"; i++) ; if (i > NF) next
		d = ""; for (j = i + 4; j <= NF; j++) d = d $j
		a = a sprintf("\t%s static-ds %s %s %s \"%s\";\n", $1, $(i + 1), $(i + 2), $(i + 3), d) }
		END { if (a == "") exit 1; printf "trust-anchors {\n%s};\n", a }' "$1"
}

lab_down() {
	[ -n "$LAB_NETNS" ] || return 0
	# Whatever runs in the lab's namespaces was started by this test,
	# through lab_spawn or not.
	# shellcheck disable=SC2086
	netns_end $LAB_NETNS
	for _l_pid in $LAB_PIDS; do
		wait "$_l_pid" 2>/dev/null
	done
	LAB_PIDS=
	for _l_ns in $LAB_NETNS; do
		ip netns delete "$_l_ns" 2>/dev/null ||
			echo "# lab: could not delete network namespace $_l_ns" >&2
	done
	LAB_NETNS=
}
