#include "proxy/resolver_flags.hpp"

#include <algorithm>
#include <filesystem>

namespace danegate::proxy {

dane::result<dane::resolver_options> to_resolver_options(const resolver_flags& flags, const std::string& root_anchor)
{
    dane::resolver_options options;
    options.trust_anchor_files = flags.trust_anchor_files;
    options.forwarders = flags.forwarders;
    options.unbound_conf = flags.unbound_conf;
    for (const auto& stub : flags.stubs) {
        const auto equals = stub.find('=');
        if (equals == std::string::npos || equals == 0 || equals + 1 == stub.size()) {
            return dane::make_failure(dane::errc::resolver_setup,
                                      "--stub \"" + stub + "\": expected ZONE=ADDR@PORT");
        }
        const std::string zone = stub.substr(0, equals);
        const std::string addr = stub.substr(equals + 1);
        auto same_zone = [&zone](const auto& existing) {
            return dane::normalize_domain_name(existing.name) == dane::normalize_domain_name(zone);
        };
        if (auto it = std::find_if(options.stub_zones.begin(), options.stub_zones.end(), same_zone);
            it != options.stub_zones.end()) {
            it->addrs.push_back(addr);
        } else {
            options.stub_zones.push_back({zone, {addr}});
        }
    }
    if (options.trust_anchor_files.empty() && options.unbound_conf.empty()) {
        if (!std::filesystem::exists(root_anchor)) {
            return dane::make_failure(dane::errc::resolver_setup,
                                      "no trust anchor: give --trust-anchor-file or --unbound-conf (" + root_anchor +
                                          " is not there)");
        }
        options.trust_anchor_files.push_back(root_anchor);
    }
    return options;
}

}  // namespace danegate::proxy
