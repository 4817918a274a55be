# A personal cloud in the NAT lab: a gateway on the lab's host gw and
# members paired from behind their NATs. Sourced after tests/system/lib.sh
# (sp, ok, not_ok, $T, $BIN) and tests/lab/nat.sh. Used by the direct-path
# test (tests/system/ice.sh) and bench/connect.sh's ICE scenarios.
#
#   cloud_gw_start STATE IFNAME [FLAG...]   init a gateway for $ZONE (once) and
#                                  start it on gw with FLAGs; its pid in
#                                  CLOUD_GWPID; false if it does not answer
#                                  status within 10 s
#   cloud_join NODE NAME STATE IFNAME [JOINFLAG...]  a code for NAME from the
#                                  gateway, joined from NODE; false (log in
#                                  $T/join-NAME.log) if the join fails
#   cloud_member_stop STATE        stop a member's signpostd (from its status)
#   cloud_down [STATE...]          stop those members and the gateway, end the
#                                  lab, and remove the UAPI sockets of the
#                                  interfaces listed in $CLOUD_IFACES
#   cloud_json STATE               status --json
#   cloud_kv STATE FIELD NAME      NAME's value in a "k=v k=v" status field
#   cloud_address NAME             NAME's overlay address (the gateway's devices)
#   cloud_peer STATE NAME FIELD    a field of STATE's member-peers entry for NAME
#   cloud_ice STATE NAME FIELD     a field of STATE's member-ice entry for NAME
#   cloud_until SECONDS CMD...     until CMD succeeds (polled every 50 ms);
#                                  false after SECONDS
#   now_ns, ms_since NS            the clock for timings
#
# $ZONE names the zone (alice.example unless set); CLOUD_GW is the gateway's
# state directory once cloud_gw_start made it.

ZONE=${ZONE:-alice.example}
CLOUD_GW=
CLOUD_GWPID=
CLOUD_IFACES=

now_ns() { date +%s%N; }
ms_since() { echo $((($(now_ns) - $1) / 1000000)); }

cloud_json() { sp --state "$1" status --json 2>/dev/null; }

cloud_gw_start() {
	CLOUD_GW=$1
	_c_if=$2
	shift 2
	if [ ! -f "$CLOUD_GW/cloud" ]; then
		sp --state "$CLOUD_GW" init --zone "$ZONE" --name gw >"$T/gw-init.log" 2>&1 ||
			return 1
	fi
	nat_spawn gw "gwd-$(basename "$CLOUD_GW")" "$BIN/signpostd" --state "$CLOUD_GW" \
		--interface "$_c_if" --dns-listen "$NAT_GW_IP:53" \
		--public-endpoint "$NAT_GW_IP:51820" "$@"
	CLOUD_GWPID=$NAT_PID
	_c_i=0
	while [ $_c_i -lt 200 ]; do
		kill -0 "$CLOUD_GWPID" 2>/dev/null || return 1
		[ "$(cloud_json "$CLOUD_GW" | jq -r .pid 2>/dev/null)" = "$CLOUD_GWPID" ] && return 0
		sleep 0.05
		_c_i=$((_c_i + 1))
	done
	return 1
}

cloud_join() {
	_c_node=$1 _c_name=$2 _c_state=$3 _c_if=$4
	shift 4
	sp --state "$CLOUD_GW" pair --name "$_c_name" --uri --no-wait >"$T/pair-$_c_name.uri" \
		2>"$T/pair-$_c_name.err" || return 1
	nat_exec "$_c_node" "$BIN/signpost" --state "$_c_state" join \
		"$(grep '^signpost:pair?' "$T/pair-$_c_name.uri")" --interface "$_c_if" "$@" \
		>"$T/join-$_c_name.log" 2>&1
}

cloud_member_stop() {
	[ -S "$1/control.sock" ] || return 0
	_c_pid=$(cloud_json "$1" | jq -r '.pid // empty' 2>/dev/null)
	[ -n "$_c_pid" ] || return 0
	kill -TERM "$_c_pid" 2>/dev/null
	_c_i=0
	while kill -0 "$_c_pid" 2>/dev/null && [ $_c_i -lt 30 ]; do
		sleep 0.1
		_c_i=$((_c_i + 1))
	done
	kill -KILL "$_c_pid" 2>/dev/null
	return 0
}

cloud_down() {
	for _c_s in "$@"; do
		cloud_member_stop "$_c_s"
	done
	[ -n "$CLOUD_GWPID" ] && nat_stop "$CLOUD_GWPID"
	CLOUD_GWPID=
	nat_lab_down
	for _c_if in $CLOUD_IFACES; do
		rm -f "/var/run/wireguard/$_c_if.sock"
	done
	return 0
}

cloud_kv() {
	cloud_json "$1" | jq -r --arg f "$2" '.[$f] // ""' | tr ' ' '\n' | sed -n "s/^$3=//p"
}

cloud_address() {
	sp --state "$CLOUD_GW" devices --json |
		jq -r --arg n "$1" '.devices[] | select(.name == $n) | .address'
}

cloud_peer() {
	cloud_json "$1" | jq -r --arg n "$2" --arg f "$3" \
		'.["member-peers"][]? | select(.name == $n) | .[$f] | tostring'
}

cloud_ice() {
	cloud_json "$1" | jq -r --arg n "$2" --arg f "$3" \
		'.["member-ice"][]? | select(.name == $n) | .[$f] | tostring'
}

cloud_until() {
	_c_end=$(($(now_ns) + $1 * 1000000000))
	shift
	until "$@"; do
		[ "$(now_ns)" -lt "$_c_end" ] || return 1
		sleep 0.05
	done
}
