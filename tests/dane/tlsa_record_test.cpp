// Tests for dane/tlsa_record.cpp: presentation and wire round trips, every malformed form with its
// errc, garbage and random input (run under ASan/UBSan in CI), and make_tlsa on a certificate
// built in memory. The comparison with openssl's own pipelines lives in tlsa_create_test.cpp.
#include "dane/tlsa_record.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cctype>
#include <cstdint>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace danegate::dane {
namespace {

using ::testing::HasSubstr;

// A SHA2-256 digest and a SHA2-512 digest, as hex.
const std::string hex32 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const std::string hex64 =
    hex32 + "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

std::vector<std::uint8_t> bytes_of(std::string_view hex)
{
    std::vector<std::uint8_t> out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
        out.push_back(
            static_cast<std::uint8_t>(std::stoi(std::string{hex.substr(i, 2)}, nullptr, 16)));
    }
    return out;
}

errc code_of(const failure& f)
{
    EXPECT_EQ(&f.code.category(), &dane_category());
    return static_cast<errc>(f.code.value());
}

// --- round trips ---------------------------------------------------------------------------------

TEST(TlsaRecordParse, ParsesDaneEeSpkiSha256)
{
    const auto record = parse_tlsa("3 1 1 " + hex32);
    ASSERT_TRUE(record.has_value()) << record.error().message();
    EXPECT_EQ(record->usage, usage::dane_ee);
    EXPECT_EQ(record->selector, selector::spki);
    EXPECT_EQ(record->matching_type, matching_type::sha2_256);
    EXPECT_EQ(record->data, bytes_of(hex32));
}

struct round_trip_case {
    std::string presentation;
};

class TlsaRecordRoundTrip : public ::testing::TestWithParam<round_trip_case> {};

TEST_P(TlsaRecordRoundTrip, PresentationRecordRdata)
{
    const std::string& text = GetParam().presentation;
    const auto record = parse_tlsa(text);
    ASSERT_TRUE(record.has_value()) << record.error().message();
    EXPECT_EQ(record->to_string(), text);

    const auto rdata = to_rdata(*record);
    ASSERT_EQ(rdata.size(), 3 + record->data.size());
    EXPECT_EQ(rdata[0], record->usage);
    EXPECT_EQ(rdata[1], record->selector);
    EXPECT_EQ(rdata[2], record->matching_type);

    const auto from_wire = parse_tlsa_rdata(rdata);
    ASSERT_TRUE(from_wire.has_value()) << from_wire.error().message();
    EXPECT_EQ(*from_wire, *record);
    EXPECT_EQ(from_wire->to_string(), text);
}

INSTANTIATE_TEST_SUITE_P(
    TlsaRecord, TlsaRecordRoundTrip,
    ::testing::Values(round_trip_case{"3 1 1 " + hex32}, round_trip_case{"3 0 1 " + hex32},
                      round_trip_case{"2 0 2 " + hex64}, round_trip_case{"1 1 2 " + hex64},
                      round_trip_case{"0 0 0 3082"}, round_trip_case{"3 1 0 00"},
                      // Unassigned values are representable; policy decides usability later.
                      round_trip_case{"255 255 255 abcdef"}, round_trip_case{"4 2 3 ff"},
                      round_trip_case{"0 0 0 " + std::string(65532 * 2, 'e')}));

TEST(TlsaRecordParse, AcceptsUpperCaseHex)
{
    std::string upper = hex32;
    for (char& c : upper) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    const auto record = parse_tlsa("3 1 1 " + upper);
    ASSERT_TRUE(record.has_value()) << record.error().message();
    EXPECT_EQ(record->to_string(), "3 1 1 " + hex32);
}

TEST(TlsaRecordParse, AcceptsHexSplitByWhiteSpace)
{
    // RFC 6698 §2.2: white space may appear within the hex, even inside an octet.
    const std::string split =
        "3 1 1 01234567 89ABCDEF\t0123456789abcdef\n0123456789abcdef 0123456789a"
        " bcdef";
    const auto record = parse_tlsa(split);
    ASSERT_TRUE(record.has_value()) << record.error().message();
    EXPECT_EQ(record->to_string(), "3 1 1 " + hex32);
}

TEST(TlsaRecordParse, AcceptsLeadingAndTrailingWhiteSpace)
{
    const auto record = parse_tlsa(" \t\r\n3\t1  1\n" + hex32 + " \r\n\t\v\f");
    ASSERT_TRUE(record.has_value()) << record.error().message();
    EXPECT_EQ(record->to_string(), "3 1 1 " + hex32);
}

TEST(TlsaRecordParse, AcceptsLeadingZerosInFields)
{
    const auto record = parse_tlsa("003 01 0001 " + hex32);
    ASSERT_TRUE(record.has_value()) << record.error().message();
    EXPECT_EQ(record->to_string(), "3 1 1 " + hex32);
}

TEST(TlsaRecordParse, AcceptsFieldBoundaries)
{
    const auto low = parse_tlsa("0 0 0 00");
    ASSERT_TRUE(low.has_value()) << low.error().message();
    EXPECT_EQ(low->usage, 0);
    const auto high = parse_tlsa("255 255 255 00");
    ASSERT_TRUE(high.has_value()) << high.error().message();
    EXPECT_EQ(high->usage, 255);
    EXPECT_EQ(high->selector, 255);
    EXPECT_EQ(high->matching_type, 255);
}

TEST(TlsaRecordFormat, ToStringIsLowerCaseWithoutSpacesInHex)
{
    const tlsa_record record{
        3, 1, 1, bytes_of("ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789")};
    EXPECT_EQ(record.to_string(),
              "3 1 1 abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
}

TEST(TlsaRecordFormat, ToHex)
{
    EXPECT_EQ(to_hex(std::vector<std::uint8_t>{}), "");
    EXPECT_EQ(to_hex(std::vector<std::uint8_t>{0x00, 0x0a, 0xa0, 0xff, 0x7f}), "000aa0ff7f");
}

TEST(TlsaRecordFormat, ToRdataLaysOutFixedFieldsThenData)
{
    const tlsa_record record{2, 0, 255, {0xde, 0xad}};
    EXPECT_EQ(to_rdata(record), (std::vector<std::uint8_t>{2, 0, 255, 0xde, 0xad}));
}

// --- malformed presentation forms
// ------------------------------------------------------------------

struct malformed_case {
    std::string name;
    std::string input;
    errc expected;
    std::string in_message;  // a fragment the sentence must contain, when it matters
};

class TlsaRecordMalformed : public ::testing::TestWithParam<malformed_case> {};

TEST_P(TlsaRecordMalformed, FailsWithCodeAndSentence)
{
    const auto& param = GetParam();
    const auto record = parse_tlsa(param.input);
    ASSERT_FALSE(record.has_value()) << "parsed: " << record->to_string();
    EXPECT_EQ(code_of(record.error()), param.expected) << record.error().message();
    EXPECT_FALSE(record.error().detail.empty());
    EXPECT_FALSE(record.error().message().empty());
    EXPECT_THAT(record.error().message(), HasSubstr(param.in_message));
}

INSTANTIATE_TEST_SUITE_P(
    TlsaRecord, TlsaRecordMalformed,
    ::testing::Values(
        malformed_case{"Empty", "", errc::bad_tlsa_syntax, "empty"},
        malformed_case{"OnlySpaces", " \t\n ", errc::bad_tlsa_syntax, "empty"},
        malformed_case{"MissingSelector", "3", errc::bad_tlsa_syntax, "selector"},
        malformed_case{"MissingMatchingType", "3 1", errc::bad_tlsa_syntax, "matching type"},
        malformed_case{"MissingData", "3 1 1", errc::empty_tlsa_data, "association data"},
        malformed_case{"MissingDataTrailingSpace", "3 1 1 \t ", errc::empty_tlsa_data, ""},
        malformed_case{"Usage256", "256 1 1 " + hex32, errc::tlsa_field_range, "usage"},
        malformed_case{"Selector256", "3 256 1 " + hex32, errc::tlsa_field_range, "selector"},
        malformed_case{"MatchingType256", "3 1 256 " + hex32, errc::tlsa_field_range,
                       "matching type"},
        malformed_case{"Huge", "99999999999999999999 1 1 " + hex32, errc::tlsa_field_range,
                       "0..255"},
        malformed_case{"Negative", "-1 1 1 " + hex32, errc::tlsa_field_range, "negative"},
        malformed_case{"NegativeSelector", "3 -5 1 " + hex32, errc::tlsa_field_range, "negative"},
        malformed_case{"DashWord", "-x 1 1 " + hex32, errc::bad_tlsa_syntax, "decimal"},
        malformed_case{"DashAlone", "3 - 1 " + hex32, errc::bad_tlsa_syntax, "decimal"},
        malformed_case{"PlusSign", "+1 1 1 " + hex32, errc::bad_tlsa_syntax, "sign"},
        malformed_case{"HexField", "0x3 1 1 " + hex32, errc::bad_tlsa_syntax, "hexadecimal"},
        malformed_case{"WordField", "three 1 1 " + hex32, errc::bad_tlsa_syntax, "decimal"},
        malformed_case{"Commas", "3,1,1 " + hex32, errc::bad_tlsa_syntax, "decimal"},
        malformed_case{"DigitsThenLetter", "99x 1 1 " + hex32, errc::bad_tlsa_syntax, "decimal"},
        malformed_case{"OddHex", "3 1 0 abc", errc::bad_hex, "odd"},
        malformed_case{"OddHexSha256", "3 1 1 " + hex32.substr(1), errc::bad_hex, "column"},
        malformed_case{"NonHex", "3 1 1 zz", errc::bad_hex, "column 7"},
        malformed_case{"NonHexPosition", "3 1 0 abzd", errc::bad_hex, "'z' at column 9"},
        malformed_case{"NonHexControlByte",
                       std::string("3 1 0 ab\x01"
                                   "d",
                                   10),
                       errc::bad_hex, "0x01"},
        malformed_case{"Parenthesis", "3 1 0 ( abcd )", errc::bad_hex, "'('"},
        malformed_case{"ShortSha256", "3 1 1 " + hex32.substr(2), errc::digest_length, "32"},
        malformed_case{"LongSha256", "3 1 1 " + hex32 + "00", errc::digest_length, "33"},
        malformed_case{"Sha512WithSha256", "3 1 2 " + hex32, errc::digest_length, "64"},
        malformed_case{"Sha256WithSha512", "3 1 1 " + hex64, errc::digest_length, "64"},
        malformed_case{"TooLongForRdata", "0 0 0 " + std::string(65533 * 2, 'e'),
                       errc::bad_tlsa_syntax, "65532"}),
    [](const auto& info) { return info.param.name; });

TEST(TlsaRecordMessages, DigestLengthNamesExpectedAndActual)
{
    const auto record = parse_tlsa("3 1 1 " + hex32.substr(0, 62));
    ASSERT_FALSE(record.has_value());
    EXPECT_THAT(record.error().message(), HasSubstr("32"));
    EXPECT_THAT(record.error().message(), HasSubstr("31"));
}

TEST(TlsaRecordMessages, FieldErrorsHaveDistinctMessages)
{
    const std::vector<std::string> inputs{"256 1 1 00", "-1 1 1 00", "+1 1 1 00", "0x3 1 1 00",
                                          "",           "3",         "3 1",       "3 1 1"};
    std::set<std::string> messages;
    for (const auto& input : inputs) {
        const auto record = parse_tlsa(input);
        ASSERT_FALSE(record.has_value()) << input;
        messages.insert(record.error().message());
    }
    EXPECT_EQ(messages.size(), inputs.size());
}

TEST(TlsaRecordMessages, LongGarbageIsNotEchoedInFull)
{
    const auto record = parse_tlsa(std::string(100000, 'q') + " 1 1 00");
    ASSERT_FALSE(record.has_value());
    EXPECT_LT(record.error().message().size(), 200u);
}

// --- garbage: must fail, must not crash
// ------------------------------------------------------------

struct garbage_case {
    std::string name;
    std::string input;
};

class TlsaRecordGarbage : public ::testing::TestWithParam<garbage_case> {};

TEST_P(TlsaRecordGarbage, FailsWithoutCrashing)
{
    const auto record = parse_tlsa(GetParam().input);
    ASSERT_FALSE(record.has_value()) << record->to_string();
    EXPECT_FALSE(record.error().message().empty());
}

std::string random_bytes(std::uint32_t seed, std::size_t size)
{
    std::mt19937 engine{seed};
    std::uniform_int_distribution<int> byte{0, 255};
    std::string out(size, '\0');
    for (char& c : out) {
        c = static_cast<char>(byte(engine));
    }
    return out;
}

INSTANTIATE_TEST_SUITE_P(
    TlsaRecord, TlsaRecordGarbage,
    ::testing::Values(garbage_case{"NoData", "3 1 1"}, garbage_case{"NotHex", "3 1 1 zz"},
                      garbage_case{"HugeNumber", "99999999999999999999"},
                      garbage_case{"HugeNumbers", "99999999999999999999 99999999999999999999 1 00"},
                      garbage_case{"HugeUnsignedWrap", "4294967299 1 1 " + hex32},
                      garbage_case{"NulBytes", std::string(16, '\0')},
                      garbage_case{"NulInHex", std::string("3 1 0 ab\0cd", 11)},
                      garbage_case{"NulInField", std::string("3\0 1 0 abcd", 11)},
                      garbage_case{"HighBytes", "\xff\xfe\x80 \x81 \xc3\xa9 ab"},
                      garbage_case{"Utf8Digits", "\xd9\xa3 1 1 " + hex32},
                      garbage_case{"MillionSpaces", std::string(1'000'000, ' ')},
                      garbage_case{"MillionDigits", std::string(1'000'000, '9')},
                      garbage_case{"MillionLetters", std::string(1'000'000, 'a')},
                      garbage_case{"MillionHexSha256", "3 1 1 " + std::string(1'000'000, 'a')},
                      garbage_case{"MillionOddHex", "3 1 0 " + std::string(999'999, 'a')},
                      garbage_case{"ManyFields", "3 1 1 1 1 1 1 1 1 1 1 1 1"},
                      garbage_case{"RandomBytes1", random_bytes(1, 64)},
                      garbage_case{"RandomBytes2", random_bytes(2, 4096)},
                      garbage_case{"RandomBytes3", random_bytes(3, 1 << 20)},
                      garbage_case{"ZoneLine", "_443._tcp.app.example. IN TLSA 3 1 1 " + hex32},
                      garbage_case{"Dashes", "- - - --"}, garbage_case{"Dots", "3.1.1 " + hex32},
                      garbage_case{"Semicolon", "3 1 1 " + hex32 + " ; comment"}),
    [](const auto& info) { return info.param.name; });

// Whatever random text is thrown at the parser, it either fails with a sentence or returns a record
// whose presentation form parses back to itself.
TEST(TlsaRecordFuzz, RandomPresentationNeverCrashes)
{
    std::mt19937 engine{20240601};
    constexpr char letters[] = "0123456789abcdefABCDEFxz+- \t\n\x00\xff";
    const std::string alphabet(letters, sizeof letters - 1);  // keeps the NUL
    std::uniform_int_distribution<std::size_t> pick{0, alphabet.size() - 1};
    std::uniform_int_distribution<std::size_t> length{0, 90};
    for (int i = 0; i < 20000; ++i) {
        std::string input(length(engine), ' ');
        for (char& c : input) {
            c = alphabet[pick(engine)];
        }
        const auto record = parse_tlsa(input);
        if (record.has_value()) {
            const auto again = parse_tlsa(record->to_string());
            ASSERT_TRUE(again.has_value()) << again.error().message();
            EXPECT_EQ(*again, *record);
        } else {
            EXPECT_FALSE(record.error().message().empty());
        }
    }
}

TEST(TlsaRecordFuzz, MutatedRecordsNeverCrash)
{
    const std::string valid = "3 1 1 " + hex32;
    std::mt19937 engine{7};
    std::uniform_int_distribution<std::size_t> where{0, valid.size() - 1};
    std::uniform_int_distribution<int> byte{0, 255};
    std::uniform_int_distribution<int> edits{1, 4};
    for (int i = 0; i < 20000; ++i) {
        std::string input = valid;
        for (int n = edits(engine); n > 0; --n) {
            input[where(engine)] = static_cast<char>(byte(engine));
        }
        const auto record = parse_tlsa(input);
        if (record.has_value()) {
            EXPECT_EQ(parse_tlsa(record->to_string()).value(), *record);
        } else {
            EXPECT_FALSE(record.error().message().empty());
        }
    }
}

TEST(TlsaRecordFuzz, RandomRdataNeverCrashes)
{
    std::mt19937 engine{99};
    std::uniform_int_distribution<int> byte{0, 255};
    std::uniform_int_distribution<std::size_t> length{0, 80};
    for (int i = 0; i < 20000; ++i) {
        std::vector<std::uint8_t> rdata(length(engine));
        for (auto& b : rdata) {
            b = static_cast<std::uint8_t>(byte(engine));
        }
        // Bias a third of the cases towards the digest matching types.
        if (rdata.size() >= 3 && i % 3 == 0) {
            rdata[2] = static_cast<std::uint8_t>(1 + i % 2);
        }
        const auto record = parse_tlsa_rdata(rdata);
        if (record.has_value()) {
            EXPECT_EQ(to_rdata(*record), rdata);
            EXPECT_EQ(parse_tlsa(record->to_string()).value(), *record);
        } else {
            EXPECT_FALSE(record.error().message().empty());
        }
    }
}

// --- wire form
// -------------------------------------------------------------------------------------

struct rdata_case {
    std::string name;
    std::vector<std::uint8_t> rdata;
    errc expected;
};

class TlsaRecordRdataMalformed : public ::testing::TestWithParam<rdata_case> {};

TEST_P(TlsaRecordRdataMalformed, FailsWithCodeAndSentence)
{
    const auto record = parse_tlsa_rdata(GetParam().rdata);
    ASSERT_FALSE(record.has_value()) << record->to_string();
    EXPECT_EQ(code_of(record.error()), GetParam().expected) << record.error().message();
    EXPECT_FALSE(record.error().detail.empty());
}

std::vector<std::uint8_t> rdata_with(std::uint8_t mtype, std::size_t data_size)
{
    std::vector<std::uint8_t> rdata(3 + data_size, 0xab);
    rdata[0] = 3;
    rdata[1] = 1;
    rdata[2] = mtype;
    return rdata;
}

INSTANTIATE_TEST_SUITE_P(
    TlsaRecord, TlsaRecordRdataMalformed,
    ::testing::Values(rdata_case{"Empty", {}, errc::truncated_rdata},
                      rdata_case{"OneOctet", {3}, errc::truncated_rdata},
                      rdata_case{"TwoOctets", {3, 1}, errc::truncated_rdata},
                      rdata_case{"NoData", {3, 1, 1}, errc::empty_tlsa_data},
                      rdata_case{"NoDataFull", {3, 1, 0}, errc::empty_tlsa_data},
                      rdata_case{"ShortSha256", rdata_with(1, 31), errc::digest_length},
                      rdata_case{"LongSha256", rdata_with(1, 33), errc::digest_length},
                      rdata_case{"ShortSha512", rdata_with(2, 63), errc::digest_length},
                      rdata_case{"Sha512WithSha256Size", rdata_with(2, 32), errc::digest_length},
                      rdata_case{"TooLong", rdata_with(0, 65533), errc::bad_tlsa_syntax}),
    [](const auto& info) { return info.param.name; });

TEST(TlsaRecordRdata, ParsesWireForm)
{
    const auto record = parse_tlsa_rdata(rdata_with(1, 32));
    ASSERT_TRUE(record.has_value()) << record.error().message();
    EXPECT_EQ(record->usage, 3);
    EXPECT_EQ(record->selector, 1);
    EXPECT_EQ(record->matching_type, 1);
    EXPECT_EQ(record->data, std::vector<std::uint8_t>(32, 0xab));
}

TEST(TlsaRecordRdata, AcceptsAnyLengthForOtherMatchingTypes)
{
    for (const std::uint8_t mtype : {0, 3, 255}) {
        for (const std::size_t size : {1u, 31u, 32u, 64u, 65532u}) {
            const auto record = parse_tlsa_rdata(rdata_with(mtype, size));
            ASSERT_TRUE(record.has_value()) << int{mtype} << " " << size;
            EXPECT_EQ(record->data.size(), size);
        }
    }
}

// --- make_tlsa
// -------------------------------------------------------------------------------------

struct pkey_deleter {
    void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};
struct x509_deleter {
    void operator()(X509* cert) const noexcept { X509_free(cert); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_deleter>;
using x509_ptr = std::unique_ptr<X509, x509_deleter>;

/** A self-signed EC P-256 certificate, made in memory. */
x509_ptr make_ec_certificate(pkey_ptr& key_out)
{
    pkey_ptr key{EVP_EC_gen("P-256")};
    x509_ptr cert{X509_new()};
    if (!key || !cert) {
        return nullptr;
    }
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("app.example"), -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);
    X509_set_pubkey(cert.get(), key.get());
    if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) {
        return nullptr;
    }
    key_out = std::move(key);
    return cert;
}

class TlsaRecordMake : public ::testing::Test {
protected:
    void SetUp() override
    {
        cert_ = make_ec_certificate(key_);
        ASSERT_TRUE(cert_);
        const int length = i2d_X509(cert_.get(), nullptr);
        ASSERT_GT(length, 0);
        cert_der_.resize(static_cast<std::size_t>(length));
        unsigned char* out = cert_der_.data();
        ASSERT_EQ(i2d_X509(cert_.get(), &out), length);
    }

    static std::vector<std::uint8_t> sha(const std::vector<std::uint8_t>& bytes, const EVP_MD* md)
    {
        std::vector<std::uint8_t> out(static_cast<std::size_t>(EVP_MD_get_size(md)));
        unsigned int length = 0;
        EXPECT_EQ(EVP_Digest(bytes.data(), bytes.size(), out.data(), &length, md, nullptr), 1);
        EXPECT_EQ(length, out.size());
        return out;
    }

    pkey_ptr key_;
    x509_ptr cert_;
    std::vector<std::uint8_t> cert_der_;
};

TEST_F(TlsaRecordMake, SelectorZeroIsTheDerCertificate)
{
    const auto full = make_tlsa(cert_.get(), 2, 0, 0);
    ASSERT_TRUE(full.has_value()) << full.error().message();
    EXPECT_EQ(full->usage, 2);
    EXPECT_EQ(full->data, cert_der_);

    const auto sha256 = make_tlsa(cert_.get(), 3, 0, 1);
    ASSERT_TRUE(sha256.has_value()) << sha256.error().message();
    EXPECT_EQ(sha256->data, sha(cert_der_, EVP_sha256()));

    const auto sha512 = make_tlsa(cert_.get(), 3, 0, 2);
    ASSERT_TRUE(sha512.has_value()) << sha512.error().message();
    EXPECT_EQ(sha512->data, sha(cert_der_, EVP_sha512()));
}

TEST_F(TlsaRecordMake, SelectorOneIsTheSubjectPublicKeyInfo)
{
    const auto full = make_tlsa(cert_.get(), 3, 1, 0);
    ASSERT_TRUE(full.has_value()) << full.error().message();
    // The bytes decode to the very key the certificate was made with.
    const unsigned char* in = full->data.data();
    pkey_ptr decoded{d2i_PUBKEY(nullptr, &in, static_cast<long>(full->data.size()))};
    ASSERT_TRUE(decoded);
    EXPECT_EQ(in, full->data.data() + full->data.size());
    EXPECT_EQ(EVP_PKEY_eq(decoded.get(), key_.get()), 1);

    const auto sha256 = make_tlsa(cert_.get(), 3, 1, 1);
    ASSERT_TRUE(sha256.has_value()) << sha256.error().message();
    EXPECT_EQ(sha256->data, sha(full->data, EVP_sha256()));
    EXPECT_EQ(sha256->to_string(), "3 1 1 " + to_hex(sha(full->data, EVP_sha256())));

    const auto sha512 = make_tlsa(cert_.get(), 3, 1, 2);
    ASSERT_TRUE(sha512.has_value()) << sha512.error().message();
    EXPECT_EQ(sha512->data, sha(full->data, EVP_sha512()));
}

TEST_F(TlsaRecordMake, ResultRoundTripsThroughBothForms)
{
    for (const std::uint8_t sel : {0, 1}) {
        for (const std::uint8_t mtype : {0, 1, 2}) {
            const auto record = make_tlsa(cert_.get(), 3, sel, mtype);
            ASSERT_TRUE(record.has_value()) << record.error().message();
            EXPECT_EQ(parse_tlsa(record->to_string()).value(), *record);
            EXPECT_EQ(parse_tlsa_rdata(to_rdata(*record)).value(), *record);
        }
    }
}

TEST_F(TlsaRecordMake, UsageIsCopiedAsGiven)
{
    for (const std::uint8_t u : {0, 1, 2, 3, 4, 255}) {
        const auto record = make_tlsa(cert_.get(), u, 1, 1);
        ASSERT_TRUE(record.has_value());
        EXPECT_EQ(record->usage, u);
    }
}

TEST_F(TlsaRecordMake, UndefinedSelectorFails)
{
    const auto record = make_tlsa(cert_.get(), 3, 2, 1);
    ASSERT_FALSE(record.has_value());
    EXPECT_EQ(code_of(record.error()), errc::tlsa_field_range);
    EXPECT_EQ(record.error().message(), "selector 2 is not defined (RFC 6698 §2.1.2)");
    EXPECT_FALSE(make_tlsa(cert_.get(), 3, 255, 1).has_value());
}

TEST_F(TlsaRecordMake, UndefinedMatchingTypeFails)
{
    const auto record = make_tlsa(cert_.get(), 3, 1, 3);
    ASSERT_FALSE(record.has_value());
    EXPECT_EQ(code_of(record.error()), errc::tlsa_field_range);
    EXPECT_THAT(record.error().message(), HasSubstr("matching type 3"));
    EXPECT_FALSE(make_tlsa(cert_.get(), 3, 1, 255).has_value());
}

}  // namespace
}  // namespace danegate::dane
