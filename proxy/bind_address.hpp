// Opening a listening socket on a configured address, for the proxy listeners and the admin
// listener alike: a literal IP, or a name resolved once with the system resolver.
#pragma once

#include "conf/config.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <string>

namespace danegate::proxy {

/**
 * Opens, binds (SO_REUSEADDR) and listens @p acceptor on @p address.
 * @return false with @p error set ("HOST:PORT: reason") when any step fails.
 */
bool bind_acceptor(boost::asio::ip::tcp::acceptor& acceptor, boost::asio::io_context& io,
                   const conf::listen_address& address, std::string& error);

}  // namespace danegate::proxy
