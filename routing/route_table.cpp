// First-match routing over SNI, Host and path prefix (see route_table.hpp).
#include "routing/route_table.hpp"

#include <algorithm>
#include <stdexcept>

namespace danegate::routing {
namespace {

// The path without its query: "/api/x?y=1" routes as "/api/x". Prefixes are plain byte prefixes
// on the path as received (no percent-decoding, no dot-segment removal): routing must not be
// more clever than the upstream that finally interprets the path.
std::string_view path_only(std::string_view target) noexcept
{
    return target.substr(0, target.find('?'));
}

}  // namespace

route_table::route_table(const conf::listener& listener, std::span<const conf::upstream> upstreams)
    : listener_(listener.name)
{
    routes_.reserve(listener.routes.size());
    for (std::size_t i = 0; i < listener.routes.size(); ++i) {
        const conf::route& route = listener.routes[i];
        const auto upstream = std::find_if(upstreams.begin(), upstreams.end(),
                                           [&](const conf::upstream& u) { return u.name == route.upstream; });
        if (upstream == upstreams.end()) {
            throw std::invalid_argument(route.mark.to_string() + ": route names unknown upstream \""
                                        + route.upstream + "\"");
        }
        compiled_route compiled;
        // Patterns are normalised here, once, so match() only trims the request's own names.
        if (route.match.host) {
            compiled.host.emplace(*route.match.host);
        }
        if (route.match.sni) {
            compiled.sni.emplace(*route.match.sni);
        }
        compiled.path_prefix = route.match.path_prefix;
        compiled.target = route_target{
            .route_index = i,
            .upstream_index = static_cast<std::size_t>(upstream - upstreams.begin()),
            .upstream = route.upstream,
        };
        routes_.push_back(std::move(compiled));
    }
}

bool route_table::matches(const compiled_route& route, const request_key& key) noexcept
{
    if (route.sni && !(key.sni && route.sni->matches(*key.sni))) {
        return false;
    }
    if (route.host && !(key.host && route.host->matches(*key.host))) {
        return false;
    }
    if (route.path_prefix && !(key.path && path_only(*key.path).starts_with(*route.path_prefix))) {
        return false;
    }
    return true;
}

const route_target* route_table::match(const request_key& key) const noexcept
{
    // A linear scan: tables hold a handful of routes, and first-match order is the contract.
    for (const compiled_route& route : routes_) {
        if (matches(route, key)) {
            return &route.target;
        }
    }
    return nullptr;
}

}  // namespace danegate::routing
