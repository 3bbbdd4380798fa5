#!/usr/bin/env bash
# Kept for existing habits: runs dane_bench alone through run_micro_benchmarks.sh (5 repetitions,
# a table of the medians). Extra flags go to dane_bench, e.g. --benchmark_filter=handshake.
exec "$(dirname "$0")/run_micro_benchmarks.sh" dane "$@"
