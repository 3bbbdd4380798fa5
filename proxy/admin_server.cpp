// See admin_server.hpp. One admin_connection per accepted socket, on its own strand: read a
// request header (bounded), answer it, repeat while the client keeps the connection alive.
#include "proxy/admin_server.hpp"

#include "proxy/bind_address.hpp"
#include "proxy/in_use_mark.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <spdlog/spdlog.h>

namespace danegate::proxy {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using boost::system::error_code;

namespace {

constexpr std::size_t header_limit = 8 * 1024;
constexpr auto request_timeout = std::chrono::seconds(10);

class admin_connection : public std::enable_shared_from_this<admin_connection> {
public:
    admin_connection(tcp::socket&& socket, std::shared_ptr<const admin_server::content> answers,
                     in_use_mark slot)
        : stream_(std::move(socket)), content_(std::move(answers)), slot_(std::move(slot))
    {
    }

    void start()
    {
        net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->do_read(); });
    }

private:
    void do_read()
    {
        parser_.emplace();
        parser_->header_limit(header_limit);
        parser_->body_limit(0);  // these endpoints take no content
        stream_.expires_after(request_timeout);
        http::async_read(stream_, buffer_, *parser_,
                         [self = shared_from_this()](error_code ec, std::size_t) { self->on_read(ec); });
    }

    void on_read(error_code ec)
    {
        if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::eof) {
            return close();
        }
        if (ec) {
            return respond(http::status::bad_request, "bad request: " + ec.message() + "\n", false);
        }
        const auto& request = parser_->get();
        keep_alive_ = request.keep_alive();
        head_ = request.method() == http::verb::head;
        if (request.method() != http::verb::get && !head_) {
            return respond(http::status::method_not_allowed, "only GET and HEAD\n", keep_alive_);
        }
        auto target = std::string_view(request.target().data(), request.target().size());
        target = target.substr(0, target.find('?'));
        if (target == "/metrics") {
            return respond(http::status::ok, content_->metrics(), keep_alive_,
                           "text/plain; version=0.0.4; charset=utf-8");
        }
        if (target == "/healthz") {
            return respond(http::status::ok, "ok\n", keep_alive_);
        }
        if (target == "/readyz") {
            const auto verdict = content_->ready();
            if (verdict.ready) {
                return respond(http::status::ok, "ready\n", keep_alive_);
            }
            std::string body = "not ready\n";
            for (const auto& problem : verdict.problems) {
                body += problem + "\n";
            }
            return respond(http::status::service_unavailable, std::move(body), keep_alive_);
        }
        respond(http::status::not_found, "not found: /metrics, /healthz and /readyz are served here\n", keep_alive_);
    }

    void respond(http::status status, std::string body, bool keep_alive,
                 const char* type = "text/plain; charset=utf-8")
    {
        response_.emplace(status, 11);
        response_->set(http::field::server, "danegate");
        response_->set(http::field::content_type, type);
        response_->set(http::field::cache_control, "no-store");
        if (status == http::status::method_not_allowed) {
            response_->set(http::field::allow, "GET, HEAD");
        }
        response_->body() = std::move(body);
        response_->keep_alive(keep_alive);
        response_->prepare_payload();
        if (head_) {
            response_->body().clear();  // RFC 9110 §9.3.2: the Content-Length stays
        }
        stream_.expires_after(request_timeout);
        http::async_write(stream_, *response_, [self = shared_from_this(), keep_alive](error_code ec, std::size_t) {
            if (ec || !keep_alive) {
                return self->close();
            }
            self->do_read();
        });
    }

    void close()
    {
        error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
        stream_.close();
    }

    beast::tcp_stream stream_;
    std::shared_ptr<const admin_server::content> content_;
    in_use_mark slot_;  // counted in admin_server's open connections while this one lives
    beast::flat_buffer buffer_{header_limit};
    std::optional<http::request_parser<http::empty_body>> parser_;
    std::optional<http::response<http::string_body>> response_;
    bool keep_alive_ = false;
    bool head_ = false;
};

}  // namespace

std::shared_ptr<admin_server> admin_server::create(net::io_context& io, const conf::listen_address& address,
                                                   content answers, std::string& error)
{
    auto server = std::make_shared<admin_server>(io, std::move(answers));
    if (!bind_acceptor(server->acceptor_, io, address, error)) {
        error = "admin listener on " + error;
        return nullptr;
    }
    return server;
}

admin_server::admin_server(net::io_context& io, content answers)
    : io_(io),
      content_(std::make_shared<const content>(std::move(answers))),
      acceptor_(net::make_strand(io)),
      retry_timer_(acceptor_.get_executor()),
      open_(std::make_shared<std::atomic<std::int64_t>>(0))
{
}

void admin_server::start()
{
    net::post(acceptor_.get_executor(), [self = shared_from_this()] { self->do_accept(); });
}

void admin_server::stop()
{
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
        error_code ignored;
        self->acceptor_.close(ignored);
    });
}

tcp::endpoint admin_server::local_endpoint() const
{
    error_code ignored;
    return acceptor_.local_endpoint(ignored);
}

void admin_server::do_accept()
{
    acceptor_.async_accept(net::make_strand(io_), [self = shared_from_this()](error_code ec, tcp::socket socket) {
        if (ec == net::error::operation_aborted || !self->acceptor_.is_open()) {
            return;
        }
        if (ec) {
            // The connection stays in the backlog: accepting again at once would spin.
            spdlog::warn("admin listener: accept: {}; retrying in 200 ms", ec.message());
            self->retry_timer_.expires_after(std::chrono::milliseconds(200));
            self->retry_timer_.async_wait([self](error_code wait_ec) {
                if (!wait_ec) {
                    self->do_accept();
                }
            });
            return;
        }
        // Accepts run one at a time on the acceptor's strand, so the count can only have dropped
        // between this check and the mark below.
        if (self->open_->load() >= static_cast<std::int64_t>(max_connections)) {
            spdlog::warn("admin listener: {} connections open; closing a new one", max_connections);
            socket.close(ec);
        } else {
            std::make_shared<admin_connection>(std::move(socket), self->content_, in_use_mark(self->open_))->start();
        }
        self->do_accept();
    });
}

}  // namespace danegate::proxy
