// Passive health of one endpoint on a made-up clock: ejection after consecutive failures, the
// half-open probe, back-off doubling up to its cap, stale results, and a lost probe.
#include "routing/endpoint_health.hpp"

#include <gtest/gtest.h>

namespace danegate::routing {
namespace {

using namespace std::chrono_literals;
using time_point = endpoint_health::time_point;

const time_point t0 = time_point{} + 1000h;

conf::health_config three_failures_ten_seconds()
{
    conf::health_config config;
    config.max_failures = 3;
    config.retry_after = 10s;
    return config;
}

TEST(endpoint_health, ejected_after_max_consecutive_failures)
{
    endpoint_health health(three_failures_ten_seconds());
    health.record_failure(false, t0);
    health.record_failure(false, t0);
    EXPECT_EQ(health.state(), health_state::healthy);
    EXPECT_EQ(health.admit(t0), admission::admitted);
    health.record_failure(false, t0);
    EXPECT_EQ(health.state(), health_state::ejected);
    EXPECT_EQ(health.admit(t0), admission::refused);
    EXPECT_EQ(health.admit(t0 + 9999ms), admission::refused);
    EXPECT_EQ(health.retry_at(), t0 + 10s);
}

TEST(endpoint_health, a_success_resets_the_consecutive_count)
{
    endpoint_health health(three_failures_ten_seconds());
    health.record_failure(false, t0);
    health.record_failure(false, t0);
    health.record_success(false);
    EXPECT_EQ(health.consecutive_failures(), 0u);
    health.record_failure(false, t0);
    health.record_failure(false, t0);
    EXPECT_EQ(health.state(), health_state::healthy);
    health.record_failure(false, t0);
    EXPECT_EQ(health.state(), health_state::ejected);
}

TEST(endpoint_health, one_probe_after_retry_after_and_success_restores)
{
    endpoint_health health(three_failures_ten_seconds());
    for (int i = 0; i < 3; ++i) {
        health.record_failure(false, t0);
    }
    EXPECT_FALSE(health.admissible(t0 + 9s));
    EXPECT_TRUE(health.admissible(t0 + 10s));
    EXPECT_EQ(health.admit(t0 + 10s), admission::probe);
    EXPECT_EQ(health.state(), health_state::probing);
    EXPECT_EQ(health.admit(t0 + 10s), admission::refused);
    EXPECT_EQ(health.admit(t0 + 15s), admission::refused);
    health.record_success(true);
    EXPECT_EQ(health.state(), health_state::healthy);
    EXPECT_EQ(health.admit(t0 + 15s), admission::admitted);
    EXPECT_EQ(health.backoff(), 10s);
}

TEST(endpoint_health, failed_probes_double_the_backoff_up_to_eight_times)
{
    endpoint_health health(three_failures_ten_seconds());
    time_point now = t0;
    for (int i = 0; i < 3; ++i) {
        health.record_failure(false, now);
    }
    std::chrono::seconds expected = 10s;
    for (auto next : {20s, 40s, 80s, 80s, 80s}) {
        now += expected;
        ASSERT_EQ(health.admit(now), admission::probe);
        health.record_failure(true, now);
        EXPECT_EQ(health.state(), health_state::ejected);
        EXPECT_EQ(health.backoff(), next);
        EXPECT_EQ(health.retry_at(), now + next);
        EXPECT_EQ(health.admit(now + next - 1ms), admission::refused);
        expected = next;
    }
    // A successful probe forgets the back-off.
    now += expected;
    ASSERT_EQ(health.admit(now), admission::probe);
    health.record_success(true);
    EXPECT_EQ(health.backoff(), 10s);
    for (int i = 0; i < 3; ++i) {
        health.record_failure(false, now);
    }
    EXPECT_EQ(health.retry_at(), now + 10s);
}

TEST(endpoint_health, stale_results_do_not_decide_while_ejected_or_probing)
{
    endpoint_health health(three_failures_ten_seconds());
    for (int i = 0; i < 3; ++i) {
        health.record_failure(false, t0);
    }
    health.record_success(false);  // admitted before the ejection
    EXPECT_EQ(health.state(), health_state::ejected);
    health.record_failure(false, t0 + 5s);
    EXPECT_EQ(health.retry_at(), t0 + 10s);

    ASSERT_EQ(health.admit(t0 + 10s), admission::probe);
    health.record_success(false);
    health.record_failure(false, t0 + 10s);
    EXPECT_EQ(health.state(), health_state::probing);
    health.record_success(true);
    EXPECT_EQ(health.state(), health_state::healthy);
}

TEST(endpoint_health, a_lost_probe_is_replaced_after_retry_after)
{
    endpoint_health health(three_failures_ten_seconds());
    for (int i = 0; i < 3; ++i) {
        health.record_failure(false, t0);
    }
    ASSERT_EQ(health.admit(t0 + 10s), admission::probe);
    EXPECT_EQ(health.admit(t0 + 19s), admission::refused);
    EXPECT_EQ(health.admit(t0 + 20s), admission::probe);
    EXPECT_EQ(health.admit(t0 + 20s), admission::refused);
}

TEST(endpoint_health, zero_max_failures_never_ejects)
{
    conf::health_config config = three_failures_ten_seconds();
    config.max_failures = 0;
    endpoint_health health(config);
    for (int i = 0; i < 100; ++i) {
        health.record_failure(false, t0);
    }
    EXPECT_EQ(health.state(), health_state::healthy);
    EXPECT_EQ(health.admit(t0), admission::admitted);
}

TEST(endpoint_health, one_failure_ejects_when_max_failures_is_one)
{
    conf::health_config config = three_failures_ten_seconds();
    config.max_failures = 1;
    endpoint_health health(config);
    health.record_failure(false, t0);
    EXPECT_EQ(health.state(), health_state::ejected);
}

}  // namespace
}  // namespace danegate::routing
