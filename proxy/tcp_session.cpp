// The downstream TCP session: TLS handshake (bounded by limits.header_timeout), route on SNI,
// obtain a DANE-authenticated upstream from the connector (the only way to one), then the byte
// relay until both sides have ended or limits.idle_timeout passes in silence. Runs on the strand
// made at accept; the upstream leg and the relay share it, so nothing here takes a lock.
//
// Access log (one line per connection that completed its TLS handshake; a failed handshake has no
// SNI to log and is a spdlog debug line, as on HTTP listeners). TCP has no status line, so the
// `status` field borrows the HTTP code the same outcome gets on an HTTP listener (DESIGN §4):
//   200  relayed (the line's detail says how the relay ended when it was not clean)
//   404  no route for the SNI                        (closed, nothing relayed)
//   502  upstream rejected: DANE, TLS or connect     (closed, nothing relayed)
//   503  no healthy endpoint in the upstream         (closed, nothing relayed)
//   504  upstream connect/handshake timed out        (closed, nothing relayed)
#include "proxy/tcp_session.hpp"

#include "proxy/byte_relay.hpp"
#include "proxy/tls_stream.hpp"
#include "proxy/errc.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/steady_timer.hpp>

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

namespace danegate::proxy {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using boost::system::error_code;

namespace {

/** How long a rejected client gets to acknowledge our close_notify before the socket closes. */
constexpr std::chrono::milliseconds close_grace{1000};

class tcp_session : public std::enable_shared_from_this<tcp_session> {
public:
    tcp_session(tcp::socket&& socket, const tcp::endpoint& peer, std::shared_ptr<proxy_state> state,
                std::shared_ptr<const generation> generation, std::shared_ptr<const listener_runtime> listener)
        : state_(std::move(state)),
          generation_(std::move(generation)),
          listener_(std::move(listener)),
          limits_(generation_->config->limits),
          client_(std::move(socket), listener_->tls->context()),
          deadline_(client_.get_executor()),
          started_(std::chrono::steady_clock::now())
    {
        record_.time = std::chrono::system_clock::now();
        error_code ec;
        // Relayed bytes go out as they come: an interactive protocol must not wait for Nagle.
        client_.lowest_layer().set_option(tcp::no_delay(true), ec);
        record_.client = peer.address().to_string() + ":" + std::to_string(peer.port());
    }

    void start()
    {
        net::dispatch(client_.get_executor(), [self = shared_from_this()] { self->do_start(); });
    }

private:
    void do_start()
    {
        // A relay is in flight until its peers end it or it idles out, so a drain has nothing to
        // cut short: it waits for the connection up to drain_timeout like for an HTTP exchange.
        tracked_ = state_->connections.add(listener_->config.name, [] {});
        do_handshake();
    }

    // ---- client TLS ---------------------------------------------------------------------------

    void do_handshake()
    {
        deadline_.expires_after(limits_.header_timeout);
        deadline_.async_wait([self = shared_from_this()](error_code ec) {
            if (!ec) {
                self->handshake_timed_out_ = true;
                error_code ignored;
                self->client_.lowest_layer().close(ignored);
            }
        });
        client_.async_handshake(net::ssl::stream_base::server,
                                [self = shared_from_this()](error_code ec) { self->on_handshake(ec); });
    }

    void on_handshake(error_code ec)
    {
        deadline_.cancel();
        if (ec) {
            spdlog::debug("{}: TLS handshake failed: {}", record_.client,
                          handshake_timed_out_ ? "timed out" : ec.message());
            close_now();
            return;
        }
        if (const char* name = SSL_get_servername(client_.native_handle(), TLSEXT_NAMETYPE_host_name)) {
            record_.sni = name;
        }
        route();
    }

    // ---- routing and the upstream -------------------------------------------------------------

    void route()
    {
        // TCP listeners route on SNI only (conf validates that their routes match on nothing else).
        routing::request_key key;
        if (!record_.sni.empty()) {
            key.sni = std::string_view(record_.sni);
        }
        const auto* target = listener_->routes.match(key);
        if (target == nullptr) {
            reject(404, "no route for SNI \"" + record_.sni + "\"");
            return;
        }
        route_ = target->route_index;
        upstream_rt_ = generation_->upstreams.at(target->upstream_index).get();
        endpoint_ = upstream_rt_->endpoints.pick(std::chrono::steady_clock::now());
        if (!endpoint_) {
            reject(503, "upstream " + upstream_rt_->config.name + " has no healthy endpoint");
            return;
        }
        record_.upstream = endpoint_->host() + ":" + std::to_string(endpoint_->port());
        // A relay consumes its connection (it never returns to a pool), so it takes none either.
        state_->connector->async_connect(client_.get_executor(), upstream_rt_->target(*endpoint_, false),
                                         [self = shared_from_this()](connect_result result) {
                                             self->on_upstream(std::move(result));
                                         });
    }

    void on_upstream(connect_result result)
    {
        record_.dane = std::string(dane::to_string(result.verdict.outcome));
        const auto now = std::chrono::steady_clock::now();
        if (result.ec) {
            // DESIGN §1/§4: nothing but `authenticated` ever reaches the relay.
            upstream_rt_->endpoints.record_failure(*endpoint_, now);
            spdlog::warn("upstream {} rejected for TCP client {} (SNI \"{}\"): {}: {}", record_.upstream,
                         record_.client, record_.sni, record_.dane, result.verdict.detail);
            reject(result.ec == errc::connect_timeout ? 504 : 502, result.verdict.detail);
            return;
        }
        upstream_rt_->endpoints.record_success(*endpoint_, now);
        upstream_ = std::move(result.connection);
        record_.upstream += " (" + upstream_->endpoint.address().to_string() + ")";
        if (result.verdict.matched) {
            record_.matched = result.verdict.matched->to_string();
        }
        auto self = shared_from_this();
        start_byte_relay(client_.get_executor(), self, client_, upstream_->stream, {}, {}, limits_.idle_timeout,
                         [self](relay_result relayed) { self->on_relay_done(std::move(relayed)); });
    }

    void on_relay_done(relay_result relayed)
    {
        record_.status = 200;
        record_.bytes_in = relayed.bytes_to_upstream;
        record_.bytes_out = relayed.bytes_to_client;
        record_.detail = std::move(relayed.detail);
        if (!record_.detail.empty()) {
            spdlog::debug("TCP relay {} <-> {} ended: {}", record_.client, record_.upstream, record_.detail);
        }
        write_access_log();
        // Both ends were forwarded (close_notify sent each way) or the relay failed: either way
        // nothing is left to say on these sockets.
        error_code ignored;
        upstream_->stream.lowest_layer().close(ignored);
        client_.lowest_layer().close(ignored);
    }

    // ---- endings ------------------------------------------------------------------------------

    /** Ends a connection that relayed nothing: log it, then close the client with close_notify. */
    void reject(unsigned status, std::string detail)
    {
        record_.status = status;
        record_.detail = std::move(detail);
        if (status == 404 || status == 503) {
            spdlog::warn("TCP client {} (SNI \"{}\") closed: {}", record_.client, record_.sni, record_.detail);
        }
        write_access_log();
        // close_notify (RFC 8446 §6.1) so that the client sees an orderly end with zero bytes;
        // bounded, since async_shutdown waits for the client's own close_notify.
        deadline_.expires_after(std::min<std::chrono::milliseconds>(close_grace, limits_.idle_timeout));
        deadline_.async_wait([self = shared_from_this()](error_code ec) {
            if (!ec) {
                self->close_now();
            }
        });
        client_.async_shutdown([self = shared_from_this()](error_code) {
            self->deadline_.cancel();
            self->close_now();
        });
    }

    void close_now()
    {
        error_code ignored;
        client_.lowest_layer().close(ignored);
    }

    void write_access_log()
    {
        record_.duration =
            std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started_);
        request_counter counter;  // one request per connection: nothing to remember
        state_->report(record_, listener_->config.name, route_, counter);
    }

    std::shared_ptr<proxy_state> state_;
    std::shared_ptr<const generation> generation_;  // the configuration this relay serves under
    std::shared_ptr<const listener_runtime> listener_;  // from generation_
    conf::limits_config limits_;                        // generation_'s limits
    tls_stream client_;
    net::steady_timer deadline_;
    std::chrono::steady_clock::time_point started_;
    access_record record_;
    std::optional<std::size_t> route_;  // the matched route's number (metrics)
    upstream_runtime* upstream_rt_ = nullptr;
    std::optional<routing::endpoint_ref> endpoint_;
    std::unique_ptr<upstream_connection> upstream_;
    connection_tracker::entry tracked_;  // in state_->connections while this session lives
    bool handshake_timed_out_ = false;
};

}  // namespace

void start_tcp_session(tcp::socket&& socket, const tcp::endpoint& peer, std::shared_ptr<proxy_state> state,
                       std::shared_ptr<const generation> generation, std::shared_ptr<const listener_runtime> listener)
{
    std::make_shared<tcp_session>(std::move(socket), peer, std::move(state), std::move(generation), std::move(listener))->start();
}

}  // namespace danegate::proxy
