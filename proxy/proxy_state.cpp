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
    out.pool = reuse_idle ? &pool : nullptr;
    return out;
}

std::uint64_t connection_tracker::add(drain_function on_drain)
{
    std::lock_guard lock(mutex_);
    const auto id = next_id_++;
    connections_.emplace(id, std::move(on_drain));
    return id;
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
        for (const auto& [id, function] : connections_) {
            functions.push_back(function);
        }
    }
    for (const auto& function : functions) {
        function();
    }
}

}  // namespace danegate::proxy
