// Idle keep-alive upstream connections of one upstream (DESIGN §4), bounded by pool.max_idle and
// pool.idle_timeout. A connection is handed out again only while the TLSA RRset that
// authenticated it is still the current one (DESIGN §1): acquire() is given the digest of the
// current lookup and retires every idle connection of that endpoint authenticated under another.
// Thread-safe: sessions on different strands give and take connections; no operation is ever
// pending on a pooled connection, so closing one here races with nothing.
#pragma once

#include "proxy/upstream_connector.hpp"

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace danegate::proxy {

/** The connections of one endpoint, as the admin listener reports them. */
struct endpoint_pool_counts {
    std::string host;
    std::uint16_t port = 0;
    std::size_t idle = 0;     ///< held by the pool
    std::int64_t in_use = 0;  ///< held by sessions (requests, tunnels)
};

class upstream_pool {
public:
    using clock = std::chrono::steady_clock;

    upstream_pool(std::size_t max_idle, clock::duration idle_timeout);
    ~upstream_pool();
    upstream_pool(const upstream_pool&) = delete;
    upstream_pool& operator=(const upstream_pool&) = delete;

    /**
     * Counts @p connection as in use until it is released or destroyed. The connector marks each
     * new connection; acquire() marks the connections it hands out.
     */
    void mark_in_use(upstream_connection& connection);

    /**
     * Keeps @p connection for reuse (closing the oldest idle one when max_idle is reached).
     * @pre the last exchange on it completed and nothing unread is buffered.
     */
    void release(std::unique_ptr<upstream_connection> connection, clock::time_point now);

    /**
     * The most recently used idle connection to @p host:@p port that was authenticated under
     * @p current_digest, is younger than idle_timeout and still open (checked with a peek once it
     * has been idle for 50 ms); nullptr when there is none.
     * Connections of that endpoint that fail any of these are closed on the way.
     */
    std::unique_ptr<upstream_connection> acquire(const std::string& host, std::uint16_t port,
                                                 const std::array<std::uint8_t, 32>& current_digest,
                                                 clock::time_point now);

    /** Closes the connections idle for longer than idle_timeout. */
    void sweep(clock::time_point now);

    /** Idle connections held now. */
    std::size_t idle() const;
    /** Connections closed because their TLSA RRset was no longer the current one. */
    std::uint64_t retired() const;
    /** Idle and in-use connections per endpoint that ever had one, ordered by host and port. */
    std::vector<endpoint_pool_counts> counts() const;

private:
    struct idle_connection {
        std::unique_ptr<upstream_connection> connection;
        clock::time_point since;
        in_use_counter counter;  ///< its endpoint's in-use counter: acquire counts it again without a lookup
    };

    const std::size_t max_idle_;
    const clock::duration idle_timeout_;
    mutable std::mutex mutex_;
    std::deque<idle_connection> idle_;  // oldest first
    std::uint64_t retired_ = 0;
    // One counter per endpoint; few (the configured endpoints), and kept for the pool's life.
    std::map<std::pair<std::string, std::uint16_t>, in_use_counter> in_use_;

    in_use_counter& counter_for(const upstream_connection& connection);  // mutex_ held
};

/** Whether the peer has not closed @p connection's socket and sent nothing unexpected since. */
bool still_open(upstream_connection& connection);

}  // namespace danegate::proxy
