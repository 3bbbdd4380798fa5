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

/** One thread's blocks, freed when the thread ends. Poisoned while held: a use is a bug ASan sees. */
struct recycler {
    struct stack {
        std::array<void*, bounds::blocks_per_class> blocks{};
        std::size_t count = 0;
    };
    std::array<stack, class_count> classes{};
    bool closed = false;  // the thread is ending: what comes back after this is freed

    recycler() = default;
    recycler(const recycler&) = delete;
    recycler& operator=(const recycler&) = delete;
    ~recycler()
    {
        for (std::size_t c = 0; c < class_count; ++c) {
            for (std::size_t i = 0; i < classes[c].count; ++i) {
                DANEGATE_UNPOISON(classes[c].blocks[i], class_size(c));
                ::operator delete(classes[c].blocks[i]);
            }
            classes[c].count = 0;
        }
        closed = true;
    }
};

thread_local recycler this_thread;

}  // namespace

void* take_block(std::size_t size)
{
    const std::size_t c = class_of(size);
    if (c == class_count) {
        return ::operator new(size);
    }
    auto& stack = this_thread.classes[c];
    if (stack.count == 0) {
        return ::operator new(class_size(c));  // the whole class: it is given back to that class
    }
    void* block = stack.blocks[--stack.count];
    DANEGATE_UNPOISON(block, class_size(c));
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
    auto& stack = this_thread.classes[c];
    if (stack.count == stack.blocks.size() || this_thread.closed) {
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
