// Value syntaxes (conf/units.hpp): each table pairs accepted spellings with rejected ones and the
// phrase the rejection must contain.
#include "conf/units.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace danegate::conf {
namespace {

using namespace std::chrono_literals;

struct good_duration {
    const char* text;
    duration value;
};

TEST(units, parses_durations)
{
    for (const auto& c : {good_duration{"500ms", 500ms}, good_duration{"5s", 5s}, good_duration{"2m", 2min},
                          good_duration{"1h", 1h}, good_duration{"0s", 0s}, good_duration{"1m30s", 90s},
                          good_duration{"1h30m", 90min}, good_duration{"1s500ms", 1500ms}}) {
        auto parsed = parse_duration(c.text);
        ASSERT_TRUE(parsed) << c.text << ": " << parsed.error();
        EXPECT_EQ(*parsed, c.value) << c.text;
    }
}

struct bad_value {
    const char* text;
    const char* message;
};

TEST(units, rejects_bad_durations)
{
    for (const auto& c : {bad_value{"5", "needs a unit: write 5s or 5ms"}, bad_value{"0", "needs a unit"},
                          bad_value{"", "empty duration"}, bad_value{"5 s", "bad duration"},
                          bad_value{"5sec", "unknown unit 'sec'"}, bad_value{"-5s", "bad duration"},
                          bad_value{"1.5s", "bad duration"}, bad_value{"5d", "unknown unit 'd'"},
                          bad_value{"99999999999999999999h", "too large"}, bad_value{"s", "bad duration"}}) {
        auto parsed = parse_duration(c.text);
        ASSERT_FALSE(parsed) << c.text;
        EXPECT_NE(parsed.error().find(c.message), std::string::npos) << c.text << ": " << parsed.error();
    }
}

struct good_size {
    const char* text;
    std::size_t value;
};

TEST(units, parses_sizes_in_binary_and_decimal_units)
{
    for (const auto& c : {good_size{"512", 512}, good_size{"512B", 512}, good_size{"64KiB", 65536},
                          good_size{"1MiB", 1048576}, good_size{"1GiB", 1073741824}, good_size{"64KB", 64000},
                          good_size{"1MB", 1000000}, good_size{"2GB", 2000000000}, good_size{"0", 0}}) {
        auto parsed = parse_size(c.text);
        ASSERT_TRUE(parsed) << c.text << ": " << parsed.error();
        EXPECT_EQ(*parsed, c.value) << c.text;
    }
}

TEST(units, rejects_bad_sizes)
{
    for (const auto& c : {bad_value{"64k", "unknown unit 'k'"}, bad_value{"64kib", "unknown unit"},
                          bad_value{"KiB", "bad size"}, bad_value{"", "bad size"}, bad_value{"-1", "bad size"},
                          bad_value{"1.5MiB", "unknown unit '.5MiB'"},
                          bad_value{"99999999999999999999", "too large"},
                          bad_value{"17179869184GiB", "too large"}}) {
        auto parsed = parse_size(c.text);
        ASSERT_FALSE(parsed) << c.text;
        EXPECT_NE(parsed.error().find(c.message), std::string::npos) << c.text << ": " << parsed.error();
    }
}

struct good_address {
    const char* text;
    const char* host;
    std::uint16_t port;
};

TEST(units, parses_listen_addresses)
{
    for (const auto& c : {good_address{"0.0.0.0:8443", "0.0.0.0", 8443}, good_address{"[::]:8443", "::", 8443},
                          good_address{"[::1]:1", "::1", 1}, good_address{"localhost:65535", "localhost", 65535},
                          good_address{"LocalHost.:80", "localhost", 80}}) {
        auto parsed = parse_listen_address(c.text);
        ASSERT_TRUE(parsed) << c.text << ": " << parsed.error();
        EXPECT_EQ(parsed.value().host, c.host) << c.text;
        EXPECT_EQ(parsed.value().port, c.port) << c.text;
    }
}

TEST(units, rejects_bad_listen_addresses)
{
    for (const auto& c : {bad_value{"0.0.0.0:0", "port 0 is out of range 1..65535"},
                          bad_value{"0.0.0.0:70000", "port 70000 is out of range 1..65535"},
                          bad_value{"0.0.0.0", "missing port"}, bad_value{"0.0.0.0:", "missing port"},
                          bad_value{":8443", "missing host"}, bad_value{"::1:8443", "needs brackets"},
                          bad_value{"[::1]8443", "missing port"}, bad_value{"[::1:8443", "missing ']'"},
                          bad_value{"[1.2.3.4]:80", "not an IPv6 address"},
                          bad_value{"0.0.0.0:http", "port 'http' is not a number"},
                          bad_value{"bad_host:80", "contains '_'"}, bad_value{"", "empty address"}}) {
        auto parsed = parse_listen_address(c.text);
        ASSERT_FALSE(parsed) << c.text;
        EXPECT_NE(parsed.error().find(c.message), std::string::npos) << c.text << ": " << parsed.error();
    }
}

TEST(units, parses_endpoint_addresses_lower_case_without_trailing_dot)
{
    for (const auto& c : {good_address{"app1.corp.example:8443", "app1.corp.example", 8443},
                          good_address{"App1.Corp.Example.:443", "app1.corp.example", 443},
                          good_address{"app_1.svc.example:443", "app_1.svc.example", 443}}) {
        auto parsed = parse_endpoint_address(c.text);
        ASSERT_TRUE(parsed) << c.text << ": " << parsed.error();
        EXPECT_EQ(parsed.value().host, c.host) << c.text;
        EXPECT_EQ(parsed.value().port, c.port) << c.text;
    }
    for (const auto& c : {bad_value{"app.corp.example", "missing port"},
                          bad_value{"app..corp.example:443", "empty label"},
                          bad_value{"app.corp.example:0", "out of range"},
                          bad_value{"[2001:db8::1]:443", "DANE needs a host name"},
                          bad_value{"192.0.2.1:443", "DANE needs a host name"}}) {
        auto parsed = parse_endpoint_address(c.text);
        ASSERT_FALSE(parsed) << c.text;
        EXPECT_NE(parsed.error().find(c.message), std::string::npos) << c.text << ": " << parsed.error();
    }
}

TEST(units, parses_resolver_addresses_with_port_53_by_default)
{
    for (const auto& c : {good_address{"10.0.0.53@53", "10.0.0.53", 53}, good_address{"127.0.0.1@5353", "127.0.0.1", 5353},
                          good_address{"::1@5353", "::1", 5353}, good_address{"192.0.2.1", "192.0.2.1", 53}}) {
        auto parsed = parse_resolver_address(c.text);
        ASSERT_TRUE(parsed) << c.text << ": " << parsed.error();
        EXPECT_EQ(parsed.value().host, c.host) << c.text;
        EXPECT_EQ(parsed.value().port, c.port) << c.text;
    }
    for (const auto& c : {bad_value{"ns.corp.example@53", "not an IP address"},
                          bad_value{"10.0.0.53@0", "out of range"}, bad_value{"10.0.0.53@", "missing port"},
                          bad_value{"10.0.0.53:53", "not an IP address"}, bad_value{"[::1]@53", "without brackets"}}) {
        auto parsed = parse_resolver_address(c.text);
        ASSERT_FALSE(parsed) << c.text;
        EXPECT_NE(parsed.error().find(c.message), std::string::npos) << c.text << ": " << parsed.error();
    }
}

TEST(units, checks_domain_names)
{
    EXPECT_EQ(*parse_domain_name("Corp.Example."), "corp.example");
    EXPECT_EQ(*parse_domain_name("*.corp.example", {.allow_wildcard = true}), "*.corp.example");
    EXPECT_EQ(*parse_domain_name("_https._tcp.app.example", {.allow_underscore = true}), "_https._tcp.app.example");
    EXPECT_FALSE(parse_domain_name("*.corp.example"));
    EXPECT_FALSE(parse_domain_name("a.*.example", {.allow_wildcard = true}));
    EXPECT_FALSE(parse_domain_name("_https._tcp.app.example"));
    EXPECT_FALSE(parse_domain_name("-a.example"));
    EXPECT_FALSE(parse_domain_name("."));
    EXPECT_FALSE(parse_domain_name(std::string(64, 'a') + ".example"));
    EXPECT_TRUE(parse_domain_name(std::string(63, 'a') + ".example"));
    std::string long_name;
    for (int i = 0; i < 64; ++i) {
        long_name += "abc.";
    }
    EXPECT_FALSE(parse_domain_name(long_name));  // 255 characters without the trailing dot
}

}  // namespace
}  // namespace danegate::conf
