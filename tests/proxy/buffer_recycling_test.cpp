#include "proxy/buffer_recycling.hpp"

#include <boost/beast/core/flat_buffer.hpp>

#include <gtest/gtest.h>

#include <cstring>
#include <thread>
#include <vector>

namespace danegate::proxy {
namespace {

using bounds = recycling_bounds;

/** Each test starts from an empty recycler on its thread: whatever earlier tests left is taken. */
class buffer_recycling : public ::testing::Test {
protected:
    void SetUp() override
    {
        for (std::size_t size = bounds::smallest_block; size <= bounds::largest_block; size *= 2) {
            std::vector<void*> held;
            for (std::size_t i = 0; i < bounds::blocks_per_class; ++i) {
                held.push_back(take_block(size));
            }
            for (void* block : held) {
                ::operator delete(block);
            }
        }
        ASSERT_EQ(recycled_block_count(), 0u);
    }
};

TEST_F(buffer_recycling, a_block_given_back_serves_the_next_request_of_its_size_class)
{
    void* block = take_block(16 * 1024);
    std::memset(block, 0x5a, 16 * 1024);
    give_back_block(block, 16 * 1024);
    EXPECT_EQ(recycled_block_count(), 1u);
    // 9 KiB to 16 KiB share the 16 KiB class: each block is the whole class, so any of them fits.
    void* again = take_block(9 * 1024 + 1);
    EXPECT_EQ(again, block);
    EXPECT_EQ(recycled_block_count(), 0u);
    std::memset(again, 0xa5, 9 * 1024 + 1);  // all that was asked for is usable (ASan would report otherwise)
    give_back_block(again, 9 * 1024 + 1);
}

TEST_F(buffer_recycling, a_block_of_another_class_is_not_handed_out)
{
    void* large = take_block(32 * 1024);
    give_back_block(large, 32 * 1024);
    void* small = take_block(4 * 1024);
    EXPECT_NE(small, large);
    EXPECT_EQ(recycled_block_count(), 1u);
    give_back_block(small, 4 * 1024);
    EXPECT_EQ(recycled_block_count(), 2u);
}

TEST_F(buffer_recycling, sizes_outside_the_classes_are_freed_not_kept)
{
    give_back_block(take_block(bounds::smallest_block - 1), bounds::smallest_block - 1);
    give_back_block(take_block(bounds::largest_block + 1), bounds::largest_block + 1);
    give_back_block(nullptr, bounds::smallest_block);
    EXPECT_EQ(recycled_block_count(), 0u);
}

TEST_F(buffer_recycling, a_class_keeps_at_most_its_bound_and_frees_the_rest)
{
    std::vector<void*> taken;
    for (std::size_t i = 0; i < bounds::blocks_per_class + 3; ++i) {
        taken.push_back(take_block(8 * 1024));
    }
    for (void* block : taken) {
        give_back_block(block, 8 * 1024);
    }
    EXPECT_EQ(recycled_block_count(), bounds::blocks_per_class);
}

TEST_F(buffer_recycling, each_thread_has_its_own_blocks)
{
    give_back_block(take_block(4 * 1024), 4 * 1024);
    std::size_t seen_by_other_thread = 99;
    std::size_t kept_by_other_thread = 99;
    std::thread other([&] {
        seen_by_other_thread = recycled_block_count();
        give_back_block(take_block(4 * 1024), 4 * 1024);
        kept_by_other_thread = recycled_block_count();
    });  // its block is freed as it ends (LeakSanitizer checks that in the sanitizer build)
    other.join();
    EXPECT_EQ(seen_by_other_thread, 0u);
    EXPECT_EQ(kept_by_other_thread, 1u);
    EXPECT_EQ(recycled_block_count(), 1u);
}

TEST_F(buffer_recycling, a_block_taken_on_another_thread_is_kept_by_the_thread_that_gives_it_back)
{
    void* block = nullptr;
    std::thread other([&] { block = take_block(16 * 1024); });
    other.join();
    give_back_block(block, 16 * 1024);  // a strand moved the session between io threads
    EXPECT_EQ(recycled_block_count(), 1u);
    EXPECT_EQ(take_block(16 * 1024), block);
    give_back_block(block, 16 * 1024);
}

#if defined(__SANITIZE_ADDRESS__)
// Only the sanitizer build can see these: a recycled block is no licence to write past what was
// asked for, nor to touch a block once it is given back.
TEST_F(buffer_recycling, asan_reports_a_write_past_the_size_asked_for_and_a_use_after_give_back)
{
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH(
        {
            auto* block = static_cast<char*>(take_block(9 * 1024));
            block[9 * 1024 - 1] = 'x';  // the last byte asked for: fine
            block[9 * 1024 + 64] = 'x';  // within the 16 KiB class, past the request
        },
        "use-after-poison");
    EXPECT_DEATH(
        {
            auto* block = static_cast<char*>(take_block(8 * 1024));
            give_back_block(block, 8 * 1024);
            block[0] = 'x';
        },
        "use-after-poison");
}
#endif

TEST_F(buffer_recycling, a_beast_buffer_given_back_while_idle_hands_its_storage_to_the_next_one)
{
    using buffer = boost::beast::basic_flat_buffer<recycling_allocator<char>>;
    const void* storage = nullptr;
    {
        buffer first;
        auto room = first.prepare(4096);
        storage = room.data();
        first.commit(10);
        first.consume(10);
        first.shrink_to_fit();  // empty: the storage goes back
        EXPECT_EQ(first.capacity(), 0u);
        EXPECT_EQ(recycled_block_count(), 1u);
    }
    buffer second;
    EXPECT_EQ(second.prepare(4096).data(), storage);
    EXPECT_EQ(recycled_block_count(), 0u);
}

}  // namespace
}  // namespace danegate::proxy
