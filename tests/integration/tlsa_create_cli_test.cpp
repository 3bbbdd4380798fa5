// Black-box tests of `danegate tlsa create` (DESIGN §2): the record data the binary prints equals
// what the openssl command-line pipelines give, for an EC and an RSA certificate, selectors 0/1
// and matching types 0/1/2; the zone-line form (owner lower-cased and made absolute, TTL, proto);
// the record it prints for the test bed's certificate is the one the test bed's zone publishes;
// and bad input (missing --port or --host, out-of-range fields, unreadable certificates) exits 2.
#include "tests/integration/danegate_runner.hpp"

#include "tests/support/testbed.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

namespace danegate::test {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

const testbed& bed()
{
    return testbed::get();
}

/** The selector's bytes of certificate @p cert in DER, as a shell pipeline writing them. */
std::string selected_der(const std::string& cert, int selector)
{
    const std::string in = shell_quote(cert);
    if (selector == 0) {
        return "openssl x509 -in " + in + " -outform DER";
    }
    return "openssl x509 -in " + in + " -noout -pubkey | openssl pkey -pubin -outform DER";
}

/** The association data openssl gives for @p cert, @p selector and @p mtype (lower-case hex). */
std::string openssl_association_data(const std::string& cert, int selector, int mtype)
{
    std::string command = selected_der(cert, selector);
    switch (mtype) {
    case 0:
        command += " | od -An -v -tx1 | tr -d ' \\n'";
        break;
    case 1:
        command += " | openssl dgst -sha256 -r | cut -d' ' -f1 | tr -d '\\n'";
        break;
    default:
        command += " | openssl dgst -sha512 -r | cut -d' ' -f1 | tr -d '\\n'";
        break;
    }
    return shell_output(command);
}

void expect_usage_error(const cli_result& result, const std::string& message)
{
    ASSERT_FALSE(result.timed_out) << result.describe();
    EXPECT_EQ(result.exit_code, 2) << result.describe();
    EXPECT_THAT(result.out, IsEmpty()) << result.describe();
    EXPECT_THAT(result.err, HasSubstr(message)) << result.describe();
}

// ---------------------------------------------------------------------------------------------
// Record data against openssl: certificate × selector × matching type.
// ---------------------------------------------------------------------------------------------

using create_case = std::tuple<std::string, int, int>;  // certificate file, selector, mtype

class tlsa_create_matches_openssl : public ::testing::TestWithParam<create_case> {};

TEST_P(tlsa_create_matches_openssl, record_data)
{
    const auto& [name, selector, mtype] = GetParam();
    const std::string cert = bed().file(name).string();
    const std::string expected_hex = openssl_association_data(cert, selector, mtype);
    ASSERT_THAT(expected_hex, Not(IsEmpty())) << "the openssl pipeline printed nothing";

    const auto result = run_danegate({"tlsa", "create", "--cert", cert, "--selector", std::to_string(selector),
                                      "--mtype", std::to_string(mtype)});
    ASSERT_FALSE(result.timed_out) << result.describe();
    EXPECT_EQ(result.exit_code, 0) << result.describe();
    EXPECT_EQ(result.out, "3 " + std::to_string(selector) + " " + std::to_string(mtype) + " " + expected_hex + "\n")
        << result.describe();
}

INSTANTIATE_TEST_SUITE_P(certificates, tlsa_create_matches_openssl,
                         ::testing::Combine(::testing::Values("ee.pem", "ee-rsa.pem"), ::testing::Values(0, 1),
                                            ::testing::Values(0, 1, 2)),
                         [](const ::testing::TestParamInfo<create_case>& info) {
                             std::string cert = std::get<0>(info.param) == "ee.pem" ? "ec" : "rsa";
                             return cert + "_selector" + std::to_string(std::get<1>(info.param)) + "_mtype" +
                                    std::to_string(std::get<2>(info.param));
                         });

TEST(tlsa_create_cli, defaults_are_dane_ee_spki_sha256)
{
    const auto result = run_danegate({"tlsa", "create", "--cert", bed().file("ee.pem").string()});
    ASSERT_FALSE(result.timed_out) << result.describe();
    EXPECT_EQ(result.exit_code, 0) << result.describe();
    EXPECT_EQ(result.out, "3 1 1 " + bed().digest("EE_SPKI_SHA256") + "\n") << result.describe();
}

TEST(tlsa_create_cli, usage_is_printed_as_given)
{
    const auto result = run_danegate({"tlsa", "create", "--cert", bed().file("ca-root.pem").string(), "--usage",
                                      "2", "--selector", "0"});
    ASSERT_FALSE(result.timed_out) << result.describe();
    EXPECT_EQ(result.exit_code, 0) << result.describe();
    EXPECT_EQ(result.out, "2 0 1 " + bed().digest("CA_ROOT_CERT_SHA256") + "\n") << result.describe();
}

// ---------------------------------------------------------------------------------------------
// Zone-file lines.
// ---------------------------------------------------------------------------------------------

TEST(tlsa_create_cli, zone_line_lower_cases_the_host_and_makes_it_absolute)
{
    const auto result = run_danegate({"tlsa", "create", "--cert", bed().file("ee.pem").string(), "--host",
                                      "App.Example", "--port", "443", "--ttl", "600"});
    ASSERT_FALSE(result.timed_out) << result.describe();
    EXPECT_EQ(result.exit_code, 0) << result.describe();
    EXPECT_EQ(result.out, "_443._tcp.app.example. 600 IN TLSA 3 1 1 " + bed().digest("EE_SPKI_SHA256") + "\n")
        << result.describe();
}

TEST(tlsa_create_cli, zone_line_defaults_to_tcp_and_ttl_3600)
{
    const auto result = run_danegate({"tlsa", "create", "--cert", bed().file("ee.pem").string(), "--host",
                                      "app.example.", "--port", "8443"});
    ASSERT_FALSE(result.timed_out) << result.describe();
    EXPECT_EQ(result.exit_code, 0) << result.describe();
    EXPECT_EQ(result.out, "_8443._tcp.app.example. 3600 IN TLSA 3 1 1 " + bed().digest("EE_SPKI_SHA256") + "\n")
        << result.describe();
}

TEST(tlsa_create_cli, zone_line_with_another_proto)
{
    const auto result = run_danegate({"tlsa", "create", "--cert", bed().file("ee.pem").string(), "--host",
                                      "sip.example", "--port", "5061", "--proto", "udp", "--mtype", "2"});
    ASSERT_FALSE(result.timed_out) << result.describe();
    EXPECT_EQ(result.exit_code, 0) << result.describe();
    EXPECT_EQ(result.out, "_5061._udp.sip.example. 3600 IN TLSA 3 1 2 " + bed().digest("EE_SPKI_SHA512") + "\n")
        << result.describe();
}

TEST(tlsa_create_cli, the_zone_line_for_the_test_bed_certificate_is_in_the_test_bed_zone)
{
    const auto result = run_danegate({"tlsa", "create", "--cert", bed().file("ee.pem").string(), "--host",
                                      bed().host("ee311"), "--port", std::to_string(bed().port())});
    ASSERT_FALSE(result.timed_out) << result.describe();
    ASSERT_EQ(result.exit_code, 0) << result.describe();
    // make_testbed.sh writes "_PORT._tcp.ee311 TLSA 3 1 1 <hex>" relative to $ORIGIN dg.test.
    std::ifstream zone(bed().file("zones/dg.test.zone"));
    ASSERT_TRUE(zone) << "cannot read the test bed zone";
    const std::string owner = "_" + std::to_string(bed().port()) + "._tcp.ee311";
    std::string published;
    for (std::string line; std::getline(zone, line);) {
        std::istringstream words(line);
        std::string name;
        std::string type;
        words >> name >> type;
        if (name == owner && type == "TLSA") {
            std::getline(words >> std::ws, published);
        }
    }
    ASSERT_THAT(published, Not(IsEmpty())) << "no TLSA for " << owner << " in the zone";
    EXPECT_EQ(result.out, bed().tlsa_name("ee311") + ". 3600 IN TLSA " + published + "\n") << result.describe();
}

// ---------------------------------------------------------------------------------------------
// Usage errors: exit 2, nothing on stdout.
// ---------------------------------------------------------------------------------------------

TEST(tlsa_create_cli, host_without_port_is_a_usage_error)
{
    expect_usage_error(
        run_danegate({"tlsa", "create", "--cert", bed().file("ee.pem").string(), "--host", "app.example"}),
        "--port");
}

TEST(tlsa_create_cli, port_without_host_is_a_usage_error)
{
    expect_usage_error(run_danegate({"tlsa", "create", "--cert", bed().file("ee.pem").string(), "--port", "443"}),
                       "--host");
}

TEST(tlsa_create_cli, mtype_3_is_a_usage_error)
{
    expect_usage_error(run_danegate({"tlsa", "create", "--cert", bed().file("ee.pem").string(), "--mtype", "3"}),
                       "--mtype");
}

TEST(tlsa_create_cli, selector_2_is_a_usage_error)
{
    expect_usage_error(
        run_danegate({"tlsa", "create", "--cert", bed().file("ee.pem").string(), "--selector", "2"}), "--selector");
}

TEST(tlsa_create_cli, port_0_is_a_usage_error)
{
    expect_usage_error(run_danegate({"tlsa", "create", "--cert", bed().file("ee.pem").string(), "--host",
                                     "app.example", "--port", "0"}),
                       "--port");
}

TEST(tlsa_create_cli, missing_cert_option_is_a_usage_error)
{
    expect_usage_error(run_danegate({"tlsa", "create"}), "--cert");
}

TEST(tlsa_create_cli, a_missing_certificate_file_is_a_usage_error)
{
    const auto missing = (bed().dir() / "no-such.pem").string();
    expect_usage_error(run_danegate({"tlsa", "create", "--cert", missing}), missing);
}

TEST(tlsa_create_cli, a_file_without_a_certificate_is_a_usage_error)
{
    // The private key next to the certificate: readable PEM, but no CERTIFICATE block.
    const auto result = run_danegate({"tlsa", "create", "--cert", bed().file("ee.key").string()});
    ASSERT_FALSE(result.timed_out) << result.describe();
    EXPECT_EQ(result.exit_code, 2) << result.describe();
    EXPECT_THAT(result.out, IsEmpty()) << result.describe();
    EXPECT_THAT(result.err, HasSubstr("danegate: ")) << result.describe();
}

TEST(tlsa_create_cli, an_invalid_host_is_a_usage_error)
{
    expect_usage_error(run_danegate({"tlsa", "create", "--cert", bed().file("ee.pem").string(), "--host",
                                     "bad..name", "--port", "443"}),
                       "bad..name");
}

}  // namespace
}  // namespace danegate::test
