// Counts upstream connections that are in use (carrying a request or a tunnel) rather than idle in
// a pool, for the pool gauges of the admin listener. A connection holds a mark while a session has
// it; the pool clears the mark when the connection goes idle, and the mark's destructor uncounts a
// connection that is closed while in use. The counter is shared, so a mark may outlive its pool
// (a tunnel of a configuration that a reload replaced).
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
    void clear() noexcept
    {
        if (counter_) {
            counter_->fetch_sub(1, std::memory_order_relaxed);
            counter_.reset();
        }
    }

private:
    in_use_counter counter_;
};

}  // namespace danegate::proxy
