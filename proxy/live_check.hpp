// Live self-checks (issue 4 §3): for every upstream endpoint of a configuration, resolve its TLSA
// RRset, connect and authenticate exactly as the proxy would (the same prepare/authenticate pair
// of dane/authenticate.hpp, through dane::async_probe), and report what an operator needs before
// something breaks: the reason word, the matched record, the live key's SPKI digest, the TTL left,
// and warnings when the certificate or the zone's signatures expire within 7 days or when only one
// TLSA record is published (a key rollover would then break the upstream).
#pragma once

#include "conf/config.hpp"
#include "dane/authenticate.hpp"
#include "dane/lookup_result.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace danegate::dane {
class unbound_resolver;
}

namespace danegate::proxy {

/** What checking one endpoint found. */
struct endpoint_check {
    std::string upstream;
    std::string endpoint;  ///< "host:port" as configured
    /** What DNSSEC said about the TLSA RRset; nullopt when no lookup was made (SRV). */
    std::optional<dane::dns_status> dnssec;
    dane::verdict verdict;
    std::string spki_sha256;  ///< of the presented leaf (hex), when a handshake happened
    std::chrono::seconds ttl{0};
    std::size_t records = 0;  ///< TLSA records published (secure answers only)
    std::optional<std::chrono::system_clock::time_point> certificate_expires;
    std::optional<std::chrono::system_clock::time_point> signatures_expire;
    std::vector<std::string> warnings;  ///< live_warnings() at the time of the check
};

/** How far ahead an expiry is worth a warning. */
inline constexpr std::chrono::hours warn_ahead{7 * 24};

/** The warnings for @p check as of @p now (see the file comment). */
std::vector<std::string> live_warnings(const endpoint_check& check, std::chrono::system_clock::time_point now);

/** One line: "UPSTREAM ENDPOINT: REASON record=... depth=... spki=... ttl=...s[; warning: ...]". */
std::string describe(const endpoint_check& check);

/**
 * Checks every endpoint of @p config's upstreams (in configuration order) on @p io with
 * @p resolver, and calls @p done once with every result. Upstreams discovered by SRV are
 * reported as not checked (`dns-error` with that detail).
 * @pre @p resolver and @p io outlive the check; @p config too.
 */
void async_live_check(boost::asio::io_context& io, dane::unbound_resolver& resolver, const conf::config& config,
                      std::function<void(std::vector<endpoint_check>)> done);

/**
 * `danegate check --live`: runs the checks on its own io_context and resolver and prints one
 * line per endpoint to @p out. @return 0 when every endpoint is `authenticated`, 1 otherwise, 2
 * when the resolver cannot be set up.
 */
int run_live_check(const conf::config& config, std::ostream& out, std::ostream& err);

}  // namespace danegate::proxy
