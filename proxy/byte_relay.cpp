// The byte relay; see byte_relay.hpp.
//
// Shape: two directions (client -> upstream, upstream -> client), each a loop of one
// async_read_some into its own 16 KiB buffer followed by one async_write of what was read, so at
// most one operation per direction is pending and memory never grows. One steady_timer watches
// the idle timeout; it is armed once per timeout period and compares against the time of the last
// byte moved, instead of being re-armed (cancel + wait) for every chunk.
//
// Half-close, and why it does not use tls_stream::async_shutdown: that shutdown (like Asio's) calls
// SSL_shutdown twice; the second call wants the peer's close_notify and makes the operation read
// from the socket, which must not run while the other direction's async_read_some is pending on
// the same stream (two reads on one SSL). We only need to *send* close_notify (RFC 8446 §6.1: it
// closes the sender's write side and nothing else), so take_close_notify() has OpenSSL write the
// alert record into a memory BIO swapped in as the SSL's write BIO for the duration of one
// SSL_shutdown call, and the relay writes those bytes to the TCP socket itself, then calls
// shutdown(send). This is safe because, at that moment, no write is pending on that stream: the
// direction that writes to it has just finished its read loop, and the other direction only reads
// from it. SSL_read keeps working after SSL_shutdown has sent close_notify (OpenSSL's
// bidirectional-shutdown pattern), so the other direction keeps flowing.
// (One known limit: if the peer asked for a TLS 1.3 KeyUpdate, OpenSSL answers from inside the
// pending read and that answer could interleave with the close_notify; danegate's peers do not.)
#include "proxy/byte_relay.hpp"

#include "proxy/close_notify.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <openssl/ssl.h>

#include <array>

namespace danegate::proxy {

namespace net = boost::asio;
using boost::system::error_code;

namespace {

constexpr std::size_t buffer_size = 16 * 1024;

class byte_relay : public std::enable_shared_from_this<byte_relay> {
public:
    byte_relay(net::any_io_executor strand, std::shared_ptr<void> owner, tls_stream& client, tls_stream& upstream,
               std::string to_upstream, std::string to_client, std::chrono::milliseconds idle_timeout,
               std::function<void(relay_result)> done)
        : strand_(std::move(strand)),
          owner_(std::move(owner)),
          idle_timeout_(idle_timeout),
          done_(std::move(done)),
          timer_(strand_),
          to_upstream_(client, upstream, "client", "upstream", std::move(to_upstream)),
          to_client_(upstream, client, "upstream", "client", std::move(to_client))
    {
    }

    void start()
    {
        net::dispatch(strand_, [self = shared_from_this()] { self->do_start(); });
    }

private:
    /** One direction: reads from `from`, writes to `to`. */
    struct direction {
        direction(tls_stream& f, tls_stream& t, const char* fn, const char* tn, std::string p)
            : from(f), to(t), from_name(fn), to_name(tn), pending(std::move(p))
        {
        }

        tls_stream& from;
        tls_stream& to;
        const char* from_name;
        const char* to_name;
        std::string pending;       // written before the first read, then released
        std::string close_notify;  // the record forwarding the end, while it is written
        std::array<char, buffer_size> buffer{};
        std::uint64_t bytes = 0;   // written to `to`
        bool busy = false;         // an operation of this direction is pending
        bool ended = false;        // its end has been forwarded
        bool truncated = false;    // it ended with a FIN but no close_notify
    };

    using clock = std::chrono::steady_clock;

    void do_start()
    {
        last_activity_ = clock::now();
        arm_idle_timer();
        for (direction* d : {&to_upstream_, &to_client_}) {
            if (d->pending.empty()) {
                do_read(*d);
            } else {
                d->busy = true;
                net::async_write(d->to, net::buffer(d->pending),
                                 net::bind_executor(strand_, [self = shared_from_this(), d](error_code ec, std::size_t n) {
                                     self->on_write(*d, ec, n);
                                 }));
            }
        }
    }

    void do_read(direction& d)
    {
        d.busy = true;
        d.from.async_read_some(net::buffer(d.buffer),
                               net::bind_executor(strand_, [self = shared_from_this(), &d](error_code ec, std::size_t n) {
                                   self->on_read(d, ec, n);
                               }));
    }

    void on_read(direction& d, error_code ec, std::size_t n)
    {
        d.busy = false;
        if (finished_) {
            maybe_complete();
            return;
        }
        if (!ec) {
            last_activity_ = clock::now();
            d.busy = true;
            net::async_write(d.to, net::buffer(d.buffer.data(), n),
                             net::bind_executor(strand_, [self = shared_from_this(), &d](error_code write_ec, std::size_t written) {
                                 self->on_write(d, write_ec, written);
                             }));
            return;
        }
        // The TLS stream reports a close_notify as eof, and a TCP FIN without one as
        // stream_truncated (RFC 8446 §6.1 calls that a truncation; for a byte relay it still
        // ends the direction, and the result's detail says so).
        if (ec == net::error::eof || ec == net::ssl::error::stream_truncated) {
            d.truncated = ec != net::error::eof;
            do_forward_end(d);
            return;
        }
        fail(std::string(d.from_name) + " read: " + ec.message());
    }

    void on_write(direction& d, error_code ec, std::size_t n)
    {
        d.busy = false;
        d.bytes += n;
        if (!d.pending.empty()) {
            std::string().swap(d.pending);  // written (or failed): release it
        }
        if (finished_) {
            maybe_complete();
            return;
        }
        if (ec) {
            fail(std::string(d.to_name) + " write: " + ec.message());
            return;
        }
        last_activity_ = clock::now();
        do_read(d);
    }

    // Forwards the end of `d` to its `to` side: close_notify, then shutdown(send). See the
    // comment at the top of this file for why this does not call async_shutdown.
    void do_forward_end(direction& d)
    {
        if (!take_close_notify(d.to.native_handle(), d.close_notify)) {
            fail(std::string("cannot make a close_notify for the ") + d.to_name);
            return;
        }
        d.busy = true;
        net::async_write(d.to.next_layer(), net::buffer(d.close_notify),
                         net::bind_executor(strand_, [self = shared_from_this(), &d](error_code ec, std::size_t) {
                             self->on_end_forwarded(d, ec);
                         }));
    }

    void on_end_forwarded(direction& d, error_code ec)
    {
        d.busy = false;
        if (finished_) {
            maybe_complete();
            return;
        }
        if (ec) {
            fail(std::string(d.to_name) + " close_notify: " + ec.message());
            return;
        }
        error_code ignored;
        d.to.next_layer().shutdown(net::socket_base::shutdown_send, ignored);
        d.ended = true;
        if (to_upstream_.ended && to_client_.ended) {
            finished_ = true;
            timer_.cancel();
        }
        maybe_complete();
    }

    void arm_idle_timer()
    {
        timer_busy_ = true;
        timer_.expires_at(last_activity_ + idle_timeout_);
        timer_.async_wait(net::bind_executor(strand_, [self = shared_from_this()](error_code ec) { self->on_idle_timer(ec); }));
    }

    void on_idle_timer(error_code ec)
    {
        timer_busy_ = false;
        if (finished_) {
            maybe_complete();
            return;
        }
        if (!ec && clock::now() >= last_activity_ + idle_timeout_) {
            idle_timed_out_ = true;
            fail("idle for " + std::to_string(idle_timeout_.count()) + " ms");
            return;
        }
        arm_idle_timer();  // a byte moved since it was armed: wait for the rest of the period
    }

    // Ends the relay early. Cancelling alone is not enough: a composed SSL operation whose socket
    // read has already completed would start another one; a socket shut down both ways makes any
    // such operation complete at once, so `done` is never left waiting on a silent peer.
    void fail(std::string detail)
    {
        if (finished_) {
            return;
        }
        finished_ = true;
        detail_ = std::move(detail);
        timer_.cancel();
        for (tls_stream* stream : {&to_upstream_.from, &to_client_.from}) {
            error_code ignored;
            stream->next_layer().cancel(ignored);
            stream->next_layer().shutdown(net::socket_base::shutdown_both, ignored);
        }
        maybe_complete();
    }

    void maybe_complete()
    {
        if (!finished_ || to_upstream_.busy || to_client_.busy || timer_busy_ || !done_) {
            return;
        }
        relay_result result;
        result.bytes_to_upstream = to_upstream_.bytes;
        result.bytes_to_client = to_client_.bytes;
        result.idle_timeout = idle_timed_out_;
        result.client_ended = to_upstream_.ended;
        result.upstream_ended = to_client_.ended;
        result.detail = std::move(detail_);
        if (result.detail.empty()) {
            for (const direction* d : {&to_upstream_, &to_client_}) {
                if (d->truncated) {
                    result.detail += std::string(result.detail.empty() ? "" : "; ") + d->from_name +
                        " ended without close_notify";
                }
            }
        }
        // The owner outlives the call: the streams it owns are still referenced by `done`.
        auto done = std::move(done_);
        done_ = nullptr;
        auto owner = std::move(owner_);
        done(std::move(result));
    }

    net::any_io_executor strand_;
    std::shared_ptr<void> owner_;
    std::chrono::milliseconds idle_timeout_;
    std::function<void(relay_result)> done_;
    net::steady_timer timer_;
    direction to_upstream_;
    direction to_client_;
    clock::time_point last_activity_{};
    std::string detail_;
    bool timer_busy_ = false;
    bool finished_ = false;
    bool idle_timed_out_ = false;
};

}  // namespace

void start_byte_relay(net::any_io_executor strand, std::shared_ptr<void> owner, tls_stream& client,
                      tls_stream& upstream, std::string to_upstream, std::string to_client,
                      std::chrono::milliseconds idle_timeout, std::function<void(relay_result)> done)
{
    auto relay = std::make_shared<byte_relay>(std::move(strand), std::move(owner), client, upstream,
                                              std::move(to_upstream), std::move(to_client), idle_timeout,
                                              std::move(done));
    relay->start();
}

}  // namespace danegate::proxy
