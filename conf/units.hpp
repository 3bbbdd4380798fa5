// The value syntaxes of the configuration (DESIGN §3): durations, sizes, listen and endpoint
// addresses, resolver addresses ADDR@PORT, and domain names. Pure functions over text, with no
// notion of files or positions: the schema attaches FILE:LINE:COL to the messages they return.
//
// Decisions (documented in README "danegate check"):
// - A duration always has a unit (ms, s, m, h), and units may be chained ("1m30s"); a bare number is
//   an error, because "timeout: 5" is 5 seconds to one reader and 5 milliseconds to another.
// - A size is bytes, or a number with B, KiB, MiB, GiB (powers of 1024) or KB, MB, GB (powers of
//   1000, as SI and IEC 80000-13 define them); it must fit std::size_t.
#pragma once

#include "conf/config.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace danegate::conf {

/** A parsed value, or the sentence saying why the text is not one (without position). */
template <class T>
class unit_result {
public:
    unit_result(T value) : value_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit, like expected
    static unit_result failure(std::string message)
    {
        return unit_result(std::in_place_index<1>, std::move(message));
    }

    bool ok() const noexcept { return value_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }
    /** @pre ok() */
    const T& value() const { return std::get<0>(value_); }
    const T& operator*() const { return value(); }
    /** @pre !ok() */
    const std::string& error() const { return std::get<1>(value_); }

private:
    template <std::size_t I, class V>
    unit_result(std::in_place_index_t<I> index, V&& v) : value_(index, std::forward<V>(v))
    {
    }
    std::variant<T, std::string> value_;
};

/** "500ms", "5s", "2m", "1h", "1m30s". @return the duration, or why not (a bare number has a hint). */
unit_result<duration> parse_duration(std::string_view text);

/** "512", "512B", "64KiB", "1MiB", "1GiB", "64KB", "1MB", "1GB". @return bytes, or why not. */
unit_result<std::size_t> parse_size(std::string_view text);

/** "0.0.0.0:8443", "[::]:8443", "localhost:8443"; port 1..65535. mark is left empty. */
unit_result<listen_address> parse_listen_address(std::string_view text);

/**
 * "app1.corp.example:8443", "[2001:db8::1]:8443"; port 1..65535. A name is lower-cased and loses
 * a trailing dot, so that the TLSA name _PORT._tcp.NAME is built from one spelling.
 */
unit_result<endpoint_address> parse_endpoint_address(std::string_view text);

/** Where a resolver (forwarder, stub server) listens. */
struct resolver_address {
    std::string host;  ///< an IPv4 or IPv6 literal
    std::uint16_t port = 53;
};

/**
 * libunbound's "ADDR@PORT" ("10.0.0.53@53", "::1@5353"); ADDR alone means port 53. ADDR must be an
 * IP literal: unbound's forward-addr and stub-addr take no names.
 */
unit_result<resolver_address> parse_resolver_address(std::string_view text);

/** What a name may look like besides plain letter-digit-hyphen labels. */
struct name_rules {
    bool allow_wildcard = false;    ///< a leading "*." label (route host and sni patterns)
    bool allow_underscore = false;  ///< "_https._tcp.app.example" (SRV and TLSA owner names)
};

/**
 * A DNS name: labels of 1..63 characters, 253 at most in all, optional trailing dot.
 * @return the name lower-cased, without a trailing dot; or why it is not a name.
 */
unit_result<std::string> parse_domain_name(std::string_view text, name_rules rules = {});

/** Whether @p text is an IPv4 or IPv6 literal (no brackets). */
bool is_ip_literal(std::string_view text);

}  // namespace danegate::conf
