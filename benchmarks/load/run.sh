#!/usr/bin/env bash
# The load comparison (issue #3, ground for issue #5 §1): one command, one run, several candidates
# behind the same TLS backend on one machine. See benchmarks/README.md ("Load comparison").
#
#   benchmarks/load/run.sh                 build, then 3 interleaved repetitions of 10 s per workload and candidate
#   benchmarks/load/run.sh --smoke         1 repetition of ~1 s per workload, no warm-up (scripts/test)
#
# Options (environment variables in brackets; options win):
#   --smoke                   DURATION=1 REPS=1 WARMUP=0 IDLE_CONNECTIONS=200 ROLL_INTERVAL=1.5
#                             (rollover runs at least 2 s: one TLSA change)
#   --duration S              seconds per measured run; for idle, how long the connections are held
#                             [DURATION, 10]
#   --reps N                  repetitions, interleaved across candidates [REPS, 3]
#   --warmup S                unmeasured load before each measured run (not for idle) [WARMUP, 2]
#   --connections N           wrk connections (keepalive, bigbody, rollover) [CONNECTIONS, 64]
#   --handshake-connections N concurrent workers of the handshake client [HANDSHAKE_CONNECTIONS, 16]
#   --idle-connections N      idle TLS connections held open (idle) [IDLE_CONNECTIONS, 10000]
#   --roll-interval S         rollover: seconds between TLSA RRset changes [ROLL_INTERVAL, 5]
#   --candidates "A B ..."    from: direct nginx nginx-nopool nginx-sametls haproxy danegate
#                             [CANDIDATES, "direct nginx haproxy danegate"]
#   --workloads "A ..."       from: keepalive bigbody handshake idle rollover
#                             [WORKLOADS, "keepalive bigbody handshake idle rollover"]
#                             keepalive: wrk over 64 keep-alive connections, 100-byte body;
#                             bigbody: the same with a 64 KiB body (GET /big);
#                             handshake: bench_handshake_client, a new connection and a full TLS 1.3
#                               handshake per request (no resumption: the resumed count must be 0);
#                             idle: IDLE_CONNECTIONS kept-alive TLS connections, one request each,
#                               then idle: the proxy's RSS growth per connection (KiB);
#                             rollover (danegate only): keepalive while the backend's TLSA RRset
#                               (TTL 2 s, served by an NSD on loopback) changes every ROLL_INTERVAL s
#   --backend nginx|test      nginx with a fixed 100-byte body and a 64 KiB file at /big (default), or
#                             build/tests/support/danegate_http_test_backend (GET /bytes/100, /bytes/65536)
#   --access-log              proxies write an access log to a file (default: off for all) [ACCESS_LOG=1]
#   --no-build                do not run scripts/build (DANEGATE=/path/to/danegate implies it;
#                             HANDSHAKE_CLIENT=/path/to/bench_handshake_client overrides the built one)
#   --results DIR             where results go [RESULTS, build/benchmarks/load]; a run-* folder per run
#   --keep                    keep the temporary folder (configs, keys, zone, logs) and print its path
#   --profile                 also sample each proxy with perf (2999 Hz) during its measured runs and
#                             print where its CPU per request goes: kernel, its own code, libc,
#                             OpenSSL, other (not for idle; perf's own cost inflates the CPU column)
# CPU placement: the load generator and the backend on core LOAD_CPU (0), each proxy alone on
# PROXY_CPU (1), with taskset.
#
# danegate runs with an admin listener: its TLSA cache misses and hits and its DNS lookups are read
# from /metrics around each measured run and printed as deltas (warm cache: 0 misses, 0 lookups).
#
# Exit status: 0 when every check passed and no run had an error; 1 when a candidate failed its
# check (not 200 with the body, danegate not DANE-authenticated, the wrong-TLSA twin not 502), died,
# or any measured or warm-up run had a socket error or an error status, a resumed handshake, an
# idle connection that did not stay open, or a rollover run without a TLSA change; 2 on usage errors.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

DURATION=${DURATION:-10}
REPS=${REPS:-3}
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-64}
HANDSHAKE_CONNECTIONS=${HANDSHAKE_CONNECTIONS:-16}
IDLE_CONNECTIONS=${IDLE_CONNECTIONS:-10000}
ROLL_INTERVAL=${ROLL_INTERVAL:-5}
CANDIDATES=${CANDIDATES:-direct nginx haproxy danegate}
WORKLOADS=${WORKLOADS:-keepalive bigbody handshake idle rollover}
ACCESS_LOG=${ACCESS_LOG:-0}
LOAD_CPU=${LOAD_CPU:-0}
PROXY_CPU=${PROXY_CPU:-1}
RESULTS=${RESULTS:-$root/build/benchmarks/load}
backend_kind=nginx
build=true
cur_workload=keepalive   # the workload being measured (start_danegate and start_candidate read it)
keep=false
profile=false
[ -z "${DANEGATE:-}" ] || build=false

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
die_usage() { echo "run.sh: $*" >&2; echo "usage: benchmarks/load/run.sh [--smoke] [options]; --help" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --smoke) DURATION=1 REPS=1 WARMUP=0 IDLE_CONNECTIONS=200 ROLL_INTERVAL=1.5 ;;
    --duration) DURATION=${2:?}; shift ;;
    --reps) REPS=${2:?}; shift ;;
    --warmup) WARMUP=${2:?}; shift ;;
    --connections) CONNECTIONS=${2:?}; shift ;;
    --handshake-connections) HANDSHAKE_CONNECTIONS=${2:?}; shift ;;
    --idle-connections) IDLE_CONNECTIONS=${2:?}; shift ;;
    --roll-interval) ROLL_INTERVAL=${2:?}; shift ;;
    --candidates) CANDIDATES=${2:?}; shift ;;
    --workloads) WORKLOADS=${2:?}; shift ;;
    --backend) backend_kind=${2:?}; shift ;;
    --access-log) ACCESS_LOG=1 ;;
    --no-build) build=false ;;
    --results) RESULTS=${2:?}; shift ;;
    --keep) keep=true ;;
    --profile) profile=true ;;
    -h | --help) usage; exit 0 ;;
    *) die_usage "unknown argument '$1'" ;;
  esac
  shift
done
is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }
if ! { is_uint "$DURATION" && [ "$DURATION" -ge 1 ]; }; then die_usage "--duration: a whole number of seconds >= 1"; fi
if ! { is_uint "$REPS" && [ "$REPS" -ge 1 ]; }; then die_usage "--reps: a number >= 1"; fi
is_uint "$WARMUP" || die_usage "--warmup: a whole number of seconds"
if ! { is_uint "$CONNECTIONS" && [ "$CONNECTIONS" -ge 1 ]; }; then die_usage "--connections: a number >= 1"; fi
if ! { is_uint "$HANDSHAKE_CONNECTIONS" && [ "$HANDSHAKE_CONNECTIONS" -ge 1 ]; }; then
  die_usage "--handshake-connections: a number >= 1"
fi
if ! { is_uint "$IDLE_CONNECTIONS" && [ "$IDLE_CONNECTIONS" -ge 1 ]; }; then die_usage "--idle-connections: a number >= 1"; fi
[[ "$ROLL_INTERVAL" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die_usage "--roll-interval: seconds"
case $backend_kind in nginx | test) ;; *) die_usage "--backend: nginx or test" ;; esac
read -r -a candidates <<<"$CANDIDATES"
read -r -a workloads <<<"$WORKLOADS"
[ ${#candidates[@]} -gt 0 ] || die_usage "--candidates: none given"
for c in "${candidates[@]}"; do
  case $c in direct | nginx | nginx-nopool | nginx-sametls | haproxy | danegate) ;; *) die_usage "unknown candidate '$c'" ;; esac
done
for w in "${workloads[@]}"; do
  case $w in keepalive | bigbody | handshake | idle | rollover) ;; *) die_usage "unknown workload '$w'" ;; esac
done

say() { printf '==> %s\n' "$*" >&2; }
note() { printf '    %s\n' "$*" >&2; }
fail() { printf 'run.sh: FAILED: %s\n' "$*" >&2; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
in_list() { local x=$1; shift; local y; for y in "$@"; do [ "$x" = "$y" ] && return 0; done; return 1; }

# ------------------------------------------------------------------------------------------------
# Tools: installed with apt-get when missing (Debian 12). Not part of scripts/deps on purpose.
# ------------------------------------------------------------------------------------------------
install_missing() {
  local -A package_of=([wrk]=wrk [nginx]=nginx [curl]=curl [openssl]=openssl [taskset]=util-linux
    [ldns-keygen]=ldnsutils [ldns-signzone]=ldnsutils [ldns-key2ds]=ldnsutils)
  in_list haproxy "${candidates[@]}" && package_of[haproxy]=haproxy
  ! $profile || package_of[perf]=linux-perf
  if in_list rollover "${workloads[@]}" && in_list danegate "${candidates[@]}"; then package_of[nsd]=nsd; fi
  local tool missing=()
  for tool in "${!package_of[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin command -v "$tool" >/dev/null 2>&1 ||
      missing+=("${package_of[$tool]}")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  say "Installing ${missing[*]} (apt-get)"
  # Debian's nginx and haproxy packages start a system service on install unless policy-rc.d
  # forbids it; that service is not used here (and on port 80 it may collide with something).
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; then
    as_root apt-get update -q >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  fi
}
install_missing
export PATH=$PATH:/usr/sbin:/sbin

if $build; then
  say "Building (scripts/build)"
  build_log=$(mktemp)
  if ! (cd "$root" && scripts/build) >"$build_log" 2>&1; then
    tail -n 40 "$build_log" >&2
    rm -f "$build_log"
    fail "the build failed"
  fi
  rm -f "$build_log"
fi
danegate=${DANEGATE:-$root/build/danegate}
test_backend=$root/build/tests/support/danegate_http_test_backend
if in_list danegate "${candidates[@]}"; then
  [ -x "$danegate" ] || fail "$danegate not found: run scripts/build (or set DANEGATE)"
fi
if [ "$backend_kind" = test ]; then
  [ -x "$test_backend" ] || fail "$test_backend not found: run scripts/build"
fi
client=${HANDSHAKE_CLIENT:-$root/build/benchmarks/bench_handshake_client}
if in_list handshake "${workloads[@]}" || in_list idle "${workloads[@]}"; then
  [ -x "$client" ] || fail "$client not found: run scripts/build (target bench_handshake_client)"
fi
# The idle workload holds IDLE_CONNECTIONS client connections: every proxy accepts conn_limit
# connections, and gets up to fd_limit descriptors (2 per connection + 1024 where the hard limit
# allows; a proxy needs one per client connection plus its upstream connections).
conn_limit=$((IDLE_CONNECTIONS + 1024))
fd_need=$((2 * IDLE_CONNECTIONS + 1024))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$fd_need" ]; then
  ulimit -n "$fd_need" 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fi
fd_limit=$fd_need
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$fd_need" ]; then fd_limit=$(ulimit -n); fi
if in_list idle "${workloads[@]}" && [ "$fd_limit" -lt "$conn_limit" ]; then
  say "warning: ulimit -n is $fd_limit, below the $conn_limit the idle workload needs: expect errors"
fi

# CPU placement. With one core there is nothing to separate: run unpinned and say so.
if [ "$(nproc)" -ge 2 ]; then
  load_pin=(taskset -c "$LOAD_CPU")
  proxy_pin=(taskset -c "$PROXY_CPU")
else
  load_pin=()
  proxy_pin=()
  say "only $(nproc) core: no CPU pinning"
fi

# ------------------------------------------------------------------------------------------------
# Temporary folder, processes, ports.
# ------------------------------------------------------------------------------------------------
dir=$(mktemp -d "${TMPDIR:-/tmp}/danegate-load.XXXXXX")
pids=()
cleanup() {
  local rc=$? pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if $keep; then
    echo "run.sh: kept $dir" >&2
  else
    rm -rf "$dir"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

answers() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
used_ports=()
# A free TCP port below the ephemeral range (32768-60999), so that no outgoing connection of
# this or another program can hold it between the check and the bind.
pick_port() {
  local port _
  for _ in $(seq 1 100); do
    port=$((20000 + RANDOM % 12000))
    in_list "$port" "${used_ports[@]}" && continue
    answers 127.0.0.1 "$port" && continue
    used_ports+=("$port")
    echo "$port"
    return 0
  done
  fail "no free TCP port found"
}
# wait_for PORT PID: up to 10 s for a listener on 127.0.0.1:PORT; false if PID died first.
wait_for() {
  local _
  for _ in $(seq 1 200); do
    answers 127.0.0.1 "$1" && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
# stop PID: SIGTERM, then SIGKILL after 10 s; removes PID from the cleanup list.
stop() {
  local pid=$1 _
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  ! kill -0 "$pid" 2>/dev/null || kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  forget "$pid"
}
# forget PID: it has ended; take it off the cleanup list.
forget() {
  local p rest=()
  for p in "${pids[@]}"; do [ "$p" = "$1" ] || rest+=("$p"); done
  pids=("${rest[@]}")
}

backend_port=$(pick_port)
status_port=$(pick_port)
zone=bench.test
backend_host=backend.$zone
wrong_host=wrong.$zone
request_path=/bytes/100   # the test backend's 100-byte body; nginx serves its body at every path
big_path=/big             # bigbody: nginx serves a 64 KiB file here
[ "$backend_kind" = nginx ] || big_path=/bytes/65536
big_bytes=65536

# ------------------------------------------------------------------------------------------------
# Certificates, the signed zone, libunbound's configuration.
# ------------------------------------------------------------------------------------------------
say "Generating certificates and the signed zone $zone. in $dir"
gen_log=$dir/generate.log
generate() {
  local ec=(-algorithm EC -pkeyopt ec_paramgen_curve:P-256)
  # Self-signed EC P-256: proxy.pem is what clients see, backend.pem the backend's certificate
  # (also nginx's and haproxy's trust anchor for the backend, so it is a CA:TRUE root).
  openssl genpkey -quiet "${ec[@]}" -out "$dir/proxy.key"
  openssl req -new -x509 -key "$dir/proxy.key" -subj "/CN=proxy.bench.test" \
    -addext "subjectAltName=DNS:proxy.bench.test" -days 3650 -out "$dir/proxy.pem"
  openssl genpkey -quiet "${ec[@]}" -out "$dir/backend.key"
  openssl req -new -x509 -key "$dir/backend.key" -subj "/CN=$backend_host" \
    -addext "subjectAltName=DNS:$backend_host" -addext "basicConstraints=critical,CA:TRUE" \
    -days 3650 -out "$dir/backend.pem"
  cat "$dir/proxy.pem" "$dir/proxy.key" >"$dir/proxy.combined.pem"   # haproxy wants both in one

  local spki wrong
  spki=$(openssl x509 -in "$dir/backend.pem" -noout -pubkey | openssl pkey -pubin -outform DER |
    openssl dgst -sha256 -binary | od -An -tx1 -v | tr -d ' \n')
  wrong=$(printf 'danegate load wrong digest' | openssl dgst -sha256 -binary | od -An -tx1 -v | tr -d ' \n')
  echo "3 1 1 $spki" >"$dir/tlsa.txt"
  echo "$spki" >"$dir/spki.hex"
  # rollover: the digest of a second key, published beside the backend's own every other change.
  openssl genpkey -quiet "${ec[@]}" -out "$dir/extra.key"
  openssl pkey -in "$dir/extra.key" -pubout -outform DER | openssl dgst -sha256 -binary | od -An -tx1 -v |
    tr -d ' \n' >"$dir/extra.hex"

  mkdir -p "$dir/dnssec"
  local ksk zsk
  ksk=$(cd "$dir/dnssec" && ldns-keygen -a ECDSAP256SHA256 -k "$zone.")
  zsk=$(cd "$dir/dnssec" && ldns-keygen -a ECDSAP256SHA256 "$zone.")
  cat >"$dir/$zone.zone" <<EOF
\$ORIGIN $zone.
\$TTL 3600
@ IN SOA ns.$zone. hostmaster.$zone. 1 3600 600 86400 300
@ IN NS ns.$zone.
ns IN A 127.0.0.1
backend IN A 127.0.0.1
_$backend_port._tcp.backend IN TLSA 3 1 1 $spki
wrong IN A 127.0.0.1
_$backend_port._tcp.wrong IN TLSA 3 1 1 $wrong
EOF
  ldns-signzone -f "$dir/$zone.zone.signed" "$dir/$zone.zone" "$dir/dnssec/$ksk" "$dir/dnssec/$zsk"
  ldns-key2ds -n -2 "$dir/dnssec/$ksk.key" >"$dir/trust-anchor.ds"

  # No DNS server: libunbound loads the signed zone file and validates it with the zone's own
  # trust anchor (as scripts/demo does), so no DNS traffic is on the path.
  cat >"$dir/unbound.conf" <<EOF
server:
  trust-anchor-file: "$dir/trust-anchor.ds"
  local-zone: "test." nodefault
auth-zone:
  name: "$zone."
  zonefile: "$dir/$zone.zone.signed"
  for-upstream: yes
  for-downstream: no
  fallback-enabled: no
EOF
}
# rollover: the zone roll.test. (tests/data/roll_zone.sh: every TTL 2 s, its own keys and trust
# anchor) served by an NSD on loopback, with backend.roll.test's TLSA RRset re-published while
# danegate runs. Unlike an auth-zone file, which libunbound reads once, NSD reloads on SIGHUP.
roll_zone=$root/tests/data/roll_zone.sh
roll_dir=$dir/roll
roll_host=backend.roll.test
rollover_on=false
if in_list rollover "${workloads[@]}" && in_list danegate "${candidates[@]}"; then rollover_on=true; fi
if $rollover_on; then nsd_port=$(pick_port); fi
# roll_publish 0|1: the backend's record alone (0), or with the second key's record beside it (1).
roll_publish() {
  local hexes
  hexes=$(cat "$dir/spki.hex")
  [ "$1" = 0 ] || hexes+=",$(cat "$dir/extra.hex")"
  "$roll_zone" publish "$roll_dir" "backend=127.0.0.1:$backend_port:$hexes"
}
generate_roll() {
  "$roll_zone" init "$roll_dir" "$nsd_port"
  roll_publish 0
}
if ! { generate && { ! $rollover_on || generate_roll; }; } >"$gen_log" 2>&1; then
  tail -n 20 "$gen_log" >&2
  fail "generating certificates or the zone failed"
fi
note "TLSA _$backend_port._tcp.$backend_host: $(cat "$dir/tlsa.txt")"

expected_body=$dir/expected-body
if [ "$backend_kind" = nginx ]; then
  head -c 100 /dev/zero | tr '\0' x >"$expected_body"
else
  # byte i = i % 251 (the test backend's pattern): 0x00..0x63
  # shellcheck disable=SC2059
  for i in $(seq 0 99); do printf "\\$(printf %03o "$i")"; done >"$expected_body"
fi
expected_big=$dir/expected-big
if [ "$backend_kind" = nginx ]; then
  mkdir -p "$dir/www"
  head -c "$big_bytes" /dev/urandom >"$expected_big"
  cp "$expected_big" "$dir/www${big_path}"
else
  perl -e 'print map { chr($_ % 251) } 0 .. $ARGV[0] - 1' "$big_bytes" >"$expected_big"
fi

# check_200 NAME URL [EXPECTED]: one request with curl; 200 and exactly the expected body (the
# 100-byte one by default), or fail.
check_200() {
  local name=$1 url=$2 expected=${3:-$expected_body} status
  status=$(curl -sk --max-time 10 -o "$dir/check-body" -w '%{http_code}' "$url") || true
  [ "$status" = 200 ] || fail "$name: GET $url answered '$status', expected 200"
  cmp -s "$dir/check-body" "$expected" ||
    fail "$name: GET $url: the body is not the backend's $(stat -c %s "$expected") bytes"
}

# ------------------------------------------------------------------------------------------------
# The backend, on the load generator's core.
# ------------------------------------------------------------------------------------------------
start_backend() {
  if [ "$backend_kind" = nginx ]; then
    mkdir -p "$dir/backend"
    cat >"$dir/backend/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $dir/backend/nginx.pid;
error_log $dir/backend/error.log warn;
worker_rlimit_nofile $fd_limit;
events { worker_connections $fd_limit; }
http {
  access_log off;
  client_body_temp_path $dir/backend/tmp-body;
  proxy_temp_path $dir/backend/tmp-proxy;
  fastcgi_temp_path $dir/backend/tmp-fastcgi;
  uwsgi_temp_path $dir/backend/tmp-uwsgi;
  scgi_temp_path $dir/backend/tmp-scgi;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  server {
    listen 127.0.0.1:$backend_port ssl;
    ssl_certificate $dir/backend.pem;
    ssl_certificate_key $dir/backend.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:backend:4m;
    location / { default_type text/plain; return 200 "$(cat "$expected_body")"; }
    location = $big_path { root $dir/www; default_type application/octet-stream; }
  }
  server {
    listen 127.0.0.1:$status_port;
    location / { stub_status; }
  }
}
EOF
    "${load_pin[@]}" nginx -e "$dir/backend/error.log" -c "$dir/backend/nginx.conf" \
      >"$dir/backend/stdout.log" 2>&1 &
  else
    mkdir -p "$dir/backend"
    "${load_pin[@]}" "$test_backend" --listen "127.0.0.1:$backend_port" --cert "$dir/backend.pem" \
      --key "$dir/backend.key" --name bench >"$dir/backend/stdout.log" 2>&1 &
  fi
  backend_pid=$!
  pids+=("$backend_pid")
  wait_for "$backend_port" "$backend_pid" || { cat "$dir/backend/"*.log >&2; fail "the $backend_kind backend did not start"; }
}
# backend_connections: how many TCP connections the backend has accepted so far (this query's
# own connection included).
backend_connections() {
  if [ "$backend_kind" = nginx ]; then
    curl -s --max-time 5 "http://127.0.0.1:$status_port/" | awk 'NR == 3 { print $1 }'
  else
    curl -sk --max-time 5 "https://127.0.0.1:$backend_port/stats" | sed -n 's/.*"connections": *\([0-9]*\).*/\1/p'
  fi
}

say "Starting the $backend_kind backend on 127.0.0.1:$backend_port (core ${LOAD_CPU})"
start_backend
check_200 backend "https://127.0.0.1:$backend_port$request_path"
check_200 backend "https://127.0.0.1:$backend_port$big_path" "$expected_big"

if $rollover_on; then
  say "Starting NSD for roll.test. on 127.0.0.1@$nsd_port (rollover)"
  "${load_pin[@]}" nsd -d -c "$roll_dir/nsd.conf" >"$roll_dir/nsd.log" 2>&1 &
  nsd_pid=$!
  pids+=("$nsd_pid")
  wait_for "$nsd_port" "$nsd_pid" || { cat "$roll_dir/nsd.log" >&2; fail "NSD did not start"; }
fi

# ------------------------------------------------------------------------------------------------
# Candidates. start_NAME starts a fresh instance (alone on the proxy core) and sets cand_url (what
# wrk loads), cand_pid (the process whose CPU and RSS are measured; empty for none) and cand_log.
# ------------------------------------------------------------------------------------------------
start_direct() {
  cand_url="https://127.0.0.1:$backend_port$request_path"
  cand_pid=
  cand_log=
}

# start_nginx [TRUST [POOL [SAMETLS]]]: TRUST is proxy_ssl_trusted_certificate (default: the
# backend's certificate); POOL=false: no upstream keep-alive and no TLS session reuse
# (nginx-nopool); SAMETLS=true: danegate's TLS defaults (nginx-sametls, see below).
start_nginx() {
  local port d=$dir/nginx trust=${1:-$dir/backend.pem} pool=${2:-true} sametls=${3:-false}
  port=${nginx_port:=$(pick_port)}
  local keepalive="keepalive 64;" connection='proxy_set_header Connection "";' reuse=on
  $pool || { keepalive="" connection="" reuse=off; }
  local tls_server="" tls_proxy=""
  if $sametls; then
    tls_server="ssl_prefer_server_ciphers on; ssl_conf_command Ciphersuites $danegate_tls13_suites; ssl_conf_command NumTickets 1;"
    tls_proxy="proxy_ssl_conf_command Ciphersuites $danegate_tls13_suites;"
  fi
  mkdir -p "$d"
  local access="access_log off;"
  [ "$ACCESS_LOG" = 1 ] && access="access_log $d/access.log;"
  cat >"$d/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log warn;
worker_rlimit_nofile $fd_limit;
events { worker_connections $fd_limit; }
http {
  $access
  client_body_temp_path $d/tmp-body;
  proxy_temp_path $d/tmp-proxy;
  fastcgi_temp_path $d/tmp-fastcgi;
  uwsgi_temp_path $d/tmp-uwsgi;
  scgi_temp_path $d/tmp-scgi;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  upstream backend {
    server 127.0.0.1:$backend_port;
    $keepalive
    keepalive_requests 100000000;
  }
  server {
    listen 127.0.0.1:$port ssl;
    ssl_certificate $dir/proxy.pem;
    ssl_certificate_key $dir/proxy.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    $tls_server
    location / {
      proxy_pass https://backend;
      proxy_http_version 1.1;
      $connection
      proxy_ssl_verify on;
      proxy_ssl_trusted_certificate $trust;
      proxy_ssl_name $backend_host;
      proxy_ssl_server_name on;
      proxy_ssl_session_reuse $reuse;
      $tls_proxy
    }
  }
}
EOF
  "${proxy_pin[@]}" nginx -e "$d/error.log" -c "$d/nginx.conf" >"$d/stdout.log" 2>&1 &
  cand_pid=$!
  cand_url="https://127.0.0.1:$port$request_path"
  cand_log=$d/error.log
}

# A reference for a proxy without an upstream pool: one full upstream TLS handshake per request.
start_nginx-nopool() { start_nginx "$dir/backend.pem" false; }

# nginx with the TLS defaults danegate has and nginx has not (proxy/tls_server_context.cpp and
# upstream_connector.cpp): TLS 1.3 AES-128-GCM preferred on both legs, one session ticket per
# handshake. The same cryptography on both sides, so the ratio shows the rest of the proxy.
danegate_tls13_suites=TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256
start_nginx-sametls() { start_nginx "$dir/backend.pem" true true; }

start_haproxy() {
  local port d=$dir/haproxy
  port=${haproxy_port:=$(pick_port)}
  mkdir -p "$d"
  cat >"$d/haproxy.cfg" <<EOF
global
  nbthread 1
  maxconn $conn_limit
  # haproxy wants 2 descriptors per maxconn and refuses to start without them; with a hard limit
  # below that (20000 here) it runs anyway: idle needs one per client connection plus the pool.
  no strict-limits
defaults
  mode http
  maxconn $conn_limit
  timeout connect 5s
  timeout client 300s
  timeout server 300s
  timeout http-keep-alive 300s
  http-reuse always
frontend bench
  bind 127.0.0.1:$port ssl crt $dir/proxy.combined.pem
  default_backend backend
backend backend
  server b1 127.0.0.1:$backend_port ssl verify required ca-file $dir/backend.pem sni str($backend_host) verifyhost $backend_host pool-max-conn 64
EOF
  [ "$ACCESS_LOG" = 1 ] && note "haproxy: --access-log is not implemented (it would need a syslog target); logging stays off"
  "${proxy_pin[@]}" haproxy -db -f "$d/haproxy.cfg" >"$d/stdout.log" 2>&1 &
  cand_pid=$!
  cand_url="https://127.0.0.1:$port$request_path"
  cand_log=$d/stdout.log
}

# danegate_config FILE PORT ACCESS [ADMIN_PORT [ROLL]]: threads 1, one http listener, one upstream
# by DNS name (ROLL=true: backend.roll.test through the NSD of the rollover workload).
danegate_config() {
  local resolver="{ unbound_conf: $dir/unbound.conf }" backend=$backend_host admin=''
  local wrong_route="- { match: { host: $wrong_host }, upstream: wrong }"
  local wrong_upstream="- { name: wrong, endpoints: [ \"$wrong_host:$backend_port\" ] }"
  if [ "${5:-false}" = true ]; then
    # rollover: only roll.test. is resolvable (the wrong twin lives in bench.test.)
    resolver="{ trust_anchor_file: $roll_dir/trust-anchor.ds, stub_zones: [ { name: roll.test., addrs: [ \"127.0.0.1@$nsd_port\" ] } ] }"
    backend=$roll_host wrong_route='' wrong_upstream=''
  fi
  [ -z "${4:-}" ] || admin="admin: { address: 127.0.0.1:$4 }"
  cat >"$1" <<EOF
threads: 1
resolver: $resolver
$admin
limits: { max_connections: $conn_limit, idle_timeout: 5m }
listeners:
  - name: bench
    address: 127.0.0.1:$2
    protocol: http
    tls: { certificates: [ { cert: $dir/proxy.pem, key: $dir/proxy.key } ] }
    routes:
      $wrong_route
      - { upstream: backend }
upstreams:
  - { name: backend, endpoints: [ "$backend:$backend_port" ] }
  $wrong_upstream
log: { level: info, access: $3 }
drain_timeout: 1s
EOF
}

start_danegate() {
  local port d=$dir/danegate access=off
  port=${danegate_port:=$(pick_port)}
  admin_port=${admin_port:-$(pick_port)}
  mkdir -p "$d"
  [ "$ACCESS_LOG" = 1 ] && access=$d/access.log
  local roll=false
  [ "$cur_workload" != rollover ] || roll=true
  danegate_config "$d/danegate.yaml" "$port" "$access" "$admin_port" "$roll"
  "${proxy_pin[@]}" "$danegate" run -c "$d/danegate.yaml" >"$d/stdout.log" 2>>"$d/stderr.log" &
  cand_pid=$!
  cand_url="https://127.0.0.1:$port$request_path"
  cand_log=$d/stderr.log
}

# start_candidate NAME: start it, wait for its port, check it answers 200 with the body.
start_candidate() {
  cand_pid=
  "start_$1"
  if [ -n "$cand_pid" ]; then
    pids+=("$cand_pid")
    local port=${cand_url#https://127.0.0.1:}
    port=${port%%/*}
    wait_for "$port" "$cand_pid" || { tail -n 20 "$cand_log" >&2 || true; fail "$1 did not start"; }
  fi
  check_200 "$1" "$cand_url"
  [ "$cur_workload" != bigbody ] || check_200 "$1" "${cand_url%"$request_path"}$big_path" "$expected_big"
}

# danegate really authenticates through DANE: a separate instance with an access log says
# `authenticated` with the record for the backend, and its twin route (a name whose TLSA record
# matches no key) answers 502 with `mismatch`.
check_danegate_dane() {
  local d=$dir/danegate-check port status line
  port=$(pick_port)
  mkdir -p "$d"
  danegate_config "$d/danegate.yaml" "$port" "$d/access.log"
  "${proxy_pin[@]}" "$danegate" run -c "$d/danegate.yaml" >"$d/stdout.log" 2>"$d/stderr.log" &
  local pid=$!
  pids+=("$pid")
  wait_for "$port" "$pid" || { cat "$d/stderr.log" >&2; fail "danegate did not start"; }
  check_200 danegate "https://127.0.0.1:$port$request_path"
  sleep 0.2
  line=$(grep -F '"status":200' "$d/access.log" | tail -n 1)
  [[ "$line" == *'"dane":"authenticated"'* && "$line" == *"\"matched\":\"$(cat "$dir/tlsa.txt")\""* ]] ||
    fail "danegate: 200 but the access log does not say authenticated by $(cat "$dir/tlsa.txt"): ${line:-no line}"
  note "danegate 200, access log: $line"
  status=$(curl -sk --max-time 10 -o /dev/null -w '%{http_code}' -H "Host: $wrong_host" \
    "https://127.0.0.1:$port$request_path") || true
  sleep 0.2
  line=$(grep -F "\"host\":\"$wrong_host\"" "$d/access.log" | tail -n 1)
  if [ "$status" != 502 ] || [[ "$line" != *'"dane":"mismatch"'* ]]; then
    fail "danegate: Host $wrong_host (wrong TLSA) answered '$status', expected 502 with mismatch: ${line:-no line}"
  fi
  note "twin: Host $wrong_host (TLSA matches no key) 502, access log: $line"
  stop "$pid"
}

# ------------------------------------------------------------------------------------------------
# Workloads. workload_NAME URL SECONDS OUT runs the load generator on the load core and writes its
# output, including report.lua's WRK_RESULT line, to OUT. describe_NAME says what it runs.
# ------------------------------------------------------------------------------------------------
# run_load CMD...: runs the load generator in the background and waits for it, so that a signal to
# this script is handled at once (bash defers traps while a foreground command runs).
run_load() {
  local pid rc=0
  "$@" &
  pid=$!
  pids+=("$pid")
  wait "$pid" || rc=$?
  forget "$pid"
  return "$rc"
}
describe_keepalive() { echo "wrk -t1 -c$CONNECTIONS -d${DURATION}s --latency (keep-alive, 100-byte body)"; }
workload_keepalive() {
  run_load "${load_pin[@]}" wrk -t1 -c"$CONNECTIONS" -d"$2"s --latency -s "$here/report.lua" "$1" >"$3" 2>&1
}

describe_bigbody() { echo "wrk -t1 -c$CONNECTIONS -d${DURATION}s --latency (keep-alive, 64 KiB body: GET $big_path)"; }
workload_bigbody() { workload_keepalive "${1%"$request_path"}$big_path" "$2" "$3"; }

# client_target URL: sets target_hostport (127.0.0.1:PORT) and target_path for bench_handshake_client.
client_target() {
  local hostpath=${1#https://}
  target_hostport=${hostpath%%/*}
  target_path=/${hostpath#*/}
}
describe_handshake() {
  echo "bench_handshake_client -c$HANDSHAKE_CONNECTIONS -d${DURATION}s (a new TCP connection and a full TLS 1.3 handshake per request, no session cache or tickets, Connection: close; 100-byte body)"
}
workload_handshake() {
  client_target "$1"
  run_load "${load_pin[@]}" "$client" --connect "$target_hostport" --path "$target_path" \
    -c "$HANDSHAKE_CONNECTIONS" -d "$2" >"$3" 2>&1
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
describe_idle() {
  echo "bench_handshake_client --idle $IDLE_CONNECTIONS (each: TLS 1.3 handshake, one keep-alive request, then idle; held ${DURATION}s)"
}
# workload_idle URL SECONDS OUT: IDLE_CONNECTIONS connections, held SECONDS; appends the RSS of the
# proxy (for direct: the backend) before and with the connections idle to OUT as an IDLE_RSS line.
workload_idle() {
  local target=${cand_pid:-$backend_pid} before after='' pid rc=0
  client_target "$1"
  before=$(rss_kib "$target")
  "${load_pin[@]}" "$client" --connect "$target_hostport" --path "$target_path" --idle "$IDLE_CONNECTIONS" \
    --hold "$2" -c 64 >"$3" 2>&1 &
  pid=$!
  pids+=("$pid")
  while ! grep -q '^IDLE_READY' "$3" && kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  if grep -q '^IDLE_READY' "$3"; then
    sleep 0.5   # every connection has had its response: let the proxy finish with them
    after=$(rss_kib "$target") || after=''
  fi
  wait "$pid" || rc=$?
  forget "$pid"
  echo "IDLE_RSS before_kib=$before idle_kib=${after:-0}" >>"$3"
  return "$rc"
}

# rollover runs at least 2 s, so that --smoke (ROLL_INTERVAL=1.5) sees a change.
rollover_seconds() { echo $(($1 > 2 ? $1 : 2)); }
describe_rollover() {
  echo "wrk -t1 -c$CONNECTIONS -d$(rollover_seconds "$DURATION")s --latency (keep-alive, 100-byte body) while _$backend_port._tcp.$roll_host TLSA (TTL 2 s, NSD) alternates between {backend's record} and {backend's + a second key's} every ${ROLL_INTERVAL}s; danegate only"
}
# workload_rollover URL SECONDS OUT: keepalive while a background loop re-publishes the RRset at
# (k - 1/2) * ROLL_INTERVAL s, k = 1, 2, ... (re-signed, NSD reloaded with SIGHUP); appends
# ROLL changes=N (changes published during the run) to OUT.
workload_rollover() {
  local seconds roller rc=0
  seconds=$(rollover_seconds "$2")
  : >"$roll_dir/changes"
  (
    t0=$EPOCHREALTIME
    k=1
    while at=$(awk -v k="$k" -v i="$ROLL_INTERVAL" -v s="$seconds" 'BEGIN { a = (k - 0.5) * i; if (a >= s) exit 1; print a }'); do
      sleep "$(awk -v t0="$t0" -v now="$EPOCHREALTIME" -v a="$at" 'BEGIN { d = t0 + a - now; printf "%.3f", (d > 0 ? d : 0) }')"
      if roll_publish $((k % 2)) >>"$roll_dir/publish.log" 2>&1 && kill -HUP "$nsd_pid"; then
        echo "$k $EPOCHREALTIME" >>"$roll_dir/changes"
      fi
      k=$((k + 1))
    done
  ) &
  roller=$!
  pids+=("$roller")
  workload_keepalive "$1" "$seconds" "$3" || rc=$?
  wait "$roller" || true
  forget "$roller"
  echo "ROLL changes=$(wc -l <"$roll_dir/changes")" >>"$3"
  roll_publish 0 >>"$roll_dir/publish.log" 2>&1 && kill -HUP "$nsd_pid"   # back to the start for the next run
  return "$rc"
}

# ------------------------------------------------------------------------------------------------
# Measurement.
# ------------------------------------------------------------------------------------------------
clk_tck=$(getconf CLK_TCK)
# cpu_ticks PID: utime + stime of the whole process (all threads), in clock ticks.
cpu_ticks() {
  local stat
  stat=$(cat "/proc/$1/stat") || return 1
  stat=${stat##*) }   # past the command name, which may hold spaces: field 3 (state) comes first
  read -r -a f <<<"$stat"
  echo $((f[11] + f[12]))
}
peak_rss_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
result_field() { sed -n "s/.*[ ]$2=\([0-9.]*\).*/\1/p" <<<" $1" | head -n 1; }

stamp=$(date -u +%Y%m%d-%H%M%S)
out=$RESULTS/run-$stamp
mkdir -p "$out"
tsv=$out/results.tsv
printf 'workload\tcandidate\trep\trequests\tseconds\trps\tp50_us\tp99_us\tcpu_us\tcpu_us_per_req\tpeak_rss_kib\tupstream_conns\terrors\terror_detail\tcpu_pct\tresumed\tidle_open\trss_before_kib\trss_idle_kib\tkib_per_conn\ttlsa_misses\ttlsa_hits\tdns_lookups\ttlsa_changes\n' >"$tsv"
failures=()
load_start=$(cut -d' ' -f1 /proc/loadavg)

# danegate_counters: TLSA cache misses, hits and DNS lookups so far, from danegate's /metrics.
danegate_counters() {
  curl -s --max-time 5 "http://127.0.0.1:$admin_port/metrics" | awk '
    $1 == "danegate_tlsa_cache_misses_total" { m = $2 }
    $1 == "danegate_tlsa_cache_hits_total" { h = $2 }
    $1 == "danegate_dns_lookup_duration_seconds_count" { l = $2 }
    END { if (m == "" || h == "" || l == "") exit 1; printf "%d %d %d\n", m, h, l }'
}

# profile_split WORKLOAD CANDIDATE REP US_PER_REQUEST PERF_DATA: splits the run's CPU per request
# by where perf's samples fell (kernel, the proxy's own executable, libc, libcrypto + libssl,
# anything else) into $out/profile.tsv and a note line.
profile_split() {
  local line
  line=$(perf report -i "$5" --no-children --sort dso --stdio 2>/dev/null | awk -v us="$4" '
    /^#/ || !/%/ { next }
    { p = $1; sub("%", "", p); d = $2
      if (d ~ /^\[kernel/) k += p; else if (d ~ /^libc\.so/) c += p; else if (d ~ /^lib(crypto|ssl)\.so/) t += p
      else if (d ~ /^(danegate|nginx|haproxy)$/) o += p; else x += p }
    END { if (k + c + t + o + x == 0) exit 1
          printf "%.1f\t%.1f\t%.1f\t%.1f\t%.1f", k * us / 100, o * us / 100, c * us / 100, t * us / 100, x * us / 100 }') ||
    { failures+=("$1-$2-$3: perf recorded nothing (see $5)"); return; }
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$line" >>"$out/profile.tsv"
  local v
  read -r -a v <<<"$line"
  note "$(printf '%-9s %-13s rep %s: profile us/req: kernel %s, own code %s, libc %s, OpenSSL %s, other %s' "$1" "$2" "$3" "${v[@]}")"
}

# measure WORKLOAD CANDIDATE REP
measure() {
  local w=$1 c=$2 rep=$3 tag="$1-$2-$3"
  if [ "$w" = rollover ] && [ "$c" != danegate ]; then
    [ "$rep" != 1 ] || note "rollover: $c skipped (the workload changes danegate's TLSA RRset; the others do not read it)"
    return
  fi
  cur_workload=$w
  start_candidate "$c"
  if [ "$WARMUP" -gt 0 ] && [ "$w" != idle ]; then
    "workload_$w" "$cand_url" "$WARMUP" "$out/$tag.warmup.txt" || true
    local warm werr=0 k
    warm=$(grep '^WRK_RESULT' "$out/$tag.warmup.txt" || true)
    if [ -n "$warm" ]; then
      for k in err_connect err_read err_write err_timeout err_status; do
        werr=$((werr + $(result_field "$warm" "$k")))
      done
    fi
    [ -n "$warm" ] && [ "$werr" = 0 ] || failures+=("$tag warm-up: ${warm:-no result} (see $out/$tag.warmup.txt)")
  fi
  local t0='' t1='' rss='' conns0 conns1 m0='' m1='' misses='' hits='' lookups=''
  conns0=$(backend_connections)
  if [ "$c" = danegate ]; then m0=$(danegate_counters) || failures+=("$tag: danegate's /metrics did not answer"); fi
  [ -z "$cand_pid" ] || t0=$(cpu_ticks "$cand_pid")
  local perf_pid=''
  if $profile && [ -n "$cand_pid" ] && [ "$w" != idle ]; then
    perf record -q -F 2999 -o "$out/$tag.perf.data" -p "$cand_pid" -- sleep "$DURATION" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  "workload_$w" "$cand_url" "$DURATION" "$out/$tag.txt" || true
  [ -z "$perf_pid" ] || wait "$perf_pid" || true
  if [ -n "$m0" ] && m1=$(danegate_counters); then
    read -r -a a0 <<<"$m0"
    read -r -a a1 <<<"$m1"
    misses=$((a1[0] - a0[0])) hits=$((a1[1] - a0[1])) lookups=$((a1[2] - a0[2]))
    note "$w danegate rep $rep: TLSA cache misses $misses, hits $hits, DNS lookups $lookups during the measured run"
  fi
  if [ -n "$cand_pid" ]; then
    if t1=$(cpu_ticks "$cand_pid" 2>/dev/null); then
      rss=$(peak_rss_kib "$cand_pid")
    else
      failures+=("$tag: $c died during the run")
      t1=
    fi
  fi
  conns1=$(backend_connections)
  [ -z "$cand_pid" ] || stop "$cand_pid"

  local r requests dur_us rps p50 p99 errors=0 detail='' k v cpu_us='' per_req='' cpu_pct='' conns=-
  # The query after the run is one connection more; wrk's own probe connection (wrk.resolve)
  # counts only for direct.
  [ -z "$conns0" ] || [ -z "$conns1" ] || conns=$((conns1 - conns0 - 1))
  r=$(grep '^WRK_RESULT' "$out/$tag.txt" || true)
  if [ -z "$r" ]; then
    failures+=("$tag: the load generator printed no result (see $out/$tag.txt)")
    return
  fi
  local resumed open='' rss0='' rss1='' per_conn='' changes=''
  resumed=$(result_field "$r" resumed)
  [ -z "$resumed" ] || [ "$resumed" = 0 ] || failures+=("$tag: $resumed handshakes resumed a TLS session")
  if [ "$w" = idle ]; then
    local ir
    open=$(result_field "$r" open)
    ir=$(grep '^IDLE_RSS' "$out/$tag.txt" || true)
    rss0=$(result_field "$ir" before_kib)
    rss1=$(result_field "$ir" idle_kib)
    [ "$open" = "$IDLE_CONNECTIONS" ] || failures+=("$tag: ${open:-?} of $IDLE_CONNECTIONS idle connections still open at the end")
    if [ -n "$rss0" ] && [ -n "$rss1" ] && [ "$rss1" != 0 ]; then
      per_conn=$(awk -v a="$rss0" -v b="$rss1" -v n="$IDLE_CONNECTIONS" 'BEGIN { printf "%.2f", (b - a) / n }')
    else
      failures+=("$tag: no RSS with the connections idle (see $out/$tag.txt)")
    fi
  fi
  if [ "$w" = rollover ]; then
    changes=$(result_field "$(grep '^ROLL' "$out/$tag.txt" || true)" changes)
    [ "${changes:-0}" -gt 0 ] || failures+=("$tag: no TLSA change happened during the run")
  fi
  requests=$(result_field "$r" requests)
  dur_us=$(result_field "$r" duration_us)
  p50=$(result_field "$r" p50_us)
  p99=$(result_field "$r" p99_us)
  for k in err_connect err_read err_write err_timeout err_status; do
    v=$(result_field "$r" "$k")
    errors=$((errors + v))
    [ "$v" = 0 ] || detail+="${detail:+,}${k#err_}=$v"
  done
  [ "$requests" -gt 0 ] || failures+=("$tag: no request completed")
  [ "$errors" = 0 ] || failures+=("$tag: $errors errors ($detail; see $out/$tag.txt)")
  rps=$(awk -v n="$requests" -v us="$dur_us" 'BEGIN { printf "%.1f", n / (us / 1e6) }')
  if [ -n "$t0" ] && [ -n "$t1" ]; then
    cpu_us=$(((t1 - t0) * 1000000 / clk_tck))
    per_req=$(awk -v c="$cpu_us" -v n="$requests" 'BEGIN { if (n > 0) printf "%.2f", c / n }')
    cpu_pct=$(awk -v c="$cpu_us" -v us="$dur_us" 'BEGIN { printf "%.0f", 100 * c / us }')
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$w" "$c" "$rep" "$requests" \
    "$(awk -v us="$dur_us" 'BEGIN { printf "%.2f", us / 1e6 }')" "$rps" "$p50" "$p99" "${cpu_us:--}" \
    "${per_req:--}" "${rss:--}" "$conns" "$errors" "${detail:--}" "${cpu_pct:--}" "${resumed:--}" "${open:--}" \
    "${rss0:--}" "${rss1:--}" "${per_conn:--}" "${misses:--}" "${hits:--}" "${lookups:--}" "${changes:--}" >>"$tsv"
  [ -z "$perf_pid" ] || [ -z "$per_req" ] || profile_split "$w" "$c" "$rep" "$per_req" "$out/$tag.perf.data"
  note "$(printf '%-9s %-13s rep %s: %8.0f req/s  p50 %6.2f ms  p99 %7.2f ms  CPU %s us/req (%s%%)  RSS %s KiB  errors %s%s' \
    "$w" "$c" "$rep" "$rps" "$(awk -v u="$p50" 'BEGIN { print u / 1000 }')" \
    "$(awk -v u="$p99" 'BEGIN { print u / 1000 }')" "${per_req:--}" "${cpu_pct:--}" "${rss:--}" "$errors" \
    "${resumed:+  resumed $resumed}${open:+  open $open}${per_conn:+  RSS +$per_conn KiB/conn}${changes:+  TLSA changes $changes}")"
  # Anything danegate logged at warning level or above during the run is worth a look.
  if [ "$c" = danegate ] && [ -n "$cand_log" ] && grep -qiE '\[(warning|error|critical)\]' "$cand_log"; then
    local n
    n=$(grep -ciE '\[(warning|error|critical)\]' "$cand_log")
    note "danegate logged $n warning/error lines so far; first: $(grep -iE '\[(warning|error|critical)\]' "$cand_log" | head -n 1)"
  fi
}

# nginx really verifies the backend: trusting another certificate, it answers 502.
check_nginx_verifies() {
  local status
  start_nginx "$dir/proxy.pem"
  pids+=("$cand_pid")
  wait_for "${nginx_port}" "$cand_pid" || { tail -n 20 "$cand_log" >&2 || true; fail "nginx did not start"; }
  status=$(curl -sk --max-time 10 -o /dev/null -w '%{http_code}' "$cand_url") || true
  stop "$cand_pid"
  [ "$status" = 502 ] || fail "nginx trusting another certificate answered '$status', expected 502: is it verifying?"
  note "nginx with another certificate as proxy_ssl_trusted_certificate: 502 ($(grep -m1 -o 'upstream SSL certificate verify error[^)]*)' "$dir/nginx/error.log" || echo 'see its error.log'))"
  : >"$dir/nginx/error.log"
}

if in_list nginx "${candidates[@]}" || in_list nginx-nopool "${candidates[@]}" || in_list nginx-sametls "${candidates[@]}"; then
  say "Checking that nginx verifies the backend's certificate"
  check_nginx_verifies
fi
if in_list danegate "${candidates[@]}"; then
  say "Checking that danegate authenticates the backend through DANE (and refuses a wrong TLSA)"
  check_danegate_dane
fi

say "Measuring: ${candidates[*]} x ${workloads[*]}, $REPS repetition(s) of ${DURATION}s (warm-up ${WARMUP}s); results in $out"
n=${#candidates[@]}
for rep in $(seq 1 "$REPS"); do
  for w in "${workloads[@]}"; do
    # The order rotates by repetition, so no candidate always runs first or last.
    for i in $(seq 0 $((n - 1))); do
      measure "$w" "${candidates[$(((i + rep - 1) % n))]}" "$rep"
    done
  done
done
cp "$dir"/danegate/stderr.log "$out/danegate.stderr.log" 2>/dev/null || true

# ------------------------------------------------------------------------------------------------
# The table: medians (min..max) per workload and candidate, ratios to nginx's medians.
# ------------------------------------------------------------------------------------------------
# The awk functions both tables use: median() of a space-separated list (setting lo and hi, its
# minimum and maximum), cell() for "median (min..max)", add() to collect a run's value under a key.
stats_awk='
    function median(s,   a, n, i, j, t) {
      n = split(s, a, " ")
      for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
      if (n == 0) return ""
      lo = a[1]; hi = a[n]
      return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function cell(s, scale, fmt,   m) {
      if (s == "") return "-"
      m = median(s)
      if (lo == hi) return sprintf(fmt, m / scale)
      return sprintf(fmt " (" fmt ".." fmt ")", m / scale, lo / scale, hi / scale)
    }
    function add(k, v) { if (v != "-" && v != "") vals[k] = vals[k] (vals[k] == "" ? "" : " ") v }
'
# idle_table WORKLOAD: connections still open, the proxy's RSS before and with them idle, and the
# growth per connection.
idle_table() {
  awk -F'\t' -v w="$1" -v order="${candidates[*]}" "$stats_awk"'
    NR > 1 && $1 == w {
      c = $2
      add(c SUBSEP "open", $17); add(c SUBSEP "rss0", $18); add(c SUBSEP "rss1", $19); add(c SUBSEP "per", $20)
      add(c SUBSEP "rps", $6); add(c SUBSEP "cpu", $10)
      errors[c] += $13
    }
    END {
      printf "%-13s %-18s %-18s %-18s %-24s %-20s %-20s %6s\n", "candidate", "open at end", "RSS before MiB",
        "RSS idle MiB", "RSS KiB per idle conn", "set-up conn/s", "CPU us/conn", "errors"
      ncand = split(order, cands, " ")
      for (i = 1; i <= ncand; i++) {
        c = cands[i]
        printf "%-13s %-18s %-18s %-18s %-24s %-20s %-20s %6d\n", c, cell(vals[c SUBSEP "open"], 1, "%.0f"),
          cell(vals[c SUBSEP "rss0"], 1024, "%.1f"), cell(vals[c SUBSEP "rss1"], 1024, "%.1f"),
          cell(vals[c SUBSEP "per"], 1, "%.1f"), cell(vals[c SUBSEP "rps"], 1, "%.0f"),
          cell(vals[c SUBSEP "cpu"], 1, "%.1f"), errors[c]
      }
    }' "$tsv"
}

# column_line WORKLOAD COLUMN LABEL: "LABEL: candidate v1 v2 ..., ..." over the runs of WORKLOAD.
column_line() {
  awk -F'\t' -v w="$1" -v col="$2" -v label="$3" -v order="${candidates[*]}" '
    NR > 1 && $1 == w && $col != "-" { v[$2] = v[$2] (v[$2] == "" ? "" : " ") $col }
    END {
      n = split(order, cands, " ")
      for (i = 1; i <= n; i++) if (cands[i] in v) line = line (line == "" ? "" : "; ") cands[i] " " v[cands[i]]
      if (line != "") print label ": " line
    }' "$tsv"
}

# profile_table WORKLOAD ORDER: the medians of profile.tsv (--profile) per candidate.
profile_table() {
  echo "where the CPU per request went (--profile; perf's samples by shared object; us/req, median):"
  awk -F'\t' -v w="$1" -v order="$2" "$stats_awk"'
    $1 == w { c = $2; for (i = 4; i <= 8; i++) add(c SUBSEP i, $i) }
    END {
      printf "  %-13s %10s %10s %10s %10s %10s\n", "candidate", "kernel", "own code", "libc", "OpenSSL", "other"
      n = split(order, cands, " ")
      for (j = 1; j <= n; j++) {
        c = cands[j]
        if (vals[c SUBSEP 4] == "") continue
        printf "  %-13s", c
        for (i = 4; i <= 8; i++) printf " %10.1f", median(vals[c SUBSEP i])
        printf "\n"
      }
    }' "$out/profile.tsv"
}

summarize() {
  local w order
  for w in "${workloads[@]}"; do
    echo
    echo "workload $w: $("describe_$w"); backend $backend_kind; $REPS repetition(s); median (min..max)"
    if [ "$w" = idle ]; then
      idle_table "$w"
      echo "RSS KiB per idle conn: (VmRSS with the connections open and idle - VmRSS before) / $IDLE_CONNECTIONS"
      echo "(direct: the backend nginx's own); set-up conn/s and CPU us/conn: handshake + one request each."
      column_line "$w" 17 "idle connections still open at the end, per run"
      column_line "$w" 21 "danegate TLSA cache misses per run"
      column_line "$w" 23 "danegate DNS lookups per run"
      continue
    fi
    order="${candidates[*]}"
    [ "$w" != rollover ] || order=danegate
    awk -F'\t' -v w="$w" -v order="$order" "$stats_awk"'
      NR > 1 && $1 == w {
        c = $2
        add(c SUBSEP "rps", $6); add(c SUBSEP "p50", $7); add(c SUBSEP "p99", $8)
        add(c SUBSEP "cpu", $10); add(c SUBSEP "pct", $15); add(c SUBSEP "rss", $11); add(c SUBSEP "conns", $12)
        errors[c] += $13
      }
      END {
        printf "%-13s %-24s %-24s %-24s %-24s %-12s %-18s %-15s %6s %11s %9s\n", "candidate", "req/s", "p50 ms", "p99 ms",
          "CPU us/req", "proxy CPU %", "peak RSS MiB", "upstream conns", "errors", "req/s:nginx", "CPU:nginx"
        ncand = split(order, cands, " ")
        nginx_rps = (vals["nginx" SUBSEP "rps"] != "") ? median(vals["nginx" SUBSEP "rps"]) : ""
        nginx_cpu = (vals["nginx" SUBSEP "cpu"] != "") ? median(vals["nginx" SUBSEP "cpu"]) : ""
        for (i = 1; i <= ncand; i++) {
          c = cands[i]
          r1 = "-"; r2 = "-"
          if (nginx_rps != "" && vals[c SUBSEP "rps"] != "") r1 = sprintf("%.2f", median(vals[c SUBSEP "rps"]) / nginx_rps)
          if (nginx_cpu != "" && nginx_cpu > 0 && vals[c SUBSEP "cpu"] != "") r2 = sprintf("%.2f", median(vals[c SUBSEP "cpu"]) / nginx_cpu)
          printf "%-13s %-24s %-24s %-24s %-24s %-12s %-18s %-15s %6d %11s %9s\n", c,
            cell(vals[c SUBSEP "rps"], 1, "%.0f"), cell(vals[c SUBSEP "p50"], 1000, "%.2f"),
            cell(vals[c SUBSEP "p99"], 1000, "%.2f"), cell(vals[c SUBSEP "cpu"], 1, "%.1f"),
            (vals[c SUBSEP "pct"] == "") ? "-" : sprintf("%.0f", median(vals[c SUBSEP "pct"])),
            cell(vals[c SUBSEP "rss"], 1024, "%.1f"), cell(vals[c SUBSEP "conns"], 1, "%.0f"), errors[c], r1, r2
        }
      }' "$tsv"
    [ "$w" != handshake ] || column_line "$w" 16 "resumed TLS handshakes per run (must be 0)"
    [ "$w" != rollover ] || column_line "$w" 24 "TLSA RRset changes during each run"
    column_line "$w" 21 "danegate TLSA cache misses per run"
    column_line "$w" 22 "danegate TLSA cache hits per run"
    column_line "$w" 23 "danegate DNS lookups per run"
    [ ! -f "$out/profile.tsv" ] || profile_table "$w" "$order"
  done
  echo
  echo "CPU us/req: user+sys CPU time of the proxy process during the measured run / requests;"
  echo "proxy CPU %: that CPU time / the run's duration (100 = the proxy's core was saturated)."
  echo "upstream conns: TCP connections the backend accepted during the measured run."
  echo "load average (1 min) at start: $load_start, at end: $(cut -d' ' -f1 /proc/loadavg) on $(nproc) cores."
}
summarize | tee "$out/summary.txt"
echo "raw results: $tsv"

if [ ${#failures[@]} -gt 0 ]; then
  echo >&2
  printf 'run.sh: FAILED: %s\n' "${failures[@]}" >&2
  exit 1
fi
