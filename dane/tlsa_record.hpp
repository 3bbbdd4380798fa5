// TLSA resource record data (RFC 6698 §2): the value type, its presentation form
// ("3 1 1 <hex>", RFC 6698 §2.2), its wire form (RFC 6698 §2.1), and the association data that
// `danegate tlsa create` derives from a certificate (selector 0/1, matching type 0/1/2).
// Parsing never trusts its input: every malformed form is a failure with a sentence, never a crash.
#pragma once

#include "dane/errc.hpp"

#include <openssl/types.h>

#include <compare>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace danegate::dane {

/** Certificate usages (RFC 6698 §2.1.1, RFC 7218 acronyms). */
namespace usage {
inline constexpr std::uint8_t pkix_ta = 0;
inline constexpr std::uint8_t pkix_ee = 1;
inline constexpr std::uint8_t dane_ta = 2;
inline constexpr std::uint8_t dane_ee = 3;
}  // namespace usage

/** Selectors (RFC 6698 §2.1.2). */
namespace selector {
inline constexpr std::uint8_t cert = 0;
inline constexpr std::uint8_t spki = 1;
}  // namespace selector

/** Matching types (RFC 6698 §2.1.3). */
namespace matching_type {
inline constexpr std::uint8_t full = 0;
inline constexpr std::uint8_t sha2_256 = 1;
inline constexpr std::uint8_t sha2_512 = 2;
}  // namespace matching_type

/** One TLSA record's rdata. Any field values are representable; usability is policy's business. */
struct tlsa_record {
    std::uint8_t usage = 0;
    std::uint8_t selector = 0;
    std::uint8_t matching_type = 0;
    std::vector<std::uint8_t> data;

    /** Presentation form with lower-case hex: "3 1 1 0a1b...". */
    std::string to_string() const;

    friend auto operator<=>(const tlsa_record&, const tlsa_record&) = default;
};

/**
 * Parses the presentation form "USAGE SELECTOR MTYPE HEX". Fields are decimal 0..255; the hex may
 * be split by white space (RFC 6698 §2.2). Matching types 1 and 2 require 32 and 64 octets.
 * @return the record, or a failure naming what is wrong.
 */
result<tlsa_record> parse_tlsa(std::string_view presentation);

/** Parses wire-format rdata, as libunbound returns it (RFC 6698 §2.1). Same checks as parse_tlsa. */
result<tlsa_record> parse_tlsa_rdata(std::span<const std::uint8_t> rdata);

/** The wire-format rdata of @p record. */
std::vector<std::uint8_t> to_rdata(const tlsa_record& record);

/**
 * The record that matches @p cert with the given parameters, for `danegate tlsa create`.
 * Selector 0 is the DER certificate, 1 the DER SubjectPublicKeyInfo; matching type 0 is the
 * selected bytes themselves, 1 their SHA2-256, 2 their SHA2-512.
 * @pre cert != nullptr
 */
result<tlsa_record> make_tlsa(X509* cert, std::uint8_t usage, std::uint8_t selector,
                              std::uint8_t matching_type);

/** Lower-case hex of @p bytes. */
std::string to_hex(std::span<const std::uint8_t> bytes);

}  // namespace danegate::dane
