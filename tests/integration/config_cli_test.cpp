// `danegate check -c FILE` and `danegate tlsa verify -c FILE`, as a user runs them: a configuration
// written next to the test bed's certificates and anchor, then broken in one place at a time.
#include "tests/integration/danegate_runner.hpp"
#include "tests/support/testbed.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

namespace danegate::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::AllOf;
using ::testing::Not;

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
           "    endpoints: [ \"" + bed().endpoint("ee311") + "\" ]\n";
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

// ---- `danegate check` on each class of bad configuration (DESIGN §3, issue 3 §1) -------------
// conf's unit tests (tests/conf/load_test.cpp) check the parser's positions in depth; these rows
// check what a user sees from the binary: exit 1, nothing on stdout, and on stderr the exact
// "FILE:LINE:COL: message" of the value to fix, for one representative of every class.

/** `text` with the one occurrence of `from` replaced by `to`; empty unless `from` occurs once. */
std::string replaced(std::string text, const std::string& from, const std::string& to)
{
    const auto at = text.find(from);
    if (at == std::string::npos || text.find(from, at + 1) != std::string::npos) {
        return {};
    }
    return text.replace(at, from.size(), to);
}

/**
 * "LINE:COL" (1-based) of `token` on the one line of `text` that contains `line_marker`; empty
 * when no line or several match. Rows name the value to fix instead of counting the columns of
 * the test bed's absolute paths by hand.
 */
std::string position(const std::string& text, const std::string& line_marker, const std::string& token)
{
    std::istringstream in(text);
    std::string found;
    int number = 0;
    for (std::string line; std::getline(in, line);) {
        ++number;
        if (line.find(line_marker) == std::string::npos) {
            continue;
        }
        const auto column = line.find(token);
        if (!found.empty() || column == std::string::npos) {
            return {};
        }
        found = std::to_string(number) + ":" + std::to_string(column + 1);
    }
    return found;
}

TEST(check_cli, position_finds_the_token_on_its_line)
{
    EXPECT_EQ(position("a: 1\nbb: [ x ]\n", "bb:", "x"), "2:7");
    EXPECT_EQ(position("a: x\nb: x\n", ": x", "x"), "") << "two lines match";
    EXPECT_EQ(position("a: 1\n", "c:", "1"), "");
}

std::string path_of(std::string_view name)
{
    return bed().file(name).string();
}

std::string endpoint_text()
{
    return bed().endpoint("ee311");
}

/** One class of bad configuration: an edit of valid_config() and where `check` must point. */
struct bad_config_row {
    const char* name;
    std::function<std::string(const std::string&)> edit;  ///< valid_config() -> broken text
    std::string line_marker;                              ///< picks the line of the error
    std::function<std::string()> token;                   ///< the value (or key) to fix on it
    std::function<std::string()> message;                 ///< the start of the message
};

void PrintTo(const bad_config_row& row, std::ostream* os)
{
    *os << row.name;
}

std::function<std::string()> just(std::string text)
{
    return [text = std::move(text)] { return text; };
}

/** valid_config() with the certificate pair replaced (both given as test bed file names). */
std::function<std::string(const std::string&)> with_pair(std::string cert, std::string key)
{
    return [cert = std::move(cert), key = std::move(key)](const std::string& t) {
        return replaced(t, "cert: " + path_of("ee.pem") + ", key: " + path_of("ee.key"),
                        "cert: " + path_of(cert) + ", key: " + path_of(key));
    };
}

// clang-format off
const bad_config_row bad_config_rows[] = {
    {"unknown_key",
     [](const std::string& t) { return replaced(t, "  timeout: 3s", "  timout: 3s"); },
     "timout", just("timout"),
     just("unknown key 'timout' in resolver; did you mean 'timeout'?")},
    {"unknown_top_level_key",
     [](const std::string& t) { return t + "listner: x\n"; },
     "listner", just("listner"),
     just("unknown key 'listner' at the top level; did you mean 'listeners'?")},
    {"wrong_type",
     [](const std::string& t) { return replaced(t, "threads: 1\n", "threads: [ 1 ]\n"); },
     "threads:", just("["),
     just("threads: expected an integer, found a list")},
    {"wrong_type_mapping_for_list",
     [](const std::string& t) { return replaced(t, "  forwarders: [ \"" + bed().forwarder() + "\" ]", "  forwarders: { a: b }"); },
     "forwarders:", just("{"),
     just("resolver.forwarders: expected a list, found a mapping")},
    {"out_of_range",
     [](const std::string& t) { return replaced(t, "threads: 1\n", "threads: 2000\n"); },
     "threads:", just("2000"),
     just("threads: 2000 is out of range 1..1024")},
    {"out_of_range_duration",
     [](const std::string& t) { return replaced(t, "  timeout: 3s", "  timeout: 1h"); },
     "timeout:", just("1h"),
     just("resolver.timeout: 1h is out of range 100ms..2m")},
    {"malformed_duration",
     [](const std::string& t) { return replaced(t, "  timeout: 3s", "  timeout: 3sec"); },
     "timeout:", just("3sec"),
     just("resolver.timeout: unknown unit 'sec' in duration '3sec'")},
    {"malformed_size",
     [](const std::string& t) { return t + "limits: { header_bytes: 64k }\n"; },
     "limits:", just("64k"),
     just("limits.header_bytes: unknown unit 'k' in size '64k'")},
    {"malformed_listen_address",
     [](const std::string& t) { return replaced(t, "address: 127.0.0.1:18443", "address: 127.0.0.1"); },
     "address:", just("127.0.0.1"),
     just("listeners[0].address: missing port in '127.0.0.1'")},
    {"malformed_forwarder",
     [](const std::string& t) { return replaced(t, "  forwarders: [ \"" + bed().forwarder() + "\" ]", "  forwarders: [ \"ns.example@53\" ]"); },
     "forwarders:", just("\"ns.example@53\""),
     just("resolver.forwarders[0]: 'ns.example' is not an IP address")},
    {"duplicate_upstream_name",
     [](const std::string& t) { return t + "  - { name: app, endpoints: [ \"" + endpoint_text() + "\" ] }\n"; },
     "  - { name: app,", just("app"),
     just("upstreams[1].name: duplicate upstream name 'app' (first at ")},
    {"duplicate_listener_name",
     [](const std::string& t) {
         return replaced(t, "upstreams:\n",
                         "  - { name: web, address: \"127.0.0.1:18444\", tls: { certificates: [ { cert: " +
                             path_of("ee.pem") + ", key: " + path_of("ee.key") +
                             " } ] }, routes: [ { upstream: app } ] }\nupstreams:\n");
     },
     "  - { name: web,", just("web"),
     just("listeners[1].name: duplicate listener name 'web' (first at ")},
    {"route_to_unknown_upstream",
     [](const std::string& t) { return replaced(t, "upstream: app }", "upstream: nope }"); },
     "upstream: nope", just("nope"),
     just("listeners[0].routes[0].upstream: unknown upstream 'nope' (defined: app)")},
    {"missing_cert_file",
     with_pair("missing.pem", "ee.key"),
     "certificates:", [] { return path_of("missing.pem"); },
     [] { return "listeners[0].tls.certificates[0].cert: cannot read '" + path_of("missing.pem") + "': No such file or directory"; }},
    {"missing_key_file",
     with_pair("ee.pem", "missing.key"),
     "certificates:", [] { return path_of("missing.key"); },
     [] { return "listeners[0].tls.certificates[0].key: cannot read '" + path_of("missing.key") + "': No such file or directory"; }},
    // The tests may run as root, whom file modes do not stop: unreadable = not a readable file.
    {"unreadable_cert_file",
     with_pair("", "ee.key"),
     "certificates:", [] { return path_of("") + ","; },
     [] { return "listeners[0].tls.certificates[0].cert: cannot read '" + path_of("") + "': it is a directory"; }},
    {"unreadable_key_file",
     with_pair("ee.pem", "ee.key/inside"),
     "certificates:", [] { return path_of("ee.key/inside"); },
     [] { return "listeners[0].tls.certificates[0].key: cannot read '" + path_of("ee.key/inside") + "': Not a directory"; }},
    {"cert_file_is_not_a_certificate",
     with_pair("trust-anchor.ds", "ee.key"),
     "certificates:", [] { return path_of("trust-anchor.ds"); },
     [] { return "listeners[0].tls.certificates[0].cert: '" + path_of("trust-anchor.ds") + "' holds no PEM X.509 certificate"; }},
    {"key_does_not_match_its_certificate",
     with_pair("ee.pem", "ee-rsa.key"),
     "certificates:", [] { return path_of("ee-rsa.key"); },
     [] { return "listeners[0].tls.certificates[0].key: key '" + path_of("ee-rsa.key") + "' does not match certificate '" +
                 path_of("ee.pem") + "'"; }},
};
// clang-format on

class check_cli_bad_config : public ::testing::TestWithParam<bad_config_row> {};

TEST_P(check_cli_bad_config, exits_1_naming_file_line_and_column)
{
    const auto& row = GetParam();
    const auto text = row.edit(valid_config());
    ASSERT_FALSE(text.empty()) << "the row's edit did not apply to valid_config()";
    const auto at = position(text, row.line_marker, row.token());
    ASSERT_FALSE(at.empty()) << "no single line with '" << row.line_marker << "' and '" << row.token() << "' in:\n" << text;
    const auto file = write_config(std::string("bad-") + row.name + ".yaml", text);
    const auto result = run_danegate({"check", "-c", file});
    EXPECT_EQ(result.exit_code, 1) << result.describe();
    EXPECT_THAT(result.err, HasSubstr(file + ":" + at + ": " + row.message())) << text << result.describe();
    EXPECT_EQ(result.out, "") << result.describe();
}

INSTANTIATE_TEST_SUITE_P(classes, check_cli_bad_config, ::testing::ValuesIn(bad_config_rows),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(check_cli, duplicate_names_point_back_at_the_first)
{
    const auto text = valid_config() + "  - { name: app, endpoints: [ \"" + endpoint_text() + "\" ] }\n";
    const auto file = write_config("bad-duplicate-first.yaml", text);
    const auto result = run_danegate({"check", "-c", file});
    EXPECT_EQ(result.exit_code, 1) << result.describe();
    EXPECT_THAT(result.err, HasSubstr("(first at " + file + ":" + position(text, "  - name: app", "app") + ")"))
        << result.describe();
}

TEST(check_cli, every_error_of_a_file_is_reported_in_one_run)
{
    // One mistake of each kind at once: the schema pass, the cross-field pass and the file checks
    // must all report, each at its own position, in file order.
    std::string text = valid_config();
    text = replaced(text, "threads: 1\n", "threads: 0\n");
    text = replaced(text, "  timeout: 3s", "  timout: 3s");
    text = replaced(text, "address: 127.0.0.1:18443", "address: 127.0.0.1:70000");
    text = replaced(text, "key: " + path_of("ee.key"), "key: " + path_of("ee-rsa.key"));
    text = replaced(text, "upstream: app }", "upstream: nope }");
    text += "limits: { header_timeout: soon }\n";
    ASSERT_FALSE(text.empty());
    const auto file = write_config("bad-many.yaml", text);
    const auto result = run_danegate({"check", "-c", file});
    EXPECT_EQ(result.exit_code, 1) << result.describe();
    EXPECT_EQ(result.out, "") << result.describe();

    std::vector<std::string> lines;
    std::istringstream err(result.err);
    for (std::string line; std::getline(err, line);) {
        if (line.starts_with(file + ":")) {
            lines.push_back(line);
        }
    }
    const auto at = [&](const std::string& marker, const std::string& token) {
        return HasSubstr(file + ":" + position(text, marker, token) + ": ");
    };
    using ::testing::ElementsAre;
    EXPECT_THAT(lines, ElementsAre(AllOf(at("threads:", "0"), HasSubstr("threads: 0 is out of range")),
                                   AllOf(at("timout", "timout"), HasSubstr("unknown key 'timout'")),
                                   AllOf(at("address:", "127.0.0.1:70000"), HasSubstr("port 70000 is out of range")),
                                   AllOf(at("certificates:", path_of("ee-rsa.key")), HasSubstr("does not match certificate")),
                                   AllOf(at("upstream: nope", "nope"), HasSubstr("unknown upstream 'nope'")),
                                   AllOf(at("header_timeout", "soon"), HasSubstr("limits.header_timeout"))))
        << result.describe();
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
