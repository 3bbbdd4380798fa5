// The logic of `danegate tlsa verify HOST PORT` (DESIGN §2): look up and validate the TLSA RRset,
// connect, authenticate, and print everything an operator needs to see why: the DNSSEC status,
// every record and whether it is usable, which record matched at what depth, the presented
// certificates, and the reason word.
#pragma once

#include "dane/policy.hpp"
#include "dane/tls_probe.hpp"
#include "dane/unbound_resolver.hpp"

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>

namespace danegate::dane {

struct tlsa_verify_options {
    std::string host;
    std::uint16_t port = 443;
    starttls_protocol starttls = starttls_protocol::none;
    resolver_options resolver;
    dane_policy policy;
    std::chrono::milliseconds connect_timeout{std::chrono::seconds{10}};
};

/**
 * Runs the verification and writes the report to @p out.
 * @return true when authenticated, false when not (the report says why); a failure when the
 *         resolver cannot be set up (a usage or configuration error).
 */
result<bool> tlsa_verify(const tlsa_verify_options& options, std::ostream& out);

}  // namespace danegate::dane
