// conf -> dane translation; see build_from_config.hpp.
#include "proxy/build_from_config.hpp"

#include <chrono>

namespace danegate::proxy {

namespace {

std::chrono::seconds whole_seconds(conf::duration d)
{
    // DNS TTLs count seconds; round up so that "500ms" still caches for a moment.
    return std::chrono::ceil<std::chrono::seconds>(d);
}

}  // namespace

dane::resolver_options to_resolver_options(const conf::resolver_config& resolver)
{
    dane::resolver_options options;
    if (resolver.trust_anchor_file) {
        options.trust_anchor_files.push_back(*resolver.trust_anchor_file);
    }
    options.trust_anchors = resolver.trust_anchors;
    for (const auto& stub : resolver.stub_zones) {
        options.stub_zones.push_back({stub.name, stub.addrs});
    }
    options.forwarders = resolver.forwarders;
    options.unbound_conf = resolver.unbound_conf.value_or("");
    options.timeout = resolver.timeout;
    return options;
}

dane::cache_options to_cache_options(const conf::resolver_config& resolver)
{
    dane::cache_options options;
    options.negative_ttl = whole_seconds(resolver.negative_ttl);
    options.error_ttl = whole_seconds(resolver.error_ttl);
    return options;
}

dane::dane_policy to_dane_policy(const conf::upstream& upstream)
{
    dane::dane_policy policy;
    policy.allow_dane_ta = false;
    policy.allow_dane_ee = false;
    for (const auto usage : upstream.dane.usages) {
        switch (usage) {
        case conf::dane_usage::dane_ta: policy.allow_dane_ta = true; break;
        case conf::dane_usage::dane_ee: policy.allow_dane_ee = true; break;
        }
    }
    policy.ee_name_checks = upstream.dane.ee_name_checks;
    switch (upstream.sni.kind) {
    case conf::sni_kind::host: policy.sni = dane::sni_mode::base_domain; break;
    case conf::sni_kind::none: policy.sni = dane::sni_mode::none; break;
    case conf::sni_kind::fixed:
        policy.sni = dane::sni_mode::fixed;
        policy.fixed_sni = upstream.sni.name;
        break;
    }
    return policy;
}

}  // namespace danegate::proxy
