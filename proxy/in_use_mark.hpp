// A counted membership: a mark adds one to a shared counter while it lives, and clear() or its
// destructor takes it off. Upstream connections hold one while a session uses them (the pool clears
// it when the connection goes idle; the pool gauges of /metrics read the counter), and admin
// connections hold one for the admin listener's connection bound. The counter is shared, so a mark
// may outlive what made it (a tunnel of a configuration that a reload replaced).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>

namespace danegate::proxy {

using in_use_counter = std::shared_ptr<std::atomic<std::int64_t>>;

class in_use_mark {
public:
    in_use_mark() = default;
    explicit in_use_mark(in_use_counter counter) : counter_(std::move(counter))
    {
        if (counter_) {
            counter_->fetch_add(1, std::memory_order_relaxed);
        }
    }
    in_use_mark(in_use_mark&& other) noexcept : counter_(std::move(other.counter_)) {}
    in_use_mark& operator=(in_use_mark&& other) noexcept
    {
        if (this != &other) {
            clear();
            counter_ = std::move(other.counter_);
        }
        return *this;
    }
    in_use_mark(const in_use_mark&) = delete;
    in_use_mark& operator=(const in_use_mark&) = delete;
    ~in_use_mark() { clear(); }

    /** Uncounts the connection (it went idle); idempotent. */
    void clear() noexcept { release(); }

    /**
     * Uncounts the connection, as clear(), and hands back the counter it was counted in (null
     * when it was not), so that a later mark needs no lookup.
     */
    in_use_counter release() noexcept
    {
        if (counter_) {
            counter_->fetch_sub(1, std::memory_order_relaxed);
        }
        return std::move(counter_);
    }

private:
    in_use_counter counter_;
};

}  // namespace danegate::proxy
