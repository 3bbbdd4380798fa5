// The server's lifetime: build, bind, serve, drain; see server.hpp.
#include "proxy/server.hpp"

#include "dane/tlsa_cache.hpp"
#include "dane/tlsa_lookup.hpp"
#include "dane/unbound_resolver.hpp"
#include "proxy/build_from_config.hpp"
#include "proxy/listener.hpp"
#include "proxy/proxy_state.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <spdlog/spdlog.h>

#include <csignal>
#include <thread>
#include <vector>

namespace danegate::proxy {

namespace net = boost::asio;
using boost::system::error_code;

struct server::impl {
    explicit impl(unsigned threads) : io(static_cast<int>(threads)), signals(io, SIGINT, SIGTERM, SIGHUP), drain_timer(io), sweep_timer(io) {}

    // Declared first, destroyed last: handlers still queued when it goes hold sessions, and those
    // only reference state they keep alive themselves (proxy_state).
    net::io_context io;
    net::signal_set signals;
    net::steady_timer drain_timer;
    net::steady_timer sweep_timer;
    std::unique_ptr<dane::unbound_resolver> resolver;
    std::unique_ptr<dane::tlsa_cache> cache;
    std::shared_ptr<proxy_state> state;
    std::vector<std::shared_ptr<listener>> listeners;
    std::chrono::steady_clock::time_point drain_deadline;
    unsigned threads = 1;

    void on_signal(error_code ec, int signal)
    {
        if (ec) {
            return;
        }
        signals.async_wait([this](error_code next_ec, int next) { on_signal(next_ec, next); });
        if (signal == SIGHUP) {
            // DESIGN §2 wants a reload here; until it exists, SIGHUP must not kill the process.
            spdlog::warn("SIGHUP: configuration reload is not implemented yet; the running configuration stays");
            return;
        }
        if (state->draining) {
            spdlog::warn("signal {} while draining: stopping now", signal);
            io.stop();
            return;
        }
        spdlog::info("signal {}: no longer accepting; draining {} connection(s) for up to {} ms", signal,
                     state->connections.size(), state->config->drain_timeout.count());
        state->draining = true;
        for (auto& l : listeners) {
            l->stop();
        }
        state->connections.drain_all();
        drain_deadline = std::chrono::steady_clock::now() + state->config->drain_timeout;
        check_drained();
    }

    void check_drained()
    {
        if (state->connections.size() == 0 || std::chrono::steady_clock::now() >= drain_deadline) {
            if (state->connections.size() != 0) {
                spdlog::warn("drain timeout: closing {} connection(s)", state->connections.size());
            }
            if (resolver) {
                resolver->shutdown();
            }
            io.stop();
            return;
        }
        // Idle upstream connections serve no in-flight request: let them go at once.
        sweep_pools(std::chrono::steady_clock::time_point::max());
        // Polling every 50 ms is simpler than a completion count, and a drain is rare.
        drain_timer.expires_after(std::chrono::milliseconds(50));
        drain_timer.async_wait([this](error_code ec) {
            if (!ec) {
                check_drained();
            }
        });
    }

    /** Closes idle upstream connections past their pool.idle_timeout, once a second. */
    void schedule_pool_sweep()
    {
        sweep_timer.expires_after(std::chrono::seconds(1));
        sweep_timer.async_wait([this](error_code ec) {
            if (ec || state->draining) {
                return;
            }
            sweep_pools(std::chrono::steady_clock::now());
            schedule_pool_sweep();
        });
    }

    void sweep_pools(std::chrono::steady_clock::time_point now)
    {
        for (auto& upstream : state->upstreams) {
            upstream->pool.sweep(now);
        }
    }
};

server::server(std::unique_ptr<impl> state) : impl_(std::move(state)) {}

server::~server()
{
    // Members go in reverse order of declaration; the io_context is already stopped.
}

std::unique_ptr<server> server::create(std::shared_ptr<const conf::config> config, std::string& error)
{
    const unsigned threads = config->threads == 0 ? 1 : config->threads;
    auto state = std::make_unique<impl>(threads);
    state->threads = threads;

    auto resolver = dane::unbound_resolver::create(state->io, to_resolver_options(config->resolver));
    if (!resolver) {
        error = "resolver: " + resolver.error().message();
        return nullptr;
    }
    state->resolver = std::move(*resolver);
    dane::unbound_resolver* raw_resolver = state->resolver.get();
    state->cache = std::make_unique<dane::tlsa_cache>(
        to_cache_options(config->resolver),
        [raw_resolver](const std::string& host, std::uint16_t port, dane::lookup_handler done) {
            dane::async_lookup_tlsa(*raw_resolver, host, port, std::move(done));
        });

    auto upstream_context = make_upstream_context();
    if (!upstream_context) {
        error = "upstream TLS context: " + upstream_context.error().message();
        return nullptr;
    }
    auto shared = std::make_shared<proxy_state>();
    shared->config = config;
    for (const auto& upstream : config->upstreams) {
        shared->upstreams.push_back(std::make_unique<upstream_runtime>(upstream));
    }
    shared->connector = std::make_unique<upstream_connector>(*state->cache, std::move(*upstream_context));
    try {
        shared->access = std::make_unique<access_log>(config->log.access);
    } catch (const std::exception& e) {
        error = "access log " + config->log.access + ": " + e.what();
        return nullptr;
    }
    state->state = shared;

    for (const auto& listener_config : config->listeners) {
        std::string tls_error;
        auto tls = tls_server_context::create(listener_config.tls, tls_error,
                                              listener_config.protocol == conf::listener_protocol::http);
        if (!tls) {
            error = "listener " + listener_config.name + ": " + tls_error;
            return nullptr;
        }
        std::shared_ptr<const listener_runtime> runtime;
        try {
            runtime = std::make_shared<const listener_runtime>(
                listener_runtime{listener_config, routing::route_table(listener_config, config->upstreams), std::move(tls)});
        } catch (const std::exception& e) {
            error = "listener " + listener_config.name + ": " + e.what();
            return nullptr;
        }
        auto bound = listener::create(state->io, shared, std::move(runtime), error);
        if (!bound) {
            return nullptr;
        }
        state->listeners.push_back(std::move(bound));
    }
    return std::unique_ptr<server>(new server(std::move(state)));
}

int server::run()
{
    auto& s = *impl_;
    s.signals.async_wait([&s](error_code ec, int signal) { s.on_signal(ec, signal); });
    for (auto& l : s.listeners) {
        const auto endpoint = l->local_endpoint();
        spdlog::info("listening on {}:{}", endpoint.address().to_string(), endpoint.port());
        l->start();
    }
    s.schedule_pool_sweep();
    spdlog::info("danegate running with {} thread(s)", s.threads);
    std::vector<std::thread> threads;
    for (unsigned i = 1; i < s.threads; ++i) {
        threads.emplace_back([&s] { s.io.run(); });
    }
    s.io.run();
    for (auto& thread : threads) {
        thread.join();
    }
    spdlog::info("stopped");
    return 0;
}

}  // namespace danegate::proxy
