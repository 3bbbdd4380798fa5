// Run-time state shared by sessions; see proxy_state.hpp.
#include "proxy/proxy_state.hpp"

#include "proxy/build_from_config.hpp"

namespace danegate::proxy {

upstream_runtime::upstream_runtime(const conf::upstream& upstream)
    : config(upstream),
      endpoints(upstream),
      policy(to_dane_policy(upstream)),
      pool(upstream.pool.max_idle, upstream.pool.idle_timeout)
{
}

upstream_target upstream_runtime::target(const routing::endpoint_ref& endpoint, bool reuse_idle)
{
    upstream_target out;
    out.host = endpoint.host();
    out.port = endpoint.port();
    out.policy = policy;
    out.connect_timeout = config.timeouts.connect;
    out.upstream = config.name;
    out.pool = &pool;
    out.reuse_idle = reuse_idle;
    return out;
}

std::shared_ptr<const listener_runtime> generation::listener(std::string_view name) const
{
    for (const auto& runtime : listeners) {
        if (runtime->config.name == name) {
            return runtime;
        }
    }
    return nullptr;
}

std::shared_ptr<const generation> build_generation(std::shared_ptr<const conf::config> config, std::string& error)
{
    auto built = std::make_shared<generation>();
    built->config = config;
    for (const auto& upstream : config->upstreams) {
        built->upstreams.push_back(std::make_unique<upstream_runtime>(upstream));
    }
    for (const auto& listener_config : config->listeners) {
        std::string tls_error;
        auto tls = tls_server_context::create(listener_config.tls, tls_error,
                                              listener_config.protocol == conf::listener_protocol::http);
        if (!tls) {
            error = "listener " + listener_config.name + ": " + tls_error;
            return nullptr;
        }
        try {
            built->listeners.push_back(std::make_shared<const listener_runtime>(
                listener_runtime{listener_config, routing::route_table(listener_config, config->upstreams), std::move(tls)}));
        } catch (const std::exception& e) {
            error = "listener " + listener_config.name + ": " + e.what();
            return nullptr;
        }
    }
    return built;
}

void proxy_state::report(const access_record& record, const std::string& listener, std::optional<std::size_t> route,
                         request_counter& counter)
{
    access->write(record);
    counter.count(counters, listener, route, record.status, record.duration);
}

connection_tracker::entry connection_tracker::add(const std::string& listener, drain_function on_drain)
{
    std::lock_guard lock(mutex_);
    const auto id = next_id_++;
    connections_.emplace(id, connection{listener, std::move(on_drain)});
    return entry(this, id);
}

std::map<std::string, std::size_t> connection_tracker::by_listener() const
{
    std::lock_guard lock(mutex_);
    std::map<std::string, std::size_t> counts;
    for (const auto& [id, c] : connections_) {
        ++counts[c.listener];
    }
    return counts;
}

void connection_tracker::remove(std::uint64_t id)
{
    std::lock_guard lock(mutex_);
    connections_.erase(id);
}

std::size_t connection_tracker::size() const
{
    std::lock_guard lock(mutex_);
    return connections_.size();
}

void connection_tracker::drain_all()
{
    std::vector<drain_function> functions;
    {
        // Called outside the lock: a drain function may end its session, which calls remove().
        std::lock_guard lock(mutex_);
        for (const auto& [id, c] : connections_) {
            functions.push_back(c.on_drain);
        }
    }
    for (const auto& function : functions) {
        function();
    }
}

}  // namespace danegate::proxy
