// The counters and histograms of the admin listener's /metrics (DESIGN §5, issue 4 §1), kept in a
// prometheus-cpp registry for the life of the server: a reload does not reset them. Gauges that
// describe the present (connections, pools, endpoint status, cache) are not kept here: they are
// read from the running state at each scrape and passed to render() as snapshot families.
// prometheus-cpp stays inside metrics.cpp. Thread-safe.
#pragma once

#include "dane/reason.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace danegate::proxy {

/** How one attempt to obtain an upstream connection ended: the `result` label. */
enum class connection_result {
    handshake,  ///< a new connection, full handshake, authenticated
    resumed,    ///< a new connection that resumed a remembered TLS session (same RRset)
    pooled,     ///< an idle connection of the pool, authenticated when it was made
    rejected,   ///< DANE said no: the DNS answer or the handshake's verdict (the reason says why)
    failed,     ///< the TCP connection failed (refused, unreachable)
    timeout,    ///< connect_timeout passed during the TCP connect or the handshake
};

std::string_view to_string(connection_result result) noexcept;

/** One series of a family read at scrape time. */
struct snapshot_sample {
    std::vector<std::pair<std::string, std::string>> labels;
    double value = 0;
};

/** A counter or gauge family built from the running state for one scrape. */
struct snapshot_family {
    enum class kind { counter, gauge };
    std::string name;
    std::string help;
    kind type = kind::gauge;
    std::vector<snapshot_sample> samples;
};

class metrics {
public:
    metrics();
    ~metrics();
    metrics(const metrics&) = delete;
    metrics& operator=(const metrics&) = delete;

    /** The series of one (listener, route, status code); stable for the life of this object. */
    struct request_series;

    /**
     * The series requests of @p listener that matched route number @p route (none: no route was
     * reached) and were answered @p code count in. Takes a lock: a session keeps the series of its
     * last request and asks again only when the route or the code differs.
     */
    request_series& series(std::string_view listener, std::optional<std::size_t> route, unsigned code);

    /** Counts one request in danegate_requests_total and its duration in the histogram. */
    void count_request(request_series& series, std::chrono::steady_clock::duration duration);

    /** danegate_upstream_connections_total{upstream,endpoint,result}. */
    void count_upstream_connection(const std::string& upstream, std::string_view endpoint, connection_result result);

    /** danegate_dane_verifications_total{upstream,reason}. */
    void count_verification(const std::string& upstream, dane::reason reason);

    /** danegate_config_reloads_total{result="accepted"|"rejected"}. */
    void count_reload(bool accepted);

    /** danegate_dns_lookup_duration_seconds: one TLSA lookup (cache misses and refreshes). */
    void observe_dns_lookup(std::chrono::steady_clock::duration duration);

    /** The Prometheus text exposition (format 0.0.4) of the registry plus @p snapshot. */
    std::string render(const std::vector<snapshot_family>& snapshot) const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

/**
 * A session's memory of the series its last request counted in, so that a keep-alive run of
 * requests to one route with one status takes no lock. One per session; not thread-safe.
 */
class request_counter {
public:
    void count(metrics& counters, std::string_view listener, std::optional<std::size_t> route, unsigned code,
               std::chrono::steady_clock::duration duration);

private:
    metrics::request_series* series_ = nullptr;
    std::optional<std::size_t> route_;
    unsigned code_ = 0;
};

}  // namespace danegate::proxy
