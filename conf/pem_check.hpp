// Checks a listener's certificate and key files the way the TLS server will load them, so that a
// bad pair is a FILE:LINE:COL error from `danegate check` rather than a failure after binding.
// OpenSSL stays inside pem_check.cpp; conf's headers name no OpenSSL type.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace danegate::conf {

/** Why a certificate pair is unusable, and which of the two files to blame. */
struct pem_problem {
    enum class culprit { cert, key };
    culprit file = culprit::cert;
    std::string message;
};

/**
 * Whether @p path names a regular file this process can read.
 * @return nothing when it can, else "cannot read 'PATH': <reason>"
 */
std::optional<std::string> check_readable_file(const std::filesystem::path& path);

/**
 * Both files readable, the first PEM block of @p cert an X.509 certificate, @p key an unencrypted
 * PEM private key, and the key the certificate's (X509_check_private_key).
 * @return nothing when the pair is usable, else the first problem found
 */
std::optional<pem_problem> check_certificate_pair(const std::filesystem::path& cert, const std::filesystem::path& key);

}  // namespace danegate::conf
