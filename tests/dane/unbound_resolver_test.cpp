// The libunbound resolver on Asio: configuration errors at creation, every way to configure trust
// (anchor file, inline anchor, unbound.conf, stub zone), our own timeout against a dead server,
// shutdown and destruction with queries in flight, and the special-use zone handling.
#include "dane/unbound_resolver.hpp"
#include "tests/dane/dane_fixture.hpp"
#include "tests/support/process.hpp"

#include <chrono>
#include <fstream>

namespace danegate::test {
namespace {

using dane::dns_status;

class unbound_resolver_test : public dane_testbed_fixture {
protected:
    dns_status status_of(dane::unbound_resolver& resolver, const std::string& label)
    {
        auto result = lookup(resolver, testbed::get().host(label), testbed::get().port());
        return result ? result->status : dns_status::dns_error;
    }

    std::string first_line_of(const std::filesystem::path& file)
    {
        std::ifstream in(file);
        std::string line;
        std::getline(in, line);
        return line;
    }
};

TEST_F(unbound_resolver_test, configuration_errors_are_reported_at_creation)
{
    auto with = [](auto change) {
        dane::resolver_options options = testbed_resolver_options();
        change(options);
        return options;
    };
    boost::asio::io_context io;
    const std::vector<std::pair<const char*, dane::resolver_options>> broken{
        {"missing anchor file", with([](auto& o) { o.trust_anchor_files = {"/nonexistent/root.key"}; })},
        {"anchor file without records", with([](auto& o) { o.trust_anchor_files = {"/dev/null"}; })},
        {"bad inline anchor", with([](auto& o) { o.trust_anchors = {"not a DS record"}; })},
        {"bad forwarder", with([](auto& o) { o.forwarders = {"not-an-address@53"}; })},
        {"stub without address", with([](auto& o) { o.stub_zones = {{"corp.example.", {}}}; })},
        {"bad stub zone name", with([](auto& o) { o.stub_zones = {{"bad..zone", {"127.0.0.1@53"}}}; })},
        {"missing unbound.conf", with([](auto& o) { o.unbound_conf = "/nonexistent/unbound.conf"; })},
    };
    for (const auto& [what, options] : broken) {
        auto created = dane::unbound_resolver::create(io, options);
        EXPECT_FALSE(created) << what;
        if (!created) {
            EXPECT_EQ(created.error().code, dane::errc::resolver_setup) << what;
            EXPECT_FALSE(created.error().message().empty()) << what;
        }
    }
    EXPECT_TRUE(dane::unbound_resolver::create(io, testbed_resolver_options())) << "the valid twin";
}

TEST_F(unbound_resolver_test, an_unreadable_unbound_conf_is_rejected)
{
    const auto bad = testbed::get().dir() / "broken-unbound.conf";
    std::ofstream(bad) << "server:\n  this-is-not-an-option: yes\n";
    dane::resolver_options options = testbed_resolver_options();
    options.unbound_conf = bad.string();
    EXPECT_FALSE(dane::unbound_resolver::create(io_, options));
}

TEST_F(unbound_resolver_test, trust_can_come_from_an_inline_anchor)
{
    dane::resolver_options options;
    options.trust_anchors = {first_line_of(testbed::get().trust_anchor_file())};
    options.forwarders = {testbed::get().forwarder()};
    auto resolver = make_resolver(options);
    ASSERT_TRUE(resolver);
    EXPECT_EQ(status_of(*resolver, "ee311"), dns_status::secure_records);
}

TEST_F(unbound_resolver_test, trust_can_come_from_an_unbound_conf)
{
    dane::resolver_options options;
    options.unbound_conf = testbed::get().unbound_conf().string();
    auto resolver = make_resolver(options);
    ASSERT_TRUE(resolver);
    EXPECT_EQ(status_of(*resolver, "ee311"), dns_status::secure_records);
    EXPECT_EQ(status_of(*resolver, "bogus"), dns_status::bogus);
}

TEST_F(unbound_resolver_test, a_stub_zone_under_a_special_use_name_resolves)
{
    // dg.test. sits under test., which unbound answers NXDOMAIN by default: the resolver must
    // let the configured zone through (DESIGN §1).
    dane::resolver_options options;
    options.trust_anchor_files = {testbed::get().trust_anchor_file().string()};
    options.stub_zones = {{"dg.test.", {testbed::get().forwarder()}}};
    auto resolver = make_resolver(options);
    ASSERT_TRUE(resolver);
    EXPECT_EQ(status_of(*resolver, "ee311"), dns_status::secure_records);
    EXPECT_EQ(status_of(*resolver, "nxd"), dns_status::secure_nxdomain);
}

TEST_F(unbound_resolver_test, without_a_trust_anchor_nothing_is_secure)
{
    dane::resolver_options options;
    options.forwarders = {testbed::get().forwarder()};
    options.stub_zones = {{"dg.test.", {testbed::get().forwarder()}}};
    auto resolver = make_resolver(options);
    ASSERT_TRUE(resolver);
    EXPECT_EQ(status_of(*resolver, "ee311"), dns_status::insecure);
}

TEST_F(unbound_resolver_test, a_dead_server_is_dns_error_within_our_timeout)
{
    dane::resolver_options options = testbed_resolver_options();
    options.forwarders = {"127.0.0.1@" + std::to_string(free_tcp_port())};
    options.timeout = std::chrono::milliseconds{700};
    auto resolver = make_resolver(options);
    ASSERT_TRUE(resolver);
    const auto start = std::chrono::steady_clock::now();
    auto result = lookup(*resolver, testbed::get().host("ee311"), testbed::get().port());
    const auto elapsed = std::chrono::steady_clock::now() - start;
    ASSERT_TRUE(result);
    EXPECT_EQ(result->status, dns_status::dns_error);
    EXPECT_NE(result->detail.find("within"), std::string::npos) << result->detail;
    // libunbound alone would take about 17 s; ours fires after 0.7 s (generous bound for load).
    EXPECT_LT(elapsed, std::chrono::seconds{5});
}

TEST_F(unbound_resolver_test, shutdown_completes_queries_in_flight)
{
    dane::resolver_options options = testbed_resolver_options();
    options.forwarders = {"127.0.0.1@" + std::to_string(free_tcp_port())};
    options.timeout = std::chrono::seconds{30};
    auto resolver = make_resolver(options);
    ASSERT_TRUE(resolver);
    int completed = 0;
    std::string detail;
    for (int i = 0; i < 3; ++i) {
        resolver->resolve("ee311.dg.test.", dane::rr_type::a, [&](dane::dns_answer answer) {
            ++completed;
            detail = answer.detail;
            EXPECT_EQ(answer.status, dns_status::dns_error);
        });
    }
    io_.restart();
    io_.run_for(std::chrono::milliseconds{100});
    EXPECT_EQ(completed, 0);
    resolver->shutdown();
    run();
    EXPECT_EQ(completed, 3);
    EXPECT_EQ(detail, "resolver shut down");

    // Queries after shutdown complete at once, with the same answer.
    detail.clear();
    resolver->resolve("ee311.dg.test.", dane::rr_type::a, [&](dane::dns_answer answer) {
        ++completed;
        detail = answer.detail;
        EXPECT_EQ(answer.status, dns_status::dns_error);
    });
    run();
    EXPECT_EQ(completed, 4);
    EXPECT_EQ(detail, "resolver shut down");
}

TEST_F(unbound_resolver_test, destruction_with_queries_in_flight_completes_them)
{
    dane::resolver_options options = testbed_resolver_options();
    options.forwarders = {"127.0.0.1@" + std::to_string(free_tcp_port())};
    options.timeout = std::chrono::seconds{30};
    auto resolver = make_resolver(options);
    ASSERT_TRUE(resolver);
    int completed = 0;
    resolver->resolve("ee311.dg.test.", dane::rr_type::tlsa, [&](dane::dns_answer answer) {
        ++completed;
        EXPECT_EQ(answer.status, dns_status::dns_error);
        EXPECT_EQ(answer.detail, "resolver shut down");
    });
    std::shared_ptr<const dane::lookup_result> lookup_result;
    dane::async_lookup_tlsa(*resolver, "ee311.dg.test", 443, [&](auto r) { lookup_result = std::move(r); });
    io_.restart();
    io_.run_for(std::chrono::milliseconds{100});
    const auto handle = resolver->handle();
    resolver.reset();
    run();
    EXPECT_EQ(completed, 1);
    // A TLSA lookup in flight outlives the resolver and ends in dns_error, not in a dangling call.
    ASSERT_TRUE(lookup_result);
    EXPECT_EQ(lookup_result->status, dns_status::dns_error);
    // So does a handle kept past the resolver: it answers at once.
    std::optional<dane::dns_answer> late;
    handle.resolve("ee311.dg.test.", dane::rr_type::a, [&](dane::dns_answer a) { late = std::move(a); });
    ASSERT_TRUE(late);
    EXPECT_EQ(late->status, dns_status::dns_error);
}

TEST_F(unbound_resolver_test, servfail_is_dns_error_not_insecure)
{
    // NSD refuses names outside its zones; libunbound turns that into SERVFAIL, which carries
    // neither the secure nor the bogus flag and must not be mistaken for an unsigned answer.
    auto result = lookup(*resolver_, "app.example", 443);
    ASSERT_TRUE(result);
    EXPECT_EQ(result->status, dns_status::dns_error);
    EXPECT_NE(result->detail.find("SERVFAIL"), std::string::npos) << result->detail;
}

TEST_F(unbound_resolver_test, answers_carry_ttl_and_canonical_name)
{
    auto result = lookup("shortttl");
    ASSERT_EQ(result->status, dns_status::secure_records) << result->detail;
    EXPECT_LE(result->ttl, std::chrono::seconds{2});
    EXPECT_EQ(result->addresses, std::vector<std::string>{"127.0.0.10"});

    std::optional<dane::dns_answer> answer;
    resolver_->resolve(testbed::get().host("alias"), dane::rr_type::a, [&](dane::dns_answer a) { answer = std::move(a); });
    run();
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->status, dns_status::secure_records);
    EXPECT_EQ(answer->canonical_name, testbed::get().host("ee311") + ".");
    EXPECT_GE(resolver_->queries_sent(), 4u);
}

TEST(unbound_resolver_names, special_use_zones_are_found_by_suffix)
{
    using dane::unbound_resolver;
    EXPECT_EQ(unbound_resolver::default_local_zones_containing("corp.test."), std::vector<std::string>{"test."});
    EXPECT_EQ(unbound_resolver::default_local_zones_containing("test."), std::vector<std::string>{"test."});
    EXPECT_EQ(unbound_resolver::default_local_zones_containing("lan.home.arpa."),
              std::vector<std::string>{"home.arpa."});
    EXPECT_TRUE(unbound_resolver::default_local_zones_containing("latest.").empty());
    EXPECT_TRUE(unbound_resolver::default_local_zones_containing("corp.example.").empty());
}

TEST(unbound_resolver_names, domain_names_are_normalized_or_refused)
{
    EXPECT_EQ(dane::normalize_domain_name("App.Corp.Example"), "app.corp.example.");
    EXPECT_EQ(dane::normalize_domain_name("app.corp.example."), "app.corp.example.");
    EXPECT_EQ(dane::normalize_domain_name("_443._tcp.x"), "_443._tcp.x.");
    EXPECT_EQ(dane::normalize_domain_name(""), "");
    EXPECT_EQ(dane::normalize_domain_name("bad..name"), "");
    EXPECT_EQ(dane::normalize_domain_name(".leading"), "");
    EXPECT_EQ(dane::normalize_domain_name("sp ace.example"), "");
    EXPECT_EQ(dane::normalize_domain_name(std::string(64, 'a') + ".example"), "");
    EXPECT_EQ(dane::normalize_domain_name(std::string(63, 'a') + ".example"), std::string(63, 'a') + ".example.");
    EXPECT_EQ(dane::normalize_domain_name(std::string(300, 'a')), "");
    // 254 octets with the root dot is the limit, whether or not the dot was given.
    const std::string longest = std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c') + "." +
                                std::string(61, 'd');
    EXPECT_EQ(dane::normalize_domain_name(longest), longest + ".");
    EXPECT_EQ(dane::normalize_domain_name(longest + "d"), "");
    EXPECT_EQ(dane::normalize_domain_name(longest + "."), longest + ".");

    std::string key = "443 ";
    EXPECT_TRUE(dane::append_normalized_domain_name("App.Example", key));
    EXPECT_EQ(key, "443 app.example.");
    EXPECT_FALSE(dane::append_normalized_domain_name("bad..name", key));
    EXPECT_EQ(key, "443 app.example.") << "a refused name leaves the string as it was";
}

}  // namespace
}  // namespace danegate::test
