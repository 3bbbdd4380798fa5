// When the signatures of a DNS answer run out: the earliest RRSIG expiration (RFC 4034 §3.1.5) in
// the answer section of a response. libunbound validates them; operators want to know before a
// zone's signer stops and every answer turns bogus (`danegate check --live` warns 7 days ahead).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>

namespace danegate::dane {

/**
 * The earliest signature expiration of any RRSIG in the answer section of @p packet (a whole DNS
 * message in wire format); nullopt when there is none or the message is malformed.
 */
std::optional<std::chrono::system_clock::time_point> earliest_signature_expiry(std::span<const std::uint8_t> packet);

}  // namespace danegate::dane
