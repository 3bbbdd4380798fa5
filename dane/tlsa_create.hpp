// The logic of `danegate tlsa create` (DESIGN §2): reads a PEM certificate and prints the TLSA
// record that matches it (RFC 6698 §2), alone or as a zone-file line owned by _PORT._PROTO.HOST
// (RFC 6698 §3). Command-line parsing and printing stay in proxy/main.cpp; this computes the text.
#pragma once

#include "dane/errc.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace danegate::dane {

/** What `danegate tlsa create` was asked for; defaults give the usual DANE-EE SPKI SHA2-256. */
struct tlsa_create_options {
    std::filesystem::path cert_file;    ///< PEM; the first certificate in the file is used
    std::uint8_t usage = 3;             ///< printed as given: it is the operator's record
    std::uint8_t selector = 1;          ///< 0 full certificate, 1 SubjectPublicKeyInfo
    std::uint8_t matching_type = 1;     ///< 0 full, 1 SHA2-256, 2 SHA2-512
    std::optional<std::string> host;    ///< with port: print a zone-file line
    std::optional<std::uint16_t> port;  ///< with host: the service port, 1..65535
    std::string proto = "tcp";          ///< tcp, udp or sctp
    std::uint32_t ttl = 3600;           ///< at most 2147483647 (RFC 2181 §8)
};

/**
 * The text `danegate tlsa create` prints, ending in '\n': "3 1 1 <hex>\n", or with host and port
 * "_443._tcp.app.example. 3600 IN TLSA 3 1 1 <hex>\n" (host lower-cased and made absolute).
 * @return the text, or a failure: errc::certificate_load when the file cannot be read or holds no
 *         PEM certificate, errc::bad_domain_name for an invalid host, errc::bad_tlsa_syntax for
 *         host without port (or the reverse), port 0, an unknown proto or a TTL over 2^31-1, and
 *         errc::tlsa_field_range for an undefined selector or matching type.
 */
result<std::string> tlsa_create(const tlsa_create_options& options);

}  // namespace danegate::dane
