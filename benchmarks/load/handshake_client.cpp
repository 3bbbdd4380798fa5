// A load client for benchmarks/load/run.sh that wrk and h2load cannot be: every request on a new
// TCP connection with a full TLS 1.3 handshake (no session cache, no tickets, never a session set,
// so nothing can resume), and an idle mode that holds thousands of kept-alive TLS connections.
//
//   bench_handshake_client --connect 127.0.0.1:8443 [--path /] [--sni NAME] [-c 16] [-d 10]
//       C workers (threads, blocking sockets) for D seconds; each request: connect, TLS 1.3
//       handshake, `GET PATH HTTP/1.1` with `Connection: close`, the whole response, status 200,
//       close. Prints wrk's report.lua line: WRK_RESULT requests= duration_us= ... resumed=N.
//   bench_handshake_client --connect ... --idle N [--hold S] [-c 64]
//       opens N connections (at most C handshakes at a time, epoll, non-blocking), each completes a
//       handshake and one keep-alive request, then stays idle. Prints `IDLE_READY open=N errors=E`
//       once all are set up, holds them S seconds, checks every one is still open, and prints the
//       WRK_RESULT line with open=N (requests = connections set up).
//
// The proxy's certificate is not verified (it is self-signed). Exit status 0 when every request
// succeeded and no handshake resumed, 1 otherwise, 2 on usage errors.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using steady = std::chrono::steady_clock;

struct options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string path = "/";
  std::string sni;
  int concurrency = 16;
  double duration_s = 10;
  int idle = 0;
  double hold_s = 1;
  double setup_timeout_s = 120;
};

struct counters {
  std::uint64_t requests = 0;
  std::uint64_t bytes = 0;
  std::uint64_t err_connect = 0;  // TCP connect or TLS handshake failed
  std::uint64_t err_read = 0;
  std::uint64_t err_write = 0;
  std::uint64_t err_timeout = 0;
  std::uint64_t err_status = 0;  // a status other than 200, or a response that does not parse
  std::uint64_t resumed = 0;     // SSL_session_reused: must stay 0
  std::vector<std::uint32_t> latencies_us;

  void add(const counters& o) {
    requests += o.requests;
    bytes += o.bytes;
    err_connect += o.err_connect;
    err_read += o.err_read;
    err_write += o.err_write;
    err_timeout += o.err_timeout;
    err_status += o.err_status;
    resumed += o.resumed;
    latencies_us.insert(latencies_us.end(), o.latencies_us.begin(), o.latencies_us.end());
  }
  [[nodiscard]] std::uint64_t errors() const {
    return err_connect + err_read + err_write + err_timeout + err_status;
  }
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "bench_handshake_client: %s\n"
               "usage: bench_handshake_client --connect HOST:PORT [--path P] [--sni NAME] [-c N] [-d S]\n"
               "       bench_handshake_client --connect HOST:PORT [--path P] [--sni NAME] --idle N [--hold S] [-c N]\n",
               why);
  std::exit(2);
}

template <typename T>
T number(std::string_view s, const char* what) {
  T v{};
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size()) {
    usage(what);
  }
  return v;
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) {
        usage("an option needs a value");
      }
      return argv[++i];
    };
    if (a == "--connect") {
      const std::string_view v = value();
      const auto colon = v.rfind(':');
      if (colon == std::string_view::npos) {
        usage("--connect: HOST:PORT");
      }
      o.host = std::string(v.substr(0, colon));
      o.port = number<std::uint16_t>(v.substr(colon + 1), "--connect: bad port");
    } else if (a == "--path") {
      o.path = std::string(value());
    } else if (a == "--sni") {
      o.sni = std::string(value());
    } else if (a == "-c") {
      o.concurrency = number<int>(value(), "-c: a number >= 1");
    } else if (a == "-d") {
      o.duration_s = number<double>(value(), "-d: seconds");
    } else if (a == "--idle") {
      o.idle = number<int>(value(), "--idle: a number >= 1");
    } else if (a == "--hold") {
      o.hold_s = number<double>(value(), "--hold: seconds");
    } else if (a == "--setup-timeout") {
      o.setup_timeout_s = number<double>(value(), "--setup-timeout: seconds");
    } else {
      usage("unknown argument");
    }
  }
  if (o.port == 0) {
    usage("--connect is required");
  }
  if (o.concurrency < 1 || o.duration_s <= 0 || o.idle < 0 || o.hold_s < 0) {
    usage("-c, -d, --idle and --hold must be positive");
  }
  if (o.sni.empty()) {
    o.sni = o.host;  // as wrk does: the URL's host
  }
  return o;
}

/** A client context that cannot resume: no session cache, no tickets, TLS 1.3 only, no verification. */
SSL_CTX* make_context() {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr || SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
    ERR_print_errors_fp(stderr);
    std::exit(1);
  }
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  // An EOF without close_notify ends a Connection: close response like close_notify does (the
  // reader decides whether the body was complete).
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  return ctx;
}

std::string request_text(const options& o, bool close) {
  std::string r = "GET " + o.path + " HTTP/1.1\r\nHost: " + o.host + ":" + std::to_string(o.port) + "\r\n";
  r += close ? "Connection: close\r\n\r\n" : "\r\n";
  return r;
}

/** Incremental HTTP/1.1 response reader: Content-Length, chunked (to the last chunk), or to EOF. */
class response_reader {
 public:
  enum class state { more, done, bad };

  state feed(const char* data, std::size_t n) {
    buf_.append(data, n);
    return check();
  }
  state eof() {
    if (header_end_ != std::string::npos && length_ < 0 && !chunked_) {
      return state::done;
    }
    return check() == state::done ? state::done : state::bad;
  }
  [[nodiscard]] int status() const { return status_; }
  [[nodiscard]] std::size_t size() const { return buf_.size(); }

 private:
  state check() {
    if (header_end_ == std::string::npos) {
      header_end_ = buf_.find("\r\n\r\n");
      if (header_end_ == std::string::npos) {
        return buf_.size() > 65536 ? state::bad : state::more;
      }
      header_end_ += 4;
      if (buf_.compare(0, 9, "HTTP/1.1 ") != 0 && buf_.compare(0, 9, "HTTP/1.0 ") != 0) {
        return state::bad;
      }
      status_ = std::atoi(buf_.c_str() + 9);
      std::string head = buf_.substr(0, header_end_);
      std::transform(head.begin(), head.end(), head.begin(), [](unsigned char c) { return std::tolower(c); });
      if (const auto p = head.find("\r\ncontent-length:"); p != std::string::npos) {
        length_ = std::atoll(head.c_str() + p + 17);
      }
      chunked_ = head.find("\r\ntransfer-encoding: chunked") != std::string::npos;
    }
    if (length_ >= 0) {
      const auto have = static_cast<long long>(buf_.size() - header_end_);
      return have > length_ ? state::bad : have == length_ ? state::done : state::more;
    }
    if (chunked_) {
      return buf_.size() >= header_end_ + 5 && buf_.compare(buf_.size() - 5, 5, "0\r\n\r\n") == 0 ? state::done
                                                                                                   : state::more;
    }
    return state::more;  // until EOF
  }

  std::string buf_;
  std::size_t header_end_ = std::string::npos;
  long long length_ = -1;
  bool chunked_ = false;
  int status_ = 0;
};

sockaddr_in address_of(const options& o) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(o.port);
  if (inet_pton(AF_INET, o.host.c_str(), &sa.sin_addr) != 1) {
    usage("--connect: HOST must be an IPv4 address");
  }
  return sa;
}

bool is_timeout(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == ETIMEDOUT; }

// ------------------------------------------------------------------------------------------------
// Handshake mode: one thread per worker, blocking sockets with 10 s timeouts.
// ------------------------------------------------------------------------------------------------
void one_request(SSL_CTX* ctx, const options& o, const sockaddr_in& sa, const std::string& req, counters& c) {
  const auto t0 = steady::now();
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ++c.err_connect;
    return;
  }
  const timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) {
    is_timeout(errno) ? ++c.err_timeout : ++c.err_connect;
    ::close(fd);
    return;
  }
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, o.sni.c_str());
  auto finish = [&](bool shutdown) {
    if (shutdown) {
      SSL_shutdown(ssl);
    }
    SSL_free(ssl);
    ::close(fd);
  };
  if (SSL_connect(ssl) != 1) {
    is_timeout(errno) ? ++c.err_timeout : ++c.err_connect;
    ERR_clear_error();
    finish(false);
    return;
  }
  if (SSL_session_reused(ssl) != 0) {
    ++c.resumed;
  }
  if (SSL_write(ssl, req.data(), static_cast<int>(req.size())) != static_cast<int>(req.size())) {
    is_timeout(errno) ? ++c.err_timeout : ++c.err_write;
    ERR_clear_error();
    finish(false);
    return;
  }
  response_reader rr;
  char buf[16384];
  auto st = response_reader::state::more;
  while (st == response_reader::state::more) {
    const int n = SSL_read(ssl, buf, sizeof buf);
    if (n > 0) {
      st = rr.feed(buf, static_cast<std::size_t>(n));
      continue;
    }
    const int e = SSL_get_error(ssl, n);
    if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0)) {
      st = rr.eof();
    } else {
      is_timeout(errno) ? ++c.err_timeout : ++c.err_read;
      ERR_clear_error();
      finish(false);
      return;
    }
  }
  ERR_clear_error();
  if (st == response_reader::state::bad || rr.status() != 200) {
    ++c.err_status;
  } else {
    ++c.requests;
    c.bytes += rr.size();
    c.latencies_us.push_back(static_cast<std::uint32_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - t0).count()));
  }
  finish(true);
}

counters run_handshakes(SSL_CTX* ctx, const options& o, double& seconds) {
  const sockaddr_in sa = address_of(o);
  const std::string req = request_text(o, true);
  std::vector<counters> per(static_cast<std::size_t>(o.concurrency));
  std::vector<std::thread> threads;
  const auto t0 = steady::now();
  const auto end = t0 + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(o.duration_s));
  for (auto& c : per) {
    threads.emplace_back([&, cp = &c] {
      while (steady::now() < end) {
        one_request(ctx, o, sa, req, *cp);
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  seconds = std::chrono::duration<double>(steady::now() - t0).count();
  counters all;
  for (const auto& c : per) {
    all.add(c);
  }
  return all;
}

// ------------------------------------------------------------------------------------------------
// Idle mode: epoll, non-blocking; a connection goes connecting -> handshake -> writing -> reading
// -> idle (or failed).
// ------------------------------------------------------------------------------------------------
struct idle_conn {
  enum class phase { connecting, handshake, writing, reading, idle, failed };
  int fd = -1;
  SSL* ssl = nullptr;
  phase ph = phase::connecting;
  std::size_t written = 0;
  steady::time_point started;
  response_reader rr;
};

class idle_client {
 public:
  idle_client(SSL_CTX* ctx, const options& o) : ctx_(ctx), o_(o), sa_(address_of(o)), req_(request_text(o, false)) {
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    conns_.resize(static_cast<std::size_t>(o.idle));
  }
  ~idle_client() {
    for (auto& c : conns_) {
      if (c.ssl != nullptr) {
        SSL_free(c.ssl);
      }
      if (c.fd >= 0) {
        ::close(c.fd);
      }
    }
    ::close(ep_);
  }
  idle_client(const idle_client&) = delete;
  idle_client& operator=(const idle_client&) = delete;

  /** Sets up every connection; returns the seconds it took. */
  double setup() {
    const auto t0 = steady::now();
    const auto deadline =
        t0 + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(o_.setup_timeout_s));
    std::size_t next = 0;
    while (true) {
      while (in_flight_ < o_.concurrency && next < conns_.size()) {
        start(next++);
      }
      if (in_flight_ == 0 && next == conns_.size()) {
        break;
      }
      if (steady::now() > deadline) {
        for (std::size_t i = 0; i < next; ++i) {
          if (conns_[i].ph != idle_conn::phase::idle && conns_[i].ph != idle_conn::phase::failed) {
            fail(conns_[i], c_.err_timeout);
          }
        }
        c_.err_timeout += conns_.size() - next;  // never started
        break;
      }
      poll(100);
    }
    return std::chrono::duration<double>(steady::now() - t0).count();
  }

  /** Holds the idle connections for S seconds, then checks that each is still open. */
  void hold(double seconds) {
    const auto end = steady::now() + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(seconds));
    while (steady::now() < end) {
      poll(100);
    }
    for (auto& c : conns_) {
      if (c.ph == idle_conn::phase::idle) {
        check_open(c);
      }
    }
  }

  [[nodiscard]] std::size_t open() const {
    return static_cast<std::size_t>(
        std::count_if(conns_.begin(), conns_.end(), [](const idle_conn& c) { return c.ph == idle_conn::phase::idle; }));
  }
  counters& result() { return c_; }

 private:
  void start(std::size_t i) {
    idle_conn& c = conns_[i];
    c.started = steady::now();
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) {
      std::fprintf(stderr, "bench_handshake_client: socket: %s\n", std::strerror(errno));
      c.ph = idle_conn::phase::failed;
      ++c_.err_connect;
      return;
    }
    ++in_flight_;
    const int one = 1;
    ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = i;
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev);
    if (::connect(c.fd, reinterpret_cast<const sockaddr*>(&sa_), sizeof sa_) != 0 && errno != EINPROGRESS) {
      fail(c, c_.err_connect);
    }
  }

  void poll(int ms) {
    epoll_event evs[256];
    const int n = ::epoll_wait(ep_, evs, 256, ms);
    for (int k = 0; k < n; ++k) {
      step(conns_[evs[k].data.u64], evs[k].events);
    }
  }

  void fail(idle_conn& c, std::uint64_t& counter) {
    if (c.ph != idle_conn::phase::idle) {
      --in_flight_;
    }
    ++counter;
    c.ph = idle_conn::phase::failed;
    ERR_clear_error();
    if (c.ssl != nullptr) {
      SSL_free(c.ssl);
      c.ssl = nullptr;
    }
    ::close(c.fd);
    c.fd = -1;
  }

  /** Drives one connection as far as it goes without blocking. */
  void step(idle_conn& c, std::uint32_t events) {
    using ph = idle_conn::phase;
    if (c.ph == ph::connecting) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        fail(c, c_.err_connect);
        return;
      }
      if ((events & EPOLLOUT) == 0) {
        return;
      }
      c.ssl = SSL_new(ctx_);
      SSL_set_fd(c.ssl, c.fd);
      SSL_set_tlsext_host_name(c.ssl, o_.sni.c_str());
      SSL_set_connect_state(c.ssl);
      c.ph = ph::handshake;
    }
    if (c.ph == ph::handshake) {
      const int r = SSL_do_handshake(c.ssl);
      if (r != 1) {
        const int e = SSL_get_error(c.ssl, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
          fail(c, c_.err_connect);
        }
        return;
      }
      if (SSL_session_reused(c.ssl) != 0) {
        ++c_.resumed;
      }
      c.ph = ph::writing;
    }
    if (c.ph == ph::writing) {
      while (c.written < req_.size()) {
        std::size_t n = 0;
        const int r = SSL_write_ex(c.ssl, req_.data() + c.written, req_.size() - c.written, &n);
        if (r != 1) {
          const int e = SSL_get_error(c.ssl, r);
          if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            fail(c, c_.err_write);
          }
          return;
        }
        c.written += n;
      }
      c.ph = ph::reading;
    }
    if (c.ph == ph::reading) {
      char buf[16384];
      while (true) {
        std::size_t n = 0;
        const int r = SSL_read_ex(c.ssl, buf, sizeof buf, &n);
        if (r != 1) {
          const int e = SSL_get_error(c.ssl, r);
          if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            return;
          }
          fail(c, c_.err_read);
          return;
        }
        const auto st = c.rr.feed(buf, n);
        if (st == response_reader::state::bad || (st == response_reader::state::done && c.rr.status() != 200)) {
          fail(c, c_.err_status);
          return;
        }
        if (st == response_reader::state::done) {
          ++c_.requests;
          c_.bytes += c.rr.size();
          c_.latencies_us.push_back(static_cast<std::uint32_t>(
              std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - c.started).count()));
          c.rr = response_reader{};
          c.ph = ph::idle;
          --in_flight_;
          return;
        }
      }
    }
    if (c.ph == ph::idle) {
      check_open(c);
    }
  }

  /** An idle connection is open while a read would block; data, EOF or an error close it. */
  void check_open(idle_conn& c) {
    char buf[4096];
    while (true) {
      std::size_t n = 0;
      const int r = SSL_read_ex(c.ssl, buf, sizeof buf, &n);
      if (r == 1) {
        continue;  // e.g. a late NewSessionTicket is consumed inside SSL_read; real data is unexpected
      }
      const int e = SSL_get_error(c.ssl, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        ERR_clear_error();
        return;
      }
      fail(c, c_.err_read);
      return;
    }
  }

  SSL_CTX* ctx_;
  const options& o_;
  sockaddr_in sa_;
  std::string req_;
  int ep_ = -1;
  std::vector<idle_conn> conns_;
  int in_flight_ = 0;
  counters c_;
};

std::uint32_t percentile(std::vector<std::uint32_t>& v, double p) {
  if (v.empty()) {
    return 0;
  }
  const auto k = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

void print_result(counters& c, double seconds, std::optional<std::size_t> open) {
  auto& l = c.latencies_us;
  double mean = 0;
  for (const auto x : l) {
    mean += x;
  }
  mean = l.empty() ? 0 : mean / static_cast<double>(l.size());
  const std::uint32_t max = l.empty() ? 0 : *std::max_element(l.begin(), l.end());
  const auto p50 = percentile(l, 50);
  const auto p90 = percentile(l, 90);
  const auto p99 = percentile(l, 99);
  std::printf(
      "WRK_RESULT requests=%llu duration_us=%.0f bytes=%llu p50_us=%u p90_us=%u p99_us=%u mean_us=%.0f max_us=%u "
      "err_connect=%llu err_read=%llu err_write=%llu err_timeout=%llu err_status=%llu resumed=%llu",
      static_cast<unsigned long long>(c.requests), seconds * 1e6, static_cast<unsigned long long>(c.bytes), p50, p90,
      p99, mean, max, static_cast<unsigned long long>(c.err_connect), static_cast<unsigned long long>(c.err_read),
      static_cast<unsigned long long>(c.err_write), static_cast<unsigned long long>(c.err_timeout),
      static_cast<unsigned long long>(c.err_status), static_cast<unsigned long long>(c.resumed));
  if (open) {
    std::printf(" open=%zu", *open);
  }
  std::printf("\n");
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const options o = parse(argc, argv);
  std::signal(SIGPIPE, SIG_IGN);  // a peer that closed early is an error counted, not a death
  SSL_CTX* ctx = make_context();
  if (o.idle > 0) {
    // Each connection is one descriptor: raise the soft limit to the hard one.
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
      rl.rlim_cur = rl.rlim_max;
      ::setrlimit(RLIMIT_NOFILE, &rl);
    }
    auto client = std::make_unique<idle_client>(ctx, o);
    const double seconds = client->setup();
    std::printf("IDLE_READY open=%zu errors=%llu setup_us=%.0f\n", client->open(),
                static_cast<unsigned long long>(client->result().errors()), seconds * 1e6);
    std::fflush(stdout);
    client->hold(o.hold_s);
    const std::size_t open = client->open();
    counters& c = client->result();
    print_result(c, seconds, open);
    const bool ok = c.errors() == 0 && c.resumed == 0 && open == static_cast<std::size_t>(o.idle);
    client.reset();
    SSL_CTX_free(ctx);
    return ok ? 0 : 1;
  }
  double seconds = 0;
  counters c = run_handshakes(ctx, o, seconds);
  print_result(c, seconds, std::nullopt);
  SSL_CTX_free(ctx);
  return c.errors() == 0 && c.resumed == 0 && c.requests > 0 ? 0 : 1;
}
