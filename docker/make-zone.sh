#!/bin/sh
# zone-init for docker-compose.yml: generates, into OUT, what the demo's NSD and backend need, the
# way tests/data/make_testbed.sh does for the tests but with the compose network's addresses:
#   app.key/app.pem     the backend's self-signed EC P-256 certificate (CN app.corp.example)
#   corp.example.zone.signed   the zone corp.example., DNSSEC-signed (ECDSAP256SHA256):
#       app    A 172.28.0.20, _8443._tcp.app   TLSA 3 1 1 <SHA-256 of app.pem's SPKI>  (matches)
#       wrong  A 172.28.0.20, _8443._tcp.wrong TLSA 3 1 1 <a digest of nothing>       (mismatch)
#   trust-anchor.ds     the DS of the zone's KSK, for danegate --trust-anchor-file
#   nsd.conf            NSD serving the zone on port 53 of every address
# Usage: make-zone.sh OUT   (needs openssl and ldnsutils). Keys are new on every run.
set -eu
out=${1:?usage: make-zone.sh OUT}
zone=corp.example
backend=172.28.0.20
port=8443
mkdir -p "$out"
cd "$out"
rm -f ./*.key ./*.pem ./*.private ./*.ds ./*.zone ./*.signed K*

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out app.key
openssl req -new -x509 -key app.key -subj "/CN=app.$zone" -addext "subjectAltName=DNS:app.$zone" \
  -days 3650 -out app.pem
spki_sha256=$(openssl x509 -in app.pem -noout -pubkey | openssl pkey -pubin -outform DER \
  | openssl dgst -sha256 -r | cut -d' ' -f1)
wrong_sha256=$(printf 'danegate wrong digest' | openssl dgst -sha256 -r | cut -d' ' -f1)

ksk=$(ldns-keygen -a ECDSAP256SHA256 -k "$zone.")
zsk=$(ldns-keygen -a ECDSAP256SHA256 "$zone.")
cat >"$zone.zone" <<ZONE
\$ORIGIN $zone.
\$TTL 300
@ IN SOA ns.$zone. hostmaster.$zone. 1 3600 600 86400 300
@ IN NS ns.$zone.
ns               A     172.28.0.53
app              A     $backend
_$port._tcp.app   TLSA  3 1 1 $spki_sha256
wrong            A     $backend
_$port._tcp.wrong TLSA  3 1 1 $wrong_sha256
ZONE
ldns-signzone -f "$zone.zone.signed" "$zone.zone" "$ksk" "$zsk"
ldns-key2ds -n -2 "$ksk.key" >trust-anchor.ds

cat >nsd.conf <<CONF
server:
  ip-address: 0.0.0.0
  port: 53
  do-ip6: no
  username: ""
  chroot: ""
  zonesdir: "$out"
  database: ""
  zonelistfile: "/tmp/nsd.zonelist"
  xfrdfile: "/tmp/nsd.xfrd.state"
  xfrdir: "/tmp"
  pidfile: "/tmp/nsd.pid"
remote-control:
  control-enable: no
zone:
  name: "$zone."
  zonefile: "$zone.zone.signed"
CONF
# The backend runs as nobody and must read its key.
chmod 0644 app.key app.pem ./*.signed trust-anchor.ds nsd.conf
echo "zone-init: $zone signed; TLSA for _$port._tcp.app: 3 1 1 $spki_sha256"
