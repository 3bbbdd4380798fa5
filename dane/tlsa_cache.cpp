// TLSA cache; see tlsa_cache.hpp. The mutex guards the map only: lookups are started and handlers
// are called with it released, so a handler may call back into the cache.
#include "dane/tlsa_cache.hpp"

#include "dane/unbound_resolver.hpp"

#include <algorithm>

namespace danegate::dane {

namespace {

std::string cache_key(const std::string& host, std::uint16_t port)
{
    std::string name = normalize_domain_name(host);
    return std::to_string(port) + " " + (name.empty() ? host : name);
}

}  // namespace

tlsa_cache::tlsa_cache(cache_options options, lookup_function lookup, clock_function now)
    : options_(options), lookup_(std::move(lookup)), now_(std::move(now))
{
}

std::chrono::seconds tlsa_cache::cache_ttl(const lookup_result& result) const
{
    const auto ttl = std::max(result.ttl, std::chrono::seconds{0});
    switch (result.status) {
    case dns_status::secure_records:
        return std::min(ttl, options_.max_ttl);
    case dns_status::secure_nodata:
    case dns_status::secure_nxdomain:
    case dns_status::insecure:
    case dns_status::bogus:
        return std::min(ttl, options_.negative_ttl);
    case dns_status::dns_error:
        // A failure has no TTL of its own: remember it briefly so a dead resolver is not asked
        // again by every request, and retry soon (DESIGN §1).
        return options_.error_ttl;
    }
    return std::chrono::seconds{0};
}

void tlsa_cache::async_get(const std::string& host, std::uint16_t port, lookup_handler handler)
{
    const std::string key = cache_key(host, port);
    std::shared_ptr<const lookup_result> hit;
    bool start = false;
    bool refresh = false;
    {
        std::lock_guard lock(mutex_);
        auto [it, inserted] = entries_.try_emplace(key);
        entry& e = it->second;
        if (inserted) {
            recency_.push_front(key);
            e.recency = recency_.begin();
        }
        touch(e);
        const auto now = now_();
        if (e.value && now < e.expires) {
            ++stats_.hits;
            hit = e.value;
            // Refresh ahead of expiry for names in use, so the next caller still hits.
            if (now >= e.refresh_at && !e.in_flight) {
                e.in_flight = true;
                refresh = true;
                ++stats_.refreshes;
                ++stats_.lookups;
            }
        } else {
            ++stats_.misses;
            e.waiters.push_back(std::move(handler));
            if (!e.in_flight) {
                e.in_flight = true;
                start = true;
                ++stats_.lookups;
            }
        }
        if (inserted) {
            evict_if_full();
        }
    }
    if (start || refresh) {
        start_lookup(key, host, port);
    }
    if (hit) {
        handler(std::move(hit));
    }
}

void tlsa_cache::start_lookup(const std::string& key, const std::string& host, std::uint16_t port)
{
    lookup_(host, port, [this, key](std::shared_ptr<const lookup_result> result) {
        on_lookup_done(key, std::move(result));
    });
}

void tlsa_cache::on_lookup_done(const std::string& key, std::shared_ptr<const lookup_result> result)
{
    std::vector<lookup_handler> waiters;
    {
        std::lock_guard lock(mutex_);
        auto it = entries_.find(key);
        if (it == entries_.end()) {
            return;  // evicted while in flight cannot happen (in-flight entries are kept), but be safe
        }
        entry& e = it->second;
        e.in_flight = false;
        waiters = std::move(e.waiters);
        e.waiters.clear();
        const auto now = now_();
        const bool still_valid = e.value && now < e.expires;
        // A failed refresh does not replace an answer whose own TTL still runs.
        if (!(still_valid && result->status == dns_status::dns_error)) {
            const auto ttl = cache_ttl(*result);
            e.value = result;
            e.expires = now + ttl;
            e.refresh_at = now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(ttl * options_.refresh_after);
        }
    }
    for (auto& waiter : waiters) {
        waiter(result);
    }
}

void tlsa_cache::touch(entry& e)
{
    recency_.splice(recency_.begin(), recency_, e.recency);
}

void tlsa_cache::evict_if_full()
{
    // Walk from the least recently used end; entries with a lookup in flight stay, since their
    // waiters are still to be answered.
    auto it = recency_.end();
    while (entries_.size() > options_.max_entries && it != recency_.begin()) {
        --it;
        auto found = entries_.find(*it);
        if (found != entries_.end() && !found->second.in_flight) {
            entries_.erase(found);
            it = recency_.erase(it);
            ++stats_.evictions;
        }
    }
}

cache_stats tlsa_cache::stats() const
{
    std::lock_guard lock(mutex_);
    return stats_;
}

std::size_t tlsa_cache::size() const
{
    std::lock_guard lock(mutex_);
    return entries_.size();
}

}  // namespace danegate::dane
