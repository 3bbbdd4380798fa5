// Benchmarks for dane/tlsa_cache.cpp (issue #2): what one tlsa_cache::async_get costs when the
// entry is warm, i.e. the price every proxied request pays once the cache has the upstream's
// TLSA records. The lookup function completes at once with a prepared lookup_result: this is about
// the cache (key normalization, the mutex, the map and LRU list, the clock, the handler call),
// not DNS. Variants:
//   - one entry in the cache, hitting it (single thread, and 2 threads contending for it);
//   - 10,000 entries (the default max_entries), hitting one of them, and hitting all of them in
//     a scattered order so the map and LRU nodes are not all in the CPU cache.
// Every handler call is counted and the cache's own stats are checked: a run that was not all
// hits is reported as an error instead of a number.
#include "dane/tlsa_cache.hpp"

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace danegate::dane {
namespace {

constexpr std::uint16_t bench_port = 443;
constexpr std::size_t many_entries = 10000;

/** What a secure lookup of @p host looks like; the TTL is long enough never to refresh. */
std::shared_ptr<const lookup_result> prepared_result(const std::string& host, std::uint16_t port)
{
    auto result = std::make_shared<lookup_result>();
    result->status = dns_status::secure_records;
    result->host = host + ".";
    result->port = port;
    result->base_domain = result->host;
    result->tlsa_name = tlsa_owner_name(port, result->host);
    result->reference_names = {result->host};
    result->records = {parse_tlsa("3 1 1 d374cbd3ab44c7566852f08c5e07449d5b7001dffb295ef8be1041e5b5d119fa").value()};
    result->addresses = {"192.0.2.10"};
    result->ttl = std::chrono::hours{1};
    result->rrset_digest = rrset_digest(result->records);
    return result;
}

/** A lookup function that answers inline, as if DNS took no time. */
tlsa_cache::lookup_function immediate_lookup()
{
    return [](const std::string& host, std::uint16_t port, lookup_handler done) {
        done(prepared_result(host, port));
    };
}

std::string numbered_host(std::size_t i)
{
    return "upstream" + std::to_string(i) + ".bench.example";
}

/** A cache holding @p count entries upstream0.bench.example ... (all looked up once). */
std::unique_ptr<tlsa_cache> filled_cache(std::size_t count)
{
    cache_options options;
    options.max_entries = many_entries;
    auto cache = std::make_unique<tlsa_cache>(options, immediate_lookup());
    for (std::size_t i = 0; i < count; ++i) {
        cache->async_get(numbered_host(i), bench_port, [](std::shared_ptr<const lookup_result>) {});
    }
    return cache;
}

/**
 * Errors unless all @p calls were answered inline (@p answered) and the cache counted no miss
 * beyond the @p warmup_misses of filling it, and no eviction or refresh.
 */
void check_all_hits(benchmark::State& state, const tlsa_cache& cache, std::uint64_t calls, std::uint64_t answered,
                    std::uint64_t warmup_misses)
{
    const cache_stats stats = cache.stats();
    if (answered != calls) {
        state.SkipWithError("a handler was not called inline: not a hit");
    } else if (stats.misses != warmup_misses || stats.evictions != 0 || stats.refreshes != 0) {
        state.SkipWithError("the cache missed, evicted or refreshed during the run");
    }
}

/** The cache's size as a counter (averaged, not summed, over the threads of a run). */
benchmark::Counter entries_counter(const tlsa_cache& cache)
{
    return benchmark::Counter(static_cast<double>(cache.size()), benchmark::Counter::kAvgThreads);
}

// One warm entry. Shared by the 1- and 2-thread runs: with 2 threads both hit the same key, the
// worst case for the cache's single mutex.
void BM_tlsa_cache_hit(benchmark::State& state)
{
    static const std::unique_ptr<tlsa_cache> cache = filled_cache(1);
    const std::string host = numbered_host(0);
    std::uint64_t answered = 0;
    for (auto _ : state) {
        cache->async_get(host, bench_port, [&answered](std::shared_ptr<const lookup_result> r) {
            benchmark::DoNotOptimize(r.get());
            answered += r != nullptr ? 1 : 0;
        });
    }
    // Each thread checks its own calls; the one miss is the fill, shared by every run.
    check_all_hits(state, *cache, static_cast<std::uint64_t>(state.iterations()), answered, 1);
    state.counters["entries"] = entries_counter(*cache);
}
BENCHMARK(BM_tlsa_cache_hit)->Threads(1);
BENCHMARK(BM_tlsa_cache_hit)->Threads(2);

// 10,000 entries, always hitting the same one: the cost of a bigger map and LRU list alone.
void BM_tlsa_cache_hit_10k_entries(benchmark::State& state)
{
    const auto cache = filled_cache(many_entries);
    const std::string host = numbered_host(many_entries / 2);
    std::uint64_t answered = 0;
    for (auto _ : state) {
        cache->async_get(host, bench_port, [&answered](std::shared_ptr<const lookup_result> r) {
            benchmark::DoNotOptimize(r.get());
            answered += r != nullptr ? 1 : 0;
        });
    }
    check_all_hits(state, *cache, static_cast<std::uint64_t>(state.iterations()), answered, many_entries);
    state.counters["entries"] = entries_counter(*cache);
}
BENCHMARK(BM_tlsa_cache_hit_10k_entries);

// 10,000 entries, hitting each in turn in a scattered order (stride 7919, coprime to 10,000):
// many upstreams in use at once, so the entries are mostly not in the CPU cache.
void BM_tlsa_cache_hit_10k_entries_scattered(benchmark::State& state)
{
    const auto cache = filled_cache(many_entries);
    std::vector<std::string> hosts;
    hosts.reserve(many_entries);
    for (std::size_t i = 0; i < many_entries; ++i) {
        hosts.push_back(numbered_host((i * 7919) % many_entries));
    }
    std::size_t next = 0;
    std::uint64_t answered = 0;
    for (auto _ : state) {
        cache->async_get(hosts[next], bench_port, [&answered](std::shared_ptr<const lookup_result> r) {
            benchmark::DoNotOptimize(r.get());
            answered += r != nullptr ? 1 : 0;
        });
        next = next + 1 == hosts.size() ? 0 : next + 1;
    }
    check_all_hits(state, *cache, static_cast<std::uint64_t>(state.iterations()), answered, many_entries);
    state.counters["entries"] = entries_counter(*cache);
}
BENCHMARK(BM_tlsa_cache_hit_10k_entries_scattered);

}  // namespace
}  // namespace danegate::dane
