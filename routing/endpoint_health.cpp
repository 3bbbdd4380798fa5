// Passive ejection and half-open retry of one endpoint (see endpoint_health.hpp).
#include "routing/endpoint_health.hpp"

#include <algorithm>

namespace danegate::routing {

endpoint_health::endpoint_health(const conf::health_config& config) noexcept
    : max_failures_(config.max_failures),
      retry_after_(std::chrono::duration_cast<duration>(config.retry_after)),
      backoff_(retry_after_)
{
}

admission endpoint_health::admit(time_point now) noexcept
{
    switch (state_) {
    case health_state::healthy:
        return admission::admitted;
    case health_state::ejected:
    case health_state::probing:
        // A probing endpoint reaching its deadline lost its probe (the request was cancelled or
        // its result never reported); without this it would stay out for good.
        if (now < retry_at_) {
            return admission::refused;
        }
        state_ = health_state::probing;
        retry_at_ = now + retry_after_;
        return admission::probe;
    }
    return admission::refused;  // unreachable: every state is handled above
}

bool endpoint_health::admissible(time_point now) const noexcept
{
    return state_ == health_state::healthy || now >= retry_at_;
}

void endpoint_health::record_success(bool probe) noexcept
{
    switch (state_) {
    case health_state::healthy:
        failures_ = 0;
        return;
    case health_state::probing:
        if (probe) {
            state_ = health_state::healthy;
            failures_ = 0;
            backoff_ = retry_after_;
        }
        return;
    case health_state::ejected:
        return;  // stale: admitted before the ejection
    }
}

void endpoint_health::record_failure(bool probe, time_point now) noexcept
{
    switch (state_) {
    case health_state::healthy:
        if (max_failures_ == 0) {
            return;
        }
        if (++failures_ >= max_failures_) {
            eject(now);
        }
        return;
    case health_state::probing:
        if (probe) {
            // Each failed probe doubles the wait, so a dead endpoint costs one request per
            // max_backoff_factor x retry_after at worst, not one per retry_after.
            backoff_ = std::min(backoff_ * 2, retry_after_ * max_backoff_factor);
            eject(now);
        }
        return;
    case health_state::ejected:
        return;  // stale: admitted before the ejection
    }
}

void endpoint_health::eject(time_point now) noexcept
{
    state_ = health_state::ejected;
    failures_ = 0;
    retry_at_ = now + backoff_;
}

}  // namespace danegate::routing
