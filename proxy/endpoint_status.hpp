// The last DANE outcome of every upstream endpoint (issue 4 §1): what the admin listener reports per
// endpoint and what /readyz decides on. Fed by the upstream connector's every attempt and by the
// live checks at start-up; kept for the life of the server (across reloads), keyed by upstream
// name and "host:port". Thread-safe.
#pragma once

#include "dane/authenticate.hpp"
#include "dane/lookup_result.hpp"

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace danegate::proxy {

/** What the last attempt on one endpoint found. */
struct endpoint_status {
    /** What DNSSEC said about the TLSA RRset; nullopt when no lookup answered (SRV not checked). */
    std::optional<dane::dns_status> dnssec;
    dane::verdict verdict;
    std::chrono::system_clock::time_point at;
};

/**
 * RFC 4035 §4.3's four security states as metric label values: "secure" (records or a proof
 * of none), "insecure", "bogus", "indeterminate" (no answer could be validated).
 */
std::string_view dnssec_state(dane::dns_status status) noexcept;

class endpoint_status_board {
public:
    using key = std::pair<std::string, std::string>;  ///< upstream name, "host:port"

    void record(const std::string& upstream, const std::string& endpoint, endpoint_status status);
    std::optional<endpoint_status> find(const std::string& upstream, const std::string& endpoint) const;
    /** Every endpoint ever recorded, ordered by upstream and endpoint. */
    std::map<key, endpoint_status> all() const;

private:
    mutable std::mutex mutex_;
    std::map<key, endpoint_status> statuses_;
};

}  // namespace danegate::proxy
