// Self-test of the test bed: every host of tests/data/README.md resolved through libunbound
// (validated against the trust anchor) and, where there are usable TLSA records, a real OpenSSL
// DANE handshake with the backend, so that a broken generator or backend shows up here rather
// than as a puzzling failure in the dane/ or proxy tests. Also covers the process helpers.
#include "tests/support/testbed.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <unbound.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace danegate::test {
namespace {

using namespace std::chrono_literals;

constexpr int type_a = 1;
constexpr int type_tlsa = 52;
constexpr int class_in = 1;

enum class dns_status { secure, insecure, bogus, nxdomain, nodata, error };

const char* to_string(dns_status status)
{
    switch (status) {
    case dns_status::secure:
        return "secure";
    case dns_status::insecure:
        return "insecure";
    case dns_status::bogus:
        return "bogus";
    case dns_status::nxdomain:
        return "nxdomain";
    case dns_status::nodata:
        return "nodata";
    case dns_status::error:
        return "error";
    }
    return "?";
}

struct tlsa_record {
    std::uint8_t usage;
    std::uint8_t selector;
    std::uint8_t mtype;
    std::vector<unsigned char> data;
};

struct lookup {
    dns_status status = dns_status::error;
    std::vector<std::vector<unsigned char>> rdata;
    int ttl = 0;
    std::string canonname;
};

/** One validating libunbound context on the test bed's config (synchronous queries). */
class resolver {
public:
    resolver() : ctx_(ub_ctx_create(), &ub_ctx_delete)
    {
        if (!ctx_) {
            throw std::runtime_error("ub_ctx_create failed");
        }
        if (const int rc = ub_ctx_config(ctx_.get(), testbed::get().unbound_conf().c_str()); rc != 0) {
            throw std::runtime_error(std::string("ub_ctx_config: ") + ub_strerror(rc));
        }
    }

    lookup resolve(const std::string& name, int type)
    {
        ub_result* raw = nullptr;
        lookup out;
        if (ub_resolve(ctx_.get(), name.c_str(), type, class_in, &raw) != 0) {
            return out;
        }
        const std::unique_ptr<ub_result, decltype(&ub_resolve_free)> result(raw, &ub_resolve_free);
        // Order from TESTBED.md: bogus first (its data is present), then rcode, then security.
        if (result->bogus) {
            out.status = dns_status::bogus;
        } else if (result->rcode != 0 && result->rcode != 3) {
            out.status = dns_status::error;
        } else if (!result->secure) {
            out.status = dns_status::insecure;
        } else if (result->havedata) {
            out.status = dns_status::secure;
        } else if (result->nxdomain) {
            out.status = dns_status::nxdomain;
        } else {
            out.status = dns_status::nodata;
        }
        for (int i = 0; result->havedata && result->data[i] != nullptr; ++i) {
            out.rdata.emplace_back(result->data[i], result->data[i] + result->len[i]);
        }
        out.ttl = result->ttl;
        if (result->canonname != nullptr) {
            out.canonname = result->canonname;
        }
        return out;
    }

private:
    std::unique_ptr<ub_ctx, decltype(&ub_ctx_delete)> ctx_;
};

resolver& shared_resolver()
{
    static resolver instance;
    return instance;
}

std::vector<tlsa_record> tlsa_of(const lookup& answer)
{
    std::vector<tlsa_record> out;
    for (const auto& rdata : answer.rdata) {
        if (rdata.size() >= 3) {
            out.push_back(
                {rdata[0], rdata[1], rdata[2], std::vector<unsigned char>(rdata.begin() + 3, rdata.end())});
        }
    }
    return out;
}

std::string address_of(const lookup& answer)
{
    if (answer.rdata.empty() || answer.rdata.front().size() != 4) {
        return {};
    }
    char text[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, answer.rdata.front().data(), text, sizeof text);
    return text;
}

int connect_tcp(const std::string& address, std::uint16_t port)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    ::inet_pton(AF_INET, address.c_str(), &sa.sin_addr);
    timeval timeout{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

std::string read_reply(int fd)
{
    // Reads a whole (possibly multi-line) SMTP reply: the last line has a space after the code.
    std::string reply;
    char c = 0;
    std::string line;
    while (::recv(fd, &c, 1, 0) == 1) {
        line += c;
        if (c == '\n') {
            reply += line;
            if (line.size() >= 4 && line[3] == ' ') {
                break;
            }
            line.clear();
        }
    }
    return reply;
}

void send_line(int fd, const std::string& line)
{
    const std::string data = line + "\r\n";
    ASSERT_EQ(::send(fd, data.data(), data.size(), MSG_NOSIGNAL), static_cast<ssize_t>(data.size()));
}

struct dane_outcome {
    int usable = 0;  // TLSA records OpenSSL accepted
    bool connected = false;  // TCP connect
    bool handshake = false;  // TLS handshake completed
    long verify = -1;  // SSL_get_verify_result
    int authority = -1;  // SSL_get0_dane_authority: match depth, -1 none
    int chain_length = 0;  // certificates the server sent
    bool verified() const { return handshake && verify == X509_V_OK && authority >= 0; }
};

/** A DANE handshake as RFC 7671 clients do it; `smtp` runs the STARTTLS dialogue first. */
dane_outcome dane_handshake(const std::string& address, const std::string& name,
                            const std::vector<tlsa_record>& records, bool smtp = false)
{
    dane_outcome out;
    const std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                                &SSL_CTX_free);
    EXPECT_EQ(SSL_CTX_dane_enable(ctx.get()), 1);
    // No CA store, and no abort: the verify result is read after the handshake.
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
    const std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), &SSL_free);
    EXPECT_EQ(SSL_dane_enable(ssl.get(), name.c_str()), 1);
    SSL_dane_set_flags(ssl.get(), DANE_FLAG_NO_DANE_EE_NAMECHECKS);
    SSL_set_hostflags(ssl.get(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    for (const auto& r : records) {
        // PKIX-TA(0)/PKIX-EE(1) need a CA store, which a DANE-only client never loads; OpenSSL
        // would accept them here (return 1) and then fail, so they count as unusable.
        if (r.usage < 2) {
            continue;
        }
        if (SSL_dane_tlsa_add(ssl.get(), r.usage, r.selector, r.mtype, r.data.data(), r.data.size()) > 0) {
            ++out.usable;
        }
    }
    ERR_clear_error();
    const int fd = connect_tcp(address, testbed::get().port());
    if (fd < 0) {
        return out;
    }
    out.connected = true;
    if (smtp) {
        EXPECT_EQ(read_reply(fd).substr(0, 4), "220 ");
        send_line(fd, "EHLO client.test");
        EXPECT_NE(read_reply(fd).find("250 STARTTLS"), std::string::npos);
        send_line(fd, "STARTTLS");
        EXPECT_EQ(read_reply(fd).substr(0, 4), "220 ");
    }
    SSL_set_fd(ssl.get(), fd);
    out.handshake = SSL_connect(ssl.get()) == 1;
    if (out.handshake) {
        out.verify = SSL_get_verify_result(ssl.get());
        out.authority = SSL_get0_dane_authority(ssl.get(), nullptr, nullptr);
        const auto* chain = SSL_get_peer_cert_chain(ssl.get());
        out.chain_length = chain != nullptr ? sk_X509_num(chain) : 0;
        if (smtp) {
            // The dialogue continues inside TLS.
            const std::string ehlo = "EHLO client.test\r\n";
            EXPECT_GT(SSL_write(ssl.get(), ehlo.data(), static_cast<int>(ehlo.size())), 0);
            char buffer[256] = {};
            EXPECT_GT(SSL_read(ssl.get(), buffer, sizeof buffer - 1), 0);
            EXPECT_EQ(std::string(buffer).substr(0, 3), "250");
        }
        SSL_shutdown(ssl.get());
    }
    ::close(fd);
    return out;
}

// --- the table of tests/data/README.md --------------------------------------------------------

enum class tls_expect { verified, rejected, no_usable, none };

struct host_case {
    const char* label;
    dns_status tlsa;
    dns_status a;
    tls_expect tls;
    int tlsa_count;
};

void PrintTo(const host_case& c, std::ostream* os)
{
    *os << c.label;
}

class testbed_hosts : public ::testing::TestWithParam<host_case> {};

TEST_P(testbed_hosts, dns_and_tls_outcome)
{
    const auto& c = GetParam();
    const auto& bed = testbed::get();
    auto& dns = shared_resolver();
    const auto tlsa = dns.resolve(bed.tlsa_name(c.label), type_tlsa);
    const auto a = dns.resolve(bed.host(c.label), type_a);
    EXPECT_STREQ(to_string(tlsa.status), to_string(c.tlsa)) << bed.tlsa_name(c.label);
    EXPECT_STREQ(to_string(a.status), to_string(c.a)) << bed.host(c.label);
    if (c.tlsa_count >= 0) {
        EXPECT_EQ(static_cast<int>(tlsa.rdata.size()), c.tlsa_count);
    }
    if (c.tls == tls_expect::none) {
        return;
    }
    const auto address = address_of(a);
    ASSERT_FALSE(address.empty());
    const auto outcome =
        dane_handshake(address, bed.host(c.label), tlsa_of(tlsa), std::string(c.label) == "smtp");
    switch (c.tls) {
    case tls_expect::verified:
        EXPECT_TRUE(outcome.verified()) << "verify " << X509_verify_cert_error_string(outcome.verify)
                                        << ", authority " << outcome.authority;
        break;
    case tls_expect::rejected:
        EXPECT_GT(outcome.usable, 0);
        EXPECT_TRUE(outcome.handshake);
        EXPECT_FALSE(outcome.verified());
        break;
    case tls_expect::no_usable:
        EXPECT_EQ(outcome.usable, 0);
        break;
    case tls_expect::none:
        break;
    }
}

using enum dns_status;
INSTANTIATE_TEST_SUITE_P(
    readme_table, testbed_hosts,
    ::testing::Values(host_case{"ee311", secure, secure, tls_expect::verified, 1},
                      host_case{"ee301", secure, secure, tls_expect::verified, 1},
                      host_case{"ee312", secure, secure, tls_expect::verified, 1},
                      host_case{"ee310", secure, secure, tls_expect::verified, 1},
                      host_case{"eersa", secure, secure, tls_expect::verified, 1},
                      // DANE-EE ignores the certificate's validity period (RFC 7671 §5.1).
                      host_case{"eeexpired", secure, secure, tls_expect::verified, 1},
                      host_case{"eewrongright", secure, secure, tls_expect::verified, 2},
                      host_case{"eerollover", secure, secure, tls_expect::verified, 2},
                      host_case{"eewrong", secure, secure, tls_expect::rejected, 1},
                      host_case{"ta", secure, secure, tls_expect::verified, 1},
                      host_case{"taother", secure, secure, tls_expect::rejected, 1},
                      host_case{"taexpired", secure, secure, tls_expect::rejected, 1},
                      host_case{"tanoroot", secure, secure, tls_expect::rejected, 1},
                      host_case{"ta200", secure, secure, tls_expect::verified, 1},
                      host_case{"unusable", secure, secure, tls_expect::no_usable, 5},
                      host_case{"nxd", nxdomain, secure, tls_expect::none, 0},
                      host_case{"nodata", nodata, secure, tls_expect::none, 0},
                      host_case{"bogus", bogus, secure, tls_expect::none, 1},
                      host_case{"alias", nxdomain, secure, tls_expect::none, 0},
                      host_case{"plain", nxdomain, secure, tls_expect::none, 0},
                      host_case{"alias2", secure, secure, tls_expect::verified, 1},
                      host_case{"wild", secure, secure, tls_expect::verified, 1},
                      host_case{"smtp", secure, secure, tls_expect::verified, 1},
                      host_case{"shortttl", secure, secure, tls_expect::verified, 1},
                      host_case{"app.child", secure, secure, tls_expect::verified, 1},
                      host_case{"app.expired", bogus, bogus, tls_expect::none, -1},
                      host_case{"app.unsigned", insecure, insecure, tls_expect::none, -1},
                      host_case{"app.badds", bogus, bogus, tls_expect::none, -1}),
    [](const auto& info) {
        std::string name = info.param.label;
        for (auto& ch : name) {
            if (ch == '.') {
                ch = '_';
            }
        }
        return name;
    });

// --- details the table does not cover ---------------------------------------------------------

TEST(testbed, basics)
{
    const auto& bed = testbed::get();
    EXPECT_EQ(&bed, &testbed::get());
    EXPECT_NE(bed.port(), 0);
    EXPECT_NE(bed.dns_port(), 0);
    EXPECT_EQ(bed.forwarder(), "127.0.0.1@" + std::to_string(bed.dns_port()));
    EXPECT_EQ(bed.zone(), "dg.test.");
    EXPECT_EQ(bed.host("ee311"), "ee311.dg.test");
    EXPECT_EQ(bed.tlsa_name("ee311"), "_" + std::to_string(bed.port()) + "._tcp.ee311.dg.test");
    for (const char* name : {"ee.pem", "ee-new.pem", "ca-root.pem", "chain-full.pem", "trust-anchor.ds",
                             "trust-anchor.dnskey", "unbound.conf", "nsd.conf"}) {
        EXPECT_TRUE(std::filesystem::exists(bed.file(name))) << name;
    }
    EXPECT_EQ(bed.trust_anchor_file(), bed.file("trust-anchor.ds"));
    EXPECT_EQ(bed.digest("EE_SPKI_SHA256").size(), 64u);
    EXPECT_THROW(bed.digest("NO_SUCH_KEY"), std::out_of_range);
}

TEST(testbed, digest_matches_openssl_pipeline)
{
    const auto& bed = testbed::get();
    std::string out;
    const auto command = "openssl x509 -in " + bed.file("ee.pem").string() +
        " -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r";
    ASSERT_EQ(run_command({"/bin/sh", "-c", command}, &out), 0);
    EXPECT_EQ(out.substr(0, 64), bed.digest("EE_SPKI_SHA256"));
}

TEST(testbed, alias_follows_cname_to_tlsa_at_target)
{
    const auto& bed = testbed::get();
    const auto a = shared_resolver().resolve(bed.host("alias"), type_a);
    EXPECT_EQ(a.canonname, "ee311.dg.test.");
    const auto tlsa = shared_resolver().resolve(bed.tlsa_name("ee311"), type_tlsa);
    EXPECT_EQ(tlsa.status, dns_status::secure);
}

TEST(testbed, shortttl_has_ttl_2)
{
    const auto& bed = testbed::get();
    const auto tlsa = shared_resolver().resolve(bed.tlsa_name("shortttl"), type_tlsa);
    EXPECT_LE(tlsa.ttl, 2);
}

TEST(testbed, chains_as_configured)
{
    const auto& bed = testbed::get();
    const std::vector<tlsa_record> none;
    EXPECT_EQ(dane_handshake("127.0.0.20", bed.host("ta"), none).chain_length, 3);
    EXPECT_EQ(dane_handshake("127.0.0.23", bed.host("tanoroot"), none).chain_length, 2);
    EXPECT_EQ(dane_handshake("127.0.0.10", bed.host("ee311"), none).chain_length, 1);
}

TEST(testbed, nothing_listens_on_notls)
{
    const auto& bed = testbed::get();
    const auto a = shared_resolver().resolve(bed.host("notls"), type_a);
    EXPECT_EQ(address_of(a), "127.0.0.40");
    EXPECT_FALSE(wait_for_tcp("127.0.0.40", bed.port(), 50ms));
}

TEST(testbed, backends_accept_many_sequential_connections)
{
    const auto& bed = testbed::get();
    const auto records = tlsa_of(shared_resolver().resolve(bed.tlsa_name("ee311"), type_tlsa));
    for (int i = 0; i < 5; ++i) {
        EXPECT_TRUE(dane_handshake("127.0.0.10", bed.host("ee311"), records).verified());
        EXPECT_TRUE(dane_handshake("127.0.0.30", bed.host("smtp"), records, true).verified());
    }
}

TEST(testbed, smtp_server_answers_plain_commands)
{
    const auto& bed = testbed::get();
    const int fd = connect_tcp("127.0.0.30", bed.port());
    ASSERT_GE(fd, 0);
    read_reply(fd);
    send_line(fd, "EHLO x");
    read_reply(fd);
    send_line(fd, "NOOP");
    EXPECT_EQ(read_reply(fd).substr(0, 3), "250");
    send_line(fd, "QUIT");
    EXPECT_EQ(read_reply(fd), "221 Bye\r\n");
    ::close(fd);
}

// --- process helpers --------------------------------------------------------------------------

TEST(process, run_command_captures_stdout_and_exit_code)
{
    std::string out;
    EXPECT_EQ(run_command({"/bin/sh", "-c", "echo hello; exit 3"}, &out), 3);
    EXPECT_EQ(out, "hello\n");
    EXPECT_EQ(run_command({"true"}, nullptr), 0);
    EXPECT_THROW(run_command({"no-such-program-danegate"}, &out), std::runtime_error);
}

TEST(process, child_process_stops_and_reports)
{
    const auto log = testbed::get().file("logs/sleep.log");
    child_process sleeper({"sleep", "30"}, log);
    EXPECT_TRUE(sleeper.running());
    EXPECT_GT(sleeper.pid(), 0);
    const auto started = std::chrono::steady_clock::now();
    EXPECT_EQ(sleeper.stop(), 128 + SIGTERM);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);
    EXPECT_FALSE(sleeper.running());

    child_process echo({"/bin/sh", "-c", "echo to-log; echo err >&2; exit 7"},
                       testbed::get().file("logs/echo.log"));
    EXPECT_EQ(echo.wait(), 7);
    EXPECT_EQ(echo.log(), "to-log\nerr\n");
    EXPECT_THROW(child_process({"no-such-program-danegate"}, log), std::runtime_error);
}

TEST(process, child_survives_the_thread_that_started_it)
{
    // PR_SET_PDEATHSIG fires on the death of the forking *thread*: the spawner thread prevents it.
    std::unique_ptr<child_process> child;
    std::thread([&] {
        child = std::make_unique<child_process>(std::vector<std::string>{"sleep", "30"},
                                                testbed::get().file("logs/thread.log"));
    }).join();
    std::this_thread::sleep_for(200ms);
    EXPECT_TRUE(child->running());
}

TEST(process, free_tcp_port_and_wait_for_tcp)
{
    const auto port = free_tcp_port();
    EXPECT_NE(port, 0);
    EXPECT_FALSE(wait_for_tcp("127.0.0.1", port, 50ms));
    EXPECT_TRUE(wait_for_tcp("127.0.0.1", testbed::get().dns_port(), 1s));
}

}  // namespace
}  // namespace danegate::test
