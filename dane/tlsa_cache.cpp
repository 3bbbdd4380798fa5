// TLSA cache; see tlsa_cache.hpp. The mutex guards the map only: lookups are started and handlers
// are called with it released, so a handler may call back into the cache.
#include "dane/tlsa_cache.hpp"

#include "dane/unbound_resolver.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <list>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace danegate::dane {

namespace {

/** Writes @p host and @p port's key, "port name.", into @p key, reusing its storage. */
void write_cache_key(const std::string& host, std::uint16_t port, std::string& key)
{
    std::array<char, 8> digits{};
    const auto end = std::to_chars(digits.data(), digits.data() + digits.size(), port).ptr;
    key.assign(digits.data(), end);
    key += ' ';
    if (!append_normalized_domain_name(host, key)) {
        key += host;
    }
}

/** The key as a string of its own, built in one allocation. */
std::string cache_key(const std::string& host, std::uint16_t port)
{
    std::string key;
    key.reserve(host.size() + 8);
    write_cache_key(host, port, key);
    return key;
}

using time_point = std::chrono::steady_clock::time_point;

/** Whether @p a and @p b say the same: the same outcome and, for records, the same RRset. */
bool same_answer(const lookup_result& a, const lookup_result& b)
{
    return a.status == b.status && a.rrset_digest == b.rrset_digest;
}

}  // namespace

struct tlsa_cache::impl : std::enable_shared_from_this<impl> {
    struct entry {
        std::shared_ptr<const lookup_result> value;  // null until the first lookup completes
        time_point expires;
        time_point refresh_at;
        bool in_flight = false;
        std::vector<lookup_handler> waiters;
        std::list<std::string>::iterator recency;
    };

    impl(cache_options o, lookup_function l, clock_function n)
        : options(o), lookup(std::move(l)), now(std::move(n))
    {
    }

    std::chrono::seconds cache_ttl(const lookup_result& result) const
    {
        const auto ttl = std::max(result.ttl, std::chrono::seconds{0});
        switch (result.status) {
        case dns_status::secure_records:
            return std::min(ttl, options.max_ttl);
        case dns_status::secure_nodata:
        case dns_status::secure_nxdomain:
        case dns_status::insecure:
        case dns_status::bogus:
            return std::min(ttl, options.negative_ttl);
        case dns_status::dns_error:
            // A failure has no TTL of its own: remember it briefly so a dead resolver is not
            // asked again by every request, and retry soon (DESIGN §1).
            return options.error_ttl;
        }
        return std::chrono::seconds{0};
    }

    void get(const std::string& host, std::uint16_t port, lookup_handler handler)
    {
        const std::string key = cache_key(host, port);
        std::shared_ptr<const lookup_result> hit;
        bool start = false;
        {
            std::lock_guard lock(mutex);
            auto [it, inserted] = entries.try_emplace(key);
            entry& e = it->second;
            if (inserted) {
                recency.push_front(key);
                e.recency = recency.begin();
            } else {
                recency.splice(recency.begin(), recency, e.recency);
            }
            const auto t = now();
            if (e.value && t < e.expires) {
                hit = take_hit(e, t, start);
            } else {
                ++stats.misses;
                e.waiters.push_back(std::move(handler));
                if (!e.in_flight) {
                    e.in_flight = true;
                    start = true;
                    ++stats.lookups;
                }
            }
            if (inserted) {
                evict_if_full();
            }
        }
        if (start) {
            start_lookup(host, port, key);
        }
        if (hit) {
            handler(std::move(hit));
        }
    }

    std::shared_ptr<const lookup_result> get_if_fresh(const std::string& host, std::uint16_t port)
    {
        // Once per proxied request: the key is built in storage the thread keeps, not allocated.
        thread_local std::string key;
        write_cache_key(host, port, key);
        std::shared_ptr<const lookup_result> hit;
        bool start = false;
        {
            std::lock_guard lock(mutex);
            const auto it = entries.find(key);
            const auto t = now();
            if (it == entries.end() || !it->second.value || t >= it->second.expires) {
                return nullptr;  // counted by the async_get that follows
            }
            recency.splice(recency.begin(), recency, it->second.recency);
            hit = take_hit(it->second, t, start);
        }
        if (start) {
            start_lookup(host, port, key);
        }
        return hit;
    }

    /**
     * Counts a hit on @p e, fresh at @p t, and sets @p start when a refresh ahead of expiry is
     * due (names in use are refreshed before they expire, so the next caller still hits).
     * Called with the mutex held.
     */
    std::shared_ptr<const lookup_result> take_hit(entry& e, time_point t, bool& start)
    {
        ++stats.hits;
        if (t >= e.refresh_at && !e.in_flight) {
            e.in_flight = true;
            start = true;
            ++stats.refreshes;
            ++stats.lookups;
        }
        return e.value;
    }

    /** Starts the lookup whose answer updates @p key's entry. Called without the mutex. */
    void start_lookup(const std::string& host, std::uint16_t port, const std::string& key)
    {
        lookup(host, port, [weak = weak_from_this(), key](std::shared_ptr<const lookup_result> result) {
            if (auto self = weak.lock()) {
                self->on_lookup_done(key, std::move(result));
            }
        });
    }

    void on_lookup_done(const std::string& key, std::shared_ptr<const lookup_result> result)
    {
        std::vector<lookup_handler> waiters;
        {
            std::lock_guard lock(mutex);
            auto it = entries.find(key);
            if (it == entries.end()) {
                return;  // entries with a lookup in flight are never evicted; nothing to update
            }
            entry& e = it->second;
            e.in_flight = false;
            waiters = std::move(e.waiters);
            e.waiters.clear();
            const auto t = now();
            if (e.value && t < e.expires && result->status == dns_status::dns_error) {
                // A failed refresh does not replace an answer whose own TTL still runs; try again
                // after error_ttl rather than on every hit until then.
                e.refresh_at = t + options.error_ttl;
            } else if (e.value && t < e.expires && same_answer(*e.value, *result) &&
                       t + cache_ttl(*result) <= e.expires + std::chrono::seconds{1}) {
                // The resolver answered the refresh from its own cache: the same RRset, counting
                // down to the same expiry. Refreshing again at 75 % of what is left would ask it
                // ever more often for an ever shorter TTL (with TTL 2 s, 50 lookups a second and
                // zero-second entries, measured). Keep the answer to its expiry; the lookup then
                // reaches the authority, as the resolver's copy expires at the same time.
                e.value = result;
                e.expires = std::min(e.expires, t + cache_ttl(*result) + std::chrono::seconds{1});
                e.refresh_at = e.expires;
            } else if (e.value && same_answer(*e.value, *result) && cache_ttl(*result) < std::chrono::seconds{1}) {
                // The same answer with TTL 0 after the entry expired: the resolver's copy in its
                // last second (it counts whole seconds). Cached for 0 s, every request would wait
                // for a lookup until that second ends (measured: a third of requests under a 2 s
                // TTL). Keep it for that second, then ask again.
                e.value = result;
                e.expires = t + std::chrono::seconds{1};
                e.refresh_at = e.expires;
            } else {
                const auto ttl = cache_ttl(*result);
                e.value = result;
                e.expires = t + ttl;
                e.refresh_at = t + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                       ttl * options.refresh_after);
            }
        }
        for (auto& waiter : waiters) {
            waiter(result);
        }
    }

    // Walks from the least recently used end; entries with a lookup in flight stay, since their
    // waiters are still to be answered. Called with the mutex held.
    void evict_if_full()
    {
        auto it = recency.end();
        while (entries.size() > options.max_entries && it != recency.begin()) {
            --it;
            auto found = entries.find(*it);
            if (found != entries.end() && !found->second.in_flight) {
                entries.erase(found);
                it = recency.erase(it);
                ++stats.evictions;
            }
        }
    }

    const cache_options options;
    const lookup_function lookup;
    const clock_function now;

    mutable std::mutex mutex;
    std::unordered_map<std::string, entry> entries;
    std::list<std::string> recency;  // front = most recently used
    cache_stats stats;
};

tlsa_cache::tlsa_cache(cache_options options, lookup_function lookup, clock_function now)
    : impl_(std::make_shared<impl>(options, std::move(lookup), std::move(now)))
{
}

tlsa_cache::~tlsa_cache()
{
    std::vector<lookup_handler> waiters;
    {
        std::lock_guard lock(impl_->mutex);
        for (auto& [key, e] : impl_->entries) {
            std::move(e.waiters.begin(), e.waiters.end(), std::back_inserter(waiters));
            e.waiters.clear();
        }
    }
    if (waiters.empty()) {
        return;
    }
    auto closed = std::make_shared<lookup_result>();
    closed->status = dns_status::dns_error;
    closed->detail = "TLSA cache shut down";
    for (auto& waiter : waiters) {
        waiter(closed);
    }
}

void tlsa_cache::async_get(const std::string& host, std::uint16_t port, lookup_handler handler)
{
    impl_->get(host, port, std::move(handler));
}

std::shared_ptr<const lookup_result> tlsa_cache::get_if_fresh(const std::string& host, std::uint16_t port)
{
    return impl_->get_if_fresh(host, port);
}

std::chrono::seconds tlsa_cache::cache_ttl(const lookup_result& result) const
{
    return impl_->cache_ttl(result);
}

std::optional<std::chrono::steady_clock::time_point> tlsa_cache::expiry(const std::string& host,
                                                                       std::uint16_t port) const
{
    const std::string key = cache_key(host, port);
    std::lock_guard lock(impl_->mutex);
    if (auto it = impl_->entries.find(key); it != impl_->entries.end() && it->second.value) {
        return it->second.expires;
    }
    return std::nullopt;
}

cache_stats tlsa_cache::stats() const
{
    std::lock_guard lock(impl_->mutex);
    return impl_->stats;
}

std::size_t tlsa_cache::size() const
{
    std::lock_guard lock(impl_->mutex);
    return impl_->entries.size();
}

}  // namespace danegate::dane
