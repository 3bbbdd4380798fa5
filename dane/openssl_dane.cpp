// OpenSSL DANE binding; see openssl_dane.hpp. Traps closed here (TESTBED.md, DESIGN §1):
//  - no record loaded means OpenSSL would verify with the CA store: callers refuse at zero, and
//    the store must be empty anyway;
//  - DANE-EE name checks are on by default in OpenSSL: off unless the policy asks (RFC 7671 §5.1);
//  - no verify callback may override `preverified`: SSL_set_verify(..., nullptr) every time.
#include "dane/openssl_dane.hpp"

#include "dane/openssl_error.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

namespace danegate::dane {

namespace {

std::string openssl_error(std::string_view what)
{
    return std::string(what) + ": " + take_openssl_error();
}

// SNI and X.509 reference identifiers carry no trailing dot (RFC 6066 §3).
std::string without_trailing_dot(std::string name)
{
    if (!name.empty() && name.back() == '.') {
        name.pop_back();
    }
    return name;
}

}  // namespace

result<void> prepare_upstream_context(SSL_CTX* ctx)
{
    if (SSL_CTX_dane_enable(ctx) <= 0) {
        return make_failure(errc::tls_setup, openssl_error("SSL_CTX_dane_enable"));
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    // A cert-verify callback replaces X509_verify_cert, and with it OpenSSL's DANE checks.
    SSL_CTX_set_cert_verify_callback(ctx, nullptr, nullptr);
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
        return make_failure(errc::tls_setup, openssl_error("SSL_CTX_set_min_proto_version"));
    }
    return {};
}

result<loaded_records> load_tlsa_records(SSL* ssl, const std::string& base_domain,
                                         const std::vector<std::string>& reference_names,
                                         const std::vector<tlsa_record>& records,
                                         const dane_policy& policy)
{
    X509_STORE* store = SSL_CTX_get_cert_store(SSL_get_SSL_CTX(ssl));
    if (store != nullptr && sk_X509_OBJECT_num(X509_STORE_get0_objects(store)) > 0) {
        return make_failure(errc::tls_setup, "the upstream TLS context has a trust store; DANE upstreams must not");
    }
    // Whatever the context says, this connection verifies the peer with no callback of anyone's,
    // against a store of its own that is empty: no CA file, CA path or store callback of the
    // context can take part (DESIGN §1: the only trust is the TLSA records added below).
    SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
    X509_STORE* empty_store = X509_STORE_new();
    const bool store_set = empty_store != nullptr && SSL_set1_verify_cert_store(ssl, empty_store) == 1;
    X509_STORE_free(empty_store);
    if (!store_set) {
        return make_failure(errc::tls_setup, openssl_error("SSL_set1_verify_cert_store"));
    }

    const std::string primary = without_trailing_dot(base_domain);
    if (policy.sni == sni_mode::fixed) {
        if (SSL_set_tlsext_host_name(ssl, policy.fixed_sni.c_str()) != 1) {
            return make_failure(errc::tls_setup, openssl_error("SSL_set_tlsext_host_name"));
        }
    }
    // Sets SNI to the base domain unless one was set, and makes it the primary reference id.
    if (SSL_dane_enable(ssl, primary.c_str()) <= 0) {
        return make_failure(errc::tls_setup, openssl_error("SSL_dane_enable"));
    }
    if (policy.sni == sni_mode::none) {
        SSL_set_tlsext_host_name(ssl, nullptr);
    }
    // RFC 7671 §5.2: DANE-TA checks the leaf against every reference identifier, without partial
    // wildcards; the pre-CNAME name counts too (RFC 7671 §7).
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    for (const auto& name : reference_names) {
        const std::string reference = without_trailing_dot(name);
        if (reference != primary && SSL_add1_host(ssl, reference.c_str()) != 1) {
            return make_failure(errc::tls_setup, openssl_error("SSL_add1_host"));
        }
    }
    if (!policy.ee_name_checks) {
        SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
    }

    loaded_records loaded;
    for (const auto& record : records) {
        if (auto why = unusable_because(record, policy); !why.empty()) {
            loaded.skipped.push_back(record.to_string() + ": " + why);
            continue;
        }
        const int added = SSL_dane_tlsa_add(ssl, record.usage, record.selector, record.matching_type,
                                            record.data.data(), record.data.size());
        if (added > 0) {
            ++loaded.usable;
        } else if (added == 0) {
            loaded.skipped.push_back(record.to_string() + ": " + openssl_error("unusable for OpenSSL"));
        } else {
            return make_failure(errc::tls_setup, openssl_error("SSL_dane_tlsa_add"));
        }
    }
    return loaded;
}

std::optional<dane_match> matched_record(SSL* ssl)
{
    std::uint8_t usage = 0;
    std::uint8_t selector = 0;
    std::uint8_t mtype = 0;
    const unsigned char* data = nullptr;
    size_t length = 0;
    const int depth = SSL_get0_dane_tlsa(ssl, &usage, &selector, &mtype, &data, &length);
    if (depth < 0 || data == nullptr) {
        return std::nullopt;
    }
    dane_match match;
    match.depth = depth;
    match.record.usage = usage;
    match.record.selector = selector;
    match.record.matching_type = mtype;
    match.record.data.assign(data, data + length);
    return match;
}

}  // namespace danegate::dane
