// The closed set of DNS outcomes of a TLSA lookup (DESIGN §1), with the records, the TTL to cache
// for, unbound's why_bogus text, and the names DANE verification needs (RFC 7671 §7: the TLSA
// base domain after CNAME expansion, plus the original name as a reference identifier).
#pragma once

#include "dane/reason.hpp"
#include "dane/tlsa_record.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace danegate::dane {

/** What DNSSEC said about the TLSA RRset. A switch over it has no default (-Wswitch-enum). */
enum class dns_status {
    secure_records,   ///< validated, at least one TLSA record (usable or not)
    secure_nodata,    ///< validated proof that the name has no TLSA records
    secure_nxdomain,  ///< validated proof that the name does not exist
    insecure,         ///< provably unsigned (no DS on the way), or insecure address records
    bogus,            ///< validation failed
    dns_error,        ///< SERVFAIL, timeout, unreachable resolver, library error
};

/** "secure", "secure NODATA", "insecure", "bogus", ... for operators. */
std::string_view to_string(dns_status status) noexcept;

/**
 * The reason a lookup with @p status rejects an upstream before any handshake; secure_records
 * maps to `authenticated` only as "go on to the handshake" (the verdict comes from OpenSSL).
 */
reason rejection_reason(dns_status status) noexcept;

/** Everything one TLSA lookup for (host, port) learnt. Immutable once made; shared by the cache. */
struct lookup_result {
    dns_status status = dns_status::dns_error;

    /** The host as asked for, lower case, absolute ("app.corp.example."). */
    std::string host;
    std::uint16_t port = 0;

    /**
     * The TLSA base domain whose RRset this is: the CNAME-expanded host when TLSA records were
     * found there, else the original host (RFC 7671 §7). It is the SNI default and the primary
     * DANE-TA reference identifier.
     */
    std::string base_domain;

    /** The owner name actually queried last ("_443._tcp.app.corp.example."). */
    std::string tlsa_name;

    /** DANE-TA reference identifiers: base_domain first, then the other name if CNAMEs differ. */
    std::vector<std::string> reference_names;

    /** The TLSA RRset (secure_records only), in the order DNS returned it. */
    std::vector<tlsa_record> records;

    /** Validated IPv4/IPv6 addresses of the host in text form (possibly empty). */
    std::vector<std::string> addresses;

    /** How long this answer may be used, before the cache's caps. */
    std::chrono::seconds ttl{0};

    /** The earliest RRSIG expiration among the secure answers used (operators: re-signing due). */
    std::optional<std::chrono::system_clock::time_point> signatures_expire;

    /** unbound's why_bogus, the rcode, or the timeout: whatever explains a non-secure status. */
    std::string detail;

    /**
     * SHA-256 over the canonical (sorted) wire rdata of the RRset; all zero unless secure_records.
     * Two lookups with equal digests authenticated against the same set of records (DESIGN §1).
     */
    std::array<std::uint8_t, 32> rrset_digest{};
};

/** The digest lookup_result::rrset_digest holds for @p records (order does not matter). */
std::array<std::uint8_t, 32> rrset_digest(std::vector<tlsa_record> records);

}  // namespace danegate::dane
