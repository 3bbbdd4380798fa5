// The bytes of a TLS close_notify alert, produced without reading: for ending one direction of a
// TLS connection (RFC 8446 §6.1) while the other may still be read. Asio's async_shutdown cannot
// do that: after sending it waits for the peer's close_notify, reading from the socket.
#pragma once

#include <openssl/types.h>

#include <string>

namespace danegate::proxy {

/**
 * Makes @p ssl write its close_notify alert into @p record instead of its own write BIO (for a
 * moment a memory BIO stands in for it), without reading anything. The caller writes @p record to
 * the TCP socket itself. SSL_read keeps working afterwards.
 * @pre no write is pending on the stream that owns @p ssl.
 * @return false when OpenSSL produced no record.
 */
bool take_close_notify(SSL* ssl, std::string& record);

}  // namespace danegate::proxy
