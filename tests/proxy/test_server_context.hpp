// A TLS server context for the proxy unit tests' in-process peers: a fresh self-signed P-256
// certificate for @p common_name (the peers do not verify it). Throws std::runtime_error when
// OpenSSL fails, which fails the test that needed it.
#pragma once

#include <boost/asio/ssl/context.hpp>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>
#include <stdexcept>

namespace danegate::test {

inline std::unique_ptr<boost::asio::ssl::context> make_server_context(const char* common_name)
{
    auto context = std::make_unique<boost::asio::ssl::context>(boost::asio::ssl::context::tls_server);
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), &EVP_PKEY_free);
    std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), &X509_free);
    if (!key || !cert) {
        throw std::runtime_error("cannot make a test key");
    }
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
    X509_set_pubkey(cert.get(), key.get());
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);
    if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0 ||
        SSL_CTX_use_certificate(context->native_handle(), cert.get()) != 1 ||
        SSL_CTX_use_PrivateKey(context->native_handle(), key.get()) != 1) {
        throw std::runtime_error("cannot make a test certificate");
    }
    return context;
}

}  // namespace danegate::test
