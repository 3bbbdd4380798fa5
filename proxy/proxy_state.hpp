// What every session of a running server shares. Two lifetimes:
//   - a generation: the validated configuration and everything built from it (route tables,
//     upstream sets and pools, DANE policies, TLS contexts). A reload (DESIGN §2) builds a new one
//     and installs it atomically; a request holds the generation it started with until it ends,
//     so requests in flight finish on the old one while new requests use the new one.
//   - the proxy_state itself, for the life of the server: the current generation, the upstream
//     connector (and its TLSA cache and TLS sessions), the access log, the open connections.
// The parts sessions read are immutable or thread-safe themselves (upstream_set, upstream_pool,
// tlsa_cache, access_log), so sessions on different strands use them without locks (STYLE rec. 2).
#pragma once

#include "conf/config.hpp"
#include "dane/policy.hpp"
#include "proxy/access_log.hpp"
#include "proxy/endpoint_status.hpp"
#include "proxy/metrics.hpp"
#include "proxy/tls_server_context.hpp"
#include "proxy/upstream_connector.hpp"
#include "proxy/upstream_pool.hpp"
#include "routing/route_table.hpp"
#include "routing/upstream_set.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace danegate::proxy {

/** One configured upstream at run time. */
struct upstream_runtime {
    explicit upstream_runtime(const conf::upstream& upstream);

    /**
     * What the connector needs to reach @p endpoint under this upstream's policy and timeouts;
     * with @p reuse_idle, an idle connection of the pool may be handed out instead of a new one.
     */
    upstream_target target(const routing::endpoint_ref& endpoint, bool reuse_idle);

    const conf::upstream& config;
    routing::upstream_set endpoints;
    dane::dane_policy policy;
    upstream_pool pool;  ///< idle keep-alive connections (pool.max_idle, pool.idle_timeout)
};

/** One configured listener at run time. */
struct listener_runtime {
    const conf::listener& config;
    routing::route_table routes;
    std::unique_ptr<tls_server_context> tls;
};

/**
 * Open client connections, so that a drain can close the idle ones at once and wait for the
 * others. Thread-safe.
 */
class connection_tracker {
public:
    /** Called on drain, from the thread that drains: the session must post to its own strand. */
    using drain_function = std::function<void()>;

    /** A connection's membership: it leaves the tracker when the entry is destroyed. */
    class entry {
    public:
        entry() = default;
        entry(entry&& other) noexcept : tracker_(std::exchange(other.tracker_, nullptr)), id_(other.id_) {}
        entry& operator=(entry&& other) noexcept
        {
            std::swap(tracker_, other.tracker_);
            std::swap(id_, other.id_);
            return *this;
        }
        ~entry()
        {
            if (tracker_ != nullptr) {
                tracker_->remove(id_);
            }
        }

    private:
        friend class connection_tracker;
        entry(connection_tracker* tracker, std::uint64_t id) : tracker_(tracker), id_(id) {}
        connection_tracker* tracker_ = nullptr;
        std::uint64_t id_ = 0;
    };

    /** Registers a connection of @p listener for as long as the returned entry lives. */
    entry add(const std::string& listener, drain_function on_drain);
    std::size_t size() const;
    /** Open connections by listener name (listeners with none are absent). */
    std::map<std::string, std::size_t> by_listener() const;
    /** Calls every registered drain function once. */
    void drain_all();

private:
    void remove(std::uint64_t id);

    mutable std::mutex mutex_;
    std::uint64_t next_id_ = 1;
    struct connection {
        std::string listener;
        drain_function on_drain;
    };
    std::unordered_map<std::uint64_t, connection> connections_;
};

/** Everything built from one configuration; replaced as a whole by a reload. */
struct generation {
    std::shared_ptr<const conf::config> config;
    std::vector<std::unique_ptr<upstream_runtime>> upstreams;  ///< in config order (route_target::upstream_index)
    std::vector<std::shared_ptr<const listener_runtime>> listeners;  ///< in config order

    /** The runtime of the listener named @p name, or nullptr when this generation has none. */
    std::shared_ptr<const listener_runtime> listener(std::string_view name) const;
};

/**
 * Builds a generation from a validated configuration: TLS contexts (certificates are read here),
 * route tables, upstream runtimes. @return nullptr with @p error set when any part fails.
 */
std::shared_ptr<const generation> build_generation(std::shared_ptr<const conf::config> config, std::string& error);

struct proxy_state {
    /** The generation new connections and new requests use. Thread-safe. */
    std::shared_ptr<const generation> current() const
    {
        std::lock_guard lock(current_mutex_);
        return current_;
    }
    /** Makes @p next the current generation; the old one lives on while anything holds it. */
    void install(std::shared_ptr<const generation> next)
    {
        std::lock_guard lock(current_mutex_);
        current_.swap(next);  // the old one is released after the lock, by next's destructor
    }

    /**
     * Every answered request and every relayed TCP connection ends here: one access-log line and
     * its count in the metrics. @p route: the matched route's number, none when none was reached.
     */
    void report(const access_record& record, const std::string& listener, std::optional<std::size_t> route,
                request_counter& counter);

    std::unique_ptr<upstream_connector> connector;
    std::unique_ptr<access_log> access;
    connection_tracker connections;
    std::atomic<bool> draining{false};
    /**
     * The io threads of the server, fixed at start. With one, every handler runs on that thread
     * in turn, so connections need no strand of their own (a strand costs a lock and an executor
     * copy per handler); with more, each connection gets one (DESIGN §4).
     */
    unsigned io_threads = 1;
    metrics counters;
    endpoint_status_board endpoints;  ///< the last verdict per upstream endpoint (/readyz, /metrics)

private:
    // A mutex, not std::atomic<std::shared_ptr>: gcc 12's atomic shared_ptr hides its lock in
    // the pointer's low bit, which ThreadSanitizer cannot see, and it reported a race between
    // install() and current() that a plain mutex makes checkable. Uncontended: one lock per
    // request and per accept.
    mutable std::mutex current_mutex_;
    std::shared_ptr<const generation> current_;
};

}  // namespace danegate::proxy
