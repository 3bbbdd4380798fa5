// RFC 7671 §7 TLSA lookup; see tlsa_lookup.hpp. One lookup is a small state machine object that
// lives until its last resolver callback; every step runs on the resolver's strand.
#include "dane/tlsa_lookup.hpp"

#include "dane/unbound_resolver.hpp"

#include <arpa/inet.h>

#include <algorithm>

namespace danegate::dane {

namespace {

std::string address_text(int family, const std::vector<std::uint8_t>& rdata)
{
    char text[INET6_ADDRSTRLEN] = {};
    const std::size_t expected = family == AF_INET ? 4 : 16;
    if (rdata.size() != expected || inet_ntop(family, rdata.data(), text, sizeof text) == nullptr) {
        return {};
    }
    return text;
}

// Security of the host's address RRsets taken together: the weakest answer wins, in the order
// dns_error > bogus > insecure > secure (a failure is never hidden by the other family).
int severity(dns_status status)
{
    switch (status) {
    case dns_status::dns_error: return 3;
    case dns_status::bogus: return 2;
    case dns_status::insecure: return 1;
    case dns_status::secure_records: return 0;
    case dns_status::secure_nodata: return 0;
    case dns_status::secure_nxdomain: return 0;
    }
    return 3;
}

class tlsa_lookup : public std::enable_shared_from_this<tlsa_lookup> {
public:
    tlsa_lookup(resolver_handle resolver, std::string host, std::uint16_t port, lookup_handler done)
        : resolver_(std::move(resolver)), done_(std::move(done))
    {
        result_.host = normalize_domain_name(host);
        result_.port = port;
        if (result_.host.empty()) {
            invalid_host_ = std::move(host);
        }
    }

    void start()
    {
        if (result_.host.empty()) {
            fail(dns_status::dns_error, "\"" + invalid_host_ + "\" is not a valid host name");
            return;
        }
        resolver_.resolve(result_.host, rr_type::a, [self = shared_from_this()](dns_answer a) {
            self->ipv4_ = std::move(a);
            self->on_address_answer();
        });
        resolver_.resolve(result_.host, rr_type::aaaa, [self = shared_from_this()](dns_answer a) {
            self->ipv6_ = std::move(a);
            self->on_address_answer();
        });
    }

private:
    void on_address_answer()
    {
        if (++address_answers_ < 2) {
            return;
        }
        const dns_answer& worst = severity(ipv6_.status) > severity(ipv4_.status) ? ipv6_ : ipv4_;
        for (const auto& rdata : ipv6_.rdata) {
            if (auto text = address_text(AF_INET6, rdata); !text.empty()) {
                result_.addresses.push_back(std::move(text));
            }
        }
        for (const auto& rdata : ipv4_.rdata) {
            if (auto text = address_text(AF_INET, rdata); !text.empty()) {
                result_.addresses.push_back(std::move(text));
            }
        }
        answers_ttl_ = std::min(ipv4_.ttl, ipv6_.ttl);
        note_signatures(ipv4_);
        note_signatures(ipv6_);
        const std::string& canonical = !ipv4_.canonical_name.empty() ? ipv4_.canonical_name : ipv6_.canonical_name;
        const bool aliased = !canonical.empty() && canonical != result_.host;

        switch (worst.status) {
        case dns_status::dns_error:
            fail(dns_status::dns_error, "address lookup: " + worst.detail);
            return;
        case dns_status::bogus:
            fail(dns_status::bogus, "address lookup: " + worst.detail);
            return;
        case dns_status::insecure:
            if (!aliased) {
                // RFC 7672 §2.2.2: insecure address records of a non-alias host mean its TLSA
                // records cannot be secure either; fail before asking for them.
                fail(dns_status::insecure, "address records of " + result_.host + " are not DNSSEC-signed");
                return;
            }
            // RFC 7671 §7: an insecure CNAME expansion may not be trusted as TLSA base domain;
            // only the original name is looked up.
            query_tlsa(result_.host, false);
            return;
        case dns_status::secure_records:
        case dns_status::secure_nodata:
        case dns_status::secure_nxdomain:
            if (aliased) {
                // RFC 7671 §7: TLSA at the fully expanded name first; the original name is a
                // fallback only after a secure denial there, and both are reference identifiers.
                expanded_name_ = canonical;
                query_tlsa(canonical, true);
            } else {
                query_tlsa(result_.host, false);
            }
            return;
        }
    }

    void query_tlsa(const std::string& base_domain, bool fallback_to_original)
    {
        result_.base_domain = base_domain;
        result_.tlsa_name = tlsa_owner_name(result_.port, base_domain);
        resolver_.resolve(result_.tlsa_name, rr_type::tlsa,
                          [self = shared_from_this(), fallback_to_original](dns_answer answer) {
                              self->on_tlsa_answer(std::move(answer), fallback_to_original);
                          });
    }

    void on_tlsa_answer(dns_answer answer, bool fallback_to_original)
    {
        // The result lives no longer than any answer it rests on: a denial at the expanded name
        // that sent us to the original name expires with its own (often short) TTL.
        answers_ttl_ = std::min(answers_ttl_, answer.ttl);
        note_signatures(answer);
        const bool secure_denial = answer.status == dns_status::secure_nodata ||
                                   answer.status == dns_status::secure_nxdomain;
        if (fallback_to_original && secure_denial) {
            query_tlsa(result_.host, false);
            return;
        }
        result_.status = answer.status;
        result_.detail = answer.detail;
        result_.ttl = answers_ttl_;
        result_.reference_names.push_back(result_.base_domain);
        if (!expanded_name_.empty()) {
            const std::string& other = result_.base_domain == result_.host ? expanded_name_ : result_.host;
            result_.reference_names.push_back(other);
        }
        if (answer.status == dns_status::secure_records) {
            std::size_t malformed = 0;
            for (const auto& rdata : answer.rdata) {
                if (auto record = parse_tlsa_rdata(rdata)) {
                    result_.records.push_back(std::move(*record));
                } else {
                    // A malformed record is unusable (RFC 7671 §5); the others still count.
                    ++malformed;
                }
            }
            if (malformed > 0) {
                result_.detail = std::to_string(malformed) + " malformed TLSA record(s) ignored";
            }
            result_.rrset_digest = rrset_digest(result_.records);
        } else if (answer.status == dns_status::insecure) {
            result_.detail = result_.tlsa_name + " is not DNSSEC-signed";
        }
        complete();
    }

    void note_signatures(const dns_answer& answer)
    {
        if (answer.signatures_expire) {
            auto& earliest = result_.signatures_expire;
            earliest = earliest ? std::min(*earliest, *answer.signatures_expire) : *answer.signatures_expire;
        }
    }

    void fail(dns_status status, std::string detail)
    {
        result_.status = status;
        result_.detail = std::move(detail);
        result_.ttl = answers_ttl_;
        complete();
    }

    void complete()
    {
        done_(std::make_shared<const lookup_result>(std::move(result_)));
    }

    resolver_handle resolver_;  // not the resolver itself: a lookup may outlive it
    lookup_handler done_;
    lookup_result result_;
    dns_answer ipv4_;
    dns_answer ipv6_;
    int address_answers_ = 0;
    std::chrono::seconds answers_ttl_{0};  // the smallest TTL of the answers used so far
    std::string expanded_name_;
    std::string invalid_host_;
};

}  // namespace

std::string tlsa_owner_name(std::uint16_t port, const std::string& absolute_host)
{
    return "_" + std::to_string(port) + "._tcp." + absolute_host;
}

void async_lookup_tlsa(unbound_resolver& resolver, std::string host, std::uint16_t port,
                       lookup_handler done)
{
    std::make_shared<tlsa_lookup>(resolver.handle(), std::move(host), port, std::move(done))->start();
}

}  // namespace danegate::dane
