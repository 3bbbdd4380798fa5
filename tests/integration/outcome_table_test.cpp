// Black-box check of the rest of the test bed's host table (tests/data/README.md, "Hosts and
// intended outcomes") through the danegate binary: for each host not covered in detail by
// cli_test.cpp, `danegate tlsa verify HOST PORT` must end with the intended exit code and reason
// word, and an authenticated run must name the record it matched (DESIGN §1, §2).
#include "tests/integration/danegate_runner.hpp"

#include "tests/support/testbed.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>

namespace danegate::test {
namespace {

using namespace std::chrono_literals;

struct host_case {
    const char* label;      ///< host label under dg.test.
    const char* reason;     ///< the reason word on the last line
    const char* matched;    ///< for authenticated: "U S M " + this digest key (digests.env), at depth
    int depth;              ///< the chain depth printed after "at depth"
    const char* rationale;  ///< why, from tests/data/README.md
};

std::ostream& operator<<(std::ostream& out, const host_case& c)
{
    return out << c.label;
}

/** "3 1 1" for EE_*_SHA256 and friends: the record fields in front of a digests.env value. */
std::string record_prefix(const std::string& key)
{
    if (key == "EE_CERT_SHA256") {
        return "3 0 1 ";
    }
    if (key == "EE_SPKI_SHA512") {
        return "3 1 2 ";
    }
    if (key == "EE_SPKI_FULL") {
        return "3 1 0 ";
    }
    if (key == "CA_ROOT_CERT_FULL") {
        return "2 0 0 ";
    }
    return "3 1 1 ";
}

class verify_outcome : public ::testing::TestWithParam<host_case> {};

TEST_P(verify_outcome, exit_code_and_reason)
{
    const host_case& c = GetParam();
    const auto result = run_danegate(verify_args(c.label), 30s);
    ASSERT_FALSE(result.timed_out) << result.describe();
    const bool authenticated = std::string(c.reason) == "authenticated";
    EXPECT_EQ(result.exit_code, authenticated ? 0 : 1) << c.rationale << "\n" << result.describe();
    EXPECT_EQ(result.reason(), c.reason) << c.rationale << "\n" << result.describe();
    if (authenticated) {
        const std::string key = c.matched;
        EXPECT_EQ(result.field("matched"),
                  record_prefix(key) + testbed::get().digest(key) + " at depth " + std::to_string(c.depth))
            << result.describe();
    } else {
        EXPECT_FALSE(result.field("matched")) << result.describe();
    }
}

INSTANTIATE_TEST_SUITE_P(
    testbed_hosts, verify_outcome,
    ::testing::Values(
        host_case{"ee301", "authenticated", "EE_CERT_SHA256", 0, "3 0 1: full certificate"},
        host_case{"ee312", "authenticated", "EE_SPKI_SHA512", 0, "3 1 2: SHA-512"},
        host_case{"ee310", "authenticated", "EE_SPKI_FULL", 0, "3 1 0: exact SPKI"},
        host_case{"eersa", "authenticated", "EE_RSA_SPKI_SHA256", 0, "RSA key"},
        host_case{"eeexpired", "authenticated", "EE_EXPIRED_SPKI_SHA256", 0, "DANE-EE ignores validity dates"},
        host_case{"eewrongright", "authenticated", "EE_SPKI_SHA256", 0, "one matching record is enough"},
        host_case{"eerollover", "authenticated", "EE_SPKI_SHA256", 0, "rollover: the new key published early"},
        host_case{"ta200", "authenticated", "CA_ROOT_CERT_FULL", 2, "2 0 0 works without the TA being sent"},
        host_case{"alias2", "authenticated", "EE_SPKI_SHA256", 0, "TLSA at the original name of a CNAME"},
        host_case{"wild", "authenticated", "EE_SPKI_SHA256", 0, "wildcard TLSA"},
        host_case{"shortttl", "authenticated", "EE_SPKI_SHA256", 0, "TTL 2"},
        host_case{"app.child", "authenticated", "EE_SPKI_SHA256", 0, "secure delegation"},
        host_case{"taother", "mismatch", "", 0, "DANE-TA: leaf name other.example"},
        host_case{"taexpired", "mismatch", "", 0, "DANE-TA: expired leaf"},
        host_case{"tanoroot", "mismatch", "", 0, "2 0 1 needs the TA in the chain; it is not sent"},
        host_case{"plain", "no-tlsa", "", 0, "no TLSA at all"},
        host_case{"app.badds", "bogus", "", 0, "DS does not match the child's key"}),
    [](const ::testing::TestParamInfo<host_case>& info) {
        std::string name = info.param.label;
        for (auto& c : name) {
            if (c == '.') {
                c = '_';
            }
        }
        return name;
    });

}  // namespace
}  // namespace danegate::test
