# The WireGuard lab: two network namespaces, A and B, joined by one veth pair,
# and the reference userspace WireGuard, wireguard-go configured with `wg`,
# on either side. Sourced after lib.sh (and after lab.sh, if a test uses
# both). Needs root, iproute2, util-linux's setsid, wireguard-go and
# wireguard-tools, and for the tests iputils-ping, netcat-openbsd, iperf3 and
# jq. scripts/install-deps.sh installs them (`make test` runs it); wg_lab_up
# only checks, and stops naming the missing packages.
#
#   wg_lab_up                        namespaces, veth, underlay addresses; exports
#                                    WG_A_NS WG_B_NS WG_A_IP WG_B_IP WG_A_IP6 WG_B_IP6
#   wg_exec A|B CMD...               run CMD in that side's namespace
#   wg_spawn A|B NAME CMD...         start CMD there in the background, in a
#                                    session of its own: pid in WG_PID, output
#                                    in $T/NAME.log; wg_lab_down ends it
#   wg_stop PID                      end it and whatever it forked
#   wg_keypair NAME                  $T/NAME.key and $T/NAME.pub
#   wg_go_up SIDE IFNAME PRIVKEY_FILE LISTEN_PORT ADDR/PREFIX [ADDR/PREFIX...]
#                                    wireguard-go -f IFNAME on SIDE (log in
#                                    $T/wg-IFNAME.log), key and port set, the
#                                    overlay addresses on it, the link up
#   wg_go_down IFNAME                stop that wireguard-go, remove its socket
#   wg_peer SIDE IFNAME PEER_PUB ENDPOINT ALLOWED_IPS [KEEPALIVE]
#                                    add or change a peer; PEER_PUB is a key or
#                                    a file holding one, ENDPOINT may be "-".
#                                    Configure the side that answers first: an
#                                    initiation it cannot place yet costs the
#                                    initiator a 5 s retry
#   wg_handshake SIDE IFNAME PEER_PUB
#                                    print the peer's latest handshake (0: none)
#   wg_move_address SIDE OLD NEW     replace an underlay address (roaming),
#                                    then make SIDE's wireguard-go forget the
#                                    old source address (see there)
#   wg_wait_tcp SIDE PORT            until something listens on TCP PORT there
#                                    (false after 10 s)
#   wg_lab_down                      end every process in the namespaces, remove
#                                    the sockets and namespaces; the EXIT trap
#                                    runs it
#
# IFNAME is at most 15 characters of [A-Za-z0-9_] and must contain the test's
# $$ (use "${WG_ID}a" and the like): wireguard-go's control sockets live in
# /var/run/wireguard, which every namespace shares, so two runs that picked
# the same name would take over each other's interface.
#
# The underlay exists only inside the two namespaces, which have no route
# anywhere else, so no packet can leave them. Internal variables start with
# _w because POSIX sh has no locals.

WG_ID=spwg$$
WG_A_NS=$WG_ID-a
WG_B_NS=$WG_ID-b
WG_A_IP=10.77.0.1
WG_B_IP=10.77.0.2
WG_A_IP6=fd77::1
WG_B_IP6=fd77::2
WG_RUN=/var/run/wireguard
WG_NETNS=
WG_PIDS=
WG_IFS=
WG_PID=
export WG_ID WG_A_NS WG_B_NS WG_A_IP WG_B_IP WG_A_IP6 WG_B_IP6

# lib.sh traps EXIT, INT and TERM with cleanup, which removes $T: the lab's
# processes must be gone before their files are. An interrupted test exits
# rather than carrying on without its lab; its EXIT trap then does it all.
if command -v lab_down >/dev/null 2>&1; then
	trap 'wg_lab_down; lab_down; cleanup' EXIT
else
	trap 'wg_lab_down; cleanup' EXIT
fi
trap 'exit 130' INT
trap 'exit 143' TERM

wg_lab_die() {
	echo "Bail out! wglab: $1"
	echo "wglab: $1" >&2
	shift
	for _w_log in "$@"; do
		[ -s "$_w_log" ] || continue
		echo "--- last lines of $_w_log:" >&2
		tail -n 25 "$_w_log" >&2
	done
	exit 1
}

# wg_side SIDE: sets _w_ns, _w_ip4 and _w_ip6 for it.
wg_side() {
	case $1 in
	A | a) _w_S=A _w_ns=$WG_A_NS _w_ip4=$WG_A_IP _w_ip6=$WG_A_IP6 ;;
	B | b) _w_S=B _w_ns=$WG_B_NS _w_ip4=$WG_B_IP _w_ip6=$WG_B_IP6 ;;
	*) wg_lab_die "unknown side '$1' (A or B)" ;;
	esac
}

wg_exec() {
	wg_side "$1"
	shift
	ip netns exec "$_w_ns" "$@"
}

# A test installs nothing: scripts/install-deps.sh installs what every test
# needs, so a missing tool here means it was not run.
wg_lab_deps() {
	_w_missing=
	for _w_pair in ip:iproute2 ss:iproute2 setsid:util-linux wg:wireguard-tools \
		wireguard-go:wireguard-go ping:iputils-ping nc:netcat-openbsd \
		iperf3:iperf3 jq:jq; do
		command -v "${_w_pair%%:*}" >/dev/null 2>&1 && continue
		case " $_w_missing " in *" ${_w_pair#*:} "*) ;; *) _w_missing="$_w_missing ${_w_pair#*:}" ;; esac
	done
	# nc alone could be the traditional netcat, whose flags differ.
	command -v nc >/dev/null 2>&1 && ! nc -h 2>&1 | grep -q -- '-N' &&
		_w_missing="$_w_missing netcat-openbsd"
	[ -z "$_w_missing" ] ||
		wg_lab_die "missing Debian packages:$_w_missing; run scripts/install-deps.sh (or make test, which runs it)"
}

wg_lab_up() {
	[ "$(id -u)" -eq 0 ] || wg_lab_die "needs root to create network namespaces"
	wg_lab_deps
	# wireguard-go opens /dev/net/tun in whatever namespace it runs in; the
	# device node itself is the host's, shared by every namespace.
	[ -c /dev/net/tun ] ||
		wg_lab_die "no /dev/net/tun (modprobe tun, or give the container the device)"
	for _w_s in A B; do
		wg_side $_w_s
		ip netns add "$_w_ns" 2>"$T/wg-ip.log" ||
			wg_lab_die "cannot create network namespace $_w_ns" "$T/wg-ip.log"
		WG_NETNS="$WG_NETNS $_w_ns"
		ip -n "$_w_ns" link set lo up
	done
	# Both ends are called eth0, each in its own namespace. nodad: the IPv6
	# addresses work at once.
	ip -n "$WG_A_NS" link add eth0 type veth peer name eth0 netns "$WG_B_NS" \
		2>"$T/wg-ip.log" || wg_lab_die "cannot wire A to B" "$T/wg-ip.log"
	for _w_s in A B; do
		wg_side $_w_s
		{
			ip -n "$_w_ns" link set eth0 up &&
				ip -n "$_w_ns" addr add "$_w_ip4/24" dev eth0 &&
				ip -n "$_w_ns" addr add "$_w_ip6/64" dev eth0 nodad
		} 2>"$T/wg-ip.log" || wg_lab_die "cannot address $_w_s's eth0" "$T/wg-ip.log"
	done
}

# As in lab.sh: setsid does not fork when its caller leads no process group,
# and `ip netns exec` execs, so $! is the command itself and wg_stop can end
# what it forks by that one id.
wg_spawn() {
	wg_side "$1"
	case $2 in
	'' | *[!A-Za-z0-9_.-]*) wg_lab_die "wg_spawn: bad log name '$2'" ;;
	esac
	_w_log=$T/$2.log
	shift 2
	setsid ip netns exec "$_w_ns" "$@" >"$_w_log" 2>&1 &
	WG_PID=$!
	WG_PIDS="$WG_PIDS $WG_PID"
}

wg_stop() {
	group_stop "$1"
}

wg_keypair() {
	(umask 077 && wg genkey >"$T/$1.key" && wg pubkey <"$T/$1.key" >"$T/$1.pub") ||
		wg_lab_die "wg genkey/pubkey failed for $1"
}

wg_ifname_ok() {
	case $1 in
	'' | *[!A-Za-z0-9_]* | ????????????????*)
		wg_lab_die "interface name '$1': 1 to 15 of [A-Za-z0-9_]" ;;
	*"$$"*) ;;
	*) wg_lab_die "interface name '$1' lacks this run's \$\$ ($$); try ${WG_ID}a" ;;
	esac
}

# The socket file alone does not say that this wireguard-go is ready: one
# left by a killed process can be there before the new one replaces it. `wg
# show` connects to it, so only a live daemon answers.
wg_go_up() {
	_w_side=$1 _w_if=$2 _w_key=$3 _w_port=$4
	[ $# -ge 5 ] || wg_lab_die "usage: wg_go_up SIDE IFNAME PRIVKEY_FILE LISTEN_PORT ADDR/PREFIX..."
	shift 4
	wg_side "$_w_side"
	wg_ifname_ok "$_w_if"
	[ -s "$_w_key" ] || wg_lab_die "wg_go_up: no private key in '$_w_key'"
	_w_log=$T/wg-$_w_if.log
	[ -S "$WG_RUN/$_w_if.sock" ] && wg show "$_w_if" >/dev/null 2>&1 &&
		wg_lab_die "$WG_RUN/$_w_if.sock already answers: another run uses $_w_if"
	# -f keeps it in the foreground, WG_PROCESS_FOREGROUND=1 as well and
	# silences its advice to use the kernel module instead.
	wg_spawn "$_w_side" "wg-$_w_if" env WG_PROCESS_FOREGROUND=1 \
		LOG_LEVEL="${WG_LOG_LEVEL:-verbose}" wireguard-go -f "$_w_if"
	eval "_w_pid_$_w_if=$WG_PID _w_side_$_w_if=$_w_S"
	WG_IFS="$WG_IFS $_w_if"
	_w_i=0
	until wg_exec "$_w_side" wg show "$_w_if" >/dev/null 2>&1; do
		kill -0 "$WG_PID" 2>/dev/null ||
			wg_lab_die "wireguard-go for $_w_if exited while starting" "$_w_log"
		[ $_w_i -lt 100 ] ||
			wg_lab_die "no UAPI socket $WG_RUN/$_w_if.sock after 10 s" "$_w_log"
		sleep 0.1
		_w_i=$((_w_i + 1))
	done
	wg_exec "$_w_side" wg set "$_w_if" private-key "$_w_key" listen-port "$_w_port" \
		>"$T/wg-set.log" 2>&1 ||
		wg_lab_die "wg set $_w_if private-key ... listen-port $_w_port failed" \
			"$T/wg-set.log" "$_w_log"
	for _w_addr; do
		case $_w_addr in *:*) _w_nodad=nodad ;; *) _w_nodad= ;; esac
		# shellcheck disable=SC2086
		wg_exec "$_w_side" ip addr add "$_w_addr" dev "$_w_if" $_w_nodad \
			2>"$T/wg-ip.log" ||
			wg_lab_die "cannot put $_w_addr on $_w_if" "$T/wg-ip.log"
	done
	wg_exec "$_w_side" ip link set "$_w_if" up 2>"$T/wg-ip.log" ||
		wg_lab_die "cannot bring $_w_if up" "$T/wg-ip.log" "$_w_log"
}

# wireguard-go removes its socket when it exits on a signal; a KILL leaves it.
wg_go_down() {
	wg_ifname_ok "$1"
	eval "_w_pid=\${_w_pid_$1:-}"
	wg_stop "$_w_pid"
	eval "_w_pid_$1="
	rm -f "$WG_RUN/$1.sock"
}

wg_peer() {
	_w_side=$1 _w_if=$2 _w_pub=$3 _w_ep=$4 _w_allowed=$5 _w_ka=${6:-}
	[ $# -ge 5 ] || wg_lab_die "usage: wg_peer SIDE IFNAME PEER_PUB ENDPOINT ALLOWED_IPS [KEEPALIVE]"
	[ -f "$_w_pub" ] && _w_pub=$(cat "$_w_pub")
	set -- peer "$_w_pub" allowed-ips "$_w_allowed"
	[ "$_w_ep" = - ] || [ -z "$_w_ep" ] || set -- "$@" endpoint "$_w_ep"
	[ -z "$_w_ka" ] || set -- "$@" persistent-keepalive "$_w_ka"
	wg_exec "$_w_side" wg set "$_w_if" "$@" >"$T/wg-set.log" 2>&1 ||
		wg_lab_die "wg set $_w_if $* failed" "$T/wg-set.log"
}

wg_handshake() {
	_w_pub=$3
	[ -f "$_w_pub" ] && _w_pub=$(cat "$_w_pub")
	wg_exec "$1" wg show "$2" latest-handshakes |
		awk -v k="$_w_pub" '$1 == k { t = $2 } END { print t + 0 }'
}

# wg_move_address SIDE OLD NEW: on SIDE's eth0. An address without a prefix
# gets the lab's: /24 or /64. The old one goes first: were the new one added
# beside it, it would be a secondary, deleted with the primary.
#
# wireguard-go (Debian 12's 0.0.20220316) sends from the address its peer's
# packets last arrived at, and forgets it only when sendmsg fails with
# EINVAL; Linux now says ENETUNREACH for a source that is no longer local,
# so it would send from the dead address until its 15 s handshake retry.
# Setting each peer's endpoint again, to the same value, drops that cached
# source, as the kernel's WireGuard does by itself. The peers on the other
# side still have the old endpoint and learn the new one only by roaming.
wg_move_address() {
	wg_side "$1"
	_w_side=$_w_S
	_w_old=$2 _w_new=$3
	case $_w_old in */*) ;; *:*) _w_old=$_w_old/64 ;; *) _w_old=$_w_old/24 ;; esac
	case $_w_new in */*) ;; *:*) _w_new=$_w_new/64 ;; *) _w_new=$_w_new/24 ;; esac
	case $_w_new in *:*) _w_nodad=nodad ;; *) _w_nodad= ;; esac
	# shellcheck disable=SC2086
	{ ip -n "$_w_ns" addr del "$_w_old" dev eth0 &&
		ip -n "$_w_ns" addr add "$_w_new" dev eth0 $_w_nodad; } 2>"$T/wg-ip.log" ||
		wg_lab_die "cannot move $1's address from $_w_old to $_w_new" "$T/wg-ip.log"
	for _w_v in WG_A_IP WG_B_IP WG_A_IP6 WG_B_IP6; do
		eval "[ \"\$$_w_v\" = \"${_w_old%/*}\" ] && $_w_v=${_w_new%/*}"
	done
	for _w_if in $WG_IFS; do
		eval "_w_s=\${_w_side_$_w_if:-} _w_pid=\${_w_pid_$_w_if:-}"
		if [ "$_w_s" != "$_w_side" ] || [ -z "$_w_pid" ]; then
			continue
		fi
		wg_exec "$_w_s" wg show "$_w_if" endpoints >"$T/wg-endpoints" ||
			wg_lab_die "wg show $_w_if endpoints failed"
		while read -r _w_pub _w_ep; do
			[ "$_w_ep" = "(none)" ] && continue
			wg_exec "$_w_s" wg set "$_w_if" peer "$_w_pub" endpoint "$_w_ep" ||
				wg_lab_die "cannot set $_w_if's endpoint $_w_ep again"
		done <"$T/wg-endpoints"
	done
}

wg_wait_tcp() {
	_w_i=0
	until [ -n "$(wg_exec "$1" ss -Hltn "sport = :$2")" ]; do
		[ $_w_i -lt 100 ] || return 1
		sleep 0.1
		_w_i=$((_w_i + 1))
	done
}

wg_lab_down() {
	[ -n "$WG_NETNS$WG_PIDS" ] || return 0
	# Whatever runs in the lab's namespaces was started by this test,
	# through wg_spawn or not.
	# shellcheck disable=SC2086
	netns_end $WG_NETNS
	for _w_pid in $WG_PIDS; do
		wait "$_w_pid" 2>/dev/null
	done
	WG_PIDS=
	for _w_if in $WG_IFS; do
		rm -f "$WG_RUN/$_w_if.sock"
	done
	WG_IFS=
	for _w_ns in $WG_NETNS; do
		ip netns delete "$_w_ns" 2>/dev/null ||
			echo "# wglab: could not delete network namespace $_w_ns" >&2
	done
	WG_NETNS=
}
