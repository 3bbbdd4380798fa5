// See tls_stream.hpp.
//
// The BIO: SSL_set_fd's socket BIO would do, except that it writes with write(2), which raises
// SIGPIPE when the peer has reset the connection (Asio passes MSG_NOSIGNAL; danegate does not
// ignore SIGPIPE process-wide, and a library should not need it to), and it cannot hand out bytes
// the reactor already read (the inbox, see tls_stream.hpp). So the SSL gets a minimal descriptor
// BIO of our own: the inbox first, then recv/send with MSG_DONTWAIT | MSG_NOSIGNAL on the
// socket's descriptor. MSG_DONTWAIT makes every call non-blocking without switching the socket to
// non-blocking mode, so Asio's own view of the socket (its synchronous calls, its reactor state)
// is untouched. One BIO is both read and write BIO (SSL_set_bio(ssl, bio, bio)), exactly as
// SSL_set_fd does, which is what proxy/close_notify's BIO swap expects.
//
// Errors are reported as asio::ssl::stream reports them (asio/ssl/detail/engine.ipp and io.hpp):
// SSL_ERROR_ZERO_RETURN -> error::eof; a TCP end before the peer's close_notify ->
// ssl::error::stream_truncated; SSL_ERROR_SSL -> (ERR_get_error(), ssl category); a failed
// recv/send -> its errno in the system category, as the socket read/write would have given.
#include "proxy/tls_stream.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/system/system_error.hpp>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <sys/socket.h>

#include <cerrno>
#include <cstdint>

namespace danegate::proxy {

namespace net = boost::asio;
using boost::system::error_code;
using tls_detail::want;

namespace {

tls_detail::inbox& inbox_of(BIO* bio)
{
    return *static_cast<tls_detail::inbox*>(BIO_get_data(bio));
}

int descriptor_of(BIO* bio)
{
    return inbox_of(bio).fd;
}

/** One non-blocking send that raises no SIGPIPE: every byte danegate writes to a TLS socket. */
ssize_t send_now(int fd, const void* data, std::size_t size)
{
    ssize_t n = 0;
    do {
        n = ::send(fd, data, size, MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n;
}

int bio_write(BIO* bio, const char* data, int size)
{
    BIO_clear_retry_flags(bio);
    const ssize_t n = send_now(descriptor_of(bio), data, static_cast<std::size_t>(size));
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        BIO_set_retry_write(bio);
    }
    return static_cast<int>(n);
}

int bio_read(BIO* bio, char* data, int size)
{
    BIO_clear_retry_flags(bio);
    tls_detail::inbox& in = inbox_of(bio);
    if (in.begin < in.end) {
        const std::size_t n = std::min(static_cast<std::size_t>(size), in.end - in.begin);
        std::memcpy(data, in.bytes.data() + in.begin, n);
        in.begin += n;
        if (in.begin == in.end) {
            in.begin = in.end = 0;
        }
        return static_cast<int>(n);
    }
    if (in.eof) {
        return 0;  // as recv after the FIN, every time
    }
    if (in.error != 0) {
        errno = in.error;
        return -1;
    }
    if (in.reading || !in.more) {
        // The reactor's read is pending, or the last read did not fill its buffer: reading here
        // would most likely find nothing, and the reactor's read tries anyway (tls_stream.hpp).
        BIO_set_retry_read(bio);
        return -1;
    }
    ssize_t n = 0;
    do {
        n = ::recv(in.fd, data, static_cast<std::size_t>(size), MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        BIO_set_retry_read(bio);
    }
    in.more = n == size;
    // 0 is the peer's FIN. BIO_CTRL_EOF stays 0 on purpose: OpenSSL 3.0 would then treat it as a
    // fatal "unexpected eof" and try to send a decode_error alert to a peer that has gone; as a
    // plain SSL_ERROR_SYSCALL it maps to stream_truncated without writing anything, as Asio does.
    return static_cast<int>(n);
}

long bio_ctrl(BIO* bio, int command, long, void* out)
{
    switch (command) {
    case BIO_C_GET_FD:  // SSL_get_fd
        if (out != nullptr) {
            *static_cast<int*>(out) = descriptor_of(bio);
        }
        return descriptor_of(bio);
    case BIO_CTRL_FLUSH:  // OpenSSL flushes after each flight; send() has nothing buffered
        return 1;
    default:
        return 0;
    }
}

int bio_create(BIO* bio)
{
    BIO_set_data(bio, nullptr);  // the inbox, set by attach before the BIO is used
    return 1;
}

/** The method, made once and kept for the life of the process (BIO_METHODs are shared). */
const BIO_METHOD* socket_method()
{
    static BIO_METHOD* const method = [] {
        BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                                     "danegate socket");
        if (m != nullptr) {
            BIO_meth_set_write(m, bio_write);
            BIO_meth_set_read(m, bio_read);
            BIO_meth_set_ctrl(m, bio_ctrl);
            BIO_meth_set_create(m, bio_create);
        }
        return m;
    }();
    return method;
}

error_code ssl_error(unsigned long code)
{
    return error_code(static_cast<int>(code), net::error::get_ssl_category());
}

/**
 * Empties the thread's OpenSSL error queue. ERR_clear_error walks all 16 slots of the queue
 * (about 800 instructions in OpenSSL 3.0, and six calls per proxied request); ERR_peek_error
 * answers "empty" from the queue's two indices, and empty is by far the usual case.
 */
void clear_error_queue()
{
    if (ERR_peek_error() != 0) {
        ERR_clear_error();
    }
}

/** Maps the result of one SSL call, as asio's engine does (see the top of this file). */
want classify(SSL* ssl, int result, int saved_errno, error_code& ec)
{
    const int kind = SSL_get_error(ssl, result);
    want next = want::nothing;
    switch (kind) {
    case SSL_ERROR_NONE:
        break;
    case SSL_ERROR_WANT_READ:
        next = want::read;
        break;
    case SSL_ERROR_WANT_WRITE:
        next = want::write;
        break;
    case SSL_ERROR_ZERO_RETURN:  // the peer's close_notify
        ec = net::error::eof;
        break;
    case SSL_ERROR_SYSCALL: {
        const unsigned long code = ERR_get_error();
        if (code != 0 && ERR_GET_LIB(code) == ERR_LIB_SYS) {
            ec = error_code(ERR_GET_REASON(code), boost::system::system_category());
        } else if (code != 0) {
            ec = ssl_error(code);
        } else if (saved_errno != 0) {
            ec = error_code(saved_errno, boost::system::system_category());  // reset, broken pipe...
        } else {
            ec = net::ssl::error::stream_truncated;  // FIN before close_notify (RFC 8446 §6.1)
        }
        break;
    }
    case SSL_ERROR_SSL: {
        const unsigned long code = ERR_get_error();
        if (ERR_GET_LIB(code) == ERR_LIB_SSL && ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
            ec = net::ssl::error::stream_truncated;
        } else {
            ec = code != 0 ? ssl_error(code) : error_code(net::ssl::error::unspecified_system_error);
        }
        break;
    }
    default: {
        // WANT_X509_LOOKUP, WANT_ASYNC...: callbacks danegate does not install.
        const unsigned long code = ERR_get_error();
        ec = code != 0 ? ssl_error(code) : error_code(net::ssl::error::unspecified_system_error);
        break;
    }
    }
    // Leave the thread's queue empty: SSL_get_error consults it, and the next SSL call on this
    // thread may belong to another connection. A want or a close_notify left it empty already.
    clear_error_queue();
    return next;
}

/** Clears what the next call's classification reads: the error queue and errno. */
void before_call()
{
    clear_error_queue();
    errno = 0;
}

}  // namespace

void tls_stream::ssl_free::operator()(SSL* ssl) const noexcept
{
    SSL_free(ssl);  // frees the BIO too; the BIO never closes the descriptor (the socket does)
}

SSL* tls_stream::make_ssl(net::ssl::context& context)
{
    ERR_clear_error();
    SSL* ssl = SSL_new(context.native_handle());
    if (ssl == nullptr) {
        throw boost::system::system_error(ssl_error(ERR_get_error()), "SSL_new");
    }
    // RELEASE_BUFFERS: OpenSSL frees its read and write buffers whenever they are empty, which is
    // what keeps an idle connection small. PARTIAL_WRITE + ACCEPT_MOVING_WRITE_BUFFER: a write
    // returns after each record and may be retried from another address (the gathered copy).
    SSL_set_mode(ssl, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // Read-ahead: one recv takes whatever has arrived (as Asio's 17 KiB input buffer did), instead
    // of two per record (its 5-byte header, then its body). Safe because every operation calls
    // SSL_read before it waits for the socket, so records already buffered are never stranded;
    // the buffer is still released once it has been consumed.
    SSL_set_read_ahead(ssl, 1);
    return ssl;
}

bool tls_stream::attach(error_code& ec)
{
    // Checked before every SSL call: once the socket is closed its descriptor number may already
    // belong to another connection, which the SSL must never read or write.
    if (!socket_.is_open()) {
        ec = net::error::bad_descriptor;
        return false;
    }
    const int fd = socket_.native_handle();
    if (fd == attached_fd_) {
        return true;
    }
    if (!inbox_) {
        inbox_ = std::make_shared<tls_detail::inbox>();
    }
    inbox_->reset(fd);
    ERR_clear_error();
    const BIO_METHOD* method = socket_method();
    BIO* bio = method != nullptr ? BIO_new(method) : nullptr;
    if (bio == nullptr) {
        ec = ssl_error(ERR_get_error());
        ERR_clear_error();
        return false;
    }
    BIO_set_data(bio, inbox_.get());
    BIO_set_init(bio, 1);
    SSL_set_bio(ssl_.get(), bio, bio);  // one reference for both directions
    attached_fd_ = fd;
    return true;
}

bool tls_stream::readable_now(error_code& ec)
{
    return attach(ec) && (inbox_->holds_something() || SSL_has_pending(ssl_.get()) == 1);
}

std::shared_ptr<tls_detail::inbox> tls_stream::inbox_for_read()
{
    error_code ec;
    if (!attach(ec) || inbox_->reading || inbox_->holds_something()) {
        return nullptr;
    }
    return inbox_;
}

void tls_detail::inbox::received(const error_code& ec, std::size_t size) noexcept
{
    if (!ec) {
        begin = 0;
        end = size;
        more = size == bytes.size();
    } else if (ec == net::error::eof) {
        eof = true;
    } else {
        // A reset...: the SSL call that reads the inbox next reports it, as a recv of its own would.
        error = ec.category() == boost::system::system_category() ? ec.value() : EIO;
    }
}

want tls_stream::handshake_once(handshake_type type, error_code& ec)
{
    if (!attach(ec)) {
        return want::nothing;
    }
    before_call();
    const int result = type == net::ssl::stream_base::client ? SSL_connect(ssl_.get()) : SSL_accept(ssl_.get());
    const int saved_errno = errno;
    return result == 1 ? want::nothing : classify(ssl_.get(), result, saved_errno, ec);
}

want tls_stream::shutdown_once(error_code& ec)
{
    if (!attach(ec)) {
        return want::nothing;
    }
    before_call();
    // As asio: the first call sends close_notify (0: the peer's not seen yet), the second waits
    // for the peer's; 1 means both are done.
    int result = SSL_shutdown(ssl_.get());
    if (result == 0) {
        result = SSL_shutdown(ssl_.get());
    }
    const int saved_errno = errno;
    return result == 1 ? want::nothing : classify(ssl_.get(), result, saved_errno, ec);
}

want tls_stream::read_once(void* data, std::size_t size, std::size_t& read, error_code& ec)
{
    if (!attach(ec)) {
        return want::nothing;
    }
    before_call();
    std::size_t n = 0;
    const int result = SSL_read_ex(ssl_.get(), data, size, &n);
    const int saved_errno = errno;
    if (result == 1) {
        read += n;
        return want::nothing;
    }
    return classify(ssl_.get(), result, saved_errno, ec);
}

want tls_stream::write_once(const void* data, std::size_t size, std::size_t& written, error_code& ec)
{
    if (!attach(ec)) {
        return want::nothing;
    }
    before_call();
    std::size_t n = 0;
    const int result = SSL_write_ex(ssl_.get(), data, size, &n);
    const int saved_errno = errno;
    if (result == 1) {
        written = n;
        return want::nothing;
    }
    return classify(ssl_.get(), result, saved_errno, ec);
}

bool tls_stream::input_waiting()
{
    error_code ec;
    if (!attach(ec)) {
        return false;  // closed: nothing can be read any more
    }
    if (inbox_->begin < inbox_->end || SSL_has_pending(ssl_.get()) == 1) {
        return true;
    }
    char byte = 0;
    ssize_t n = 0;
    do {
        n = ::recv(socket_.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    return n > 0;
}

std::size_t tls_stream::try_send_record(net::const_buffer record, error_code& ec)
{
    ec = {};
    if (!socket_.is_open()) {
        ec = net::error::bad_descriptor;
        return 0;
    }
    const ssize_t n = send_now(socket_.native_handle(), record.data(), record.size());
    if (n < 0) {
        ec = errno == EAGAIN || errno == EWOULDBLOCK ? error_code(net::error::would_block)
                                                     : error_code(errno, boost::system::system_category());
        return 0;
    }
    return static_cast<std::size_t>(n);
}

std::size_t tls_stream::try_read(net::mutable_buffer buffer, error_code& ec)
{
    ec = {};
    std::size_t read = 0;
    if (buffer.size() > 0 && read_once(buffer.data(), buffer.size(), read, ec) != want::nothing) {
        ec = net::error::would_block;
    }
    return read;
}

std::size_t tls_stream::try_write(net::const_buffer buffer, error_code& ec)
{
    ec = {};
    std::size_t written = 0;
    while (written < buffer.size() && !ec) {
        // One record per call (SSL_MODE_ENABLE_PARTIAL_WRITE): the same pieces write_step makes.
        std::size_t n = 0;
        const want next = write_once(static_cast<const char*>(buffer.data()) + written, buffer.size() - written, n, ec);
        written += n;
        if (next != want::nothing) {
            ec = net::error::would_block;
        }
    }
    return written;
}

}  // namespace danegate::proxy
