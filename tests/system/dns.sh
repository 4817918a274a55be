#!/bin/sh
# The gateway's signed zone against real DNS software on loopback: delv and
# unbound validate it, kdig and ldns-verify-zone inspect it, NSD takes it
# as a TSIG-authenticated secondary, and bad packets do not hurt it.
. "$(dirname "$0")/lib.sh"

S=$T/gw
PORT=$((20000 + $$ % 10000))
NSD_PORT=$((PORT + 1))
UNBOUND_PORT=$((PORT + 2))
SECRET=$(head -c 32 /dev/urandom | base64)
WRONG=$(head -c 32 /dev/urandom | base64)

sp --state "$S" init --zone alice.example --name gw >/dev/null
sp --state "$S" zone anchor --format bind >"$T/anchor"
sp --state "$S" zone anchor --format unbound >"$T/anchor.unbound"
cat >"$T/signpost.conf" <<EOF
state $S
dns-listen 127.0.0.1:$PORT
dns-listen [::1]:$PORT
tsig-key xfr-key $SECRET
secondary 127.0.0.1:$NSD_PORT xfr-key
EOF
# It holds a secret: signpostd refuses it readable by others.
chmod 600 "$T/signpost.conf"

# NSD as a secondary, started first so that it gets the first NOTIFY.
mkdir "$T/nsd"
cat >"$T/nsd/nsd.conf" <<EOF
server:
	port: $NSD_PORT
	ip-address: 127.0.0.1
	username: ""
	chroot: ""
	zonesdir: "$T/nsd"
	pidfile: "$T/nsd/nsd.pid"
	xfrdfile: "$T/nsd/xfrd.state"
	zonelistfile: "$T/nsd/zone.list"
	database: ""
	logfile: "$T/nsd/nsd.log"
	verbosity: 2
remote-control:
	control-enable: no
key:
	name: "xfr-key"
	algorithm: hmac-sha256
	secret: "$SECRET"
zone:
	name: "alice.example"
	zonefile: "alice.example.zone"
	request-xfr: 127.0.0.1@$PORT xfr-key
	allow-notify: 127.0.0.1 xfr-key
EOF
nsd -d -c "$T/nsd/nsd.conf" >"$T/nsd/out.log" 2>&1 &
NSD_PID=$!
stop_nsd() { kill "$NSD_PID" 2>/dev/null; wait "$NSD_PID" 2>/dev/null; }

check "signpostd serves the zone" start_daemon "$S" --config "$T/signpost.conf"

# Eight host keys: the most a device may have, and enough SSHFP records
# to overflow a 512-byte UDP answer below.
ssh-keygen -q -t ed25519 -N '' -f "$T/host_ed25519" </dev/null >/dev/null
ssh-keygen -q -t ecdsa -N '' -f "$T/host_ecdsa" </dev/null >/dev/null
cat "$T/host_ed25519.pub" "$T/host_ecdsa.pub" >"$T/hostkeys"
for i in 1 2 3 4 5 6; do
	ssh-keygen -q -t ed25519 -N '' -f "$T/extra$i" </dev/null >/dev/null
	cat "$T/extra$i.pub" >>"$T/hostkeys"
done
PHONE_KEY=l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=
run_expect "device add publishes a device" 0 "added phone" \
	sp --state "$S" device add phone --key "$PHONE_KEY" --sshfp "$T/hostkeys"
run_expect "a device name is not reused" 1 "already exists" \
	sp --state "$S" device add phone --key "$PHONE_KEY"
run_expect "a bad device key is refused" 2 "Ed25519 public key" \
	sp --state "$S" device add tablet --key bm90IGEga2V5
ADDR=$(sp --state "$S" device list | sed -n 's/.*address=\([^ ]*\).*/\1/p')

dv() { timeout 30 delv -a "$T/anchor" @127.0.0.1 -p "$PORT" +root=alice.example "$@" 2>&1; }
validated() {
	out=$(dv "$@")
	printf '%s' "$out" | grep -q '^; fully validated' || { echo "$out"; return 1; }
}
check "delv validates the device's AAAA" validated phone.alice.example AAAA
check "...and it is the overlay address" sh -c "printf '%s' \"\$1\" | grep -q \"AAAA	$ADDR\"" - "$(dv phone.alice.example AAAA)"
check "delv validates the device's IPSECKEY (EdDSA, no gateway)" sh -c \
	"printf '%s' \"\$1\" | grep -q 'IPSECKEY 10 0 4 . $PHONE_KEY'" - "$(dv phone.alice.example IPSECKEY)"
check "delv validates the apex DNSKEY" validated alice.example DNSKEY
check "delv validates CDS and CDNSKEY" sh -c "$(printf '%s' '
	timeout 30 delv -a "$1" @127.0.0.1 -p "$2" +root=alice.example alice.example CDS 2>&1 | grep -q "^; fully validated" &&
	timeout 30 delv -a "$1" @127.0.0.1 -p "$2" +root=alice.example alice.example CDNSKEY 2>&1 | grep -q "^; fully validated"')" - "$T/anchor" "$PORT"
check "delv validates the gateway's own name" validated gw.alice.example AAAA
SSHFP=$(dv phone.alice.example SSHFP)
WANT=$(ssh-keygen -r x -f "$T/host_ed25519.pub" | awk '$4 == 4 && $5 == 2 {print toupper($6)}')
check "delv validates SSHFP, matching ssh-keygen -r" sh -c \
	"printf '%s' \"\$1\" | grep -q '^; fully validated' && printf '%s' \"\$1\" | tr -d ' ' | grep -q \"\$2\"" - "$SSHFP" "$WANT"
NEG=$(dv nope.alice.example AAAA)
check "delv validates a name that does not exist" sh -c \
	"printf '%s' \"\$1\" | grep -q '^; negative response, fully validated'" - "$NEG"
check "delv validates NODATA at a device" sh -c \
	"printf '%s' \"\$1\" | grep -q '^; negative response, fully validated'" - "$(dv phone.alice.example TXT)"
sp --state "$T/other" init --zone alice.example --name other >/dev/null
sp --state "$T/other" zone anchor --format bind >"$T/wrong-anchor"
check "delv rejects the zone under another cloud's anchor" sh -c \
	"timeout 30 delv -a '$T/wrong-anchor' @127.0.0.1 -p $PORT +root=alice.example phone.alice.example AAAA 2>&1 | grep -q 'resolution failed'"

# kdig: what the wire looks like.
K=$(kdig @127.0.0.1 -p "$PORT" +dnssec phone.alice.example AAAA)
check "kdig +dnssec shows the RRSIG" sh -c "printf '%s' \"\$1\" | grep -q 'RRSIG	AAAA 15 3 300'" - "$K"
check "kdig over TCP" sh -c "kdig @127.0.0.1 -p $PORT +tcp phone.alice.example AAAA | grep -q 'status: NOERROR'"
check "kdig over IPv6" sh -c "kdig @::1 -p $PORT phone.alice.example AAAA | grep -q '$ADDR'"
N=$(kdig @127.0.0.1 -p "$PORT" +dnssec nope.alice.example AAAA)
check "a missing name: one NSEC at the name itself (compact denial)" sh -c \
	"printf '%s' \"\$1\" | grep -Eq 'nope.alice.example.[[:space:]]+300[[:space:]]+IN[[:space:]]+NSEC[[:space:]]+.000.nope.alice.example. RRSIG NSEC (TYPE128|NXNAME)\$'" - "$N"
check "...and no other name of the zone in the answer" sh -c \
	"! printf '%s' \"\$1\" | grep -Eq '(phone|gw)\\.alice'" - "$N"
check "without DNSSEC a missing name is NXDOMAIN" sh -c \
	"kdig @127.0.0.1 -p $PORT nope.alice.example AAAA | grep -q 'status: NXDOMAIN'"
check "other zones are refused" sh -c \
	"kdig @127.0.0.1 -p $PORT example.com A | grep -q 'status: REFUSED'"
check "class CH is refused" sh -c \
	"kdig @127.0.0.1 -p $PORT -c CH alice.example TXT | grep -q 'status: REFUSED'"
check "ANY gets one RRset (RFC 8482)" sh -c \
	"test \$(kdig @127.0.0.1 -p $PORT +noall +answer alice.example ANY | awk '{print \$4}' | sort -u | wc -l) -eq 1"
check "a large answer is truncated over UDP (TC)" sh -c \
	"kdig @127.0.0.1 -p $PORT +dnssec +bufsize=512 +ignore phone.alice.example SSHFP | grep -Eq 'Flags: qr aa tc'"
check "...and complete over TCP" sh -c \
	"kdig @127.0.0.1 -p $PORT +dnssec +tcp phone.alice.example SSHFP | grep -c 'SSHFP	' | grep -qx 8"

# unbound, validating with the zone's anchor through a stub zone.
cat >"$T/unbound.conf" <<EOF
server:
	interface: 127.0.0.1@$UNBOUND_PORT
	port: $UNBOUND_PORT
	chroot: ""
	username: ""
	directory: "$T"
	pidfile: "$T/unbound.pid"
	use-syslog: no
	do-not-query-localhost: no
	$(cat "$T/anchor.unbound")
stub-zone:
	name: "alice.example"
	stub-addr: 127.0.0.1@$PORT
remote-control:
	control-enable: no
EOF
unbound -d -c "$T/unbound.conf" >"$T/unbound.log" 2>&1 &
UNBOUND_PID=$!
i=0
until kdig @127.0.0.1 -p "$UNBOUND_PORT" +time=1 +retry=0 alice.example SOA >/dev/null 2>&1 || [ $i -gt 50 ]; do
	sleep 0.1; i=$((i + 1)); done
U=$(kdig @127.0.0.1 -p "$UNBOUND_PORT" +dnssec phone.alice.example AAAA)
check "unbound validates: AD on the device's AAAA" sh -c \
	"printf '%s' \"\$1\" | grep -qi 'flags: qr rd ra ad' && printf '%s' \"\$1\" | grep -q '$ADDR'" - "$U"
check "unbound validates the negative answer (AD, no data)" sh -c \
	"kdig @127.0.0.1 -p $UNBOUND_PORT +dnssec nope.alice.example AAAA | grep -qi 'flags: qr rd ra ad'"
kill "$UNBOUND_PID"; wait "$UNBOUND_PID" 2>/dev/null

# Zone transfers: TSIG required, and the result verifies.
kdig @127.0.0.1 -p "$PORT" -y "hmac-sha256:xfr-key:$SECRET" alice.example AXFR \
	+noall +answer >"$T/axfr" 2>&1
check "AXFR with the TSIG key returns the zone" grep -q 'NSEC3PARAM' "$T/axfr"
check "ldns-verify-zone accepts the AXFR output" sh -c \
	"awk '!(\$4 == \"SOA\" && seen++)' '$T/axfr' >'$T/axfr.zone' && ldns-verify-zone '$T/axfr.zone'"
# A refused transfer gets the status the server sends and not one record of
# the zone. kdig prints only the status of a failed transfer, so over TCP
# drill, which prints the whole reply, is asked as well; drill has no AXFR
# over UDP. A request signed with a wrong secret gets NOTAUTH with an
# unsigned TSIG carrying the error BADSIG (RFC 8945 5.2.2), which kdig names.
ZONE_RR='^[^;]*alice\.example\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]'
refused_kdig() {    # refused_kdig STATUS KDIG_FLAGS...
	want=$1
	shift
	out=$(kdig @127.0.0.1 -p "$PORT" "$@" alice.example AXFR 2>&1)
	if printf '%s\n' "$out" | grep -qxF ";; ERROR: server replied with error '$want'" &&
		! printf '%s\n' "$out" | grep -Eq "$ZONE_RR"; then
		return 0
	fi
	printf '%s\n' "$out" | sed 's/^/# kdig: /'
	return 1
}
refused_drill() {   # refused_drill STATUS DRILL_FLAGS...
	want=$1
	shift
	out=$(drill -p "$PORT" "$@" @127.0.0.1 alice.example AXFR 2>&1)
	if printf '%s\n' "$out" | grep -q "^;; ->>HEADER<<- opcode: QUERY, rcode: $want, " &&
		printf '%s\n' "$out" | grep -q '^;; flags: .*; QUERY: 1, ANSWER: 0, AUTHORITY: 0, ' &&
		! printf '%s\n' "$out" | grep -Eq "$ZONE_RR"; then
		return 0
	fi
	printf '%s\n' "$out" | sed 's/^/# drill: /'
	return 1
}
refused_tcp() {     # refused_tcp STATUS [TSIG_SECRET]
	if [ $# -gt 1 ]; then
		refused_kdig "$1" +tcp -y "hmac-sha256:xfr-key:$2" &&
			refused_drill "$1" -t -y "xfr-key:$2:hmac-sha256"
	else
		refused_kdig "$1" +tcp && refused_drill "$1" -t
	fi
}
check "AXFR without TSIG is refused (REFUSED, no records)" refused_tcp REFUSED
refused_badsig() {
	refused_kdig BADSIG +tcp -y "hmac-sha256:xfr-key:$WRONG" &&
		refused_drill NOTAUTH -t -y "xfr-key:$WRONG:hmac-sha256" &&
		drill -p "$PORT" -t -y "xfr-key:$WRONG:hmac-sha256" @127.0.0.1 alice.example AXFR 2>&1 |
		grep -Eq '^;; xfr-key\.[[:space:]]+0[[:space:]]+ANY[[:space:]]+TSIG[[:space:]]+hmac-sha256\. [0-9]+ +300 0 +0 16 '
}
check "AXFR with a wrong secret is refused (NOTAUTH, TSIG error BADSIG, no records)" refused_badsig
check "AXFR over UDP is refused (REFUSED, no records)" refused_kdig REFUSED +notcp

# NSD as secondary: it follows changes after NOTIFY and its answers validate.
serial() { kdig @127.0.0.1 -p "$1" +short alice.example SOA | awk '{print $3}'; }
wait_serial() {
	i=0
	while [ "$(serial "$NSD_PORT")" != "$1" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	[ "$(serial "$NSD_PORT")" = "$1" ]
}
check "NSD has the current serial" wait_serial "$(serial "$PORT")"
sp --state "$S" device add laptop --key "$(sed -n 's/^public //p' "$T"/other/keys/device-*.key)" >/dev/null
NEW=$(serial "$PORT")
check "a device add raises the serial and NSD follows it" wait_serial "$NEW"
check "delv validates the new device through NSD" sh -c \
	"timeout 30 delv -a '$T/anchor' @127.0.0.1 -p $NSD_PORT +root=alice.example laptop.alice.example AAAA 2>&1 | grep -q '^; fully validated'"
check "delv validates a missing name through NSD (NSEC3)" sh -c \
	"timeout 30 delv -a '$T/anchor' @127.0.0.1 -p $NSD_PORT +root=alice.example nope.alice.example AAAA 2>&1 | grep -q '^; negative response, fully validated'"
run_expect "device remove unpublishes it" 0 "removed laptop" sp --state "$S" device remove laptop
check "NSD follows the removal" wait_serial "$(serial "$PORT")"
check "the removed device is gone from NSD" sh -c \
	"kdig @127.0.0.1 -p $NSD_PORT laptop.alice.example AAAA | grep -q 'NXDOMAIN'"
stop_nsd

# Bad packets: dropped or answered with FORMERR, counted, no harm done.
bad_packets() {
	bash -c "
	exec 3<>/dev/udp/127.0.0.1/$PORT
	printf '\\001' >&3                                        # shorter than a header
	printf '\\000\\001\\001\\000\\000\\001\\000\\000\\000\\000\\000\\000\\300\\014\\000\\001\\000\\001' >&3   # qname is a pointer
	printf '\\000\\002\\001\\000\\000\\001\\000\\000\\000\\000\\000\\001\\005alice\\007example\\000\\000\\001\\000\\001\\300\\035\\000\\051\\004\\320\\000\\000\\000\\000\\000\\000' >&3  # pointer loop in additional
	printf '\\000\\003\\201\\000\\000\\001\\000\\000\\000\\000\\000\\000\\005alice\\007example\\000\\000\\001\\000\\001' >&3  # a response
	head -c 3000 /dev/urandom >&3
	"
}
before=$(sp --state "$S" status --json | jq '."dns-dropped"')
bad_packets
sleep 0.2
after=$(sp --state "$S" status --json | jq '."dns-dropped"')
check "malformed packets are dropped and counted" test "$after" -ge $((before + 3))
check "...and signpostd still answers" sh -c \
	"kdig @127.0.0.1 -p $PORT phone.alice.example AAAA | grep -q '$ADDR'"

# Restart: the same keys and devices, a higher serial.
OLD=$(serial "$PORT")
stop_daemon TERM
check "signpostd restarts with its zone" start_daemon "$S" --config "$T/signpost.conf"
check "the device survives a restart" sh -c "kdig @127.0.0.1 -p $PORT phone.alice.example AAAA | grep -q '$ADDR'"
check "the serial only goes up" test "$(serial "$PORT")" -gt "$OLD"
check "and it still validates" validated phone.alice.example AAAA
stop_daemon TERM

finish
