// Concurrent clients through one danegate with two io threads: what gives the TSan stage something
// to find. Everything the sessions share across strands is used at once: the round-robin cursor
// and endpoint health of one upstream over two endpoints, the idle upstream pool, the TLSA cache,
// the access log and the metrics, and, in the second test, the configuration swapped by SIGHUP
// reloads while requests are in flight (DESIGN §2: reload keeps serving). The twin of "all
// served" is the count: the backends saw exactly the requests that were sent, no more, no fewer.
#include "tests/integration/e2e_proxy.hpp"
#include "tests/support/process.hpp"
#include "tests/support/testbed.hpp"

#include <signal.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

namespace danegate::test {
namespace {

using namespace std::chrono_literals;

constexpr int clients = 8;
constexpr int requests_per_client = 25;

class proxy_concurrency_e2e : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        const auto& bed = testbed::get();
        const auto endpoint = [&](const char* label) { return bed.endpoint(label); };
        proxy_ = std::make_unique<e2e_proxy>(
            "proxy-concurrency",
            "      - { match: { host: pair.example }, upstream: pair }\n"
            "      - { match: { host: half.example }, upstream: half }\n",
            "  - { name: pair, endpoints: [ \"" + endpoint("web50") + "\", \"" + endpoint("web51") + "\" ],\n"
            "      pool: { max_idle: 4 } }\n"
            // notls resolves to 127.0.0.40, where nothing listens during this suite.
            "  - { name: half, endpoints: [ \"" + endpoint("web50") + "\", \"" + endpoint("notls") + "\" ],\n"
            "      health: { max_failures: 1, retry_after: 1s } }\n");
    }

    static void TearDownTestSuite()
    {
        if (proxy_) {
            proxy_->stop();
            proxy_.reset();
        }
    }

    static std::size_t recorded_requests()
    {
        const auto& bed = testbed::get();
        return bed.backend_requests("ee50").size() + bed.backend_requests("rsa51").size();
    }

    /**
     * `clients` curl processes at once, each sending `requests_per_client` requests on its own
     * kept-alive connection (a URL range); calls `meanwhile` once all have started. Returns how
     * many of each status code came back.
     */
    static std::map<int, int> run_clients(const std::string& prefix, const std::function<void()>& meanwhile = {},
                                          const std::string& host = "pair.example")
    {
        std::vector<std::string> outputs(clients);
        std::vector<std::thread> threads;
        const auto port = std::to_string(proxy_->port());
        for (int c = 0; c < clients; ++c) {
            threads.emplace_back([&, c] {
                run_command({"curl", "-sk", "--max-time", "120", "--resolve", host + ":" + port + ":127.0.0.1",
                             "-o", "/dev/null", "-w", "%{http_code}\\n",
                             "https://" + host + ":" + port + "/echo/" + prefix + "-" + std::to_string(c) + "-[1-" +
                                 std::to_string(requests_per_client) + "]"},
                            &outputs[static_cast<std::size_t>(c)]);
            });
        }
        if (meanwhile) {
            meanwhile();
        }
        for (auto& thread : threads) {
            thread.join();
        }
        std::map<int, int> statuses;
        for (const auto& output : outputs) {
            std::istringstream lines(output);
            for (std::string line; std::getline(lines, line);) {
                ++statuses[std::atoi(line.c_str())];
            }
        }
        return statuses;
    }

    static inline std::unique_ptr<e2e_proxy> proxy_;
};

TEST_F(proxy_concurrency_e2e, concurrent_clients_over_two_io_threads_are_all_served)
{
    const auto before = recorded_requests();
    const auto statuses = run_clients(unique_target("parallel"));
    EXPECT_EQ(statuses, (std::map<int, int>{{200, clients * requests_per_client}})) << proxy_->log().substr(0, 3000);
    EXPECT_EQ(recorded_requests() - before, static_cast<std::size_t>(clients * requests_per_client))
        << "every request reaches a backend exactly once";
    EXPECT_TRUE(proxy_->process().running());
}

TEST_F(proxy_concurrency_e2e, sighup_reloads_under_load_drop_no_request)
{
    const auto before = recorded_requests();
    const auto statuses = run_clients(unique_target("reload"), [&] {
        for (int i = 0; i < 3; ++i) {
            std::this_thread::sleep_for(150ms);
            ASSERT_EQ(::kill(proxy_->process().pid(), SIGHUP), 0);
        }
    });
    EXPECT_EQ(statuses, (std::map<int, int>{{200, clients * requests_per_client}})) << proxy_->log().substr(0, 3000);
    EXPECT_EQ(recorded_requests() - before, static_cast<std::size_t>(clients * requests_per_client));
    EXPECT_TRUE(proxy_->process().running()) << proxy_->log();
}

TEST_F(proxy_concurrency_e2e, concurrent_failures_eject_the_dead_endpoint_once_for_all_sessions)
{
    // Sessions on both io threads report to one endpoint health at once. Without ejection half
    // the requests would go to the dead endpoint; with it, only those already on their way when
    // it was ejected and the occasional half-open probe fail.
    const auto before = testbed::get().backend_requests("ee50").size();
    const auto statuses = run_clients(unique_target("half"), {}, "half.example");
    int total = 0;
    for (const auto& [status, count] : statuses) {
        EXPECT_TRUE(status == 200 || status == 502) << status << " x " << count;
        total += count;
    }
    EXPECT_EQ(total, clients * requests_per_client);
    const auto served = statuses.contains(200) ? statuses.at(200) : 0;
    const auto failed = statuses.contains(502) ? statuses.at(502) : 0;
    EXPECT_GE(failed, 1) << "the dead endpoint was never tried";
    EXPECT_LT(failed, requests_per_client) << "the dead endpoint kept getting requests after its ejection";
    EXPECT_EQ(testbed::get().backend_requests("ee50").size() - before, static_cast<std::size_t>(served))
        << "every 200 came from the live endpoint, every failure reached nothing";
}

}  // namespace
}  // namespace danegate::test
