// The one reason vocabulary of DESIGN §1: every outcome of authenticating an upstream is exactly one
// of these words, and the CLI, logs and metrics print them from the single name table in reason.cpp.
#pragma once

#include <optional>
#include <string_view>

namespace danegate::dane {

/** Why an upstream was, or was not, authenticated (DESIGN §1). */
enum class reason {
    authenticated,  ///< OpenSSL's DANE verification matched a usable, secure TLSA record
    mismatch,       ///< the chain matched no record, or a DANE-TA check (name, validity) failed
    no_tlsa,        ///< secure NXDOMAIN or NODATA for the TLSA name
    insecure,       ///< the TLSA RRset (or the host's address records) is not DNSSEC-signed
    bogus,          ///< DNSSEC validation failed
    unusable,       ///< secure records exist but none is usable under the policy
    dns_error,      ///< SERVFAIL, timeout, or the resolver could not be reached
    tls_error,      ///< the TLS handshake failed before certificate verification
};

/** The word for @p r, as printed everywhere ("no-tlsa", "dns-error", ...). */
std::string_view to_string(reason r) noexcept;

/** Inverse of to_string(); nullopt for an unknown word. */
std::optional<reason> reason_from_string(std::string_view word) noexcept;

}  // namespace danegate::dane
