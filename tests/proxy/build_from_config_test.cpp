// The conf -> dane translation: every configuration word lands on the dane/ setting it names.
#include "proxy/build_from_config.hpp"

#include <gtest/gtest.h>

namespace danegate::proxy {
namespace {

using namespace std::chrono_literals;

TEST(build_from_config, usages_become_the_policy_s_allowed_usages)
{
    conf::upstream upstream;
    upstream.dane.usages = {conf::dane_usage::dane_ee};
    auto ee_only = to_dane_policy(upstream);
    EXPECT_TRUE(ee_only.allow_dane_ee);
    EXPECT_FALSE(ee_only.allow_dane_ta);

    upstream.dane.usages = {conf::dane_usage::dane_ta};
    auto ta_only = to_dane_policy(upstream);
    EXPECT_TRUE(ta_only.allow_dane_ta);
    EXPECT_FALSE(ta_only.allow_dane_ee);

    auto both = to_dane_policy(conf::upstream{});
    EXPECT_TRUE(both.allow_dane_ta);
    EXPECT_TRUE(both.allow_dane_ee);
    EXPECT_FALSE(both.ee_name_checks) << "RFC 7671 §5.1: DANE-EE ignores names by default";
}

TEST(build_from_config, sni_words_map_to_sni_modes)
{
    conf::upstream upstream;
    EXPECT_EQ(to_dane_policy(upstream).sni, dane::sni_mode::base_domain);
    upstream.sni.kind = conf::sni_kind::none;
    EXPECT_EQ(to_dane_policy(upstream).sni, dane::sni_mode::none);
    upstream.sni.kind = conf::sni_kind::fixed;
    upstream.sni.name = "backend.example";
    auto fixed = to_dane_policy(upstream);
    EXPECT_EQ(fixed.sni, dane::sni_mode::fixed);
    EXPECT_EQ(fixed.fixed_sni, "backend.example");
    upstream.dane.ee_name_checks = true;
    EXPECT_TRUE(to_dane_policy(upstream).ee_name_checks);
}

TEST(build_from_config, resolver_settings_carry_over)
{
    conf::resolver_config resolver;
    resolver.trust_anchor_file = "/etc/danegate/root.key";
    resolver.trust_anchors = {"corp.example. DS 1 13 2 AB"};
    resolver.stub_zones = {{"corp.example.", {"10.0.0.53@53"}, {}}};
    resolver.forwarders = {"127.0.0.1@5353"};
    resolver.timeout = 2s;
    resolver.negative_ttl = 1500ms;
    resolver.error_ttl = 3s;
    auto options = to_resolver_options(resolver);
    EXPECT_EQ(options.trust_anchor_files, std::vector<std::string>{"/etc/danegate/root.key"});
    EXPECT_EQ(options.trust_anchors, resolver.trust_anchors);
    ASSERT_EQ(options.stub_zones.size(), 1u);
    EXPECT_EQ(options.stub_zones[0].name, "corp.example.");
    EXPECT_EQ(options.stub_zones[0].addrs, std::vector<std::string>{"10.0.0.53@53"});
    EXPECT_EQ(options.forwarders, resolver.forwarders);
    EXPECT_EQ(options.unbound_conf, "");
    EXPECT_EQ(options.timeout, std::chrono::milliseconds{2000});
    auto cache = to_cache_options(resolver);
    EXPECT_EQ(cache.negative_ttl, std::chrono::seconds{2}) << "rounded up to whole seconds";
    EXPECT_EQ(cache.error_ttl, std::chrono::seconds{3});
}

}  // namespace
}  // namespace danegate::proxy
