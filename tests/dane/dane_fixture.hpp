// Shared by the tests/dane suites that talk to the real test bed: an io_context, a libunbound
// resolver trusting the test bed's dg.test. anchor and forwarding to its NSD, and blocking
// wrappers around the asynchronous lookup and probe (tests may block; the library may not).
#pragma once

#include "dane/tls_probe.hpp"
#include "dane/tlsa_lookup.hpp"
#include "dane/unbound_resolver.hpp"
#include "tests/support/testbed.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

namespace danegate::test {

/** Resolver options that validate the test bed's zones through its NSD. */
inline dane::resolver_options testbed_resolver_options()
{
    const auto& bed = testbed::get();
    dane::resolver_options options;
    options.trust_anchor_files = {bed.trust_anchor_file().string()};
    options.forwarders = {bed.forwarder()};
    options.timeout = std::chrono::seconds{5};
    return options;
}

class dane_testbed_fixture : public ::testing::Test {
protected:
    void SetUp() override { resolver_ = make_resolver(testbed_resolver_options()); }

    std::unique_ptr<dane::unbound_resolver> make_resolver(const dane::resolver_options& options)
    {
        auto created = dane::unbound_resolver::create(io_, options);
        if (!created) {
            ADD_FAILURE() << "resolver: " << created.error().message();
            return nullptr;
        }
        return std::move(*created);
    }

    /** Runs the io_context until nothing is left to do. */
    void run()
    {
        io_.restart();
        io_.run();
    }

    std::shared_ptr<const dane::lookup_result> lookup(dane::unbound_resolver& resolver, const std::string& host,
                                                      std::uint16_t port)
    {
        std::shared_ptr<const dane::lookup_result> result;
        dane::async_lookup_tlsa(resolver, host, port, [&result](auto r) { result = std::move(r); });
        run();
        return result;
    }

    /** The TLSA lookup for label.dg.test at the test bed's port. */
    std::shared_ptr<const dane::lookup_result> lookup(const std::string& label)
    {
        const auto& bed = testbed::get();
        return lookup(*resolver_, bed.host(label), bed.port());
    }

    dane::probe_result probe(std::shared_ptr<const dane::lookup_result> lookup_result,
                             dane::probe_options options = {})
    {
        std::optional<dane::probe_result> result;
        dane::async_probe(io_, std::move(lookup_result), std::move(options),
                          [&result](dane::probe_result r) { result = std::move(r); });
        run();
        EXPECT_TRUE(result.has_value()) << "the probe never completed";
        return result.value_or(dane::probe_result{});
    }

    boost::asio::io_context io_;
    std::unique_ptr<dane::unbound_resolver> resolver_;
};

}  // namespace danegate::test
