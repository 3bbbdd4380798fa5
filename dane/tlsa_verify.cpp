// `danegate tlsa verify`; see tlsa_verify.hpp. Blocking is fine here: this is a command-line
// tool, so it runs its own io_context until the lookup and the probe are done.
#include "dane/tlsa_verify.hpp"

#include "dane/tlsa_lookup.hpp"

#include <boost/asio/io_context.hpp>

#include <ostream>

namespace danegate::dane {

namespace net = boost::asio;

namespace {

void print_lookup(const lookup_result& lookup, const dane_policy& policy, std::ostream& out)
{
    out << "host:        " << lookup.host << " port " << lookup.port << "\n";
    if (!lookup.addresses.empty()) {
        out << "addresses:  ";
        for (const auto& address : lookup.addresses) {
            out << " " << address;
        }
        out << "\n";
    }
    if (!lookup.tlsa_name.empty()) {
        out << "tlsa name:   " << lookup.tlsa_name << "\n";
    }
    out << "dnssec:      " << to_string(lookup.status);
    if (lookup.status == dns_status::secure_records) {
        out << " (ttl " << lookup.ttl.count() << " s)";
    }
    out << "\n";
    if (!lookup.detail.empty()) {
        out << "dns detail:  " << lookup.detail << "\n";
    }
    for (const auto& record : lookup.records) {
        const std::string why = unusable_because(record, policy);
        out << "record:      " << record.to_string() << (why.empty() ? "" : "  [unusable: " + why + "]") << "\n";
    }
}

void print_probe(const probe_result& probe, std::ostream& out)
{
    if (probe.connected) {
        out << "connected:   " << probe.address << "\n";
    }
    for (std::size_t depth = 0; depth < probe.chain.size(); ++depth) {
        const auto& cert = probe.chain[depth];
        out << "certificate: depth " << depth << "\n"
            << "  subject:     " << cert.subject << "\n"
            << "  issuer:      " << cert.issuer << "\n"
            << "  spki sha256: " << cert.spki_sha256 << "\n"
            << "  not before:  " << cert.not_before << "\n"
            << "  not after:   " << cert.not_after << "\n";
    }
    const verdict& v = probe.outcome;
    if (v.matched) {
        out << "matched:     " << v.matched->to_string() << " at depth " << v.depth << "\n";
    }
    if (!v.detail.empty()) {
        out << "detail:      " << v.detail << "\n";
    }
    out << "reason:      " << to_string(v.outcome) << "\n";
}

}  // namespace

result<bool> tlsa_verify(const tlsa_verify_options& options, std::ostream& out)
{
    if (normalize_domain_name(options.host).empty()) {
        return make_failure(errc::bad_domain_name, "\"" + options.host + "\" is not a valid host name");
    }
    net::io_context io;
    auto resolver = unbound_resolver::create(io, options.resolver);
    if (!resolver) {
        return resolver.error();
    }
    std::shared_ptr<const lookup_result> lookup;
    async_lookup_tlsa(**resolver, options.host, options.port,
                      [&lookup](std::shared_ptr<const lookup_result> r) { lookup = std::move(r); });
    io.run();
    if (!lookup) {
        return make_failure(errc::lookup_failed, "the TLSA lookup did not complete");
    }
    print_lookup(*lookup, options.policy, out);

    probe_options probe;
    probe.policy = options.policy;
    probe.starttls = options.starttls;
    probe.timeout = options.connect_timeout;
    std::optional<probe_result> outcome;
    io.restart();
    async_probe(io, lookup, probe, [&outcome](probe_result r) { outcome = std::move(r); });
    io.run();
    if (!outcome) {
        return make_failure(errc::lookup_failed, "the connection attempt did not complete");
    }
    print_probe(*outcome, out);
    return outcome->outcome.authenticated();
}

}  // namespace danegate::dane
