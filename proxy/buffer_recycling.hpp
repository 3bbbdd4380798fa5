// Per-thread recycling of the large blocks an HTTP exchange borrows: the read buffers an exchange
// takes when its first bytes arrive and gives back once it is reported (an idle connection holds
// none, issue 5). glibc's per-thread cache stops at 1 KiB, so without this every keep-alive
// request paid malloc's and free's bin search for two 4 to 16 KiB blocks.
//
// The memory it keeps is per thread, not per connection, and bounded: at most blocks_per_class
// blocks of each class, 1.94 MiB per thread if every class fills; proxied exchanges use the 4 and
// 16 KiB classes (320 KiB), larger ones only when a header or chunk line grows a buffer further.
// A block may be given back on another thread than the one that took it (a strand moves).
#pragma once

#include <cstddef>

namespace danegate::proxy {

/** What one thread's recycler keeps at most: blocks per size class, and the size classes. */
struct recycling_bounds {
    static constexpr std::size_t smallest_block = 4 * 1024;
    static constexpr std::size_t largest_block = 64 * 1024;
    static constexpr std::size_t blocks_per_class = 16;
};

/**
 * A block of at least @p size bytes: a recycled one of @p size's class when the calling thread
 * has one, else a new one. Sizes outside [smallest_block, largest_block] are not recycled.
 */
void* take_block(std::size_t size);

/** Returns @p block, taken for @p size, to the calling thread's recycler, or frees it when full. */
void give_back_block(void* block, std::size_t size) noexcept;

/** How many blocks the calling thread's recycler holds now (for tests). */
std::size_t recycled_block_count() noexcept;

/** A standard allocator over take_block/give_back_block, for Beast's dynamic buffers. */
template <class T>
class recycling_allocator {
public:
    using value_type = T;

    recycling_allocator() noexcept = default;
    template <class U>
    recycling_allocator(const recycling_allocator<U>&) noexcept
    {
    }

    T* allocate(std::size_t n) { return static_cast<T*>(take_block(n * sizeof(T))); }
    void deallocate(T* p, std::size_t n) noexcept { give_back_block(p, n * sizeof(T)); }

    template <class U>
    bool operator==(const recycling_allocator<U>&) const noexcept
    {
        return true;  // stateless: any instance frees what another took
    }
};

}  // namespace danegate::proxy
