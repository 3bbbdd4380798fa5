// One upstream connection attempt; see upstream_connector.hpp. The order of steps is the security
// argument: no socket is opened before prepare_dane_handshake allowed it, and the stream leaves
// this file only with an `authenticated` verdict.
#include "proxy/upstream_connector.hpp"

#include "dane/openssl_dane.hpp"
#include "dane/tls_session_cache.hpp"
#include "dane/tlsa_cache.hpp"
#include "proxy/errc.hpp"
#include "proxy/upstream_pool.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <optional>
#include <vector>

namespace danegate::proxy {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using boost::system::error_code;

namespace {

/**
 * DESIGN §1: an idle connection is reused only while the RRset that authenticated it is the
 * current, secure one (@p lookup); the pool retires the others. Empty when none may be reused.
 */
std::optional<connect_result> take_pooled(const upstream_target& target, const dane::lookup_result& lookup)
{
    if (target.pool == nullptr || !target.reuse_idle || lookup.status != dane::dns_status::secure_records) {
        return std::nullopt;
    }
    auto pooled = target.pool->acquire(target.host, target.port, lookup.rrset_digest, std::chrono::steady_clock::now());
    if (!pooled) {
        return std::nullopt;
    }
    pooled->from_pool = true;
    auto verdict = pooled->verdict;
    return connect_result{{}, std::move(pooled), std::move(verdict)};
}

/** Tells the observer, if any, how an attempt for @p target ended. */
void observe(const upstream_connector::observer* observer, const upstream_target& target,
             const dane::lookup_result& lookup, const connect_result& result)
{
    if (observer != nullptr && *observer) {
        (*observer)(target, lookup, result);
    }
}

class connect_op : public std::enable_shared_from_this<connect_op> {
public:
    connect_op(net::any_io_executor executor, dane::tlsa_cache& cache,
               std::shared_ptr<net::ssl::context> context, std::shared_ptr<dane::tls_session_cache> sessions,
               std::shared_ptr<const upstream_connector::observer> observe, upstream_target target,
               upstream_connector::handler done)
        : executor_(std::move(executor)),
          cache_(cache),
          context_(std::move(context)),
          sessions_(std::move(sessions)),
          observe_(std::move(observe)),
          target_(std::move(target)),
          done_(std::move(done))
    {
    }

    /** Starts with the cache's answer: waits for it, or takes @p known when it was at hand. */
    void start(std::shared_ptr<const dane::lookup_result> known)
    {
        if (known) {
            on_lookup(std::move(known));
            return;
        }
        // A cold cache answers on the resolver's strand: dispatch then posts to the session's
        // strand, where every other step of this attempt runs.
        cache_.async_get(target_.host, target_.port,
                         [self = shared_from_this()](std::shared_ptr<const dane::lookup_result> lookup) {
                             net::dispatch(self->executor_, [self, lookup = std::move(lookup)]() mutable {
                                 self->on_lookup(std::move(lookup));
                             });
                         });
    }

private:
    void on_lookup(std::shared_ptr<const dane::lookup_result> lookup)
    {
        lookup_ = std::move(lookup);
        if (auto pooled = take_pooled(target_, *lookup_)) {
            complete(std::move(*pooled));
            return;
        }
        // Made only for a new connection: a pooled hand-out (most requests) needs neither.
        session_key_ = target_.upstream + "|" + target_.host + ":" + std::to_string(target_.port);
        deadline_.emplace(executor_);
        connection_ = std::make_unique<upstream_connection>(upstream_stream(executor_, *context_));
        // Upstream connections are few (the pool keeps max_idle) and busy: keeping OpenSSL's two
        // record buffers saves allocating and freeing ~17 KiB twice per exchange. The release is
        // for client connections, of which there may be tens of thousands idle.
        SSL_clear_mode(connection_->stream.native_handle(), SSL_MODE_RELEASE_BUFFERS);
        // DESIGN §1: insecure, bogus, no-tlsa, unusable and dns-error all end here, before any
        // packet reaches the upstream.
        setup_ = dane::prepare_dane_handshake(connection_->stream.native_handle(), *lookup_, target_.policy,
                                              sessions_->find(session_key_));
        if (!setup_.may_handshake()) {
            fail(errc::upstream_rejected, *setup_.rejection());
            return;
        }
        // Only addresses whose A/AAAA records validated: the lookup says so (RFC 7672 §2.2.1).
        for (const auto& text : lookup_->addresses) {
            error_code ec;
            auto address = net::ip::make_address(text, ec);
            if (!ec) {
                endpoints_.emplace_back(address, target_.port);
            }
        }
        if (endpoints_.empty()) {
            fail(errc::upstream_rejected,
                 dane::verdict{dane::reason::dns_error, std::nullopt, -1, target_.host + " has no validated addresses"});
            return;
        }
        deadline_->expires_after(target_.connect_timeout);
        deadline_->async_wait([self = shared_from_this()](error_code ec) { self->on_deadline(ec); });
        net::async_connect(connection_->stream.lowest_layer(), endpoints_,
                           [self = shared_from_this()](error_code ec, const tcp::endpoint& endpoint) {
                               self->on_connect(ec, endpoint);
                           });
    }

    void on_deadline(error_code ec)
    {
        if (ec || finished_) {
            return;  // cancelled: the attempt ended first
        }
        timed_out_ = true;
        error_code ignored;
        connection_->stream.lowest_layer().close(ignored);
    }

    void on_connect(error_code ec, const tcp::endpoint& endpoint)
    {
        if (ec) {
            fail(timed_out_ ? errc::connect_timeout : errc::connect_failed,
                 dane::verdict{dane::reason::tls_error, std::nullopt, -1,
                               "connect: " + (timed_out_ ? std::string("timed out") : ec.message())});
            return;
        }
        connection_->endpoint = endpoint;
        // Requests go out as header then body writes: Nagle would hold the second for an ACK
        // that the upstream delays (40 ms per exchange on Linux).
        error_code ignored;
        connection_->stream.lowest_layer().set_option(tcp::no_delay(true), ignored);
        connection_->stream.async_handshake(net::ssl::stream_base::client,
                                            [self = shared_from_this()](error_code ec) { self->on_handshake(ec); });
    }

    void on_handshake(error_code ec)
    {
        if (timed_out_ && !ec) {
            ec = net::error::timed_out;  // the deadline fired as the handshake finished: refuse
        }
        // The single decision (dane/authenticate.hpp): anything but `authenticated` closes.
        auto verdict = dane::authenticate(connection_->stream.native_handle(), setup_, ec);
        if (!verdict.authenticated()) {
            sessions_->forget(session_key_);
            if (timed_out_) {
                verdict.detail = "handshake timed out" + (verdict.detail.empty() ? "" : ": " + verdict.detail);
            }
            fail(timed_out_ ? errc::connect_timeout : errc::upstream_rejected, std::move(verdict));
            return;
        }
        finished_ = true;
        deadline_->cancel();
        connection_->verdict = verdict;
        connection_->rrset_digest = lookup_->rrset_digest;
        connection_->host = target_.host;
        connection_->port = target_.port;
        connection_->resumed = SSL_session_reused(connection_->stream.native_handle()) == 1;
        if (target_.pool != nullptr) {
            target_.pool->mark_in_use(*connection_);
        }
        sessions_->remember(connection_->stream.native_handle(), session_key_, verdict, lookup_->rrset_digest);
        complete(connect_result{{}, std::move(connection_), std::move(verdict)});
    }

    void fail(errc code, dane::verdict verdict)
    {
        finished_ = true;
        if (deadline_) {
            deadline_->cancel();
        }
        if (connection_) {
            error_code ignored;
            connection_->stream.lowest_layer().close(ignored);
            connection_.reset();
        }
        complete(connect_result{make_error_code(code), nullptr, std::move(verdict)});
    }

    void complete(connect_result result)
    {
        if (lookup_) {
            observe(observe_.get(), target_, *lookup_, result);
        }
        auto done = std::move(done_);
        done_ = nullptr;
        if (done) {
            done(std::move(result));
        }
    }

    net::any_io_executor executor_;
    dane::tlsa_cache& cache_;
    std::shared_ptr<net::ssl::context> context_;
    std::shared_ptr<dane::tls_session_cache> sessions_;
    std::shared_ptr<const upstream_connector::observer> observe_;
    std::string session_key_;
    upstream_target target_;
    upstream_connector::handler done_;
    std::optional<net::steady_timer> deadline_;
    std::shared_ptr<const dane::lookup_result> lookup_;
    std::unique_ptr<upstream_connection> connection_;
    dane::dane_setup setup_;
    std::vector<tcp::endpoint> endpoints_;
    bool timed_out_ = false;
    bool finished_ = false;
};

}  // namespace

upstream_connector::upstream_connector(dane::tlsa_cache& cache, std::shared_ptr<net::ssl::context> context,
                                       observer observe)
    : cache_(cache),
      context_(std::move(context)),
      sessions_(std::make_shared<dane::tls_session_cache>()),
      observe_(std::make_shared<const observer>(std::move(observe)))
{
}

void upstream_connector::async_connect(net::any_io_executor executor, upstream_target target, handler done) const
{
    // A warm cache answers at once (most requests): then a pooled connection of the current
    // RRset is handed out here, inline, without making an operation for it.
    auto known = cache_.get_if_fresh(target.host, target.port);
    if (known) {
        if (auto pooled = take_pooled(target, *known)) {
            observe(observe_.get(), target, *known, *pooled);
            done(std::move(*pooled));
            return;
        }
    }
    auto op = std::make_shared<connect_op>(std::move(executor), cache_, context_, sessions_, observe_,
                                           std::move(target), std::move(done));
    op->start(std::move(known));
}

dane::result<std::shared_ptr<net::ssl::context>> make_upstream_context()
{
    // DESIGN §1: no CA store is ever loaded here, no verify callback, no host_name_verification;
    // prepare_upstream_context enables DANE and peer verification and nothing else.
    auto context = std::make_shared<net::ssl::context>(net::ssl::context::tls_client);
    if (auto prepared = dane::prepare_upstream_context(context->native_handle()); !prepared) {
        return prepared.error();
    }
    // The server picks; a backend that follows the client's order (nginx's default) then runs
    // the cheaper suite too.
    if (SSL_CTX_set_ciphersuites(context->native_handle(), tls13_suites) != 1) {
        ERR_clear_error();
        return dane::make_failure(dane::errc::tls_setup, "SSL_CTX_set_ciphersuites refused danegate's TLS 1.3 suites");
    }
    dane::tls_session_cache::enable_on(context->native_handle());
    return context;
}

}  // namespace danegate::proxy
