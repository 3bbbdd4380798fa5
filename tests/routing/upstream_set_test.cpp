// Round robin over an upstream's endpoints with passive health: order, skipping ejected
// endpoints, the half-open probe, 503 when all are out, recovery, and concurrent picks.
#include "routing/upstream_set.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace danegate::routing {
namespace {

using namespace std::chrono_literals;
using time_point = upstream_set::time_point;

const time_point t0 = time_point{} + 1000h;

conf::upstream three_endpoints()
{
    conf::upstream upstream;
    upstream.name = "app";
    for (const char* host : {"a.corp.example", "b.corp.example", "c.corp.example"}) {
        upstream.endpoints.push_back(conf::endpoint_address{host, 8443, {}});
    }
    upstream.health.max_failures = 3;
    upstream.health.retry_after = 10s;
    return upstream;
}

// The first letter of the picked host, or '-' for nullopt.
char pick(upstream_set& set, time_point now)
{
    const std::optional<endpoint_ref> picked = set.pick(now);
    return picked ? picked->host().front() : '-';
}

std::string picks(upstream_set& set, time_point now, int count)
{
    std::string out;
    for (int i = 0; i < count; ++i) {
        out += pick(set, now);
    }
    return out;
}

void fail(upstream_set& set, std::size_t index, int times, time_point now)
{
    for (int i = 0; i < times; ++i) {
        set.record_failure(set.at(index), now);
    }
}

TEST(upstream_set, round_robin_over_three_endpoints)
{
    upstream_set set(three_endpoints());
    EXPECT_EQ(set.name(), "app");
    EXPECT_EQ(set.size(), 3u);
    const std::optional<endpoint_ref> first = set.pick(t0);
    ASSERT_TRUE(first);
    EXPECT_EQ(first->index(), 0u);
    EXPECT_EQ(first->host(), "a.corp.example");
    EXPECT_EQ(first->port(), 8443);
    EXPECT_FALSE(first->is_probe());
    EXPECT_EQ(picks(set, t0, 8), "bcabcabc");
}

TEST(upstream_set, an_endpoint_ejected_after_n_failures_is_skipped)
{
    upstream_set set(three_endpoints());
    fail(set, 1, 2, t0);
    EXPECT_EQ(picks(set, t0, 3), "abc");
    EXPECT_EQ(set.unhealthy(), 0u);
    fail(set, 1, 1, t0);
    EXPECT_EQ(set.state(1), health_state::ejected);
    EXPECT_EQ(set.unhealthy(), 1u);
    // Even over the rest: B's turn goes to the next one, not to C twice.
    EXPECT_EQ(picks(set, t0, 6), "acacac");
}

TEST(upstream_set, a_success_in_between_resets_the_count)
{
    upstream_set set(three_endpoints());
    fail(set, 1, 2, t0);
    set.record_success(set.at(1), t0);
    fail(set, 1, 2, t0);
    EXPECT_EQ(set.state(1), health_state::healthy);
    EXPECT_EQ(picks(set, t0, 3), "abc");
}

TEST(upstream_set, after_retry_after_exactly_one_pick_gets_the_probe)
{
    upstream_set set(three_endpoints());
    fail(set, 1, 3, t0);
    EXPECT_EQ(picks(set, t0 + 9s, 4), "acac");

    const time_point later = t0 + 10s;
    std::vector<endpoint_ref> probes;
    std::string order;
    for (int i = 0; i < 6; ++i) {
        const std::optional<endpoint_ref> picked = set.pick(later);
        ASSERT_TRUE(picked);
        order += picked->host().front();
        if (picked->is_probe()) {
            probes.push_back(*picked);
        }
    }
    ASSERT_EQ(probes.size(), 1u);
    EXPECT_EQ(probes[0].index(), 1u);
    EXPECT_EQ(order, "abcaca");  // B takes its turn once, as the probe, then is skipped
    EXPECT_EQ(set.state(1), health_state::probing);

    EXPECT_EQ(set.unhealthy(), 1u);  // probing is not healthy yet
    set.record_success(probes[0], later);
    EXPECT_EQ(set.state(1), health_state::healthy);
    EXPECT_EQ(set.unhealthy(), 0u);
    EXPECT_EQ(picks(set, later, 3), "bca");
}

TEST(upstream_set, a_failed_probe_ejects_again)
{
    upstream_set set(three_endpoints());
    fail(set, 1, 3, t0);
    std::optional<endpoint_ref> probe;
    for (int i = 0; i < 3 && !probe; ++i) {
        if (auto picked = set.pick(t0 + 10s); picked && picked->is_probe()) {
            probe = picked;
        }
    }
    ASSERT_TRUE(probe);
    set.record_failure(*probe, t0 + 10s);
    EXPECT_EQ(set.state(1), health_state::ejected);
    EXPECT_EQ(set.unhealthy(), 1u);
    // The back-off doubled: still out 19 s later, back as a probe 20 s later.
    EXPECT_EQ(picks(set, t0 + 29s, 4).find('b'), std::string::npos);
    EXPECT_NE(picks(set, t0 + 30s, 3).find('b'), std::string::npos);
}

TEST(upstream_set, all_ejected_gives_nullopt_and_success_brings_one_back)
{
    upstream_set set(three_endpoints());
    for (std::size_t i = 0; i < 3; ++i) {
        fail(set, i, 3, t0);
    }
    EXPECT_EQ(set.unhealthy(), 3u);
    EXPECT_EQ(set.pick(t0), std::nullopt);
    EXPECT_EQ(set.pick(t0 + 9s), std::nullopt);

    // All back-offs expire: each endpoint is probed once, then nothing until results arrive.
    EXPECT_EQ(picks(set, t0 + 10s, 4), "abc-");
    set.record_success(set.at(2), t0 + 10s);  // not the probe: stale, ignored
    EXPECT_EQ(set.pick(t0 + 11s), std::nullopt);
}

TEST(upstream_set, comes_back_after_a_successful_probe)
{
    upstream_set set(three_endpoints());
    for (std::size_t i = 0; i < 3; ++i) {
        fail(set, i, 3, t0);
    }
    ASSERT_EQ(set.pick(t0), std::nullopt);
    const std::optional<endpoint_ref> probe = set.pick(t0 + 10s);
    ASSERT_TRUE(probe);
    ASSERT_TRUE(probe->is_probe());
    ASSERT_EQ(probe->index(), 0u);
    set.record_success(*probe, t0 + 10s);
    EXPECT_EQ(set.state(0), health_state::healthy);
    // B and C get their probes; A, healthy again, takes every other turn as an ordinary endpoint.
    std::string order;
    for (int i = 0; i < 5; ++i) {
        const std::optional<endpoint_ref> picked = set.pick(t0 + 10s);
        ASSERT_TRUE(picked);
        order += picked->host().front();
        EXPECT_EQ(picked->is_probe(), picked->index() != 0);
    }
    EXPECT_EQ(order, "bcaaa");
}

TEST(upstream_set, no_endpoints_gives_nullopt)
{
    conf::upstream upstream = three_endpoints();
    upstream.endpoints.clear();
    upstream.srv = "_https._tcp.app.corp.example";
    upstream_set set(upstream);
    EXPECT_EQ(set.pick(t0), std::nullopt);
}

TEST(upstream_set, concurrent_picks_distribute_evenly_and_survive_reports)
{
    upstream_set set(three_endpoints());
    constexpr int threads = 4;
    constexpr int per_thread = 30000;
    std::array<std::atomic<int>, 3> counts{};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&] {
            for (int i = 0; i < per_thread; ++i) {
                const std::optional<endpoint_ref> picked = set.pick(t0);
                ASSERT_TRUE(picked);
                counts[picked->index()].fetch_add(1, std::memory_order_relaxed);
                set.record_success(*picked, t0);
            }
        });
    }
    for (std::thread& worker : workers) {
        worker.join();
    }
    const int total = threads * per_thread;
    EXPECT_EQ(counts[0] + counts[1] + counts[2], total);
    for (const std::atomic<int>& count : counts) {
        EXPECT_NEAR(count.load(), total / 3, 1);
    }
}

TEST(upstream_set, concurrent_picks_with_ejections_and_probes_never_crash)
{
    upstream_set set(three_endpoints());
    std::atomic<int> nothing{0};
    std::array<std::atomic<int>, 3> counts{};
    std::vector<std::thread> workers;
    for (int t = 0; t < 4; ++t) {
        workers.emplace_back([&, t] {
            for (int i = 0; i < 20000; ++i) {
                // Time runs forward a millisecond a step, so back-offs expire and probes happen.
                const time_point now = t0 + std::chrono::milliseconds(i);
                const std::optional<endpoint_ref> picked = set.pick(now);
                if (!picked) {
                    nothing.fetch_add(1, std::memory_order_relaxed);
                    continue;
                }
                counts[picked->index()].fetch_add(1, std::memory_order_relaxed);
                // Endpoint B always fails; A and C mostly succeed.
                if (picked->index() == 1 || (i + t) % 7 == 0) {
                    set.record_failure(*picked, now);
                } else {
                    set.record_success(*picked, now);
                }
            }
        });
    }
    for (std::thread& worker : workers) {
        worker.join();
    }
    EXPECT_EQ(counts[0] + counts[1] + counts[2] + nothing, 4 * 20000);
    // B is out after its first failures: a few picks racing the ejection, then one probe at
    // 10 s (its back-off then doubles past the 20 s this test spans).
    EXPECT_LT(counts[1], 100);
    EXPECT_GT(counts[0] + counts[2], 4 * 20000 / 2);
}

}  // namespace
}  // namespace danegate::routing
