// The admin listener (issue 4 §1, DESIGN `admin.address`): plain HTTP/1.1 on an operator-chosen
// address, loopback in the examples, serving GET/HEAD of
//   /metrics  the Prometheus text exposition,
//   /healthz  200 while the process serves at all,
//   /readyz   200 when ready for traffic, else 503 with one line per reason (readiness.hpp).
// It is deliberately small and bounded: 16 connections at most, an 8 KiB request header, no
// request body, 10 s per request, answers generated on demand. Beast lives in admin_server.cpp.
#pragma once

#include "conf/config.hpp"
#include "proxy/in_use_mark.hpp"
#include "proxy/readiness.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <string>

namespace danegate::proxy {

class admin_server : public std::enable_shared_from_this<admin_server> {
public:
    /** What the endpoints answer; called on the admin connection's strand, must be thread-safe. */
    struct content {
        std::function<std::string()> metrics;  ///< the exposition text
        std::function<readiness()> ready;
    };

    /** Binds @p address. @return nullptr with @p error set when it cannot. */
    static std::shared_ptr<admin_server> create(boost::asio::io_context& io, const conf::listen_address& address,
                                                content answers, std::string& error);

    admin_server(boost::asio::io_context& io, content answers);

    void start();
    /** Stops accepting; requests under way finish. Thread-safe. */
    void stop();
    boost::asio::ip::tcp::endpoint local_endpoint() const;

    static constexpr std::size_t max_connections = 16;

private:
    void do_accept();

    boost::asio::io_context& io_;
    std::shared_ptr<const content> content_;
    boost::asio::ip::tcp::acceptor acceptor_;
    boost::asio::steady_timer retry_timer_;  // backs off after an accept error (EMFILE ...)
    in_use_counter open_;  // connections being served now (each holds an in_use_mark)
};

}  // namespace danegate::proxy
