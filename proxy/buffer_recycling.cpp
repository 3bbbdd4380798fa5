// See buffer_recycling.hpp.
#include "proxy/buffer_recycling.hpp"

#include <array>
#include <bit>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define DANEGATE_POISON(block, size) ASAN_POISON_MEMORY_REGION(block, size)
#define DANEGATE_UNPOISON(block, size) ASAN_UNPOISON_MEMORY_REGION(block, size)
#else
#define DANEGATE_POISON(block, size) ((void)(block), (void)(size))
#define DANEGATE_UNPOISON(block, size) ((void)(block), (void)(size))
#endif

namespace danegate::proxy {
namespace {

using bounds = recycling_bounds;

constexpr std::size_t class_count =
    static_cast<std::size_t>(std::countr_zero(bounds::largest_block) - std::countr_zero(bounds::smallest_block)) + 1;

/** The class of @p size, or class_count when it is not recycled. Class k holds smallest << k. */
std::size_t class_of(std::size_t size) noexcept
{
    if (size < bounds::smallest_block || size > bounds::largest_block) {
        return class_count;
    }
    return static_cast<std::size_t>(std::countr_zero(std::bit_ceil(size)) - std::countr_zero(bounds::smallest_block));
}

std::size_t class_size(std::size_t size_class) noexcept
{
    return bounds::smallest_block << size_class;
}

/**
 * One thread's blocks. Trivially destructible, so that it stays valid while the thread's other
 * thread_local objects are destroyed (a session freed then still gives its buffers back here);
 * drain_at_thread_exit frees the blocks. Held blocks are poisoned: a use is a bug ASan sees.
 */
struct recycler {
    struct stack {
        std::array<void*, bounds::blocks_per_class> blocks;
        std::size_t count;
    };
    std::array<stack, class_count> classes;
    bool closed;  // the thread is ending: what comes back after this is freed
};

constinit thread_local recycler this_thread{};

struct drain_at_thread_exit {
    drain_at_thread_exit() = default;
    drain_at_thread_exit(const drain_at_thread_exit&) = delete;
    drain_at_thread_exit& operator=(const drain_at_thread_exit&) = delete;
    ~drain_at_thread_exit()
    {
        for (std::size_t c = 0; c < class_count; ++c) {
            auto& stack = this_thread.classes[c];
            for (std::size_t i = 0; i < stack.count; ++i) {
                DANEGATE_UNPOISON(stack.blocks[i], class_size(c));
                ::operator delete(stack.blocks[i]);
            }
            stack.count = 0;
        }
        this_thread.closed = true;
    }
};

/** The thread's recycler, with its drain registered for the thread's exit on first use. */
recycler& thread_recycler() noexcept
{
    thread_local drain_at_thread_exit drain;
    (void)drain;
    return this_thread;
}

}  // namespace

void* take_block(std::size_t size)
{
    const std::size_t c = class_of(size);
    if (c == class_count) {
        return ::operator new(size);
    }
    auto& stack = thread_recycler().classes[c];
    void* block = nullptr;
    if (stack.count == 0) {
        block = ::operator new(class_size(c));  // the whole class: it is given back to that class
    } else {
        block = stack.blocks[--stack.count];
        DANEGATE_UNPOISON(block, size);
    }
    // Only the size asked for is usable: ASan reports a write past it, as it would for new.
    DANEGATE_POISON(static_cast<char*>(block) + size, class_size(c) - size);
    return block;
}

void give_back_block(void* block, std::size_t size) noexcept
{
    if (block == nullptr) {
        return;
    }
    const std::size_t c = class_of(size);
    if (c == class_count) {
        ::operator delete(block);
        return;
    }
    auto& recycler = thread_recycler();
    auto& stack = recycler.classes[c];
    if (stack.count == stack.blocks.size() || recycler.closed) {
        DANEGATE_UNPOISON(block, class_size(c));
        ::operator delete(block);
        return;
    }
    DANEGATE_POISON(block, class_size(c));
    stack.blocks[stack.count++] = block;
}

std::size_t recycled_block_count() noexcept
{
    std::size_t n = 0;
    for (const auto& stack : this_thread.classes) {
        n += stack.count;
    }
    return n;
}

}  // namespace danegate::proxy
