// DESIGN §1 end to end, with real peers only: libunbound validating zones signed for this run and
// served by NSD, and OpenSSL handshakes against openssl s_server backends (tests/data/README.md).
// Every row of the reason table has a passing case and a failing twin; every rejection before the
// handshake is also checked to send nothing to the backend.
#include "dane/authenticate.hpp"
#include "dane/openssl_dane.hpp"
#include "tests/dane/dane_fixture.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <openssl/ssl.h>

#include <algorithm>
#include <thread>

namespace danegate::test {
namespace {

namespace net = boost::asio;
using dane::reason;

struct matrix_case {
    const char* label;
    reason expected;
    const char* matched_prefix;  // "3 1 1" etc. for authenticated cases
    int depth;                   // expected match depth, -1 when not authenticated
};

std::ostream& operator<<(std::ostream& out, const matrix_case& c)
{
    return out << c.label << " -> " << dane::to_string(c.expected);
}

std::string case_name(const ::testing::TestParamInfo<matrix_case>& info)
{
    std::string name = info.param.label;
    std::replace(name.begin(), name.end(), '.', '_');
    return name;
}

class dane_matrix : public dane_testbed_fixture, public ::testing::WithParamInterface<matrix_case> {};

TEST_P(dane_matrix, gives_the_expected_reason)
{
    const matrix_case& c = GetParam();
    auto result = lookup(c.label);
    ASSERT_TRUE(result);
    auto outcome = probe(result);
    EXPECT_EQ(outcome.outcome.outcome, c.expected)
        << "got " << dane::to_string(outcome.outcome.outcome) << ": " << outcome.outcome.detail;
    if (c.expected == reason::authenticated) {
        ASSERT_TRUE(outcome.outcome.matched.has_value());
        EXPECT_TRUE(outcome.outcome.matched->to_string().starts_with(c.matched_prefix))
            << outcome.outcome.matched->to_string();
        EXPECT_EQ(outcome.outcome.depth, c.depth);
        EXPECT_TRUE(outcome.handshake_attempted);
    } else {
        EXPECT_FALSE(outcome.outcome.authenticated());
        EXPECT_FALSE(outcome.outcome.matched.has_value());
    }
    // Rejections decided by DNS never open a connection at all.
    const bool decided_by_dns = c.expected == reason::no_tlsa || c.expected == reason::insecure ||
                                c.expected == reason::bogus || c.expected == reason::unusable;
    if (decided_by_dns) {
        EXPECT_FALSE(outcome.connected);
        EXPECT_FALSE(outcome.handshake_attempted);
    }
}

INSTANTIATE_TEST_SUITE_P(
    dane_ee, dane_matrix,
    ::testing::Values(matrix_case{"ee311", reason::authenticated, "3 1 1", 0},
                      matrix_case{"ee301", reason::authenticated, "3 0 1", 0},
                      matrix_case{"ee312", reason::authenticated, "3 1 2", 0},
                      matrix_case{"ee310", reason::authenticated, "3 1 0", 0},
                      matrix_case{"eersa", reason::authenticated, "3 1 1", 0},
                      // RFC 7671 §5.1: DANE-EE ignores validity dates and names.
                      matrix_case{"eeexpired", reason::authenticated, "3 1 1", 0},
                      matrix_case{"eewrongright", reason::authenticated, "3 1 1", 0},
                      matrix_case{"eerollover", reason::authenticated, "3 1 1", 0},
                      matrix_case{"eewrong", reason::mismatch, "", -1}),
    case_name);

INSTANTIATE_TEST_SUITE_P(
    dane_ta, dane_matrix,
    ::testing::Values(matrix_case{"ta", reason::authenticated, "2 0 1", 2},
                      matrix_case{"taother", reason::mismatch, "", -1},
                      matrix_case{"taexpired", reason::mismatch, "", -1},
                      matrix_case{"tanoroot", reason::mismatch, "", -1},
                      // A full-certificate TA record works without the TA in the chain; OpenSSL
                      // reports the depth just above the last certificate sent (leaf 0, int 1).
                      matrix_case{"ta200", reason::authenticated, "2 0 0", 2}),
    case_name);

INSTANTIATE_TEST_SUITE_P(
    dnssec, dane_matrix,
    ::testing::Values(matrix_case{"unusable", reason::unusable, "", -1},
                      matrix_case{"nxd", reason::no_tlsa, "", -1},
                      matrix_case{"nodata", reason::no_tlsa, "", -1},
                      matrix_case{"bogus", reason::bogus, "", -1},
                      matrix_case{"app.expired", reason::bogus, "", -1},
                      matrix_case{"app.unsigned", reason::insecure, "", -1},
                      matrix_case{"app.badds", reason::bogus, "", -1},
                      matrix_case{"app.child", reason::authenticated, "3 1 1", 0},
                      matrix_case{"alias", reason::authenticated, "3 1 1", 0},
                      matrix_case{"alias2", reason::authenticated, "3 1 1", 0},
                      matrix_case{"aliasbogus", reason::bogus, "", -1},
                      matrix_case{"wild", reason::authenticated, "3 1 1", 0}),
    case_name);

// A listener on the test bed's spare address (127.0.0.40) that never accepts: the kernel still
// completes a TCP handshake into its backlog, so a pending connection proves one was attempted.
class silent_listener {
public:
    silent_listener() : acceptor_(io_, {net::ip::make_address("127.0.0.40"), testbed::get().port()})
    {
        acceptor_.non_blocking(true);
    }

    bool was_connected()
    {
        boost::system::error_code ec;
        net::ip::tcp::socket socket(io_);
        acceptor_.accept(socket, ec);
        return !ec;
    }

private:
    net::io_context io_;
    net::ip::tcp::acceptor acceptor_;
};

// A plain TCP server on 127.0.0.40 that answers one connection with text, not TLS. It gives up
// after a few seconds, so a test that never connects fails instead of hanging in the destructor.
class plaintext_server {
public:
    plaintext_server() : acceptor_(io_, {net::ip::make_address("127.0.0.40"), testbed::get().port()})
    {
        acceptor_.non_blocking(true);
        thread_ = std::thread([this] {
            const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds{5};
            net::ip::tcp::socket socket(io_);
            boost::system::error_code ec = net::error::would_block;
            while (ec == net::error::would_block && std::chrono::steady_clock::now() < give_up) {
                acceptor_.accept(socket, ec);
                if (ec == net::error::would_block) {
                    std::this_thread::sleep_for(std::chrono::milliseconds{10});
                }
            }
            if (!ec) {
                socket.non_blocking(false);
                net::write(socket, net::buffer(std::string_view("HTTP/1.0 400 Not TLS\r\n\r\n")), ec);
            }
        });
    }
    ~plaintext_server() { thread_.join(); }

private:
    net::io_context io_;
    net::ip::tcp::acceptor acceptor_;
    std::thread thread_;
};

class dane_traps : public dane_testbed_fixture {
protected:
    /** @p label's lookup, but pointing at 127.0.0.40, where the tests listen themselves. */
    std::shared_ptr<const dane::lookup_result> lookup_redirected(const std::string& label)
    {
        auto found = lookup(label);
        if (!found) {
            throw std::runtime_error("no lookup result for " + label);
        }
        auto copy = std::make_shared<dane::lookup_result>(*found);
        copy->addresses = {"127.0.0.40"};
        return copy;
    }

    /** An SSL from a context prepared for DANE upstreams, freed with the fixture. */
    SSL* fresh_ssl()
    {
        if (!ctx_) {
            ctx_.reset(SSL_CTX_new(TLS_client_method()));
            EXPECT_TRUE(dane::prepare_upstream_context(ctx_.get()));
        }
        ssls_.emplace_back(SSL_new(ctx_.get()));
        return ssls_.back().get();
    }

    struct ctx_free {
        void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
    };
    struct ssl_free {
        void operator()(SSL* s) const { SSL_free(s); }
    };
    std::unique_ptr<SSL_CTX, ctx_free> ctx_;
    std::vector<std::unique_ptr<SSL, ssl_free>> ssls_;
};

TEST_F(dane_traps, rejections_before_the_handshake_send_nothing_to_the_backend)
{
    for (const char* label : {"unusable", "nxd", "nodata", "bogus", "app.unsigned", "app.badds"}) {
        silent_listener backend;
        auto outcome = probe(lookup_redirected(label));
        EXPECT_FALSE(outcome.outcome.authenticated()) << label;
        EXPECT_FALSE(outcome.connected) << label;
        EXPECT_FALSE(backend.was_connected()) << label << ": a connection reached the backend";
    }
}

TEST_F(dane_traps, the_redirected_listener_does_see_an_authenticated_attempt)
{
    // The twin of the test above: the same redirection with usable records does connect.
    silent_listener backend;
    dane::probe_options options;
    options.timeout = std::chrono::milliseconds{300};
    auto outcome = probe(lookup_redirected("ee311"), options);
    EXPECT_TRUE(backend.was_connected());
    EXPECT_EQ(outcome.outcome.outcome, reason::tls_error) << outcome.outcome.detail;
    EXPECT_NE(outcome.outcome.detail.find("timed out"), std::string::npos) << outcome.outcome.detail;
}

TEST_F(dane_traps, a_backend_that_does_not_speak_tls_is_tls_error)
{
    plaintext_server backend;
    auto outcome = probe(lookup("notls"));
    EXPECT_TRUE(outcome.handshake_attempted);
    EXPECT_EQ(outcome.outcome.outcome, reason::tls_error) << outcome.outcome.detail;
}

TEST_F(dane_traps, a_refused_connection_is_tls_error)
{
    auto outcome = probe(lookup("notls"));
    EXPECT_FALSE(outcome.connected);
    EXPECT_EQ(outcome.outcome.outcome, reason::tls_error) << outcome.outcome.detail;
}

TEST_F(dane_traps, smtp_starttls_authenticates_and_plain_tls_to_smtp_does_not)
{
    dane::probe_options starttls;
    starttls.starttls = dane::starttls_protocol::smtp;
    auto upgraded = probe(lookup("smtp"), starttls);
    EXPECT_EQ(upgraded.outcome.outcome, reason::authenticated) << upgraded.outcome.detail;

    dane::probe_options direct;
    direct.timeout = std::chrono::seconds{2};
    auto plain = probe(lookup("smtp"), direct);
    EXPECT_EQ(plain.outcome.outcome, reason::tls_error) << plain.outcome.detail;
}

TEST_F(dane_traps, a_trust_store_on_the_upstream_context_is_refused)
{
    // With a CA store, OpenSSL could fall back to PKIX; the context must stay empty.
    std::unique_ptr<SSL_CTX, ctx_free> ctx(SSL_CTX_new(TLS_client_method()));
    ASSERT_TRUE(dane::prepare_upstream_context(ctx.get()));
    ASSERT_EQ(SSL_CTX_load_verify_locations(ctx.get(), testbed::get().file("ca-root.pem").c_str(), nullptr), 1);
    std::unique_ptr<SSL, ssl_free> ssl(SSL_new(ctx.get()));
    auto setup = dane::prepare_dane_handshake(ssl.get(), *lookup("ta"), {});
    EXPECT_FALSE(setup.may_handshake());
    EXPECT_EQ(setup.rejection()->outcome, reason::tls_error);

    // Twin: the same lookup on an empty store may handshake.
    EXPECT_TRUE(dane::prepare_dane_handshake(fresh_ssl(), *lookup("ta"), {}).may_handshake());
}

TEST_F(dane_traps, authenticate_never_accepts_an_ssl_it_did_not_set_up)
{
    auto found = lookup("ee311");
    SSL* prepared = fresh_ssl();
    SSL* other = fresh_ssl();
    auto setup = dane::prepare_dane_handshake(prepared, *found, {});
    ASSERT_TRUE(setup.may_handshake());
    EXPECT_EQ(setup.usable_records(), 1);
    // Even with a "successful" handshake reported, a foreign or unset-up SSL is never authenticated.
    EXPECT_EQ(dane::authenticate(other, setup, {}).outcome, reason::tls_error);
    EXPECT_EQ(dane::authenticate(nullptr, setup, {}).outcome, reason::tls_error);
    // And the prepared one, without a handshake, has no DANE match: mismatch, not authenticated.
    EXPECT_EQ(dane::authenticate(prepared, setup, {}).outcome, reason::mismatch);
}

TEST_F(dane_traps, a_setup_that_was_never_prepared_forbids_the_handshake)
{
    const dane::dane_setup never_prepared;
    EXPECT_FALSE(never_prepared.may_handshake());
    EXPECT_EQ(dane::authenticate(fresh_ssl(), never_prepared, {}).outcome, reason::tls_error);
}

TEST_F(dane_traps, a_rejection_stands_whatever_the_handshake_says)
{
    SSL* ssl = fresh_ssl();
    auto setup = dane::prepare_dane_handshake(ssl, *lookup("nxd"), {});
    ASSERT_FALSE(setup.may_handshake());
    EXPECT_EQ(dane::authenticate(ssl, setup, {}).outcome, reason::no_tlsa);
}

TEST_F(dane_traps, dane_ee_ignores_names_unless_the_upstream_opts_in)
{
    dane::probe_options strict;
    strict.policy.ee_name_checks = true;
    auto checked = probe(lookup("ee311"), strict);
    EXPECT_EQ(checked.outcome.outcome, reason::mismatch) << checked.outcome.detail;

    auto unchecked = probe(lookup("ee311"));
    EXPECT_EQ(unchecked.outcome.outcome, reason::authenticated) << unchecked.outcome.detail;
}

TEST_F(dane_traps, usages_the_policy_forbids_are_unusable)
{
    dane::probe_options ta_only;
    ta_only.policy.allow_dane_ee = false;
    auto outcome = probe(lookup("ee311"), ta_only);
    EXPECT_EQ(outcome.outcome.outcome, reason::unusable);
    EXPECT_FALSE(outcome.connected);

    dane::probe_options ee_only;
    ee_only.policy.allow_dane_ta = false;
    EXPECT_EQ(probe(lookup("ta"), ee_only).outcome.outcome, reason::unusable);
    EXPECT_EQ(probe(lookup("ta"), ta_only).outcome.outcome, reason::authenticated);
}

TEST_F(dane_traps, sni_is_the_tlsa_base_domain_unless_told_otherwise)
{
    auto found = lookup("ee311");
    SSL* by_default = fresh_ssl();
    ASSERT_TRUE(dane::prepare_dane_handshake(by_default, *found, {}).may_handshake());
    ASSERT_NE(SSL_get_servername(by_default, TLSEXT_NAMETYPE_host_name), nullptr);
    EXPECT_STREQ(SSL_get_servername(by_default, TLSEXT_NAMETYPE_host_name), "ee311.dg.test");

    // Behind a CNAME the SNI is the expanded name, the TLSA base domain (RFC 7671 §7), not the alias.
    SSL* aliased = fresh_ssl();
    ASSERT_TRUE(dane::prepare_dane_handshake(aliased, *lookup("alias"), {}).may_handshake());
    EXPECT_STREQ(SSL_get_servername(aliased, TLSEXT_NAMETYPE_host_name), "ee311.dg.test");

    dane::dane_policy none;
    none.sni = dane::sni_mode::none;
    SSL* without = fresh_ssl();
    ASSERT_TRUE(dane::prepare_dane_handshake(without, *found, none).may_handshake());
    EXPECT_EQ(SSL_get_servername(without, TLSEXT_NAMETYPE_host_name), nullptr);

    dane::dane_policy fixed;
    fixed.sni = dane::sni_mode::fixed;
    fixed.fixed_sni = "backend.example";
    SSL* pinned = fresh_ssl();
    ASSERT_TRUE(dane::prepare_dane_handshake(pinned, *found, fixed).may_handshake());
    EXPECT_STREQ(SSL_get_servername(pinned, TLSEXT_NAMETYPE_host_name), "backend.example");
}

TEST_F(dane_traps, a_cname_makes_the_expanded_name_the_base_domain_and_keeps_both_identifiers)
{
    const auto& bed = testbed::get();
    auto found = lookup("alias");
    ASSERT_EQ(found->status, dane::dns_status::secure_records) << found->detail;
    EXPECT_EQ(found->base_domain, bed.host("ee311") + ".");
    EXPECT_EQ(found->tlsa_name, bed.tlsa_name("ee311") + ".");
    EXPECT_EQ(found->reference_names, (std::vector<std::string>{bed.host("ee311") + ".", bed.host("alias") + "."}));

    // RFC 7671 §7: no TLSA at the expanded name (secure denial), so the original name is used.
    auto fallback = lookup("alias2");
    ASSERT_EQ(fallback->status, dane::dns_status::secure_records) << fallback->detail;
    EXPECT_EQ(fallback->base_domain, bed.host("alias2") + ".");
    EXPECT_EQ(fallback->reference_names, (std::vector<std::string>{bed.host("alias2") + ".", bed.host("plain") + "."}));
}

}  // namespace
}  // namespace danegate::test
