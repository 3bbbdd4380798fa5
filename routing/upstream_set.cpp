// Round robin over healthy endpoints, with passive health (see upstream_set.hpp).
#include "routing/upstream_set.hpp"

#include <cassert>

namespace danegate::routing {

upstream_set::upstream_set(const conf::upstream& upstream)
    : upstream_set(upstream, upstream.endpoints)
{
}

upstream_set::upstream_set(const conf::upstream& upstream, std::vector<conf::endpoint_address> endpoints)
    : name_(upstream.name),
      endpoints_(std::move(endpoints)),
      health_(endpoints_.size(), endpoint_health(upstream.health))
{
}

std::optional<endpoint_ref> upstream_set::pick(time_point now)
{
    const std::size_t count = endpoints_.size();
    if (count == 0) {
        return std::nullopt;
    }
    // Fast path: all healthy, so plain round robin needs no health state. acquire pairs with
    // the release stores below, though a stale zero is harmless (see the class comment).
    if (unhealthy_.load(std::memory_order_acquire) == 0) {
        const std::size_t index = next_.fetch_add(1, std::memory_order_relaxed) % count;
        return endpoint_ref(index, &endpoints_[index], false);
    }
    std::lock_guard lock(mutex_);
    return pick_locked(now);
}

std::optional<endpoint_ref> upstream_set::pick_locked(time_point now)
{
    const std::size_t count = endpoints_.size();
    const std::size_t start = next_.load(std::memory_order_relaxed);
    for (std::size_t step = 0; step < count; ++step) {
        const std::size_t index = (start + step) % count;
        const admission admitted = health_[index].admit(now);
        if (admitted == admission::refused) {
            continue;
        }
        // Continue after the chosen endpoint rather than after `start`: with B ejected, A B C
        // then goes A C A C, instead of giving C both B's turn and its own.
        next_.store(start + step + 1, std::memory_order_relaxed);
        return endpoint_ref(index, &endpoints_[index], admitted == admission::probe);
    }
    return std::nullopt;
}

// Success needs no time today; the parameter keeps both reports alike for the caller.
void upstream_set::record_success(const endpoint_ref& endpoint, [[maybe_unused]] time_point now)
{
    assert(endpoint.index() < endpoints_.size() && &endpoints_[endpoint.index()] == &endpoint.address());
    std::lock_guard lock(mutex_);
    endpoint_health& health = health_[endpoint.index()];
    const bool was_healthy = health.state() == health_state::healthy;
    health.record_success(endpoint.is_probe());
    if (!was_healthy && health.state() == health_state::healthy) {
        unhealthy_.fetch_sub(1, std::memory_order_release);
    }
}

void upstream_set::record_failure(const endpoint_ref& endpoint, time_point now)
{
    assert(endpoint.index() < endpoints_.size() && &endpoints_[endpoint.index()] == &endpoint.address());
    std::lock_guard lock(mutex_);
    endpoint_health& health = health_[endpoint.index()];
    const bool was_healthy = health.state() == health_state::healthy;
    health.record_failure(endpoint.is_probe(), now);
    if (was_healthy && health.state() != health_state::healthy) {
        unhealthy_.fetch_add(1, std::memory_order_release);
    }
}

endpoint_ref upstream_set::at(std::size_t index) const noexcept
{
    assert(index < endpoints_.size());
    return endpoint_ref(index, &endpoints_[index], false);
}

health_state upstream_set::state(std::size_t index) const
{
    assert(index < endpoints_.size());
    std::lock_guard lock(mutex_);
    return health_[index].state();
}

}  // namespace danegate::routing
