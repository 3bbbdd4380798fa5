#!/bin/sh
# The client service of docker-compose.yml: requests through danegate, trusting danegate's own
# certificate (front.pem) and nothing else.
#   https://app.corp.example:8443/    its TLSA record matches the backend's key: must be 200
#   https://wrong.corp.example:8443/  its TLSA record matches no key: must be 502 (mismatch)
# NSD and the backend install their packages when they start, so the first request is retried
# (up to TRIES times, 2 s apart) until it is 200. Exit 0 when both answers are the expected ones;
# `docker compose up --exit-code-from client` returns that status.
# Environment (scripts/check-deploy --rehearse runs this script on loopback addresses):
#   DANEGATE_ADDR (172.28.0.10), DANEGATE_PORT (8443), CACERT (/zone/front.pem), TRIES (60)
set -u
addr=${DANEGATE_ADDR:-172.28.0.10}
port=${DANEGATE_PORT:-8443}
cacert=${CACERT:-/zone/front.pem}
tries=${TRIES:-60}
body=$(mktemp)
trap 'rm -f "$body"' EXIT

# request HOST: prints the status of GET https://HOST:PORT/ sent to danegate (000 without an answer).
request() {
  curl -s -o "$body" -w '%{http_code}' --max-time 15 --cacert "$cacert" \
    --resolve "$1:$port:$addr" "https://$1:$port/" || true
}

n=1
while :; do
  status=$(request app.corp.example)
  [ "$status" = 200 ] && break
  if [ "$n" -ge "$tries" ]; then
    echo "client: app.corp.example: status $status after $n tries, expected 200" >&2
    exit 1
  fi
  echo "client: app.corp.example: status $status (try $n of $tries), retrying in 2 s"
  n=$((n + 1))
  sleep 2
done
echo "client: GET https://app.corp.example:$port/ -> $status (DANE-authenticated backend); body:"
head -c 300 "$body" | tr -d '\r' | head -n 6 | sed 's/^/    /'

status=$(request wrong.corp.example)
echo "client: GET https://wrong.corp.example:$port/ -> $status (TLSA record matches no key)"
if [ "$status" != 502 ]; then
  echo "client: wrong.corp.example: status $status, expected 502" >&2
  exit 1
fi
echo "client: OK: 200 through danegate where the TLSA record matches, 502 where it does not"
