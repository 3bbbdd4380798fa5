#!/usr/bin/env bash
# Builds and runs the micro-benchmark executables (see benchmarks/README.md): 5 repetitions of
# every benchmark, then one table of the medians. Assumes build/ was configured by scripts/build
# (Release, tests on: dane_bench's handshake and lookup benchmarks need the test bed).
#   benchmarks/run_micro_benchmarks.sh                        # routing_bench, proxy_bench, dane_bench
#   benchmarks/run_micro_benchmarks.sh routing proxy          # only these executables
#   benchmarks/run_micro_benchmarks.sh dane --benchmark_filter=handshake   # flags go to each executable
# The full output of each is kept in build/benchmarks/NAME_bench.txt and .json.
set -euo pipefail
cd "$(dirname "$0")/.."

all=(routing proxy dane)
names=()
flags=()
for arg in "$@"; do
  case "$arg" in
    -*) flags+=("$arg") ;;
    routing | proxy | dane) names+=("$arg") ;;
    *)
      echo "unknown benchmark executable '$arg' (one of: ${all[*]}; flags start with --)" >&2
      exit 2
      ;;
  esac
done
[ ${#names[@]} -gt 0 ] || names=("${all[@]}")

if [ ! -f build/build.ninja ]; then
  echo "build/ is not configured: run scripts/build first" >&2
  exit 1
fi
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/danegate-ccache} CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-true}
targets=()
for name in "${names[@]}"; do
  targets+=("${name}_bench")
done
ninja -C build "${targets[@]}" >/dev/null

failed=()
for name in "${names[@]}"; do
  out=build/benchmarks/${name}_bench
  echo "== ${name}_bench"
  if ! "$out" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
      --benchmark_out="$out.json" --benchmark_out_format=json "${flags[@]}" | tee "$out.txt"; then
    failed+=("${name}_bench")
  fi
  echo
done

echo "Medians of 5 repetitions (Time: wall clock per iteration; CPU: this process's benchmark thread(s));"
echo "load average (1 min) at the end: $(cut -d' ' -f1 /proc/loadavg) on $(nproc) cores."
printf '  %-14s %-50s %16s %16s  %s\n' Executable Benchmark Time CPU Counters
for name in "${names[@]}"; do
  out=build/benchmarks/${name}_bench
  [ -f "$out.txt" ] || continue
  # An executable whose --benchmark_filter matched nothing printed no line: not an error.
  { grep -E '^BM_[^ ]*_median ' "$out.txt" || true; } |
    sed -E 's/_median / /' |
    awk -v exe="${name}_bench" '{ counters = ""; for (i = 7; i <= NF; i++) { counters = counters " " $i }
           printf "  %-14s %-50s %12s %-3s %12s %-3s%s\n", exe, $1, $2, $3, $4, $5, counters }'
done
# A benchmark that could not measure what it should (SkipWithError) prints ERROR instead of a time.
errors=$(for name in "${names[@]}"; do grep -h 'ERROR OCCURRED' "build/benchmarks/${name}_bench.txt" 2>/dev/null || true; done)
if [ -n "$errors" ]; then
  echo
  echo "Benchmarks that reported an error:" >&2
  echo "$errors" >&2
  exit 1
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed: ${failed[*]}" >&2
  exit 1
fi
