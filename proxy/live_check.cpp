// See live_check.hpp.
#include "proxy/live_check.hpp"

#include "dane/tls_probe.hpp"
#include "dane/tlsa_lookup.hpp"
#include "dane/unbound_resolver.hpp"
#include "proxy/build_from_config.hpp"

#include <boost/asio/io_context.hpp>

#include <ctime>
#include <memory>
#include <mutex>
#include <ostream>

namespace danegate::proxy {

namespace {

/** "Dec 20 12:00:00 2026 GMT" (ASN1_TIME_print) as a time point. */
std::optional<std::chrono::system_clock::time_point> parse_certificate_time(const std::string& text)
{
    std::tm tm{};
    if (strptime(text.c_str(), "%b %d %H:%M:%S %Y", &tm) == nullptr) {
        return std::nullopt;
    }
    return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::string date_of(std::chrono::system_clock::time_point at)
{
    const std::time_t t = std::chrono::system_clock::to_time_t(at);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text;
}

/** Collects results from handlers on any thread; calls done when the last one arrives. */
struct collection {
    std::mutex mutex;
    std::vector<endpoint_check> checks;
    std::size_t pending = 0;
    std::function<void(std::vector<endpoint_check>)> done;

    void finish(std::size_t index, endpoint_check check)
    {
        std::function<void(std::vector<endpoint_check>)> call;
        {
            std::lock_guard lock(mutex);
            check.warnings = live_warnings(check, std::chrono::system_clock::now());
            checks[index] = std::move(check);
            if (--pending == 0) {
                call = std::move(done);
            }
        }
        if (call) {
            call(std::move(checks));
        }
    }
};

}  // namespace

std::vector<std::string> live_warnings(const endpoint_check& check, std::chrono::system_clock::time_point now)
{
    std::vector<std::string> warnings;
    if (check.certificate_expires && *check.certificate_expires - now < warn_ahead) {
        warnings.push_back("certificate expires " + date_of(*check.certificate_expires));
    }
    if (check.signatures_expire && *check.signatures_expire - now < warn_ahead) {
        warnings.push_back("DNSSEC signatures expire " + date_of(*check.signatures_expire));
    }
    if (check.verdict.authenticated() && check.records == 1) {
        warnings.push_back("only one TLSA record is published: a key change would break this upstream "
                           "(publish the next key's record beside it first)");
    }
    return warnings;
}

std::string describe(const endpoint_check& check)
{
    std::string line = check.upstream + " " + check.endpoint + ": " + std::string(dane::to_string(check.verdict.outcome));
    if (check.verdict.matched) {
        line += " record=\"" + check.verdict.matched->to_string() + "\" depth=" + std::to_string(check.verdict.depth);
    }
    if (!check.spki_sha256.empty()) {
        line += " spki=" + check.spki_sha256;
    }
    line += " ttl=" + std::to_string(check.ttl.count()) + "s";
    if (check.signatures_expire) {
        line += " signatures-until=" + date_of(*check.signatures_expire);
    }
    if (!check.verdict.authenticated() && !check.verdict.detail.empty()) {
        line += " (" + check.verdict.detail + ")";
    }
    for (const auto& warning : check.warnings) {
        line += "; warning: " + warning;
    }
    return line;
}

void async_live_check(boost::asio::io_context& io, dane::unbound_resolver& resolver, const conf::config& config,
                      std::function<void(std::vector<endpoint_check>)> done)
{
    auto all = std::make_shared<collection>();
    all->done = std::move(done);
    struct job {
        const conf::upstream* upstream;
        const conf::endpoint_address* endpoint;
    };
    std::vector<job> jobs;
    for (const auto& upstream : config.upstreams) {
        if (upstream.srv) {
            jobs.push_back({&upstream, nullptr});
        }
        for (const auto& endpoint : upstream.endpoints) {
            jobs.push_back({&upstream, &endpoint});
        }
    }
    all->checks.resize(jobs.size());
    all->pending = jobs.size();
    if (jobs.empty()) {
        auto call = std::move(all->done);
        call({});
        return;
    }
    for (std::size_t i = 0; i < jobs.size(); ++i) {
        endpoint_check check;
        check.upstream = jobs[i].upstream->name;
        if (jobs[i].endpoint == nullptr) {
            check.endpoint = "srv:" + *jobs[i].upstream->srv;
            check.verdict = dane::verdict{dane::reason::dns_error, std::nullopt, -1, "SRV discovery is not checked live"};
            all->finish(i, std::move(check));
            continue;
        }
        const auto& endpoint = *jobs[i].endpoint;
        check.endpoint = endpoint.host + ":" + std::to_string(endpoint.port);
        dane::probe_options options;
        options.policy = to_dane_policy(*jobs[i].upstream);
        options.timeout = jobs[i].upstream->timeouts.connect;
        dane::async_lookup_tlsa(
            resolver, endpoint.host, endpoint.port,
            [&io, all, i, options, check = std::move(check)](std::shared_ptr<const dane::lookup_result> lookup) mutable {
                check.dnssec = lookup->status;
                check.ttl = lookup->ttl;
                check.records = lookup->records.size();
                check.signatures_expire = lookup->signatures_expire;
                dane::async_probe(io, lookup, options, [all, i, check = std::move(check)](dane::probe_result probe) mutable {
                    check.verdict = probe.outcome;
                    if (!probe.chain.empty()) {
                        check.spki_sha256 = probe.chain.front().spki_sha256;
                        check.certificate_expires = parse_certificate_time(probe.chain.front().not_after);
                    }
                    all->finish(i, std::move(check));
                });
            });
    }
}

int run_live_check(const conf::config& config, std::ostream& out, std::ostream& err)
{
    boost::asio::io_context io;
    auto resolver = dane::unbound_resolver::create(io, to_resolver_options(config.resolver));
    if (!resolver) {
        err << "resolver: " << resolver.error().message() << "\n";
        return 2;
    }
    std::vector<endpoint_check> checks;
    async_live_check(io, **resolver, config, [&](std::vector<endpoint_check> results) {
        checks = std::move(results);
        (*resolver)->shutdown();
    });
    io.run();
    bool all_authenticated = true;
    for (const auto& check : checks) {
        out << describe(check) << "\n";
        all_authenticated = all_authenticated && check.verdict.authenticated();
    }
    return all_authenticated ? 0 : 1;
}

}  // namespace danegate::proxy
