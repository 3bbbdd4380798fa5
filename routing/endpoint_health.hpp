// Passive health of one upstream endpoint (DESIGN §4; nginx max_fails/fail_timeout, Envoy outlier
// detection): ejected after `health.max_failures` consecutive failures, and let back in through a
// single probe request once its back-off expires ("half-open"). Pure state on an injected clock:
// it never reads the time and opens no sockets, so tests drive it with made-up time points.
//
// The state machine:
//
//   healthy --max_failures consecutive failures--> ejected (until now + back-off)
//   ejected --admit() at or after the deadline--> probing (exactly one request admitted)
//   probing --probe succeeds--> healthy (failure count and back-off reset)
//   probing --probe fails--> ejected, back-off doubled, capped at max_backoff_factor x retry_after
//   probing --no probe result by now + retry_after--> the next admit() is another probe
//
// Results of ordinary (non-probe) requests are only counted while healthy. Once the endpoint is
// ejected they are stale (the request was admitted before the ejection) and neither shorten nor
// lengthen the back-off; only the probe decides.
//
// Not thread-safe: upstream_set guards each instance with its mutex.
#pragma once

#include "conf/config.hpp"

#include <chrono>

namespace danegate::routing {

/** How an endpoint answered admit(). */
enum class admission {
    refused,   ///< ejected, or a probe is already in flight
    admitted,  ///< healthy: an ordinary request
    probe,     ///< the one half-open probe: report its result with `probe = true`
};

/** Where an endpoint stands. */
enum class health_state { healthy, ejected, probing };

/** The health of one endpoint; see the state machine above. */
class endpoint_health {
public:
    using clock = std::chrono::steady_clock;
    using time_point = clock::time_point;
    using duration = clock::duration;

    /** The back-off doubles after each failed probe up to this many times retry_after. */
    static constexpr int max_backoff_factor = 8;

    /**
     * @param config max_failures 0 disables ejection (as nginx's max_fails=0 does);
     *        retry_after is the first back-off.
     */
    explicit endpoint_health(const conf::health_config& config) noexcept;

    /**
     * Whether a request may go to this endpoint at @p now. Admitting a probe is a state change:
     * a second call before the probe's result (and before now + retry_after) is refused.
     */
    admission admit(time_point now) noexcept;

    /** Whether admit(now) would admit anything, without claiming a probe. */
    bool admissible(time_point now) const noexcept;

    /** A request admitted earlier succeeded. @param probe whether it was admitted as the probe. */
    void record_success(bool probe) noexcept;

    /** A request admitted earlier failed at @p now. @param probe as for record_success. */
    void record_failure(bool probe, time_point now) noexcept;

    /** Where the endpoint stands now (a back-off that has expired still reads `ejected`). */
    health_state state() const noexcept { return state_; }
    /** Consecutive failures while healthy (0 once ejected). */
    unsigned consecutive_failures() const noexcept { return failures_; }
    /** The back-off the next (or current) ejection uses. */
    duration backoff() const noexcept { return backoff_; }
    /** When ejected: when the probe may go; when probing: when another probe may go. */
    time_point retry_at() const noexcept { return retry_at_; }

private:
    void eject(time_point now) noexcept;

    unsigned max_failures_;
    duration retry_after_;
    duration backoff_;
    health_state state_ = health_state::healthy;
    unsigned failures_ = 0;
    time_point retry_at_{};
};

}  // namespace danegate::routing
