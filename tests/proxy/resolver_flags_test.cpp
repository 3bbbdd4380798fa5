// The command line's resolver flags: stubs merged per zone, malformed stubs refused, and no trust
// anchor at all refused (fail closed) unless the root anchor file is there.
#include "proxy/resolver_flags.hpp"

#include <gtest/gtest.h>

namespace danegate::proxy {
namespace {

TEST(resolver_flags, stubs_for_one_zone_are_merged)
{
    resolver_flags flags;
    flags.trust_anchor_files = {"/etc/danegate/corp.ds"};
    flags.stubs = {"corp.example=10.0.0.53@53", "Corp.Example.=10.0.0.54@53", "lab.example=10.1.0.53"};
    auto options = to_resolver_options(flags);
    ASSERT_TRUE(options) << options.error().message();
    ASSERT_EQ(options->stub_zones.size(), 2u);
    EXPECT_EQ(options->stub_zones[0].addrs, (std::vector<std::string>{"10.0.0.53@53", "10.0.0.54@53"}));
    EXPECT_EQ(options->trust_anchor_files, std::vector<std::string>{"/etc/danegate/corp.ds"});
}

TEST(resolver_flags, a_stub_without_zone_or_address_is_refused)
{
    for (const char* stub : {"corp.example", "=10.0.0.53", "corp.example="}) {
        resolver_flags flags;
        flags.trust_anchor_files = {"/etc/danegate/corp.ds"};
        flags.stubs = {stub};
        EXPECT_FALSE(to_resolver_options(flags)) << stub;
    }
}

TEST(resolver_flags, without_any_anchor_the_root_anchor_is_used_if_present)
{
    resolver_flags flags;
    flags.forwarders = {"127.0.0.1@53"};
    auto missing = to_resolver_options(flags, "/nonexistent/root.key");
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message().find("no trust anchor"), std::string::npos);

    auto present = to_resolver_options(flags, "/dev/null");
    ASSERT_TRUE(present);
    EXPECT_EQ(present->trust_anchor_files, std::vector<std::string>{"/dev/null"});

    flags.unbound_conf = "/etc/danegate/unbound.conf";
    auto from_conf = to_resolver_options(flags, "/nonexistent/root.key");
    ASSERT_TRUE(from_conf) << "an unbound.conf may carry the anchors itself";
    EXPECT_TRUE(from_conf->trust_anchor_files.empty());
}

}  // namespace
}  // namespace danegate::proxy
