// The TLSA lookup for one (host, port), RFC 7671 §7 and RFC 7672 §2.2: address records first
// (they decide whether DANE can apply and reveal CNAMEs), then the TLSA RRset at the CNAME-expanded
// name, then at the original name only after a secure denial there. The outcome is one
// lookup_result with exactly one dns_status.
#pragma once

#include "dane/lookup_result.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace danegate::dane {

class unbound_resolver;

using lookup_handler = std::function<void(std::shared_ptr<const lookup_result>)>;

/**
 * Looks up the TLSA RRset for @p host and @p port over TCP and calls @p done exactly once: on the
 * resolver's strand, or at once on the calling thread when the host name is invalid or the
 * resolver is gone.
 * @param resolver may be destroyed while the lookup is in flight (it then ends in dns_error).
 * @param host a host name, with or without the trailing dot; an invalid one yields dns_error.
 */
void async_lookup_tlsa(unbound_resolver& resolver, std::string host, std::uint16_t port,
                       lookup_handler done);

/** "_443._tcp.app.example." for (443, "app.example."). */
std::string tlsa_owner_name(std::uint16_t port, const std::string& absolute_host);

}  // namespace danegate::dane
