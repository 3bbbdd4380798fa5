// The route table of one listener: its `routes:` (DESIGN §3), turned once into an immutable
// first-match list over SNI, Host and path prefix. Built when a configuration is loaded, then
// shared read-only between io threads (STYLE §2 rec. 2), so matching takes no lock.
#pragma once

#include "conf/config.hpp"
#include "routing/host_match.hpp"

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace danegate::routing {

/** What a request is routed on. Views only: nothing is copied on the request path. */
struct request_key {
    /** The TLS server_name, when the client sent one. */
    std::optional<std::string_view> sni{};
    /** The Host header as received: any case, optional ":port", optional trailing dot. */
    std::optional<std::string_view> host{};
    /**
     * The origin-form request-target ("/api/x?y=1"). Path prefixes apply to the part before the
     * first '?' only. Absent on TCP listeners.
     */
    std::optional<std::string_view> path{};
};

/** Where a matched request goes. */
struct route_target {
    std::size_t route_index = 0;     ///< position in the listener's routes: the `route` metrics label
    std::size_t upstream_index = 0;  ///< index into the upstream list given to the table
    std::string upstream{};          ///< the upstream's name, for logs
};

/** The routes of one listener, in configuration order. Immutable, so shareable across threads. */
class route_table {
public:
    /**
     * Builds the table for @p listener, resolving upstream names against @p upstreams (the
     * configuration's list, whose order defines route_target::upstream_index).
     * @pre every route names an upstream in @p upstreams. conf's validation reports unknown names
     *      with positions first, so a violation is a bug, not a user error.
     * @throws std::invalid_argument when the precondition is broken, naming FILE:LINE:COL, so a
     *      reload keeps the old configuration rather than serving a half-built one.
     */
    route_table(const conf::listener& listener, std::span<const conf::upstream> upstreams);

    /**
     * The first route, in configuration order, all of whose given fields match @p key. A field
     * the route gives but the key lacks (no SNI, no Host, no path) does not match. A route with
     * no fields matches everything.
     * @return the target, valid as long as this table; nullptr when no route matches.
     */
    const route_target* match(const request_key& key) const noexcept;

    /** The number of routes. */
    std::size_t size() const noexcept { return routes_.size(); }

    /** The listener's name. */
    const std::string& listener() const noexcept { return listener_; }

private:
    struct compiled_route {
        std::optional<host_pattern> host;
        std::optional<host_pattern> sni;
        std::optional<std::string> path_prefix;
        route_target target;
    };

    static bool matches(const compiled_route& route, const request_key& key) noexcept;

    std::string listener_;
    std::vector<compiled_route> routes_;
};

}  // namespace danegate::routing
