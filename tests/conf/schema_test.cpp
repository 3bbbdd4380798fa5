// The rule table's shared behaviour: "did you mean" suggestions for misspelt keys.
#include "conf/schema.hpp"

#include <gtest/gtest.h>

namespace danegate::conf {
namespace {

TEST(schema, suggests_the_closest_key)
{
    const std::vector<std::string_view> top{"threads", "resolver", "listeners", "upstreams", "admin", "log", "limits"};
    EXPECT_EQ(closest_word("listner", top), "listeners");
    EXPECT_EQ(closest_word("upstream", top), "upstreams");
    EXPECT_EQ(closest_word("thread", top), "threads");
    EXPECT_EQ(closest_word("limit", top), "limits");
    EXPECT_EQ(closest_word("lo", top), "log");
    EXPECT_EQ(closest_word("max_fails", {"max_failures", "retry_after"}), "max_failures");
}

TEST(schema, suggests_nothing_for_an_unrelated_word)
{
    const std::vector<std::string_view> top{"threads", "resolver", "listeners", "upstreams", "admin", "log", "limits"};
    EXPECT_EQ(closest_word("backend", top), "");
    EXPECT_EQ(closest_word("x", top), "");
    EXPECT_EQ(closest_word("routes", top), "");  // a listener key at the wrong level, not a typo
}

}  // namespace
}  // namespace danegate::conf
