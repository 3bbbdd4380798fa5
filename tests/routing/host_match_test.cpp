// Host patterns for routes: exact names and "*." wildcards, case, ports and trailing dots ignored.
#include "routing/host_match.hpp"

#include <gtest/gtest.h>

namespace danegate::routing {
namespace {

TEST(host_pattern, exact_names_match_regardless_of_case_dot_and_port)
{
    host_pattern exact("App.Corp.Example.");
    EXPECT_FALSE(exact.is_wildcard());
    EXPECT_EQ(exact.to_string(), "app.corp.example");
    EXPECT_TRUE(exact.matches("app.corp.example"));
    EXPECT_TRUE(exact.matches("APP.corp.example."));
    EXPECT_TRUE(exact.matches("app.corp.example:8443"));
    EXPECT_TRUE(exact.matches("app.corp.example.:8443"));
    EXPECT_FALSE(exact.matches("www.app.corp.example"));
    EXPECT_FALSE(exact.matches("app.corp.example.org"));
    EXPECT_FALSE(exact.matches("app.corp.exampl"));
    EXPECT_FALSE(exact.matches(""));
}

TEST(host_pattern, wildcards_match_one_or_more_labels_but_not_the_parent)
{
    host_pattern wildcard("*.Corp.Example");
    EXPECT_TRUE(wildcard.is_wildcard());
    EXPECT_EQ(wildcard.to_string(), "*.corp.example");
    EXPECT_TRUE(wildcard.matches("a.corp.example"));
    EXPECT_TRUE(wildcard.matches("A.B.CORP.example.:443"));
    EXPECT_FALSE(wildcard.matches("corp.example"));
    EXPECT_FALSE(wildcard.matches(".corp.example"));
    EXPECT_FALSE(wildcard.matches("..corp.example"));  // an empty label is no label
    EXPECT_FALSE(wildcard.matches("xcorp.example"));
    EXPECT_FALSE(wildcard.matches("a.corp.example.org"));
}

TEST(host_pattern, ipv6_literals_match_with_and_without_port)
{
    host_pattern literal("[::1]");
    EXPECT_TRUE(literal.matches("[::1]"));
    EXPECT_TRUE(literal.matches("[::1]:8443"));
    EXPECT_FALSE(literal.matches("[::2]:8443"));
    EXPECT_FALSE(literal.matches("::1"));
}

TEST(bare_host, strips_port_and_trailing_dot_but_keeps_case)
{
    EXPECT_EQ(bare_host("Example.COM.:443"), "Example.COM");
    EXPECT_EQ(bare_host("example.com:"), "example.com");
    EXPECT_EQ(bare_host("[::1]:8443"), "[::1]");
    EXPECT_EQ(bare_host("[::1]"), "[::1]");
    EXPECT_EQ(bare_host("host"), "host");
}

TEST(bare_host, leaves_malformed_hosts_whole_so_they_match_nothing)
{
    EXPECT_EQ(bare_host("::1"), "::1");                 // IPv6 needs brackets in a Host header
    EXPECT_EQ(bare_host("host:http"), "host:http");     // a port is digits
    EXPECT_EQ(bare_host("[::1]x"), "[::1]x");
    EXPECT_EQ(bare_host("[::1"), "[::1");
    EXPECT_FALSE(host_pattern("host").matches("host:http"));
}

TEST(normalize_host, strips_port_and_trailing_dot_and_lowers_case)
{
    EXPECT_EQ(normalize_host("Example.COM.:443"), "example.com");
    EXPECT_EQ(normalize_host("[::1]:443"), "[::1]");
    EXPECT_EQ(normalize_host("[FE80::1]"), "[fe80::1]");
    EXPECT_EQ(normalize_host("host"), "host");
}

}  // namespace
}  // namespace danegate::routing
