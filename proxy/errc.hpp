// proxy::errc: how obtaining an upstream connection failed, as error_codes on the I/O path
// (STYLE rec. 4). The session maps them to status codes: DANE/TLS failures and refused connections
// are 502, timeouts 504 (DESIGN §4).
#pragma once

#include <boost/system/error_code.hpp>

#include <type_traits>

namespace danegate::proxy {

enum class errc {
    upstream_rejected = 1,  ///< DANE said no (any verdict but `authenticated`): 502
    connect_failed,         ///< no validated address accepted a TCP connection: 502
    connect_timeout,        ///< connect or handshake exceeded timeouts.connect: 504
    shutting_down,          ///< the server is stopping
};

const boost::system::error_category& proxy_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept
{
    return {static_cast<int>(e), proxy_category()};
}

}  // namespace danegate::proxy

namespace boost::system {
template <>
struct is_error_code_enum<danegate::proxy::errc> : std::true_type {};
}  // namespace boost::system
