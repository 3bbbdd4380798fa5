// Benchmarks for routing/route_table.cpp (issue #5 §2): route_table::match(), what every request
// pays to find its route, on tables of 100 and 10,000 routes. The table is built once per run
// from a conf::listener made in code (as tests/routing/route_table_test.cpp does), with a mix of
// the route kinds a real configuration has:
//
//   route i % 4 == 0   exact host "appI.corp.example" and path prefix "/api/"
//   route i % 4 == 1   exact host "appI.corp.example"
//   route i % 4 == 2   wildcard host "*.tenantI.example"
//   route i % 4 == 3   path prefix "/staticI/" alone (any host)
//
// No catch-all route, so a request naming none of them is a miss that visits every route. The
// request keys are as a client sends them: Host with a port, a path with a query. Each call's
// result is checked to be the expected route index (or no route for the miss): a benchmark that
// matched the wrong route would measure a different amount of work.
//
//   BM_route_match/first/N      a hit on route 0 (host + path prefix): the best case
//   BM_route_match/last/N       a hit on route N-1 (a path-prefix route): every earlier route is
//                               tried and refused first
//   BM_route_match/miss/N       no route matches: all N routes are tried
#include "routing/route_table.hpp"

#include <benchmark/benchmark.h>

#include <cstddef>
#include <string>
#include <vector>

namespace danegate::routing {
namespace {

/** Which route the request is meant to hit. */
enum class target_route { first, last, none };

const std::vector<conf::upstream>& bench_upstreams()
{
    static const std::vector<conf::upstream> list = [] {
        std::vector<conf::upstream> upstreams;
        for (const char* name : {"app", "api", "tenant", "static"}) {
            conf::upstream u;
            u.name = name;
            upstreams.push_back(u);
        }
        return upstreams;
    }();
    return list;
}

conf::listener make_listener(std::size_t count)
{
    conf::listener listener;
    listener.name = "web";
    listener.routes.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        const std::string n = std::to_string(i);
        conf::route route;
        switch (i % 4) {
        case 0:
            route.match.host = "app" + n + ".corp.example";
            route.match.path_prefix = "/api/";
            route.upstream = "api";
            break;
        case 1:
            route.match.host = "app" + n + ".corp.example";
            route.upstream = "app";
            break;
        case 2:
            route.match.host = "*.tenant" + n + ".example";
            route.upstream = "tenant";
            break;
        default:
            route.match.path_prefix = "/static" + n + "/";
            route.upstream = "static";
            break;
        }
        route.mark = conf::source_mark{"danegate.yaml", static_cast<int>(10 + 3 * i), 5};
        listener.routes.push_back(std::move(route));
    }
    return listener;
}

/** What a browser sends to hit route @p i of a table from make_listener (first match). */
struct request_text {
    std::string sni;   ///< the TLS server_name: the host without the port
    std::string host;  ///< the Host header
    std::string path;  ///< the request-target
};

request_text request_for(std::size_t i)
{
    const std::string n = std::to_string(i);
    switch (i % 4) {
    case 0: return {"app" + n + ".corp.example", "app" + n + ".corp.example:8443", "/api/v1/users?id=42&expand=roles"};
    case 1: return {"app" + n + ".corp.example", "app" + n + ".corp.example:8443", "/dashboard/overview?tab=usage"};
    case 2: return {"www.tenant" + n + ".example", "www.tenant" + n + ".example:8443", "/account/settings?lang=en"};
    default: return {"cdn.corp.example", "cdn.corp.example:8443", "/static" + n + "/js/app.min.js?v=20261122"};
    }
}

void BM_route_match(benchmark::State& state, target_route which)
{
    const auto count = static_cast<std::size_t>(state.range(0));
    const route_table table(make_listener(count), bench_upstreams());
    request_text text;
    std::size_t expected_index = 0;
    switch (which) {
    case target_route::first:
        expected_index = 0;
        text = request_for(expected_index);
        break;
    case target_route::last:
        expected_index = count - 1;
        text = request_for(expected_index);
        break;
    case target_route::none:
        text = {"unknown.elsewhere.example", "unknown.elsewhere.example:8443", "/api/v1/users?id=42&expand=roles"};
        break;
    }
    // As http_session builds it: views of the SNI, the Host header and the request-target.
    const request_key key{.sni = text.sni, .host = text.host, .path = text.path};
    const bool want_hit = which != target_route::none;
    for (auto _ : state) {
        const route_target* target = table.match(key);
        benchmark::DoNotOptimize(target);
        if (want_hit ? (target == nullptr || target->route_index != expected_index) : target != nullptr) {
            state.SkipWithError("match() did not return the expected route");
            break;
        }
    }
    state.counters["routes"] = static_cast<double>(table.size());
}
BENCHMARK_CAPTURE(BM_route_match, first, target_route::first)->Arg(100)->Arg(10'000);
BENCHMARK_CAPTURE(BM_route_match, last, target_route::last)->Arg(100)->Arg(10'000);
BENCHMARK_CAPTURE(BM_route_match, miss, target_route::none)->Arg(100)->Arg(10'000);

}  // namespace
}  // namespace danegate::routing
