// danegate_tls_echo_server --listen ADDR:PORT --cert PEM --key PEM [--record FILE]
//
// The TLS upstream for TCP-listener tests: echoes every byte it receives, in order, over TLS with
// a self-signed certificate. When the client ends its direction (close_notify, or a FIN without
// one) everything received has already been echoed (one read, then one write, then the next read);
// the server then ends its own direction with close_notify and closes. So a client that half-closes
// still gets all its bytes back followed by an orderly end, which is what the half-close tests
// look for through the proxy.
//
// --record FILE gets a line per connection whose TLS handshake completed, when it completes, and
// one when it ends, flushed at once, so that a test can prove that no connection arrived:
//   <id> connected
//   <id> closed <bytes echoed> <how: close_notify | truncated | error: ...>
// The test bed's readiness probe only opens a TCP connection, so it records nothing.
//
// Limits: 16 KiB buffer per connection, 30 s idle on every operation. One thread. SIGTERM or SIGINT
// stops it (exit status 0). Asio's implementation comes from danegate_dane (dane/asio_impl.cpp).
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>

namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using boost::system::error_code;

constexpr auto idle_limit = std::chrono::seconds(30);

/** The record file; null when not recording. */
std::FILE* record_file = nullptr;

void record(std::uint64_t id, const std::string& what)
{
    if (record_file != nullptr) {
        std::fprintf(record_file, "%llu %s\n", static_cast<unsigned long long>(id), what.c_str());
        std::fflush(record_file);
    }
}

class echo_connection : public std::enable_shared_from_this<echo_connection> {
public:
    echo_connection(tcp::socket&& socket, net::ssl::context& context, std::uint64_t id)
        : stream_(std::move(socket), context), timer_(stream_.get_executor()), id_(id)
    {
    }

    void start()
    {
        arm();
        stream_.async_handshake(net::ssl::stream_base::server, [self = shared_from_this()](error_code ec) {
            if (ec) {
                self->close();  // not a TLS client (e.g. the readiness probe): nothing to record
                return;
            }
            record(self->id_, "connected");
            self->do_read();
        });
    }

private:
    // One deadline for whatever operation is pending; closing the socket makes it fail.
    void arm()
    {
        timer_.expires_after(idle_limit);
        timer_.async_wait([self = shared_from_this()](error_code ec) {
            if (!ec) {
                self->close();
            }
        });
    }

    void do_read()
    {
        arm();
        stream_.async_read_some(net::buffer(buffer_), [self = shared_from_this()](error_code ec, std::size_t n) {
            self->on_read(ec, n);
        });
    }

    void on_read(error_code ec, std::size_t n)
    {
        if (ec == net::error::eof || ec == net::ssl::error::stream_truncated) {
            end(ec == net::error::eof ? "close_notify" : "truncated");
            return;
        }
        if (ec) {
            finish("error: " + ec.message());
            return;
        }
        arm();
        net::async_write(stream_, net::buffer(buffer_.data(), n), [self = shared_from_this()](error_code write_ec, std::size_t written) {
            self->echoed_ += written;
            if (write_ec) {
                self->finish("error: " + write_ec.message());
                return;
            }
            self->do_read();
        });
    }

    // The client ended its direction: everything has been echoed, so end ours. The client's end
    // has been received, so async_shutdown only sends close_notify and does not wait.
    void end(const std::string& how)
    {
        arm();
        stream_.async_shutdown([self = shared_from_this(), how](error_code) { self->finish(how); });
    }

    void finish(const std::string& how)
    {
        record(id_, "closed " + std::to_string(echoed_) + " " + how);
        close();
    }

    void close()
    {
        timer_.cancel();
        error_code ignored;
        stream_.lowest_layer().close(ignored);
    }

    net::ssl::stream<tcp::socket> stream_;
    net::steady_timer timer_;
    std::uint64_t id_;
    std::uint64_t echoed_ = 0;
    std::array<char, 16 * 1024> buffer_{};
};

class echo_server {
public:
    echo_server(net::io_context& io, const tcp::endpoint& endpoint, net::ssl::context& context)
        : acceptor_(io, endpoint), context_(context)
    {
    }

    void do_accept()
    {
        acceptor_.async_accept([this](error_code ec, tcp::socket socket) {
            if (ec == net::error::operation_aborted) {
                return;
            }
            if (!ec) {
                std::make_shared<echo_connection>(std::move(socket), context_, ++connections_)->start();
            }
            do_accept();
        });
    }

    void stop()
    {
        error_code ignored;
        acceptor_.close(ignored);
    }

private:
    tcp::acceptor acceptor_;
    net::ssl::context& context_;
    std::uint64_t connections_ = 0;
};

int usage(const char* argv0)
{
    std::cerr << "usage: " << argv0 << " --listen ADDR:PORT --cert PEM --key PEM [--record FILE]\n";
    return 2;
}

}  // namespace

int main(int argc, char** argv)
{
    std::string listen;
    std::string cert;
    std::string key;
    std::string record_path;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string_view flag = argv[i];
        if (flag == "--listen") {
            listen = argv[i + 1];
        } else if (flag == "--cert") {
            cert = argv[i + 1];
        } else if (flag == "--key") {
            key = argv[i + 1];
        } else if (flag == "--record") {
            record_path = argv[i + 1];
        } else {
            return usage(argv[0]);
        }
    }
    const auto colon = listen.rfind(':');
    if (argc % 2 != 1 || colon == std::string::npos || cert.empty() || key.empty()) {
        return usage(argv[0]);
    }
    if (!record_path.empty()) {
        record_file = std::fopen(record_path.c_str(), "a");
        if (record_file == nullptr) {
            std::perror(("cannot open " + record_path).c_str());
            return 1;
        }
    }
    std::signal(SIGPIPE, SIG_IGN);
    try {
        net::io_context io(1);
        net::ssl::context context(net::ssl::context::tls_server);
        context.use_certificate_chain_file(cert);
        context.use_private_key_file(key, net::ssl::context::pem);
        const tcp::endpoint endpoint(net::ip::make_address(listen.substr(0, colon)),
                                     static_cast<std::uint16_t>(std::stoi(listen.substr(colon + 1))));
        echo_server server(io, endpoint, context);
        server.do_accept();
        net::signal_set signals(io, SIGTERM, SIGINT);
        signals.async_wait([&](error_code, int) {
            server.stop();
            io.stop();
        });
        io.run();
    } catch (const std::exception& e) {
        std::cerr << "danegate_tls_echo_server: " << e.what() << "\n";
        return 1;
    }
    if (record_file != nullptr) {
        std::fclose(record_file);
    }
    return 0;
}
