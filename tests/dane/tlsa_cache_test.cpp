// The TLSA cache: coalescing of concurrent lookups and TTL handling against the real test bed, and
// the bookkeeping (refresh ahead, failed refreshes, size bound) with an injected clock. Where a
// test is about the cache's bookkeeping rather than DNS, its lookup function answers from memory.
#include "dane/tlsa_cache.hpp"
#include "tests/dane/dane_fixture.hpp"
#include "tests/support/process.hpp"

#include <map>

namespace danegate::test {
namespace {

using namespace std::chrono_literals;
using dane::dns_status;
using clock_type = std::chrono::steady_clock;

class tlsa_cache_test : public dane_testbed_fixture {
protected:
    /** A cache over the real resolver, counting the lookups it starts, on a fake clock. */
    std::unique_ptr<dane::tlsa_cache> make_cache(dane::cache_options options = {},
                                                 dane::unbound_resolver* resolver = nullptr)
    {
        dane::unbound_resolver* r = resolver != nullptr ? resolver : resolver_.get();
        return std::make_unique<dane::tlsa_cache>(
            options,
            [this, r](const std::string& host, std::uint16_t port, dane::lookup_handler done) {
                ++lookups_;
                dane::async_lookup_tlsa(*r, host, port, std::move(done));
            },
            [this] { return now_; });
    }

    std::shared_ptr<const dane::lookup_result> get(dane::tlsa_cache& cache, const std::string& label)
    {
        std::shared_ptr<const dane::lookup_result> result;
        cache.async_get(testbed::get().host(label), testbed::get().port(), [&result](auto r) { result = std::move(r); });
        run();
        return result;
    }

    clock_type::time_point now_ = clock_type::time_point{} + 1h;
    int lookups_ = 0;
};

TEST_F(tlsa_cache_test, concurrent_lookups_of_one_name_send_one_query_set)
{
    auto cache = make_cache();
    const auto queries_before = resolver_->queries_sent();
    std::vector<std::shared_ptr<const dane::lookup_result>> results;
    for (int i = 0; i < 100; ++i) {
        cache->async_get(testbed::get().host("ee311"), testbed::get().port(),
                         [&results](auto r) { results.push_back(std::move(r)); });
    }
    EXPECT_TRUE(results.empty()) << "nothing can be answered before DNS has";
    run();
    ASSERT_EQ(results.size(), 100u);
    for (const auto& result : results) {
        EXPECT_EQ(result, results.front()) << "every waiter gets the one shared result";
    }
    EXPECT_EQ(results.front()->status, dns_status::secure_records);
    EXPECT_EQ(lookups_, 1);
    // One TLSA lookup is three queries: A, AAAA and TLSA.
    EXPECT_EQ(resolver_->queries_sent() - queries_before, 3u);
    EXPECT_EQ(cache->stats().misses, 100u);
    EXPECT_EQ(cache->stats().lookups, 1u);

    // The twin: a different name is a different lookup.
    get(*cache, "ee301");
    EXPECT_EQ(lookups_, 2);
}

TEST_F(tlsa_cache_test, entries_expire_with_their_ttl)
{
    auto cache = make_cache();
    auto first = get(*cache, "ee311");
    ASSERT_EQ(first->status, dns_status::secure_records);
    ASSERT_GT(first->ttl, 10s);

    now_ += first->ttl / 2;
    EXPECT_EQ(get(*cache, "ee311"), first) << "within the TTL: a hit";
    EXPECT_EQ(lookups_, 1);
    EXPECT_EQ(cache->stats().hits, 1u);

    now_ += first->ttl;
    auto second = get(*cache, "ee311");
    EXPECT_NE(second, first) << "after the TTL: looked up again";
    EXPECT_EQ(lookups_, 2);
}

TEST_F(tlsa_cache_test, a_hit_late_in_the_ttl_refreshes_ahead_of_expiry)
{
    auto cache = make_cache();
    auto first = get(*cache, "ee311");
    now_ += first->ttl * 8 / 10;

    std::shared_ptr<const dane::lookup_result> served;
    cache->async_get(testbed::get().host("ee311"), testbed::get().port(), [&served](auto r) { served = std::move(r); });
    EXPECT_EQ(served, first) << "served at once from the cache, not after DNS";
    EXPECT_EQ(cache->stats().refreshes, 1u);
    run();
    EXPECT_EQ(lookups_, 2);

    auto after = get(*cache, "ee311");
    EXPECT_NE(after, first) << "the refreshed result replaced the old one";
    EXPECT_EQ(lookups_, 2) << "and is fresh: no further lookup";
}

TEST_F(tlsa_cache_test, negative_answers_are_capped_by_negative_ttl)
{
    dane::cache_options options;
    options.negative_ttl = 3s;
    auto cache = make_cache(options);
    auto missing = get(*cache, "nxd");
    ASSERT_EQ(missing->status, dns_status::secure_nxdomain);
    ASSERT_GT(missing->ttl, 3s) << "the zone's negative TTL is longer than the cap";
    EXPECT_EQ(cache->cache_ttl(*missing), 3s);

    now_ += 2s;
    get(*cache, "nxd");
    EXPECT_EQ(lookups_, 1);
    now_ += 2s;
    get(*cache, "nxd");
    EXPECT_EQ(lookups_, 2);

    auto bogus = get(*cache, "bogus");
    ASSERT_EQ(bogus->status, dns_status::bogus);
    EXPECT_EQ(cache->cache_ttl(*bogus), 3s);
    auto secure = get(*cache, "ee311");
    EXPECT_EQ(cache->cache_ttl(*secure), secure->ttl) << "positive answers keep their own TTL";
}

TEST_F(tlsa_cache_test, dns_errors_are_remembered_for_error_ttl)
{
    dane::resolver_options dead = testbed_resolver_options();
    dead.forwarders = {"127.0.0.1@" + std::to_string(free_tcp_port())};
    dead.timeout = 300ms;
    auto resolver = make_resolver(dead);
    ASSERT_TRUE(resolver);
    dane::cache_options options;
    options.error_ttl = 2s;
    auto cache = make_cache(options, resolver.get());

    auto failed = get(*cache, "ee311");
    ASSERT_EQ(failed->status, dns_status::dns_error);
    EXPECT_EQ(cache->cache_ttl(*failed), 2s);
    now_ += 1s;
    EXPECT_EQ(get(*cache, "ee311"), failed);
    EXPECT_EQ(lookups_, 1);
    now_ += 2s;
    get(*cache, "ee311");
    EXPECT_EQ(lookups_, 2);
}

TEST_F(tlsa_cache_test, the_same_rrset_has_the_same_digest_and_another_does_not)
{
    auto cache = make_cache();
    auto direct = get(*cache, "ee311");
    auto via_cname = get(*cache, "alias");
    auto two_records = get(*cache, "eewrongright");
    auto missing = get(*cache, "nxd");
    EXPECT_EQ(direct->rrset_digest, via_cname->rrset_digest);
    EXPECT_NE(direct->rrset_digest, two_records->rrset_digest);
    EXPECT_EQ(missing->rrset_digest, (std::array<std::uint8_t, 32>{}));
}

// Bookkeeping tests: the lookup function answers from memory.
class tlsa_cache_bookkeeping : public ::testing::Test {
protected:
    dane::tlsa_cache make(dane::cache_options options)
    {
        return dane::tlsa_cache(
            options,
            [this](const std::string& host, std::uint16_t port, dane::lookup_handler done) {
                ++lookups_[host];
                auto result = std::make_shared<dane::lookup_result>();
                result->host = host;
                result->port = port;
                result->status = next_status_;
                result->ttl = next_ttl_;
                done(std::move(result));
            },
            [this] { return now_; });
    }

    std::shared_ptr<const dane::lookup_result> get(dane::tlsa_cache& cache, const std::string& host)
    {
        std::shared_ptr<const dane::lookup_result> result;
        cache.async_get(host, 443, [&result](auto r) { result = std::move(r); });
        return result;
    }

    std::map<std::string, int> lookups_;
    dns_status next_status_ = dns_status::secure_records;
    std::chrono::seconds next_ttl_{100};
    clock_type::time_point now_ = clock_type::time_point{} + 1h;
};

TEST_F(tlsa_cache_bookkeeping, the_least_recently_used_entry_goes_first)
{
    dane::cache_options options;
    options.max_entries = 2;
    auto cache = make(options);
    get(cache, "a.example");
    get(cache, "b.example");
    get(cache, "a.example");  // a is now more recent than b
    get(cache, "c.example");
    EXPECT_EQ(cache.size(), 2u);
    EXPECT_EQ(cache.stats().evictions, 1u);
    get(cache, "a.example");
    EXPECT_EQ(lookups_["a.example"], 1) << "a stayed";
    get(cache, "b.example");
    EXPECT_EQ(lookups_["b.example"], 2) << "b was evicted";
}

TEST_F(tlsa_cache_bookkeeping, a_failed_refresh_keeps_the_answer_whose_ttl_still_runs)
{
    auto cache = make({});
    auto good = get(cache, "a.example");
    now_ += 80s;
    next_status_ = dns_status::dns_error;
    EXPECT_EQ(get(cache, "a.example"), good);  // served, and refreshed (with an error)
    EXPECT_EQ(lookups_["a.example"], 2);
    EXPECT_EQ(get(cache, "a.example")->status, dns_status::secure_records) << "the error did not replace it";
    EXPECT_EQ(lookups_["a.example"], 2) << "and the next refresh waits error_ttl, not the next hit";
    now_ += 6s;
    get(cache, "a.example");
    EXPECT_EQ(lookups_["a.example"], 3);
    now_ += 30s;
    EXPECT_EQ(get(cache, "a.example")->status, dns_status::dns_error) << "past its TTL, the error shows";
}

TEST_F(tlsa_cache_bookkeeping, a_refresh_answered_from_the_resolvers_cache_does_not_cascade)
{
    auto cache = make({});
    get(cache, "a.example");  // TTL 100 s, refresh due at 75 s
    now_ += 80s;
    next_ttl_ = 20s;  // the resolver's cached copy: the same answer with what is left of its TTL
    get(cache, "a.example");
    EXPECT_EQ(lookups_["a.example"], 2) << "the refresh ahead of expiry";
    now_ += 16s;  // past 75 % of the 20 s the refresh brought: no refresh of the refresh
    get(cache, "a.example");
    EXPECT_EQ(lookups_["a.example"], 2);
    EXPECT_EQ(cache.stats().refreshes, 1u);
    EXPECT_EQ(cache.stats().misses, 1u) << "still hits until the first answer's expiry";
    now_ += 5s;  // 101 s: expired
    next_ttl_ = 100s;
    get(cache, "a.example");
    EXPECT_EQ(lookups_["a.example"], 3) << "the next lookup comes at expiry, when the resolver's copy is gone too";
    EXPECT_EQ(cache.stats().misses, 2u);
}

TEST_F(tlsa_cache_bookkeeping, the_resolvers_last_second_of_an_answer_is_kept_for_that_second)
{
    auto cache = make({});
    get(cache, "a.example");
    now_ += 101s;  // expired
    next_ttl_ = 0s;  // the resolver still holds it, in its last second
    get(cache, "a.example");
    EXPECT_EQ(lookups_["a.example"], 2);
    now_ += 500ms;
    get(cache, "a.example");
    EXPECT_EQ(lookups_["a.example"], 2) << "a hit, not a lookup per request";
    now_ += 600ms;
    next_ttl_ = 100s;
    get(cache, "a.example");
    EXPECT_EQ(lookups_["a.example"], 3) << "asked again once that second is over";
    // The twin: another answer with TTL 0 is not stretched (it is not the resolver's old copy).
    now_ += 101s;
    next_status_ = dns_status::secure_nodata;
    next_ttl_ = 0s;
    get(cache, "a.example");
    get(cache, "a.example");
    EXPECT_EQ(lookups_["a.example"], 5) << "a TTL-0 answer that differs is not kept";
}

TEST_F(tlsa_cache_bookkeeping, a_refresh_with_a_fresh_ttl_extends_the_answer)
{
    auto cache = make({});
    get(cache, "a.example");
    now_ += 80s;
    get(cache, "a.example");  // refreshed with a full 100 s from the authority
    now_ += 90s;              // 170 s: past the first answer's TTL, within the refreshed one
    get(cache, "a.example");
    EXPECT_EQ(cache.stats().misses, 1u);
    EXPECT_EQ(lookups_["a.example"], 3) << "and refreshed again late in the new TTL";
}

TEST_F(tlsa_cache_bookkeeping, names_differing_in_case_or_trailing_dot_share_an_entry)
{
    auto cache = make({});
    auto first = get(cache, "App.Example");
    EXPECT_EQ(get(cache, "app.example."), first);
    EXPECT_EQ(cache.size(), 1u);
    std::shared_ptr<const dane::lookup_result> other_port;
    cache.async_get("app.example", 8443, [&other_port](auto r) { other_port = std::move(r); });
    EXPECT_NE(other_port, first) << "the port is part of the key";
}

TEST_F(tlsa_cache_bookkeeping, get_if_fresh_answers_only_fresh_hits_and_counts_them_as_async_get_does)
{
    auto cache = make({});
    EXPECT_EQ(cache.get_if_fresh("a.example", 443), nullptr) << "nothing cached: no answer";
    EXPECT_EQ(lookups_["a.example"], 0) << "and no lookup started";
    EXPECT_EQ(cache.stats().misses, 0u) << "the async_get that follows counts the miss";
    const auto first = get(cache, "a.example");
    EXPECT_EQ(cache.get_if_fresh("A.Example.", 443), first) << "the same normalized key";
    EXPECT_EQ(cache.stats().hits, 1u);
    EXPECT_EQ(cache.get_if_fresh("a.example", 8443), nullptr) << "the port is part of the key";

    now_ += 80s;  // past 75 % of the TTL: the hit refreshes ahead of expiry, as async_get's
    EXPECT_EQ(cache.get_if_fresh("a.example", 443), first);
    EXPECT_EQ(lookups_["a.example"], 2);
    EXPECT_EQ(cache.stats().refreshes, 1u);

    now_ += 200s;  // expired: no answer, nothing counted, nothing started
    const auto stats = cache.stats();
    EXPECT_EQ(cache.get_if_fresh("a.example", 443), nullptr);
    EXPECT_EQ(cache.stats().hits, stats.hits);
    EXPECT_EQ(cache.stats().misses, stats.misses);
    EXPECT_EQ(lookups_["a.example"], 2);
}

TEST(tlsa_cache_lifetime, waiters_are_answered_when_the_cache_goes_first)
{
    dane::lookup_handler pending_lookup;
    std::shared_ptr<const dane::lookup_result> answer;
    {
        dane::tlsa_cache cache({}, [&](const std::string&, std::uint16_t, dane::lookup_handler done) {
            pending_lookup = std::move(done);
        });
        cache.async_get("a.example", 443, [&answer](auto r) { answer = std::move(r); });
        EXPECT_FALSE(answer);
    }
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->status, dns_status::dns_error);
    EXPECT_EQ(answer->detail, "TLSA cache shut down");
    // The lookup completing after the cache is gone is dropped, not a use after free.
    auto late = std::make_shared<dane::lookup_result>();
    late->status = dns_status::secure_records;
    pending_lookup(late);
}

TEST(rrset_digest, does_not_depend_on_record_order)
{
    auto a = dane::parse_tlsa("3 1 1 " + std::string(64, 'a')).value();
    auto b = dane::parse_tlsa("2 0 1 " + std::string(64, 'b')).value();
    EXPECT_EQ(dane::rrset_digest({a, b}), dane::rrset_digest({b, a}));
    EXPECT_NE(dane::rrset_digest({a, b}), dane::rrset_digest({a}));
    EXPECT_NE(dane::rrset_digest({a}), dane::rrset_digest({b}));
}

}  // namespace
}  // namespace danegate::test
