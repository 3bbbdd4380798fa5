// upstream_pool without TLS traffic: connections are real loopback TCP sockets (no handshake is
// needed to test which idle connection is handed out, retired or closed, and when).
#include "proxy/upstream_pool.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <gtest/gtest.h>

namespace danegate::test {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
using proxy::upstream_pool;

constexpr std::array<std::uint8_t, 32> digest_a{1};
constexpr std::array<std::uint8_t, 32> digest_b{2};

class upstream_pool_test : public ::testing::Test {
protected:
    /** A connected upstream_connection to "host:port" whose peer end the test keeps. */
    std::unique_ptr<proxy::upstream_connection> connection(const std::string& host, std::uint16_t port,
                                                           const std::array<std::uint8_t, 32>& digest)
    {
        auto c = std::make_unique<proxy::upstream_connection>(proxy::upstream_stream(io_, tls_));
        c->stream.lowest_layer().connect(acceptor_.local_endpoint());
        peers_.push_back(acceptor_.accept());
        c->host = host;
        c->port = port;
        c->rrset_digest = digest;
        return c;
    }

    net::io_context io_;
    net::ssl::context tls_{net::ssl::context::tls_client};
    tcp::acceptor acceptor_{io_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)};
    std::vector<tcp::socket> peers_;
    upstream_pool::clock::time_point now_ = upstream_pool::clock::now();
};

TEST_F(upstream_pool_test, hands_out_the_newest_idle_connection_of_the_endpoint)
{
    upstream_pool pool(8, 60s);
    auto older = connection("a.example", 443, digest_a);
    auto newer = connection("a.example", 443, digest_a);
    auto other = connection("b.example", 443, digest_a);
    const auto* newer_ptr = newer.get();
    pool.release(std::move(older), now_);
    pool.release(std::move(newer), now_);
    pool.release(std::move(other), now_);
    EXPECT_EQ(pool.idle(), 3u);
    auto taken = pool.acquire("a.example", 443, digest_a, now_);
    EXPECT_EQ(taken.get(), newer_ptr);
    EXPECT_EQ(pool.acquire("a.example", 8443, digest_a, now_), nullptr) << "another port is another endpoint";
    EXPECT_EQ(pool.idle(), 2u);
}

TEST_F(upstream_pool_test, a_connection_of_another_rrset_is_retired_not_handed_out)
{
    upstream_pool pool(8, 60s);
    pool.release(connection("a.example", 443, digest_a), now_);
    EXPECT_EQ(pool.acquire("a.example", 443, digest_b, now_), nullptr);
    EXPECT_EQ(pool.retired(), 1u);
    EXPECT_EQ(pool.idle(), 0u) << "retired means closed, not kept for later";
    // Twin: the same RRset gets its connection.
    pool.release(connection("a.example", 443, digest_b), now_);
    EXPECT_NE(pool.acquire("a.example", 443, digest_b, now_), nullptr);
}

TEST_F(upstream_pool_test, idle_timeout_and_max_idle_bound_the_pool)
{
    upstream_pool pool(2, 10s);
    pool.release(connection("a.example", 443, digest_a), now_);
    pool.release(connection("a.example", 443, digest_a), now_ + 1s);
    pool.release(connection("a.example", 443, digest_a), now_ + 2s);
    EXPECT_EQ(pool.idle(), 2u) << "max_idle closes the oldest";
    pool.sweep(now_ + 11s);
    EXPECT_EQ(pool.idle(), 1u) << "the one released at +1 s is past idle_timeout at +11 s";
    EXPECT_EQ(pool.acquire("a.example", 443, digest_a, now_ + 12s), nullptr) << "expired on the way out too";
    EXPECT_EQ(pool.idle(), 0u);
}

TEST_F(upstream_pool_test, a_connection_the_upstream_closed_is_not_handed_out)
{
    upstream_pool pool(8, 60s);
    pool.release(connection("a.example", 443, digest_a), now_);
    peers_.back().close();  // the upstream's keep-alive timeout ran out
    // Checked once it has been idle for a while (one released within the last 50 ms is trusted:
    // under load the check would cost a system call per request; a retry covers the race).
    EXPECT_EQ(pool.acquire("a.example", 443, digest_a, now_ + 1s), nullptr);
    // Twin: an open one is.
    pool.release(connection("a.example", 443, digest_a), now_);
    EXPECT_NE(pool.acquire("a.example", 443, digest_a, now_ + 1s), nullptr);
}

TEST_F(upstream_pool_test, max_idle_zero_keeps_nothing)
{
    upstream_pool pool(0, 60s);
    pool.release(connection("a.example", 443, digest_a), now_);
    EXPECT_EQ(pool.idle(), 0u);
}

/** The counts of @p host:@p port in @p pool, or all zero. */
proxy::endpoint_pool_counts counts_of(const upstream_pool& pool, const std::string& host, std::uint16_t port)
{
    for (const auto& c : pool.counts()) {
        if (c.host == host && c.port == port) {
            return c;
        }
    }
    return {host, port, 0, 0};
}

TEST_F(upstream_pool_test, counts_connections_in_use_and_idle_per_endpoint)
{
    upstream_pool pool(8, 60s);
    auto first = connection("a.example", 443, digest_a);
    auto second = connection("a.example", 443, digest_a);
    auto other = connection("b.example", 443, digest_a);
    pool.mark_in_use(*first);
    pool.mark_in_use(*second);
    pool.mark_in_use(*other);
    EXPECT_EQ(counts_of(pool, "a.example", 443).in_use, 2);
    EXPECT_EQ(counts_of(pool, "b.example", 443).in_use, 1);

    pool.release(std::move(first), now_);
    EXPECT_EQ(counts_of(pool, "a.example", 443).in_use, 1) << "released: idle, no longer in use";
    EXPECT_EQ(counts_of(pool, "a.example", 443).idle, 1u);

    auto again = pool.acquire("a.example", 443, digest_a, now_);
    ASSERT_NE(again, nullptr);
    EXPECT_EQ(counts_of(pool, "a.example", 443).in_use, 2) << "acquired: in use again";
    EXPECT_EQ(counts_of(pool, "a.example", 443).idle, 0u);

    again.reset();
    other.reset();
    EXPECT_EQ(counts_of(pool, "a.example", 443).in_use, 1) << "closed while in use: uncounted";
    EXPECT_EQ(counts_of(pool, "b.example", 443).in_use, 0);
}

}  // namespace
}  // namespace danegate::test
