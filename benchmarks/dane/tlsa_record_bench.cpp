// Benchmarks for dane/tlsa_record.cpp: parsing the presentation and wire forms of a DANE-EE SPKI
// SHA2-256 record (RFC 6698 §2), as a zone file and libunbound hand them to us, and deriving
// "3 1 1" from an EC certificate, as `danegate tlsa create` does. BENCHMARK_MAIN lives elsewhere.
#include "dane/tlsa_record.hpp"

#include <benchmark/benchmark.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace danegate::dane {
namespace {

const std::string record_311 =
    "3 1 1 d374cbd3ab44c7566852f08c5e07449d5b7001dffb295ef8be1041e5b5d119fa";

struct pkey_deleter {
    void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};
struct x509_deleter {
    void operator()(X509* cert) const noexcept { X509_free(cert); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_deleter>;
using x509_ptr = std::unique_ptr<X509, x509_deleter>;

/** A self-signed EC P-256 certificate made in memory, so the benchmark needs no files. */
x509_ptr make_ec_certificate()
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
    return cert;
}

void BM_parse_tlsa_311(benchmark::State& state)
{
    for (auto _ : state) {
        auto record = parse_tlsa(record_311);
        benchmark::DoNotOptimize(record);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * record_311.size()));
}
BENCHMARK(BM_parse_tlsa_311);

void BM_parse_tlsa_rdata_311(benchmark::State& state)
{
    const std::vector<std::uint8_t> rdata = to_rdata(parse_tlsa(record_311).value());
    for (auto _ : state) {
        auto record = parse_tlsa_rdata(rdata);
        benchmark::DoNotOptimize(record);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * rdata.size()));
}
BENCHMARK(BM_parse_tlsa_rdata_311);

void BM_make_tlsa_311_ec(benchmark::State& state)
{
    const x509_ptr cert = make_ec_certificate();
    if (!cert) {
        state.SkipWithError("cannot make an EC certificate");
        return;
    }
    for (auto _ : state) {
        auto record =
            make_tlsa(cert.get(), usage::dane_ee, selector::spki, matching_type::sha2_256);
        benchmark::DoNotOptimize(record);
    }
}
BENCHMARK(BM_make_tlsa_311_ec);

}  // namespace
}  // namespace danegate::dane
