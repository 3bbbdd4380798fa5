// byte_relay with real TLS peers over loopback, in process: the relay's two streams run on an
// io_context thread, the peers at each end (a "client" and an "upstream") use blocking Asio calls
// from the test thread. The end-to-end suite (tcp_proxy_e2e) covers the relay behind a listener;
// these cases cover what it cannot reach: pending bytes, how each end is reported, and that the
// streams may be destroyed as soon as `done` has run.
#include "proxy/byte_relay.hpp"
#include "tests/proxy/test_server_context.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <gtest/gtest.h>

#include <future>
#include <stdexcept>
#include <memory>
#include <thread>

namespace danegate::proxy {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using boost::system::error_code;
using namespace std::chrono_literals;
/** The peers: Asio's blocking TLS stream, the reference the relay's tls_streams must interoperate with. */
using peer_stream = net::ssl::stream<tcp::socket>;

/** The relay's two streams; handed to the relay as its owner. */
struct relay_streams {
    relay_streams(const net::any_io_executor& strand, net::ssl::context& server, net::ssl::context& client_context)
        : client(strand, server), upstream(strand, client_context)
    {
    }

    tls_stream client;    // the proxy's end of the client connection (TLS server)
    tls_stream upstream;  // the proxy's end of the upstream connection (TLS client)
};

class byte_relay_test : public ::testing::Test {
protected:
    void SetUp() override
    {
        owner_alive_in_done_ = false;
        runner_ = std::thread([this] { io_.run(); });
        strand_ = net::make_strand(io_);
        streams_ = std::make_shared<relay_streams>(strand_, *server_context_, client_context_);
        // client peer (TLS client) <-> streams_->client (TLS server)
        connect_pair(peer_client_.next_layer(), streams_->client.next_layer());
        // streams_->upstream (TLS client) <-> peer upstream (TLS server)
        connect_pair(streams_->upstream.next_layer(), peer_upstream_.next_layer());
        // The relay's tls_streams are asynchronous only: their handshakes run on io_'s thread
        // while the blocking peers handshake from this one.
        std::promise<error_code> client_done;
        std::promise<error_code> upstream_done;
        streams_->client.async_handshake(net::ssl::stream_base::server, [&](error_code ec) { client_done.set_value(ec); });
        streams_->upstream.async_handshake(net::ssl::stream_base::client, [&](error_code ec) { upstream_done.set_value(ec); });
        auto peer_side = std::async(std::launch::async, [this] { peer_upstream_.handshake(net::ssl::stream_base::server); });
        peer_client_.handshake(net::ssl::stream_base::client);
        peer_side.get();
        const error_code client_ec = client_done.get_future().get();
        const error_code upstream_ec = upstream_done.get_future().get();
        ASSERT_FALSE(client_ec) << client_ec.message();
        ASSERT_FALSE(upstream_ec) << upstream_ec.message();
    }

    void TearDown() override
    {
        work_.reset();
        io_.stop();
        runner_.join();
    }

    static void connect_pair(tcp::socket& connecting, tcp::socket& accepted)
    {
        tcp::acceptor acceptor(connecting.get_executor(), tcp::endpoint(net::ip::address_v4::loopback(), 0));
        connecting.connect(acceptor.local_endpoint());
        acceptor.accept(accepted);
    }

    /** Starts the relay; the future is ready when `done` has run. */
    std::future<relay_result> start(std::string to_upstream, std::string to_client, std::chrono::milliseconds idle)
    {
        auto promise = std::make_shared<std::promise<relay_result>>();
        auto result = promise->get_future();
        auto& streams = *streams_;
        std::weak_ptr<relay_streams> weak = streams_;
        start_byte_relay(strand_, std::move(streams_), streams.client, streams.upstream, std::move(to_upstream),
                         std::move(to_client), idle, [promise, weak](relay_result r) {
                             owner_alive_in_done_ = !weak.expired();
                             promise->set_value(std::move(r));
                         });
        owner_ = weak;
        return result;
    }

    static std::string read_exactly(peer_stream& stream, std::size_t size)
    {
        std::string data(size, '\0');
        net::read(stream, net::buffer(data));
        return data;
    }

    /** Reads until the stream ends; @p how gets the error that ended it. */
    static std::string read_to_end(peer_stream& stream, error_code& how)
    {
        std::string data;
        char buffer[4096];
        for (;;) {
            const auto n = stream.read_some(net::buffer(buffer), how);
            data.append(buffer, n);
            if (how) {
                return data;
            }
        }
    }

    net::io_context io_;
    net::executor_work_guard<net::io_context::executor_type> work_ = net::make_work_guard(io_);
    std::thread runner_;
    net::any_io_executor strand_;
    std::unique_ptr<net::ssl::context> server_context_ = danegate::test::make_server_context("relay.test");
    net::ssl::context client_context_{net::ssl::context::tls_client};
    std::shared_ptr<relay_streams> streams_;
    std::weak_ptr<relay_streams> owner_;
    // The peers run blocking calls from the test thread; their executor is never run.
    net::io_context peer_io_;
    peer_stream peer_client_{peer_io_, client_context_};
    peer_stream peer_upstream_{peer_io_, *server_context_};
    static inline bool owner_alive_in_done_ = false;
};

TEST_F(byte_relay_test, pending_bytes_go_first_and_both_ends_are_forwarded_as_close_notify)
{
    auto done = start("HEAD", "TAIL", 10s);
    net::write(peer_client_, net::buffer(std::string("abc")));
    EXPECT_EQ(read_exactly(peer_upstream_, 7), "HEADabc");
    net::write(peer_upstream_, net::buffer(std::string("xyz")));
    EXPECT_EQ(read_exactly(peer_client_, 7), "TAILxyz");

    // The client ends its direction; its end reaches the upstream as a close_notify, and the
    // upstream's own end comes back the same way.
    auto client_end = std::async(std::launch::async, [this] {
        error_code ec;
        peer_client_.shutdown(ec);  // sends close_notify, then waits for the upstream's
        return ec;
    });
    error_code upstream_how;
    EXPECT_EQ(read_to_end(peer_upstream_, upstream_how), "");
    EXPECT_EQ(upstream_how, net::error::eof) << "the client's end arrives as close_notify: " << upstream_how.message();
    error_code ignored;
    peer_upstream_.shutdown(ignored);  // the client's end has arrived: only sends close_notify

    const auto result = done.get();
    EXPECT_EQ(result.detail, "");
    EXPECT_TRUE(result.client_ended);
    EXPECT_TRUE(result.upstream_ended);
    EXPECT_FALSE(result.idle_timeout);
    EXPECT_EQ(result.bytes_to_upstream, 7u);
    EXPECT_EQ(result.bytes_to_client, 7u);
    EXPECT_TRUE(owner_alive_in_done_);
    EXPECT_FALSE(client_end.get()) << "the client's shutdown ended without the upstream's close_notify";
}

TEST_F(byte_relay_test, a_fin_without_close_notify_ends_the_direction_and_is_reported)
{
    auto done = start({}, {}, 10s);
    net::write(peer_client_, net::buffer(std::string("bye")));
    EXPECT_EQ(read_exactly(peer_upstream_, 3), "bye");
    peer_client_.next_layer().shutdown(tcp::socket::shutdown_send);  // truncation: no close_notify

    error_code upstream_how;
    EXPECT_EQ(read_to_end(peer_upstream_, upstream_how), "");
    EXPECT_EQ(upstream_how, net::error::eof) << "forwarded as a close_notify: " << upstream_how.message();
    net::write(peer_upstream_, net::buffer(std::string("still here")));
    EXPECT_EQ(read_exactly(peer_client_, 10), "still here") << "the other direction keeps flowing";
    error_code ignored;
    peer_upstream_.shutdown(ignored);

    const auto result = done.get();
    EXPECT_EQ(result.detail, "client ended without close_notify");
    EXPECT_TRUE(result.client_ended);
    EXPECT_TRUE(result.upstream_ended);
    EXPECT_EQ(result.bytes_to_client, 10u);
}

TEST_F(byte_relay_test, silence_ends_the_relay_at_the_idle_timeout_with_nothing_pending)
{
    const auto started = std::chrono::steady_clock::now();
    auto done = start({}, {}, 300ms);
    ASSERT_EQ(done.wait_for(5s), std::future_status::ready);
    const auto elapsed = std::chrono::steady_clock::now() - started;
    const auto result = done.get();
    EXPECT_TRUE(result.idle_timeout);
    EXPECT_EQ(result.detail, "idle for 300 ms");
    EXPECT_GE(elapsed, 290ms);
    EXPECT_LT(elapsed, 3s);
    EXPECT_TRUE(owner_alive_in_done_);
    // Both reads were pending; once `done` has run the relay holds nothing, so the streams (the
    // owner) go at once. A handler still pending would keep it alive (and, under ASan, touch
    // freed streams once the test ends).
    for (int i = 0; i < 100 && !owner_.expired(); ++i) {
        std::this_thread::sleep_for(10ms);
    }
    EXPECT_TRUE(owner_.expired());
    error_code how;
    read_to_end(peer_client_, how);
    EXPECT_TRUE(how) << "the client's connection was shut down";
}

TEST_F(byte_relay_test, traffic_keeps_the_relay_past_the_idle_timeout)
{
    auto done = start({}, {}, 500ms);
    for (int i = 0; i < 10; ++i) {  // 10 x 100 ms: twice the idle timeout, never 500 ms silent
        net::write(peer_client_, net::buffer(std::string("x")));
        EXPECT_EQ(read_exactly(peer_upstream_, 1), "x");
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_EQ(done.wait_for(0ms), std::future_status::timeout) << "ended while bytes were moving";
    const auto result = done.get();  // now silent: the idle timeout ends it
    EXPECT_TRUE(result.idle_timeout);
    EXPECT_EQ(result.bytes_to_upstream, 10u);
}

}  // namespace
}  // namespace danegate::proxy
