// Tests for dane/tlsa_create.cpp: the output of `danegate tlsa create` must equal what the openssl
// command-line pipelines give (DESIGN §2) for EC and RSA certificates, selectors 0/1 and matching
// types 0/1/2; the zone-line form; the checked-in golden files of tests/data/golden; and every
// error, each paired with the passing case it is a variant of.
#include "dane/tlsa_create.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

namespace danegate::dane {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

struct command_result {
    int status = -1;
    std::string output;
};

/** Runs @p command with /bin/sh and returns its exit status and standard output. */
command_result run(const std::string& command)
{
    command_result result;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) {
        return result;
    }
    char buffer[4096];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) {
        result.output.append(buffer, n);
    }
    result.status = ::pclose(pipe);
    return result;
}

/** @p path quoted for /bin/sh. */
std::string sh(const fs::path& path)
{
    std::string out = "'";
    for (const char c : path.string()) {
        if (c == '\'') {
            out += "'\\''";
        } else {
            out += c;
        }
    }
    return out + "'";
}

std::string read_file(const fs::path& path)
{
    std::ifstream in{path, std::ios::binary};
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

void write_file(const fs::path& path, const std::string& text)
{
    std::ofstream out{path, std::ios::binary};
    out << text;
}

const std::string label60(60, 'b');
const std::string label63(63, 'c');

bool is_lower_hex(const std::string& text)
{
    return !text.empty() && text.find_first_not_of("0123456789abcdef") == std::string::npos;
}

/**
 * The association data as lower-case hex, computed by openssl's command line rather than by
 * danegate: these are the pipelines DESIGN §2 promises the output equals.
 */
std::string pipeline_hex(const fs::path& cert, int selector, int mtype)
{
    const std::string selected =
        selector == 0
            ? "openssl x509 -in " + sh(cert) + " -outform DER"
            : "openssl x509 -in " + sh(cert) + " -noout -pubkey | openssl pkey -pubin -outform DER";
    std::string command = selected;
    if (mtype == 0) {
        command += " | od -An -v -tx1 | tr -d ' \\n'";
    } else {
        command += mtype == 1 ? " | openssl dgst -sha256 -r" : " | openssl dgst -sha512 -r";
    }
    const auto result = run(command);
    EXPECT_EQ(result.status, 0) << command;
    // `dgst -r` prints "HEX *stdin"; od prints the hex alone once tr has removed the layout.
    std::string hex = result.output.substr(0, result.output.find_first_of(" \n"));
    EXPECT_TRUE(is_lower_hex(hex)) << command << " gave " << result.output;
    if (mtype == 1) {
        EXPECT_EQ(hex.size(), 64u) << command;
    } else if (mtype == 2) {
        EXPECT_EQ(hex.size(), 128u) << command;
    }
    return hex;
}

/**
 * Generates, once per suite, an EC P-256 and an RSA 2048 self-signed certificate and the odd files
 * the error tests read, in a fresh temporary directory.
 */
class tlsa_create_fixture : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        setup_error_.clear();
        std::string pattern = (fs::temp_directory_path() / "danegate-tlsa-create-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            setup_error_ = "mkdtemp failed";
            return;
        }
        dir_ = pattern;
        const std::string d = sh(dir_);
        const std::vector<std::string> commands{
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + d +
                "/ec.key -out " + d + "/ec.pem -subj /CN=ec.example -days 30 2>&1",
            "openssl req -x509 -newkey rsa:2048 -nodes -keyout " + d + "/rsa.key -out " + d +
                "/rsa.pem -subj /CN=rsa.example -days 30 2>&1",
            "openssl x509 -in " + d + "/ec.pem -outform DER -out " + d + "/ec.der 2>&1",
            // A key first, then two certificates: the first certificate is the one meant.
            "cat " + d + "/rsa.key " + d + "/ec.pem " + d + "/rsa.pem > " + d + "/bundle.pem",
        };
        for (const auto& command : commands) {
            const auto result = run(command);
            if (result.status != 0) {
                setup_error_ = command + " failed: " + result.output;
                return;
            }
        }
        write_file(dir_ / "empty.pem", "");
        write_file(dir_ / "garbage.pem", "this is not a certificate\n\x01\x02\xff\n");
        const std::string pem = read_file(dir_ / "ec.pem");
        write_file(dir_ / "truncated.pem", pem.substr(0, pem.size() / 2));
        write_file(dir_ / "no-end.pem", pem.substr(0, pem.find("-----END")));
    }

    static void TearDownTestSuite()
    {
        if (!dir_.empty()) {
            std::error_code ignored;
            fs::remove_all(dir_, ignored);
            dir_.clear();
        }
    }

    void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }

    static tlsa_create_options options_for(const std::string& file)
    {
        tlsa_create_options options;
        options.cert_file = dir_ / file;
        return options;
    }

    static inline fs::path dir_;
    static inline std::string setup_error_;
};

// --- output equals the openssl pipelines
// -----------------------------------------------------------

class TlsaCreatePipeline : public tlsa_create_fixture,
                           public ::testing::WithParamInterface<std::tuple<std::string, int, int>> {
};

TEST_P(TlsaCreatePipeline, RecordEqualsOpensslPipeline)
{
    const auto& [key, selector, mtype] = GetParam();
    auto options = options_for(key + ".pem");
    options.selector = static_cast<std::uint8_t>(selector);
    options.matching_type = static_cast<std::uint8_t>(mtype);

    const auto text = tlsa_create(options);
    ASSERT_TRUE(text.has_value()) << text.error().message();
    const std::string expected = "3 " + std::to_string(selector) + " " + std::to_string(mtype) +
                                 " " + pipeline_hex(dir_ / (key + ".pem"), selector, mtype) + "\n";
    EXPECT_EQ(*text, expected);
}

TEST_P(TlsaCreatePipeline, ZoneLineEqualsOpensslPipeline)
{
    const auto& [key, selector, mtype] = GetParam();
    auto options = options_for(key + ".pem");
    options.selector = static_cast<std::uint8_t>(selector);
    options.matching_type = static_cast<std::uint8_t>(mtype);
    options.host = "app.example";
    options.port = 443;

    const auto text = tlsa_create(options);
    ASSERT_TRUE(text.has_value()) << text.error().message();
    EXPECT_EQ(*text, "_443._tcp.app.example. 3600 IN TLSA 3 " + std::to_string(selector) + " " +
                         std::to_string(mtype) + " " +
                         pipeline_hex(dir_ / (key + ".pem"), selector, mtype) + "\n");
}

INSTANTIATE_TEST_SUITE_P(TlsaCreate, TlsaCreatePipeline,
                         ::testing::Combine(::testing::Values("ec", "rsa"), ::testing::Values(0, 1),
                                            ::testing::Values(0, 1, 2)),
                         [](const auto& info) {
                             return std::get<0>(info.param) + "_" +
                                    std::to_string(std::get<1>(info.param)) +
                                    std::to_string(std::get<2>(info.param));
                         });

// --- the passing cases
// -----------------------------------------------------------------------------

class TlsaCreate : public tlsa_create_fixture {};

TEST_F(TlsaCreate, DefaultsAreDaneEeSpkiSha256)
{
    const auto text = tlsa_create(options_for("ec.pem"));
    ASSERT_TRUE(text.has_value()) << text.error().message();
    EXPECT_EQ(*text, "3 1 1 " + pipeline_hex(dir_ / "ec.pem", 1, 1) + "\n");
}

TEST_F(TlsaCreate, UsageIsPrintedAsGiven)
{
    const std::string hex = pipeline_hex(dir_ / "rsa.pem", 1, 1);
    for (const int usage : {0, 1, 2, 3, 4, 255}) {
        auto options = options_for("rsa.pem");
        options.usage = static_cast<std::uint8_t>(usage);
        const auto text = tlsa_create(options);
        ASSERT_TRUE(text.has_value()) << text.error().message();
        EXPECT_EQ(*text, std::to_string(usage) + " 1 1 " + hex + "\n");
    }
}

TEST_F(TlsaCreate, UsesTheFirstCertificateInTheFile)
{
    // bundle.pem is an RSA key, the EC certificate, then the RSA certificate.
    const auto text = tlsa_create(options_for("bundle.pem"));
    ASSERT_TRUE(text.has_value()) << text.error().message();
    EXPECT_EQ(*text, "3 1 1 " + pipeline_hex(dir_ / "ec.pem", 1, 1) + "\n");
    EXPECT_EQ(pipeline_hex(dir_ / "bundle.pem", 1, 1), pipeline_hex(dir_ / "ec.pem", 1, 1));
}

TEST_F(TlsaCreate, ZoneLineLowerCasesAndMakesAbsolute)
{
    const std::string hex = pipeline_hex(dir_ / "ec.pem", 1, 1);
    for (const std::string host : {"App.EXAMPLE", "app.example.", "APP.example."}) {
        auto options = options_for("ec.pem");
        options.host = host;
        options.port = 443;
        const auto text = tlsa_create(options);
        ASSERT_TRUE(text.has_value()) << host << ": " << text.error().message();
        EXPECT_EQ(*text, "_443._tcp.app.example. 3600 IN TLSA 3 1 1 " + hex + "\n") << host;
    }
}

TEST_F(TlsaCreate, ZoneLineUsesProtoPortAndTtl)
{
    const std::string hex = pipeline_hex(dir_ / "ec.pem", 1, 1);
    struct row {
        std::string proto;
        std::uint16_t port;
        std::uint32_t ttl;
        std::string owner;
    };
    for (const auto& r : {row{"udp", 853, 300, "_853._udp.app.example."},
                          row{"SCTP", 65535, 0, "_65535._sctp.app.example."},
                          row{"tcp", 25, 2147483647, "_25._tcp.app.example."}}) {
        auto options = options_for("ec.pem");
        options.host = "app.example";
        options.port = r.port;
        options.proto = r.proto;
        options.ttl = r.ttl;
        const auto text = tlsa_create(options);
        ASSERT_TRUE(text.has_value()) << text.error().message();
        EXPECT_EQ(*text, r.owner + " " + std::to_string(r.ttl) + " IN TLSA 3 1 1 " + hex + "\n");
    }
}

TEST_F(TlsaCreate, HostAcceptsUnderscoreHyphenDigitsAndLengthLimits)
{
    // 60*4 + 3 dots = 243 characters: with "_443._tcp." the owner name is exactly 253.
    const std::string host243 = label60 + "." + label60 + "." + label60 + "." + label60;
    for (const std::string& host :
         {std::string{"_mail-1.app-2.example"}, std::string{"x"}, label63 + ".example", host243}) {
        auto options = options_for("ec.pem");
        options.host = host;
        options.port = 443;
        const auto text = tlsa_create(options);
        ASSERT_TRUE(text.has_value()) << host << ": " << text.error().message();
        EXPECT_THAT(*text, HasSubstr("._tcp." + host + ". 3600 IN TLSA 3 1 1 "));
    }
}

// --- errors
// ----------------------------------------------------------------------------------------

struct error_case {
    std::string name;
    std::function<void(tlsa_create_options&, const fs::path& dir)> change;
    errc expected;
    std::string in_message;
};

class TlsaCreateErrors : public tlsa_create_fixture,
                         public ::testing::WithParamInterface<error_case> {};

TEST_P(TlsaCreateErrors, FailsWithCodeAndSentence)
{
    auto options = options_for("ec.pem");
    GetParam().change(options, dir_);
    const auto text = tlsa_create(options);
    ASSERT_FALSE(text.has_value()) << *text;
    EXPECT_EQ(&text.error().code.category(), &dane_category());
    EXPECT_EQ(text.error().code, make_error_code(GetParam().expected)) << text.error().message();
    EXPECT_FALSE(text.error().detail.empty());
    EXPECT_THAT(text.error().message(), HasSubstr(GetParam().in_message));
}

void set_host(tlsa_create_options& options, std::string host)
{
    options.host = std::move(host);
    options.port = 443;
}

INSTANTIATE_TEST_SUITE_P(
    TlsaCreate, TlsaCreateErrors,
    ::testing::Values(
        // The certificate file.
        error_case{"MissingFile", [](auto& o, auto& d) { o.cert_file = d / "nope.pem"; },
                   errc::certificate_load, "nope.pem"},
        error_case{"EmptyPath", [](auto& o, auto&) { o.cert_file.clear(); }, errc::certificate_load,
                   "no certificate file"},
        error_case{"Directory", [](auto& o, auto& d) { o.cert_file = d; }, errc::certificate_load,
                   "directory"},
        error_case{"DevNull", [](auto& o, auto&) { o.cert_file = "/dev/null"; },
                   errc::certificate_load, "regular file"},
        error_case{"EmptyFile", [](auto& o, auto& d) { o.cert_file = d / "empty.pem"; },
                   errc::certificate_load, "no PEM certificate"},
        error_case{"Garbage", [](auto& o, auto& d) { o.cert_file = d / "garbage.pem"; },
                   errc::certificate_load, "no PEM certificate"},
        error_case{"DerNotPem", [](auto& o, auto& d) { o.cert_file = d / "ec.der"; },
                   errc::certificate_load, "no PEM certificate"},
        error_case{"KeyOnly", [](auto& o, auto& d) { o.cert_file = d / "ec.key"; },
                   errc::certificate_load, "no PEM certificate"},
        error_case{"TruncatedPem", [](auto& o, auto& d) { o.cert_file = d / "truncated.pem"; },
                   errc::certificate_load, "no PEM certificate"},
        error_case{"PemWithoutEnd", [](auto& o, auto& d) { o.cert_file = d / "no-end.pem"; },
                   errc::certificate_load, "no PEM certificate"},
        // Host and port belong together.
        error_case{"HostWithoutPort", [](auto& o, auto&) { o.host = "app.example"; },
                   errc::bad_tlsa_syntax, "port"},
        error_case{"PortWithoutHost", [](auto& o, auto&) { o.port = 443; }, errc::bad_tlsa_syntax,
                   "host"},
        error_case{"PortZero",
                   [](auto& o, auto&) {
                       set_host(o, "app.example");
                       o.port = 0;
                   },
                   errc::bad_tlsa_syntax, "port 0"},
        // Host names.
        error_case{"EmptyHost", [](auto& o, auto&) { set_host(o, ""); }, errc::bad_domain_name,
                   "empty"},
        error_case{"RootHost", [](auto& o, auto&) { set_host(o, "."); }, errc::bad_domain_name,
                   "empty"},
        error_case{"EmptyLabel", [](auto& o, auto&) { set_host(o, "app..example"); },
                   errc::bad_domain_name, "empty label"},
        error_case{"LeadingDot", [](auto& o, auto&) { set_host(o, ".app.example"); },
                   errc::bad_domain_name, "empty label"},
        error_case{"TwoTrailingDots", [](auto& o, auto&) { set_host(o, "app.example.."); },
                   errc::bad_domain_name, "empty label"},
        error_case{"Label64",
                   [](auto& o, auto&) { set_host(o, std::string(64, 'a') + ".example"); },
                   errc::bad_domain_name, "63"},
        error_case{"Name254",
                   [](auto& o, auto&) {
                       set_host(
                           o, label63 + "." + label63 + "." + label63 + "." + std::string(62, 'd'));
                   },
                   errc::bad_domain_name, "253"},
        error_case{"OwnerNameTooLong",
                   [](auto& o, auto&) {
                       // 244 characters: fine alone, too long under "_443._tcp.".
                       set_host(o, label60 + "." + label60 + "." + label60 + "." + label60 + "x");
                   },
                   errc::bad_domain_name, "owner name"},
        error_case{"Space", [](auto& o, auto&) { set_host(o, "app example"); },
                   errc::bad_domain_name, "\" \""},
        error_case{"Slash", [](auto& o, auto&) { set_host(o, "app/example"); },
                   errc::bad_domain_name, "\"/\""},
        error_case{"Wildcard", [](auto& o, auto&) { set_host(o, "*.example"); },
                   errc::bad_domain_name, "\"*\""},
        error_case{"NonAscii",
                   [](auto& o, auto&) {
                       set_host(o,
                                "b\xc3\xbc"
                                "cher.example");
                   },
                   errc::bad_domain_name, "\\xc3"},
        error_case{"NulByte", [](auto& o, auto&) { set_host(o, std::string("app\0.example", 12)); },
                   errc::bad_domain_name, "\\x00"},
        // Protocol and TTL.
        error_case{"UnknownProto",
                   [](auto& o, auto&) {
                       set_host(o, "app.example");
                       o.proto = "quic";
                   },
                   errc::bad_tlsa_syntax, "quic"},
        error_case{"EmptyProto",
                   [](auto& o, auto&) {
                       set_host(o, "app.example");
                       o.proto = "";
                   },
                   errc::bad_tlsa_syntax, "tcp, udp or sctp"},
        error_case{"TtlOver31Bits",
                   [](auto& o, auto&) {
                       set_host(o, "app.example");
                       o.ttl = 2147483648u;
                   },
                   errc::bad_tlsa_syntax, "RFC 2181"},
        // Selector and matching type must be defined to compute anything.
        error_case{"Selector2", [](auto& o, auto&) { o.selector = 2; }, errc::tlsa_field_range,
                   "selector 2 is not defined (RFC 6698 §2.1.2)"},
        error_case{"MatchingType3", [](auto& o, auto&) { o.matching_type = 3; },
                   errc::tlsa_field_range, "matching type 3"}),
    [](const auto& info) { return info.param.name; });

// --- golden files
// ----------------------------------------------------------------------------------

fs::path golden_dir()
{
#ifdef DANEGATE_SOURCE_DIR
    return fs::path{DANEGATE_SOURCE_DIR} / "tests" / "data" / "golden";
#else
    return fs::path{__FILE__}.parent_path().parent_path() / "data" / "golden";
#endif
}

TEST(TlsaCreateGolden, RecordLine)
{
    tlsa_create_options options;
    options.cert_file = golden_dir() / "golden-cert.pem";
    const auto text = tlsa_create(options);
    ASSERT_TRUE(text.has_value()) << text.error().message();
    const std::string expected = read_file(golden_dir() / "golden-311.txt");
    ASSERT_FALSE(expected.empty()) << "missing " << (golden_dir() / "golden-311.txt");
    EXPECT_EQ(*text, expected);
}

TEST(TlsaCreateGolden, ZoneLine)
{
    tlsa_create_options options;
    options.cert_file = golden_dir() / "golden-cert.pem";
    options.host = "app.example";
    options.port = 443;
    options.ttl = 3600;
    const auto text = tlsa_create(options);
    ASSERT_TRUE(text.has_value()) << text.error().message();
    const std::string expected = read_file(golden_dir() / "golden-zone-line.txt");
    ASSERT_FALSE(expected.empty()) << "missing " << (golden_dir() / "golden-zone-line.txt");
    EXPECT_EQ(*text, expected);
}

}  // namespace
}  // namespace danegate::dane
