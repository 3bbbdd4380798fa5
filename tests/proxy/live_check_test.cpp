// The warnings of `check --live` as a pure function of what a check found and the time.
#include "proxy/live_check.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace danegate::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using proxy::endpoint_check;

endpoint_check authenticated(std::size_t records)
{
    endpoint_check check;
    check.verdict.outcome = dane::reason::authenticated;
    check.records = records;
    return check;
}

TEST(live_warnings, expiries_within_seven_days_are_warned_of_and_later_ones_are_not)
{
    const auto now = std::chrono::system_clock::now();
    auto check = authenticated(2);
    check.certificate_expires = now + 6 * 24h;
    check.signatures_expire = now + 8 * 24h;
    auto warnings = proxy::live_warnings(check, now);
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_THAT(warnings[0], HasSubstr("certificate expires"));

    check.certificate_expires = now + 30 * 24h;
    check.signatures_expire = now + 2 * 24h;
    warnings = proxy::live_warnings(check, now);
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_THAT(warnings[0], HasSubstr("DNSSEC signatures expire"));

    check.signatures_expire = now + 20 * 24h;
    EXPECT_TRUE(proxy::live_warnings(check, now).empty());
}

TEST(live_warnings, a_single_published_record_would_not_survive_a_rollover)
{
    const auto now = std::chrono::system_clock::now();
    const auto warnings = proxy::live_warnings(authenticated(1), now);
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_THAT(warnings[0], HasSubstr("only one TLSA record"));
    EXPECT_TRUE(proxy::live_warnings(authenticated(2), now).empty()) << "old and new published: ready";
}

TEST(live_warnings, describe_puts_reason_record_and_warnings_on_one_line)
{
    auto check = authenticated(1);
    check.upstream = "app";
    check.endpoint = "app.example:443";
    check.verdict.matched = dane::tlsa_record{3, 1, 1, std::vector<std::uint8_t>(32, 0xab)};
    check.verdict.depth = 0;
    check.ttl = 300s;
    check.warnings = proxy::live_warnings(check, std::chrono::system_clock::now());
    const auto line = proxy::describe(check);
    EXPECT_THAT(line, HasSubstr("app app.example:443: authenticated record=\"3 1 1 abab"));
    EXPECT_THAT(line, HasSubstr("ttl=300s"));
    EXPECT_THAT(line, HasSubstr("; warning: only one TLSA record"));
    EXPECT_EQ(line.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace danegate::test
