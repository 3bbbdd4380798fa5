// TLS termination for one listener (DESIGN §3 `listeners[].tls`): one SSL_CTX per configured
// certificate, chosen by SNI in the servername callback (RFC 6066 §3); the first certificate is
// the default without SNI or without a match. Names are the certificate's DNS SANs, or its CN when
// it has none, matched exactly or through a "*." wildcard covering one label (RFC 6125 §6.4.3).
// ALPN selects "http/1.1" when the client offers it (RFC 7301 §3.2).
#pragma once

#include "conf/config.hpp"

#include <boost/asio/ssl/context.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace danegate::proxy {

/** The names one certificate answers for, lower case. */
using certificate_names = std::vector<std::string>;

/** Whether @p pattern ("app.example" or "*.example") covers @p name; both lower case, no dot at the end. */
bool certificate_name_matches(std::string_view pattern, std::string_view name) noexcept;

/**
 * Which certificate serves @p server_name: the first with an exact name, else the first with a
 * matching wildcard, else 0 (the default). @p server_name may be any case, with a trailing dot.
 * @pre !certificates.empty()
 */
std::size_t select_certificate(const std::vector<certificate_names>& certificates, std::string_view server_name);

/** The DNS SANs of a PEM certificate file's first certificate, or its CN when it has none. */
certificate_names read_certificate_names(const std::string& pem_file);

class tls_server_context {
public:
    /**
     * Loads every certificate and key. Errors (unreadable file, key mismatch) are returned as a
     * sentence; conf has already checked them, so they mean the files changed since.
     * @param select_http11 answer ALPN with "http/1.1" (HTTP listeners); a TCP listener relays a
     *        protocol it does not know and selects none.
     */
    static std::unique_ptr<tls_server_context> create(const conf::listener_tls& tls, std::string& error,
                                                      bool select_http11 = true);

    tls_server_context(const tls_server_context&) = delete;
    tls_server_context& operator=(const tls_server_context&) = delete;

    /** The default context: streams are made from it and switch in the servername callback. */
    boost::asio::ssl::context& context() noexcept { return contexts_.front(); }

    const std::vector<certificate_names>& names() const noexcept { return names_; }

private:
    tls_server_context() = default;
    static int on_servername(SSL* ssl, int* alert, void* arg);

    std::vector<boost::asio::ssl::context> contexts_;
    std::vector<certificate_names> names_;
};

}  // namespace danegate::proxy
