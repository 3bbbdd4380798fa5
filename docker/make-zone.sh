#!/bin/sh
# Run by the nsd service of docker-compose.yml before NSD starts: generates, into OUT, what NSD, the
# backend and danegate need, the way tests/data/make_testbed.sh does for the tests but with the
# compose network's addresses:
#   app.key/app.pem     the backend's self-signed EC P-256 certificate (CN app.corp.example)
#   front.key/front.pem danegate's own listener certificate (self-signed, names app.corp.example,
#                       wrong.corp.example and localhost): the client service trusts it with --cacert
#   corp.example.zone.signed   the zone corp.example., DNSSEC-signed (ECDSAP256SHA256):
#       app    A 172.28.0.20, _8443._tcp.app   TLSA 3 1 1 <SHA-256 of app.pem's SPKI>  (matches)
#       wrong  A 172.28.0.20, _8443._tcp.wrong TLSA 3 1 1 <a digest of nothing>       (mismatch)
#   trust-anchor.ds     the DS of the zone's KSK, for danegate --trust-anchor-file
#   nsd.conf            NSD serving the zone on port 53 of every address (its own files in /tmp)
# Usage: make-zone.sh OUT   (needs openssl and ldnsutils). Keys are new on every run.
# The addresses are those of docker-compose.yml's network; scripts/check-deploy --rehearse runs the
# same wiring on loopback addresses and overrides them: BACKEND_ADDR, BACKEND_PORT (the port of the
# TLSA names too), NS_ADDR, NSD_LISTEN (0.0.0.0), NSD_PORT, NSD_STATE (NSD's own files: /tmp).
set -eu
out=${1:?usage: make-zone.sh OUT}
zone=corp.example
backend=${BACKEND_ADDR:-172.28.0.20}
port=${BACKEND_PORT:-8443}
ns=${NS_ADDR:-172.28.0.53}
nsd_listen=${NSD_LISTEN:-0.0.0.0}
nsd_port=${NSD_PORT:-53}
nsd_state=${NSD_STATE:-/tmp}
mkdir -p "$out"
cd "$out"
rm -f ./*.key ./*.pem ./*.private ./*.ds ./*.zone ./*.signed K*

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out app.key
openssl req -new -x509 -key app.key -subj "/CN=app.$zone" -addext "subjectAltName=DNS:app.$zone" \
  -days 3650 -out app.pem
spki_sha256=$(openssl x509 -in app.pem -noout -pubkey | openssl pkey -pubin -outform DER \
  | openssl dgst -sha256 -r | cut -d' ' -f1)
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out front.key
openssl req -new -x509 -key front.key -subj "/CN=danegate demo" -days 3650 -out front.pem \
  -addext "subjectAltName=DNS:app.$zone,DNS:wrong.$zone,DNS:localhost,IP:127.0.0.1"
wrong_sha256=$(printf 'danegate wrong digest' | openssl dgst -sha256 -r | cut -d' ' -f1)

ksk=$(ldns-keygen -a ECDSAP256SHA256 -k "$zone.")
zsk=$(ldns-keygen -a ECDSAP256SHA256 "$zone.")
cat >"$zone.zone" <<ZONE
\$ORIGIN $zone.
\$TTL 300
@ IN SOA ns.$zone. hostmaster.$zone. 1 3600 600 86400 300
@ IN NS ns.$zone.
ns               A     $ns
app              A     $backend
_$port._tcp.app   TLSA  3 1 1 $spki_sha256
wrong            A     $backend
_$port._tcp.wrong TLSA  3 1 1 $wrong_sha256
ZONE
ldns-signzone -f "$zone.zone.signed" "$zone.zone" "$ksk" "$zsk"
ldns-key2ds -n -2 "$ksk.key" >trust-anchor.ds

cat >nsd.conf <<CONF
server:
  ip-address: $nsd_listen
  port: $nsd_port
  do-ip6: no
  username: ""
  chroot: ""
  zonesdir: "$out"
  database: ""
  zonelistfile: "$nsd_state/nsd.zonelist"
  xfrdfile: "$nsd_state/nsd.xfrd.state"
  xfrdir: "$nsd_state"
  pidfile: "$nsd_state/nsd.pid"
remote-control:
  control-enable: no
zone:
  name: "$zone."
  zonefile: "$zone.zone.signed"
CONF
# The backend, NSD and danegate (uid 10001) run as different users in their containers and share
# this volume read-only: everything is world-readable. Demo keys only; a real deployment keeps
# private keys readable by their service alone.
chmod 0644 app.key app.pem front.key front.pem ./*.signed trust-anchor.ds nsd.conf
echo "make-zone: $zone signed; TLSA for _$port._tcp.app: 3 1 1 $spki_sha256"
