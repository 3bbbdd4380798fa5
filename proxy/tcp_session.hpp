// Downstream TCP over TLS (DESIGN §4 "TCP listeners route by SNI and relay bytes to a
// DANE-authenticated upstream"): one session per connection accepted on a `protocol: tcp`
// listener. Asio only, so including this header (or compiling tcp_session.cpp) is cheap.
#pragma once

#include "proxy/proxy_state.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <memory>

namespace danegate::proxy {

/**
 * Runs the TLS handshake on @p socket, routes on its SNI, obtains an authenticated upstream from
 * the connector and relays bytes both ways. @p socket's executor must be the strand made for this
 * connection at accept (shared with its upstream leg); @p peer is the client's address as accept
 * returned it.
 */
void start_tcp_session(boost::asio::ip::tcp::socket&& socket, const boost::asio::ip::tcp::endpoint& peer,
                       std::shared_ptr<proxy_state> state, std::shared_ptr<const generation> generation,
                       std::shared_ptr<const listener_runtime> listener);

}  // namespace danegate::proxy
