#include "dane/signature_expiry.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace danegate::test {
namespace {

using bytes = std::vector<std::uint8_t>;

// push_back one byte at a time: GCC 12 warns falsely (-Wstringop-overflow) on inserting lists.
void put(bytes& out, std::initializer_list<unsigned> values)
{
    for (const unsigned v : values) {
        out.push_back(static_cast<std::uint8_t>(v));
    }
}
void put16(bytes& out, unsigned v) { put(out, {v >> 8 & 0xFF, v & 0xFF}); }
void put32(bytes& out, std::uint32_t v) { put(out, {v >> 24 & 0xFF, v >> 16 & 0xFF, v >> 8 & 0xFF, v & 0xFF}); }

/** A response to "a.test. TLSA" with a TLSA record and two RRSIGs expiring at @p first / @p second. */
bytes response(std::uint32_t first, std::uint32_t second)
{
    bytes out;
    put16(out, 0x1234);
    put16(out, 0x8180);
    put16(out, 1);  // questions
    put16(out, 3);  // answers
    put16(out, 0);
    put16(out, 0);
    put(out, {1, 'a', 4, 't', 'e', 's', 't', 0});
    put16(out, 52);
    put16(out, 1);
    // TLSA with a compressed owner (pointer to offset 12).
    put(out, {0xC0, 12});
    put16(out, 52);
    put16(out, 1);
    put32(out, 300);
    put16(out, 5);
    put(out, {3, 1, 1, 0xAB, 0xCD});
    for (const std::uint32_t expiration : {first, second}) {
        put(out, {0xC0, 12});
        put16(out, 46);
        put16(out, 1);
        put32(out, 300);
        put16(out, 20);
        put16(out, 52);                       // type covered
        put(out, {13, 2});                    // algorithm, labels
        put32(out, 300);                      // original TTL
        put32(out, expiration);               // signature expiration
        put32(out, 1'700'000'000);            // inception
        put16(out, 4242);                     // key tag
        put(out, {0, 0});                     // signer "." (root) and no signature bytes, enough here
    }
    return out;
}

TEST(signature_expiry, is_the_earliest_rrsig_expiration_of_the_answer)
{
    const auto found = dane::earliest_signature_expiry(response(1'800'000'000, 1'790'000'000));
    ASSERT_TRUE(found);
    EXPECT_EQ(std::chrono::system_clock::to_time_t(*found), 1'790'000'000);
}

TEST(signature_expiry, an_answer_without_signatures_or_a_truncated_message_has_none)
{
    auto packet = response(1'800'000'000, 1'790'000'000);
    packet[7] = 1;  // only the TLSA record counts as an answer now
    EXPECT_FALSE(dane::earliest_signature_expiry(packet));
    auto truncated = response(1'800'000'000, 1'790'000'000);
    for (std::size_t size = 0; size < truncated.size(); ++size) {
        const std::span<const std::uint8_t> prefix(truncated.data(), size);
        // Every prefix is malformed or missing a record: never a crash, never a value from outside.
        const auto found = dane::earliest_signature_expiry(prefix);
        EXPECT_FALSE(found) << "prefix of " << size << " bytes";
    }
}

}  // namespace
}  // namespace danegate::test
