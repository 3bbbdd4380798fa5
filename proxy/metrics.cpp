// See metrics.hpp. Every series is created once, under the mutex, and then updated through the
// pointer prometheus-cpp returns (a Counter or Histogram is itself thread-safe), so the request
// path takes no lock once a session holds its series.
#include "proxy/metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <functional>
#include <map>
#include <mutex>
#include <tuple>

namespace danegate::proxy {

namespace {

using seconds_double = std::chrono::duration<double>;

// Request latency through a proxy: sub-millisecond on a pooled connection, up to the timeouts.
const prometheus::Histogram::BucketBoundaries request_buckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                              0.1,    0.25,  0.5,    1,     2.5,   5,     10};
// A TLSA lookup: a local auth zone answers in microseconds, a cold recursion in up to seconds.
const prometheus::Histogram::BucketBoundaries lookup_buckets{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                             0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5,
                                                             5,      10};

/** A cache of counters by label values, so that a label set is built once per series. */
template <class... Key>
class counter_cache {
public:
    counter_cache(prometheus::Family<prometheus::Counter>& family, std::array<const char*, sizeof...(Key)> names)
        : family_(family), names_(names)
    {
    }

    /** @pre the caller holds the metrics mutex. */
    template <class... Values>
    prometheus::Counter& get(const Values&... values)
    {
        if (auto it = counters_.find(std::forward_as_tuple(values...)); it != counters_.end()) {
            return *it->second;
        }
        prometheus::Labels labels;
        std::size_t i = 0;
        ((labels.emplace(names_[i++], std::string(values))), ...);
        auto& counter = family_.Add(labels);
        counters_.emplace(std::tuple<Key...>(Key(values)...), &counter);
        return counter;
    }

private:
    prometheus::Family<prometheus::Counter>& family_;
    std::array<const char*, sizeof...(Key)> names_;
    std::map<std::tuple<Key...>, prometheus::Counter*, std::less<>> counters_;
};

}  // namespace

std::string_view to_string(connection_result result) noexcept
{
    switch (result) {
    case connection_result::handshake: return "handshake";
    case connection_result::resumed: return "resumed";
    case connection_result::pooled: return "pooled";
    case connection_result::rejected: return "rejected";
    case connection_result::failed: return "failed";
    case connection_result::timeout: return "timeout";
    }
    return "failed";
}

struct metrics::request_series {
    prometheus::Counter* requests;
    prometheus::Histogram* duration;
};

struct metrics::impl {
    prometheus::Registry registry;
    prometheus::Family<prometheus::Counter>& requests =
        prometheus::BuildCounter()
            .Name("danegate_requests_total")
            .Help("Requests answered (HTTP) or connections relayed (TCP), by listener, route number and status code")
            .Register(registry);
    prometheus::Family<prometheus::Histogram>& request_duration =
        prometheus::BuildHistogram()
            .Name("danegate_request_duration_seconds")
            .Help("Time from the end of the request header to the end of the response, by listener")
            .Register(registry);
    prometheus::Family<prometheus::Counter>& upstream_connections =
        prometheus::BuildCounter()
            .Name("danegate_upstream_connections_total")
            .Help("Attempts to obtain an authenticated upstream connection, by upstream, endpoint and result")
            .Register(registry);
    prometheus::Family<prometheus::Counter>& verifications =
        prometheus::BuildCounter()
            .Name("danegate_dane_verifications_total")
            .Help("DANE decisions on new upstream connections, by upstream and reason word")
            .Register(registry);
    prometheus::Family<prometheus::Counter>& reloads = prometheus::BuildCounter()
                                                           .Name("danegate_config_reloads_total")
                                                           .Help("Configuration reloads (SIGHUP), by result")
                                                           .Register(registry);
    prometheus::Family<prometheus::Histogram>& lookups =
        prometheus::BuildHistogram()
            .Name("danegate_dns_lookup_duration_seconds")
            .Help("Duration of TLSA lookups, including the address lookups and CNAME steps they need")
            .Register(registry);
    prometheus::Histogram& lookup_duration = lookups.Add({}, lookup_buckets);
    prometheus::Counter& reloads_accepted = reloads.Add({{"result", "accepted"}});
    prometheus::Counter& reloads_rejected = reloads.Add({{"result", "rejected"}});

    std::mutex mutex;  // guards the maps below, not the series they point to
    std::map<std::tuple<std::string, std::string, unsigned>, std::unique_ptr<request_series>, std::less<>> series;
    std::map<std::string, prometheus::Histogram*, std::less<>> durations;
    counter_cache<std::string, std::string, std::string> connections{upstream_connections,
                                                                     {"upstream", "endpoint", "result"}};
    counter_cache<std::string, std::string> verdicts{verifications, {"upstream", "reason"}};
};

metrics::metrics() : impl_(std::make_unique<impl>()) {}

metrics::~metrics() = default;

metrics::request_series& metrics::series(std::string_view listener, std::optional<std::size_t> route, unsigned code)
{
    const std::string route_label = route ? std::to_string(*route) : std::string("none");
    std::lock_guard lock(impl_->mutex);
    auto& slot = impl_->series[std::tuple<std::string, std::string, unsigned>(listener, route_label, code)];
    if (!slot) {
        auto duration = impl_->durations.find(listener);
        if (duration == impl_->durations.end()) {
            auto& histogram = impl_->request_duration.Add({{"listener", std::string(listener)}}, request_buckets);
            duration = impl_->durations.emplace(std::string(listener), &histogram).first;
        }
        auto& requests = impl_->requests.Add(
            {{"listener", std::string(listener)}, {"route", route_label}, {"code", std::to_string(code)}});
        slot = std::make_unique<request_series>(request_series{&requests, duration->second});
    }
    return *slot;
}

void metrics::count_request(request_series& series, std::chrono::steady_clock::duration duration)
{
    series.requests->Increment();
    series.duration->Observe(std::chrono::duration_cast<seconds_double>(duration).count());
}

void request_counter::count(metrics& counters, std::string_view listener, std::optional<std::size_t> route,
                            unsigned code, std::chrono::steady_clock::duration duration)
{
    if (series_ == nullptr || route_ != route || code_ != code) {
        series_ = &counters.series(listener, route, code);
        route_ = route;
        code_ = code;
    }
    counters.count_request(*series_, duration);
}

void metrics::count_upstream_connection(const std::string& upstream, std::string_view endpoint,
                                        connection_result result)
{
    const std::string_view word = to_string(result);
    prometheus::Counter* counter = nullptr;
    {
        std::lock_guard lock(impl_->mutex);
        counter = &impl_->connections.get(upstream, endpoint, word);
    }
    counter->Increment();
}

void metrics::count_verification(const std::string& upstream, dane::reason reason)
{
    const std::string_view word = dane::to_string(reason);
    prometheus::Counter* counter = nullptr;
    {
        std::lock_guard lock(impl_->mutex);
        counter = &impl_->verdicts.get(upstream, word);
    }
    counter->Increment();
}

void metrics::count_reload(bool accepted)
{
    (accepted ? impl_->reloads_accepted : impl_->reloads_rejected).Increment();
}

void metrics::observe_dns_lookup(std::chrono::steady_clock::duration duration)
{
    impl_->lookup_duration.Observe(std::chrono::duration_cast<seconds_double>(duration).count());
}

std::string metrics::render(const std::vector<snapshot_family>& snapshot) const
{
    auto families = impl_->registry.Collect();
    for (const auto& family : snapshot) {
        prometheus::MetricFamily out;
        out.name = family.name;
        out.help = family.help;
        out.type = family.type == snapshot_family::kind::counter ? prometheus::MetricType::Counter
                                                                  : prometheus::MetricType::Gauge;
        for (const auto& sample : family.samples) {
            prometheus::ClientMetric metric;
            for (const auto& [name, value] : sample.labels) {
                metric.label.push_back({name, value});
            }
            if (family.type == snapshot_family::kind::counter) {
                metric.counter.value = sample.value;
            } else {
                metric.gauge.value = sample.value;
            }
            out.metric.push_back(std::move(metric));
        }
        families.push_back(std::move(out));
    }
    return prometheus::TextSerializer().Serialize(families);
}

}  // namespace danegate::proxy
