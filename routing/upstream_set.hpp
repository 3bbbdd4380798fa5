// One upstream's endpoints (DESIGN §3 `upstreams:`) and the choice among them: round robin that
// skips endpoints passive health has ejected (DESIGN §4), with 503 left to the caller when none
// is left. Shared by every io thread, so it is thread-safe; see upstream_set for how.
#pragma once

#include "conf/config.hpp"
#include "routing/endpoint_health.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace danegate::routing {

/**
 * One endpoint handed out by upstream_set::pick(), to be given back to record_success() or
 * record_failure() of the same set. Valid as long as that set.
 */
class endpoint_ref {
public:
    std::size_t index() const noexcept { return index_; }
    const std::string& host() const noexcept { return address_->host; }
    std::uint16_t port() const noexcept { return address_->port; }
    const conf::endpoint_address& address() const noexcept { return *address_; }
    /** Whether this is the one half-open probe of an ejected endpoint. */
    bool is_probe() const noexcept { return probe_; }

    friend bool operator==(const endpoint_ref& a, const endpoint_ref& b) noexcept
    {
        return a.address_ == b.address_ && a.probe_ == b.probe_;
    }

private:
    friend class upstream_set;
    endpoint_ref(std::size_t index, const conf::endpoint_address* address, bool probe) noexcept
        : index_(index), address_(address), probe_(probe)
    {
    }

    std::size_t index_;
    const conf::endpoint_address* address_;
    bool probe_;
};

/**
 * Round-robin selection over an upstream's endpoints with passive health.
 *
 * Thread safety: every member function may be called from any thread. While no endpoint is
 * ejected, pick() is one relaxed atomic increment and no lock, which is the steady state. Health
 * state (one endpoint_health per endpoint) lives behind one small mutex that results take, and
 * that pick() takes only while some endpoint is out; the scan under it is over a handful of
 * endpoints. A pick racing with an ejection may still return the endpoint being ejected, as a
 * request already in flight would; its result is then ignored as stale.
 */
class upstream_set {
public:
    using time_point = endpoint_health::time_point;

    /** The endpoints of @p upstream (empty for an SRV upstream until discovery fills one in). */
    explicit upstream_set(const conf::upstream& upstream);

    /** Endpoints found some other way (e.g. SRV discovery), with @p upstream's health settings. */
    upstream_set(const conf::upstream& upstream, std::vector<conf::endpoint_address> endpoints);

    upstream_set(const upstream_set&) = delete;
    upstream_set& operator=(const upstream_set&) = delete;

    /**
     * The next endpoint in round-robin order that health admits at @p now. An ejected endpoint
     * whose back-off has expired is returned to exactly one caller as a probe (is_probe()).
     * @return nullopt when every endpoint is ejected (or there are none): answer 503.
     */
    std::optional<endpoint_ref> pick(time_point now);

    /** The request sent to @p endpoint succeeded. @pre @p endpoint came from this set (asserted in debug builds). */
    void record_success(const endpoint_ref& endpoint, time_point now);

    /** The request sent to @p endpoint failed (connect, DANE, TLS or timeout) at @p now. @pre as above. */
    void record_failure(const endpoint_ref& endpoint, time_point now);

    /** The upstream's name. */
    const std::string& name() const noexcept { return name_; }
    /** The number of endpoints. */
    std::size_t size() const noexcept { return endpoints_.size(); }

    /** Endpoint @p index as an ordinary (non-probe) reference. @pre index < size(). */
    endpoint_ref at(std::size_t index) const noexcept;

    /** How many endpoints are ejected or being probed: for /metrics and /readyz. */
    std::size_t unhealthy() const noexcept { return unhealthy_.load(std::memory_order_acquire); }

    /** A snapshot of endpoint @p index's health, for /metrics and tests. @pre index < size(). */
    health_state state(std::size_t index) const;

private:
    std::optional<endpoint_ref> pick_locked(time_point now);

    std::string name_;
    std::vector<conf::endpoint_address> endpoints_;

    // Round-robin position. Only ever incremented (wrapping is harmless: it is used modulo size).
    std::atomic<std::size_t> next_{0};
    // How many endpoints are not healthy: zero lets pick() skip the mutex. Written under mutex_.
    std::atomic<std::size_t> unhealthy_{0};

    mutable std::mutex mutex_;
    std::vector<endpoint_health> health_;  // guarded by mutex_; one per endpoint
};

}  // namespace danegate::routing
