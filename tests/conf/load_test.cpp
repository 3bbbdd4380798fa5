// Bad configurations, one class per row: each must be refused with an error at the exact
// FILE:LINE:COL (line and column) of the value or key to fix, and a message that says what is
// wrong. Rows are edits of one small valid file, so each expected position can be counted by eye
// against `base` below. Then: several errors at once, the full example, and the defaults.
#include "conf/load.hpp"

#include "conf_test_files.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace danegate::conf {
namespace {

using namespace std::chrono_literals;
using test::data_file;
using test::test_files;

// Valid as it stands; every row below breaks it in one place.
constexpr std::string_view base =
    "listeners:\n"                                                          // 1
    "  - name: web\n"                                                       // 2
    "    address: 127.0.0.1:8443\n"                                         // 3
    "    tls: { certificates: [ { cert: web.pem, key: web.key } ] }\n"      // 4
    "    routes: [ { upstream: app } ]\n"                                   // 5
    "upstreams:\n"                                                          // 6
    "  - { name: app, endpoints: [ \"app.corp.example:443\" ] }\n"          // 7
    "resolver: { trust_anchor_file: root.key }\n";                          // 8

struct edit {
    int line;          ///< 1-based line of `base` to replace; 9 appends
    std::string text;  ///< may hold several lines
};

std::string edited(const std::vector<edit>& edits)
{
    std::vector<std::string> lines;
    std::istringstream in{std::string(base)};
    for (std::string line; std::getline(in, line);) {
        lines.push_back(line);
    }
    lines.emplace_back();  // line 9: room to append
    for (const auto& e : edits) {
        lines.at(static_cast<std::size_t>(e.line - 1)) = e.text;
    }
    std::string out;
    for (const auto& line : lines) {
        out += line + "\n";
    }
    return out;
}

load_options test_options()
{
    load_options options;
    options.base_directory = test_files();
    options.default_trust_anchor_file.clear();  // this machine's root.key must not hide the error
    return options;
}

load_result parse(const std::string& yaml)
{
    return parse_config(yaml, "t.yaml", test_options());
}

std::string all(const load_result& r)
{
    std::string out;
    for (const auto& e : r.errors) {
        out += "  " + e.to_string() + "\n";
    }
    return out;
}

struct bad_case {
    const char* name;
    std::vector<edit> edits;
    int line;
    int column;
    std::string message;
};

/** gtest prints the row's name instead of its bytes when a row fails. */
void PrintTo(const bad_case& c, std::ostream* os)
{
    *os << c.name;
}

class bad_config : public ::testing::TestWithParam<bad_case> {};

TEST_P(bad_config, is_reported_at_the_exact_position)
{
    const auto& c = GetParam();
    const auto yaml = edited(c.edits);
    const auto result = parse(yaml);
    EXPECT_FALSE(result.ok());
    EXPECT_EQ(result.value, nullptr);
    const auto found = std::find_if(result.errors.begin(), result.errors.end(), [&](const config_error& e) {
        return e.mark.file == "t.yaml" && e.mark.line == c.line && e.mark.column == c.column &&
               e.message.find(c.message) != std::string::npos;
    });
    EXPECT_NE(found, result.errors.end()) << "expected t.yaml:" << c.line << ":" << c.column << ": ..." << c.message
                                          << "...\nin:\n" << yaml << "got:\n" << all(result);
}

std::string with_second_listener(std::string name, std::string address)
{
    return "    routes: [ { upstream: app } ]\n  - { name: " + name + ", address: \"" + address +
           "\", tls: { certificates: [ { cert: web.pem, key: web.key } ] }, routes: [ { upstream: app } ] }";
}

const std::string upstream_7 = "  - { name: app, endpoints: [ \"app.corp.example:443\" ]";

// clang-format off
INSTANTIATE_TEST_SUITE_P(rows, bad_config, ::testing::Values(
    // YAML itself
    bad_case{"yaml_syntax", {{5, "    routes: [ { upstream: app }"}}, 6, 1, "end of sequence flow"},
    bad_case{"yaml_bad_indent", {{3, "     address: 127.0.0.1:8443"}}, 3, 13, "illegal map value"},
    bad_case{"not_a_mapping", {{1, "- a"}, {2, ""}, {3, ""}, {4, ""}, {5, ""}, {6, ""}, {7, ""}, {8, ""}}, 1, 1, "expected a mapping"},
    bad_case{"empty_file", {{1, "# nothing"}, {2, ""}, {3, ""}, {4, ""}, {5, ""}, {6, ""}, {7, ""}, {8, ""}}, 1, 1, "the configuration is empty"},
    // unknown keys, at every level
    bad_case{"unknown_top", {{9, "listner: x"}}, 9, 1, "unknown key 'listner' at the top level; did you mean 'listeners'?"},
    bad_case{"unknown_listener", {{3, "    adress: 127.0.0.1:8443"}}, 3, 5, "unknown key 'adress' in listeners[0]; did you mean 'address'?"},
    bad_case{"unknown_tls", {{4, "    tls: { certificates: [ { cert: web.pem, key: web.key } ], min_versoin: TLSv1.3 }"}}, 4, 63, "unknown key 'min_versoin' in listeners[0].tls; did you mean 'min_version'?"},
    bad_case{"unknown_certificate", {{4, "    tls: { certificates: [ { cert: web.pem, key: web.key, pass: x } ] }"}}, 4, 59, "unknown key 'pass' in listeners[0].tls.certificates[0]"},
    bad_case{"unknown_route", {{5, "    routes: [ { upstrem: app } ]"}}, 5, 17, "unknown key 'upstrem' in listeners[0].routes[0]; did you mean 'upstream'?"},
    bad_case{"unknown_match", {{5, "    routes: [ { match: { hots: a.example }, upstream: app } ]"}}, 5, 26, "unknown key 'hots' in listeners[0].routes[0].match; did you mean 'host'?"},
    bad_case{"unknown_upstream_key", {{7, "  - { name: app, endpoint: [ \"app.corp.example:443\" ] }"}}, 7, 18, "unknown key 'endpoint' in upstreams[0]; did you mean 'endpoints'?"},
    bad_case{"unknown_resolver", {{8, "resolver: { trust_anchor_file: root.key, timout: 5s }"}}, 8, 42, "unknown key 'timout' in resolver; did you mean 'timeout'?"},
    bad_case{"unknown_health", {{7, upstream_7 + ", health: { max_fails: 3 } }"}}, 7, 67, "unknown key 'max_fails' in upstreams[0].health; did you mean 'max_failures'?"},
    bad_case{"duplicate_key", {{3, "    address: 127.0.0.1:8443\n    address: 127.0.0.1:9443"}}, 4, 5, "duplicate key 'address' (first at t.yaml:3:5)"},
    bad_case{"missing_required", {{3, "    protocol: http"}}, 2, 5, "listeners[0]: missing required key 'address'"},
    // wrong types
    bad_case{"address_is_a_list", {{3, "    address: [ 127.0.0.1:8443 ]"}}, 3, 14, "listeners[0].address: expected an address such as 0.0.0.0:8443, found a list"},
    bad_case{"threads_is_a_word", {{9, "threads: two"}}, 9, 10, "threads: expected an integer, found 'two'"},
    bad_case{"tls_is_a_scalar", {{4, "    tls: web.pem"}}, 4, 10, "listeners[0].tls: expected a mapping, found 'web.pem'"},
    bad_case{"tls_is_empty", {{4, "    tls:"}}, 4, 5, "listeners[0].tls: expected a mapping, found nothing"},
    bad_case{"bool_is_yes", {{7, upstream_7 + ", dane: { ee_name_checks: yes } }"}}, 7, 81, "expected true or false, found 'yes'"},
    // values
    bad_case{"duration_without_unit", {{9, "drain_timeout: 30"}}, 9, 16, "needs a unit: write 30s or 30ms"},
    bad_case{"duration_bad_unit", {{7, upstream_7 + ", timeouts: { connect: 5sec } }"}}, 7, 78, "unknown unit 'sec'"},
    bad_case{"duration_out_of_range", {{8, "resolver: { trust_anchor_file: root.key, timeout: 1h }"}}, 8, 51, "1h is out of range 100ms..2m"},
    bad_case{"size_bad_unit", {{9, "limits: { header_bytes: 64k }"}}, 9, 25, "unknown unit 'k'"},
    bad_case{"size_out_of_range", {{9, "limits: { header_bytes: 1GiB }"}}, 9, 25, "1GiB is out of range 1024..1048576 bytes"},
    bad_case{"address_without_port", {{3, "    address: 127.0.0.1"}}, 3, 14, "missing port"},
    bad_case{"port_0", {{3, "    address: 127.0.0.1:0"}}, 3, 14, "port 0 is out of range 1..65535"},
    bad_case{"port_70000", {{3, "    address: 127.0.0.1:70000"}}, 3, 14, "port 70000 is out of range 1..65535"},
    bad_case{"admin_port_0", {{9, "admin: { address: \"[::1]:0\" }"}}, 9, 19, "admin.address: port 0 is out of range"},
    bad_case{"endpoint_without_port", {{7, "  - { name: app, endpoints: [ \"app.corp.example\" ] }"}}, 7, 31, "upstreams[0].endpoints[0]: missing port"},
    bad_case{"forwarder_is_a_name", {{8, "resolver: { trust_anchor_file: root.key, forwarders: [ \"ns.example@53\" ] }"}}, 8, 56, "resolver.forwarders[0]: 'ns.example' is not an IP address"},
    bad_case{"stub_zone_bad_name", {{8, "resolver: { trust_anchor_file: root.key, stub_zones: [ { name: corp..example, addrs: [ 10.0.0.53 ] } ] }"}}, 8, 64, "resolver.stub_zones[0].name: name 'corp..example' has an empty label"},
    bad_case{"stub_zone_no_addrs", {{8, "resolver: { trust_anchor_file: root.key, stub_zones: [ { name: corp.example, addrs: [] } ] }"}}, 8, 85, "resolver.stub_zones[0].addrs: must not be empty"},
    bad_case{"trust_anchor_not_a_record", {{8, "resolver: { trust_anchor_file: root.key, trust_anchors: [ root.key ] }"}}, 8, 59, "expected a DS or DNSKEY record"},
    bad_case{"threads_0", {{9, "threads: 0"}}, 9, 10, "threads: 0 is out of range 1..1024"},
    bad_case{"threads_2000", {{9, "threads: 2000"}}, 9, 10, "threads: 2000 is out of range 1..1024"},
    bad_case{"max_connections_negative", {{9, "limits: { max_connections: -1 }"}}, 9, 28, "-1 is out of range 1..1000000"},
    bad_case{"max_failures_0", {{7, upstream_7 + ", health: { max_failures: 0 } }"}}, 7, 81, "0 is out of range 1..1000"},
    // words
    bad_case{"bad_usage", {{7, upstream_7 + ", dane: { usages: [ dane-xx ] } }"}}, 7, 75, "'dane-xx' is not one of dane-ee, dane-ta"},
    bad_case{"pkix_usage", {{7, upstream_7 + ", dane: { usages: [ dane-ee, pkix-ee ] } }"}}, 7, 84, "'pkix-ee' is not one of dane-ee, dane-ta"},
    bad_case{"no_usages", {{7, upstream_7 + ", dane: { usages: [] } }"}}, 7, 73, "upstreams[0].dane.usages: must not be empty"},
    bad_case{"bad_log_level", {{9, "log: { level: loud }"}}, 9, 15, "log.level: 'loud' is not one of trace, debug, info, warn, error, critical, off"},
    bad_case{"bad_protocol", {{3, "    address: 127.0.0.1:8443\n    protocol: udp"}}, 4, 15, "'udp' is not one of http, tcp"},
    bad_case{"bad_min_version", {{4, "    tls: { certificates: [ { cert: web.pem, key: web.key } ], min_version: TLSv1.1 }"}}, 4, 76, "'TLSv1.1' is not one of TLSv1.2, TLSv1.3"},
    bad_case{"bad_sni", {{7, upstream_7 + ", sni: \"two words\" }"}}, 7, 62, "upstreams[0].sni: expected host, none or a server name"},
    bad_case{"path_prefix_without_slash", {{5, "    routes: [ { match: { path_prefix: api }, upstream: app } ]"}}, 5, 39, "a path prefix starts with '/'"},
    bad_case{"host_with_inner_wildcard", {{5, "    routes: [ { match: { host: a.*.example }, upstream: app } ]"}}, 5, 32, "wildcard '*' may only be the first label"},
    // cross-field
    bad_case{"no_listeners", {{1, "listeners: []"}, {2, ""}, {3, ""}, {4, ""}, {5, ""}}, 1, 12, "listeners: must not be empty"},
    bad_case{"no_listeners_key", {{1, ""}, {2, ""}, {3, ""}, {4, ""}, {5, ""}}, 6, 1, "missing required key 'listeners'"},
    bad_case{"no_certificates", {{4, "    tls: { certificates: [] }"}}, 4, 26, "listeners[0].tls.certificates: must not be empty"},
    bad_case{"duplicate_listener_name", {{5, with_second_listener("web", "127.0.0.1:9443")}}, 6, 13, "duplicate listener name 'web' (first at t.yaml:2:11)"},
    bad_case{"duplicate_listener_address", {{5, with_second_listener("api", "127.0.0.1:8443")}}, 6, 27, "address 127.0.0.1:8443 is already used by listeners[0].address (at t.yaml:3:14)"},
    bad_case{"wildcard_overlaps_address", {{5, with_second_listener("api", "0.0.0.0:8443")}}, 6, 27, "already used by listeners[0].address"},
    bad_case{"admin_on_listener_address", {{9, "admin: { address: 127.0.0.1:8443 }"}}, 9, 19, "admin.address: address 127.0.0.1:8443 is already used"},
    bad_case{"duplicate_upstream_name", {{7, upstream_7 + " }\n  - { name: app, srv: _https._tcp.app.example }"}}, 8, 13, "duplicate upstream name 'app' (first at t.yaml:7:13)"},
    bad_case{"unknown_upstream", {{5, "    routes: [ { upstream: ap } ]"}}, 5, 27, "listeners[0].routes[0].upstream: unknown upstream 'ap' (defined: app)"},
    bad_case{"endpoints_and_srv", {{7, upstream_7 + ", srv: _https._tcp.app.example }"}}, 7, 62, "upstreams[0]: give either endpoints or srv, not both"},
    bad_case{"neither_endpoints_nor_srv", {{7, "  - { name: app }"}}, 7, 5, "upstreams[0]: needs endpoints (a list of HOST:PORT) or srv"},
    bad_case{"empty_endpoints", {{7, "  - { name: app, endpoints: [] }"}}, 7, 29, "upstreams[0].endpoints: must not be empty"},
    bad_case{"duplicate_endpoint", {{7, "  - { name: app, endpoints: [ \"a.example:1\", \"A.example.:1\" ] }"}}, 7, 46, "duplicate endpoint a.example:1"},
    bad_case{"tcp_listener_host_route", {{3, "    address: 127.0.0.1:8443\n    protocol: tcp"}, {5, "    routes: [ { match: { host: a.example }, upstream: app } ]"}}, 6, 32, "listeners[0].routes[0].match.host: a tcp listener routes by sni only"},
    bad_case{"tcp_listener_path_route", {{3, "    address: 127.0.0.1:8443\n    protocol: tcp"}, {5, "    routes: [ { match: { path_prefix: / }, upstream: app } ]"}}, 6, 39, "match.path_prefix: a tcp listener routes by sni only"},
    // files
    bad_case{"missing_cert_file", {{4, "    tls: { certificates: [ { cert: missing.pem, key: web.key } ] }"}}, 4, 36, "missing.pem': No such file or directory"},
    bad_case{"missing_key_file", {{4, "    tls: { certificates: [ { cert: web.pem, key: missing.key } ] }"}}, 4, 50, "key: cannot read '"},
    bad_case{"cert_is_not_pem", {{4, "    tls: { certificates: [ { cert: garbage.pem, key: web.key } ] }"}}, 4, 36, "holds no PEM X.509 certificate"},
    bad_case{"key_is_a_certificate", {{4, "    tls: { certificates: [ { cert: web.pem, key: web.pem } ] }"}}, 4, 50, "holds no unencrypted PEM private key"},
    bad_case{"key_does_not_match", {{4, "    tls: { certificates: [ { cert: web.pem, key: other.key } ] }"}}, 4, 50, "does not match certificate"},
    bad_case{"cert_is_a_directory", {{4, "    tls: { certificates: [ { cert: ., key: web.key } ] }"}}, 4, 36, "it is a directory"},
    bad_case{"missing_trust_anchor_file", {{8, "resolver: { trust_anchor_file: nope.key }"}}, 8, 32, "resolver.trust_anchor_file: cannot read"},
    bad_case{"missing_unbound_conf", {{8, "resolver: { unbound_conf: nope.conf }"}}, 8, 27, "resolver.unbound_conf: cannot read"},
    bad_case{"no_trust_anchor", {{8, "resolver: { timeout: 5s }"}}, 8, 11, "no trust anchor"},
    bad_case{"no_resolver_at_all", {{8, ""}}, 1, 1, "no trust anchor"}
), [](const auto& info) { return std::string(info.param.name); });
// clang-format on

TEST(load, the_base_of_the_table_is_valid)
{
    const auto result = parse(edited({}));
    ASSERT_TRUE(result.ok()) << all(result);
    EXPECT_EQ(result.value->listeners.at(0).tls.certificates.at(0).cert, (test_files() / "web.pem").string());
}

TEST(load, a_trust_anchor_may_be_pasted_as_ldns_key2ds_prints_it)
{
    // Tab-separated, with TTL and class: the zone-file form unbound reads.
    const auto result = parse(edited({{8, "resolver: { trust_anchors: [ \"roll.test.\\t3600\\tIN\\tDS\\t61216 13 2 "
                                          "072cded91bcb6798668965b7a34e633ba258496c3ace8ec546f22d5070a98c9b\" ] }"}}));
    ASSERT_TRUE(result.ok()) << all(result);
    EXPECT_THAT(result.value->resolver.trust_anchors.at(0), ::testing::HasSubstr("\tDS\t"));
}

TEST(load, reports_every_error_in_a_file_sorted_by_position)
{
    const auto dir = test_files();
    std::filesystem::copy_file(data_file("many_errors.yaml"), dir / "many_errors.yaml",
                               std::filesystem::copy_options::overwrite_existing);
    const auto result = load_config(dir / "many_errors.yaml", load_options{{}, {}});
    std::vector<std::string> lines;
    for (const auto& e : result.errors) {
        lines.push_back(e.to_string());
    }
    const auto f = (dir / "many_errors.yaml").string();
    using ::testing::ElementsAre;
    using ::testing::HasSubstr;
    EXPECT_THAT(lines, ElementsAre(HasSubstr(f + ":2:10: threads: 0 is out of range"),
                                   HasSubstr(f + ":5:14: listeners[0].address: port 70000 is out of range"),
                                   HasSubstr(f + ":6:50: listeners[0].tls.certificates[0].key: key '"),
                                   HasSubstr(f + ":7:27: listeners[0].routes[0].upstream: unknown upstream 'nowhere'"),
                                   HasSubstr(f + ":11:26: upstreams[0].timeouts.connect: duration '5' needs a unit"),
                                   HasSubstr(f + ":12:15: log.level: 'loud' is not one of"),
                                   HasSubstr(f + ":13:42: unknown key 'timout' in resolver; did you mean 'timeout'?")));
    EXPECT_FALSE(result.ok());
}

TEST(load, a_file_that_cannot_be_read_is_one_error)
{
    const auto result = load_config(test_files() / "absent.yaml");
    ASSERT_EQ(result.errors.size(), 1u);
    EXPECT_EQ(result.errors[0].to_string(),
              (test_files() / "absent.yaml").string() + ": cannot read the configuration: No such file or directory");
    EXPECT_FALSE(result.ok());
}

TEST(load, a_directory_is_not_a_configuration)
{
    const auto result = load_config(test_files());
    ASSERT_EQ(result.errors.size(), 1u);
    EXPECT_EQ(result.errors[0].to_string(), test_files().string() + ": cannot read the configuration: it is a directory");
}

/** Loads tests/data/conf/NAME from a copy next to the generated files, from another directory. */
load_result load_copy(const std::string& name)
{
    const auto dir = test_files();
    std::filesystem::copy_file(data_file(name), dir / name, std::filesystem::copy_options::overwrite_existing);
    // Relative paths must resolve against the file's directory, not the working directory.
    const auto cwd = std::filesystem::current_path();
    std::filesystem::current_path("/");
    auto result = load_config(dir / name, load_options{{}, {}});
    std::filesystem::current_path(cwd);
    return result;
}

TEST(load, the_full_example_keeps_every_value_as_written)
{
    const auto result = load_copy("full.yaml");
    ASSERT_TRUE(result.ok()) << all(result);
    const config& c = *result.value;
    const auto dir = test_files();
    const auto file = (dir / "full.yaml").string();
    EXPECT_EQ(c.file, file);
    EXPECT_EQ(c.threads, 2u);

    EXPECT_EQ(c.resolver.trust_anchor_file, (dir / "root.key").string());
    EXPECT_EQ(c.resolver.trust_anchor_file_mark.to_string(), file + ":4:22");
    ASSERT_EQ(c.resolver.trust_anchors.size(), 1u);
    EXPECT_THAT(c.resolver.trust_anchors[0], ::testing::StartsWith("corp.example. DS 12345 13 2 "));
    ASSERT_EQ(c.resolver.stub_zones.size(), 1u);
    EXPECT_EQ(c.resolver.stub_zones[0].name, "corp.example.");
    EXPECT_THAT(c.resolver.stub_zones[0].addrs, ::testing::ElementsAre("10.0.0.53@53", "::1@5353"));
    EXPECT_THAT(c.resolver.forwarders, ::testing::ElementsAre("127.0.0.1@53", "192.0.2.1"));
    EXPECT_EQ(c.resolver.unbound_conf, (dir / "unbound.conf").string());
    EXPECT_EQ(c.resolver.timeout, 4s);
    EXPECT_EQ(c.resolver.negative_ttl, 20s);
    EXPECT_EQ(c.resolver.error_ttl, 2s);

    ASSERT_EQ(c.listeners.size(), 2u);
    const auto& web = c.listeners[0];
    EXPECT_EQ(web.name, "web");
    EXPECT_EQ(web.mark.to_string(), file + ":13:5");
    EXPECT_EQ(web.address.host, "0.0.0.0");
    EXPECT_EQ(web.address.port, 8443);
    EXPECT_EQ(web.address.mark.to_string(), file + ":14:14");
    EXPECT_EQ(web.protocol, listener_protocol::http);
    ASSERT_EQ(web.tls.certificates.size(), 1u);
    EXPECT_EQ(web.tls.certificates[0].cert, (dir / "web.pem").string());
    EXPECT_EQ(web.tls.certificates[0].key, (dir / "web.key").string());
    EXPECT_EQ(web.tls.min_version, tls_version::tls1_3);
    ASSERT_EQ(web.routes.size(), 2u);
    EXPECT_EQ(web.routes[0].match.host, "app.corp.example");
    EXPECT_EQ(web.routes[0].match.path_prefix, "/");
    EXPECT_EQ(web.routes[0].match.sni, std::nullopt);
    EXPECT_EQ(web.routes[0].upstream, "app");
    EXPECT_EQ(web.routes[0].upstream_mark.to_string(), file + ":21:76");
    EXPECT_EQ(web.routes[1].match.host, "*.corp.example");
    EXPECT_EQ(web.routes[1].match.path_prefix, std::nullopt);
    EXPECT_EQ(web.routes[1].upstream, "default");
    const auto& stream = c.listeners[1];
    EXPECT_EQ(stream.name, "stream");
    EXPECT_EQ(stream.address.host, "::1");
    EXPECT_EQ(stream.address.port, 9443);
    EXPECT_EQ(stream.protocol, listener_protocol::tcp);
    EXPECT_EQ(stream.tls.min_version, tls_version::tls1_2);
    ASSERT_EQ(stream.routes.size(), 1u);
    EXPECT_EQ(stream.routes[0].match.sni, "*.corp.example");
    EXPECT_EQ(stream.routes[0].mark.to_string(), file + ":29:9");

    ASSERT_EQ(c.upstreams.size(), 2u);
    const auto& app = c.upstreams[0];
    EXPECT_EQ(app.name, "app");
    ASSERT_EQ(app.endpoints.size(), 2u);
    EXPECT_EQ(app.endpoints[0].host, "app1.corp.example");
    EXPECT_EQ(app.endpoints[0].port, 8443);
    EXPECT_EQ(app.endpoints[1].host, "app2.corp.example");
    EXPECT_EQ(app.endpoints[1].port, 8444);
    EXPECT_EQ(app.endpoints[1].mark.to_string(), file + ":33:44");
    EXPECT_EQ(app.srv, std::nullopt);
    EXPECT_THAT(app.dane.usages, ::testing::ElementsAre(dane_usage::dane_ee));
    EXPECT_TRUE(app.dane.ee_name_checks);
    EXPECT_EQ(app.sni.kind, sni_kind::none);
    EXPECT_EQ(app.pool.max_idle, 8u);
    EXPECT_EQ(app.pool.idle_timeout, 90s);
    EXPECT_EQ(app.timeouts.connect, 2s);
    EXPECT_EQ(app.timeouts.response, 1min);
    EXPECT_EQ(app.health.max_failures, 5u);
    EXPECT_EQ(app.health.retry_after, 30s);
    const auto& fallback = c.upstreams[1];
    EXPECT_EQ(fallback.name, "default");
    EXPECT_TRUE(fallback.endpoints.empty());
    EXPECT_EQ(fallback.srv, "_https._tcp.app.corp.example");
    EXPECT_EQ(fallback.sni.kind, sni_kind::fixed);
    EXPECT_EQ(fallback.sni.name, "backend.corp.example");
    EXPECT_THAT(fallback.dane.usages, ::testing::ElementsAre(dane_usage::dane_ta, dane_usage::dane_ee));

    ASSERT_TRUE(c.admin.address.has_value());
    EXPECT_EQ(c.admin.address->host, "127.0.0.1");
    EXPECT_EQ(c.admin.address->port, 9901);
    EXPECT_EQ(c.log.level, log_level::debug);
    EXPECT_EQ(c.log.access, (dir / "logs/access.log").string());
    EXPECT_EQ(c.limits.max_connections, 500u);
    EXPECT_EQ(c.limits.header_bytes, 32u * 1024);
    EXPECT_EQ(c.limits.header_timeout, 5s);
    EXPECT_EQ(c.limits.idle_timeout, 2min);
    EXPECT_EQ(c.drain_timeout, 90s);
}

TEST(load, omitted_keys_take_the_documented_defaults)
{
    const auto result = load_copy("minimal.yaml");
    ASSERT_TRUE(result.ok()) << all(result);
    const config& c = *result.value;
    EXPECT_GE(c.threads, 1u);
    EXPECT_LE(c.threads, 1024u);
    EXPECT_EQ(c.threads, std::clamp(std::thread::hardware_concurrency(), 1u, 1024u));
    EXPECT_TRUE(c.resolver.trust_anchors.empty());
    EXPECT_TRUE(c.resolver.stub_zones.empty());
    EXPECT_TRUE(c.resolver.forwarders.empty());
    EXPECT_EQ(c.resolver.unbound_conf, std::nullopt);
    EXPECT_EQ(c.resolver.timeout, 5s);
    EXPECT_EQ(c.resolver.negative_ttl, 30s);
    EXPECT_EQ(c.resolver.error_ttl, 5s);
    const auto& l = c.listeners.at(0);
    EXPECT_EQ(l.protocol, listener_protocol::http);
    EXPECT_EQ(l.tls.min_version, tls_version::tls1_2);
    EXPECT_EQ(l.routes.at(0).match.host, std::nullopt);
    EXPECT_EQ(l.routes.at(0).match.path_prefix, std::nullopt);
    EXPECT_EQ(l.routes.at(0).match.sni, std::nullopt);
    const auto& u = c.upstreams.at(0);
    EXPECT_THAT(u.dane.usages, ::testing::ElementsAre(dane_usage::dane_ta, dane_usage::dane_ee));
    EXPECT_FALSE(u.dane.ee_name_checks);
    EXPECT_EQ(u.sni.kind, sni_kind::host);
    EXPECT_EQ(u.pool.max_idle, 64u);
    EXPECT_EQ(u.pool.idle_timeout, 60s);
    EXPECT_EQ(u.timeouts.connect, 5s);
    EXPECT_EQ(u.timeouts.response, 30s);
    EXPECT_EQ(u.health.max_failures, 3u);
    EXPECT_EQ(u.health.retry_after, 10s);
    EXPECT_FALSE(c.admin.address.has_value());
    EXPECT_EQ(c.log.level, log_level::info);
    EXPECT_EQ(c.log.access, "stdout");
    EXPECT_EQ(c.limits.max_connections, 10000u);
    EXPECT_EQ(c.limits.header_bytes, 64u * 1024);
    EXPECT_EQ(c.limits.header_timeout, 10s);
    EXPECT_EQ(c.limits.idle_timeout, 60s);
    EXPECT_EQ(c.drain_timeout, 30s);
}

TEST(load, the_system_root_anchor_is_the_default_when_none_is_configured)
{
    const auto anchor = test_files() / "root.key";
    load_options options;
    options.base_directory = test_files();
    options.default_trust_anchor_file = anchor;
    const auto result = parse_config(edited({{8, ""}}), "t.yaml", options);
    ASSERT_TRUE(result.ok()) << all(result);
    EXPECT_EQ(result.value->resolver.trust_anchor_file, anchor.string());

    options.default_trust_anchor_file = test_files() / "absent.key";
    EXPECT_FALSE(parse_config(edited({{8, ""}}), "t.yaml", options).ok());
}

TEST(load, parse_config_resolves_relative_paths_against_the_working_directory_by_default)
{
    const auto cwd = std::filesystem::current_path();
    std::filesystem::current_path(test_files());
    const auto here = parse_config(edited({}), "t.yaml", load_options{{}, {}});
    std::filesystem::current_path("/");
    const auto elsewhere = parse_config(edited({}), "t.yaml", load_options{{}, {}});
    std::filesystem::current_path(cwd);
    EXPECT_TRUE(here.ok()) << all(here);
    EXPECT_FALSE(elsewhere.ok());
}

}  // namespace
}  // namespace danegate::conf
