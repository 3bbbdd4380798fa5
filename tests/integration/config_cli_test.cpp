// `danegate check -c FILE` and `danegate tlsa verify -c FILE`, as a user runs them: a configuration
// written next to the test bed's certificates and anchor, then broken in one place at a time.
#include "tests/integration/danegate_runner.hpp"
#include "tests/support/testbed.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace danegate::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

const testbed& bed()
{
    return testbed::get();
}

/** A configuration that validates, using the test bed's files by absolute path. */
std::string valid_config()
{
    return "threads: 1\n"
           "resolver:\n"
           "  trust_anchor_file: " + bed().trust_anchor_file().string() + "\n"
           "  forwarders: [ \"" + bed().forwarder() + "\" ]\n"
           "  timeout: 3s\n"
           "listeners:\n"
           "  - name: web\n"
           "    address: 127.0.0.1:18443\n"
           "    tls:\n"
           "      certificates: [ { cert: " + bed().file("ee.pem").string() + ", key: " +
           bed().file("ee.key").string() + " } ]\n"
           "    routes:\n"
           "      - { match: { host: \"*.dg.test\" }, upstream: app }\n"
           "upstreams:\n"
           "  - name: app\n"
           "    endpoints: [ \"" + bed().host("ee311") + ":" + std::to_string(bed().port()) + "\" ]\n";
}

std::string write_config(const std::string& name, const std::string& text)
{
    const auto path = bed().dir() / name;
    std::ofstream(path) << text;
    return path.string();
}

TEST(check_cli, a_valid_configuration_is_ok)
{
    const auto result = run_danegate({"check", "-c", write_config("valid.yaml", valid_config())});
    EXPECT_EQ(result.exit_code, 0) << result.describe();
    EXPECT_EQ(result.out, "ok\n") << result.describe();
}

TEST(check_cli, errors_name_file_line_and_column)
{
    std::string text = valid_config();
    text.replace(text.find("upstream: app }"), 15, "upstream: nope }");
    text.replace(text.find("  timeout: 3s"), 13, "  timeout: 3 ");
    const auto file = write_config("broken.yaml", text);
    const auto result = run_danegate({"check", "-c", file});
    EXPECT_EQ(result.exit_code, 1) << result.describe();
    EXPECT_THAT(result.err, HasSubstr(file + ":5:12: ")) << result.describe();
    EXPECT_THAT(result.err, HasSubstr(file + ":12:51: ")) << result.describe();
    EXPECT_THAT(result.err, HasSubstr("nope")) << result.describe();
    EXPECT_THAT(result.out, Not(HasSubstr("ok"))) << result.describe();
}

TEST(check_cli, a_missing_file_is_an_error)
{
    const auto result = run_danegate({"check", "-c", (bed().dir() / "absent.yaml").string()});
    EXPECT_EQ(result.exit_code, 1) << result.describe();
    EXPECT_THAT(result.err, HasSubstr("absent.yaml")) << result.describe();
}

TEST(tlsa_verify_config_cli, the_resolver_comes_from_the_configuration)
{
    const auto file = write_config("verify.yaml", valid_config());
    const auto result = run_danegate({"tlsa", "verify", bed().host("ee311"), std::to_string(bed().port()), "-c", file}, 30s);
    EXPECT_EQ(result.exit_code, 0) << result.describe();
    EXPECT_EQ(result.reason(), "authenticated") << result.describe();

    // The twin: the same configuration without the anchor that makes dg.test. secure.
    std::string text = valid_config();
    text.replace(text.find("  trust_anchor_file: "), 21, "  unbound_conf: /dev/null\n  #");
    const auto unanchored = write_config("unanchored.yaml", text);
    const auto rejected = run_danegate({"tlsa", "verify", bed().host("ee311"), std::to_string(bed().port()), "-c", unanchored}, 30s);
    EXPECT_EQ(rejected.exit_code, 1) << rejected.describe();
    EXPECT_EQ(rejected.reason(), "insecure") << rejected.describe();
}

TEST(tlsa_verify_config_cli, an_invalid_configuration_or_mixed_flags_are_usage_errors)
{
    std::string text = valid_config();
    text.replace(text.find("threads: 1"), 10, "threads: x");
    const auto file = write_config("bad-verify.yaml", text);
    const auto bad = run_danegate({"tlsa", "verify", bed().host("ee311"), std::to_string(bed().port()), "-c", file});
    EXPECT_EQ(bad.exit_code, 2) << bad.describe();
    EXPECT_THAT(bad.err, HasSubstr(file + ":1:")) << bad.describe();

    const auto mixed = run_danegate({"tlsa", "verify", bed().host("ee311"), std::to_string(bed().port()), "-c",
                                     write_config("ok.yaml", valid_config()), "--forward", bed().forwarder()});
    EXPECT_EQ(mixed.exit_code, 2) << mixed.describe();
    EXPECT_THAT(mixed.err, HasSubstr("excludes")) << mixed.describe();
}

}  // namespace
}  // namespace danegate::test
