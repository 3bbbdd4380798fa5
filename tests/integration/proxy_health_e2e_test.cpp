// Passive health end to end (issue 3 §2/§4, DESIGN §4 "eject an endpoint after consecutive
// failures, retry it later"): an endpoint on `spare` (127.0.0.53, whose TLSA matches ee.pem) where
// nothing listens fails (502) and is ejected (503); the test then starts its own backend there,
// and once retry_after has passed the half-open probe succeeds (200) and the endpoint stays in.
// The twin: while retry_after has not passed, the endpoint stays ejected although it is back.
#include "tests/integration/e2e_proxy.hpp"
#include "tests/support/process.hpp"
#include "tests/support/testbed.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <thread>

#ifndef DANEGATE_HTTP_TEST_BACKEND
#error "DANEGATE_HTTP_TEST_BACKEND (path of danegate_http_test_backend) must be defined"
#endif

namespace danegate::test {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using ::testing::HasSubstr;

constexpr auto retry_after = 3s;  // as in the configuration below
constexpr const char* spare_address = "127.0.0.53";

class proxy_health_e2e : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        const auto& bed = testbed::get();
        const auto spare = bed.endpoint("spare");
        proxy_ = std::make_unique<e2e_proxy>(
            "proxy-health",
            "      - { match: { host: spare.example }, upstream: spare }\n",
            "  - { name: spare, endpoints: [ \"" + spare + "\" ],\n"
            "      health: { max_failures: 1, retry_after: 3s }, timeouts: { connect: 2s } }\n");
    }

    static void TearDownTestSuite()
    {
        if (proxy_) {
            proxy_->stop();
            proxy_.reset();
        }
    }

    /** A danegate_http_test_backend on spare's address and the bed's port, with ee.pem. */
    static std::unique_ptr<child_process> start_spare_backend(const std::filesystem::path& record)
    {
        const auto& bed = testbed::get();
        std::ofstream(record).flush();
        auto backend = std::make_unique<child_process>(
            std::vector<std::string>{DANEGATE_HTTP_TEST_BACKEND, "--listen",
                                     std::string(spare_address) + ":" + std::to_string(bed.port()), "--cert",
                                     bed.file("ee.pem").string(), "--key", bed.file("ee.key").string(), "--record",
                                     record.string(), "--name", "spare53"},
            bed.dir() / "logs" / "http-backend-spare53.log");
        return backend;
    }

    static inline std::unique_ptr<e2e_proxy> proxy_;
};

std::size_t lines_of(const std::filesystem::path& file)
{
    std::ifstream in(file);
    std::size_t n = 0;
    for (std::string line; std::getline(in, line);) {
        ++n;
    }
    return n;
}

TEST_F(proxy_health_e2e, an_ejected_endpoint_comes_back_after_retry_after)
{
    const auto& bed = testbed::get();
    ASSERT_FALSE(wait_for_tcp(spare_address, bed.port(), 100ms)) << "something already listens on spare";

    // Nothing listens: the connect fails (502) and max_failures: 1 ejects the endpoint.
    const auto first_failure = clock_type::now();
    const auto down = proxy_->curl("spare.example", "/echo/while-down", {}, 20);
    EXPECT_EQ(down.status, 502) << down.body << "\n" << proxy_->log();
    const auto failure_answered = clock_type::now();  // the ejection happened before this
    const auto ejected = proxy_->curl("spare.example", "/echo/while-ejected", {}, 20);
    EXPECT_EQ(ejected.status, 503) << ejected.body;

    // The endpoint comes back...
    const auto record = bed.dir() / "http-backend-spare53.record";
    auto backend = start_spare_backend(record);
    ASSERT_TRUE(wait_for_tcp(spare_address, bed.port(), 20s)) << backend->log();

    // ...but stays ejected until retry_after has passed since the failure (the twin). The
    // ejection happened after first_failure, so before first_failure + retry_after it must hold.
    if (clock_type::now() < first_failure + retry_after - 500ms) {
        const auto early = proxy_->curl("spare.example", "/echo/too-early", {}, 20);
        if (clock_type::now() < first_failure + retry_after) {
            EXPECT_EQ(early.status, 503) << "retried before retry_after: " << early.body;
            EXPECT_EQ(lines_of(record), 0u) << "the ejected endpoint got a request";
        }
    } else {
        ADD_FAILURE() << "starting the backend took longer than retry_after; the ejection could not be checked";
    }

    std::this_thread::sleep_until(failure_answered + retry_after + 300ms);
    // The half-open probe: one request goes to the endpoint, succeeds, and readmits it.
    const auto probe = proxy_->curl("spare.example", "/echo/probe", {}, 20);
    EXPECT_EQ(probe.status, 200) << probe.body << "\n" << proxy_->log();
    EXPECT_THAT(probe.body, HasSubstr("\"backend\": \"spare53\"")) << probe.body;

    // Healthy again: every later request is served there, with no further wait.
    for (int i = 0; i < 5; ++i) {
        const auto again = proxy_->curl("spare.example", "/echo/after-" + std::to_string(i), {}, 20);
        EXPECT_EQ(again.status, 200) << "request " << i << " after the probe: " << again.body;
    }
    EXPECT_EQ(lines_of(record), 6u) << "the probe and five requests reach the recovered endpoint";

    EXPECT_EQ(backend->stop(10s), 0) << backend->log();
}

}  // namespace
}  // namespace danegate::test
