// Downstream HTTP/1.1 over TLS (DESIGN §4): one session per accepted connection. The class lives
// in http_session.cpp, the only Beast-heavy translation unit besides beast_impl.cpp, so that
// including this header costs nothing.
#pragma once

#include "proxy/proxy_state.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <memory>

namespace danegate::proxy {

/**
 * Runs the TLS handshake and the request loop on @p socket, whose executor must be the strand
 * made for this connection at accept (shared with its upstream leg). @p peer is the client's
 * address as accept returned it.
 */
void start_http_session(boost::asio::ip::tcp::socket&& socket, const boost::asio::ip::tcp::endpoint& peer,
                        std::shared_ptr<proxy_state> state, std::shared_ptr<const generation> generation,
                        std::shared_ptr<const listener_runtime> listener);

}  // namespace danegate::proxy
