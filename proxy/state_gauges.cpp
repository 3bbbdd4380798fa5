// See state_gauges.hpp.
#include "proxy/state_gauges.hpp"

#include "dane/tlsa_cache.hpp"
#include "proxy/proxy_state.hpp"

#include <algorithm>
#include <map>

namespace danegate::proxy {

namespace {

using labels = std::vector<std::pair<std::string, std::string>>;

snapshot_family family(std::string name, std::string help, snapshot_family::kind type = snapshot_family::kind::gauge)
{
    return snapshot_family{std::move(name), std::move(help), type, {}};
}

std::string endpoint_text(const std::string& host, std::uint16_t port)
{
    return host + ":" + std::to_string(port);
}

}  // namespace

std::vector<snapshot_family> state_gauges(const proxy_state& state, const dane::tlsa_cache& cache,
                                          std::chrono::steady_clock::time_point now)
{
    const auto current = state.current();
    std::vector<snapshot_family> out;

    auto connections = family("danegate_active_connections", "Open client connections, by listener");
    auto open = state.connections.by_listener();
    for (const auto& listener : current->config->listeners) {
        open.try_emplace(listener.name, 0);  // a listener with none reads 0, not absent
    }
    for (const auto& [listener, count] : open) {
        connections.samples.push_back({{{"listener", listener}}, static_cast<double>(count)});
    }
    out.push_back(std::move(connections));

    auto pools = family("danegate_upstream_pool_connections",
                        "Upstream connections by upstream and state: idle in the pool, or in use by a session");
    auto endpoint_pools = family("danegate_endpoint_pool_connections",
                                 "Upstream connections by upstream, endpoint and state (idle, active)");
    auto status = family("danegate_endpoint_status",
                         "1 for each endpoint's last attempt: its TLSA answer's DNSSEC state (RFC 4035) and "
                         "the reason word; absent until the endpoint is tried");
    auto matched = family("danegate_endpoint_matched_record",
                          "1 for the TLSA record that authenticated the endpoint's last new connection, "
                          "with the chain depth it matched at");
    auto expiry = family("danegate_endpoint_tlsa_expiry_seconds",
                         "Seconds until the endpoint's cached TLSA answer expires from the cache "
                         "(negative: expired, refreshed at the next use); absent when not cached");
    for (const auto& upstream : current->upstreams) {
        const auto& name = upstream->config.name;
        std::map<std::string, endpoint_pool_counts> by_endpoint;
        for (auto& counts : upstream->pool.counts()) {
            by_endpoint[endpoint_text(counts.host, counts.port)] = counts;
        }
        double idle = 0;
        double active = 0;
        for (const auto& endpoint : upstream->config.endpoints) {
            const auto where = endpoint_text(endpoint.host, endpoint.port);
            const auto counts = by_endpoint[where];
            idle += static_cast<double>(counts.idle);
            active += static_cast<double>(counts.in_use);
            endpoint_pools.samples.push_back({{{"upstream", name}, {"endpoint", where}, {"state", "idle"}},
                                              static_cast<double>(counts.idle)});
            endpoint_pools.samples.push_back({{{"upstream", name}, {"endpoint", where}, {"state", "active"}},
                                              static_cast<double>(counts.in_use)});
            if (const auto last = state.endpoints.find(name, where)) {
                status.samples.push_back(
                    {{{"upstream", name},
                      {"endpoint", where},
                      {"dnssec", last->dnssec ? std::string(dnssec_state(*last->dnssec)) : "indeterminate"},
                      {"reason", std::string(dane::to_string(last->verdict.outcome))}},
                     1});
                if (last->verdict.authenticated() && last->verdict.matched) {
                    const auto& record = *last->verdict.matched;
                    matched.samples.push_back({{{"upstream", name},
                                                {"endpoint", where},
                                                {"usage", std::to_string(record.usage)},
                                                {"selector", std::to_string(record.selector)},
                                                {"mtype", std::to_string(record.matching_type)},
                                                {"depth", std::to_string(last->verdict.depth)}},
                                               1});
                }
            }
            if (const auto expires = cache.expiry(endpoint.host, endpoint.port)) {
                expiry.samples.push_back({{{"upstream", name}, {"endpoint", where}},
                                          std::chrono::duration<double>(*expires - now).count()});
            }
        }
        pools.samples.push_back({{{"upstream", name}, {"state", "idle"}}, idle});
        pools.samples.push_back({{{"upstream", name}, {"state", "active"}}, active});
    }
    out.push_back(std::move(pools));
    out.push_back(std::move(endpoint_pools));
    out.push_back(std::move(status));
    out.push_back(std::move(matched));
    out.push_back(std::move(expiry));

    const auto stats = cache.stats();
    auto hits = family("danegate_tlsa_cache_hits_total", "TLSA cache lookups answered from the cache",
                       snapshot_family::kind::counter);
    hits.samples.push_back({{}, static_cast<double>(stats.hits)});
    auto misses = family("danegate_tlsa_cache_misses_total", "TLSA cache lookups that had to wait for DNS",
                         snapshot_family::kind::counter);
    misses.samples.push_back({{}, static_cast<double>(stats.misses)});
    auto refreshes = family("danegate_tlsa_cache_refreshes_total",
                            "TLSA lookups started ahead of expiry for names in use", snapshot_family::kind::counter);
    refreshes.samples.push_back({{}, static_cast<double>(stats.refreshes)});
    auto entries = family("danegate_tlsa_cache_entries", "TLSA answers held in the cache");
    entries.samples.push_back({{}, static_cast<double>(cache.size())});
    out.push_back(std::move(hits));
    out.push_back(std::move(misses));
    out.push_back(std::move(refreshes));
    out.push_back(std::move(entries));

    auto info = family("danegate_build_info", "1, with the running version as a label");
    info.samples.push_back({{{"version", DANEGATE_VERSION}}, 1});
    out.push_back(std::move(info));
    return out;
}

}  // namespace danegate::proxy
