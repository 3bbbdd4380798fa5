// The first-match route table: host (exact, wildcard, case, port, dot), SNI, path prefix,
// combinations, configuration order, no match and the catch-all.
#include "routing/route_table.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace danegate::routing {
namespace {

struct route_spec {
    std::optional<std::string> host{};
    std::optional<std::string> path_prefix{};
    std::optional<std::string> sni{};
    std::string upstream{};
};

std::vector<conf::upstream> upstreams()
{
    std::vector<conf::upstream> list;
    for (const char* name : {"app", "api", "default", "tcp"}) {
        conf::upstream u;
        u.name = name;
        list.push_back(u);
    }
    return list;
}

conf::listener make_listener(const std::vector<route_spec>& specs)
{
    conf::listener listener;
    listener.name = "web";
    for (const route_spec& spec : specs) {
        conf::route route;
        route.match.host = spec.host;
        route.match.path_prefix = spec.path_prefix;
        route.match.sni = spec.sni;
        route.upstream = spec.upstream;
        route.mark = conf::source_mark{"danegate.yaml", 12, 9};
        listener.routes.push_back(route);
    }
    return listener;
}

// The upstream a Host header routes to, or "none".
std::string route_host(const route_table& table, std::string_view host, std::string_view path = "/")
{
    const route_target* target = table.match(request_key{.sni = {}, .host = host, .path = path});
    return target ? target->upstream : "none";
}

class route_table_test : public ::testing::Test {
protected:
    std::vector<conf::upstream> upstreams_ = upstreams();
};

TEST_F(route_table_test, exact_host_ignores_case_port_and_trailing_dot)
{
    const route_table table(make_listener({{.host = "App.Corp.Example", .upstream = "app"}}), upstreams_);
    EXPECT_EQ(route_host(table, "app.corp.example"), "app");
    EXPECT_EQ(route_host(table, "APP.CORP.EXAMPLE"), "app");
    EXPECT_EQ(route_host(table, "app.corp.example:8443"), "app");
    EXPECT_EQ(route_host(table, "app.corp.example."), "app");
    EXPECT_EQ(route_host(table, "App.Corp.Example.:8443"), "app");
    EXPECT_EQ(route_host(table, "other.corp.example"), "none");
    EXPECT_EQ(route_host(table, "www.app.corp.example"), "none");
}

TEST_F(route_table_test, ipv6_literal_host_with_port)
{
    const route_table table(make_listener({{.host = "[::1]", .upstream = "app"}}), upstreams_);
    EXPECT_EQ(route_host(table, "[::1]:8443"), "app");
    EXPECT_EQ(route_host(table, "[::1]"), "app");
    EXPECT_EQ(route_host(table, "[::2]:8443"), "none");
}

TEST_F(route_table_test, wildcard_host_matches_one_or_more_labels_not_the_parent)
{
    const route_table table(make_listener({{.host = "*.corp.example", .upstream = "default"}}), upstreams_);
    EXPECT_EQ(route_host(table, "a.corp.example"), "default");
    EXPECT_EQ(route_host(table, "a.b.corp.example:443"), "default");
    EXPECT_EQ(route_host(table, "X.Corp.Example."), "default");
    EXPECT_EQ(route_host(table, "corp.example"), "none");
    EXPECT_EQ(route_host(table, "evilcorp.example"), "none");
}

TEST_F(route_table_test, path_prefix_is_a_byte_prefix_of_the_path_before_the_query)
{
    const route_table table(make_listener({{.path_prefix = "/api/", .upstream = "api"}}), upstreams_);
    EXPECT_EQ(route_host(table, "h", "/api/"), "api");
    EXPECT_EQ(route_host(table, "h", "/api/v1/users?id=3"), "api");
    EXPECT_EQ(route_host(table, "h", "/apix"), "none");
    EXPECT_EQ(route_host(table, "h", "/api"), "none");
    EXPECT_EQ(route_host(table, "h", "/API/"), "none");  // paths are case-sensitive
    EXPECT_EQ(route_host(table, "h", "/x?next=/api/"), "none");
    EXPECT_EQ(route_host(table, "h", "/ap?i/"), "none");

    // A prefix never reaches into the query, even one written with a '?'.
    const route_table query(make_listener({{.path_prefix = "/search?q=", .upstream = "api"}}), upstreams_);
    EXPECT_EQ(route_host(query, "h", "/search?q=x"), "none");
}

TEST_F(route_table_test, host_and_path_must_both_match)
{
    const route_table table(
        make_listener({{.host = "app.corp.example", .path_prefix = "/api/", .upstream = "api"}}), upstreams_);
    EXPECT_EQ(route_host(table, "app.corp.example", "/api/x"), "api");
    EXPECT_EQ(route_host(table, "app.corp.example", "/web"), "none");
    EXPECT_EQ(route_host(table, "other.corp.example", "/api/x"), "none");
}

TEST_F(route_table_test, a_field_the_request_lacks_does_not_match)
{
    const route_table table(make_listener({{.host = "app.corp.example", .upstream = "app"},
                                           {.path_prefix = "/", .upstream = "api"},
                                           {.sni = "app.corp.example", .upstream = "tcp"}}),
                            upstreams_);
    // No Host (a TCP listener): the host and path routes cannot match, the SNI one can.
    const route_target* target = table.match(request_key{.sni = "app.corp.example", .host = {}, .path = {}});
    ASSERT_NE(target, nullptr);
    EXPECT_EQ(target->upstream, "tcp");
    EXPECT_EQ(table.match(request_key{}), nullptr);
}

TEST_F(route_table_test, sni_routes_exact_and_wildcard)
{
    const route_table table(make_listener({{.sni = "db.corp.example", .upstream = "tcp"},
                                           {.sni = "*.corp.example", .upstream = "default"}}),
                            upstreams_);
    auto route_sni = [&](std::string_view sni) {
        const route_target* target = table.match(request_key{.sni = sni, .host = {}, .path = {}});
        return target ? target->upstream : "none";
    };
    EXPECT_EQ(route_sni("db.corp.example"), "tcp");
    EXPECT_EQ(route_sni("DB.Corp.Example"), "tcp");
    EXPECT_EQ(route_sni("cache.corp.example"), "default");
    EXPECT_EQ(route_sni("corp.example"), "none");
    // The SNI decides, not the Host header.
    EXPECT_EQ(table.match(request_key{.sni = {}, .host = "db.corp.example", .path = "/"}), nullptr);
}

TEST_F(route_table_test, first_match_wins_in_configuration_order)
{
    const route_table specific_first(make_listener({{.host = "app.corp.example", .upstream = "app"},
                                                    {.host = "*.corp.example", .upstream = "default"}}),
                                     upstreams_);
    EXPECT_EQ(route_host(specific_first, "app.corp.example"), "app");
    EXPECT_EQ(route_host(specific_first, "b.corp.example"), "default");

    // Order, not specificity: a wildcard listed first shadows the exact route.
    const route_table wildcard_first(make_listener({{.host = "*.corp.example", .upstream = "default"},
                                                    {.host = "app.corp.example", .upstream = "app"}}),
                                     upstreams_);
    EXPECT_EQ(route_host(wildcard_first, "app.corp.example"), "default");
}

TEST_F(route_table_test, no_match_is_null)
{
    const route_table table(make_listener({{.host = "app.corp.example", .upstream = "app"}}), upstreams_);
    EXPECT_EQ(table.match(request_key{.sni = "x", .host = "elsewhere.example", .path = "/"}), nullptr);
    const route_table empty(make_listener({}), upstreams_);
    EXPECT_EQ(empty.size(), 0u);
    EXPECT_EQ(empty.match(request_key{.sni = {}, .host = "app.corp.example", .path = "/"}), nullptr);
}

TEST_F(route_table_test, a_route_without_fields_catches_everything)
{
    const route_table table(make_listener({{.host = "app.corp.example", .upstream = "app"}, {.upstream = "default"}}),
                            upstreams_);
    EXPECT_EQ(route_host(table, "anything.example", "/whatever"), "default");
    EXPECT_EQ(route_host(table, "app.corp.example"), "app");
    const route_target* target = table.match(request_key{});
    ASSERT_NE(target, nullptr);
    EXPECT_EQ(target->upstream, "default");
}

TEST_F(route_table_test, target_carries_route_and_upstream_indexes)
{
    const route_table table(make_listener({{.host = "a.example", .upstream = "tcp"}, {.upstream = "api"}}), upstreams_);
    EXPECT_EQ(table.listener(), "web");
    EXPECT_EQ(table.size(), 2u);
    const route_target* first = table.match(request_key{.sni = {}, .host = "a.example", .path = "/"});
    ASSERT_NE(first, nullptr);
    EXPECT_EQ(first->route_index, 0u);
    EXPECT_EQ(first->upstream_index, 3u);
    const route_target* second = table.match(request_key{.sni = {}, .host = "b.example", .path = "/"});
    ASSERT_NE(second, nullptr);
    EXPECT_EQ(second->route_index, 1u);
    EXPECT_EQ(second->upstream_index, 1u);
    EXPECT_EQ(upstreams_[second->upstream_index].name, "api");
}

TEST_F(route_table_test, unknown_upstream_is_refused_with_its_position)
{
    try {
        const route_table table(make_listener({{.upstream = "nope"}}), upstreams_);
        FAIL() << "built a table naming an unknown upstream";
    } catch (const std::invalid_argument& error) {
        EXPECT_EQ(std::string(error.what()), "danegate.yaml:12:9: route names unknown upstream \"nope\"");
    }
}

}  // namespace
}  // namespace danegate::routing
