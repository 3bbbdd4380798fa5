// danegate_smtp_test_server ADDR PORT CERT KEY: a minimal SMTP server that offers STARTTLS with
// the given certificate (chain file) and key, so that tests can check DANE over SMTP for real
// (openssl s_server cannot play the server side of STARTTLS). Started by the test bed on
// 127.0.0.30; every connection gets its own thread and a 10 s read timeout, so a test that
// leaves a connection open cannot block the next one.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>

namespace {

constexpr int io_timeout_seconds = 10;
constexpr std::size_t max_line = 4096;

std::string openssl_errors()
{
    std::string out;
    while (const unsigned long code = ERR_get_error()) {
        char text[256];
        ERR_error_string_n(code, text, sizeof text);
        if (!out.empty()) {
            out += "; ";
        }
        out += text;
    }
    return out.empty() ? "no OpenSSL error queued" : out;
}

/** One client: a line reader and writer over the plain socket, then over TLS. */
class connection {
public:
    explicit connection(int fd) : fd_(fd) {}
    ~connection()
    {
        if (ssl_ != nullptr) {
            SSL_shutdown(ssl_);
            SSL_free(ssl_);
        }
        ::close(fd_);
    }
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    bool tls() const { return ssl_ != nullptr; }

    /** The next line without CR LF; false on EOF, error, timeout or an over-long line. */
    bool read_line(std::string& line)
    {
        for (;;) {
            if (const auto end = buffer_.find('\n'); end != std::string::npos) {
                line = buffer_.substr(0, end);
                buffer_.erase(0, end + 1);
                if (!line.empty() && line.back() == '\r') {
                    line.pop_back();
                }
                return true;
            }
            if (buffer_.size() > max_line) {
                return false;
            }
            char chunk[1024];
            const int n = ssl_ != nullptr ? SSL_read(ssl_, chunk, sizeof chunk)
                                          : static_cast<int>(::recv(fd_, chunk, sizeof chunk, 0));
            if (n <= 0) {
                if (n < 0 && ssl_ == nullptr && errno == EINTR) {
                    continue;
                }
                return false;
            }
            buffer_.append(chunk, static_cast<std::size_t>(n));
        }
    }

    bool write(std::string_view text)
    {
        while (!text.empty()) {
            const int n = ssl_ != nullptr
                ? SSL_write(ssl_, text.data(), static_cast<int>(text.size()))
                : static_cast<int>(::send(fd_, text.data(), text.size(), MSG_NOSIGNAL));
            if (n <= 0) {
                if (n < 0 && ssl_ == nullptr && errno == EINTR) {
                    continue;
                }
                return false;
            }
            text.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }

    /** The TLS handshake; false (with `error` set) when it fails. */
    bool start_tls(SSL_CTX* ctx, std::string& error)
    {
        // Plaintext sent after STARTTLS must not be taken as commands inside TLS (RFC 3207 §5,
        // the STARTTLS command injection attack).
        buffer_.clear();
        ssl_ = SSL_new(ctx);
        if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1) {
            error = openssl_errors();
            return false;
        }
        if (SSL_accept(ssl_) != 1) {
            error = openssl_errors();
            SSL_free(ssl_);  // no close_notify after a failed handshake
            ssl_ = nullptr;
            return false;
        }
        return true;
    }

private:
    int fd_;
    SSL* ssl_ = nullptr;
    std::string buffer_;
};

std::string verb_of(const std::string& line)
{
    std::string verb = line.substr(0, line.find(' '));
    for (auto& c : verb) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return verb;
}

void serve(int fd, SSL_CTX* ctx, std::string peer)
{
    // A client that stops talking (or a failed test) must not hold the thread forever.
    timeval timeout{io_timeout_seconds, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    connection client(fd);
    if (!client.write("220 smtp.dg.test ESMTP test\r\n")) {
        return;
    }
    std::string line;
    while (client.read_line(line)) {
        const auto verb = verb_of(line);
        bool ok = true;
        if (verb == "EHLO" || verb == "HELO") {
            ok = client.write(client.tls() ? "250-smtp.dg.test\r\n250 8BITMIME\r\n"
                                           : "250-smtp.dg.test\r\n250 STARTTLS\r\n");
        } else if (verb == "STARTTLS") {
            if (client.tls()) {
                ok = client.write("503 5.5.1 TLS already active\r\n");
            } else {
                if (!client.write("220 2.0.0 Ready to start TLS\r\n")) {
                    return;
                }
                std::string error;
                if (!client.start_tls(ctx, error)) {
                    std::fprintf(stderr, "%s: TLS handshake failed: %s\n", peer.c_str(), error.c_str());
                    return;
                }
                std::fprintf(stderr, "%s: TLS established\n", peer.c_str());
            }
        } else if (verb == "QUIT") {
            client.write("221 Bye\r\n");
            return;
        } else if (verb == "NOOP" || verb == "RSET") {
            ok = client.write("250 2.0.0 OK\r\n");
        } else if (verb == "MAIL" || verb == "RCPT") {
            ok = client.write("250 2.1.0 OK\r\n");
        } else if (verb == "DATA") {
            ok = client.write("354 End data with <CR><LF>.<CR><LF>\r\n");
            while (ok && (ok = client.read_line(line)) && line != ".") {}
            ok = ok && client.write("250 2.0.0 Accepted\r\n");
        } else {
            ok = client.write("502 5.5.2 Command not recognized\r\n");
        }
        if (!ok) {
            return;
        }
    }
    std::fprintf(stderr, "%s: connection closed\n", peer.c_str());
}

}  // namespace

int main(int argc, char** argv)
{
    if (argc != 5) {
        std::fprintf(stderr, "usage: %s ADDR PORT CERT KEY\n", argv[0]);
        return 2;
    }
    std::setvbuf(stderr, nullptr, _IOLBF, 0);
    ::signal(SIGPIPE, SIG_IGN);

    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == nullptr || SSL_CTX_use_certificate_chain_file(ctx, argv[3]) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, argv[4], SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        std::fprintf(stderr, "cannot load %s / %s: %s\n", argv[3], argv[4], openssl_errors().c_str());
        return 1;
    }

    sockaddr_in address{};
    address.sin_family = AF_INET;
    const long port = std::strtol(argv[2], nullptr, 10);
    if (::inet_pton(AF_INET, argv[1], &address.sin_addr) != 1 || port <= 0 || port > 65535) {
        std::fprintf(stderr, "bad address %s:%s\n", argv[1], argv[2]);
        return 2;
    }
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int on = 1;
    ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (listener < 0 || ::bind(listener, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener, 64) != 0) {
        std::fprintf(stderr, "cannot listen on %s:%s: %s\n", argv[1], argv[2], std::strerror(errno));
        return 1;
    }
    std::fprintf(stderr, "listening on %s:%s\n", argv[1], argv[2]);

    for (;;) {
        sockaddr_in peer{};
        socklen_t length = sizeof peer;
        const int fd = ::accept4(listener, reinterpret_cast<sockaddr*>(&peer), &length, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            if (errno == EMFILE || errno == ENFILE) {
                // Out of descriptors: wait for client threads to finish rather than spin.
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
                continue;
            }
            std::fprintf(stderr, "accept: %s\n", std::strerror(errno));
            return 1;
        }
        char text[INET_ADDRSTRLEN] = "?";
        ::inet_ntop(AF_INET, &peer.sin_addr, text, sizeof text);
        std::thread(serve, fd, ctx, std::string(text) + ":" + std::to_string(ntohs(peer.sin_port))).detach();
    }
}
