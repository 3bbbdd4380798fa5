// The /metrics families that describe the present rather than count events (issue 4 §1): open
// connections per listener, pooled connections per upstream and endpoint, each endpoint's last
// DNSSEC status and reason word, its matched TLSA record, the seconds until its TLSA answer leaves
// the cache, and the TLSA cache's own counters. Read from the running state at each scrape, so
// they are exact at that moment and describe the current configuration's upstreams only.
#pragma once

#include "proxy/metrics.hpp"

#include <chrono>
#include <vector>

namespace danegate::dane {
class tlsa_cache;
}

namespace danegate::proxy {

struct proxy_state;

/** Every scrape-time family, for metrics::render(). */
std::vector<snapshot_family> state_gauges(const proxy_state& state, const dane::tlsa_cache& cache,
                                          std::chrono::steady_clock::time_point now);

}  // namespace danegate::proxy
