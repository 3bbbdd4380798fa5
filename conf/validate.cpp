// The cross-field pass. Each check appends to the error list and carries on, so one run of
// `danegate check` shows every problem in the file; errors point at the value that must change
// (the second of two duplicates, the route's upstream name, the key that does not match).
#include "conf/validate.hpp"

#include "conf/pem_check.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <thread>

namespace danegate::conf {
namespace {

class checker {
public:
    checker(config& cfg, const validate_options& options, std::vector<config_error>& errors)
        : cfg_(cfg), options_(options), errors_(errors)
    {
    }

    void run()
    {
        set_threads();
        check_trust_anchor();
        check_resolver_files();
        check_stub_zones();
        check_listeners();
        check_listen_addresses();
        check_upstreams();
        check_routes();
        resolve_access_log();
    }

private:
    void error(const source_mark& mark, std::string message)
    {
        errors_.push_back(config_error{mark.line > 0 ? mark : cfg_.mark, std::move(message)});
    }

    std::filesystem::path resolve(const std::string& path) const
    {
        const std::filesystem::path p(path);
        if (p.is_absolute() || options_.base_directory.empty()) {
            return p;
        }
        return (options_.base_directory / p).lexically_normal();
    }

    void set_threads()
    {
        if (cfg_.threads == 0) {
            // hardware_concurrency() may return 0 when it cannot tell; one io thread still serves.
            cfg_.threads = std::clamp(std::thread::hardware_concurrency(), 1u, 1024u);
        }
    }

    void check_trust_anchor()
    {
        auto& r = cfg_.resolver;
        if (r.trust_anchor_file || !r.trust_anchors.empty() || r.unbound_conf) {
            return;
        }
        std::error_code ec;
        if (!options_.default_trust_anchor_file.empty() &&
            std::filesystem::is_regular_file(options_.default_trust_anchor_file, ec)) {
            r.trust_anchor_file = options_.default_trust_anchor_file.string();
            return;
        }
        // DESIGN §1: without an anchor nothing can validate as secure; refuse rather than start a
        // proxy that rejects every upstream.
        error(r.mark, "no trust anchor: set resolver.trust_anchor_file, resolver.trust_anchors or "
                      "resolver.unbound_conf (danegate validates DNSSEC itself and fails closed)");
    }

    void check_resolver_files()
    {
        auto& r = cfg_.resolver;
        if (r.trust_anchor_file) {
            const auto path = resolve(*r.trust_anchor_file);
            if (auto problem = check_readable_file(path)) {
                error(r.trust_anchor_file_mark, "resolver.trust_anchor_file: " + *problem);
            }
            r.trust_anchor_file = path.string();
        }
        if (r.unbound_conf) {
            const auto path = resolve(*r.unbound_conf);
            if (auto problem = check_readable_file(path)) {
                error(r.unbound_conf_mark, "resolver.unbound_conf: " + *problem);
            }
            r.unbound_conf = path.string();
        }
    }

    void check_stub_zones()
    {
        std::map<std::string, const stub_zone*> seen;
        for (std::size_t i = 0; i < cfg_.resolver.stub_zones.size(); ++i) {
            const auto& zone = cfg_.resolver.stub_zones[i];
            if (zone.name.empty()) {
                continue;  // the schema reported it
            }
            auto [it, fresh] = seen.emplace(zone.name, &zone);
            if (!fresh) {
                error(zone.mark, "resolver.stub_zones[" + std::to_string(i) + "]: duplicate stub zone '" + zone.name +
                                     "' (first at " + it->second->mark.to_string() + ")");
            }
        }
    }

    void check_listeners()
    {
        std::map<std::string, const listener*> names;
        for (std::size_t i = 0; i < cfg_.listeners.size(); ++i) {
            auto& l = cfg_.listeners[i];
            const std::string where = "listeners[" + std::to_string(i) + "]";
            if (!l.name.empty()) {
                auto [it, fresh] = names.emplace(l.name, &l);
                if (!fresh) {
                    error(l.name_mark, where + ".name: duplicate listener name '" + l.name + "' (first at " +
                                           it->second->name_mark.to_string() + ")");
                }
            }
            for (std::size_t c = 0; c < l.tls.certificates.size(); ++c) {
                auto& pair = l.tls.certificates[c];
                if (pair.cert.empty() || pair.key.empty()) {
                    continue;  // the schema reported the missing key
                }
                const std::string at = where + ".tls.certificates[" + std::to_string(c) + "].";
                const auto cert = resolve(pair.cert);
                const auto key = resolve(pair.key);
                if (auto problem = check_certificate_pair(cert, key)) {
                    const bool blame_cert = problem->file == pem_problem::culprit::cert;
                    error(blame_cert ? pair.cert_mark : pair.key_mark,
                          at + (blame_cert ? "cert: " : "key: ") + problem->message);
                }
                pair.cert = cert.string();
                pair.key = key.string();
            }
        }
    }

    /** Whether two listeners would fight over one socket: same port, and same or wildcard host. */
    static bool overlaps(const listen_address& a, const listen_address& b)
    {
        if (a.port != b.port) {
            return false;
        }
        if (a.host == b.host) {
            return true;
        }
        const auto v6 = [](const std::string& h) { return h.find(':') != std::string::npos; };
        const auto wildcard = [](const std::string& h) { return h == "0.0.0.0" || h == "::"; };
        // 0.0.0.0 covers every IPv4 address and :: every IPv6 one; names are left to bind().
        return v6(a.host) == v6(b.host) && (wildcard(a.host) || wildcard(b.host));
    }

    void check_listen_addresses()
    {
        struct entry {
            const listen_address* address;
            std::string what;
        };
        std::vector<entry> seen;
        const auto add = [&](const listen_address& address, std::string what) {
            if (address.port == 0) {
                return;  // the schema reported it
            }
            for (const auto& earlier : seen) {
                if (overlaps(*earlier.address, address)) {
                    error(address.mark, what + ": address " + address.host + ":" + std::to_string(address.port) +
                                            " is already used by " + earlier.what + " (at " +
                                            earlier.address->mark.to_string() + ")");
                    return;
                }
            }
            seen.push_back(entry{&address, std::move(what)});
        };
        for (std::size_t i = 0; i < cfg_.listeners.size(); ++i) {
            const auto& l = cfg_.listeners[i];
            add(l.address, "listeners[" + std::to_string(i) + "].address");
        }
        if (cfg_.admin.address) {
            add(*cfg_.admin.address, "admin.address");
        }
    }

    void check_upstreams()
    {
        std::map<std::string, const upstream*> names;
        for (std::size_t i = 0; i < cfg_.upstreams.size(); ++i) {
            const auto& u = cfg_.upstreams[i];
            const std::string where = "upstreams[" + std::to_string(i) + "]";
            if (!u.name.empty()) {
                auto [it, fresh] = names.emplace(u.name, &u);
                if (!fresh) {
                    error(u.name_mark, where + ".name: duplicate upstream name '" + u.name + "' (first at " +
                                           it->second->name_mark.to_string() + ")");
                }
            }
            const bool has_endpoints = u.endpoints_mark.line > 0;
            const bool has_srv = u.srv_mark.line > 0;
            if (has_endpoints && has_srv) {
                error(u.srv_mark, where + ": give either endpoints or srv, not both");
            } else if (!has_endpoints && !has_srv && u.mark.line > 0) {
                error(u.mark, where + ": needs endpoints (a list of HOST:PORT) or srv (an SRV name)");
            }
            std::map<std::string, const endpoint_address*> endpoints;
            for (std::size_t e = 0; e < u.endpoints.size(); ++e) {
                const auto& ep = u.endpoints[e];
                const auto key = ep.host + ":" + std::to_string(ep.port);
                auto [it, fresh] = endpoints.emplace(key, &ep);
                if (!fresh) {
                    error(ep.mark, where + ".endpoints[" + std::to_string(e) + "]: duplicate endpoint " + key +
                                       " (first at " + it->second->mark.to_string() + ")");
                }
            }
        }
    }

    void check_routes()
    {
        for (std::size_t i = 0; i < cfg_.listeners.size(); ++i) {
            const auto& l = cfg_.listeners[i];
            for (std::size_t r = 0; r < l.routes.size(); ++r) {
                const auto& route = l.routes[r];
                const std::string where = "listeners[" + std::to_string(i) + "].routes[" + std::to_string(r) + "]";
                if (!route.upstream.empty() &&
                    std::none_of(cfg_.upstreams.begin(), cfg_.upstreams.end(),
                                 [&](const upstream& u) { return u.name == route.upstream; })) {
                    std::string message = where + ".upstream: unknown upstream '" + route.upstream + "'";
                    std::string names;
                    for (const auto& u : cfg_.upstreams) {
                        names += (names.empty() ? "" : ", ") + u.name;
                    }
                    if (!names.empty()) {
                        message += " (defined: " + names + ")";
                    }
                    error(route.upstream_mark, std::move(message));
                }
                switch (l.protocol) {
                case listener_protocol::tcp:
                    // A byte-stream listener never sees an HTTP request: only the TLS SNI can route.
                    if (route.match.host) {
                        error(route.match.host_mark,
                              where + ".match.host: a tcp listener routes by sni only (host needs protocol: http)");
                    }
                    if (route.match.path_prefix) {
                        error(route.match.path_prefix_mark, where +
                              ".match.path_prefix: a tcp listener routes by sni only (path_prefix needs protocol: http)");
                    }
                    break;
                case listener_protocol::http:
                    break;
                }
            }
        }
    }

    void resolve_access_log()
    {
        auto& access = cfg_.log.access;
        if (access == "stdout" || access == "off" || access.empty()) {
            return;
        }
        access = resolve(access).string();
    }

    config& cfg_;
    const validate_options& options_;
    std::vector<config_error>& errors_;
};

}  // namespace

void validate(config& cfg, const validate_options& options, std::vector<config_error>& errors)
{
    checker(cfg, options, errors).run();
}

}  // namespace danegate::conf
