// Certificate selection by SNI and listener TLS settings; see tls_server_context.hpp.
#include "proxy/tls_server_context.hpp"

#include "proxy/tls_stream.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstdio>

namespace danegate::proxy {

namespace net = boost::asio;

namespace {

std::string lower(std::string_view text)
{
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
        return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    });
    return out;
}

std::string openssl_error()
{
    char text[256] = {};
    ERR_error_string_n(ERR_get_error(), text, sizeof text);
    ERR_clear_error();
    return text;
}

// RFC 7301 §3.2: choose http/1.1 when offered; without a common protocol carry on without ALPN
// (SSL_TLSEXT_ERR_NOACK) rather than abort, as HTTP/1.1 is all we speak anyway.
int on_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen, void*)
{
    static const unsigned char ours[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, outlen, ours, sizeof ours, in, inlen) == OPENSSL_NPN_NEGOTIATED) {
        *out = selected;
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

}  // namespace

bool certificate_name_matches(std::string_view pattern, std::string_view name) noexcept
{
    if (pattern.empty() || name.empty()) {
        return false;
    }
    if (pattern.starts_with("*.")) {
        // RFC 6125 §6.4.3: the wildcard stands for exactly one whole left-most label.
        const auto dot = name.find('.');
        return dot != std::string_view::npos && dot > 0 && name.substr(dot) == pattern.substr(1);
    }
    return pattern == name;
}

std::size_t select_certificate(const std::vector<certificate_names>& certificates, std::string_view server_name)
{
    std::string name = lower(server_name);
    if (name.ends_with('.')) {
        name.pop_back();
    }
    if (name.empty()) {
        return 0;
    }
    for (std::size_t i = 0; i < certificates.size(); ++i) {
        for (const auto& pattern : certificates[i]) {
            if (!pattern.starts_with("*.") && pattern == name) {
                return i;
            }
        }
    }
    for (std::size_t i = 0; i < certificates.size(); ++i) {
        for (const auto& pattern : certificates[i]) {
            if (pattern.starts_with("*.") && certificate_name_matches(pattern, name)) {
                return i;
            }
        }
    }
    return 0;
}

certificate_names read_certificate_names(const std::string& pem_file)
{
    certificate_names names;
    FILE* file = std::fopen(pem_file.c_str(), "r");
    if (file == nullptr) {
        return names;
    }
    X509* cert = PEM_read_X509(file, nullptr, nullptr, nullptr);
    std::fclose(file);
    if (cert == nullptr) {
        return names;
    }
    if (auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr))) {
        for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
            const GENERAL_NAME* san = sk_GENERAL_NAME_value(sans, i);
            if (san->type == GEN_DNS) {
                const auto* data = ASN1_STRING_get0_data(san->d.dNSName);
                names.push_back(lower({reinterpret_cast<const char*>(data),
                                       static_cast<std::size_t>(ASN1_STRING_length(san->d.dNSName))}));
            }
        }
        GENERAL_NAMES_free(sans);
    }
    // RFC 6125 §6.4.4: the CN counts only when there is no DNS SAN.
    if (names.empty()) {
        const X509_NAME* subject = X509_get_subject_name(cert);
        const int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
        if (index >= 0) {
            const ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
            names.push_back(lower({reinterpret_cast<const char*>(ASN1_STRING_get0_data(cn)),
                                   static_cast<std::size_t>(ASN1_STRING_length(cn))}));
        }
    }
    X509_free(cert);
    return names;
}

std::unique_ptr<tls_server_context> tls_server_context::create(const conf::listener_tls& tls, std::string& error,
                                                               bool select_http11)
{
    std::unique_ptr<tls_server_context> result(new tls_server_context());
    if (tls.certificates.empty()) {
        error = "no certificates";
        return nullptr;
    }
    result->contexts_.reserve(tls.certificates.size());
    for (const auto& pair : tls.certificates) {
        net::ssl::context context(net::ssl::context::tls_server);
        SSL_CTX* ctx = context.native_handle();
        SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
        // One TLS 1.3 session ticket per handshake, not OpenSSL's two (as Go's crypto/tls): each
        // costs a session serialisation, an encryption and a record on every full handshake, and
        // a client resumes with one. Measured: 10% less CPU per full handshake (issue 5).
        SSL_CTX_set_num_tickets(ctx, 1);
        // TLS 1.3 in the server's order, AES-128-GCM first (Mozilla's recommended configurations,
        // Go's crypto/tls): as strong as the 128-bit key exchange it follows, and the cheaper
        // key schedule (SHA-256) and record cipher. Measured: 8% less CPU per full handshake.
        if (SSL_CTX_set_ciphersuites(ctx, tls13_suites) != 1) {
            error = "TLS 1.3 cipher suites: " + openssl_error();
            return nullptr;
        }
        const int min_version = [&] {
            switch (tls.min_version) {
            case conf::tls_version::tls1_2: return TLS1_2_VERSION;
            case conf::tls_version::tls1_3: return TLS1_3_VERSION;
            }
            return TLS1_2_VERSION;
        }();
        if (SSL_CTX_set_min_proto_version(ctx, min_version) != 1
            || SSL_CTX_use_certificate_chain_file(ctx, pair.cert.c_str()) != 1
            || SSL_CTX_use_PrivateKey_file(ctx, pair.key.c_str(), SSL_FILETYPE_PEM) != 1
            || SSL_CTX_check_private_key(ctx) != 1) {
            error = pair.cert + " / " + pair.key + ": " + openssl_error();
            return nullptr;
        }
        // Set on every context: after the switch in on_servername, OpenSSL reads ALPN settings
        // from the selected one. A TCP listener relays a protocol it does not know: it names none.
        if (select_http11) {
            SSL_CTX_set_alpn_select_cb(ctx, on_alpn, nullptr);
        }
        result->names_.push_back(read_certificate_names(pair.cert));
        result->contexts_.push_back(std::move(context));
    }
    SSL_CTX* first = result->contexts_.front().native_handle();
    SSL_CTX_set_tlsext_servername_callback(first, on_servername);
    SSL_CTX_set_tlsext_servername_arg(first, result.get());
    return result;
}

int tls_server_context::on_servername(SSL* ssl, int*, void* arg)
{
    auto* self = static_cast<tls_server_context*>(arg);
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (name == nullptr) {
        return SSL_TLSEXT_ERR_NOACK;  // no SNI: the default certificate (RFC 6066 §3)
    }
    const std::size_t index = select_certificate(self->names_, name);
    if (index != 0) {
        SSL_set_SSL_CTX(ssl, self->contexts_[index].native_handle());
    }
    // An unknown name still gets the default certificate, as nginx's default server does.
    return SSL_TLSEXT_ERR_OK;
}

}  // namespace danegate::proxy
