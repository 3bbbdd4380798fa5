// One authenticated TLS connection attempt to an upstream, for `danegate tlsa verify`, the tests
// and the benchmarks: connect to the validated addresses, optionally STARTTLS (RFC 3207 for SMTP,
// as RFC 7672 deploys DANE), handshake with the DANE state loaded, and return the verdict with the
// presented chain. The proxy's upstream connector uses the same two authenticate.hpp calls.
#pragma once

#include "dane/authenticate.hpp"
#include "dane/lookup_result.hpp"
#include "dane/policy.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace danegate::dane {

enum class starttls_protocol { none, smtp };

struct probe_options {
    dane_policy policy;
    starttls_protocol starttls = starttls_protocol::none;
    /** Port to connect to; 0 means the lookup's port. */
    std::uint16_t connect_port = 0;
    /** Deadline for connect, STARTTLS and handshake together. */
    std::chrono::milliseconds timeout{std::chrono::seconds{10}};
};

/** A certificate of the presented chain, for operators. */
struct certificate_summary {
    std::string subject;
    std::string issuer;
    std::string spki_sha256;  ///< hex, the data of a "3 1 1" record for it
    std::string not_before;
    std::string not_after;
};

struct probe_result {
    verdict outcome;
    bool connected = false;            ///< a TCP connection was made
    bool handshake_attempted = false;  ///< a ClientHello was sent
    std::string address;               ///< where it connected
    std::vector<certificate_summary> chain;  ///< as presented, leaf first
};

/**
 * Runs one probe on @p io and calls @p done once, on an io_context thread. Nothing is sent to the
 * upstream when prepare_dane_handshake refuses (no secure, usable TLSA records).
 */
void async_probe(boost::asio::io_context& io, std::shared_ptr<const lookup_result> lookup,
                 probe_options options, std::function<void(probe_result)> done);

/** Summary of @p cert (subject, issuer, SPKI SHA-256, validity). */
certificate_summary summarize_certificate(X509* cert);

}  // namespace danegate::dane
