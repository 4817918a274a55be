#!/bin/sh
# The NAT lab itself, proved with natprobe: each kind of home maps and
# filters as it claims (RFC 4787's terms), a double NAT shows the outer
# router's address, members of one home see each other on the LAN, UDP can be
# blocked and let through again at run time, a member that changes networks
# is seen from its new place, miniupnpd maps a port through the symmetric
# NAT for a real UPnP client, coturn relays with REST-API credentials and
# refuses wrong ones, nothing in the lab leads out of it, and nat_lab_down
# leaves no namespace, process or /etc/netns entry behind.
# Usage: sh tests/lab/selftest.sh BIN_DIR (BIN_DIR holds natprobe).
# shellcheck disable=SC2154 # NAT_IP_<member> are set by nat_home's eval.
. "$(dirname "$0")/../system/lib.sh"
. "$(dirname "$0")/nat.sh"

NP=$BIN/natprobe
[ -x "$NP" ] || nat_lab_die "no natprobe in $BIN (build tests/tools/natprobe.c)"
START=$(date +%s)

nat_lab_up
nat_home cone c ca cb
nat_home restricted r ra
nat_home symmetric s sa
nat_home udpblock u ua
nat_home double d da
# shellcheck disable=SC2034 # nat_home reads it.
NAT_RESOLVER=$NAT_GW_IP
nat_home restricted t ta tb

GW=$NAT_GW_IP:3478
PUB=$NAT_PUB_IP:3478
nat_spawn gw echo_gw "$NP" echo 3478 --alt 3479 --peer "$PUB"
nat_spawn pub echo_pub "$NP" echo 3478
ECHO_PUB=$NAT_PID
nat_spawn gw echo_tcp_gw "$NP" echo-tcp 3478
nat_spawn ta echo_ta "$NP" echo 4000
nat_spawn tb echo_tb "$NP" echo 4000
for s in gw:udp:3478 pub:udp:3478 gw:tcp:3478 ta:udp:4000 tb:udp:4000; do
	rest=${s#*:}
	nat_wait_port "${s%%:*}" "${rest%%:*}" "${rest#*:}" ||
		nat_lab_die "no natprobe echo on $s" "$T"/echo_*.log
done

# probe NODE ARGS...: natprobe there; output in $OUT, status in $RC.
probe() {
	_node=$1
	shift
	OUT=$(nat_exec "$_node" "$NP" "$@" 2>&1)
	RC=$?
}
# has LINE, has_text TEXT, lacks_text TEXT: about the last probe's output.
has() { printf '%s\n' "$OUT" | grep -qxF -- "$1"; }
has_text() { printf '%s\n' "$OUT" | grep -qF -- "$1"; }
lacks_text() { ! has_text "$1"; }
# report DESCRIPTION CONDITION...: a check that shows the probe on failure
# (CONDITION may be `eval 'A && B'`).
report() {
	_desc=$1
	shift
	if "$@"; then
		ok "$_desc"
	else
		not_ok "$_desc"
		printf '%s\n' "$OUT" | sed 's/^/#   /'
	fi
}
both() { "$1" "$2" && "$3" "$4"; }
# seen_from ADDR: the last probe succeeded and saw ADDR (any port).
seen_from() {
	[ "$RC" -eq 0 ] || return 1
	case $OUT in "$1":*) ;; *) return 1 ;; esac
}
# quiet CMD..., fails CMD...: CMD succeeds, or fails; its output is not shown.
quiet() { "$@" >/dev/null 2>&1; }
fails() { ! "$@" >/dev/null 2>&1; }
# differs A B, same A B
differs() { [ -n "$1" ] && [ "$1" != "$2" ]; }
same() { [ -n "$1" ] && [ "$1" = "$2" ]; }

WAN_C=$(nat_wan c) WAN_R=$(nat_wan r) WAN_S=$(nat_wan s) WAN_U=$(nat_wan u)
WAN_D=$(nat_wan d) WAN_T=$(nat_wan t)

probe pub ask 5000 "$GW"
report "pub has no NAT: gw sees it as $NAT_PUB_IP:5000" has "$NAT_PUB_IP:5000"

# cone: full cone.
probe ca map 5000 "$GW" "$PUB"
report "cone: one mapping, port kept, for both servers" \
	both has "$GW sees $WAN_C:5000" has "$PUB sees $WAN_C:5000"
report "cone: mapping endpoint-independent" has "mapping: same"
probe ca filter 5001 "$GW"
report "cone: an unsolicited datagram from pub reaches the member" \
	has "other host: answered by $PUB"
report "cone: one from the server's other port too" has "other port: answered by $NAT_GW_IP:3479"
report "cone: filtering endpoint-independent" has "filtering: endpoint-independent"
# cb takes the port ca holds to gw, so the NAT gives it another one; the
# cone must forward that mapping to cb's own port.
probe ca ask 5002 "$GW"
probe cb filter 5002 "$GW"
MAP_CB=$(printf '%s\n' "$OUT" | sed -n 's/^mapping: //p')
report "cone: a second member on a taken port gets another (${MAP_CB:-none})" \
	differs "$MAP_CB" "$WAN_C:5002"
report "cone: pub reaches that second member's mapping too" has "other host: answered by $PUB"

# restricted: port-restricted cone.
probe ra map 5000 "$GW" "$PUB"
report "restricted: one mapping, port kept, for both servers" \
	both has "$GW sees $WAN_R:5000" has "$PUB sees $WAN_R:5000"
report "restricted: mapping endpoint-independent" has "mapping: same"
probe ra filter 5001 "$GW"
report "restricted: the contacted server's reply arrives" has "same port: answered by $GW"
report "restricted: an unsolicited datagram from pub is dropped" has "other host: nothing within 1000 ms"
report "restricted: one from the server's other port too" has "other port: nothing within 1000 ms"
report "restricted: filtering address-and-port-dependent" \
	has "filtering: address-and-port-dependent"

# symmetric.
probe sa map 5000 "$GW" "$PUB"
report "symmetric: both servers answer, from $WAN_S" \
	test "$(printf '%s\n' "$OUT" | grep -c " sees $WAN_S:")" -eq 2
report "symmetric: mapping different per destination" has "mapping: different"
probe sa filter 5001 "$GW"
report "symmetric: filtering address-and-port-dependent" \
	has "filtering: address-and-port-dependent"

# double: NAT A in the carrier's 100.64/10, NAT B on the internet.
probe da ask 5000 "$GW"
report "double: the member reaches gw" test "$RC" -eq 0
report "double: gw sees NAT B's address $WAN_D, not NAT A's $(nat_addr d)" seen_from "$WAN_D"
probe da map 5001 "$GW" "$PUB"
report "double: mapping endpoint-independent through both" has "mapping: same"

# Two members of one home.
for m in ta tb; do
	probe $m ask 5000 "$GW"
	report "same NAT: $m reaches gw from $WAN_T" seen_from "$WAN_T"
done
probe ta ask 5001 "$NAT_IP_tb:4000"
report "same NAT: tb sees ta by its LAN address" has "$NAT_IP_ta:5001"
probe tb ask 5001 "$NAT_IP_ta:4000"
report "same NAT: ta sees tb by its LAN address" has "$NAT_IP_tb:5001"

# udpblock: UDP dropped, TCP through.
probe ua ask 5000 "$GW"
report "udpblock: UDP to gw gets nothing" test "$RC" -eq 1
probe ua ask-tcp "$GW"
report "udpblock: TCP to gw works, from $WAN_U" seen_from "$WAN_U"
nat_udp_block u off
probe ua ask 5000 "$GW"
report "udpblock: nat_udp_block off lets UDP through" has "$WAN_U:5000"
nat_udp_block u on
probe ua ask 5000 "$GW"
report "udpblock: nat_udp_block on drops it again" test "$RC" -eq 1

# nat_udp_block on a home of another kind, mid-flow: the same local port.
probe tb ask 5002 "$GW"
report "runtime block: UDP works before" has "$WAN_T:5002"
nat_udp_block t on
probe tb ask 5002 "$GW"
report "runtime block: on, the same flow gets nothing" test "$RC" -eq 1
probe tb ask-tcp "$GW"
report "runtime block: on, TCP still works" test "$RC" -eq 0
probe ta ask 5001 "$NAT_IP_tb:4000"
report "runtime block: on, UDP inside the LAN still works" has "$NAT_IP_ta:5001"
nat_udp_block t off
probe tb ask 5002 "$GW"
report "runtime block: off, the flow works again" has "$WAN_T:5002"

# nat_move within a home: a new LAN address, the old one gone.
probe ra ask 6000 "$GW"
BEFORE=$OUT
OLD_IP=$NAT_IP_ra
nat_move ra
# shellcheck disable=SC2016
report "move: ra has a new LAN address ($OLD_IP -> $NAT_IP_ra)" \
	eval 'differs "$NAT_IP_ra" "$OLD_IP" && same "$(nat_addr ra)" "$NAT_IP_ra"'
OUT=$(nat_exec ra ip -4 -o addr show dev eth0)
report "move: only the new address is on ra's eth0" \
	both has_text " $NAT_IP_ra/24 " lacks_text " $OLD_IP/24 "
probe ra ask 6000 "$GW"
# The old address's conntrack entry still holds $WAN_R:6000 towards gw.
# shellcheck disable=SC2016
report "move: traffic works and gw sees a new source ($BEFORE -> $OUT)" \
	eval 'seen_from "$WAN_R" && differs "$OUT" "$BEFORE"'
# To another home, as from Wi-Fi to mobile.
nat_move ra s
# s is the third home: its LAN is 192.168.3.0/24.
OUT=$NAT_IP_ra
report "move: ra is now on s's LAN ($NAT_IP_ra)" has_text 192.168.3.
probe ra ask 6000 "$GW"
report "move: gw now sees ra from s's address $WAN_S" seen_from "$WAN_S"
probe ra map 6001 "$GW" "$PUB"
report "move: and ra is behind a symmetric NAT now" has "mapping: different"
OUT=$(nat_exec r ip -o link show master lan0)
report "move: ra's port left r's LAN" lacks_text " ra@"

# resolv.conf as `ip netns exec` shows it.
OUT=$(nat_exec ca cat /etc/resolv.conf)
report "resolv.conf: nameserver 127.0.0.53 by default" has "nameserver 127.0.0.53"
OUT=$(nat_exec ta cat /etc/resolv.conf)
report "resolv.conf: NAT_RESOLVER chooses it" has "nameserver $NAT_GW_IP"
nat_resolver tb 127.0.0.1
OUT=$(nat_exec tb cat /etc/resolv.conf)
report "resolv.conf: nat_resolver changes it" has "nameserver 127.0.0.1"
OUT=$(nat_exec ra cat /etc/resolv.conf)
report "resolv.conf: a move keeps it" has "nameserver 127.0.0.53"

# UPnP on the symmetric home s: a real exchange with miniupnpd, as libnice's
# gupnp-igd makes it (SSDP, the device description, SOAP), and NAT-PMP.
# Standard library only: miniupnpc is not installed.
cat >"$T/igd.py" <<'PY'
import re, socket, struct, sys, time, urllib.error, urllib.request
from urllib.parse import urljoin

def upnp(addr, iport, eport):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.5)
    search = ('M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n'
              'MAN: "ssdp:discover"\r\nMX: 1\r\n'
              'ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\r\n')
    start, loc = time.monotonic(), None
    while loc is None and time.monotonic() < start + 5:
        s.sendto(search.encode(), ('239.255.255.250', 1900))
        try:
            m = re.search(rb'(?im)^location:\s*(\S+)', s.recv(2048))
            loc = m and m.group(1).decode()
        except socket.timeout:
            pass
    if loc is None:
        sys.exit('no answer to M-SEARCH within 5 s')
    print('ssdp: %s in %d ms' % (loc, (time.monotonic() - start) * 1000))
    desc = urllib.request.urlopen(loc, timeout=2).read().decode()
    for svc in re.findall(r'<service>(.*?)</service>', desc, re.S):
        st = re.search(r'<serviceType>(.*?)<', svc).group(1)
        if ':WANIPConnection:' in st:
            url = urljoin(loc, re.search(r'<controlURL>(.*?)<', svc).group(1))
            break
    else:
        sys.exit('no WANIPConnection service in ' + loc)

    def soap(action, args):
        body = ''.join('<%s>%s</%s>' % (k, v, k) for k, v in args)
        env = ('<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"'
               ' s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>'
               '<u:%s xmlns:u="%s">%s</u:%s></s:Body></s:Envelope>' % (action, st, body, action))
        req = urllib.request.Request(url, env.encode(), {
            'Content-Type': 'text/xml; charset="utf-8"', 'SOAPAction': '"%s#%s"' % (st, action)})
        try:
            return urllib.request.urlopen(req, timeout=2).read().decode()
        except urllib.error.HTTPError as e:
            sys.exit('%s: %s %s' % (action, e.code, e.read().decode()))

    ext = re.search(r'<NewExternalIPAddress>(.*?)<', soap('GetExternalIPAddress', []))
    print('external: ' + ext.group(1))
    soap('AddPortMapping', [('NewRemoteHost', ''), ('NewExternalPort', eport),
                            ('NewProtocol', 'UDP'), ('NewInternalPort', iport),
                            ('NewInternalClient', addr), ('NewEnabled', '1'),
                            ('NewPortMappingDescription', 'natlab'), ('NewLeaseDuration', '0')])
    print('mapped: UDP %s -> %s:%s' % (eport, addr, iport))

def natpmp(router):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1)
    s.sendto(b'\0\0', (router, 5351))
    r = s.recv(16)
    ver, op, result = struct.unpack('!BBH', r[:4])
    print('natpmp: op %d result %d external %s' % (op, result, socket.inet_ntoa(r[8:12])))

{'upnp': upnp, 'natpmp': natpmp}[sys.argv[1]](*sys.argv[2:])
PY

# recv_on NODE PORT: natprobe waits there for one datagram (1 s), output in
# $T/recv; RPID is its process, bound when this returns.
recv_on() {
	nat_exec "$1" "$NP" recv "$2" >"$T/recv" 2>&1 &
	RPID=$!
	nat_wait_port "$1" udp "$2" || nat_lab_die "natprobe recv does not bind $1:$2"
}
# received: what recv_on got, in $OUT, status in $RC.
received() {
	wait "$RPID"
	RC=$?
	OUT=$(cat "$T/recv")
}

check "nat_upnp refuses a double home" eval '! (nat_upnp d) >/dev/null 2>&1'
nat_upnp s
EXT=40000
ROUTER_S=${NAT_IP_sa%.*}.1
OUT=$(nat_exec sa python3 "$T/igd.py" natpmp "$ROUTER_S" 2>&1)
report "upnp: NAT-PMP tells sa the external address $WAN_S" has "natpmp: op 128 result 0 external $WAN_S"
recv_on sa 7000
quiet nat_exec pub "$NP" send --from 7100 "$WAN_S:$EXT" unmapped
received
report "upnp: without a mapping, pub's datagram to $WAN_S:$EXT is dropped" test "$RC" -eq 1
OUT=$(nat_exec sa python3 "$T/igd.py" upnp "$NAT_IP_sa" 7000 "$EXT" 2>&1)
RC=$?
report "upnp: sa finds the router by SSDP ($(printf '%s\n' "$OUT" | sed -n 's/^ssdp: //p'))" \
	has_text "ssdp: http://$ROUTER_S:$NAT_UPNP_HTTP_PORT/"
report "upnp: GetExternalIPAddress says $WAN_S" has "external: $WAN_S"
# shellcheck disable=SC2016
report "upnp: AddPortMapping $EXT -> $NAT_IP_sa:7000" \
	eval 'test "$RC" -eq 0 && has "mapped: UDP $EXT -> $NAT_IP_sa:7000"'
recv_on sa 7000
quiet nat_exec pub "$NP" send --from 7100 "$WAN_S:$EXT" mapped
received
report "upnp: now pub's datagram to $WAN_S:$EXT reaches sa:7000" has "$NAT_PUB_IP:7100 mapped"
recv_on pub 7100
quiet nat_exec sa "$NP" send --from 7000 "$NAT_PUB_IP:7100" reply
received
report "upnp: sa's reply from port 7000 reaches pub from $WAN_S:$EXT, not re-mapped" \
	has "$WAN_S:$EXT reply"
# miniupnpd 2.3.1 adds no SNAT for a UPnP or NAT-PMP mapping: a flow that sa
# opens itself from the mapped port is masqueraded as any other.
recv_on pub 7101
quiet nat_exec sa "$NP" send --from 7000 "$NAT_PUB_IP:7101" first
received
# shellcheck disable=SC2016
report "upnp: a flow sa opens itself from port 7000 leaves from another port ($OUT)" \
	eval 'has_text "$WAN_S:" && lacks_text "$WAN_S:$EXT "'
recv_on sa 7000
quiet nat_exec pub "$NP" send --from 7101 "$WAN_S:$EXT" back
received
report "upnp: that peer's datagram to the mapping still reaches sa (seen as $OUT)" has_text " back"

# TURN on pub, used from behind the symmetric NAT, relaying to a peer on gw.
# pub's echo server holds 3478 until now.
check "nat_turn refuses a port that is taken" eval '! (nat_turn pub labsecret) >/dev/null 2>&1'
nat_stop "$ECHO_PUB"
nat_turn pub labsecret
nat_spawn gw turnpeer turnutils_peer -L "$NAT_GW_IP" -p 3480
nat_wait_port gw udp 3480 || nat_lab_die "no turnutils_peer on gw" "$T/turnpeer.log"
# uclient NODE SECRET [TTL]: an allocation on pub, 5 messages through it to
# gw's peer and back; output in $OUT, status in $RC. uclient retries an
# allocation for ever when something else answers: hence the timeout.
uclient() {
	# shellcheck disable=SC2046
	set -- "$1" $(nat_turn_cred "$2" ${3:+"$3"})
	OUT=$(nat_exec "$1" timeout 30 turnutils_uclient -n 5 -c -X -u "$2" -w "$3" \
		-e "$NAT_GW_IP" -r 3480 "$NAT_PUB_IP" 2>&1)
	RC=$?
}
uclient sa labsecret
# shellcheck disable=SC2016
report "turn: sa relays 5 messages through pub to gw and back" \
	eval 'test "$RC" -eq 0 && has_text "tot_send_msgs=5, tot_recv_msgs=5" && has_text "Total lost packets 0 "'
uclient sa wrongsecret
# shellcheck disable=SC2016
report "turn: a credential from another secret is refused" \
	eval 'test "$RC" -ne 0 && has_text "Cannot complete Allocation"'
uclient sa labsecret -60
# shellcheck disable=SC2016
report "turn: an expired credential is refused" \
	eval 'test "$RC" -ne 0 && has_text "Cannot complete Allocation"'

# Nothing leads out. links_inside NS...: every link of these namespaces is lo,
# a bridge or a veth whose other end is in one of them, MTU 1500.
links_inside() {
	for _ns; do
		ip -n "$_ns" -o -d link show | awk -v lab=" $* " -v ns="$_ns" '
			{ name = $2; sub(/:$/, "", name); sub(/@.*/, "", name) }
			name == "lo" { next }
			$0 !~ / mtu 1500 / { print "# " ns ": " name " has another MTU"; bad = 1 }
			/ veth / {
				if (match($0, /link-netns [^ ]+/) &&
				    index(lab, " " substr($0, RSTART + 11, RLENGTH - 11) " "))
					next
				print "# " ns ": " name " leads out of the lab"; bad = 1; next
			}
			/ bridge forward_delay / { next }
			{ print "# " ns ": " name " is neither a veth nor a bridge"; bad = 1 }
			END { exit bad }' || return 1
	done
}
# shellcheck disable=SC2086
check "every link is a veth inside the lab or a bridge, MTU 1500" links_inside $NAT_NETNS
# The check can fail: a veth to a namespace outside the list. It is listed
# for nat_lab_down meanwhile, in case the test ends here.
LAB_NETNS=$NAT_NETNS
STRAY=$NAT_ID-stray
NAT_NETNS="$NAT_NETNS $STRAY"
ip netns add "$STRAY" && ip -n "$NAT_ID-gw" link add stray0 type veth peer name eth0 netns "$STRAY"
# shellcheck disable=SC2086
check "a veth to a foreign namespace is caught" fails links_inside $LAB_NETNS
ip -n "$NAT_ID-gw" link del stray0
ip netns delete "$STRAY"
NAT_NETNS=$LAB_NETNS
check "the internet has no default route" test -z "$(nat_exec inet ip route show default)"
check "the internet forwards nothing" test "$(nat_exec inet cat /proc/sys/net/ipv4/ip_forward)" = 0
FWD=
for n in $NAT_NODES; do
	[ "$(nat_exec "$n" cat /proc/sys/net/ipv4/ip_forward)" = 1 ] && FWD="$FWD $n"
done
check "only the routers forward ($FWD)" test "$FWD" = " c r s u d_cgn d t"
# The host's own addresses, and one on the real internet: no answer from
# anywhere in the lab. Pings to pub show that ping itself works.
if command -v ping >/dev/null 2>&1; then
	HOST_IPS="$(ip -4 -o addr show scope global | awk '{ sub(/\/.*/, "", $4); printf "%s ", $4 }')1.1.1.1"
	check "ping works in the lab (ca pings pub)" quiet nat_exec ca ping -c 1 -W 2 "$NAT_PUB_IP"
	# All at once; a bare `wait` would wait for the echo servers too.
	PINGS=
	for n in $NAT_NODES; do
		for ip in $HOST_IPS; do
			{ nat_exec "$n" ping -c 1 -W 1 -q "$ip" >/dev/null 2>&1 &&
				echo "# $n reaches $ip"; } >>"$T/reached" &
			PINGS="$PINGS $!"
		done
	done
	for p in $PINGS; do
		wait "$p"
	done
	cat "$T/reached" 2>/dev/null
	check "no namespace reaches the host's addresses ($HOST_IPS) or beyond" \
		test ! -s "$T/reached"
else
	ok "# skip no ping: the host's addresses are not tried"
fi

NETNS=$NAT_NETNS
ETC=$NAT_ETC
PIDS=$(for ns in $NETNS; do ip netns pids "$ns"; done)
check "the echo servers run in the lab" test -n "$PIDS"
nat_lab_down
no_netns_left() { ! ip netns list | grep -q "^$NAT_ID-"; }
no_process_left() {
	for p in $PIDS; do
		ps -o stat= -p "$p" | grep -q '^[^Z]' && return 1
	done
	return 0
}
no_etc_left() {
	for ns in $ETC; do
		[ -e "/etc/netns/$ns" ] && return 1
	done
	! ls -d /etc/netns/"$NAT_ID"-* >/dev/null 2>&1
}
check "nat_lab_down deletes every namespace of this run" no_netns_left
check "nat_lab_down ends every process of the lab" no_process_left
check "nat_lab_down removes the /etc/netns entries" no_etc_left
echo "# $(($(date +%s) - START)) s"

finish
