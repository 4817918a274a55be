#!/bin/sh
# Direct paths with ICE, in the NAT lab (docs/ice.md): a gateway on the
# lab's public host gw, a laptop and a phone each behind a NAT, ICE on. For
# each pair of NATs the laptop looks the phone up by name (the trigger) and
# pings it; the test waits for the path the pair ends on and checks it on
# both sides:
#
#   cone, cone                 reflexive (through both NATs' mappings)
#   restricted, restricted     reflexive (port-restricted both ways)
#   the same restricted NAT    direct (host to host on the LAN)
#   symmetric, cone            reflexive (the symmetric side is learned
#                              peer-reflexive from its checks)
#   symmetric, symmetric       relay-udp: ICE fails, and says why
#   symmetric with miniupnpd,  upnp (the router maps the port libnice asks
#     symmetric                for over UPnP-IGD)
#   symmetric, symmetric,      turn (coturn with the gateway's REST-API
#     coturn, relay off        credentials)
#   cone, UDP dropped          relay-tcp (the phone on TLS 443, ICE fails)
#
# On a direct path: pings by name work, and the gateway's relay forwards
# nothing of them. With the first pair: a paced transfer started with the
# lookup begins on the relay and ends direct, byte for byte (the switch
# loses nothing); then the phone moves to another NAT mid-transfer: ICE
# restarts, the pair is back on the relay at once and direct again within
# seconds, and the transfer completes byte for byte.
#
# Timings go out as # lines: first lookup to first ping reply, and to the
# direct path in use.
#
# Needs root, iproute2, nftables, util-linux, iputils-ping, netcat-openbsd,
# jq, python3, coturn, miniupnpd-nftables (scripts/install-deps.sh).
# Without root it exits 77 (skipped).
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root for network namespaces"
	exit 77
fi
. "$(dirname "$0")/../lab/nat.sh"
. "$(dirname "$0")/../lab/cloud.sh"

N=0
S=
L=
P=

scenario_down() {
	cloud_down "$L" "$P"
	L= P=
}
trap 'scenario_down; [ -n "${ICE_KEEP:-}" ] && cp -r "$T" "$ICE_KEEP"; cleanup' EXIT

show_logs() {
	for _l_log in "$@" "$T/gwd-gw$N.log" "$L/signpostd.log" "$P/signpostd.log"; do
		[ -s "$_l_log" ] || continue
		echo "# --- last lines of $_l_log:" >&2
		grep -v 'resolver:' "$_l_log" | tail -n 12 | sed 's/^/#   /' >&2
	done
}

bail() {
	echo "Bail out! ice: $1"
	shift
	show_logs "$@"
	exit 1
}


path_of() { cloud_peer "$1" "$2" path; }
quiet() { "$@" >/dev/null 2>&1; }
has() { printf '%s\n' "$1" | grep -q -- "$2"; }
# relay_counter NAME: the gateway's relay counter NAME.
relay_counter() { cloud_kv "$CLOUD_GW" relay "$1"; }
ping_phone() { nat_exec laptop ping -n -6 "$@" "phone.$ZONE"; }

missing=
for pair in ip:iproute2 nft:nftables setsid:util-linux ping:iputils-ping nc:netcat-openbsd \
	jq:jq python3:python3 getent:libc-bin sha256sum:coreutils turnserver:coturn \
	miniupnpd:miniupnpd-nftables; do
	command -v "${pair%%:*}" >/dev/null 2>&1 ||
		[ -x "/usr/sbin/${pair%%:*}" ] || [ -x "/usr/bin/${pair%%:*}" ] ||
		missing="$missing ${pair#*:}"
done
[ -z "$missing" ] || bail "missing Debian packages:$missing (scripts/install-deps.sh)"
[ -c /dev/net/tun ] || bail "no /dev/net/tun"

# pace.py FILE NAME PORT RATE: look NAME up (AAAA, through the member's
# resolver: the lookup that starts ICE) and send FILE to it by TCP at about
# RATE bytes a second, so the transfer lasts while paths change under it.
cat >"$T/pace.py" <<'EOF'
import socket, sys, time
path, name, port, rate = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
data = open(path, "rb").read()
addr = socket.getaddrinfo(name, port, socket.AF_INET6, socket.SOCK_STREAM)[0][4]
s = socket.create_connection(addr[:2], timeout=20)
chunk = 16384
t0 = time.monotonic()
for off in range(0, len(data), chunk):
    s.sendall(data[off:off + chunk])
    ahead = (off + chunk) / rate - (time.monotonic() - t0)
    if ahead > 0:
        time.sleep(ahead)
s.shutdown(socket.SHUT_WR)
s.recv(1)
s.close()
EOF
head -c 3145728 /dev/urandom >"$T/data.bin"
TURN_SECRET=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')

# scenario_up LABEL KIND_L KIND_P [GATEWAY-FLAG...]: a fresh lab; KIND_P
# "same" puts the phone in the laptop's home. False (not ok) if the
# members never take each other as peers.
scenario_up() {
	N=$((N + 1))
	LABEL=$1 _u_kl=$2 _u_kp=$3
	# ICE_ONLY=PATTERN runs only the scenarios whose label matches (a
	# developer's shortcut; the test runs them all).
	case $LABEL in ${ICE_ONLY:-*}) ;; *) return 1 ;; esac
	shift 3
	S=$T/s$N
	L=$S/laptop
	P=$S/phone
	mkdir -p "$S"
	CLOUD_IFACES="$CLOUD_IFACES spi$$g$N spi$$l$N spi$$p$N"
	echo "# ---- $LABEL"
	nat_lab_up
	if [ "$_u_kp" = same ]; then
		nat_home "$_u_kl" home laptop phone
	else
		nat_home "$_u_kl" home laptop
		nat_home "$_u_kp" away phone
	fi
	[ -n "${UPNP_HOME:-}" ] && nat_upnp "$UPNP_HOME"
	[ -n "${WITH_TLS:-}" ] && set -- "$@" --relay-tls-listen "$NAT_GW_IP:443"
	if [ -n "${WITH_TURN:-}" ]; then
		nat_turn pub "$TURN_SECRET"
		printf 'turn-server %s:3478\nturn-secret %s\n' "$NAT_PUB_IP" "$TURN_SECRET" \
			>"$S/gw.conf"
		chmod 600 "$S/gw.conf"
		set -- "$@" --config "$S/gw.conf"
	fi
	cloud_gw_start "$S/gw$N" "spi$$g$N" "$@" || bail "the gateway did not start"
	cloud_join laptop laptop "$L" "spi$$l$N" || bail "laptop could not join" "$T/join-laptop.log"
	cloud_join phone phone "$P" "spi$$p$N" || bail "phone could not join" "$T/join-phone.log"
	LA=$(cloud_address laptop)
	PA=$(cloud_address phone)
	nat_resolver laptop "$LA"
	nat_resolver phone "$PA"
	if ! cloud_until 15 peers_known; then
		not_ok "$LABEL: the members take each other as peers"
		show_logs
		return 1
	fi
}
peers_known() {
	[ -n "$(path_of "$L" phone)" ] && [ -n "$(path_of "$P" laptop)" ] &&
		[ "$(cloud_peer "$L" phone state)" != resolving ]
}

# lookup_and_ping: the laptop's first lookup of the phone and a ping by
# name; FIRST_MS from the lookup to the first reply, T0 the lookup's time.
lookup_and_ping() {
	T0=$(now_ns)
	_p_n=0
	until ping_phone -c 1 -W 2 >"$S/first.ping" 2>&1; do
		_p_n=$((_p_n + 1))
		[ $_p_n -lt 4 ] || return 1
	done
	FIRST_MS=$(ms_since "$T0")
}

# pings_skip_relay KIND: 5 pings by name, and the relay forwards none.
pings_skip_relay() {
	_e_before=$(relay_counter forwarded)
	if ping_phone -c 5 -i 0.1 -W 2 >"$S/direct.ping" 2>&1 &&
		[ "$(relay_counter forwarded)" = "$_e_before" ]; then
		ok "$LABEL: 5 pings by name cross the $1 path; the relay forwards none of them"
	else
		not_ok "$LABEL: 5 pings by name cross the $1 path without the relay ($(tail -n 2 "$S/direct.ping" | head -n 1); relay forwarded $_e_before -> $(relay_counter forwarded))"
		show_logs
	fi
}

gw_path_tcp() { [ "$(cloud_json "$P" | jq -r '.["gateway-path"]')" = tcp-443 ]; }
both_on() { [ "$(path_of "$L" phone)" = "$1" ] && [ "$(path_of "$P" laptop)" = "$1" ]; }

# expect_direct KIND: the pair reaches KIND on both sides within 10 s of
# the lookup; then pings cross it, not the relay.
expect_direct() {
	if ! lookup_and_ping; then
		not_ok "$LABEL: the phone answers a ping by name"
		show_logs
		return 1
	fi
	ok "$LABEL: the phone answers a ping by name (first reply $FIRST_MS ms after the lookup)"
	if cloud_until 10 both_on "$1"; then
		DIRECT_MS=$(ms_since "$T0")
		ok "$LABEL: both sides on a $1 path ($DIRECT_MS ms after the lookup; ICE: $(cloud_ice "$L" phone direct-after-ms) ms)"
		echo "# timing $LABEL: first-reply=$FIRST_MS ms direct=$DIRECT_MS ms ice=$(cloud_ice "$L" phone direct-after-ms) ms"
	else
		not_ok "$LABEL: both sides on a $1 path (laptop: $(path_of "$L" phone), phone: $(path_of "$P" laptop))"
		cloud_json "$L" | jq -c '.["member-ice"]' >&2
		show_logs
		return 1
	fi
	pings_skip_relay "$1"
}

# expect_fallback PATH WHY: ICE gives up with WHY and the pair stays on PATH,
# where pings by name work.
expect_fallback() {
	if ! lookup_and_ping; then
		not_ok "$LABEL: the phone answers a ping by name"
		show_logs
		return 1
	fi
	ok "$LABEL: the phone answers a ping by name (first reply $FIRST_MS ms after the lookup)"
	if cloud_until 30 ice_failed; then
		ok "$LABEL: ICE gives up ($(cloud_ice "$L" phone why)) and says so in status"
	else
		not_ok "$LABEL: ICE gives up within 30 s (state $(cloud_ice "$L" phone state), why $(cloud_ice "$L" phone why))"
		show_logs
	fi
	verify "$LABEL: the pair stays on $1 (laptop: $(path_of "$L" phone))" \
		[ "$(path_of "$L" phone)" = "$1" ]
	verify "$LABEL: pings by name still work on $1" quiet ping_phone -c 3 -i 0.2 -W 2 -q
	echo "# timing $LABEL: first-reply=$FIRST_MS ms, no direct path"
}
ice_failed() {
	[ "$(cloud_ice "$L" phone state)" = failed ] && [ -n "$(cloud_ice "$L" phone why)" ]
}

# paced_transfer PORT RATE OUT: the data file to the phone's name at RATE
# bytes/s; the phone writes it to OUT. The sender's resolution is the lookup.
paced_transfer() {
	nat_spawn phone "s$N-nc$1" sh -c 'exec nc -6 -l -s "$1" -p "$2" >"$3"' - "$PA" "$1" "$3"
	_t_rx=$NAT_PID
	nat_wait_port phone tcp "$1" || return 1
	timeout 40 ip netns exec "$NAT_ID-laptop" python3 "$T/pace.py" "$T/data.bin" "phone.$ZONE" "$1" \
		"$2" 2>"$S/pace$1.err" &
	TX_PID=$!
}
transfer_done() {
	wait "$TX_PID"
	_t_rc=$?
	_t_i=0
	while kill -0 "$_t_rx" 2>/dev/null && [ $_t_i -lt 50 ]; do
		sleep 0.1
		_t_i=$((_t_i + 1))
	done
	nat_stop "$_t_rx"
	[ "$_t_rc" -eq 0 ]
}
# ice_count STATE NAME: a counter of STATE's ice status field.
ice_count() { cloud_kv "$1" ice "$2"; }
phone_restarts() { cloud_kv "$P" ice restarts; }
restarted() { [ "$(phone_restarts)" -gt "$1" ]; }
# began_relayed BYTES: part of the transfer (more than its connection's
# handshake), not all of it, went through the relay; the pair ended direct.
began_relayed() {
	[ "$1" -ge 16384 ] && [ "$1" -lt 3145728 ] && [ "$(path_of "$L" phone)" = reflexive ]
}
same_file() { [ "$(sha256sum <"$1")" = "$(sha256sum <"$2" 2>/dev/null)" ]; }

# ---- cone, cone: the switch under a transfer, and a move --------------------
if scenario_up "cone, cone" cone cone; then
	# The transfer starts with the first lookup: its first bytes go
	# through the relay, the rest direct once ICE has a pair.
	RELAY0=$(relay_counter bytes)
	T0=$(now_ns)
	if paced_transfer 7001 1048576 "$S/rx1.bin"; then
		cloud_until 10 both_on reflexive
		SWITCH_MS=$(ms_since "$T0")
		transfer_done
		RELAYED=$(($(relay_counter bytes) - RELAY0))
		verify "cone, cone: 3 MB sent with the lookup arrive byte for byte across the switch" \
			same_file "$T/data.bin" "$S/rx1.bin"
		verify "cone, cone: the transfer began on the relay ($RELAYED bytes relayed) and moved to reflexive after $SWITCH_MS ms" \
			began_relayed "$RELAYED"
		echo "# timing cone, cone with a transfer: direct after $SWITCH_MS ms, $RELAYED bytes relayed first"
	else
		not_ok "cone, cone: the transfer starts"
		show_logs "$S/pace7001.err"
	fi
	verify "cone, cone: the phone agrees: reflexive (remote view $(cloud_ice "$P" laptop remote-view))" \
		both_on reflexive
	pings_skip_relay reflexive
	# The phone moves to a new network mid-transfer: ICE restarts; the
	# pair is on the relay at once and direct again when the new pair is.
	nat_home cone cafe cafehost
	if paced_transfer 7002 1048576 "$S/rx2.bin"; then
		sleep 0.5
		RESTARTS0=$(phone_restarts)
		FALLBACKS_P=$(ice_count "$P" fallbacks)
		FALLBACKS_L=$(ice_count "$L" fallbacks)
		RELAY0=$(relay_counter bytes)
		T0=$(now_ns)
		nat_move phone cafe
		cloud_until 5 restarted "$RESTARTS0"
		RESTART_MS=$(ms_since "$T0")
		cloud_until 15 both_on reflexive
		BACK_MS=$(ms_since "$T0")
		RELAYED=$(($(relay_counter bytes) - RELAY0))
		transfer_done
		# Both ends left the old pair for the relay (the phone at once, its
		# address gone; the laptop at the phone's new offer) until the new
		# pair was up.
		verify "cone, cone: the phone's move restarts ICE ($RESTART_MS ms) and both ends fall back to the relay meanwhile ($RELAYED bytes relayed)" \
			[ "$(ice_count "$P" fallbacks)" -gt "$FALLBACKS_P" -a \
			"$(ice_count "$L" fallbacks)" -gt "$FALLBACKS_L" ]
		verify "cone, cone: direct again after the move ($BACK_MS ms; laptop: $(path_of "$L" phone))" \
			both_on reflexive
		verify "cone, cone: the transfer across the move arrives byte for byte" \
			same_file "$T/data.bin" "$S/rx2.bin"
		verify "cone, cone: the new pair is from the new network ($(cloud_ice "$P" laptop local), the cafe is $NAT_WAN_cafe)" \
			has "$(cloud_ice "$P" laptop local)" "/$NAT_WAN_cafe:"
		echo "# timing cone, cone, phone moves: ICE restart $RESTART_MS ms, direct again $BACK_MS ms"
	else
		not_ok "cone, cone: the second transfer starts"
	fi
fi
scenario_down

# ---- the rest of the matrix ---------------------------------------------------
if scenario_up "restricted, restricted" restricted restricted; then
	expect_direct reflexive
fi
scenario_down

if scenario_up "one restricted NAT for both" restricted same; then
	expect_direct direct
fi
scenario_down

if scenario_up "symmetric, cone" symmetric cone; then
	expect_direct reflexive
fi
scenario_down

if scenario_up "symmetric, symmetric" symmetric symmetric; then
	expect_fallback relay-udp
fi
scenario_down

# A UPnP-IGD router (miniupnpd) on the laptop's symmetric NAT: libnice
# maps its port there, and the pair goes through the mapping.
if UPNP_HOME=home scenario_up "symmetric with UPnP, symmetric" symmetric symmetric; then
	expect_direct upnp
fi
scenario_down

# The gateway relays nothing; a TURN server (coturn) it gives members
# credentials for carries the pair that no NAT lets through.
if WITH_TURN=1 scenario_up "symmetric, symmetric, TURN, relay off" symmetric symmetric --relay off; then
	verify "relay off: the gateway gives members no relay slot and says so" \
		[ "$(cloud_json "$CLOUD_GW" | jq -r '.rendezvous' | tr ' ' '\n' | sed -n 's/^relay=//p')" = off ]
	expect_direct turn
	verify "TURN: the laptop's agent has the gateway's TURN server ($(cloud_json "$L" | jq -r .ice | tr ' ' '\n' | sed -n 's/^turn=//p'))" \
		has "$(cloud_json "$L" | jq -r .ice)" "turn=$NAT_PUB_IP:3478"
	verify "TURN: coturn made allocations with the REST-API credentials" \
		grep -q -E "user <[0-9]+:[0-9a-f]{16}>: incoming packet ALLOCATE processed, success" "$T/turn-pub.log"
fi
scenario_down

# The phone's network drops all UDP: it reaches its gateway over TLS on
# 443, ICE finds nothing, and the laptop reaches it through the relay.
if WITH_TLS=1 scenario_up "cone, UDP dropped" cone cone; then
	nat_udp_block away on
	if cloud_until 20 gw_path_tcp; then
		ok "cone, UDP dropped: the phone reaches its gateway over TLS on 443"
		expect_fallback relay-udp
		verify "cone, UDP dropped: the phone sees the laptop through the relay over TCP ($(path_of "$P" laptop))" \
			[ "$(path_of "$P" laptop)" = relay-tcp ]
	else
		not_ok "cone, UDP dropped: the phone reaches its gateway over TLS on 443 ($(cloud_json "$P" | jq -r '.["gateway-path"]'))"
		show_logs
	fi
fi
scenario_down

finish
