// One configured listener: the acceptor, one strand per accepted connection (DESIGN: shared with
// the upstream leg), and the limits.max_connections bound across all listeners.
#pragma once

#include "proxy/proxy_state.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <string>

namespace danegate::proxy {

class listener : public std::enable_shared_from_this<listener> {
public:
    /**
     * Binds @p config's address. @return nullptr with @p error set when it cannot (address in
     * use, permission, unresolvable name). Each accepted connection is served with the runtime of
     * the listener of the same name in the state's current generation (so a reload rotates
     * certificates and routes without rebinding).
     */
    static std::shared_ptr<listener> create(boost::asio::io_context& io, std::shared_ptr<proxy_state> state,
                                            const conf::listener& config, std::string& error);

    listener(boost::asio::io_context& io, std::shared_ptr<proxy_state> state, const conf::listener& config);

    const std::string& name() const noexcept { return name_; }
    /** The address as configured: a reload that keeps it keeps this listener. */
    const conf::listen_address& address() const noexcept { return address_; }

    void start();
    /** Stops accepting; connections already accepted go on. Thread-safe (posts to the acceptor). */
    void stop();

    boost::asio::ip::tcp::endpoint local_endpoint() const;

private:
    void do_accept();
    void on_accept(boost::system::error_code ec, boost::asio::ip::tcp::socket socket);

    boost::asio::io_context& io_;
    std::shared_ptr<proxy_state> state_;
    std::string name_;
    conf::listen_address address_;
    boost::asio::ip::tcp::acceptor acceptor_;
    boost::asio::steady_timer retry_timer_;  // backs off after an accept error (EMFILE ...)
    // Filled by accept itself, so that a session needs no getpeername of its own. One accept is
    // pending at a time, so one endpoint serves them all.
    boost::asio::ip::tcp::endpoint peer_;
};

}  // namespace danegate::proxy
