// `danegate check --live` (issue 4 §3) against the test bed: every endpoint resolved, connected and
// authenticated as the proxy would, one line each, exit 0 only when all are authenticated; and
// `danegate run` logs the same checks at start-up.
#include "tests/integration/danegate_runner.hpp"
#include "tests/support/process.hpp"
#include "tests/support/testbed.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

namespace danegate::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

const testbed& bed()
{
    return testbed::get();
}


/** A configuration with one upstream per label (named after it) and a listener on @p port. */
std::filesystem::path config_with(const std::string& name, const std::vector<std::string>& labels, std::uint16_t port)
{
    const auto file = bed().dir() / (name + ".yaml");
    std::ofstream out(file);
    out << "threads: 1\n"
           "resolver:\n"
           "  trust_anchor_file: " << bed().trust_anchor_file().string() << "\n"
           "  forwarders: [ \"" << bed().forwarder() << "\" ]\n"
           "  timeout: 3s\n"
           "listeners:\n"
           "  - name: web\n"
           "    address: 127.0.0.1:" << port << "\n"
           "    tls:\n"
           "      certificates: [ { cert: " << bed().file("ta-leaf.pem").string()
        << ", key: " << bed().file("ta-leaf.key").string() << " } ]\n"
           "    routes: [ { match: { host: \"*.example\" }, upstream: " << labels.front() << " } ]\n"
           "upstreams:\n";
    for (const auto& label : labels) {
        out << "  - { name: " << label << ", endpoints: [ \"" << bed().endpoint(label) << "\" ], timeouts: { connect: 3s } }\n";
    }
    return file;
}

TEST(check_live, authenticated_endpoints_exit_0_with_one_line_each)
{
    const auto result = run_danegate({"check", "--live", "-c", config_with("live-good", {"web50", "web51"}, 8443).string()});
    EXPECT_EQ(result.exit_code, 0) << result.describe();
    const auto web50 = result.line_starting_with("web50 ");
    ASSERT_TRUE(web50) << result.describe();
    EXPECT_THAT(*web50, HasSubstr(": authenticated record=\"3 1 1 " + bed().digest("EE_SPKI_SHA256")));
    EXPECT_THAT(*web50, HasSubstr("spki=" + bed().digest("EE_SPKI_SHA256")));
    EXPECT_THAT(*web50, HasSubstr("signatures-until="));
    EXPECT_THAT(*web50, HasSubstr("warning: only one TLSA record is published"));
    const auto web51 = result.line_starting_with("web51 ");
    ASSERT_TRUE(web51) << result.describe();
    EXPECT_THAT(*web51, HasSubstr("spki=" + bed().digest("EE_RSA_SPKI_SHA256")));
}

TEST(check_live, one_endpoint_that_is_not_authenticated_makes_it_exit_1)
{
    const auto result =
        run_danegate({"check", "--live", "-c", config_with("live-mixed", {"web50", "webwrong", "webnxd"}, 8443).string()});
    EXPECT_EQ(result.exit_code, 1) << result.describe();
    EXPECT_THAT(result.line_starting_with("web50 ").value_or(""), HasSubstr(": authenticated"));
    EXPECT_THAT(result.line_starting_with("webwrong ").value_or(""), HasSubstr(": mismatch"));
    EXPECT_THAT(result.line_starting_with("webnxd ").value_or(""), HasSubstr(": no-tlsa"));
}

TEST(check_live, an_invalid_file_is_reported_before_anything_is_resolved)
{
    const auto file = bed().dir() / "live-bad.yaml";
    std::ofstream(file) << "listeners: [ { name: web } ]\n";
    const auto result = run_danegate({"check", "--live", "-c", file.string()});
    EXPECT_EQ(result.exit_code, 1) << result.describe();
    EXPECT_THAT(result.err, HasSubstr(file.string() + ":1:"));
    EXPECT_EQ(result.out, "");
}

TEST(check_live, run_logs_the_live_checks_at_start_up_and_serves_anyway)
{
    const auto port = free_tcp_port();
    const auto file = config_with("live-run", {"web50", "webwrong"}, port);
    child_process proxy({danegate_binary(), "run", "-c", file.string()}, bed().dir() / "live-run.log");
    ASSERT_TRUE(wait_for_tcp("127.0.0.1", port, 10s)) << proxy.log();
    std::string log;
    for (int i = 0; i < 100 && proxy.log().find("live check: webwrong") == std::string::npos; ++i) {
        std::this_thread::sleep_for(100ms);
    }
    log = proxy.log();
    EXPECT_THAT(log, HasSubstr("live check: web50 "));
    EXPECT_THAT(log, HasSubstr("live check: webwrong " + bed().endpoint("webwrong") + ": mismatch"));
    EXPECT_TRUE(proxy.running()) << "a failed live check never stops the start";
    EXPECT_EQ(proxy.stop(20s), 0) << log;
}

}  // namespace
}  // namespace danegate::test
