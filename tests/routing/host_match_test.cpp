// Host patterns for routes: exact names and "*." wildcards, case and trailing dots ignored.
#include "routing/host_match.hpp"

#include <gtest/gtest.h>

namespace danegate::routing {
namespace {

TEST(host_pattern, exact_names_match_regardless_of_case_dot_and_port)
{
    host_pattern exact("App.Corp.Example");
    EXPECT_FALSE(exact.is_wildcard());
    EXPECT_TRUE(exact.matches("app.corp.example"));
    EXPECT_TRUE(exact.matches("APP.corp.example."));
    EXPECT_TRUE(exact.matches("app.corp.example:8443"));
    EXPECT_FALSE(exact.matches("www.app.corp.example"));
    EXPECT_FALSE(exact.matches("app.corp.example.org"));
    EXPECT_FALSE(exact.matches(""));
}

TEST(host_pattern, wildcards_match_one_or_more_labels_but_not_the_parent)
{
    host_pattern wildcard("*.corp.example");
    EXPECT_TRUE(wildcard.is_wildcard());
    EXPECT_TRUE(wildcard.matches("a.corp.example"));
    EXPECT_TRUE(wildcard.matches("a.b.corp.example"));
    EXPECT_FALSE(wildcard.matches("corp.example"));
    EXPECT_FALSE(wildcard.matches("xcorp.example"));
    EXPECT_FALSE(wildcard.matches("a.corp.example.org"));
}

TEST(normalize_host, strips_port_and_trailing_dot_and_lowers_case)
{
    EXPECT_EQ(normalize_host("Example.COM.:443"), "example.com");
    EXPECT_EQ(normalize_host("[::1]:443"), "[::1]:443");
    EXPECT_EQ(normalize_host("host"), "host");
}

}  // namespace
}  // namespace danegate::routing
