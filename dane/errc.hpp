// dane::errc, its error category, and the result type dane/ returns at setup time. On the I/O path
// dane/ reports boost::system::error_code; parsing and configuration return result<T>, whose error
// carries a human-readable detail next to the code.
#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <string>
#include <type_traits>

namespace danegate::dane {

enum class errc {
    bad_tlsa_syntax = 1,   ///< presentation form is not "USAGE SELECTOR MTYPE HEX"
    tlsa_field_range,      ///< usage, selector or matching type outside 0..255
    bad_hex,               ///< association data is not an even number of hex digits
    empty_tlsa_data,       ///< association data is empty
    digest_length,         ///< data length does not fit matching type 1 (32) or 2 (64)
    truncated_rdata,       ///< wire rdata shorter than the 3 fixed octets plus data
    bad_domain_name,       ///< a host or zone name that is not a valid domain name
    resolver_setup,        ///< libunbound rejected an option, anchor, stub or forwarder
    lookup_failed,         ///< libunbound reported an error for the query
    certificate_load,      ///< a certificate file could not be read or parsed
    tls_setup,             ///< an OpenSSL call needed to set up DANE failed
};

const boost::system::error_category& dane_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept
{
    return {static_cast<int>(e), dane_category()};
}

/** An error with its code and a sentence for the operator. */
struct failure {
    boost::system::error_code code;
    std::string detail;

    /** "detail" when set, else the code's message. */
    std::string message() const;
};

inline failure make_failure(errc e, std::string detail)
{
    return failure{make_error_code(e), std::move(detail)};
}

/** Thrown only by result<T>::value() on an error; dane/ itself never throws it on purpose. */
[[noreturn]] void throw_exception_from_error(const failure& f, const boost::source_location& loc);

template <class T>
using result = boost::system::result<T, failure>;

}  // namespace danegate::dane

namespace boost::system {
template <>
struct is_error_code_enum<danegate::dane::errc> : std::true_type {};
}  // namespace boost::system
