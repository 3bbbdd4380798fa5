// Relays a byte stream both ways between two TLS streams (DESIGN §4: TCP listeners, WebSocket
// tunnels), with half-close (RFC 8446 §6.1: close_notify closes one direction only), bounded
// buffers and an idle timeout. Asio only: no Beast, so that the TUs using it stay cheap to compile.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include "proxy/tls_stream.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace danegate::proxy {

/** How a relay ended. */
struct relay_result {
    std::uint64_t bytes_to_upstream = 0;  ///< client -> upstream, pending bytes included
    std::uint64_t bytes_to_client = 0;
    std::string detail;                   ///< empty when both directions ended cleanly; else what ended it
    bool idle_timeout = false;            ///< ended because no byte moved for idle_timeout
    bool client_ended = false;            ///< the client ended its direction (close_notify or FIN)
    bool upstream_ended = false;          ///< the upstream ended its direction (close_notify or FIN)
};

/**
 * Relays bytes both ways until both directions have ended or @p idle_timeout passes with no byte
 * either way.
 *
 * Every handler runs on @p strand (every operation is bound to it: the upstream stream may have
 * been created on another strand, e.g. taken from a pool). @p owner is kept alive until @p done
 * has run; the streams must live as long as @p owner. @p to_upstream / @p to_client are bytes
 * already read from one side that must be written to the other before anything else. When
 * @p done runs no operation is pending on either stream; closing the sockets is the caller's job.
 *
 * Half-close: when one side ends its direction (close_notify, or a TCP FIN without one), the end
 * is forwarded to the other side as a close_notify followed by a TCP shutdown(send), while the
 * other direction keeps flowing. On an error or the idle timeout both sockets are cancelled and
 * shut down both ways (not closed) so that every pending operation completes promptly.
 *
 * Buffers: 16 KiB per direction, one read in flight per direction, never grown.
 *
 * @pre both streams have completed their TLS handshakes; no other operation is pending on them,
 *      and none is started on them until @p done has run.
 */
void start_byte_relay(boost::asio::any_io_executor strand, std::shared_ptr<void> owner,
                      tls_stream& client, tls_stream& upstream,
                      std::string to_upstream, std::string to_client,
                      std::chrono::milliseconds idle_timeout,
                      std::function<void(relay_result)> done);

}  // namespace danegate::proxy
