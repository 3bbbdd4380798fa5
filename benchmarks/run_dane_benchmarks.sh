#!/usr/bin/env bash
# Builds and runs dane_bench (see benchmarks/README.md): 5 repetitions of every benchmark, then a
# table of the medians. Assumes build/ was configured by scripts/build (Release, tests on: the
# handshake and lookup benchmarks need the test bed from tests/support).
#   benchmarks/run_dane_benchmarks.sh                                # everything
#   benchmarks/run_dane_benchmarks.sh --benchmark_filter=handshake   # extra flags go to dane_bench
# The full output is kept in build/benchmarks/dane_bench.txt and .json.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f build/build.ninja ]; then
  echo "build/ is not configured: run scripts/build first" >&2
  exit 1
fi
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/danegate-ccache} CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-true}
ninja -C build dane_bench >/dev/null

out=build/benchmarks/dane_bench
"$out" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
  --benchmark_out="$out.json" --benchmark_out_format=json "$@" | tee "$out.txt"

echo
echo "Medians of 5 repetitions (Time: wall clock per iteration; CPU: this process's benchmark thread(s)):"
printf '  %-50s %16s %16s  %s\n' Benchmark Time CPU Counters
grep -E '^BM_[^ ]*_median ' "$out.txt" |
  sed -E 's/_median / /' |
  awk '{ counters = ""; for (i = 7; i <= NF; i++) { counters = counters " " $i }
         printf "  %-50s %12s %-3s %12s %-3s%s\n", $1, $2, $3, $4, $5, counters }'
