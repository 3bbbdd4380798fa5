#!/usr/bin/env bash
# A small signed zone whose TLSA RRset a test changes while danegate runs (key rollover, TLS
# resumption across a TLSA change): roll.test., served by an NSD of the test's own, every record
# with a TTL of 2 s so that a change reaches danegate's cache within seconds.
#   roll_zone.sh init DIR DNSPORT           DNSSEC keys, DIR/nsd.conf (NSD on 127.0.0.1@DNSPORT),
#                                           DIR/trust-anchor.ds (the zone's DS, as a trust anchor)
#   roll_zone.sh publish DIR NAME=ADDR:PORT:HEX[,HEX...]...
#                                           for each NAME: NAME.roll.test. A ADDR and one
#                                           _PORT._tcp.NAME TLSA 3 1 1 HEX per HEX (SPKI SHA-256);
#                                           signed. Then `kill -HUP` the NSD: it rereads zone files
#                                           whose mtime changed.
set -euo pipefail

usage() { echo "usage: $0 init DIR DNSPORT | publish DIR NAME=ADDR:PORT:HEX[,HEX...]..." >&2; exit 2; }
[ $# -ge 3 ] || usage
command=$1 dir=$2
zone=roll.test

case "$command" in
init)
  dnsport=$3
  mkdir -p "$dir/dnssec"
  for role in ksk zsk; do
    flag=""
    [ "$role" = ksk ] && flag="-k"
    base=$(cd "$dir/dnssec" && ldns-keygen -a ECDSAP256SHA256 $flag "$zone.")
    mv "$dir/dnssec/$base.key" "$dir/dnssec/$role.key"
    mv "$dir/dnssec/$base.private" "$dir/dnssec/$role.private"
    rm -f "$dir/dnssec/$base.ds"
  done
  ldns-key2ds -n -2 "$dir/dnssec/ksk.key" >"$dir/trust-anchor.ds"
  echo 0 >"$dir/serial"
  cat >"$dir/nsd.conf" <<CONF
server:
  ip-address: 127.0.0.1
  port: $dnsport
  do-ip6: no
  server-count: 1
  reuseport: no
  username: ""
  chroot: ""
  zonesdir: "$dir"
  database: ""
  zonelistfile: "$dir/nsd.zonelist"
  xfrdfile: "$dir/nsd.xfrd.state"
  xfrdir: "$dir"
  pidfile: "$dir/nsd.pid"
  verbosity: 1
  rrl-ratelimit: 0
remote-control:
  control-enable: no
zone:
  name: "$zone."
  zonefile: "$zone.zone.signed"
CONF
  ;;
publish)
  shift 2
  serial=$(($(cat "$dir/serial") + 1))
  echo "$serial" >"$dir/serial"
  {
    echo "\$ORIGIN $zone."
    echo "\$TTL 2"
    echo "@ IN SOA ns.$zone. hostmaster.$zone. $serial 3600 600 86400 2"
    echo "@ IN NS ns.$zone."
    echo "ns IN A 127.0.0.1"
    for spec in "$@"; do
      IFS='=:' read -r name address port hexes <<<"$spec"
      [ -n "$hexes" ] || usage
      echo "$name IN A $address"
      for hex in ${hexes//,/ }; do
        echo "_$port._tcp.$name IN TLSA 3 1 1 $hex"
      done
    done
  } >"$dir/$zone.zone"
  ldns-signzone -f "$dir/$zone.zone.signed.tmp" "$dir/$zone.zone" "$dir/dnssec/ksk" "$dir/dnssec/zsk"
  mv "$dir/$zone.zone.signed.tmp" "$dir/$zone.zone.signed"
  ;;
*) usage ;;
esac
