// The acceptor of one listener; see listener.hpp.
#include "proxy/listener.hpp"

#include "proxy/bind_address.hpp"
#include "proxy/http_session.hpp"
#include "proxy/tcp_session.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include <spdlog/spdlog.h>

namespace danegate::proxy {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using boost::system::error_code;

std::shared_ptr<listener> listener::create(net::io_context& io, std::shared_ptr<proxy_state> state,
                                           const conf::listener& config, std::string& error)
{
    auto result = std::make_shared<listener>(io, std::move(state), config);
    if (!bind_acceptor(result->acceptor_, io, config.address, error)) {
        error = "listener " + config.name + " on " + error;
        return nullptr;
    }
    return result;
}

listener::listener(net::io_context& io, std::shared_ptr<proxy_state> state, const conf::listener& config)
    : io_(io),
      state_(std::move(state)),
      name_(config.name),
      address_(config.address),
      acceptor_(net::make_strand(io)),
      retry_timer_(acceptor_.get_executor())
{
}

void listener::start()
{
    net::post(acceptor_.get_executor(), [self = shared_from_this()] { self->do_accept(); });
}

void listener::stop()
{
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
        error_code ignored;
        self->acceptor_.close(ignored);
    });
}

tcp::endpoint listener::local_endpoint() const
{
    error_code ignored;
    return acceptor_.local_endpoint(ignored);
}

void listener::do_accept()
{
    // Each connection gets its own strand, which its upstream leg runs on too; with a single io
    // thread the io_context itself serializes everything (proxy_state::io_threads).
    const auto executor = state_->io_threads == 1 ? net::any_io_executor(io_.get_executor())
                                                  : net::any_io_executor(net::make_strand(io_));
    acceptor_.async_accept(executor, peer_, [self = shared_from_this()](error_code ec, tcp::socket socket) {
        self->on_accept(ec, std::move(socket));
    });
}

void listener::on_accept(error_code ec, tcp::socket socket)
{
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) {
        return;  // stopped
    }
    if (ec) {
        // EMFILE and friends: the connection stays in the backlog, so accepting again at once
        // would spin; wait a moment, then go on rather than die.
        spdlog::warn("listener {}: accept: {}; retrying in 200 ms", name_, ec.message());
        retry_timer_.expires_after(std::chrono::milliseconds(200));
        retry_timer_.async_wait([self = shared_from_this()](error_code wait_ec) {
            if (!wait_ec) {
                self->do_accept();
            }
        });
        return;
    }
    auto current = state_->current();
    auto runtime = current->listener(name_);
    if (!runtime) {
        // A reload removed this listener; it is being stopped.
        error_code ignored;
        socket.close(ignored);
        return;
    }
    const auto max_connections = current->config->limits.max_connections;
    if (state_->connections.size() >= max_connections) {
        // limits.max_connections: refuse by closing at once; the client may retry elsewhere.
        spdlog::warn("listener {}: connection limit ({}) reached; closing a new connection", name_, max_connections);
        error_code ignored;
        socket.close(ignored);
    } else {
        switch (runtime->config.protocol) {
        case conf::listener_protocol::http:
            start_http_session(std::move(socket), peer_, state_, std::move(current), std::move(runtime));
            break;
        case conf::listener_protocol::tcp:
            start_tcp_session(std::move(socket), peer_, state_, std::move(current), std::move(runtime));
            break;
        }
    }
    do_accept();
}

}  // namespace danegate::proxy
