// `danegate tlsa create` (DESIGN §2): the first certificate of a PEM file becomes a TLSA record
// (RFC 6698 §2, digests by make_tlsa), printed alone or as a zone-file line whose owner is
// _PORT._PROTO.HOST (RFC 6698 §3). Inputs: the options the CLI parsed. Output: the exact text to
// print, which must equal what the openssl pipelines in tests/dane/tlsa_create_test.cpp give.
// Options are checked before the file is read, so a typo is reported without touching the disk.
#include "dane/tlsa_create.hpp"

#include "dane/openssl_error.hpp"

#include "dane/tlsa_record.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <array>
#include <memory>
#include <string_view>
#include <system_error>
#include <utility>

namespace danegate::dane {

namespace {

// RFC 1035 §2.3.4: 63 octets per label and 255 per name on the wire, which is 253 characters of
// presentation form without the trailing dot.
constexpr std::size_t max_label_chars = 63;
constexpr std::size_t max_name_chars = 253;

// RFC 2181 §8: a TTL is an unsigned 31-bit value; one with the top bit set is read as zero.
constexpr std::uint32_t max_ttl = 2147483647;

// The transport labels RFC 6698 §3 allows in the owner name.
constexpr std::array<std::string_view, 3> protocols{"tcp", "udp", "sctp"};

struct x509_deleter {
    void operator()(X509* cert) const noexcept { X509_free(cert); }
};
struct bio_deleter {
    void operator()(BIO* bio) const noexcept { BIO_free(bio); }
};
using x509_ptr = std::unique_ptr<X509, x509_deleter>;
using bio_ptr = std::unique_ptr<BIO, bio_deleter>;

char ascii_lower(char c) noexcept
{
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

/** @p text in double quotes with non-printing bytes escaped, for messages. */
std::string in_quotes(std::string_view text)
{
    constexpr std::string_view digits = "0123456789abcdef";
    constexpr std::size_t max_chars = 80;
    std::string out = "\"";
    for (std::size_t i = 0; i < text.size() && i < max_chars; ++i) {
        const auto byte = static_cast<unsigned char>(text[i]);
        if (byte >= 0x20 && byte < 0x7f && byte != '"' && byte != '\\') {
            out += text[i];
        } else {
            out += "\\x";
            out += digits[byte >> 4];
            out += digits[byte & 0x0f];
        }
    }
    if (text.size() > max_chars) {
        out += "...";
    }
    out += '"';
    return out;
}

bool is_host_char(char c) noexcept
{
    // Letters, digits and hyphen (RFC 1123 §2.1), plus underscore, which service names such as
    // _25._tcp use (RFC 6698 §3) and which operators put in internal names.
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/**
 * @p host checked label by label and returned lower-cased, without a trailing dot. One trailing
 * dot is accepted, since operators often write names absolute already.
 */
result<std::string> normalise_host(std::string_view host)
{
    std::string_view name = host;
    if (!name.empty() && name.back() == '.') {
        name.remove_suffix(1);
    }
    if (name.empty()) {
        return make_failure(errc::bad_domain_name, "the host name " + in_quotes(host) +
                                                       " is empty; give the server's name, "
                                                       "such as app.example");
    }
    if (name.size() > max_name_chars) {
        return make_failure(errc::bad_domain_name,
                            "the host name " + in_quotes(host) + " is " +
                                std::to_string(name.size()) +
                                " characters long, more than the 253 a domain name can have "
                                "(RFC 1035 §2.3.4)");
    }
    std::string lowered;
    lowered.reserve(name.size());
    std::size_t label_start = 0;
    for (std::size_t i = 0; i <= name.size(); ++i) {
        if (i == name.size() || name[i] == '.') {
            const std::size_t length = i - label_start;
            if (length == 0) {
                return make_failure(
                    errc::bad_domain_name,
                    "the host name " + in_quotes(host) +
                        " has an empty label (two dots in a row, or a leading dot)");
            }
            if (length > max_label_chars) {
                return make_failure(
                    errc::bad_domain_name,
                    "the host name " + in_quotes(host) + " has a label of " +
                        std::to_string(length) +
                        " characters, more than the 63 a label can have (RFC 1035 §2.3.4)");
            }
            label_start = i + 1;
            if (i < name.size()) {
                lowered += '.';
            }
            continue;
        }
        if (!is_host_char(name[i])) {
            return make_failure(errc::bad_domain_name,
                                "the host name " + in_quotes(host) + " has the character " +
                                    in_quotes(name.substr(i, 1)) + " at position " +
                                    std::to_string(i + 1) +
                                    "; only letters, digits, '-' and '_' may appear in a label");
        }
        lowered += ascii_lower(name[i]);
    }
    return lowered;
}

/** @p proto lower-cased if it is one of RFC 6698 §3's transports. */
result<std::string> check_proto(std::string_view proto)
{
    std::string lowered;
    for (const char c : proto) {
        lowered += ascii_lower(c);
    }
    for (const auto known : protocols) {
        if (lowered == known) {
            return lowered;
        }
    }
    return make_failure(errc::bad_tlsa_syntax, "the protocol " + in_quotes(proto) +
                                                   " is not one of tcp, udp or sctp (RFC 6698 §3)");
}

/** The owner name _PORT._PROTO.HOST. (RFC 6698 §3), or why the options cannot make one. */
result<std::string> owner_name(const tlsa_create_options& options)
{
    if (*options.port == 0) {
        return make_failure(errc::bad_tlsa_syntax,
                            "port 0 is not a service port; give the port the server listens on");
    }
    auto proto = check_proto(options.proto);
    if (!proto) {
        return proto.error();
    }
    auto host = normalise_host(*options.host);
    if (!host) {
        return host.error();
    }
    std::string owner;
    owner.append("_").append(std::to_string(*options.port)).append("._").append(*proto);
    owner.append(".").append(*host);
    // The prefix adds up to 13 characters, so a host that fits on its own may not fit under it.
    if (owner.size() > max_name_chars) {
        return make_failure(errc::bad_domain_name,
                            "the TLSA owner name " + in_quotes(owner) + " would be " +
                                std::to_string(owner.size()) +
                                " characters long, more than the 253 a domain name can have "
                                "(RFC 1035 §2.3.4); the host name is too long");
    }
    return owner + ".";
}

/** Never prompts: a certificate is not encrypted, and a CLI must not block on a terminal. */
int no_password(char*, int, int, void*)
{
    return 0;
}

/** The first certificate in the PEM file @p path. */
result<x509_ptr> load_first_certificate(const std::filesystem::path& path)
{
    if (path.empty()) {
        return make_failure(errc::certificate_load, "no certificate file was given");
    }
    const std::string name = in_quotes(path.string());
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (ec || !std::filesystem::exists(status)) {
        return make_failure(errc::certificate_load,
                            "cannot read the certificate file " + name + ": " +
                                (ec ? ec.message() : std::string{"it does not exist"}));
    }
    // Only regular files: a FIFO or character device could block or never end.
    if (std::filesystem::is_directory(status)) {
        return make_failure(errc::certificate_load,
                            "cannot read the certificate file " + name + ": it is a directory");
    }
    if (!std::filesystem::is_regular_file(status)) {
        return make_failure(errc::certificate_load, "cannot read the certificate file " + name +
                                                        ": it is not a regular file");
    }
    bio_ptr bio{BIO_new_file(path.c_str(), "r")};
    if (!bio) {
        return make_failure(errc::certificate_load, "cannot open the certificate file " + name +
                                                        ": " + take_openssl_error());
    }
    // PEM_read_bio_X509 skips blocks of other types (a key placed first, say) and stops at the
    // first CERTIFICATE block, which is the one the operator means (the leaf, in a chain file).
    x509_ptr cert{PEM_read_bio_X509(bio.get(), nullptr, no_password, nullptr)};
    if (!cert) {
        ERR_clear_error();
        return make_failure(
            errc::certificate_load,
            "the certificate file " + name +
                " holds no PEM certificate (a \"-----BEGIN CERTIFICATE-----\" block)");
    }
    ERR_clear_error();
    return cert;
}

}  // namespace

result<std::string> tlsa_create(const tlsa_create_options& options)
{
    // A TLSA owner name needs both parts (RFC 6698 §3); one without the other is an operator
    // mistake worth reporting rather than silently printing only the record.
    if (options.host && !options.port) {
        return make_failure(errc::bad_tlsa_syntax,
                            "a host needs a port to name the TLSA record (_PORT._PROTO.HOST, "
                            "RFC 6698 §3); add --port");
    }
    if (options.port && !options.host) {
        return make_failure(errc::bad_tlsa_syntax,
                            "a port needs a host to name the TLSA record (_PORT._PROTO.HOST, "
                            "RFC 6698 §3); add --host");
    }
    std::optional<std::string> owner;
    if (options.host) {
        if (options.ttl > max_ttl) {
            return make_failure(errc::bad_tlsa_syntax,
                                "the TTL " + std::to_string(options.ttl) +
                                    " is more than 2147483647 seconds (RFC 2181 §8)");
        }
        auto name = owner_name(options);
        if (!name) {
            return name.error();
        }
        owner = std::move(*name);
    }
    auto cert = load_first_certificate(options.cert_file);
    if (!cert) {
        return cert.error();
    }
    auto record = make_tlsa(cert->get(), options.usage, options.selector, options.matching_type);
    if (!record) {
        return record.error();
    }
    std::string text;
    if (owner) {
        text = *owner + " " + std::to_string(options.ttl) + " IN TLSA ";
    }
    text += record->to_string();
    text += '\n';
    return text;
}

}  // namespace danegate::dane
