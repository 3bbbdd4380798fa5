// The server's lifetime: build, bind, serve, drain; see server.hpp.
#include "proxy/server.hpp"

#include "dane/tlsa_cache.hpp"
#include "dane/tlsa_lookup.hpp"
#include "dane/unbound_resolver.hpp"
#include "conf/load.hpp"
#include "proxy/admin_server.hpp"
#include "proxy/build_from_config.hpp"
#include "proxy/listener.hpp"
#include "proxy/live_check.hpp"
#include "proxy/proxy_state.hpp"
#include "proxy/readiness.hpp"
#include "proxy/state_gauges.hpp"
#include "proxy/upstream_observer.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <csignal>
#include <thread>
#include <vector>

namespace danegate::proxy {

namespace net = boost::asio;
using boost::system::error_code;

struct server::impl {
    explicit impl(unsigned threads) : io(static_cast<int>(threads)), signals(net::make_strand(io), SIGINT, SIGTERM, SIGHUP), drain_timer(io), sweep_timer(io) {}

    // Declared first, destroyed last: handlers still queued when it goes hold sessions, and those
    // only reference state they keep alive themselves (proxy_state).
    net::io_context io;
    // On a strand: a second signal never runs while a reload or a drain step is under way.
    net::signal_set signals;
    net::steady_timer drain_timer;
    net::steady_timer sweep_timer;
    std::unique_ptr<dane::unbound_resolver> resolver;
    std::unique_ptr<dane::tlsa_cache> cache;
    std::shared_ptr<proxy_state> state;
    std::vector<std::shared_ptr<listener>> listeners;
    std::shared_ptr<admin_server> admin;  // null without admin.address
    std::atomic<bool> listening{false};   // every listener accepting (/readyz)
    std::chrono::steady_clock::time_point drain_deadline;
    unsigned threads = 1;

    void on_signal(error_code ec, int signal)
    {
        if (ec) {
            return;
        }
        signals.async_wait([this](error_code next_ec, int next) { on_signal(next_ec, next); });
        if (signal == SIGHUP) {
            if (!state->draining) {
                reload();
            }
            return;
        }
        if (state->draining) {
            spdlog::warn("signal {} while draining: stopping now", signal);
            io.stop();
            return;
        }
        const auto drain_timeout = state->current()->config->drain_timeout;
        spdlog::info("signal {}: no longer accepting; draining {} connection(s) for up to {} ms", signal,
                     state->connections.size(), drain_timeout.count());
        state->draining = true;
        for (auto& l : listeners) {
            l->stop();
        }
        state->connections.drain_all();
        drain_deadline = std::chrono::steady_clock::now() + drain_timeout;
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

    /**
     * DESIGN §2 / SIGHUP: reads and validates the file again and, only when all of it is good
     * (configuration, certificates, new addresses bound), installs the new generation at once:
     * new connections and new requests use it, requests in flight finish on the old one.
     * Listeners whose address is unchanged stay bound (their certificates and routes are the new
     * generation's); others are opened and closed. Anything that fails leaves the running
     * configuration untouched. Runs on the signal handler's thread; listeners and the current
     * generation are thread-safe to replace.
     */
    void reload()
    {
        const auto path = state->current()->config->file;
        spdlog::info("SIGHUP: reloading {}", path);
        const auto loaded = conf::load_config(path);
        if (!loaded.ok()) {
            for (const auto& problem : loaded.errors) {
                spdlog::error("{}", problem.to_string());
            }
            spdlog::error("reload rejected ({} error(s)); the running configuration stays", loaded.errors.size());
            state->counters.count_reload(false);
            return;
        }
        std::string error;
        auto next = build_generation(loaded.value, error);
        if (!next) {
            spdlog::error("reload rejected: {}; the running configuration stays", error);
            state->counters.count_reload(false);
            return;
        }
        warn_about_restart_only_changes(*state->current()->config, *loaded.value);

        // Bind what is new before anything changes, so that a failure changes nothing.
        std::vector<std::shared_ptr<listener>> kept;
        std::vector<std::shared_ptr<listener>> opened;
        for (const auto& config : loaded.value->listeners) {
            auto same = std::find_if(listeners.begin(), listeners.end(), [&](const auto& l) {
                return l->name() == config.name && l->address().host == config.address.host &&
                       l->address().port == config.address.port;
            });
            if (same != listeners.end()) {
                kept.push_back(*same);
                continue;
            }
            auto bound = listener::create(io, state, config, error);
            if (!bound) {
                // Also when the address is held by a listener this reload removes or moves: an
                // address cannot change hands in one reload (it would be unbound for a moment).
                opened.clear();  // closes what this reload bound

                spdlog::error("reload rejected: {}; the running configuration stays", error);
                state->counters.count_reload(false);
                return;
            }
            opened.push_back(std::move(bound));
        }
        state->install(std::move(next));
        for (auto& old : listeners) {
            if (std::find(kept.begin(), kept.end(), old) == kept.end()) {
                spdlog::info("listener {} closed", old->name());
                old->stop();
            }
        }
        for (auto& added : opened) {
            const auto endpoint = added->local_endpoint();
            spdlog::info("listener {} listening on {}:{}", added->name(), endpoint.address().to_string(), endpoint.port());
            added->start();
            kept.push_back(added);
        }
        listeners = std::move(kept);
        state->counters.count_reload(true);
        spdlog::info("configuration reloaded: {} listener(s), {} upstream(s)", listeners.size(),
                     state->current()->upstreams.size());
    }

    /** What a reload cannot change in a running process; said, not silently ignored. */
    static void warn_about_restart_only_changes(const conf::config& running, const conf::config& next)
    {
        if (running.threads != next.threads) {
            spdlog::warn("reload: threads changes at the next restart");
        }
        if (running.log.access != next.log.access) {
            spdlog::warn("reload: log.access changes at the next restart");
        }
        const auto admin_text = [](const conf::config& c) {
            return c.admin.address ? c.admin.address->host + ":" + std::to_string(c.admin.address->port) : "none";
        };
        if (admin_text(running) != admin_text(next)) {
            spdlog::warn("reload: admin.address changes at the next restart");
        }
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
        // Held for the loop: a range-for over state->current()->upstreams would drop the
        // temporary shared_ptr at once (C++20), and a reload on another thread could then free
        // the generation mid-sweep (TSan saw ~upstream_pool race sweep under reload_e2e).
        const auto generation = state->current();
        for (const auto& upstream : generation->upstreams) {
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
    auto shared = std::make_shared<proxy_state>();
    shared->io_threads = threads;
    dane::unbound_resolver* raw_resolver = state->resolver.get();
    metrics* counters = &shared->counters;
    state->cache = std::make_unique<dane::tlsa_cache>(
        to_cache_options(config->resolver),
        [raw_resolver, counters](const std::string& host, std::uint16_t port, dane::lookup_handler done) {
            const auto started = std::chrono::steady_clock::now();
            dane::async_lookup_tlsa(*raw_resolver, host, port,
                                    [counters, started, done = std::move(done)](std::shared_ptr<const dane::lookup_result> result) {
                                        counters->observe_dns_lookup(std::chrono::steady_clock::now() - started);
                                        done(std::move(result));
                                    });
        });

    auto upstream_context = make_upstream_context();
    if (!upstream_context) {
        error = "upstream TLS context: " + upstream_context.error().message();
        return nullptr;
    }
    shared->connector = std::make_unique<upstream_connector>(*state->cache, std::move(*upstream_context),
                                                             make_upstream_observer(shared->counters, shared->endpoints));
    try {
        shared->access = std::make_unique<access_log>(config->log.access);
    } catch (const std::exception& e) {
        error = "access log " + config->log.access + ": " + e.what();
        return nullptr;
    }
    auto first = build_generation(config, error);
    if (!first) {
        return nullptr;
    }
    shared->install(std::move(first));
    state->state = shared;

    for (const auto& listener_config : config->listeners) {
        auto bound = listener::create(state->io, shared, listener_config, error);
        if (!bound) {
            return nullptr;
        }
        state->listeners.push_back(std::move(bound));
    }
    if (config->admin.address) {
        impl* s = state.get();
        admin_server::content answers{
            [s] { return s->state->counters.render(state_gauges(*s->state, *s->cache, std::chrono::steady_clock::now())); },
            [s] { return check_readiness(*s->state, s->listening); }};
        state->admin = admin_server::create(state->io, *config->admin.address, std::move(answers), error);
        if (!state->admin) {
            return nullptr;
        }
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
    s.listening = true;
    if (s.admin) {
        const auto endpoint = s.admin->local_endpoint();
        spdlog::info("admin listening on {}:{} (/metrics, /healthz, /readyz)", endpoint.address().to_string(),
                     endpoint.port());
        s.admin->start();
    }
    s.schedule_pool_sweep();
    // Issue 4 §3: the live self-checks once at start-up, logged; they never stop the start.
    auto config = s.state->current()->config;
    auto shared = s.state;
    async_live_check(s.io, *s.resolver, *config, [config, shared](std::vector<endpoint_check> checks) {
        std::size_t authenticated = 0;
        for (const auto& check : checks) {
            // /readyz and the endpoint gauges know every endpoint's state from the start; a
            // request's attempt replaces it later.
            if (!shared->endpoints.find(check.upstream, check.endpoint)) {
                shared->endpoints.record(check.upstream, check.endpoint,
                                         endpoint_status{check.dnssec, check.verdict, std::chrono::system_clock::now()});
            }
            if (check.verdict.authenticated() && check.warnings.empty()) {
                spdlog::info("live check: {}", describe(check));
            } else {
                spdlog::warn("live check: {}", describe(check));
            }
            authenticated += check.verdict.authenticated() ? 1 : 0;
        }
        spdlog::info("live checks done: {} of {} endpoint(s) authenticated", authenticated, checks.size());
    });
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
