#!/bin/sh
# Reach by name through the gateway's relay, in the NAT lab: a gateway on
# the lab's public host gw, and two members, laptop and phone, paired by URI
# and each behind a NAT. For each pair of NATs (cone and symmetric,
# symmetric and double, both behind one restricted NAT): the laptop pings
# phone.alice.example by name through its own validating resolver; 2 MB of
# random data sent by TCP to the name arrive byte for byte; the laptop's
# status shows the phone reached through the relay with a session up; the
# gateway counts what it forwarded; and a capture on the gateway's link
# never holds a marker the laptop sent through the tunnel (while the phone
# got it, and while a marker sent in the clear does show in the capture).
# With the first pair only: a non-member's relay frames are refused as
# bad-key and never reach the phone; an answer from the gateway with one bit
# of an AAAA record flipped on its way is refused as bogus (SERVFAIL), and
# the same name answers once the alteration stops; with the gateway killed
# (-9) names still resolve from the member's cache, and once the gateway is
# started again on the same state the ping by name works within 10 s.
# Members behind a NAT that drops all UDP (the relay over TCP 443), and a
# member roaming mid-transfer, are tests/system/paths.sh's. Members here
# join with --ice off, so the relay is what is tested; direct paths are
# tests/system/ice.sh's.
#
# Timings go out as # lines: from the first lookup to the first reply of a
# `ping -c 1` by name (the lookup, the handshake through the relay, one
# round trip), and the TCP transfer.
#
# Needs root, iproute2, nftables, util-linux, iputils-ping, netcat-openbsd,
# tcpdump, bind9-dnsutils (dig), jq and python3 (scripts/install-deps.sh).
# Without root it exits 77 (skipped).
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root for network namespaces"
	exit 77
fi
. "$(dirname "$0")/../lab/nat.sh"

ZONE=alice.example
SKIPPED=0
# The scenario running now: its number, state directories and interfaces.
N=0
S=
GW=
LAPTOP=
PHONE=
GWPID=
IFG=
# Every interface this run made, for their UAPI sockets.
IFACES=

# A member's signpostd was started by its join, detached, in its
# namespace: its pid is in its status (as signpostd/demo.sh stops it).
member_stop() {
	[ -S "$1/control.sock" ] || return 0
	_m_pid=$(sp --state "$1" status --json 2>/dev/null | jq -r '.pid // empty' 2>/dev/null)
	[ -n "$_m_pid" ] || return 0
	kill -TERM "$_m_pid" 2>/dev/null
	_m_i=0
	while kill -0 "$_m_pid" 2>/dev/null && [ $_m_i -lt 30 ]; do
		sleep 0.1
		_m_i=$((_m_i + 1))
	done
	kill -KILL "$_m_pid" 2>/dev/null
	return 0
}

# scenario_down: the members, the gateway, then the lab and the sockets.
scenario_down() {
	[ -n "$LAPTOP" ] && member_stop "$LAPTOP"
	[ -n "$PHONE" ] && member_stop "$PHONE"
	[ -n "$GWPID" ] && nat_stop "$GWPID"
	GWPID=
	nat_lab_down
	for _d_if in $IFACES; do
		rm -f "/var/run/wireguard/$_d_if.sock"
	done
	return 0
}
trap 'scenario_down; cleanup' EXIT

bail() {
	echo "Bail out! reach: $1"
	shift
	show_logs "$@"
	exit 1
}

# show_logs [FILE...]: the last lines of the scenario's logs (and FILEs).
show_logs() {
	for _l_log in "$@" "$T/gwd$N.log" "$T/gwd${N}b.log" "$LAPTOP/signpostd.log" \
		"$PHONE/signpostd.log"; do
		[ -s "$_l_log" ] || continue
		echo "# --- last lines of $_l_log:" >&2
		tail -n 15 "$_l_log" | sed 's/^/#   /' >&2
	done
}

# verify DESCRIPTION COMMAND...: check, with the logs when it fails.

now_ns() { date +%s%N; }
ms_since() { echo $((($(now_ns) - $1) / 1000000)); }
# has TEXT PATTERN: grep in a value.
has() { printf '%s\n' "$1" | grep -q -- "$2"; }
json() { sp --state "$1" status --json 2>/dev/null; }
# counter STATE FIELD NAME: NAME=N out of a "k=v k=v" status field.
counter() {
	json "$1" | jq -r --arg f "$2" '.[$f] // ""' | tr ' ' '\n' | sed -n "s/^$3=//p"
}
address_of() {
	sp --state "$GW" devices --json | jq -r --arg n "$1" '.devices[] | select(.name == $n) | .address'
}
# peer_field STATE NAME FIELD: a field of member-peers' entry for NAME.
peer_field() {
	json "$1" | jq -r --arg n "$2" --arg f "$3" \
		'.["member-peers"][]? | select(.name == $n) | .[$f] | tostring'
}
peer_ready() { [ "$(peer_field "$1" "$2" path)" = relay-udp ]; }
# ping_name NODE NAME [ARGS]: by name, through NODE's resolv.conf, which
# names the member's own resolver. -n: the lab has no resolver for names
# outside the zone, and ping's reverse lookup of each reply would wait for
# its timeouts.
ping_name() {
	_p_node=$1 _p_name=$2
	shift 2
	nat_exec "$_p_node" ping -n -6 "$@" "$_p_name"
}

missing=
for pair in ip:iproute2 nft:nftables setsid:util-linux ping:iputils-ping nc:netcat-openbsd \
	tcpdump:tcpdump dig:bind9-dnsutils getent:libc-bin jq:jq python3:python3 \
	sha256sum:coreutils; do
	command -v "${pair%%:*}" >/dev/null 2>&1 || missing="$missing ${pair#*:}"
done
[ -z "$missing" ] || bail "missing Debian packages:$missing (scripts/install-deps.sh)"
[ -c /dev/net/tun ] || bail "no /dev/net/tun"

head -c 2097152 /dev/urandom >"$T/data.bin"
MARKER=SIGNPOST-MARKER-$$
i=0
while [ $i -lt 10000 ]; do
	echo "$MARKER $i"
	i=$((i + 1))
done >"$T/marker.txt"
# tamper.py ADDR PORT COUNTFILE: a DNS proxy on [ADDR]:PORT to [ADDR]:53
# that flips the last bit of every AAAA in the answers, and writes how many
# it flipped to COUNTFILE (altered_answer).
cat >"$T/tamper.py" <<'EOF'
import socket, struct, sys
addr, port, count = sys.argv[1], int(sys.argv[2]), sys.argv[3]
down = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
down.bind((addr, port))
up = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
up.bind((addr, 0))
up.settimeout(2)
def skip_name(m, i):
    while m[i] != 0:
        if m[i] & 0xC0 == 0xC0:
            return i + 2
        i += 1 + m[i]
    return i + 1
flipped = 0
while True:
    q, client = down.recvfrom(4096)
    up.sendto(q, (addr, 53))
    try:
        r = bytearray(up.recv(65535))
    except socket.timeout:
        continue
    qd, an = struct.unpack(">HH", r[4:8])
    i = 12
    for _ in range(qd):
        i = skip_name(r, i) + 4
    for _ in range(an):
        i = skip_name(r, i)
        rtype, _, _, rdlen = struct.unpack(">HHIH", r[i:i + 10])
        i += 10
        if rtype == 28:
            r[i + rdlen - 1] ^= 1
            flipped += 1
        i += rdlen
    down.sendto(bytes(r), client)
    with open(count, "w") as f:
        f.write("%d\n" % flipped)
EOF

# gw_start [LOGNAME]: the gateway's signpostd on gw, until its own pid
# answers status.
gw_start() {
	nat_spawn gw "${1:-gwd$N}" "$BIN/signpostd" --state "$GW" --interface "$IFG" \
		--dns-listen "$NAT_GW_IP:53" --public-endpoint "$NAT_GW_IP:51820"
	GWPID=$NAT_PID
	_g_i=0
	while [ $_g_i -lt 200 ]; do
		kill -0 "$GWPID" 2>/dev/null || return 1
		[ "$(json "$GW" | jq -r .pid 2>/dev/null)" = "$GWPID" ] && return 0
		sleep 0.05
		_g_i=$((_g_i + 1))
	done
	return 1
}

# join NODE NAME IFNAME: a code for NAME from the gateway, joined from
# NODE with the tunnel IFNAME.
join() {
	sp --state "$GW" pair --name "$2" --qr "png:$T/s$N-$2.png" --uri --no-wait \
		>"$T/s$N-$2.uri" 2>"$T/s$N-$2.pair.err" ||
		bail "pair --name $2 failed" "$T/s$N-$2.pair.err"
	if nat_exec "$1" "$BIN/signpost" --state "$S/$2" join "$(grep '^signpost:pair?' "$T/s$N-$2.uri")" \
		--interface "$3" --ice off >"$T/s$N-$2.join" 2>&1; then
		ok "$LABEL: $2 joins from behind its NAT"
	else
		not_ok "$LABEL: $2 joins from behind its NAT ($(tail -n 1 "$T/s$N-$2.join")); the pair's checks do not run"
		show_logs "$T/s$N-$2.join"
		return 1
	fi
}

# scenario_up LABEL KIND_L KIND_P: a fresh lab, gateway and pair; the
# laptop in a KIND_L home and the phone in a KIND_P home, or in the
# laptop's home when KIND_P is "same". False (and not ok) when a member
# could not join or the two never took each other as peers.
scenario_up() {
	N=$((N + 1))
	LABEL=$1
	S=$T/s$N
	GW=$S/gw
	LAPTOP=$S/laptop
	PHONE=$S/phone
	IFG=spr$$g$N
	IFACES="$IFACES $IFG spr$$l$N spr$$p$N"
	mkdir "$S"
	echo "# ---- $LABEL: laptop behind $2, phone behind $([ "$3" = same ] && echo "the same $2 NAT" || echo "$3")"
	nat_lab_up
	if [ "$3" = same ]; then
		nat_home "$2" home laptop phone
	else
		nat_home "$2" home laptop
		nat_home "$3" away phone
	fi
	sp --state "$GW" init --zone "$ZONE" --name gw >"$T/s$N-init.log" 2>&1 ||
		bail "signpost init failed" "$T/s$N-init.log"
	gw_start || bail "the gateway did not start"
	join laptop laptop "spr$$l$N" || return 1
	join phone phone "spr$$p$N" || return 1
	LA=$(address_of laptop)
	PA=$(address_of phone)
	GO=$(address_of gw)
	[ -n "$LA" ] && [ -n "$PA" ] && [ -n "$GO" ] || bail "devices does not list the members"
	nat_resolver laptop "$LA"
	nat_resolver phone "$PA"
	# The control plane tells each member of the other; its key is taken
	# once the IPSECKEY validates. The clock starts after that.
	_s_i=0
	until peer_ready "$LAPTOP" phone && peer_ready "$PHONE" laptop; do
		if [ $_s_i -ge 100 ]; then
			not_ok "$LABEL: the members take each other as peers within 10 s ($(json "$LAPTOP" | jq -c '.["member-peers"]'))"
			show_logs
			return 1
		fi
		sleep 0.1
		_s_i=$((_s_i + 1))
	done
}

# first_reply: from the first lookup of phone's name to the first reply
# of a ping to it; a few tries, each with its own lookup (cached after the
# first).
first_reply() {
	_f_t0=$(now_ns)
	_f_n=1
	until ping_name laptop "phone.$ZONE" -c 1 -W 2 >"$T/s$N-first.ping" 2>&1; do
		[ $_f_n -lt 5 ] || return 1
		_f_n=$((_f_n + 1))
	done
	FIRST_MS=$(ms_since "$_f_t0")
	FIRST_TRIES=$_f_n
}

# transfer FILE PORT OUT: FILE from the laptop to PORT on the phone's
# address as getent resolves it through the laptop's resolver; the phone
# writes what it receives to OUT.
transfer() {
	_t_to=$(nat_exec laptop getent ahostsv6 "phone.$ZONE" | awk 'NR == 1 { print $1 }')
	RESOLVED=$_t_to
	[ -n "$_t_to" ] || return 1
	nat_spawn phone "s$N-nc$2" sh -c 'exec nc -6 -l -s "$1" -p "$2" >"$3"' - "$PA" "$2" "$3"
	_t_rx=$NAT_PID
	nat_wait_port phone tcp "$2" || return 1
	_t_t0=$(now_ns)
	timeout 30 ip netns exec "$NAT_ID-laptop" nc -6 -N "$_t_to" "$2" <"$1" 2>"$T/s$N-nc$2.err"
	_t_rc=$?
	_t_i=0
	while kill -0 "$_t_rx" 2>/dev/null && [ $_t_i -lt 100 ]; do
		sleep 0.1
		_t_i=$((_t_i + 1))
	done
	TRANSFER_MS=$(ms_since "$_t_t0")
	nat_stop "$_t_rx"
	[ "$_t_rc" -eq 0 ]
}

same_file() { [ "$(sha256sum <"$1")" = "$(sha256sum <"$2" 2>/dev/null)" ]; }

status_shows_relay() {
	json "$LAPTOP" | jq -e '.["member-peers"][] | select(.name == "phone") |
		.path == "relay-udp" and .session == "up" and .rx > 0 and .tx > 0' >/dev/null
}

# capture_start FILE / capture_stop: tcpdump on the gateway's only link.
# -Z root: $T is root's alone; --immediate-mode: every packet is written
# before the interrupt.
capture_start() {
	nat_spawn gw "s$N-tcpdump" tcpdump -i eth0 -Z root --immediate-mode -U -w "$1"
	CAPPID=$NAT_PID
	_c_i=0
	until grep -q 'listening on' "$T/s$N-tcpdump.log" 2>/dev/null; do
		[ $_c_i -lt 50 ] || return 1
		sleep 0.1
		_c_i=$((_c_i + 1))
	done
}
capture_stop() {
	sleep 0.3
	kill -INT "$CAPPID" 2>/dev/null
	wait "$CAPPID" 2>/dev/null
}
# count_in FILE STRING: how many lines of FILE's bytes hold STRING.
count_in() { grep -a -c -F -- "$2" "$1" 2>/dev/null || true; }

# pair_checks: items 1 to 5 of the brief, for the scenario up now.
pair_checks() {
	if first_reply; then
		echo "# $LABEL: first lookup to first reply: $FIRST_MS ms (ping -c 1 -W 2 by name, DNS included; $FIRST_TRIES tries)"
		ok "$LABEL: the first ping by name is answered"
	else
		not_ok "$LABEL: the first ping by name is answered (not in 5 tries: $(tail -n 3 "$T/s$N-first.ping"))"
		show_logs
	fi
	_q0=$(counter "$LAPTOP" resolver hits)
	ping_name laptop "phone.$ZONE" -c 3 -i 0.2 -W 2 >"$T/s$N-ping3" 2>&1
	verify "$LABEL: the laptop pings phone.$ZONE by name: 3 of 3 answered ($(grep -o '[0-9]* received' "$T/s$N-ping3"))" \
		grep -q ' 0% packet loss' "$T/s$N-ping3"
	verify "... and the name came from the laptop's own resolver (hits $_q0 -> $(counter "$LAPTOP" resolver hits))" \
		test "$(counter "$LAPTOP" resolver hits)" -gt "${_q0:-0}"
	ping_name phone "laptop.$ZONE" -c 3 -i 0.2 -W 2 >"$T/s$N-ping3b" 2>&1
	verify "$LABEL: and back: the phone pings laptop.$ZONE by name" \
		grep -q ' 0% packet loss' "$T/s$N-ping3b"

	rm -f "$T/recv.bin"
	transfer "$T/data.bin" 7001 "$T/recv.bin"
	_rc=$?
	verify "$LABEL: getent resolves phone.$ZONE through the laptop's resolver to its address (${RESOLVED:-nothing})" \
		test "$RESOLVED" = "$PA"
	verify "$LABEL: 2 MB of random data by TCP to phone.$ZONE arrive byte for byte ($(wc -c <"$T/recv.bin" 2>/dev/null || echo 0) bytes)" \
		test "$_rc" -eq 0 -a -s "$T/recv.bin"
	verify "... the same sha256" same_file "$T/data.bin" "$T/recv.bin"
	echo "# $LABEL: 2 MB by TCP through the relay in $TRANSFER_MS ms"

	verify "$LABEL: the laptop's status shows phone on path relay-udp, session up, rx and tx > 0 ($(json "$LAPTOP" | jq -c '.["member-peers"][]? | select(.name == "phone") | {path, session, rx, tx}'))" \
		status_shows_relay
	_fw=$(counter "$GW" relay forwarded)
	verify "$LABEL: the gateway's relay forwarded frames (forwarded=${_fw:-none})" \
		test "${_fw:-0}" -gt 0

	if capture_start "$T/s$N.pcap"; then
		rm -f "$T/mrecv.txt"
		transfer "$T/marker.txt" 7002 "$T/mrecv.txt"
		# A marker in the clear, from pub to the gateway: the capture and
		# the search do see what crosses the link unencrypted.
		echo "SIGNPOST-CLEAR-$$" | nat_exec pub nc -u -w 1 "$NAT_GW_IP" 9 2>/dev/null
		capture_stop
		verify "$LABEL: the phone received the marker through the tunnel ($(count_in "$T/mrecv.txt" "$MARKER") lines)" \
			same_file "$T/marker.txt" "$T/mrecv.txt"
		verify "$LABEL: the gateway's capture never holds it ($(count_in "$T/s$N.pcap" "$MARKER") times in $(wc -c <"$T/s$N.pcap") bytes)" \
			test "$(count_in "$T/s$N.pcap" "$MARKER")" -eq 0 -a "$(wc -c <"$T/s$N.pcap")" -gt "$(wc -c <"$T/marker.txt")"
		verify "... while it does hold the marker sent in the clear" \
			test "$(count_in "$T/s$N.pcap" "SIGNPOST-CLEAR-$$")" -gt 0
	else
		not_ok "$LABEL: tcpdump on the gateway's link started"
		show_logs "$T/s$N-tcpdump.log"
	fi
}

# rx_drops STATE: the tunnel's drop counters of what it received: all but
# no-peer, which counts packets from its own TUN with nowhere to go
# (router solicitations, say).
rx_drops() {
	json "$1" | jq -r '.["tunnel-drops"]' | tr ' ' '\n' | grep -v '^no-peer=' | tr '\n' ' '
}

# forged_frames: a non-member sends relay frames for the phone's slot, with
# a key of its own.
forged_frames() {
	_x_n=25
	_x_slot=$(json "$PHONE" | jq -r '.["relay-slot"]')
	_x_bk0=$(counter "$GW" relay bad-key)
	_x_rr0=$(json "$PHONE" | jq -r '.["relay-rx-refused"]')
	_x_dr0=$(rx_drops "$PHONE")
	nat_exec pub python3 -c '
import os, socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(int(sys.argv[3])):
    s.sendto(b"R\x01\x00\x00" + struct.pack("<I", int(sys.argv[2])) + os.urandom(8) +
             b"\x04\x00\x00\x00" + os.urandom(64), (sys.argv[1], 51820))
' "$NAT_GW_IP" "$_x_slot" "$_x_n" 2>"$T/forge.err"
	_x_i=0
	while [ "$(counter "$GW" relay bad-key)" -lt $((_x_bk0 + _x_n)) ] && [ $_x_i -lt 20 ]; do
		sleep 0.1
		_x_i=$((_x_i + 1))
	done
	sleep 0.3
	_x_bk1=$(counter "$GW" relay bad-key)
	verify "$_x_n forged relay frames from pub for the phone's slot $_x_slot: the gateway counts exactly $_x_n bad-key ($_x_bk0 -> $_x_bk1)" \
		test "$_x_bk1" -eq $((_x_bk0 + _x_n))
	_x_rr1=$(json "$PHONE" | jq -r '.["relay-rx-refused"]')
	_x_dr1=$(rx_drops "$PHONE")
	verify "... and none reached the phone: its relay-rx-refused ($_x_rr0 -> $_x_rr1) and its drops of what it received are unchanged$([ "$_x_dr1" = "$_x_dr0" ] || echo " (were $_x_dr0, now $_x_dr1)")" \
		test "$_x_rr1" = "$_x_rr0" -a "$_x_dr1" = "$_x_dr0"
}

dig_laptop() {
	nat_exec laptop dig +tries=1 +timeout=4 "@$LA" "$@" 2>&1
}

# altered_answer: DNSSEC. The gateway's answers to the laptop's resolver
# pass tamper.py on the gateway, which flips the last bit of every AAAA in
# them (nft redirects what comes out of the tunnel for the gateway's port
# 53 to it). The name is the gateway's own, which nothing has asked for.
altered_answer() {
	cat >"$T/tamper.nft" <<-EOF
	table ip6 reach_tamper {
		chain prerouting {
			type nat hook prerouting priority dstnat; policy accept;
			iifname "$IFG" ip6 daddr $GO udp dport 53 redirect to :5353
		}
	}
	EOF
	if ! nat_exec gw nft -f "$T/tamper.nft" 2>"$T/tamper.nft.err"; then
		not_ok "nft loads the redirect to the altering proxy"
		show_logs "$T/tamper.nft.err"
		return
	fi
	nat_spawn gw tamper python3 "$T/tamper.py" "$GO" 5353 "$T/tamper.count"
	_a_pid=$NAT_PID
	nat_wait_port gw udp 5353 || bail "the altering proxy did not start" "$T/tamper.log"
	_a_bogus=$(counter "$LAPTOP" resolver bogus)
	_a_out=$(dig_laptop "gw.$ZONE" AAAA)
	nat_exec gw nft delete table ip6 reach_tamper
	nat_stop "$_a_pid"
	verify "an AAAA altered on its way from the gateway: the laptop's resolver answers SERVFAIL ($(printf '%s\n' "$_a_out" | grep -o 'status: [A-Z]*'))" \
		has "$_a_out" 'status: SERVFAIL'
	_a_flipped=$(cat "$T/tamper.count" 2>/dev/null || echo 0)
	verify "... because the proxy did alter it ($_a_flipped AAAA flipped), and the resolver counted it bogus ($_a_bogus -> $(counter "$LAPTOP" resolver bogus))" \
		test "$_a_flipped" -ge 1 -a "$(counter "$LAPTOP" resolver bogus)" -gt "$_a_bogus"
	verify "... and logged it" grep -q "BOGUS answer for gw.$ZONE. type 28" "$LAPTOP/signpostd.log"
	verify "without the alteration the same question validates, to the gateway's address" \
		test "$(dig_laptop +short "gw.$ZONE" AAAA)" = "$GO"
}

# gateway_restart: the gateway killed; names still resolve from the
# member's cache; the gateway started again on its state.
gateway_restart() {
	_r_h0=$(counter "$LAPTOP" resolver hits)
	_r_s0=$(counter "$LAPTOP" resolver stale)
	kill -KILL "$GWPID"
	wait "$GWPID" 2>/dev/null
	GWPID=
	_r_answer=$(dig_laptop +short "phone.$ZONE" AAAA)
	_r_h1=$(counter "$LAPTOP" resolver hits)
	_r_s1=$(counter "$LAPTOP" resolver stale)
	if [ "$_r_s1" -gt "$_r_s0" ]; then
		_r_how="a stale answer (RFC 8767)"
	else
		_r_how="a fresh cache hit: the TTL (300 s) has not run out"
	fi
	verify "with the gateway killed (-9), phone.$ZONE still resolves on the laptop to its address ($_r_how; hits $_r_h0 -> $_r_h1, stale $_r_s0 -> $_r_s1)" \
		test "$_r_answer" = "$PA"
	ping_name laptop "phone.$ZONE" -c 2 -i 0.3 -W 1 >"$T/down.ping" 2>&1
	echo "# while the gateway is down, ping by name: $(grep -o '[0-9]* received' "$T/down.ping") of 2 (the relay is the only path)"
	gw_start "gwd${N}b" || bail "the gateway did not start again on its state"
	_r_t0=$(now_ns)
	until ping_name laptop "phone.$ZONE" -c 1 -W 1 >/dev/null 2>&1; do
		[ "$(ms_since "$_r_t0")" -lt 10000 ] || break
	done
	_r_ms=$(ms_since "$_r_t0")
	echo "# after the restart: $_r_ms ms to the first reply; laptop: $(json "$LAPTOP" | jq -c '{"control-plane": .["control-plane"], "gateway-handshake": .["gateway-handshake"]}'); gateway: $(json "$GW" | jq -c '{"members-connected": .["members-connected"], relay}'), $(counter "$GW" tunnel-drops unknown-index) packets dropped for an unknown session index"
	verify "the gateway started again on the same state and port: the ping by name works within 10 s ($_r_ms ms)" \
		test "$_r_ms" -lt 10000
}

# ---- the pairs --------------------------------------------------------------------

# The first pair also carries what one pair is enough for.
if scenario_up cone-symmetric cone symmetric; then
	pair_checks
	forged_frames
	altered_answer
	gateway_restart
fi
scenario_down

if scenario_up symmetric-double symmetric double; then
	pair_checks
fi
scenario_down

if scenario_up restricted-same restricted same; then
	pair_checks
fi
scenario_down

[ "$SKIPPED" -eq 0 ] || echo "# $SKIPPED skipped"
finish
