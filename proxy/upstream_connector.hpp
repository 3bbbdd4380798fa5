// The only way to obtain an upstream stream (DESIGN §1, STYLE §3): TLSA lookup through the cache,
// prepare_dane_handshake on a fresh SSL, TCP connect to the lookup's DNSSEC-validated addresses,
// TLS handshake, dane::authenticate. A connection is handed out only when the verdict is
// `authenticated`; every other outcome closes the socket (or never opens one) and reports the
// verdict, so a session can never talk to an unauthenticated upstream.
#pragma once

#include "dane/authenticate.hpp"
#include "dane/errc.hpp"
#include "dane/policy.hpp"
#include "proxy/in_use_mark.hpp"
#include "proxy/tls_stream.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/system/error_code.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace danegate::dane {
class tlsa_cache;
class tls_session_cache;
struct lookup_result;
}

namespace danegate::proxy {

/** TLS on the socket's descriptor, no per-stream buffers (see tls_stream.hpp). */
using upstream_stream = tls_stream;

/** An authenticated upstream TLS connection, ready for application data. */
struct upstream_connection {
    explicit upstream_connection(upstream_stream&& s) : stream(std::move(s)) {}

    upstream_stream stream;
    dane::verdict verdict;                     ///< always `authenticated`
    std::array<std::uint8_t, 32> rrset_digest{};  ///< the TLSA RRset that authenticated it (pool key)
    boost::asio::ip::tcp::endpoint endpoint;   ///< the address connected to
    std::string host;                          ///< the endpoint's name as configured
    std::uint16_t port = 0;
    bool from_pool = false;                    ///< handed out by an upstream_pool, not new
    bool resumed = false;                      ///< its handshake resumed a remembered TLS session
    in_use_mark in_use;                        ///< counted as in use while a session holds it
};

class upstream_pool;

/** What to connect to, and under which rules. */
struct upstream_target {
    std::string host;  ///< endpoint name: TLSA at _port._tcp.host
    std::uint16_t port = 0;
    dane::dane_policy policy;
    std::chrono::milliseconds connect_timeout{5000};  ///< TCP connect and TLS handshake together
    /** The configured upstream: TLS sessions are remembered per upstream (its policy fixes SNI) and endpoint. */
    std::string upstream;
    /** The upstream's pool: counts the connection as in use, and with reuse_idle may supply it. */
    upstream_pool* pool = nullptr;
    /** Whether an idle connection of the pool may be handed out instead of a new one. */
    bool reuse_idle = false;
};


/** How async_connect ended. */
struct connect_result {
    /** Empty on success; else proxy::errc (upstream_rejected, connect_failed, connect_timeout). */
    boost::system::error_code ec;
    /** Set exactly when !ec. */
    std::unique_ptr<upstream_connection> connection;
    /** The DANE verdict: `authenticated` on success, the reason word otherwise. */
    dane::verdict verdict;
};

/**
 * Makes authenticated upstream connections. Thread-safe: immutable after construction.
 * @pre the cache and the context outlive every connection attempt.
 */
class upstream_connector {
public:
    using handler = std::function<void(connect_result)>;
    /**
     * Told how every attempt ended, before its handler runs, on the session's strand; must be
     * thread-safe (metrics, endpoint status). @p lookup is the TLSA answer the attempt used.
     */
    using observer = std::function<void(const upstream_target& target, const dane::lookup_result& lookup,
                                        const connect_result& result)>;

    /**
     * @param cache the TLSA cache (whose lookups complete on the resolver's strand).
     * @param context a client context prepared by dane::prepare_upstream_context: empty trust
     *        store, no verify callback, no host name verification.
     */
    upstream_connector(dane::tlsa_cache& cache, std::shared_ptr<boost::asio::ssl::context> context,
                       observer observe = nullptr);

    /**
     * Starts one attempt. Every intermediate handler, and @p done, run on @p executor (the
     * client session's strand: DESIGN one strand per client connection, shared with its upstream
     * leg). Nothing is sent to the upstream unless the TLSA lookup gave secure, usable records.
     * With a pool, an idle connection authenticated under the current TLSA RRset is handed out
     * (from_pool) before a new one is made; new connections offer a TLS session remembered under
     * that same RRset. Called on @p executor with the answer at hand (a warm cache, an idle
     * connection), @p done runs before async_connect returns: call it last.
     */
    void async_connect(boost::asio::any_io_executor executor, upstream_target target, handler done) const;

    /** The TLS sessions remembered from authenticated handshakes. */
    const dane::tls_session_cache& sessions() const noexcept { return *sessions_; }

private:
    dane::tlsa_cache& cache_;
    std::shared_ptr<boost::asio::ssl::context> context_;
    std::shared_ptr<dane::tls_session_cache> sessions_;
    std::shared_ptr<const observer> observe_;  // shared with attempts in flight
};

/**
 * An SSL client context for upstreams, prepared by dane::prepare_upstream_context, whose new
 * client sessions go to the connector's tls_session_cache.
 */
dane::result<std::shared_ptr<boost::asio::ssl::context>> make_upstream_context();

}  // namespace danegate::proxy
