// Benchmarks for the TLSA lookup latency (issue #2): how long async_lookup_tlsa for ee311.dg.test
// takes through a real validating libunbound against the test bed's NSD on loopback. That is the
// wait a request has on a TLSA cache miss, and what `danegate tlsa verify` spends before it
// connects. One lookup is the full RFC 7671 §7 sequence (address records, then TLSA), each answer
// DNSSEC-validated in-process. Loopback, a tiny zone and an idle NSD make these lower bounds: a
// real upstream's zone is further away.
//
//   BM_tlsa_lookup_cold_incl_context  unbound_resolver::create (a new libunbound context with the
//                                     trust anchor, its worker thread) plus one lookup: nothing
//                                     cached, so the DNSKEYs are fetched and validated too.
//   BM_tlsa_lookup_cold               the same, timing the lookup only (the resolver is made
//                                     before and destroyed after the timed part).
//   BM_tlsa_lookup_warm               one resolver, the same lookup repeated: libunbound's cache
//                                     answers, so this is the resolver round trip (its worker
//                                     thread, the pipe, our strand) without network.
//
// Timing is manual (steady_clock around the measured part, so creating and destroying resolvers
// never counts where it should not). Every lookup must come back secure_records, or the benchmark
// stops with an error. The counter slowest_us is the slowest single lookup of the run: a retry
// inside libunbound shows there first.
//
// Cold lookups are paced to at most one per 10 ms (the wait is not timed). NSD's response rate
// limiting is on by default (rrl-ratelimit 200 identical responses per second per /24), and the
// test bed's nsd.conf does not turn it off: back to back, cold lookups ask NSD for the same
// records about 300 times a second, NSD blocks them ("ratelimit block ... TLSA" in its log), and
// the lookups caught in the block wait for libunbound's retry, adding a second or more to a run.
// Warm lookups never reach NSD and are not paced.
#include "benchmarks/dane/testbed_support.hpp"

#include <benchmark/benchmark.h>

#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

namespace danegate::bench {
namespace {

const char* const lookup_label = "ee311";

bool secure(benchmark::State& state, const dane::lookup_result& result)
{
    if (result.status == dane::dns_status::secure_records && !result.records.empty()) {
        return true;
    }
    const std::string why = "lookup gave " + std::string(dane::to_string(result.status)) + " (" + result.detail + ")";
    state.SkipWithError(why.c_str());
    return false;
}

/** Cold lookups start at least this far apart, to stay well under NSD's rate limit. */
constexpr std::chrono::milliseconds cold_lookup_spacing{10};

double seconds_since(std::chrono::steady_clock::time_point start)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/** The slowest iteration of a run, in microseconds, as a counter. */
benchmark::Counter slowest_counter(double seconds)
{
    return benchmark::Counter(seconds * 1e6);
}

/** Cold lookups, a new resolver each; @p count_creation says whether making it is timed. */
void cold_lookups(benchmark::State& state, bool count_creation)
{
    std::string error;
    const test::testbed* bed = testbed_or_error(error);
    if (bed == nullptr) {
        state.SkipWithError(error.c_str());
        return;
    }
    const dane::resolver_options options = testbed_resolver_options(*bed);
    const std::string host = bed->host(lookup_label);
    boost::asio::io_context io;
    double slowest = 0;
    auto next_start = std::chrono::steady_clock::now();
    for (auto _ : state) {
        std::this_thread::sleep_until(next_start);
        next_start = std::chrono::steady_clock::now() + cold_lookup_spacing;
        const auto before_creation = std::chrono::steady_clock::now();
        auto resolver = dane::unbound_resolver::create(io, options);
        if (!resolver) {
            state.SkipWithError(("resolver setup: " + resolver.error().message()).c_str());
            break;
        }
        const auto before_lookup = std::chrono::steady_clock::now();
        const auto result = run_tlsa_lookup(io, **resolver, host, bed->port());
        const double elapsed = seconds_since(count_creation ? before_creation : before_lookup);
        if (!secure(state, *result)) {
            break;
        }
        state.SetIterationTime(elapsed);
        slowest = std::max(slowest, elapsed);
        // The resolver is destroyed here, untimed, with io not running (unbound_resolver.hpp).
    }
    state.counters["slowest_us"] = slowest_counter(slowest);
}

void BM_tlsa_lookup_cold_incl_context(benchmark::State& state)
{
    cold_lookups(state, true);
}
BENCHMARK(BM_tlsa_lookup_cold_incl_context)->UseManualTime()->Unit(benchmark::kMicrosecond);

void BM_tlsa_lookup_cold(benchmark::State& state)
{
    cold_lookups(state, false);
}
BENCHMARK(BM_tlsa_lookup_cold)->UseManualTime()->Unit(benchmark::kMicrosecond);

void BM_tlsa_lookup_warm(benchmark::State& state)
{
    std::string error;
    const test::testbed* bed = testbed_or_error(error);
    if (bed == nullptr) {
        state.SkipWithError(error.c_str());
        return;
    }
    const std::string host = bed->host(lookup_label);
    boost::asio::io_context io;
    auto resolver = dane::unbound_resolver::create(io, testbed_resolver_options(*bed));
    if (!resolver) {
        state.SkipWithError(("resolver setup: " + resolver.error().message()).c_str());
        return;
    }
    // Fills libunbound's cache; every timed lookup after it is answered from there.
    if (!secure(state, *run_tlsa_lookup(io, **resolver, host, bed->port()))) {
        return;
    }
    const std::uint64_t queries_before = (*resolver)->queries_sent();
    double slowest = 0;
    for (auto _ : state) {
        const auto start = std::chrono::steady_clock::now();
        const auto result = run_tlsa_lookup(io, **resolver, host, bed->port());
        const double elapsed = seconds_since(start);
        if (!secure(state, *result)) {
            break;
        }
        state.SetIterationTime(elapsed);
        slowest = std::max(slowest, elapsed);
    }
    state.counters["slowest_us"] = slowest_counter(slowest);
    state.counters["resolver_queries_per_lookup"] = benchmark::Counter(
        static_cast<double>((*resolver)->queries_sent() - queries_before), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_tlsa_lookup_warm)->UseManualTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace danegate::bench
