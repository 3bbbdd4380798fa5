// Benchmarks for the cost of DANE authentication per upstream handshake (issue #2): is
// prepare_dane_handshake + OpenSSL's DANE verification + authenticate() more expensive than the
// plain PKIX verification any TLS client does? Each iteration is one full handshake against a real
// `openssl s_server -www` backend of the test bed on loopback: TCP connect, TLS 1.3 handshake
// (no resumption: fresh SSL, no session cache, no tickets), close. Blocking sockets and SSL_connect
// only, so neither Asio nor DNS is in the numbers; the TLSA lookup is done once beforehand with the
// real validating resolver. The backends serve one connection at a time, so this is sequential
// and the server's own handshake work is part of every number.
//
//   BM_handshake_pkix/ta_chain          127.0.0.20 (ta-leaf.pem, EC P-256, chain leaf+int+root);
//                                       ca-root.pem is the only trust anchor, name ta.dg.test.
//   BM_handshake_dane/ta_2_0_1          the same server, so the same key type and chain; DANE-TA
//                                       "2 0 1 <root>" from _PORT._tcp.ta.dg.test. The difference
//                                       between these two is the cost of DANE authentication.
//   BM_handshake_dane/ee_3_1_1          127.0.0.10 (ee.pem, self-signed EC P-256, leaf only);
//                                       DANE-EE "3 1 1" from ee311.dg.test. A different server
//                                       certificate and chain: compare it with the next line, not
//                                       with the two above.
//   BM_handshake_pkix/ee_selfsigned     127.0.0.10 with ee.pem itself as the trust anchor (name
//                                       unrelated.example): the PKIX baseline for that server.
//   BM_handshake_paired/ta, /ee         PKIX and DANE against one server, interleaved within each
//                                       iteration, so both see the same machine load: the
//                                       dane_over_pkix counter is the most robust ratio here.
//   BM_prepare_dane_handshake/...       prepare_dane_handshake alone on a fresh SSL, no network
//                                       (manual timing: SSL_new and SSL_free are not counted).
//   BM_authenticate_after_handshake     authenticate() alone, called again and again on one SSL
//                                       whose DANE-TA handshake has finished (it only reads state).
//
// Every iteration's outcome is checked (X509_V_OK with a peer certificate for PKIX, the verdict
// `authenticated` with the expected usage for DANE); a failure stops the benchmark with an error,
// since the time of a failing handshake means nothing.
#include "benchmarks/dane/testbed_support.hpp"

#include "dane/authenticate.hpp"
#include "dane/openssl_dane.hpp"

#include <benchmark/benchmark.h>

#include <boost/system/errc.hpp>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace danegate::bench {
namespace {

/** One backend and how a client authenticates it. */
struct target {
    const char* address;      ///< the backend
    const char* label;        ///< test bed host label, for the TLSA lookup and SNI
    const char* trust_file;   ///< PKIX: the only trust anchor (a file of the test bed)
    const char* pkix_name;    ///< PKIX: the name the certificate must carry
    std::uint8_t dane_usage;  ///< DANE: the usage the matched record must have
};

constexpr target ta_target{"127.0.0.20", "ta", "ca-root.pem", "ta.dg.test", dane::usage::dane_ta};
constexpr target ee_target{"127.0.0.10", "ee311", "ee.pem", "unrelated.example", dane::usage::dane_ee};

void skip(benchmark::State& state, const std::string& why)
{
    state.SkipWithError(why.c_str());
}

/** A client context for PKIX: @p t's trust file as the only anchor, peer verification on. */
ssl_ctx_ptr pkix_context(const test::testbed& bed, const target& t, std::string& error)
{
    ssl_ctx_ptr ctx{SSL_CTX_new(TLS_client_method())};
    if (!ctx) {
        error = "SSL_CTX_new: " + openssl_errors();
        return nullptr;
    }
    if (!require_full_tls13_handshakes(ctx.get(), error)) {
        return nullptr;
    }
    const std::string anchor = bed.file(t.trust_file).string();
    if (SSL_CTX_load_verify_locations(ctx.get(), anchor.c_str(), nullptr) != 1) {
        error = "cannot load " + anchor + ": " + openssl_errors();
        return nullptr;
    }
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    return ctx;
}

/** A client context as danegate's upstream connector makes it, plus the same TLS 1.3 settings. */
ssl_ctx_ptr dane_context(std::string& error)
{
    ssl_ctx_ptr ctx{SSL_CTX_new(TLS_client_method())};
    if (!ctx) {
        error = "SSL_CTX_new: " + openssl_errors();
        return nullptr;
    }
    if (auto prepared = dane::prepare_upstream_context(ctx.get()); !prepared) {
        error = "prepare_upstream_context: " + prepared.error().message();
        return nullptr;
    }
    if (!require_full_tls13_handshakes(ctx.get(), error)) {
        return nullptr;
    }
    return ctx;
}

/** One full PKIX handshake on a fresh SSL from @p ctx; false with @p error unless verified. */
bool pkix_handshake_once(SSL_CTX* ctx, const target& t, const std::string& sni, std::uint16_t port,
                         std::string& error)
{
    socket_fd fd;  // declared first: closed after SSL_free
    const ssl_ptr ssl{SSL_new(ctx)};
    if (!ssl || SSL_set_tlsext_host_name(ssl.get(), sni.c_str()) != 1) {
        error = "SSL setup: " + openssl_errors();
        return false;
    }
    SSL_set_hostflags(ssl.get(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set1_host(ssl.get(), t.pkix_name) != 1) {
        error = "SSL_set1_host: " + openssl_errors();
        return false;
    }
    if (!tls_handshake(ssl.get(), t.address, port, fd, error)) {
        error = "PKIX handshake: " + error;
        return false;
    }
    const long verified = SSL_get_verify_result(ssl.get());
    if (verified != X509_V_OK || SSL_get0_peer_certificate(ssl.get()) == nullptr) {
        error = std::string("PKIX verification: ") + X509_verify_cert_error_string(verified);
        return false;
    }
    return true;
}

/**
 * One full DANE handshake on a fresh SSL from @p ctx, exactly as the upstream connector does it:
 * prepare_dane_handshake, the handshake, authenticate. False with @p error unless the verdict is
 * `authenticated` by a record of the usage @p t expects.
 */
bool dane_handshake_once(SSL_CTX* ctx, const dane::lookup_result& lookup, const target& t, std::uint16_t port,
                         std::string& error)
{
    static const dane::dane_policy policy;
    socket_fd fd;  // declared first: closed after SSL_free
    const ssl_ptr ssl{SSL_new(ctx)};
    if (!ssl) {
        error = "SSL_new: " + openssl_errors();
        return false;
    }
    const dane::dane_setup setup = dane::prepare_dane_handshake(ssl.get(), lookup, policy);
    if (!setup.may_handshake()) {
        error = "prepare_dane_handshake refused: " + setup.rejection()->detail;
        return false;
    }
    boost::system::error_code handshake_error;
    std::string handshake_detail;
    if (!tls_handshake(ssl.get(), t.address, port, fd, handshake_detail)) {
        handshake_error = make_error_code(boost::system::errc::protocol_error);
    }
    const dane::verdict verdict = dane::authenticate(ssl.get(), setup, handshake_error);
    if (!verdict.authenticated()) {
        error = "DANE: " + std::string(dane::to_string(verdict.outcome)) + " (" + verdict.detail + ") " +
                handshake_detail;
        return false;
    }
    if (!verdict.matched || verdict.matched->usage != t.dane_usage) {
        error = "DANE: authenticated by a record of an unexpected usage";
        return false;
    }
    return true;
}

/** What a handshake benchmark needs before its loop; built once, outside the timing. */
struct handshake_setup {
    const test::testbed* bed = nullptr;
    std::shared_ptr<const dane::lookup_result> lookup;  // set when DANE is wanted
    ssl_ctx_ptr dane_ctx;
    ssl_ctx_ptr pkix_ctx;
};

/** The test bed, and the secure lookup and contexts asked for; nullopt with @p error if not. */
std::optional<handshake_setup> prepare_setup(const target& t, bool dane, bool pkix, std::string& error)
{
    handshake_setup setup;
    setup.bed = testbed_or_error(error);
    if (setup.bed == nullptr) {
        return std::nullopt;
    }
    if (dane) {
        setup.lookup = secure_testbed_lookup(setup.bed->host(t.label), error);
        setup.dane_ctx = setup.lookup ? dane_context(error) : nullptr;
        if (!setup.dane_ctx) {
            return std::nullopt;
        }
    }
    if (pkix) {
        setup.pkix_ctx = pkix_context(*setup.bed, t, error);
        if (!setup.pkix_ctx) {
            return std::nullopt;
        }
    }
    return setup;
}

void BM_handshake_pkix(benchmark::State& state, const target& t)
{
    std::string error;
    const auto setup = prepare_setup(t, false, true, error);
    if (!setup) {
        skip(state, error);
        return;
    }
    // SNI as the DANE handshake sends it (the TLSA base domain), so both ClientHellos match.
    const std::string sni = setup->bed->host(t.label);
    const std::uint16_t port = setup->bed->port();
    for (auto _ : state) {
        if (!pkix_handshake_once(setup->pkix_ctx.get(), t, sni, port, error)) {
            skip(state, error);
            break;
        }
    }
}
BENCHMARK_CAPTURE(BM_handshake_pkix, ta_chain, ta_target)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_handshake_pkix, ee_selfsigned, ee_target)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_handshake_dane(benchmark::State& state, const target& t)
{
    std::string error;
    const auto setup = prepare_setup(t, true, false, error);
    if (!setup) {
        skip(state, error);
        return;
    }
    const std::uint16_t port = setup->bed->port();
    for (auto _ : state) {
        if (!dane_handshake_once(setup->dane_ctx.get(), *setup->lookup, t, port, error)) {
            skip(state, error);
            break;
        }
    }
}
BENCHMARK_CAPTURE(BM_handshake_dane, ta_2_0_1, ta_target)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_handshake_dane, ee_3_1_1, ee_target)->UseRealTime()->Unit(benchmark::kMicrosecond);

// PKIX and DANE against the same server, interleaved: every iteration does one of each (their
// order alternating), each timed on its own. On a shared or busy machine, load that drifts
// between two separate benchmarks skews their ratio; here both halves see the same load. Reports
// pkix_us and dane_us (mean per handshake) and dane_over_pkix; Time is the pair.
void BM_handshake_paired(benchmark::State& state, const target& t)
{
    std::string error;
    const auto setup = prepare_setup(t, true, true, error);
    if (!setup) {
        skip(state, error);
        return;
    }
    const std::string sni = setup->bed->host(t.label);
    const std::uint16_t port = setup->bed->port();
    std::chrono::steady_clock::duration pkix_total{};
    std::chrono::steady_clock::duration dane_total{};
    bool pkix_first = true;
    for (auto _ : state) {
        bool ok = true;
        for (int half = 0; half < 2 && ok; ++half) {
            const bool pkix = (half == 0) == pkix_first;
            const auto start = std::chrono::steady_clock::now();
            ok = pkix ? pkix_handshake_once(setup->pkix_ctx.get(), t, sni, port, error)
                      : dane_handshake_once(setup->dane_ctx.get(), *setup->lookup, t, port, error);
            (pkix ? pkix_total : dane_total) += std::chrono::steady_clock::now() - start;
        }
        if (!ok) {
            skip(state, error);
            break;
        }
        pkix_first = !pkix_first;
    }
    const double pkix_us = std::chrono::duration<double, std::micro>(pkix_total).count();
    const double dane_us = std::chrono::duration<double, std::micro>(dane_total).count();
    state.counters["pkix_us"] = benchmark::Counter(pkix_us, benchmark::Counter::kAvgIterations);
    state.counters["dane_us"] = benchmark::Counter(dane_us, benchmark::Counter::kAvgIterations);
    state.counters["dane_over_pkix"] = pkix_us > 0 ? dane_us / pkix_us : 0.0;
}
BENCHMARK_CAPTURE(BM_handshake_paired, ta, ta_target)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_handshake_paired, ee, ee_target)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_prepare_dane_handshake(benchmark::State& state, const target& t)
{
    std::string error;
    const auto prepared = prepare_setup(t, true, false, error);
    if (!prepared) {
        skip(state, error);
        return;
    }
    const dane::dane_policy policy;
    for (auto _ : state) {
        const ssl_ptr ssl{SSL_new(prepared->dane_ctx.get())};
        if (!ssl) {
            skip(state, "SSL_new: " + openssl_errors());
            break;
        }
        const auto start = std::chrono::steady_clock::now();
        const dane::dane_setup setup = dane::prepare_dane_handshake(ssl.get(), *prepared->lookup, policy);
        const auto stop = std::chrono::steady_clock::now();
        if (!setup.may_handshake() || setup.usable_records() != 1) {
            skip(state, "prepare_dane_handshake did not load exactly one record");
            break;
        }
        state.SetIterationTime(std::chrono::duration<double>(stop - start).count());
    }
}
BENCHMARK_CAPTURE(BM_prepare_dane_handshake, ta_2_0_1, ta_target)->UseManualTime();
BENCHMARK_CAPTURE(BM_prepare_dane_handshake, ee_3_1_1, ee_target)->UseManualTime();

void BM_authenticate_after_handshake(benchmark::State& state)
{
    std::string error;
    const auto prepared = prepare_setup(ta_target, true, false, error);
    if (!prepared) {
        skip(state, error);
        return;
    }
    socket_fd fd;
    const ssl_ptr ssl{SSL_new(prepared->dane_ctx.get())};
    const dane::dane_setup setup = dane::prepare_dane_handshake(ssl.get(), *prepared->lookup, dane::dane_policy{});
    if (!setup.may_handshake() || !tls_handshake(ssl.get(), ta_target.address, prepared->bed->port(), fd, error)) {
        skip(state, "DANE-TA handshake failed: " + error);
        return;
    }
    const boost::system::error_code no_error;
    for (auto _ : state) {
        const dane::verdict verdict = dane::authenticate(ssl.get(), setup, no_error);
        if (!verdict.authenticated()) {
            skip(state, "authenticate: " + std::string(dane::to_string(verdict.outcome)) + " (" + verdict.detail + ")");
            break;
        }
        benchmark::DoNotOptimize(verdict.depth);
    }
}
BENCHMARK(BM_authenticate_after_handshake);

}  // namespace
}  // namespace danegate::bench
