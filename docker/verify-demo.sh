#!/bin/sh
# The danegate service of docker-compose.yml until the proxy exists: verifies the backend through
# DNSSEC and DANE with `danegate tlsa verify`, once under a name whose TLSA record matches its
# certificate (must be authenticated, exit 0) and once under a name whose record does not (must be
# rejected with mismatch, exit 1). Exits 0 when both did what they should.
set -u
# Resolver flags, split into words on purpose (no spaces inside them).
flags="--trust-anchor-file /zone/trust-anchor.ds --forward 172.28.0.53@53"
status=0

# The backend and NSD may still be starting: retry the good case for up to 30 s.
tries=0
# shellcheck disable=SC2086
until danegate tlsa verify app.corp.example 8443 $flags; do
  tries=$((tries + 1))
  if [ "$tries" -ge 15 ]; then
    echo "verify-demo: app.corp.example was not authenticated" >&2
    status=1
    break
  fi
  echo "verify-demo: retrying in 2 s"
  sleep 2
done

# shellcheck disable=SC2086
danegate tlsa verify wrong.corp.example 8443 $flags
rc=$?
if [ "$rc" -ne 1 ]; then
  echo "verify-demo: wrong.corp.example: exit $rc, expected 1 (mismatch)" >&2
  status=1
fi
[ "$status" -eq 0 ] && echo "verify-demo: OK (authenticated, then mismatch as expected)"
exit "$status"
