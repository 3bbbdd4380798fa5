// One DANE-authenticated connection attempt; see tls_probe.hpp.
#include "dane/tls_probe.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "dane/openssl_dane.hpp"

namespace danegate::dane {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

std::string name_text(const X509_NAME* name)
{
    BIO* bio = BIO_new(BIO_s_mem());
    X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    std::string text(data, static_cast<std::size_t>(size));
    BIO_free(bio);
    return text;
}

std::string time_text(const ASN1_TIME* time)
{
    BIO* bio = BIO_new(BIO_s_mem());
    ASN1_TIME_print(bio, time);
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    std::string text(data, static_cast<std::size_t>(size));
    BIO_free(bio);
    return text;
}

// An SMTP reply is complete at its last line, "NNN text" or just "NNN"; the lines before it
// read "NNN-text" (RFC 5321 §4.2.1). @p line ends in CRLF.
bool last_smtp_line(const std::string& line)
{
    return line.size() == 5 || (line.size() > 5 && line[3] == ' ');
}

class probe : public std::enable_shared_from_this<probe> {
public:
    probe(net::io_context& io, std::shared_ptr<const lookup_result> lookup, probe_options options,
          std::function<void(probe_result)> done)
        : strand_(net::make_strand(io)),
          lookup_(std::move(lookup)),
          options_(std::move(options)),
          done_(std::move(done)),
          tls_(net::ssl::context::tls_client),
          deadline_(strand_)
    {
    }

    net::strand<net::io_context::executor_type> executor() const { return strand_; }

    void start()
    {
        if (auto prepared = prepare_upstream_context(tls_.native_handle()); !prepared) {
            finish(reason::tls_error, prepared.error().message());
            return;
        }
        stream_.emplace(strand_, tls_);
        setup_ = prepare_dane_handshake(stream_->native_handle(), *lookup_, options_.policy);
        if (!setup_.may_handshake()) {
            result_.outcome = *setup_.rejection();
            complete();
            return;
        }
        const std::uint16_t port = options_.connect_port != 0 ? options_.connect_port : lookup_->port;
        for (const auto& text : lookup_->addresses) {
            boost::system::error_code ec;
            auto address = net::ip::make_address(text, ec);
            if (!ec) {
                endpoints_.emplace_back(address, port);
            }
        }
        if (endpoints_.empty()) {
            finish(reason::dns_error, lookup_->host + " has no address records to connect to");
            return;
        }
        deadline_.expires_after(options_.timeout);
        deadline_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
            if (!ec) {
                self->timed_out_ = true;
                boost::system::error_code ignored;
                self->stream_->lowest_layer().close(ignored);
            }
        });
        net::async_connect(stream_->lowest_layer(), endpoints_,
                           [self = shared_from_this()](boost::system::error_code ec, const tcp::endpoint& endpoint) {
                               self->on_connect(ec, endpoint);
                           });
    }

private:
    void on_connect(boost::system::error_code ec, const tcp::endpoint& endpoint)
    {
        if (ec) {
            finish(reason::tls_error, "connect: " + failure_text(ec));
            return;
        }
        result_.connected = true;
        result_.address = endpoint.address().to_string() + "@" + std::to_string(endpoint.port());
        if (options_.starttls == starttls_protocol::smtp) {
            smtp_step_ = 0;
            read_smtp_reply();
        } else {
            handshake();
        }
    }

    // SMTP STARTTLS (RFC 3207): greeting 220, EHLO -> 250 with STARTTLS, STARTTLS -> 220.
    void read_smtp_reply()
    {
        smtp_reply_.clear();
        read_smtp_line();
    }

    void read_smtp_line()
    {
        net::async_read_until(stream_->next_layer(), buffer_, "\r\n",
                              [self = shared_from_this()](boost::system::error_code ec, std::size_t size) {
                                  self->on_smtp_line(ec, size);
                              });
    }

    void on_smtp_line(boost::system::error_code ec, std::size_t size)
    {
        if (ec) {
            finish(reason::tls_error, "STARTTLS: " + failure_text(ec));
            return;
        }
        std::string line(net::buffers_begin(buffer_.data()), net::buffers_begin(buffer_.data()) + static_cast<long>(size));
        buffer_.consume(size);
        smtp_reply_ += line;
        if (smtp_reply_.size() > 16384) {
            finish(reason::tls_error, "STARTTLS: SMTP reply too long");
            return;
        }
        if (!last_smtp_line(line)) {
            read_smtp_line();
            return;
        }
        const std::string expected = smtp_step_ == 1 ? "250" : "220";
        if (!smtp_reply_.starts_with(expected)) {
            finish(reason::tls_error, "STARTTLS: unexpected SMTP reply: " + smtp_reply_.substr(0, 200));
            return;
        }
        switch (smtp_step_++) {
        case 0:
            send_smtp("EHLO danegate.invalid\r\n");
            return;
        case 1:
            if (smtp_reply_.find("STARTTLS") == std::string::npos) {
                finish(reason::tls_error, "STARTTLS: the server does not offer STARTTLS");
                return;
            }
            send_smtp("STARTTLS\r\n");
            return;
        default:
            // Bytes the server sent after 220 would be plaintext injected before TLS (CVE-2011-0411).
            if (buffer_.size() > 0) {
                finish(reason::tls_error, "STARTTLS: data after the 220 reply");
                return;
            }
            handshake();
            return;
        }
    }

    void send_smtp(std::string command)
    {
        command_ = std::move(command);
        net::async_write(stream_->next_layer(), net::buffer(command_),
                         [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                             if (ec) {
                                 self->finish(reason::tls_error, "STARTTLS: " + self->failure_text(ec));
                                 return;
                             }
                             self->read_smtp_reply();
                         });
    }

    void handshake()
    {
        result_.handshake_attempted = true;
        stream_->async_handshake(net::ssl::stream_base::client,
                                 [self = shared_from_this()](boost::system::error_code ec) { self->on_handshake(ec); });
    }

    void on_handshake(boost::system::error_code ec)
    {
        if (timed_out_ && ec) {
            ec = net::error::timed_out;
        }
        SSL* ssl = stream_->native_handle();
        if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl)) {
            for (int i = 0; i < sk_X509_num(chain); ++i) {
                result_.chain.push_back(summarize_certificate(sk_X509_value(chain, i)));
            }
        }
        result_.outcome = authenticate(ssl, setup_, ec);
        complete();
    }

    std::string failure_text(boost::system::error_code ec) const
    {
        return timed_out_ ? "timed out" : ec.message();
    }

    void finish(reason why, std::string detail)
    {
        result_.outcome.outcome = why;
        result_.outcome.detail = std::move(detail);
        complete();
    }

    void complete()
    {
        deadline_.cancel();
        if (stream_) {
            boost::system::error_code ignored;
            stream_->lowest_layer().close(ignored);
        }
        if (done_) {
            auto done = std::move(done_);
            done_ = nullptr;
            done(std::move(result_));
        }
    }

    // Every handler, the deadline's included, runs on this strand: the io_context may have threads.
    net::strand<net::io_context::executor_type> strand_;
    std::shared_ptr<const lookup_result> lookup_;
    probe_options options_;
    std::function<void(probe_result)> done_;
    net::ssl::context tls_;
    std::optional<net::ssl::stream<tcp::socket>> stream_;
    net::steady_timer deadline_;
    std::vector<tcp::endpoint> endpoints_;
    dane_setup setup_;
    probe_result result_;
    net::streambuf buffer_{65536};
    std::string smtp_reply_;
    std::string command_;
    int smtp_step_ = 0;
    bool timed_out_ = false;
};

}  // namespace

certificate_summary summarize_certificate(X509* cert)
{
    certificate_summary summary;
    summary.subject = name_text(X509_get_subject_name(cert));
    summary.issuer = name_text(X509_get_issuer_name(cert));
    summary.not_before = time_text(X509_get0_notBefore(cert));
    summary.not_after = time_text(X509_get0_notAfter(cert));
    if (auto spki = make_tlsa(cert, usage::dane_ee, selector::spki, matching_type::sha2_256)) {
        summary.spki_sha256 = to_hex(spki->data);
    }
    return summary;
}

void async_probe(net::io_context& io, std::shared_ptr<const lookup_result> lookup, probe_options options,
                 std::function<void(probe_result)> done)
{
    auto attempt = std::make_shared<probe>(io, std::move(lookup), std::move(options), std::move(done));
    net::dispatch(attempt->executor(), [attempt] { attempt->start(); });
}

}  // namespace danegate::dane
