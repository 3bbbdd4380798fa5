// OpenSSL-backed checks of certificate and key files. Keys are read with a passphrase callback that
// refuses, so an encrypted key is reported instead of OpenSSL prompting on the terminal.
#include "conf/pem_check.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <system_error>

namespace danegate::conf {
namespace {

struct bio_free {
    void operator()(BIO* b) const { BIO_free(b); }
};
struct x509_free {
    void operator()(X509* x) const { X509_free(x); }
};
struct pkey_free {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

int refuse_passphrase(char*, int, int, void*) { return -1; }

std::string quoted(const std::filesystem::path& path) { return "'" + path.string() + "'"; }

/** The reason OpenSSL's error queue gives, and the queue emptied for the next check. */
std::string openssl_reason()
{
    const unsigned long code = ERR_peek_last_error();
    ERR_clear_error();
    if (code == 0) {
        return "no PEM data found";
    }
    const char* reason = ERR_reason_error_string(code);
    return reason != nullptr ? reason : "unknown OpenSSL error";
}

}  // namespace

std::optional<std::string> check_readable_file(const std::filesystem::path& path)
{
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
        return "cannot read " + quoted(path) + ": it is a directory";
    }
    std::FILE* file = std::fopen(path.c_str(), "rb");
    if (file == nullptr) {
        return "cannot read " + quoted(path) + ": " + std::strerror(errno);
    }
    std::fclose(file);
    return std::nullopt;
}

std::optional<pem_problem> check_certificate_pair(const std::filesystem::path& cert, const std::filesystem::path& key)
{
    using culprit = pem_problem::culprit;
    if (auto problem = check_readable_file(cert)) {
        return pem_problem{culprit::cert, *problem};
    }
    if (auto problem = check_readable_file(key)) {
        return pem_problem{culprit::key, *problem};
    }
    ERR_clear_error();
    std::unique_ptr<BIO, bio_free> cert_bio(BIO_new_file(cert.c_str(), "r"));
    std::unique_ptr<X509, x509_free> x509(
        cert_bio ? PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!x509) {
        return pem_problem{culprit::cert, quoted(cert) + " holds no PEM X.509 certificate (" + openssl_reason() + ")"};
    }
    std::unique_ptr<BIO, bio_free> key_bio(BIO_new_file(key.c_str(), "r"));
    std::unique_ptr<EVP_PKEY, pkey_free> pkey(
        key_bio ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, refuse_passphrase, nullptr) : nullptr);
    if (!pkey) {
        return pem_problem{culprit::key, quoted(key) + " holds no unencrypted PEM private key (" + openssl_reason() + ")"};
    }
    if (X509_check_private_key(x509.get(), pkey.get()) != 1) {
        ERR_clear_error();
        return pem_problem{culprit::key, "key " + quoted(key) + " does not match certificate " + quoted(cert)};
    }
    return std::nullopt;
}

}  // namespace danegate::conf
