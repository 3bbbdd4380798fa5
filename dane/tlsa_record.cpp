// TLSA rdata (RFC 6698 §2): parsing of the presentation form (§2.2) and of the wire form (§2.1),
// their inverses, and the association data `danegate tlsa create` derives from a certificate
// (selector §2.1.2, matching type §2.1.3). Inputs: operator text, resolver rdata, an X509.
// Outputs: a tlsa_record, or a failure whose sentence names the first thing that is wrong.
// Every input is untrusted: the parsers index only within bounds, never overflow an integer and
// never throw on malformed text; they are exercised with random bytes under ASan/UBSan.
#include "dane/tlsa_record.hpp"

#include "dane/openssl_error.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <array>
#include <cassert>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>

namespace danegate::dane {

namespace {

// RDLENGTH is 16 bits (RFC 1035 §3.2.1) and the three fixed TLSA octets come first (RFC 6698 §2.1),
// so no record can carry more association data than this.
constexpr std::size_t max_data_octets = 65535 - 3;

// Digest sizes fixed by RFC 6698 §2.1.3 for matching types 1 (SHA2-256) and 2 (SHA2-512).
constexpr std::size_t sha2_256_octets = 32;
constexpr std::size_t sha2_512_octets = 64;

// Longest excerpt of operator input quoted back in a message, so that a megabyte of garbage does
// not become a megabyte of error text.
constexpr std::size_t max_quoted_chars = 24;

constexpr std::string_view hex_digits = "0123456789abcdef";

constexpr std::string_view presentation_shape =
    "expected \"USAGE SELECTOR MTYPE HEX\" (RFC 6698 §2.2)";

// ASCII white space only: std::isspace depends on the locale and is undefined for negative chars.
bool is_space(char c) noexcept
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

bool is_decimal_digit(char c) noexcept
{
    return c >= '0' && c <= '9';
}

/** The value of hex digit @p c (either case), or -1. */
int hex_value(char c) noexcept
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/** @p c as it should appear in a message: 'z', or 0x00 for a byte that does not print. */
std::string describe_char(char c)
{
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x21 && byte < 0x7f) {
        return std::string{'\'', c, '\''};
    }
    return std::string{"byte 0x"} + hex_digits[byte >> 4] + hex_digits[byte & 0x0f];
}

/** @p text in double quotes, non-printing bytes escaped and long text cut short. */
std::string in_quotes(std::string_view text)
{
    std::string out = "\"";
    const std::size_t shown = text.size() < max_quoted_chars ? text.size() : max_quoted_chars;
    for (std::size_t i = 0; i < shown; ++i) {
        const auto byte = static_cast<unsigned char>(text[i]);
        if (byte >= 0x20 && byte < 0x7f && byte != '"' && byte != '\\') {
            out += text[i];
        } else {
            out += "\\x";
            out += hex_digits[byte >> 4];
            out += hex_digits[byte & 0x0f];
        }
    }
    if (shown < text.size()) {
        out += "...";
    }
    out += '"';
    return out;
}

/** The RFC 6698 section that defines each of the three fixed fields, for messages. */
struct field_info {
    std::string_view name;
    std::string_view section;
};

constexpr std::array<field_info, 3> fields{{
    {"usage", "RFC 6698 §2.1.1"},
    {"selector", "RFC 6698 §2.1.2"},
    {"matching type", "RFC 6698 §2.1.3"},
}};

/**
 * One of the three fixed fields: an unsigned decimal 0..255 (RFC 6698 §2.2). Signs and
 * hexadecimal are refused rather than guessed at; leading zeros are accepted, as zone-file parsers
 * accept them.
 */
result<std::uint8_t> parse_field(std::string_view token, const field_info& field)
{
    const std::string name{field.name};
    if (token.front() == '+') {
        return make_failure(errc::bad_tlsa_syntax,
                            "the " + name + " field " + in_quotes(token) +
                                " has a sign; fields are unsigned decimal numbers (RFC 6698 §2.2)");
    }
    if (token.front() == '-' && token.size() > 1 &&
        token.find_first_not_of("0123456789", 1) == std::string_view::npos) {
        return make_failure(errc::tlsa_field_range,
                            "the " + name + " field " + in_quotes(token) +
                                " is negative; it must be a decimal number 0..255 (" +
                                std::string{field.section} + ")");
    }
    if (token.size() > 1 && token[0] == '0' && (token[1] == 'x' || token[1] == 'X')) {
        return make_failure(errc::bad_tlsa_syntax,
                            "the " + name + " field " + in_quotes(token) +
                                " is hexadecimal; fields are decimal numbers (RFC 6698 §2.2)");
    }
    unsigned value = 0;
    bool too_large = false;
    for (const char c : token) {
        if (!is_decimal_digit(c)) {
            return make_failure(errc::bad_tlsa_syntax,
                                "the " + name + " field " + in_quotes(token) +
                                    " is not a decimal number; " + std::string{presentation_shape});
        }
        // Stop accumulating once past 255 so that twenty digits cannot overflow; keep scanning so
        // "99x" is still a syntax error rather than a range error.
        if (!too_large) {
            value = value * 10 + static_cast<unsigned>(c - '0');
            too_large = value > 255;
        }
    }
    if (too_large) {
        return make_failure(errc::tlsa_field_range, "the " + name + " field " + in_quotes(token) +
                                                        " is out of range 0..255 (" +
                                                        std::string{field.section} + ")");
    }
    return static_cast<std::uint8_t>(value);
}

/**
 * Checks the association data length against the matching type: RFC 6698 §2.1.3 fixes the digest
 * sizes of types 1 and 2; for type 0 and unassigned types any non-empty length is representable,
 * and whether such a record is usable is decided by policy, not here.
 */
std::optional<failure> check_data_length(std::uint8_t mtype, std::size_t size)
{
    if (size == 0) {
        return make_failure(
            errc::empty_tlsa_data,
            "the TLSA record has no certificate association data (RFC 6698 §2.1.4)");
    }
    if (size > max_data_octets) {
        return make_failure(errc::bad_tlsa_syntax,
                            "the certificate association data is " + std::to_string(size) +
                                " octets, more than the " + std::to_string(max_data_octets) +
                                " a TLSA record can hold (RFC 1035 §3.2.1, RFC 6698 §2.1)");
    }
    std::size_t expected = 0;
    std::string_view digest_name;
    if (mtype == matching_type::sha2_256) {
        expected = sha2_256_octets;
        digest_name = "SHA2-256";
    } else if (mtype == matching_type::sha2_512) {
        expected = sha2_512_octets;
        digest_name = "SHA2-512";
    } else {
        return std::nullopt;
    }
    if (size != expected) {
        return make_failure(errc::digest_length,
                            "matching type " + std::to_string(mtype) + " (" +
                                std::string{digest_name} + ") needs " + std::to_string(expected) +
                                " octets of association data, but the record has " +
                                std::to_string(size) + " (RFC 6698 §2.1.3)");
    }
    return std::nullopt;
}

/** The next white-space separated word at or after @p pos, advancing @p pos past it. */
std::optional<std::string_view> next_token(std::string_view input, std::size_t& pos)
{
    while (pos < input.size() && is_space(input[pos])) {
        ++pos;
    }
    if (pos == input.size()) {
        return std::nullopt;
    }
    const std::size_t start = pos;
    while (pos < input.size() && !is_space(input[pos])) {
        ++pos;
    }
    return input.substr(start, pos - start);
}

/**
 * Decodes the hex that follows the three fields: case-insensitive, and white space may appear
 * anywhere within it (RFC 6698 §2.2). Positions in messages are 1-based columns of @p input.
 */
result<std::vector<std::uint8_t>> decode_hex(std::string_view input, std::size_t pos)
{
    std::vector<std::uint8_t> data;
    // Each octet takes at least two characters, so this bounds the allocation by the input size.
    data.reserve((input.size() - pos) / 2);
    int high = -1;
    std::size_t high_column = 0;
    for (; pos < input.size(); ++pos) {
        const char c = input[pos];
        if (is_space(c)) {
            continue;
        }
        const int nibble = hex_value(c);
        if (nibble < 0) {
            return make_failure(errc::bad_hex, "the certificate association data has " +
                                                   describe_char(c) + " at column " +
                                                   std::to_string(pos + 1) +
                                                   ", which is not a hex digit (RFC 6698 §2.2)");
        }
        if (high < 0) {
            high = nibble;
            high_column = pos + 1;
        } else {
            data.push_back(static_cast<std::uint8_t>((high << 4) | nibble));
            high = -1;
        }
    }
    if (high >= 0) {
        return make_failure(errc::bad_hex,
                            "the certificate association data has an odd number of hex digits (" +
                                std::to_string(data.size() * 2 + 1) + "); the digit at column " +
                                std::to_string(high_column) + " has no pair (RFC 6698 §2.2)");
    }
    return data;
}

/** The DER bytes selector @p which picks from @p cert (RFC 6698 §2.1.2). */
result<std::vector<std::uint8_t>> selected_der(X509* cert, std::uint8_t which)
{
    // Both i2d functions report the length when given no output buffer, then fill a buffer of
    // exactly that size; a second length that differs would mean OpenSSL misbehaved.
    if (which == selector::cert) {
        const int length = i2d_X509(cert, nullptr);
        if (length <= 0) {
            return make_failure(errc::tls_setup,
                                "cannot DER-encode the certificate: " + take_openssl_error());
        }
        std::vector<std::uint8_t> der(static_cast<std::size_t>(length));
        unsigned char* out = der.data();
        if (i2d_X509(cert, &out) != length) {
            return make_failure(errc::tls_setup,
                                "cannot DER-encode the certificate: " + take_openssl_error());
        }
        return der;
    }
    const X509_PUBKEY* spki = X509_get_X509_PUBKEY(cert);
    if (spki == nullptr) {
        return make_failure(errc::tls_setup, "the certificate has no SubjectPublicKeyInfo");
    }
    const int length = i2d_X509_PUBKEY(spki, nullptr);
    if (length <= 0) {
        return make_failure(
            errc::tls_setup,
            "cannot DER-encode the certificate's SubjectPublicKeyInfo: " + take_openssl_error());
    }
    std::vector<std::uint8_t> der(static_cast<std::size_t>(length));
    unsigned char* out = der.data();
    if (i2d_X509_PUBKEY(spki, &out) != length) {
        return make_failure(
            errc::tls_setup,
            "cannot DER-encode the certificate's SubjectPublicKeyInfo: " + take_openssl_error());
    }
    return der;
}

/** @p bytes hashed with @p md. */
result<std::vector<std::uint8_t>> digest(const std::vector<std::uint8_t>& bytes, const EVP_MD* md,
                                         std::string_view name)
{
    std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
    unsigned int length = 0;
    if (md == nullptr ||
        EVP_Digest(bytes.data(), bytes.size(), out.data(), &length, md, nullptr) != 1) {
        return make_failure(errc::tls_setup,
                            "cannot compute " + std::string{name} + ": " + take_openssl_error());
    }
    return std::vector<std::uint8_t>(out.begin(), out.begin() + length);
}

}  // namespace

std::string tlsa_record::to_string() const
{
    return std::to_string(usage) + ' ' + std::to_string(selector) + ' ' +
           std::to_string(matching_type) + ' ' + to_hex(data);
}

result<tlsa_record> parse_tlsa(std::string_view presentation)
{
    tlsa_record record;
    std::size_t pos = 0;
    std::array<std::uint8_t*, 3> targets{&record.usage, &record.selector, &record.matching_type};
    for (std::size_t i = 0; i < targets.size(); ++i) {
        const auto word = next_token(presentation, pos);
        if (!word) {
            if (i == 0) {
                return make_failure(errc::bad_tlsa_syntax,
                                    "the TLSA record is empty; " + std::string{presentation_shape});
            }
            return make_failure(errc::bad_tlsa_syntax,
                                "the TLSA record ends before its " + std::string{fields[i].name} +
                                    " field; " + std::string{presentation_shape});
        }
        auto value = parse_field(*word, fields[i]);
        if (!value) {
            return value.error();
        }
        *targets[i] = *value;
    }
    auto data = decode_hex(presentation, pos);
    if (!data) {
        return data.error();
    }
    record.data = std::move(*data);
    if (auto problem = check_data_length(record.matching_type, record.data.size())) {
        return std::move(*problem);
    }
    return record;
}

result<tlsa_record> parse_tlsa_rdata(std::span<const std::uint8_t> rdata)
{
    // Wire form: usage, selector, matching type, then the association data (RFC 6698 §2.1).
    constexpr std::size_t fixed_octets = 3;
    if (rdata.size() < fixed_octets) {
        return make_failure(errc::truncated_rdata,
                            "the TLSA rdata is " + std::to_string(rdata.size()) +
                                " octets, shorter than its 3 fixed fields (RFC 6698 §2.1)");
    }
    tlsa_record record;
    record.usage = rdata[0];
    record.selector = rdata[1];
    record.matching_type = rdata[2];
    if (auto problem = check_data_length(record.matching_type, rdata.size() - fixed_octets)) {
        return std::move(*problem);
    }
    const auto data = rdata.subspan(fixed_octets);
    record.data.assign(data.begin(), data.end());
    return record;
}

std::vector<std::uint8_t> to_rdata(const tlsa_record& record)
{
    std::vector<std::uint8_t> rdata;
    rdata.reserve(3 + record.data.size());
    rdata.push_back(record.usage);
    rdata.push_back(record.selector);
    rdata.push_back(record.matching_type);
    rdata.insert(rdata.end(), record.data.begin(), record.data.end());
    return rdata;
}

// The parameters are renamed here because the header's names would hide the selector:: and
// matching_type:: constants this function compares against.
result<tlsa_record> make_tlsa(X509* cert, std::uint8_t usage_value, std::uint8_t selector_value,
                              std::uint8_t mtype)
{
    assert(cert != nullptr);
    if (cert == nullptr) {
        // The precondition is the caller's, but a null here must not become a crash in release.
        return make_failure(errc::certificate_load, "no certificate to derive a TLSA record from");
    }
    // Only selectors 0 and 1 and matching types 0..2 are defined; for anything else there is no
    // way to compute the data (RFC 6698 §2.1.2, §2.1.3).
    if (selector_value != selector::cert && selector_value != selector::spki) {
        return make_failure(errc::tlsa_field_range, "selector " + std::to_string(selector_value) +
                                                        " is not defined (RFC 6698 §2.1.2)");
    }
    if (mtype != matching_type::full && mtype != matching_type::sha2_256 &&
        mtype != matching_type::sha2_512) {
        return make_failure(errc::tlsa_field_range, "matching type " + std::to_string(mtype) +
                                                        " is not defined (RFC 6698 §2.1.3)");
    }
    auto selected = selected_der(cert, selector_value);
    if (!selected) {
        return selected.error();
    }
    tlsa_record record{usage_value, selector_value, mtype, {}};
    if (mtype == matching_type::full) {
        record.data = std::move(*selected);
    } else {
        const bool sha256 = mtype == matching_type::sha2_256;
        auto hashed = digest(*selected, sha256 ? EVP_sha256() : EVP_sha512(),
                             sha256 ? "SHA2-256" : "SHA2-512");
        if (!hashed) {
            return hashed.error();
        }
        record.data = std::move(*hashed);
    }
    // A full certificate can exceed what one record carries; say so rather than emit a record
    // that no zone could hold.
    if (auto problem = check_data_length(record.matching_type, record.data.size())) {
        return std::move(*problem);
    }
    return record;
}

std::string to_hex(std::span<const std::uint8_t> bytes)
{
    std::string out;
    out.reserve(bytes.size() * 2);
    for (const std::uint8_t byte : bytes) {
        out += hex_digits[byte >> 4];
        out += hex_digits[byte & 0x0f];
    }
    return out;
}

}  // namespace danegate::dane
