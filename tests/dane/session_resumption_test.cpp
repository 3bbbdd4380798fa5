// TLS session resumption within DESIGN §1: a remembered session stands in for the handshake that
// authenticated it only under the same TLSA RRset, and a resumed handshake is authenticated only
// when prepare_dane_handshake offered that session. Real handshakes (blocking OpenSSL on a plain
// socket, TLS 1.2 so that the session exists when the handshake ends) against the test bed's
// `openssl s_server` for ee311.
#include "dane/authenticate.hpp"
#include "dane/openssl_dane.hpp"
#include "dane/tls_session_cache.hpp"
#include "tests/dane/dane_fixture.hpp"
#include "tests/support/process.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

namespace danegate::test {
namespace {

using dane::reason;

struct ctx_free {
    void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct ssl_free {
    void operator()(SSL* s) const { SSL_free(s); }
};

class session_resumption : public dane_testbed_fixture {
protected:
    void SetUp() override
    {
        dane_testbed_fixture::SetUp();
        ctx_.reset(SSL_CTX_new(TLS_client_method()));
        ASSERT_TRUE(dane::prepare_upstream_context(ctx_.get()));
        ASSERT_EQ(SSL_CTX_set_max_proto_version(ctx_.get(), TLS1_2_VERSION), 1);
        dane::tls_session_cache::enable_on(ctx_.get());
        found_ = lookup("ee311");
        ASSERT_TRUE(found_ && !found_->addresses.empty());
    }

    /** One blocking handshake with @p setup prepared on @p ssl; the verdict of authenticate(). */
    dane::verdict handshake(SSL* ssl, const dane::dane_setup& setup)
    {
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(testbed::get().port());
        inet_pton(AF_INET, found_->addresses.front().c_str(), &address.sin_addr);
        sockets_.emplace_back(::socket(AF_INET, SOCK_STREAM, 0));
        const int fd = sockets_.back().get();
        if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
            ADD_FAILURE() << "connect to " << found_->addresses.front() << " failed";
            return {};
        }
        // openssl s_server serves one connection at a time: never wait for it forever.
        timeval limit{10, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
        SSL_set_fd(ssl, fd);
        const bool ok = SSL_connect(ssl) == 1;
        const auto verdict = dane::authenticate(
            ssl, setup, ok ? boost::system::error_code{} : boost::system::errc::make_error_code(boost::system::errc::io_error));
        // Done with the connection (the verdict and the session are all a test needs): free s_server.
        SSL_shutdown(ssl);
        sockets_.back().reset();
        return verdict;
    }

    SSL* fresh_ssl()
    {
        ssls_.emplace_back(SSL_new(ctx_.get()));
        return ssls_.back().get();
    }

    std::unique_ptr<SSL_CTX, ctx_free> ctx_;
    std::vector<std::unique_ptr<SSL, ssl_free>> ssls_;
    std::vector<unique_fd> sockets_;
    std::shared_ptr<const dane::lookup_result> found_;
    std::shared_ptr<dane::tls_session_cache> cache_ = std::make_shared<dane::tls_session_cache>();
};

TEST_F(session_resumption, a_session_of_an_authenticated_handshake_is_resumed_under_the_same_rrset)
{
    SSL* first = fresh_ssl();
    const auto full = handshake(first, dane::prepare_dane_handshake(first, *found_, {}));
    ASSERT_TRUE(full.authenticated()) << full.detail;
    cache_->remember(first, "ee311", full, found_->rrset_digest);
    ASSERT_EQ(cache_->size(), 1u);

    SSL* second = fresh_ssl();
    const auto setup = dane::prepare_dane_handshake(second, *found_, {}, cache_->find("ee311"));
    EXPECT_TRUE(setup.offered_resumption());
    const auto resumed = handshake(second, setup);
    EXPECT_EQ(SSL_session_reused(second), 1);
    ASSERT_TRUE(resumed.authenticated()) << resumed.detail;
    EXPECT_EQ(resumed.detail, "resumed");
    ASSERT_TRUE(resumed.matched && full.matched);
    EXPECT_EQ(resumed.matched->to_string(), full.matched->to_string()) << "the original verdict stands";
}

TEST_F(session_resumption, no_session_is_offered_across_a_tlsa_change)
{
    SSL* first = fresh_ssl();
    const auto full = handshake(first, dane::prepare_dane_handshake(first, *found_, {}));
    ASSERT_TRUE(full.authenticated()) << full.detail;
    cache_->remember(first, "ee311", full, found_->rrset_digest);

    auto changed = *found_;
    changed.rrset_digest[0] ^= 0xff;  // a refresh brought another RRset
    SSL* second = fresh_ssl();
    const auto setup = dane::prepare_dane_handshake(second, changed, {}, cache_->find("ee311"));
    EXPECT_FALSE(setup.offered_resumption());
    const auto verdict = handshake(second, setup);
    EXPECT_EQ(SSL_session_reused(second), 0) << "a full handshake, verified against the records";
    EXPECT_TRUE(verdict.authenticated()) << verdict.detail;
    EXPECT_NE(verdict.detail, "resumed");
}

TEST_F(session_resumption, a_session_set_behind_prepare_s_back_is_never_authenticated)
{
    SSL* first = fresh_ssl();
    const auto full = handshake(first, dane::prepare_dane_handshake(first, *found_, {}));
    ASSERT_TRUE(full.authenticated()) << full.detail;
    cache_->remember(first, "ee311", full, found_->rrset_digest);

    SSL* second = fresh_ssl();
    const auto setup = dane::prepare_dane_handshake(second, *found_, {});  // nothing offered
    ASSERT_EQ(SSL_set_session(second, cache_->find("ee311")->session()), 1);
    const auto verdict = handshake(second, setup);
    ASSERT_EQ(SSL_session_reused(second), 1) << "the trap needs a resumed handshake";
    EXPECT_EQ(verdict.outcome, reason::tls_error) << "no certificate was verified and nothing was offered";
}

TEST_F(session_resumption, a_rejected_connection_leaves_no_session_behind)
{
    SSL* ssl = fresh_ssl();
    const auto full = handshake(ssl, dane::prepare_dane_handshake(ssl, *found_, {}));
    ASSERT_TRUE(full.authenticated()) << full.detail;
    dane::verdict rejected = full;
    rejected.outcome = reason::mismatch;
    cache_->remember(ssl, "ee311", rejected, found_->rrset_digest);
    EXPECT_EQ(cache_->size(), 0u);
    EXPECT_EQ(cache_->find("ee311"), nullptr);
}

TEST(tls_session_cache, keeps_at_most_its_capacity_and_forgets_on_request)
{
    auto cache = std::make_shared<dane::tls_session_cache>(2);
    dane::verdict ok;
    ok.outcome = reason::authenticated;
    SSL_SESSION* session = SSL_SESSION_new();
    ASSERT_NE(session, nullptr);
    cache->store("a", session, ok, {});
    cache->store("b", session, ok, {});
    cache->store("c", session, ok, {});
    SSL_SESSION_free(session);
    EXPECT_EQ(cache->size(), 2u);
    EXPECT_EQ(cache->find("a"), nullptr) << "the oldest goes first";
    EXPECT_NE(cache->find("c"), nullptr);
    cache->forget("c");
    EXPECT_EQ(cache->find("c"), nullptr);
    EXPECT_EQ(cache->size(), 1u);
}

}  // namespace
}  // namespace danegate::test
