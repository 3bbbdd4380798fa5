// How danegate reads an upstream's response when it is not the tidy one the test backend's Beast
// server writes: the backend's /raw/NAME responses, byte for byte, each piece in its own TLS
// record. Issue 5 replaced Beast's reads of the response (header and body) by danegate's own, so
// the framings that only those reads handled are checked here, each with what the client must
// see: a body that ends with the connection (RFC 9112 §6.3 (8)) relayed whole and ended cleanly;
// an interim 103 dropped (RFC 9110 §15.2), in its own record or the final response's, and an
// endless series of them refused; a header in three records parsed; and every short, cut,
// oversized or foreign response never passed off as complete.
#include "tests/integration/e2e_proxy.hpp"
#include "tests/integration/raw_tls_client.hpp"
#include "tests/support/testbed.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

namespace danegate::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// curl's exit code when a transfer ends before its framing said it would (CURLE_PARTIAL_FILE).
constexpr int curl_partial_file = 18;

class proxy_upstream_framing_e2e : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        const auto web50 = testbed::get().endpoint("web50");
        proxy_ = std::make_unique<e2e_proxy>("proxy-upstream-framing",
                                             "      - { match: { host: raw.example }, upstream: web50 }\n",
                                             "  - { name: web50, endpoints: [ \"" + web50 + "\" ] }\n");
    }

    static void TearDownTestSuite()
    {
        if (proxy_) {
            proxy_->expect_no_sanitizer_reports();
            proxy_->stop();
            proxy_.reset();
        }
    }

    static curl_reply get(const std::string& name, const std::vector<std::string>& extra = {})
    {
        return proxy_->curl("raw.example", "/raw/" + name, extra, 20);
    }

    /** Expects @p reply to be a 200 whose body arrived whole, as @p body, and ended cleanly. */
    static void expect_whole_answer(const curl_reply& reply, const std::string& body)
    {
        EXPECT_EQ(reply.status, 200) << reply.headers << proxy_->log();
        EXPECT_EQ(reply.exit_code, 0) << "the relayed body did not end cleanly";
        EXPECT_EQ(reply.body, body);
    }

    static inline std::unique_ptr<e2e_proxy> proxy_;
};

TEST_F(proxy_upstream_framing_e2e, a_body_that_ends_with_the_upstream_connection_is_relayed_whole_as_chunked)
{
    const auto reply = get("close-delimited");
    expect_whole_answer(reply, "first part, second part\n");
    // Its length is known only at the end: an HTTP/1.1 client gets it chunked, and keeps its
    // connection.
    EXPECT_THAT(reply.headers, HasSubstr("transfer-encoding: chunked"));
}

TEST_F(proxy_upstream_framing_e2e, a_body_that_ends_with_the_connection_leaves_that_connection_out_of_the_pool)
{
    // No Connection: close this time, only the missing length says that the body ends with the
    // connection; then the connection must not be kept for another request.
    const auto first = get("close-delimited-bare");
    ASSERT_EQ(first.status, 200) << first.headers << proxy_->log();
    EXPECT_EQ(first.exit_code, 0);
    EXPECT_EQ(first.body, "no length, no connection field\n");
    // A POST is never retried: handed that connection (the pool's newest), it would fail as 502.
    const auto post = proxy_->curl("raw.example", "/echo/after-close-delimited", {"--data-binary", "a body"}, 20);
    EXPECT_EQ(post.status, 200) << post.body << proxy_->log();
}

TEST_F(proxy_upstream_framing_e2e, an_http_1_0_client_gets_a_body_that_ends_with_the_connection_the_same_way)
{
    const auto reply = get("close-delimited", {"--http1.0"});
    expect_whole_answer(reply, "first part, second part\n");
    EXPECT_THAT(reply.headers, Not(HasSubstr("transfer-encoding")));  // RFC 9112 §6.1: no chunks for 1.0
}

TEST_F(proxy_upstream_framing_e2e, a_body_cut_without_close_notify_is_never_ended_as_complete)
{
    // A FIN without close_notify may be an attacker's truncation (RFC 8446 §6.1): the client gets
    // what came, and a chunked body without its last chunk, which it reports as cut short.
    const auto reply = get("cut-body");
    EXPECT_EQ(reply.status, 200) << reply.headers << proxy_->log();
    EXPECT_EQ(reply.exit_code, curl_partial_file) << reply.body;
    EXPECT_EQ(reply.body, "maybe all of it\n");
}

TEST_F(proxy_upstream_framing_e2e, an_interim_103_is_dropped_and_the_final_response_relayed)
{
    const auto reply = get("early-hints");
    expect_whole_answer(reply, "after hints\n");
    EXPECT_THAT(reply.headers, Not(HasSubstr("103")));
    EXPECT_THAT(reply.headers, Not(HasSubstr("link:")));
}

TEST_F(proxy_upstream_framing_e2e, an_interim_103_in_the_final_responses_record_is_dropped_too)
{
    const auto reply = get("hints-with-answer");
    expect_whole_answer(reply, "after hints\n");
    EXPECT_THAT(reply.headers, Not(HasSubstr("link:")));
}

TEST_F(proxy_upstream_framing_e2e, more_interim_responses_than_danegate_waits_through_are_502)
{
    const auto reply = get("endless-hints");
    EXPECT_EQ(reply.status, 502) << reply.body << proxy_->log();
    EXPECT_THAT(reply.body, HasSubstr("invalid upstream response"));
}

TEST_F(proxy_upstream_framing_e2e, a_response_header_over_header_bytes_is_502)
{
    const auto reply = get("huge-header");
    EXPECT_EQ(reply.status, 502) << reply.body << proxy_->log();
    EXPECT_THAT(reply.headers, Not(HasSubstr("x-huge")));
}

TEST_F(proxy_upstream_framing_e2e, a_header_that_arrives_in_three_records_is_parsed_whole)
{
    const auto reply = get("split-header");
    expect_whole_answer(reply, "split\n");
    EXPECT_THAT(reply.headers, HasSubstr("x-split: yes"));
    EXPECT_THAT(reply.headers, HasSubstr("content-length: 6"));
}

TEST_F(proxy_upstream_framing_e2e, a_body_shorter_than_its_content_length_is_cut_short_for_the_client_too)
{
    const auto reply = get("short-body");
    EXPECT_EQ(reply.status, 200) << reply.headers << proxy_->log();
    EXPECT_THAT(reply.headers, HasSubstr("content-length: 100"));
    EXPECT_EQ(reply.exit_code, curl_partial_file);
    EXPECT_EQ(reply.body, "only 14 bytes\n");
}

TEST_F(proxy_upstream_framing_e2e, a_header_the_upstream_closes_within_is_502)
{
    const auto reply = get("short-header");
    EXPECT_EQ(reply.status, 502) << reply.body << proxy_->log();
    EXPECT_EQ(reply.exit_code, 0);
}

TEST_F(proxy_upstream_framing_e2e, an_answer_that_is_not_http_is_502)
{
    const auto reply = get("not-http");
    EXPECT_EQ(reply.status, 502) << reply.body << proxy_->log();
    EXPECT_EQ(reply.exit_code, 0);
}

TEST_F(proxy_upstream_framing_e2e, a_body_that_goes_bad_is_relayed_as_far_as_it_was_valid_then_cut)
{
    // The header, valid chunks and an invalid one arrive together: the client gets the header
    // and the valid part, then a cut, never a clean end (RFC 9112 §7.1).
    for (const std::string name : {"bad-chunk", "bad-chunk-at-once"}) {
        const auto reply = get(name);
        EXPECT_EQ(reply.status, 200) << name << ": " << reply.headers << proxy_->log();
        EXPECT_EQ(reply.body, "valid\n") << name;
        EXPECT_EQ(reply.exit_code, curl_partial_file) << name;
    }
}

TEST_F(proxy_upstream_framing_e2e, an_upstreams_small_chunks_go_to_the_client_gathered_not_one_record_each)
{
    // 1,000 one-byte chunks in one upstream record. Relayed one write per chunk, the client would
    // get a TLS record (and the proxy make a system call) per body byte.
    for (const std::string version : {"HTTP/1.1", "HTTP/1.0"}) {
        const auto reply = send_raw_https("127.0.0.1", proxy_->port(), "raw.example",
                                          "GET /raw/small-chunks " + version + "\r\nHost: raw.example\r\nConnection: close\r\n\r\n");
        ASSERT_EQ(reply.status(), 200) << version << ": " << reply.error << reply.response << proxy_->log();
        const auto head_end = reply.response.find("\r\n\r\n");
        ASSERT_NE(head_end, std::string::npos) << reply.response;
        const std::string body = reply.response.substr(head_end + 4);
        if (version == "HTTP/1.1") {
            // Re-chunked: the 1,000 bytes in chunks whose sizes are hex digits, then the last chunk.
            EXPECT_EQ(std::count(body.begin(), body.end(), 'x'), 1000) << body;
            EXPECT_TRUE(body.ends_with("0\r\n\r\n")) << body;
        } else {
            EXPECT_EQ(body, std::string(1000, 'x'));  // no chunked coding for HTTP/1.0
        }
        // The head and the whole body fit in one record (the upstream sent them in one).
        EXPECT_LE(reply.records, 2u) << version;
    }
}

}  // namespace
}  // namespace danegate::test
