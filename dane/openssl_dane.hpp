// The OpenSSL DANE binding (RFC 6698, RFC 7671 via OpenSSL's DANE API): the only code that calls
// SSL_dane_*. It prepares the upstream SSL_CTX, loads TLSA records into an SSL before the
// handshake, and reads back which record matched at what depth afterwards. No certificate
// comparison is written here: OpenSSL does all matching and chain checks.
#pragma once

#include "dane/errc.hpp"
#include "dane/policy.hpp"
#include "dane/tlsa_record.hpp"

#include <openssl/types.h>

#include <optional>
#include <string>
#include <vector>

namespace danegate::dane {

/**
 * Makes @p ctx fit for DANE upstreams: DANE enabled, peer verification on without any callback,
 * TLS 1.2 or later. Its trust store must stay empty (DESIGN §1: OpenSSL falls back to PKIX with
 * whatever store is loaded); prepare_dane_handshake refuses a context whose store is not.
 */
result<void> prepare_upstream_context(SSL_CTX* ctx);

/** What load_tlsa_records did to an SSL. */
struct loaded_records {
    int usable = 0;                      ///< records SSL_dane_tlsa_add accepted
    std::vector<std::string> skipped;    ///< one line per record not loaded, with the reason
};

/**
 * Enables DANE on @p ssl for @p base_domain (the primary reference identifier), adds the other
 * @p reference_names, sets SNI per @p policy, and adds every usable record.
 * @pre @p ssl belongs to a context prepared by prepare_upstream_context, before the handshake.
 * @return the count of records loaded; a failure when OpenSSL refuses the setup itself.
 */
result<loaded_records> load_tlsa_records(SSL* ssl, const std::string& base_domain,
                                         const std::vector<std::string>& reference_names,
                                         const std::vector<tlsa_record>& records,
                                         const dane_policy& policy);

/** The record that authenticated the peer and the chain depth of the matching certificate. */
struct dane_match {
    tlsa_record record;
    int depth = -1;  ///< 0 = the leaf
};

/** After a handshake: the match OpenSSL recorded, if any (SSL_get0_dane_authority >= 0). */
std::optional<dane_match> matched_record(SSL* ssl);

}  // namespace danegate::dane
