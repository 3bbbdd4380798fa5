// The TLSA cache (DESIGN §1, §4): lookup results keyed by (host, port), kept for their DNS TTL but
// no longer than negative_ttl (no-tlsa, insecure, bogus) or error_ttl (dns-error); refreshed ahead
// of expiry while the name is in use, so a warm cache never puts DNS on the request path; one
// lookup in flight per key however many callers wait; bounded in size.
#pragma once

#include "dane/lookup_result.hpp"
#include "dane/tlsa_lookup.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace danegate::dane {

struct cache_options {
    std::chrono::seconds negative_ttl{30};      ///< cap for no-tlsa / insecure / bogus / unusable
    std::chrono::seconds error_ttl{5};          ///< how long a dns-error is remembered
    std::chrono::seconds max_ttl{24 * 3600};    ///< cap for secure records
    std::size_t max_entries = 10000;            ///< least recently used entries go first
    /** A hit after this fraction of the TTL has passed starts a background refresh. */
    double refresh_after = 0.75;
};

struct cache_stats {
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;      ///< callers that had to wait for a lookup
    std::uint64_t lookups = 0;     ///< lookups started (misses coalesce into one)
    std::uint64_t refreshes = 0;   ///< lookups started ahead of expiry
    std::uint64_t evictions = 0;
};

/**
 * Thread-safe. A hit calls the handler inline on the caller's thread; a miss calls it on whatever
 * thread the lookup completes on (the resolver's strand): post to your own executor if needed.
 * Lookups in flight may outlive the cache: their results are then dropped, and callers still
 * waiting are answered dns_error ("TLSA cache shut down") by the destructor.
 */
class tlsa_cache {
public:
    /** Starts the lookup of (host, port) and calls the handler once; normally async_lookup_tlsa. */
    using lookup_function = std::function<void(const std::string& host, std::uint16_t port, lookup_handler)>;
    using clock_function = std::function<std::chrono::steady_clock::time_point()>;

    tlsa_cache(cache_options options, lookup_function lookup,
               clock_function now = [] { return std::chrono::steady_clock::now(); });
    ~tlsa_cache();

    tlsa_cache(const tlsa_cache&) = delete;
    tlsa_cache& operator=(const tlsa_cache&) = delete;

    /** The current result for (host, port); @p host as given to the lookup (normalized here). */
    void async_get(const std::string& host, std::uint16_t port, lookup_handler handler);

    /**
     * The result cached for (host, port) when it is fresh: a hit, counted and refreshed ahead of
     * expiry as async_get's. Null otherwise, counting nothing: call async_get then. For callers
     * that can go on at once with a hit, without a handler to allocate.
     */
    std::shared_ptr<const lookup_result> get_if_fresh(const std::string& host, std::uint16_t port);

    /** How long @p result is kept: its TTL under the caps; error_ttl for a dns-error. */
    std::chrono::seconds cache_ttl(const lookup_result& result) const;

    /**
     * When the answer cached for (host, port) expires, if one is cached. Neither a hit nor a miss:
     * it counts nothing and changes no recency (the admin listener's view).
     */
    std::optional<std::chrono::steady_clock::time_point> expiry(const std::string& host, std::uint16_t port) const;

    cache_stats stats() const;
    std::size_t size() const;

    struct impl;

private:
    std::shared_ptr<impl> impl_;  // shared with lookups in flight, which hold it weakly
};

}  // namespace danegate::dane
