// metrics and the exposition it renders: exact counts per label set, one series per label set
// however often it is asked for, the session-side series memory, and snapshot families rendered
// with their type. The admin listener's end-to-end test scrapes the same text from a real proxy.
#include "proxy/endpoint_status.hpp"
#include "proxy/metrics.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

namespace danegate::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

/** The lines of @p text that start with @p prefix. */
std::vector<std::string> lines_with(const std::string& text, const std::string& prefix)
{
    std::vector<std::string> out;
    std::size_t at = 0;
    while (at < text.size()) {
        auto end = text.find('\n', at);
        if (end == std::string::npos) {
            end = text.size();
        }
        auto line = text.substr(at, end - at);
        if (line.rfind(prefix, 0) == 0) {
            out.push_back(line);
        }
        at = end + 1;
    }
    return out;
}

TEST(metrics, counts_each_request_once_under_its_listener_route_and_code)
{
    proxy::metrics m;
    proxy::request_counter session;
    for (int i = 0; i < 7; ++i) {
        session.count(m, "web", 0, 200, 1ms);
    }
    session.count(m, "web", 0, 502, 2ms);
    session.count(m, "web", std::nullopt, 404, 1ms);
    session.count(m, "web", 0, 200, 1ms);  // back to the first series
    const auto text = m.render({});
    EXPECT_THAT(text, HasSubstr("danegate_requests_total{code=\"200\",listener=\"web\",route=\"0\"} 8\n"));
    EXPECT_THAT(text, HasSubstr("danegate_requests_total{code=\"502\",listener=\"web\",route=\"0\"} 1\n"));
    EXPECT_THAT(text, HasSubstr("danegate_requests_total{code=\"404\",listener=\"web\",route=\"none\"} 1\n"));
    EXPECT_THAT(text, HasSubstr("danegate_request_duration_seconds_count{listener=\"web\"} 10\n"));
    EXPECT_EQ(lines_with(text, "danegate_requests_total{").size(), 3u) << "one series per label set";
}

TEST(metrics, two_sessions_share_one_series)
{
    proxy::metrics m;
    proxy::request_counter a;
    proxy::request_counter b;
    a.count(m, "web", 1, 200, 1ms);
    b.count(m, "web", 1, 200, 1ms);
    EXPECT_THAT(m.render({}), HasSubstr("danegate_requests_total{code=\"200\",listener=\"web\",route=\"1\"} 2\n"));
}

TEST(metrics, upstream_attempts_verdicts_and_reloads_are_counted_by_label)
{
    proxy::metrics m;
    m.count_upstream_connection("app", "a.example:443", proxy::connection_result::pooled);
    m.count_upstream_connection("app", "a.example:443", proxy::connection_result::pooled);
    m.count_upstream_connection("app", "a.example:443", proxy::connection_result::rejected);
    m.count_verification("app", dane::reason::no_tlsa);
    m.count_reload(false);
    m.observe_dns_lookup(3ms);
    const auto text = m.render({});
    EXPECT_THAT(text, HasSubstr("danegate_upstream_connections_total{endpoint=\"a.example:443\",result=\"pooled\","
                                "upstream=\"app\"} 2\n"));
    EXPECT_THAT(text, HasSubstr("result=\"rejected\",upstream=\"app\"} 1\n"));
    EXPECT_THAT(text, HasSubstr("danegate_dane_verifications_total{reason=\"no-tlsa\",upstream=\"app\"} 1\n"));
    EXPECT_THAT(text, HasSubstr("danegate_config_reloads_total{result=\"rejected\"} 1\n"));
    EXPECT_THAT(text, HasSubstr("danegate_config_reloads_total{result=\"accepted\"} 0\n"))
        << "both results exist from the start, so rate() works before the first reload";
    EXPECT_THAT(text, HasSubstr("danegate_dns_lookup_duration_seconds_count 1\n"));
    EXPECT_THAT(text, HasSubstr("danegate_dns_lookup_duration_seconds_bucket{le=\"0.005\"} 1\n"));
    EXPECT_THAT(text, HasSubstr("danegate_dns_lookup_duration_seconds_bucket{le=\"0.0025\"} 0\n"));
}

TEST(metrics, snapshot_families_are_rendered_with_their_type_and_escaped_labels)
{
    proxy::metrics m;
    proxy::snapshot_family gauge{"danegate_test_gauge", "a gauge", proxy::snapshot_family::kind::gauge, {}};
    gauge.samples.push_back({{{"name", "quote\" and \\ backslash"}}, 3});
    proxy::snapshot_family counter{"danegate_test_total", "a counter", proxy::snapshot_family::kind::counter, {}};
    counter.samples.push_back({{}, 5});
    const auto text = m.render({gauge, counter});
    EXPECT_THAT(text, HasSubstr("# TYPE danegate_test_gauge gauge\n"));
    EXPECT_THAT(text, HasSubstr("danegate_test_gauge{name=\"quote\\\" and \\\\ backslash\"} 3\n"));
    EXPECT_THAT(text, HasSubstr("# TYPE danegate_test_total counter\ndanegate_test_total 5\n"));
}

TEST(metrics, connection_results_have_one_word_each)
{
    using proxy::connection_result;
    std::set<std::string_view> words;
    for (auto r : {connection_result::handshake, connection_result::resumed, connection_result::pooled,
                   connection_result::rejected, connection_result::failed, connection_result::timeout}) {
        words.insert(proxy::to_string(r));
    }
    EXPECT_EQ(words.size(), 6u);
}

TEST(endpoint_status, dnssec_states_are_rfc_4035s_four)
{
    using dane::dns_status;
    EXPECT_EQ(proxy::dnssec_state(dns_status::secure_records), "secure");
    EXPECT_EQ(proxy::dnssec_state(dns_status::secure_nodata), "secure");
    EXPECT_EQ(proxy::dnssec_state(dns_status::secure_nxdomain), "secure");
    EXPECT_EQ(proxy::dnssec_state(dns_status::insecure), "insecure");
    EXPECT_EQ(proxy::dnssec_state(dns_status::bogus), "bogus");
    EXPECT_EQ(proxy::dnssec_state(dns_status::dns_error), "indeterminate");
}

proxy::endpoint_status status_of(dane::dns_status dnssec, dane::reason outcome)
{
    proxy::endpoint_status status;
    status.dnssec = dnssec;
    status.verdict.outcome = outcome;
    return status;
}

TEST(endpoint_status, the_board_keeps_the_last_status_per_upstream_and_endpoint)
{
    proxy::endpoint_status_board board;
    EXPECT_FALSE(board.find("app", "a.example:443"));
    board.record("app", "a.example:443", status_of(dane::dns_status::secure_records, dane::reason::authenticated));
    board.record("app", "a.example:443", status_of(dane::dns_status::bogus, dane::reason::bogus));
    board.record("other", "a.example:443", status_of(dane::dns_status::secure_records, dane::reason::authenticated));
    const auto last = board.find("app", "a.example:443");
    ASSERT_TRUE(last);
    EXPECT_EQ(last->verdict.outcome, dane::reason::bogus);
    EXPECT_EQ(board.all().size(), 2u) << "keyed by upstream and endpoint";
}

}  // namespace
}  // namespace danegate::test
