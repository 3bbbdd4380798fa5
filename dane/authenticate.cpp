// The one decision function; see authenticate.hpp. Every branch that does not end in
// `authenticated` is a rejection: the code fails closed by construction, and the only way to
// `authenticated` is the last return below.
#include "dane/authenticate.hpp"

#include "dane/openssl_dane.hpp"
#include "dane/tls_session_cache.hpp"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

namespace danegate::dane {

namespace {

verdict reject(reason why, std::string detail)
{
    verdict v;
    v.outcome = why;
    v.detail = std::move(detail);
    return v;
}

std::string join(const std::vector<std::string>& lines)
{
    std::string out;
    for (const auto& line : lines) {
        out += out.empty() ? "" : "; ";
        out += line;
    }
    return out;
}

}  // namespace

dane_setup prepare_dane_handshake(SSL* ssl, const lookup_result& lookup, const dane_policy& policy,
                                  std::shared_ptr<const resumable_session> resume)
{
    dane_setup setup;
    setup.ssl_ = ssl;
    // DESIGN §1 table: only a secure RRset with records goes on to the handshake.
    if (lookup.status != dns_status::secure_records) {
        std::string detail = lookup.tlsa_name.empty() ? lookup.host : lookup.tlsa_name;
        detail += ": " + std::string(to_string(lookup.status));
        if (!lookup.detail.empty()) {
            detail += " (" + lookup.detail + ")";
        }
        setup.rejection_ = reject(rejection_reason(lookup.status), std::move(detail));
        return setup;
    }
    auto loaded = load_tlsa_records(ssl, lookup.base_domain, lookup.reference_names, lookup.records, policy);
    if (!loaded) {
        setup.rejection_ = reject(reason::tls_error, loaded.error().message());
        return setup;
    }
    setup.skipped_ = join(loaded->skipped);
    // OpenSSL silently verifies with PKIX when no record is usable: never let it get there.
    if (loaded->usable == 0) {
        setup.rejection_ = reject(reason::unusable, "no usable TLSA record at " + lookup.tlsa_name +
                                                        (setup.skipped_.empty() ? "" : ": " + setup.skipped_));
        return setup;
    }
    // DESIGN §1: a session stands in for its handshake only under the RRset that authenticated it.
    if (resume && resume->digest() == lookup.rrset_digest) {
        // The connection gets a copy of its own: OpenSSL reads and replaces a connection's
        // session as tickets arrive, and the remembered one is shared by every thread.
        SSL_SESSION* copy = SSL_SESSION_dup(resume->session());
        if (copy != nullptr && SSL_set_session(ssl, copy) == 1) {
            setup.offered_ = std::move(resume);
        }
        SSL_SESSION_free(copy);  // SSL_set_session took its own reference
    }
    // Everything checked: only now may the handshake go ahead.
    setup.rejection_.reset();
    setup.usable_records_ = loaded->usable;
    return setup;
}

verdict authenticate(SSL* ssl, const dane_setup& setup, const boost::system::error_code& handshake_error)
{
    // A connection whose trust setup failed is never authenticated, whatever the handshake says.
    if (setup.rejection_) {
        return *setup.rejection_;
    }
    if (ssl == nullptr || setup.ssl_ != ssl || setup.usable_records_ <= 0) {
        return reject(reason::tls_error, "DANE was not set up on this connection");
    }
    const long verify_result = SSL_get_verify_result(ssl);
    if (handshake_error) {
        // With SSL_VERIFY_PEER a failed verification aborts the handshake; the stored result
        // tells a certificate that did not match from a handshake that failed for other reasons.
        if (verify_result != X509_V_OK) {
            return reject(reason::mismatch, X509_verify_cert_error_string(verify_result));
        }
        return reject(reason::tls_error, handshake_error.message());
    }
    if (verify_result != X509_V_OK) {
        return reject(reason::mismatch, X509_verify_cert_error_string(verify_result));
    }
    if (SSL_session_reused(ssl) == 1) {
        // No certificate was verified in this handshake: only the session we offered, which an
        // authenticated handshake under the same RRset produced, may stand in for one. (With no
        // internal session store, OpenSSL can resume nothing but the session set on this SSL.)
        if (!setup.offered_) {
            return reject(reason::tls_error, "resumed a TLS session that was not offered");
        }
        verdict v = setup.offered_->original();
        v.detail = "resumed";
        return v;
    }
    // X509_V_OK also holds when no certificate was verified at all: require OpenSSL's DANE match.
    if (SSL_get0_dane_authority(ssl, nullptr, nullptr) < 0) {
        return reject(reason::mismatch, "no TLSA record matched the presented chain");
    }
    auto match = matched_record(ssl);
    if (!match) {
        return reject(reason::mismatch, "OpenSSL reported no matching TLSA record");
    }
    verdict v;
    v.outcome = reason::authenticated;
    v.matched = std::move(match->record);
    v.depth = match->depth;
    v.detail = setup.skipped_.empty() ? std::string{} : "ignored: " + setup.skipped_;
    return v;
}

}  // namespace danegate::dane
