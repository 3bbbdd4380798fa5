// Benchmarks for proxy/access_log.cpp (issue #5 §2): proxy::to_json, the formatting of one
// access-log line (DESIGN §5), which every request pays when `log.access` is not `off`. Only the
// formatting: spdlog and the write to stdout or a file are not included.
//
//   BM_access_log_to_json/typical   a 200 authenticated by DANE-EE: every field filled, the
//                                   matched record "3 1 1 <64 hex>", no detail, nothing to escape
//   BM_access_log_to_json/escaped   a 502 whose path, Host and detail hold quotes, backslashes and
//                                   control characters (RFC 8259 §7 escapes), detail included
//
// Each output line is checked once before the loop for the fields it must carry.
#include "proxy/access_log.hpp"

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace danegate::proxy {
namespace {

// 2026-11-22T15:04:12.345Z: a fixed time, so every iteration formats the same text.
constexpr std::chrono::system_clock::time_point record_time{std::chrono::milliseconds(1'795'359'852'345)};

access_record typical_record()
{
    access_record record;
    record.time = record_time;
    record.client = "203.0.113.7:51234";
    record.sni = "app.corp.example";
    record.host = "app.corp.example:8443";
    record.method = "GET";
    record.path = "/dashboard/overview?tab=usage&range=7d";
    record.status = 200;
    record.bytes_in = 0;
    record.bytes_out = 18'734;
    record.duration = std::chrono::microseconds(2'417);
    record.upstream = "backend.corp.example:443 (192.0.2.10)";
    record.dane = "authenticated";
    record.matched = "3 1 1 d374cbd3ab44c7566852f08c5e07449d5b7001dffb295ef8be1041e5b5d119fa";
    return record;
}

access_record escaped_record()
{
    access_record record = typical_record();
    record.host = "app.corp.example\t:8443";
    record.path = "/search?q=\"a\\b\"&x=%22\x01";
    record.status = 502;
    record.bytes_out = 0;
    record.dane = "mismatch";
    record.matched.clear();
    record.detail = "no TLSA record matched \"backend.corp.example\"\n(depth 0)\\retry";
    return record;
}

void BM_access_log_to_json(benchmark::State& state, access_record (*make)(), std::vector<std::string> expected)
{
    const access_record record = make();
    const std::string line = to_json(record);
    for (const std::string& part : expected) {
        if (line.find(part) == std::string::npos) {
            state.SkipWithError(("missing " + part + " in " + line).c_str());
            return;
        }
    }
    for (auto _ : state) {
        std::string out = to_json(record);
        benchmark::DoNotOptimize(out.data());
    }
    state.counters["line_bytes"] = static_cast<double>(line.size());
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(line.size()));
}
BENCHMARK_CAPTURE(BM_access_log_to_json, typical, typical_record,
                  {R"("time":"2026-11-22T15:04:12.345Z")", R"("status":200)", R"("duration":0.002417)",
                   R"("dane":"authenticated")",
                   R"("matched":"3 1 1 d374cbd3ab44c7566852f08c5e07449d5b7001dffb295ef8be1041e5b5d119fa"})"});
BENCHMARK_CAPTURE(BM_access_log_to_json, escaped, escaped_record,
                  {R"("host":"app.corp.example\t:8443")", R"("path":"/search?q=\"a\\b\"&x=%22\u0001")",
                   R"("detail":"no TLSA record matched \"backend.corp.example\"\n(depth 0)\\retry"})"});

}  // namespace
}  // namespace danegate::proxy
