# The NAT lab: an "internet" of network namespaces with the gateway `gw`, a
# second public host `pub`, and homes behind NATs made with nftables, each
# home a router namespace with one or more member namespaces behind it.
# Sourced after tests/system/lib.sh, and last if a test also uses lab.sh or
# wglab.sh: this file's EXIT trap runs their teardown too, theirs not this
# one's. Needs
# root, iproute2 (ip, ss), nftables (nft) and util-linux's setsid; nat_upnp
# needs miniupnpd-nftables, nat_turn coturn, nat_turn_cred openssl. It
# installs nothing (scripts/install-deps.sh does).
#
#   nat_lab_up                       the internet, gw and pub; exports NAT_ID,
#                                    NAT_GW_IP, NAT_PUB_IP, NAT_CORE_IP
#   nat_home KIND HOME MEMBER...     a home of that KIND, router HOME, with the
#                                    members behind it; exports NAT_WAN_<HOME>
#                                    (its public address) and NAT_IP_<MEMBER>
#                                    (LAN addresses) and prints them as # lines.
#                                    KIND: cone, restricted, symmetric,
#                                    udpblock or double (see nat_rules)
#   nat_exec NODE CMD...             run CMD in NODE's namespace
#   nat_spawn NODE NAME CMD...       start CMD there in the background, in a
#                                    session of its own: pid in NAT_PID, output
#                                    in $T/NAME.log; nat_lab_down ends it
#   nat_stop PID                     end it and whatever it forked
#   nat_wait_port NODE udp|tcp PORT  until a socket is bound to PORT there
#                                    (false after 10 s)
#   nat_bound NODE udp|tcp PORT      whether one is bound there now
#   nat_addr NODE                    print NODE's own address: a host's, a
#                                    member's LAN address, a router's WAN side
#   nat_wan HOME                     print the home's public address (for a
#                                    double NAT, the outer router's)
#   nat_move MEMBER [HOME]           the member changes networks: a new LAN
#                                    address in its home, or (with HOME) a new
#                                    link and address in another home; the old
#                                    address is gone, the default route follows,
#                                    NAT_IP_<MEMBER> changes
#   nat_udp_block HOME on|off        drop, or forward again, all UDP through
#                                    the home's router (a double home's inner
#                                    one), at once
#   nat_resolver NODE ADDR           NODE's /etc/resolv.conf (as `ip netns
#                                    exec` shows it) names ADDR
#   nat_upnp HOME                    miniupnpd on HOME's router, answering its
#                                    LAN: UPnP IGD (SSDP; description and SOAP
#                                    on port $NAT_UPNP_HTTP_PORT, 2869) and
#                                    NAT-PMP/PCP (5351), mappings for the
#                                    asking member only. A mapping is a DNAT:
#                                    a flow it lets in keeps the mapped port
#                                    both ways, through any kind but double
#                                    (refused); a flow the member opens itself
#                                    is masqueraded as usual. Pid in
#                                    NAT_UPNP_<HOME>, log $T/upnp-HOME.log
#   nat_turn NODE SECRET [PORT]      coturn on gw or pub: TURN and STUN on its
#                                    address, PORT (default 3478) over UDP and
#                                    TCP, relays from that address (ports
#                                    49152-49199), REST-API credentials made
#                                    with SECRET, realm $NAT_TURN_REALM
#                                    (signpost.lab). Pid in NAT_TURN_<NODE>,
#                                    log $T/turn-NODE.log
#   nat_turn_cred SECRET [TTL]       print "USER PASSWORD" for it, valid for
#                                    TTL seconds (default 3600; negative:
#                                    expired): USER is EXPIRY:labuser,
#                                    PASSWORD base64(HMAC-SHA1(SECRET, USER))
#   nat_lab_down                     end every process in the namespaces,
#                                    delete them (their nft tables go with
#                                    them) and their /etc/netns directories;
#                                    the EXIT trap runs it
#   nat_lab_die MESSAGE [LOG...]     Bail out, with the logs' last lines
#
# NAT_NETNS, NAT_NODES and NAT_HOMES list the run's namespaces, nodes and
# homes. NODE is gw, pub, inet (the internet itself), a HOME (its router),
# HOME_cgn (a double NAT's outer router) or a MEMBER. HOME and MEMBER names
# are 1 to 11 of [a-z0-9], starting with a letter, unique in the run: each
# names a veth port (HOME_cgn too), and an interface name has at most 15
# characters. Inside its namespace a host's link is eth0, a router's wan0
# and lan0. Namespaces are "$NAT_ID-NODE", NAT_ID=spn$$, so parallel runs
# never meet.
# Every host (gw, pub, members) gets /etc/netns/<ns>/resolv.conf with
# "nameserver $NAT_RESOLVER" (default 127.0.0.53, where signpostd answers as
# the machine's resolver); set NAT_RESOLVER before nat_lab_up or nat_home, or
# use nat_resolver.
#
# Address plan (k = 1, 2, ... in the order homes are made, at most 200):
#   11.0.0.0/24     the internet: a bridge in namespace inet, which holds
#                   11.0.0.254 (NAT_CORE_IP), the default gateway of gw, pub
#                   and the routers; gw 11.0.0.1, pub 11.0.0.2, home k's
#                   public address 11.0.0.(10+k)
#   192.168.k.0/24  home k's LAN: router .1, members .2, .3, ... in order
#                   (nat_move takes the next unused one)
#   100.64.k.0/24   a double home's carrier network: outer router .1, the
#                   home router's WAN side .2
# 11/8 is public space, outside every range miniupnpd refuses to map: the lab
# can stand in for the internet because no namespace has a link or route out
# of it (inet forwards nothing and has no default route).
#
# Every link is a veth pair or a bridge, MTU 1500. Routers forward; no other
# namespace does. rp_filter is off everywhere: new namespaces copy the host's
# IPv4 settings, and the lab must not behave differently from host to host
# (its routes are symmetric, so strict checking would drop nothing anyway).
# IPv6 is link-local only, and nothing forwards it. Mappings last as long as
# conntrack's entries: 30 s for UDP that never had a reply, 120 s after one
# (per namespace: nat_exec HOME sysctl net.netfilter.nf_conntrack_udp_timeout).
# Internal variables start with _n because POSIX sh has no locals.

NAT_ID=spn$$
NAT_GW_IP=11.0.0.1
NAT_PUB_IP=11.0.0.2
NAT_CORE_IP=11.0.0.254
NAT_RESOLVER=${NAT_RESOLVER:-127.0.0.53}
NAT_NETNS=
NAT_NODES=
NAT_HOMES=
NAT_PIDS=
NAT_PID=
NAT_ETC=
_n_homes=0
NAT_UPNP_HTTP_PORT=2869
NAT_TURN_REALM=signpost.lab
# ip's and nft's errors go here, for nat_lab_die to show.
_n_iplog=$T/natlab-ip.log
export NAT_ID NAT_GW_IP NAT_PUB_IP NAT_CORE_IP NAT_UPNP_HTTP_PORT NAT_TURN_REALM

# lib.sh traps EXIT, INT and TERM with cleanup, which removes $T: the lab's
# processes must be gone before their files are. An interrupted test exits
# rather than carrying on without its lab; its EXIT trap then does it all.
_n_trap=nat_lab_down
command -v wg_lab_down >/dev/null 2>&1 && _n_trap="$_n_trap; wg_lab_down"
command -v lab_down >/dev/null 2>&1 && _n_trap="$_n_trap; lab_down"
# shellcheck disable=SC2064
trap "$_n_trap; cleanup" EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# nat_lab_die MESSAGE [LOG...]: the lab cannot work, so neither can the test.
nat_lab_die() {
	echo "Bail out! natlab: $1"
	echo "natlab: $1" >&2
	shift
	for _n_log in "$@"; do
		[ -s "$_n_log" ] || continue
		echo "--- last lines of $_n_log:" >&2
		tail -n 25 "$_n_log" >&2
	done
	exit 1
}

# nat_node NODE: sets _n_ns to its namespace, _n_role to host, router, cgn,
# member or inet.
nat_node() {
	case " $NAT_NODES " in
	*" $1 "*) ;;
	*) nat_lab_die "no node '$1' in the lab (nodes:$NAT_NODES)" ;;
	esac
	_n_ns=$NAT_ID-$1
	eval "_n_role=\$_n_role_$1"
}

# nat_name_ok NAME: a new home or member name.
nat_name_ok() {
	case $1 in
	'' | [!a-z]* | *[!a-z0-9]* | ????????????*)
		nat_lab_die "bad name '$1': 1 to 11 of [a-z0-9], starting with a letter" ;;
	gw | pub | inet) nat_lab_die "'$1' is the lab's own node" ;;
	esac
	case " $NAT_NODES " in
	*" $1 "*) nat_lab_die "the name '$1' is taken" ;;
	esac
}

# nat_sysctl NS KEY=VALUE...: /proc/sys/net is the reading process's
# namespace's, so this needs no sysctl(8).
nat_sysctl() {
	_n_sns=$1
	shift
	# shellcheck disable=SC2016
	ip netns exec "$_n_sns" sh -c 'for kv; do
		printf "%s\n" "${kv#*=}" >"/proc/sys/$(printf "%s" "${kv%%=*}" | tr . /)" || exit 1
	done' - "$@" 2>>"$_n_iplog" ||
		nat_lab_die "cannot set $* in $_n_sns" "$_n_iplog"
}

# nat_ns_add NODE ROLE: its namespace, lo up, rp_filter off (before any link
# exists, so that every link takes the default), forwarding for routers.
nat_ns_add() {
	_n_ns=$NAT_ID-$1
	# Listed first: a signal that ends the test right after `ip netns add`
	# still finds it to delete.
	_n_before=$NAT_NETNS
	NAT_NETNS="$NAT_NETNS $_n_ns"
	if ! ip netns add "$_n_ns" 2>"$_n_iplog"; then
		NAT_NETNS=$_n_before
		nat_lab_die "cannot create network namespace $_n_ns" "$_n_iplog"
	fi
	NAT_NODES="$NAT_NODES $1"
	eval "_n_role_$1=$2"
	ip -n "$_n_ns" link set dev lo up
	case $2 in
	router | cgn) _n_fwd=1 ;;
	*) _n_fwd=0 ;;
	esac
	nat_sysctl "$_n_ns" net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
		net.ipv4.ip_forward=$_n_fwd
}

# nat_wire NS_A IF_A NS_B IF_B: a veth pair between two namespaces, up,
# MTU 1500 (the host's namespace sees none of it).
nat_wire() {
	{
		ip -n "$1" link add name "$2" mtu 1500 type veth peer name "$4" mtu 1500 netns "$3" &&
			ip -n "$1" link set dev "$2" up &&
			ip -n "$3" link set dev "$4" up
	} 2>"$_n_iplog" || nat_lab_die "cannot wire $1:$2 to $3:$4" "$_n_iplog"
}

# nat_host_addr NS IF ADDR/PREFIX GATEWAY
nat_host_addr() {
	{
		ip -n "$1" addr add "$3" dev "$2" &&
			ip -n "$1" route replace default via "$4" dev "$2"
	} 2>"$_n_iplog" || nat_lab_die "cannot address $1:$2 as $3 via $4" "$_n_iplog"
}

# nat_resolver NODE ADDR: ip netns exec bind-mounts /etc/netns/NS/* over
# /etc/*. A lab that makes /etc/netns marks it, so that the last run to go
# removes it; mkdir is retried because a parallel run may be removing it at
# that moment.
nat_resolver() {
	nat_node "$1"
	if [ ! -d /etc/netns ]; then
		mkdir -p /etc/netns && : >/etc/netns/.natlab-made
	fi
	case " $NAT_ETC " in *" $_n_ns "*) ;; *) NAT_ETC="$NAT_ETC $_n_ns" ;; esac
	_n_i=0
	until mkdir -p "/etc/netns/$_n_ns" 2>/dev/null; do
		_n_i=$((_n_i + 1))
		[ $_n_i -lt 5 ] || nat_lab_die "cannot create /etc/netns/$_n_ns"
		sleep 0.05
	done
	printf 'nameserver %s\n' "$2" >"/etc/netns/$_n_ns/resolv.conf" ||
		nat_lab_die "cannot write /etc/netns/$_n_ns/resolv.conf"
}

# nat_public NODE ROLE ADDR: a namespace on the internet's bridge, its port
# there named NODE, its side eth0 (wan0 for routers) with ADDR/24.
nat_public() {
	nat_ns_add "$1" "$2"
	case $2 in
	host) _n_if=eth0 ;;
	*) _n_if=wan0 ;;
	esac
	nat_wire "$NAT_ID-inet" "$1" "$_n_ns" "$_n_if"
	ip -n "$NAT_ID-inet" link set dev "$1" master br0 2>"$_n_iplog" ||
		nat_lab_die "cannot join $1 to the internet's bridge" "$_n_iplog"
	nat_host_addr "$_n_ns" "$_n_if" "$3/24" "$NAT_CORE_IP"
	eval "_n_addr_$1=$3"
}

nat_lab_up() {
	[ -z "$NAT_NETNS" ] || nat_lab_die "nat_lab_up: the lab is already up"
	[ "$(id -u)" -eq 0 ] || nat_lab_die "needs root to create network namespaces"
	for _n_pair in ip:iproute2 ss:iproute2 nft:nftables setsid:util-linux; do
		command -v "${_n_pair%%:*}" >/dev/null 2>&1 ||
			nat_lab_die "${_n_pair%%:*} is missing: install ${_n_pair#*:} (scripts/install-deps.sh lists it)"
	done
	# The internet: a bridge with the core's address, no default route and
	# no forwarding, so that a packet for anywhere else ends here.
	nat_ns_add inet inet
	{
		ip -n "$NAT_ID-inet" link add br0 mtu 1500 type bridge &&
			ip -n "$NAT_ID-inet" link set dev br0 up &&
			ip -n "$NAT_ID-inet" addr add "$NAT_CORE_IP/24" dev br0
	} 2>"$_n_iplog" || nat_lab_die "cannot create the internet's bridge" "$_n_iplog"
	_n_addr_inet=$NAT_CORE_IP
	nat_public gw host "$NAT_GW_IP"
	nat_resolver gw "$NAT_RESOLVER"
	nat_public pub host "$NAT_PUB_IP"
	nat_resolver pub "$NAT_RESOLVER"
}

# nat_rules NODE KIND: the router's table `ip natlab`, WAN side wan0.
#   cone        endpoint-independent mapping (masquerade keeps the source
#               port while it is free) and filtering: each UDP mapping is
#               recorded after the NAT has made it (postrouting, after srcnat)
#               in the map cone_udp, external port -> member address and port,
#               and a datagram from anyone to that port is forwarded there
#   restricted  the same mapping, but only replies get in (conntrack): port-
#               restricted cone
#   symmetric   masquerade fully-random: a new external port per destination,
#               only replies get in
#   udpblock    restricted, and UDP through the router is dropped
#               (nat_udp_block switches that at run time, for every kind)
# Unsolicited traffic to the router itself is dropped silently, as home
# routers do; ping is answered. What a dnat let in passes the forward chain
# in every kind, so a port forward that a test adds (miniupnpd's chains in
# its own table, say) works behind any of them.
nat_rules() {
	nat_node "$1"
	case $2 in
	cone) _n_masq='masquerade persistent' ;;
	symmetric) _n_masq='masquerade fully-random' ;;
	*) _n_masq=masquerade ;;
	esac
	{
		echo 'table ip natlab {'
		if [ "$2" = cone ]; then
			cat <<'EOF'
	map cone_udp {
		type inet_service : ipv4_addr . inet_service
		flags timeout
		timeout 2m
	}
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		iifname "wan0" dnat ip to udp dport map @cone_udp
	}
	chain record {
		type filter hook postrouting priority srcnat + 100; policy accept;
		oifname "wan0" ct direction original update @cone_udp { udp sport : ct original ip saddr . ct original proto-src }
		oifname "wan0" ct direction reply update @cone_udp { udp sport : ct reply ip saddr . ct reply proto-src }
	}
EOF
		fi
		cat <<EOF
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan0" $_n_masq
	}
	chain udpblock {
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		iifname "wan0" jump udpblock
		oifname "wan0" jump udpblock
		iifname "wan0" ct state established,related accept
		iifname "wan0" ct status dnat accept
		iifname "wan0" counter drop
	}
	chain input {
		type filter hook input priority filter; policy accept;
		iifname "wan0" ct state established,related accept
		iifname "wan0" icmp type echo-request accept
		iifname "wan0" counter drop
	}
}
EOF
		[ "$2" = udpblock ] && echo 'add rule ip natlab udpblock meta l4proto udp counter drop'
	} >"$T/natlab-$1.nft"
	ip netns exec "$_n_ns" nft -f "$T/natlab-$1.nft" >"$_n_iplog" 2>&1 ||
		nat_lab_die "nft cannot load $1's rules (nf_tables, nf_nat in the kernel?)" \
			"$_n_iplog" "$T/natlab-$1.nft"
}

# nat_member_link MEMBER HOME: the member's eth0, a port of HOME's LAN bridge
# named MEMBER, with the next unused LAN address and the default route.
nat_member_link() {
	eval "_n_k=\$_n_k_$2 _n_next=\$_n_next_$2"
	# shellcheck disable=SC2154
	[ "$_n_next" -le 254 ] || nat_lab_die "home $2 has no LAN address left"
	eval "_n_next_$2=$((_n_next + 1))"
	nat_wire "$NAT_ID-$2" "$1" "$NAT_ID-$1" eth0
	ip -n "$NAT_ID-$2" link set dev "$1" master lan0 2>"$_n_iplog" ||
		nat_lab_die "cannot join $1 to $2's LAN" "$_n_iplog"
	nat_host_addr "$NAT_ID-$1" eth0 "192.168.$_n_k.$_n_next/24" "192.168.$_n_k.1"
	eval "NAT_IP_$1=192.168.$_n_k.$_n_next _n_addr_$1=192.168.$_n_k.$_n_next _n_home_$1=$2"
	export "NAT_IP_$1"
}

nat_home() {
	[ $# -ge 3 ] || nat_lab_die "usage: nat_home KIND HOME MEMBER..."
	[ -n "$NAT_NETNS" ] || nat_lab_die "nat_home: nat_lab_up first"
	_n_kind=$1 _n_home=$2
	shift 2
	case $_n_kind in
	cone | restricted | symmetric | udpblock | double) ;;
	*) nat_lab_die "unknown NAT kind '$_n_kind' (cone, restricted, symmetric, udpblock, double)" ;;
	esac
	nat_name_ok "$_n_home"
	_n_k=$((_n_homes + 1))
	[ $_n_k -le 200 ] || nat_lab_die "at most 200 homes"
	_n_wan=11.0.0.$((10 + _n_k))
	if [ "$_n_kind" = double ]; then
		# The carrier's NAT B holds the public address; the home's NAT A
		# sits in 100.64.k.0/24 behind it. Both filter like `restricted`.
		nat_public "${_n_home}_cgn" cgn "$_n_wan"
		nat_ns_add "$_n_home" router
		nat_wire "$NAT_ID-${_n_home}_cgn" lan0 "$NAT_ID-$_n_home" wan0
		ip -n "$NAT_ID-${_n_home}_cgn" addr add "100.64.$_n_k.1/24" dev lan0 \
			2>"$_n_iplog" || nat_lab_die "cannot address ${_n_home}_cgn's lan0" "$_n_iplog"
		nat_host_addr "$NAT_ID-$_n_home" wan0 "100.64.$_n_k.2/24" "100.64.$_n_k.1"
		eval "_n_addr_$_n_home=100.64.$_n_k.2"
		nat_rules "${_n_home}_cgn" restricted
		nat_rules "$_n_home" restricted
	else
		nat_public "$_n_home" router "$_n_wan"
		nat_rules "$_n_home" "$_n_kind"
	fi
	{
		ip -n "$NAT_ID-$_n_home" link add lan0 mtu 1500 type bridge &&
			ip -n "$NAT_ID-$_n_home" link set dev lan0 up &&
			ip -n "$NAT_ID-$_n_home" addr add "192.168.$_n_k.1/24" dev lan0
	} 2>"$_n_iplog" || nat_lab_die "cannot create $_n_home's LAN" "$_n_iplog"
	NAT_HOMES="$NAT_HOMES $_n_home"
	_n_homes=$_n_k
	eval "_n_k_$_n_home=$_n_k _n_next_$_n_home=2 _n_kind_$_n_home=$_n_kind NAT_WAN_$_n_home=$_n_wan"
	export "NAT_WAN_$_n_home"
	_n_report="# natlab: $_n_kind home $_n_home, public $_n_wan:"
	for _n_m; do
		nat_name_ok "$_n_m"
		nat_ns_add "$_n_m" member
		nat_member_link "$_n_m" "$_n_home"
		nat_resolver "$_n_m" "$NAT_RESOLVER"
		eval "_n_report=\"\$_n_report \$_n_m \$NAT_IP_$_n_m\""
	done
	echo "$_n_report"
}

nat_exec() {
	nat_node "$1"
	shift
	ip netns exec "$_n_ns" "$@"
}

# As in lab.sh: setsid does not fork when its caller leads no process group,
# and `ip netns exec` execs, so $! is the command itself and nat_stop can end
# what it forks by that one id.
nat_spawn() {
	nat_node "$1"
	case $2 in
	'' | *[!A-Za-z0-9_.-]*) nat_lab_die "nat_spawn: bad log name '$2'" ;;
	esac
	_n_log=$T/$2.log
	shift 2
	setsid ip netns exec "$_n_ns" "$@" >"$_n_log" 2>&1 &
	NAT_PID=$!
	NAT_PIDS="$NAT_PIDS $NAT_PID"
}

nat_stop() {
	group_stop "$1"
}

# nat_bound NODE udp|tcp PORT: a socket is bound to PORT there.
nat_bound() {
	case $2 in
	udp) _n_ssf=-Hlun ;;
	tcp) _n_ssf=-Hltn ;;
	*) nat_lab_die "udp or tcp, not '$2'" ;;
	esac
	# shellcheck disable=SC2086
	[ -n "$(nat_exec "$1" ss $_n_ssf "sport = :$3")" ]
}

nat_wait_port() {
	_n_i=0
	until nat_bound "$1" "$2" "$3"; do
		[ $_n_i -lt 100 ] || return 1
		sleep 0.1
		_n_i=$((_n_i + 1))
	done
}

nat_addr() {
	nat_node "$1"
	eval "printf '%s\n' \"\$_n_addr_$1\""
}

nat_wan() {
	case " $NAT_HOMES " in
	*" $1 "*) ;;
	*) nat_lab_die "no home '$1' (homes:$NAT_HOMES)" ;;
	esac
	eval "printf '%s\n' \"\$NAT_WAN_$1\""
}

# nat_move MEMBER [HOME]: within its home, the old address goes first (were
# the new one added beside it, it would be a secondary, deleted with the
# primary), then the default route is set again. To another home, the link
# itself goes, as when a phone leaves the Wi-Fi: sockets stay, bound to
# nothing that still exists, and the old router's conntrack entries stay
# until they time out.
nat_move() {
	nat_node "$1"
	# shellcheck disable=SC2154
	[ "$_n_role" = member ] || nat_lab_die "nat_move: '$1' is not a member of a home"
	eval "_n_from=\$_n_home_$1 _n_old=\$_n_addr_$1"
	_n_to=${2:-$_n_from}
	case " $NAT_HOMES " in
	*" $_n_to "*) ;;
	*) nat_lab_die "nat_move: no home '$_n_to' (homes:$NAT_HOMES)" ;;
	esac
	if [ "$_n_to" = "$_n_from" ]; then
		eval "_n_k=\$_n_k_$_n_to _n_next=\$_n_next_$_n_to"
		[ "$_n_next" -le 254 ] || nat_lab_die "home $_n_to has no LAN address left"
		eval "_n_next_$_n_to=$((_n_next + 1))"
		# shellcheck disable=SC2154
		ip -n "$_n_ns" addr del "$_n_old/24" dev eth0 2>"$_n_iplog" ||
			nat_lab_die "cannot remove $1's address $_n_old" "$_n_iplog"
		nat_host_addr "$_n_ns" eth0 "192.168.$_n_k.$_n_next/24" "192.168.$_n_k.1"
		eval "NAT_IP_$1=192.168.$_n_k.$_n_next _n_addr_$1=192.168.$_n_k.$_n_next"
	else
		ip -n "$_n_ns" link del dev eth0 2>"$_n_iplog" ||
			nat_lab_die "cannot take $1 off $_n_from's LAN" "$_n_iplog"
		nat_member_link "$1" "$_n_to"
	fi
	export "NAT_IP_$1"
}

nat_udp_block() {
	case " $NAT_HOMES " in
	*" $1 "*) ;;
	*) nat_lab_die "nat_udp_block: no home '$1' (homes:$NAT_HOMES)" ;;
	esac
	case $2 in
	on) _n_rule='add rule ip natlab udpblock meta l4proto udp counter drop' ;;
	off) _n_rule= ;;
	*) nat_lab_die "nat_udp_block: on or off, not '$2'" ;;
	esac
	# One transaction: never a moment with the rule twice or not at all.
	printf 'flush chain ip natlab udpblock\n%s\n' "$_n_rule" |
		nat_exec "$1" nft -f - >"$_n_iplog" 2>&1 ||
		nat_lab_die "nat_udp_block $1 $2 failed" "$_n_iplog"
}

# The services that the tests of direct paths add to the lab.

# nat_free NODE udp|tcp PORT WHO: WHO is about to bind PORT there; nat_wait_port
# could not tell its socket from one already there.
nat_free() {
	! nat_bound "$1" "$2" "$3" ||
		nat_lab_die "$4: $3/$2 on $1 is taken ($(nat_exec "$1" ss -Hlunpt "sport = :$3" | head -n 1))"
}

# nat_upnp HOME: miniupnpd 2.3.1 adds its rules to chains of table `inet
# filter` but makes none, and Debian's scripts for that are broken, so they
# are made here: DNAT in prerouting_miniupnpd, accept rules in miniupnpd,
# SNAT in postrouting_miniupnpd. Each is jumped to from a base chain that
# runs just before natlab's at the same hook, because the first NAT rule that
# acts on a new flow decides its translation for good: a mapping then beats
# the cone's map, and an SNAT rule there would beat natlab's masquerade.
# miniupnpd puts SNAT rules there only for PCP PEER requests, and 2.3.1
# builds them with source and destination swapped, so in practice that chain
# stays inert: a UPnP or NAT-PMP mapping is a DNAT and nothing else. A flow
# that the mapping let in is translated back by conntrack, so replies leave
# from the mapped port even through `masquerade fully-random`; a flow the
# member opens itself is masqueraded as any other. The forward chain only
# jumps: natlab's forward lets in whatever was DNATed. The pid file goes to
# $T because miniupnpd refuses to start while the one it names belongs to a
# live process.
nat_upnp() {
	[ $# -eq 1 ] || nat_lab_die "usage: nat_upnp HOME"
	case " $NAT_HOMES " in
	*" $1 "*) ;;
	*) nat_lab_die "nat_upnp: no home '$1' (homes:$NAT_HOMES)" ;;
	esac
	eval "_n_kind=\$_n_kind_$1 _n_k=\$_n_k_$1 _n_pid=\${NAT_UPNP_$1:-}"
	[ -z "$_n_pid" ] || nat_lab_die "nat_upnp: miniupnpd already runs on $1"
	# shellcheck disable=SC2154
	[ "$_n_kind" != double ] || nat_lab_die "nat_upnp: $1 is a double NAT: \
miniupnpd refuses to map on its router's carrier address 100.64.$_n_k.2, and \
the carrier's NAT would not forward a mapping anyway"
	[ -x /usr/sbin/miniupnpd ] ||
		nat_lab_die "no /usr/sbin/miniupnpd: install miniupnpd-nftables (scripts/install-deps.sh lists it)"
	for _n_s in tcp:$NAT_UPNP_HTTP_PORT udp:1900 udp:5351; do
		nat_free "$1" "${_n_s%%:*}" "${_n_s#*:}" "nat_upnp"
	done
	cat >"$T/upnp-$1.nft" <<'EOF'
table inet filter {
	chain miniupnpd {
	}
	chain prerouting_miniupnpd {
	}
	chain postrouting_miniupnpd {
	}
	chain forward {
		type filter hook forward priority filter - 10; policy accept;
		jump miniupnpd
	}
	chain prerouting {
		type nat hook prerouting priority dstnat - 10; policy accept;
		jump prerouting_miniupnpd
	}
	chain postrouting {
		type nat hook postrouting priority srcnat - 10; policy accept;
		jump postrouting_miniupnpd
	}
}
EOF
	nat_exec "$1" nft -f "$T/upnp-$1.nft" >"$_n_iplog" 2>&1 ||
		nat_lab_die "nft cannot load miniupnpd's chains on $1" "$_n_iplog" "$T/upnp-$1.nft"
	# secure_mode: a member maps ports to itself only.
	cat >"$T/upnp-$1.conf" <<EOF
ext_ifname=wan0
listening_ip=lan0
http_port=$NAT_UPNP_HTTP_PORT
ipv6_disable=yes
enable_upnp=yes
enable_natpmp=yes
secure_mode=yes
notify_interval=30
uuid=00000000-0000-0000-0000-$(printf '%012x' "$_n_k")
friendly_name=natlab $1
allow 1024-65535 192.168.$_n_k.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
EOF
	nat_spawn "$1" "upnp-$1" /usr/sbin/miniupnpd -d -f "$T/upnp-$1.conf" -P "$T/upnp-$1.pid"
	eval "NAT_UPNP_$1=\$NAT_PID"
	export "NAT_UPNP_$1"
	for _n_s in tcp:$NAT_UPNP_HTTP_PORT udp:1900 udp:5351; do
		nat_wait_port "$1" "${_n_s%%:*}" "${_n_s#*:}" ||
			nat_lab_die "miniupnpd on $1 does not listen on ${_n_s#*:}/${_n_s%%:*}" "$T/upnp-$1.log"
	done
}

# nat_turn NODE SECRET [PORT]: coturn reads only the file given with -c. Its
# user database (sqlite: unused with a static secret, but opened anyway) and
# its pid file go to $T, not to the machine's /var.
nat_turn() {
	if [ $# -lt 2 ] || [ $# -gt 3 ] || [ -z "$2" ]; then
		nat_lab_die "usage: nat_turn NODE SECRET [PORT]"
	fi
	nat_node "$1"
	# shellcheck disable=SC2154
	[ "$_n_role" = host ] || nat_lab_die "nat_turn: '$1' is not a public host (gw, pub)"
	eval "_n_pid=\${NAT_TURN_$1:-}"
	[ -z "$_n_pid" ] || nat_lab_die "nat_turn: coturn already runs on $1"
	command -v turnserver >/dev/null 2>&1 ||
		nat_lab_die "no turnserver: install coturn (scripts/install-deps.sh lists it)"
	_n_port=${3:-3478}
	nat_free "$1" udp "$_n_port" nat_turn
	nat_free "$1" tcp "$_n_port" nat_turn
	_n_a=$(nat_addr "$1")
	cat >"$T/turn-$1.conf" <<EOF
listening-ip=$_n_a
relay-ip=$_n_a
listening-port=$_n_port
min-port=49152
max-port=49199
realm=$NAT_TURN_REALM
use-auth-secret
static-auth-secret=$2
fingerprint
no-tls
no-dtls
no-cli
log-file=stdout
simple-log
verbose
userdb=$T/turn-$1.db
pidfile=$T/turn-$1.pid
EOF
	nat_spawn "$1" "turn-$1" turnserver -c "$T/turn-$1.conf"
	eval "NAT_TURN_$1=\$NAT_PID"
	export "NAT_TURN_$1"
	for _n_p in udp tcp; do
		nat_wait_port "$1" $_n_p "$_n_port" ||
			nat_lab_die "coturn on $1 does not listen on $_n_port/$_n_p" "$T/turn-$1.log"
	done
}

# nat_turn_cred SECRET [TTL]
nat_turn_cred() {
	[ -n "${1:-}" ] || nat_lab_die "usage: nat_turn_cred SECRET [TTL]"
	_n_user=$(($(date +%s) + ${2:-3600})):labuser
	_n_pass=$(printf '%s' "$_n_user" | openssl dgst -sha1 -hmac "$1" -binary | openssl base64 -A)
	[ -n "$_n_pass" ] || nat_lab_die "nat_turn_cred: openssl cannot compute the HMAC"
	printf '%s %s\n' "$_n_user" "$_n_pass"
}

nat_lab_down() {
	[ -n "$NAT_NETNS$NAT_PIDS$NAT_ETC" ] || return 0
	# Whatever runs in the lab's namespaces was started by this test,
	# through nat_spawn or not.
	# shellcheck disable=SC2086
	netns_end $NAT_NETNS
	for _n_pid in $NAT_PIDS; do
		wait "$_n_pid" 2>/dev/null
	done
	NAT_PIDS=
	for _n_ns in $NAT_NETNS; do
		[ -e "/var/run/netns/$_n_ns" ] || continue
		ip netns delete "$_n_ns" 2>/dev/null ||
			echo "# natlab: could not delete network namespace $_n_ns" >&2
	done
	NAT_NETNS=
	for _n_n in $NAT_NODES; do
		unset "NAT_UPNP_$_n_n" "NAT_TURN_$_n_n"
	done
	NAT_NODES=
	NAT_HOMES=
	_n_homes=0
	for _n_ns in $NAT_ETC; do
		rm -rf "/etc/netns/$_n_ns"
	done
	NAT_ETC=
	# Only a lab's own, and only when no other run uses it any more.
	if [ "$(ls -A /etc/netns 2>/dev/null)" = .natlab-made ]; then
		rm -f /etc/netns/.natlab-made
		rmdir /etc/netns 2>/dev/null
	fi
	return 0
}
