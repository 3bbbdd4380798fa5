// Black-box tests of `danegate tlsa verify`, `danegate version` and `--help`: the built binary is run
// against the real test bed (tests/data/README.md: NSD serving the signed dg.test. zones, TLS
// backends on 127.0.0.N) and every test asserts the exit code (0 authenticated, 1 not, 2 usage or
// configuration error, DESIGN §2) and, for 0 and 1, the reason word on the last line
// ("reason:      <word>", DESIGN §1). The authenticated cases also check the printed record,
// match, DNSSEC status and certificate; the failing cases cover every reason word, a dead
// resolver, and plaintext SMTP without --starttls; the usage errors print no reason line.
#include "tests/integration/danegate_runner.hpp"

#include "tests/support/process.hpp"
#include "tests/support/testbed.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace danegate::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

const testbed& bed()
{
    return testbed::get();
}

/** Asserts a run that ended by itself (not killed at the time limit) with @p code and @p reason. */
void expect_outcome(const cli_result& result, int code, const std::string& reason)
{
    ASSERT_FALSE(result.timed_out) << result.describe();
    EXPECT_EQ(result.exit_code, code) << result.describe();
    EXPECT_EQ(result.reason(), reason) << result.describe();
}

/** Asserts a usage or configuration error: exit 2, no reason line, @p message on stderr. */
void expect_usage_error(const cli_result& result, const std::string& message)
{
    ASSERT_FALSE(result.timed_out) << result.describe();
    EXPECT_EQ(result.exit_code, 2) << result.describe();
    EXPECT_THAT(result.out, Not(HasSubstr("reason:"))) << result.describe();
    EXPECT_THAT(result.err, HasSubstr(message)) << result.describe();
}

/** "dnssec: secure" for a secure answer with records: "secure" or "secure (ttl N s)". */
bool is_secure_status(const std::string& value)
{
    static const std::regex secure(R"(secure( \(ttl [0-9]+ s\))?)");
    return std::regex_match(value, secure);
}

/**
 * A plain TCP listener on 127.0.0.40:port() (the test bed leaves that address to the tests) that
 * accepts every connection and closes it at once: a peer that is reachable but speaks no TLS.
 */
class closing_listener {
public:
    closing_listener()
    {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) {
            throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
        }
        const int on = 1;
        ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(bed().port());
        ::inet_pton(AF_INET, "127.0.0.40", &address.sin_addr);
        if (::bind(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 || ::listen(fd_, 16) != 0) {
            const int error = errno;
            ::close(fd_);
            throw std::runtime_error(std::string("listen on 127.0.0.40: ") + std::strerror(error));
        }
        thread_ = std::thread([this] { serve(); });
    }

    ~closing_listener()
    {
        stop_ = true;
        thread_.join();
        ::close(fd_);
    }

    closing_listener(const closing_listener&) = delete;
    closing_listener& operator=(const closing_listener&) = delete;

    int accepted() const { return accepted_; }

private:
    void serve()
    {
        while (!stop_) {
            pollfd pfd{fd_, POLLIN, 0};
            if (::poll(&pfd, 1, 20) <= 0) {
                continue;
            }
            const int client = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (client >= 0) {
                ++accepted_;
                ::close(client);
            }
        }
    }

    int fd_ = -1;
    std::atomic<bool> stop_{false};
    std::atomic<int> accepted_{0};
    std::thread thread_;
};

// ---------------------------------------------------------------------------------------------
// Authenticated: exit 0.
// ---------------------------------------------------------------------------------------------

TEST(tlsa_verify_cli, dane_ee_spki_sha256_is_authenticated_and_fully_reported)
{
    const auto result = run_danegate(verify_args("ee311"));
    expect_outcome(result, 0, "authenticated");
    const std::string right = "3 1 1 " + bed().digest("EE_SPKI_SHA256");
    EXPECT_EQ(result.field("matched"), right + " at depth 0") << result.describe();
    EXPECT_EQ(result.field("tlsa name"), bed().tlsa_name("ee311") + ".") << result.describe();
    ASSERT_TRUE(result.field("dnssec")) << result.describe();
    EXPECT_TRUE(is_secure_status(*result.field("dnssec"))) << result.describe();
    EXPECT_EQ(result.fields("record"), std::vector<std::string>{right}) << result.describe();
    EXPECT_EQ(result.field("addresses"), "127.0.0.10") << result.describe();
    EXPECT_EQ(result.field("subject"), "CN=unrelated.example") << result.describe();
    EXPECT_EQ(result.field("spki sha256"), bed().digest("EE_SPKI_SHA256")) << result.describe();
    EXPECT_TRUE(result.field("not before")) << result.describe();
    EXPECT_TRUE(result.field("not after")) << result.describe();
}

TEST(tlsa_verify_cli, dane_ta_full_certificate_digest_matches_the_root_at_depth_2)
{
    const auto result = run_danegate(verify_args("ta"));
    expect_outcome(result, 0, "authenticated");
    EXPECT_EQ(result.field("matched"), "2 0 1 " + bed().digest("CA_ROOT_CERT_SHA256") + " at depth 2")
        << result.describe();
    EXPECT_EQ(result.field("subject"), "CN=ta.dg.test") << result.describe();
    EXPECT_EQ(result.fields("subject").size(), 3u) << "leaf, intermediate and root\n" << result.describe();
}

TEST(tlsa_verify_cli, a_cname_is_followed_to_the_tlsa_at_the_expanded_name)
{
    const auto result = run_danegate(verify_args("alias"));
    expect_outcome(result, 0, "authenticated");
    EXPECT_EQ(result.field("tlsa name"), bed().tlsa_name("ee311") + ".") << result.describe();
    EXPECT_EQ(result.field("matched"), "3 1 1 " + bed().digest("EE_SPKI_SHA256") + " at depth 0") << result.describe();
}

TEST(tlsa_verify_cli, smtp_with_starttls_is_authenticated)
{
    const auto result = run_danegate(verify_args("smtp", {"--starttls", "smtp"}));
    expect_outcome(result, 0, "authenticated");
    EXPECT_EQ(result.field("addresses"), "127.0.0.30") << result.describe();
    EXPECT_EQ(result.field("matched"), "3 1 1 " + bed().digest("EE_SPKI_SHA256") + " at depth 0") << result.describe();
}

TEST(tlsa_verify_cli, smtp_without_starttls_is_a_tls_error)
{
    // The server greets in plaintext ("220 ..."): a TLS client reading that cannot handshake.
    const auto result = run_danegate(verify_args("smtp"), 30s);
    expect_outcome(result, 1, "tls-error");
    EXPECT_FALSE(result.field("matched")) << result.describe();
}

TEST(tlsa_verify_cli, starttls_none_is_the_same_as_no_starttls)
{
    const auto result = run_danegate(verify_args("ee311", {"--starttls", "none"}));
    expect_outcome(result, 0, "authenticated");
}

TEST(tlsa_verify_cli, stub_zone_flag_instead_of_a_forwarder_is_authenticated)
{
    const auto result = run_danegate({"tlsa", "verify", bed().host("ee311"), std::to_string(bed().port()),
                                      "--trust-anchor-file", bed().trust_anchor_file().string(), "--stub",
                                      "dg.test=" + bed().forwarder()});
    expect_outcome(result, 0, "authenticated");
}

TEST(tlsa_verify_cli, unbound_conf_flag_alone_is_authenticated)
{
    const auto result = run_danegate({"tlsa", "verify", bed().host("ee311"), std::to_string(bed().port()),
                                      "--unbound-conf", bed().unbound_conf().string()});
    expect_outcome(result, 0, "authenticated");
}

TEST(tlsa_verify_cli, dnskey_trust_anchor_file_works_like_the_ds)
{
    const auto result = run_danegate({"tlsa", "verify", bed().host("ee311"), std::to_string(bed().port()),
                                      "--trust-anchor-file", bed().file("trust-anchor.dnskey").string(), "--forward",
                                      bed().forwarder()});
    expect_outcome(result, 0, "authenticated");
}

// ---------------------------------------------------------------------------------------------
// Not authenticated: exit 1, one test per reason word.
// ---------------------------------------------------------------------------------------------

TEST(tlsa_verify_cli, a_wrong_digest_is_a_mismatch)
{
    const auto result = run_danegate(verify_args("eewrong"));
    expect_outcome(result, 1, "mismatch");
    EXPECT_EQ(result.fields("record"), std::vector<std::string>{"3 1 1 " + bed().digest("WRONG_SHA256")})
        << result.describe();
    EXPECT_FALSE(result.field("matched")) << result.describe();
    // The certificate was received and shown, it just matches nothing.
    EXPECT_EQ(result.field("subject"), "CN=unrelated.example") << result.describe();
}

TEST(tlsa_verify_cli, records_that_are_all_unusable_are_unusable)
{
    const auto result = run_danegate(verify_args("unusable"));
    expect_outcome(result, 1, "unusable");
    const auto records = result.fields("record");
    EXPECT_EQ(records.size(), 5u) << result.describe();
    for (const auto& record : records) {
        EXPECT_THAT(record, HasSubstr("[unusable: ")) << result.describe();
    }
    // Fail closed before the handshake: no certificate was looked at.
    EXPECT_FALSE(result.field("matched")) << result.describe();
}

TEST(tlsa_verify_cli, secure_nxdomain_is_no_tlsa)
{
    const auto result = run_danegate(verify_args("nxd"));
    expect_outcome(result, 1, "no-tlsa");
    EXPECT_THAT(result.fields("record"), IsEmpty()) << result.describe();
}

TEST(tlsa_verify_cli, secure_nodata_is_no_tlsa)
{
    const auto result = run_danegate(verify_args("nodata"));
    expect_outcome(result, 1, "no-tlsa");
    EXPECT_THAT(result.fields("record"), IsEmpty()) << result.describe();
}

TEST(tlsa_verify_cli, a_corrupted_signature_is_bogus)
{
    const auto result = run_danegate(verify_args("bogus"));
    expect_outcome(result, 1, "bogus");
    // unbound's why_bogus is shown (DESIGN §1).
    EXPECT_THAT(result.out, HasSubstr("signature")) << result.describe();
    EXPECT_FALSE(result.field("matched")) << result.describe();
}

TEST(tlsa_verify_cli, an_unsigned_delegation_is_insecure)
{
    const auto result = run_danegate(verify_args("app.unsigned"));
    expect_outcome(result, 1, "insecure");
    EXPECT_FALSE(result.field("matched")) << result.describe();
}

TEST(tlsa_verify_cli, expired_signatures_are_bogus)
{
    const auto result = run_danegate(verify_args("app.expired"));
    expect_outcome(result, 1, "bogus");
    EXPECT_THAT(result.out, HasSubstr("expired")) << result.describe();
}

TEST(tlsa_verify_cli, a_refused_connection_is_a_tls_error)
{
    // Nothing listens on 127.0.0.40 unless a test does.
    const auto result = run_danegate(verify_args("notls"), 30s);
    expect_outcome(result, 1, "tls-error");
    ASSERT_TRUE(result.field("dnssec")) << result.describe();
    EXPECT_TRUE(is_secure_status(*result.field("dnssec"))) << result.describe();
}

TEST(tlsa_verify_cli, a_peer_that_closes_without_tls_is_a_tls_error)
{
    closing_listener listener;
    const auto result = run_danegate(verify_args("notls"), 30s);
    expect_outcome(result, 1, "tls-error");
    EXPECT_GE(listener.accepted(), 1) << "the binary never connected\n" << result.describe();
}

TEST(tlsa_verify_cli, a_dead_resolver_is_a_dns_error_within_the_timeout)
{
    // Nothing listens there; the resolver's own timeout is 5 s (libunbound alone gives up after
    // about 17 s). The run is killed at 20 s so that a hang fails this test instead of the suite.
    const auto dead = "127.0.0.1@" + std::to_string(free_tcp_port());
    const auto result = run_danegate({"tlsa", "verify", bed().host("ee311"), std::to_string(bed().port()),
                                      "--trust-anchor-file", bed().trust_anchor_file().string(), "--forward", dead},
                                     20s);
    expect_outcome(result, 1, "dns-error");
    EXPECT_LT(result.elapsed, 15s) << result.describe();
}

TEST(tlsa_verify_cli, the_root_anchor_alone_does_not_authenticate_a_private_zone)
{
    // scripts/deps installs dns-root-data; without the file this is a usage error instead
    // (tests/proxy/resolver_flags_test.cpp).
    ASSERT_TRUE(std::filesystem::exists("/usr/share/dns/root.key"));
    // No anchor flag: the root anchor is used, and dg.test. has no chain of trust from the root.
    const auto result = run_danegate({"tlsa", "verify", bed().host("ee311"), std::to_string(bed().port()),
                                      "--forward", bed().forwarder()},
                                     30s);
    ASSERT_FALSE(result.timed_out) << result.describe();
    EXPECT_EQ(result.exit_code, 1) << result.describe();
    EXPECT_THAT(result.reason(), Not(IsEmpty())) << result.describe();
    EXPECT_NE(result.reason(), "authenticated") << result.describe();
}

// ---------------------------------------------------------------------------------------------
// Usage and configuration errors: exit 2, nothing verified.
// ---------------------------------------------------------------------------------------------

TEST(tlsa_verify_cli, no_arguments_at_all_is_a_usage_error)
{
    expect_usage_error(run_danegate({}), "subcommand");
}

TEST(tlsa_verify_cli, tlsa_without_a_subcommand_is_a_usage_error)
{
    expect_usage_error(run_danegate({"tlsa"}), "subcommand");
}

TEST(tlsa_verify_cli, missing_host_is_a_usage_error)
{
    expect_usage_error(run_danegate({"tlsa", "verify"}), "HOST");
}

TEST(tlsa_verify_cli, missing_port_is_a_usage_error)
{
    auto args = testbed_resolver_flags();
    args.insert(args.begin(), {"tlsa", "verify", bed().host("ee311")});
    expect_usage_error(run_danegate(args), "PORT");
}

TEST(tlsa_verify_cli, port_0_is_a_usage_error)
{
    auto args = testbed_resolver_flags();
    args.insert(args.begin(), {"tlsa", "verify", bed().host("ee311"), "0"});
    expect_usage_error(run_danegate(args), "PORT");
}

TEST(tlsa_verify_cli, port_70000_is_a_usage_error)
{
    auto args = testbed_resolver_flags();
    args.insert(args.begin(), {"tlsa", "verify", bed().host("ee311"), "70000"});
    expect_usage_error(run_danegate(args), "70000");
}

TEST(tlsa_verify_cli, a_non_numeric_port_is_a_usage_error)
{
    auto args = testbed_resolver_flags();
    args.insert(args.begin(), {"tlsa", "verify", bed().host("ee311"), "https"});
    expect_usage_error(run_danegate(args), "https");
}

TEST(tlsa_verify_cli, an_unknown_subcommand_is_a_usage_error)
{
    expect_usage_error(run_danegate({"frobnicate"}), "frobnicate");
}

TEST(tlsa_verify_cli, an_unknown_tlsa_subcommand_is_a_usage_error)
{
    expect_usage_error(run_danegate({"tlsa", "frobnicate"}), "frobnicate");
}

TEST(tlsa_verify_cli, an_unknown_starttls_protocol_is_a_usage_error)
{
    expect_usage_error(run_danegate(verify_args("ee311", {"--starttls", "imap"})), "imap");
}

TEST(tlsa_verify_cli, a_stub_without_equals_is_a_usage_error)
{
    expect_usage_error(run_danegate(verify_args("ee311", {"--stub", "dg.test"})), "--stub");
}

TEST(tlsa_verify_cli, a_missing_trust_anchor_file_is_a_usage_error)
{
    const auto missing = (bed().dir() / "no-such-anchor.ds").string();
    expect_usage_error(run_danegate({"tlsa", "verify", bed().host("ee311"), std::to_string(bed().port()),
                                     "--trust-anchor-file", missing, "--forward", bed().forwarder()}),
                       missing);
}

TEST(tlsa_verify_cli, a_missing_unbound_conf_is_a_usage_error)
{
    const auto missing = (bed().dir() / "no-such-unbound.conf").string();
    expect_usage_error(run_danegate({"tlsa", "verify", bed().host("ee311"), std::to_string(bed().port()),
                                     "--unbound-conf", missing}),
                       missing);
}

TEST(tlsa_verify_cli, an_invalid_host_name_is_a_usage_error)
{
    auto args = testbed_resolver_flags();
    args.insert(args.begin(), {"tlsa", "verify", "bad..name", std::to_string(bed().port())});
    expect_usage_error(run_danegate(args), "bad..name");
}

// ---------------------------------------------------------------------------------------------
// version and help.
// ---------------------------------------------------------------------------------------------

TEST(danegate_cli, version_prints_the_name_and_a_version)
{
    const auto result = run_danegate({"version"});
    ASSERT_FALSE(result.timed_out) << result.describe();
    EXPECT_EQ(result.exit_code, 0) << result.describe();
    static const std::regex version(R"(danegate [0-9]+\.[0-9]+\.[0-9]+\b.*\n)");
    EXPECT_TRUE(std::regex_match(result.out, version)) << result.describe();
}

TEST(danegate_cli, help_exits_0_and_lists_the_subcommands)
{
    const auto result = run_danegate({"--help"});
    ASSERT_FALSE(result.timed_out) << result.describe();
    EXPECT_EQ(result.exit_code, 0) << result.describe();
    EXPECT_THAT(result.out, HasSubstr("tlsa")) << result.describe();
    EXPECT_THAT(result.out, HasSubstr("version")) << result.describe();
}

TEST(danegate_cli, verify_help_lists_the_resolver_flags)
{
    const auto result = run_danegate({"tlsa", "verify", "--help"});
    ASSERT_FALSE(result.timed_out) << result.describe();
    EXPECT_EQ(result.exit_code, 0) << result.describe();
    for (const char* flag : {"--trust-anchor-file", "--stub", "--forward", "--unbound-conf", "--starttls"}) {
        EXPECT_THAT(result.out, HasSubstr(flag)) << result.describe();
    }
}

}  // namespace
}  // namespace danegate::test
