// The single decision on whether an upstream is authenticated (DESIGN §1). It has two steps
// around the TLS handshake, and only the second decides:
//   1. prepare_dane_handshake(ssl, lookup, policy): refuses outright when DNSSEC did not give
//      secure, usable TLSA records, else loads them into OpenSSL's DANE state;
//   2. authenticate(ssl, setup, handshake_error): reads OpenSSL's verdict back and returns one
//      reason word with the matched record and depth.
// The upstream connector calls these in exactly one place; a stream is handed to a session only
// when authenticate() says `authenticated`.
#pragma once

#include "dane/lookup_result.hpp"
#include "dane/policy.hpp"
#include "dane/reason.hpp"
#include "dane/tlsa_record.hpp"

#include <boost/system/error_code.hpp>

#include <openssl/types.h>

#include <memory>
#include <optional>
#include <string>

namespace danegate::dane {

class resumable_session;

/** The outcome of authenticating one upstream connection. */
struct verdict {
    reason outcome = reason::tls_error;
    /** The record OpenSSL matched (authenticated only). */
    std::optional<tlsa_record> matched;
    /** Chain depth of the matching certificate: 0 is the leaf (authenticated only). */
    int depth = -1;
    /** For operators: why_bogus, the X.509 error, the skipped records, the TLS alert... */
    std::string detail;

    bool authenticated() const noexcept { return outcome == reason::authenticated; }
};

/** What step 1 did; opaque to callers except for whether a handshake may go ahead. */
class dane_setup {
public:
    /** False when the lookup or the record loading already decided: do not connect at all. */
    bool may_handshake() const noexcept { return !rejection_.has_value(); }

    /** The verdict that forbids the handshake; set exactly when !may_handshake(). */
    const std::optional<verdict>& rejection() const noexcept { return rejection_; }

    /** Records loaded into OpenSSL (0 unless may_handshake()). */
    int usable_records() const noexcept { return usable_records_; }

    /** Whether a remembered session was offered for resumption. */
    bool offered_resumption() const noexcept { return offered_ != nullptr; }

private:
    friend dane_setup prepare_dane_handshake(SSL*, const lookup_result&, const dane_policy&,
                                             std::shared_ptr<const resumable_session>);
    friend verdict authenticate(SSL*, const dane_setup&, const boost::system::error_code&);

    const SSL* ssl_ = nullptr;
    int usable_records_ = 0;
    std::shared_ptr<const resumable_session> offered_;
    // Closed until prepare_dane_handshake opens it: a default-made setup forbids the handshake.
    std::optional<verdict> rejection_ = verdict{reason::tls_error, std::nullopt, -1, "DANE was not set up"};
    std::string skipped_;
};

/**
 * Step 1, before the handshake. Secure records are required: every other DNS outcome is a
 * rejection with its reason word, and so are zero records that OpenSSL accepts (`unusable`), since
 * OpenSSL would otherwise fall back to PKIX.
 * @param resume a session remembered by tls_session_cache for this endpoint: offered only when it
 *        was authenticated under exactly the RRset of @p lookup (DESIGN §1: never across a TLSA
 *        change). The records are loaded all the same, so a server that declines the session is
 *        verified in full.
 * @pre @p ssl is fresh, from a context prepared by prepare_upstream_context.
 */
dane_setup prepare_dane_handshake(SSL* ssl, const lookup_result& lookup, const dane_policy& policy,
                                  std::shared_ptr<const resumable_session> resume = nullptr);

/**
 * Step 2, after the handshake finished (@p handshake_error is its result). Authenticated only when
 * step 1 allowed the handshake on this very SSL, the handshake succeeded,
 * SSL_get_verify_result() is X509_V_OK and SSL_get0_dane_authority() >= 0. A failed certificate
 * verification is `mismatch`; any other handshake failure is `tls_error`. A resumed handshake
 * (which verifies nothing) is authenticated only when it resumed the session step 1 offered, and
 * then carries that session's original verdict.
 */
verdict authenticate(SSL* ssl, const dane_setup& setup, const boost::system::error_code& handshake_error);

}  // namespace danegate::dane
