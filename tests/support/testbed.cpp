// The real-peer test bed: runs make_testbed.sh into a temp dir, serves its zones with NSD and its
// certificates with TLS backends on loopback, and takes everything down at exit.
#include "tests/support/testbed.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

#ifndef DANEGATE_TESTBED_SCRIPT
#error "DANEGATE_TESTBED_SCRIPT (path of tests/data/make_testbed.sh) must be defined"
#endif
#ifndef DANEGATE_SMTP_TEST_SERVER
#error "DANEGATE_SMTP_TEST_SERVER (path of the danegate_smtp_test_server binary) must be defined"
#endif
#ifndef DANEGATE_HTTP_TEST_BACKEND
#error "DANEGATE_HTTP_TEST_BACKEND (path of the danegate_http_test_backend binary) must be defined"
#endif
#ifndef DANEGATE_TLS_ECHO_SERVER
#error "DANEGATE_TLS_ECHO_SERVER (path of the danegate_tls_echo_server binary) must be defined"
#endif

namespace danegate::test {
namespace {

using namespace std::chrono_literals;

constexpr auto start_timeout = 10s;

/** Every address a backend listens on (or, for .40, a test's own plain listener). */
constexpr std::array backend_addresses{"127.0.0.10", "127.0.0.11", "127.0.0.12", "127.0.0.20",
                                       "127.0.0.21", "127.0.0.22", "127.0.0.23", "127.0.0.30",
                                       "127.0.0.40", "127.0.0.50", "127.0.0.51", "127.0.0.52"};

/** Where danegate_tls_echo_server listens (DNS host `echo`). */
constexpr const char* echo_server_address = "127.0.0.52";

/** The danegate_http_test_backend instances: name (also --name), address, certificate base name. */
struct http_backend_spec {
    const char* name;
    const char* address;
    const char* cert;
};
constexpr std::array http_backend_specs{
    http_backend_spec{"ee50", "127.0.0.50", "ee"},
    http_backend_spec{"rsa51", "127.0.0.51", "ee-rsa"},
};

/** Closes a descriptor on scope exit. */
struct socket_guard {
    int fd;
    explicit socket_guard(int f) : fd(f) {}
    ~socket_guard()
    {
        if (fd >= 0) {
            ::close(fd);
        }
    }
    socket_guard(const socket_guard&) = delete;
    socket_guard& operator=(const socket_guard&) = delete;
};

sockaddr_in ipv4(const char* address, std::uint16_t port)
{
    sockaddr_in result{};
    result.sin_family = AF_INET;
    result.sin_port = htons(port);
    if (::inet_pton(AF_INET, address, &result.sin_addr) != 1) {
        throw std::runtime_error(std::string("bad IPv4 address ") + address);
    }
    return result;
}

/** Binds a new socket of `type` to address:port; returns it (-1 when the bind fails). */
int try_bind(int type, const char* address, std::uint16_t port)
{
    const int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        throw std::system_error(errno, std::generic_category(), "socket");
    }
    // No SO_REUSEADDR: the bind must fail when anything, including a wildcard listener, already
    // holds the port.
    const auto sa = ipv4(address, port);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

std::uint16_t bound_port(int fd)
{
    sockaddr_in sa{};
    socklen_t length = sizeof sa;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &length) != 0) {
        throw std::system_error(errno, std::generic_category(), "getsockname");
    }
    return ntohs(sa.sin_port);
}

/** A TCP port the kernel hands out on the first address and that is free on all the others. */
std::uint16_t pick_backend_port()
{
    for (int attempt = 0; attempt < 100; ++attempt) {
        socket_guard first(try_bind(SOCK_STREAM, backend_addresses[0], 0));
        if (first.fd < 0) {
            throw std::system_error(errno, std::generic_category(), "bind 127.0.0.10:0");
        }
        const auto port = bound_port(first.fd);
        bool free_everywhere = true;
        for (std::size_t i = 1; i < backend_addresses.size() && free_everywhere; ++i) {
            const int fd = try_bind(SOCK_STREAM, backend_addresses[i], port);
            free_everywhere = fd >= 0;
            if (fd >= 0) {
                ::close(fd);
            }
        }
        if (free_everywhere) {
            return port;
        }
    }
    throw std::runtime_error("no TCP port free on all of 127.0.0.10-52 after 100 attempts");
}

/** A port free for both UDP and TCP on 127.0.0.1 (NSD needs both). */
std::uint16_t pick_dns_port()
{
    for (int attempt = 0; attempt < 100; ++attempt) {
        socket_guard tcp(try_bind(SOCK_STREAM, "127.0.0.1", 0));
        if (tcp.fd < 0) {
            throw std::system_error(errno, std::generic_category(), "bind 127.0.0.1:0");
        }
        const auto port = bound_port(tcp.fd);
        socket_guard udp(try_bind(SOCK_DGRAM, "127.0.0.1", port));
        if (udp.fd >= 0) {
            return port;
        }
    }
    throw std::runtime_error("no UDP+TCP port free on 127.0.0.1 after 100 attempts");
}

std::string read_file(const std::filesystem::path& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error("cannot read " + path.string());
    }
    std::ostringstream content;
    content << in.rdbuf();
    return content.str();
}

void write_file(const std::filesystem::path& path, const std::string& content)
{
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out.flush()) {
        throw std::runtime_error("cannot write " + path.string());
    }
}

/** Writes `to` from the template `from` with every @DNSPORT@ replaced. */
void instantiate(const std::filesystem::path& from, const std::filesystem::path& to, std::uint16_t dns_port)
{
    static constexpr std::string_view placeholder = "@DNSPORT@";
    auto content = read_file(from);
    const auto value = std::to_string(dns_port);
    for (auto at = content.find(placeholder); at != std::string::npos; at = content.find(placeholder, at)) {
        content.replace(at, placeholder.size(), value);
        at += value.size();
    }
    write_file(to, content);
}

/** A DNS query for the zone's SOA (no RD: NSD is authoritative only). */
std::vector<unsigned char> soa_query(std::uint16_t id, std::string_view zone)
{
    // Header: id, flags 0 (a plain query), QDCOUNT 1, AN/NS/ARCOUNT 0.
    std::vector<unsigned char> packet(12, 0);
    packet[0] = static_cast<unsigned char>(id >> 8);
    packet[1] = static_cast<unsigned char>(id & 0xff);
    packet[5] = 1;
    std::size_t start = 0;
    while (start < zone.size()) {
        auto end = zone.find('.', start);
        if (end == std::string_view::npos) {
            end = zone.size();
        }
        packet.push_back(static_cast<unsigned char>(end - start));
        packet.insert(packet.end(), zone.begin() + static_cast<std::ptrdiff_t>(start),
                      zone.begin() + static_cast<std::ptrdiff_t>(end));
        start = end + 1;
    }
    packet.insert(packet.end(), {0, 0, 6, 0, 1});  // root label, type SOA, class IN
    return packet;
}

/**
 * Whether NSD gives an authoritative NOERROR answer for the zone's SOA within `wait`. A TCP
 * connect alone is not enough: NSD binds its sockets before it has read the zones.
 */
bool nsd_answers(std::uint16_t dns_port, std::string_view zone, std::chrono::milliseconds wait)
{
    socket_guard fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (fd.fd < 0) {
        throw std::system_error(errno, std::generic_category(), "socket");
    }
    const auto server = ipv4("127.0.0.1", dns_port);
    if (::connect(fd.fd, reinterpret_cast<const sockaddr*>(&server), sizeof server) != 0) {
        return false;
    }
    static std::mt19937 random{std::random_device{}()};
    const auto id = static_cast<std::uint16_t>(random());
    const auto query = soa_query(id, zone);
    if (::send(fd.fd, query.data(), query.size(), 0) != static_cast<ssize_t>(query.size())) {
        return false;
    }
    pollfd pfd{fd.fd, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(wait.count())) != 1) {
        return false;
    }
    std::array<unsigned char, 4096> answer{};
    const auto n = ::recv(fd.fd, answer.data(), answer.size(), 0);
    if (n < 12) {
        return false;
    }
    const bool same_id = answer[0] == (id >> 8) && answer[1] == (id & 0xff);
    const bool response = (answer[2] & 0x80) != 0;
    const bool authoritative = (answer[2] & 0x04) != 0;
    const bool noerror = (answer[3] & 0x0f) == 0;
    const bool has_answer = answer[6] != 0 || answer[7] != 0;
    return same_id && response && authoritative && noerror && has_answer;
}

std::string failure_message(const child_process& process, const std::string& what)
{
    return what + "\n  command: " + process.command() + "\n  log (" + process.log_file().string() + "):\n" +
        process.log();
}

/** Waits until `address:port` accepts TCP connections; throws if `process` exits first. */
void wait_until_accepting(const child_process& process, const std::string& address, std::uint16_t port)
{
    const auto deadline = std::chrono::steady_clock::now() + start_timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (wait_for_tcp(address, port, 100ms)) {
            return;
        }
        if (!process.running()) {
            throw std::runtime_error(
                failure_message(process,
                                "exited (status " + std::to_string(process.exit_code().value_or(-1)) +
                                    ") before accepting on " + address + ":" + std::to_string(port)));
        }
    }
    throw std::runtime_error(
        failure_message(process, "not accepting on " + address + ":" + std::to_string(port) + " after 10 s"));
}

bool keep_testbed()
{
    return std::getenv("DANEGATE_KEEP_TESTBED") != nullptr;
}

}  // namespace

testbed::temp_dir::temp_dir() : owner(::getpid())
{
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = (tmp != nullptr && *tmp != '\0' ? std::string(tmp) : std::string("/tmp")) +
        "/danegate-testbed-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
        throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
    }
    path = pattern;
}

testbed::temp_dir::~temp_dir()
{
    if (::getpid() != owner) {
        return;
    }
    if (keep_testbed()) {
        std::cerr << "danegate test bed kept in " << path.string() << "\n";
        return;
    }
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
}

const testbed& testbed::get()
{
    // Function-local statics: built on the first call, destroyed at exit (which stops the
    // processes and removes the directory). A failure is remembered so that every test in the
    // executable fails at once with the same message instead of retrying a slow start-up.
    static std::mutex mutex;
    static std::unique_ptr<testbed> instance;
    static std::string failure;
    const std::lock_guard lock(mutex);
    if (instance) {
        return *instance;
    }
    if (!failure.empty()) {
        throw std::runtime_error(failure);
    }
    try {
        instance.reset(new testbed());
    } catch (const std::exception& e) {
        failure = std::string("danegate test bed failed to start: ") + e.what();
        throw std::runtime_error(failure);
    }
    return *instance;
}

testbed::testbed() : dir_(temp_.path)
{
    const auto started = std::chrono::steady_clock::now();
    std::filesystem::create_directories(dir_ / "logs");
    port_ = pick_backend_port();

    {
        child_process script({"/bin/bash", DANEGATE_TESTBED_SCRIPT, dir_.string(), std::to_string(port_)},
                             dir_ / "logs" / "make_testbed.out");
        if (const int status = script.wait(); status != 0) {
            throw std::runtime_error(
                failure_message(script, "make_testbed.sh failed with status " + std::to_string(status)));
        }
    }

    std::istringstream digests(read_file(file("digests.env")));
    for (std::string line; std::getline(digests, line);) {
        if (const auto eq = line.find('='); eq != std::string::npos) {
            digests_.emplace(line.substr(0, eq), line.substr(eq + 1));
        }
    }

    start_nsd();
    start_backends();

    if (keep_testbed()) {
        const auto elapsed =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
        std::cerr << "danegate test bed in " << dir_.string() << ": port " << port_ << ", NSD on 127.0.0.1@"
                  << dns_port_ << ", started in " << elapsed.count() << " ms\n";
    }
}

testbed::~testbed()
{
    stop_all();
}

void testbed::stop_all()
{
    // SIGTERM to all first so that they shut down in parallel, then reap (SIGKILL stragglers).
    for (auto& process : processes_) {
        process->terminate();
    }
    while (!processes_.empty()) {
        processes_.pop_back();
    }
}

void testbed::start_nsd()
{
    // The port is free when picked but could be taken before NSD binds it: retry a few times.
    std::string last_failure;
    for (int attempt = 0; attempt < 3; ++attempt) {
        dns_port_ = pick_dns_port();
        instantiate(file("nsd.conf.in"), file("nsd.conf"), dns_port_);
        instantiate(file("unbound.conf.in"), file("unbound.conf"), dns_port_);
        auto nsd = std::make_unique<child_process>(
            std::vector<std::string>{"nsd", "-d", "-c", file("nsd.conf").string()},
            dir_ / "logs" / "nsd.log");
        const auto deadline = std::chrono::steady_clock::now() + start_timeout;
        while (nsd->running() && std::chrono::steady_clock::now() < deadline) {
            if (nsd_answers(dns_port_, zone(), 100ms)) {
                processes_.push_back(std::move(nsd));
                return;
            }
            // A refused query fails at once: do not spin while NSD is still loading.
            std::this_thread::sleep_for(20ms);
        }
        if (nsd->running()) {
            throw std::runtime_error(failure_message(*nsd,
                                                     "NSD on 127.0.0.1@" + std::to_string(dns_port_) +
                                                         " did not answer for " + zone() + " within 10 s"));
        }
        last_failure =
            failure_message(*nsd, "NSD exited with status " + std::to_string(nsd->exit_code().value_or(-1)));
    }
    throw std::runtime_error(last_failure);
}

void testbed::start_backends()
{
    struct backend {
        const char* address;
        const char* cert;
        const char* chain;  // nullptr: the certificate alone
    };
    static constexpr std::array https_backends{
        backend{"127.0.0.10", "ee", nullptr},
        backend{"127.0.0.11", "ee-rsa", nullptr},
        backend{"127.0.0.12", "ee-expired", nullptr},
        backend{"127.0.0.20", "ta-leaf", "chain-full.pem"},
        backend{"127.0.0.21", "ta-other", "chain-full.pem"},
        backend{"127.0.0.22", "ta-expired", "chain-full.pem"},
        backend{"127.0.0.23", "ta-noroot", "chain-int.pem"},  // the root is deliberately not sent
    };
    const auto port = std::to_string(port_);
    std::vector<std::pair<const child_process*, std::string>> waits;
    for (const auto& b : https_backends) {
        std::vector<std::string> argv{"openssl", "s_server",
                                      "-quiet",  "-www",
                                      "-accept", std::string(b.address) + ":" + port,
                                      "-cert",   file(std::string(b.cert) + ".pem").string(),
                                      "-key",    file(std::string(b.cert) + ".key").string()};
        if (b.chain != nullptr) {
            argv.insert(argv.end(), {"-cert_chain", file(b.chain).string()});
        }
        processes_.push_back(std::make_unique<child_process>(
            std::move(argv), dir_ / "logs" / (std::string("s_server-") + b.address + ".log")));
        waits.emplace_back(processes_.back().get(), b.address);
    }
    processes_.push_back(std::make_unique<child_process>(
        std::vector<std::string>{DANEGATE_SMTP_TEST_SERVER, "127.0.0.30", port, file("ee.pem").string(),
                                 file("ee.key").string()},
        dir_ / "logs" / "smtp-127.0.0.30.log"));
    waits.emplace_back(processes_.back().get(), "127.0.0.30");

    for (const auto& b : http_backend_specs) {
        const auto record = file(std::string("http-backend-") + b.name + ".record");
        write_file(record, "");  // exists (empty) even before the first request
        processes_.push_back(std::make_unique<child_process>(
            std::vector<std::string>{DANEGATE_HTTP_TEST_BACKEND, "--listen", std::string(b.address) + ":" + port,
                                     "--cert", file(std::string(b.cert) + ".pem").string(), "--key",
                                     file(std::string(b.cert) + ".key").string(), "--record", record.string(),
                                     "--name", b.name},
            dir_ / "logs" / (std::string("http-backend-") + b.name + ".log")));
        waits.emplace_back(processes_.back().get(), b.address);
        http_backends_.emplace(b.name, http_backend{b.address, record});
    }

    echo_record_ = file("tls-echo.record");
    write_file(echo_record_, "");
    processes_.push_back(std::make_unique<child_process>(
        std::vector<std::string>{DANEGATE_TLS_ECHO_SERVER, "--listen", std::string(echo_server_address) + ":" + port,
                                 "--cert", file("ee.pem").string(), "--key", file("ee.key").string(), "--record",
                                 echo_record_.string()},
        dir_ / "logs" / "tls-echo.log"));
    waits.emplace_back(processes_.back().get(), echo_server_address);

    for (const auto& [process, address] : waits) {
        wait_until_accepting(*process, address, port_);
    }
}

std::string testbed::echo_address() const
{
    return std::string(echo_server_address) + ":" + std::to_string(port_);
}

std::string testbed::endpoint(std::string_view label) const
{
    return host(label) + ":" + std::to_string(port());
}

std::vector<std::string> testbed::echo_connections() const
{
    std::istringstream content(read_file(echo_record_));
    std::vector<std::string> lines;
    for (std::string line; std::getline(content, line);) {
        if (line.ends_with(" connected")) {
            lines.push_back(std::move(line));
        }
    }
    return lines;
}

std::string testbed::forwarder() const
{
    return "127.0.0.1@" + std::to_string(dns_port_);
}

std::string testbed::host(std::string_view label) const
{
    return std::string(label) + ".dg.test";
}

std::string testbed::tlsa_name(std::string_view label) const
{
    return "_" + std::to_string(port_) + "._tcp." + host(label);
}

std::string testbed::digest(std::string_view key) const
{
    const auto found = digests_.find(key);
    if (found == digests_.end()) {
        throw std::out_of_range("testbed::digest: no " + std::string(key) + " in digests.env");
    }
    return found->second;
}

std::vector<std::string> testbed::backend_names() const
{
    std::vector<std::string> names;
    for (const auto& b : http_backend_specs) {
        names.emplace_back(b.name);
    }
    return names;
}

std::string testbed::backend_address(std::string_view name) const
{
    const auto found = http_backends_.find(name);
    if (found == http_backends_.end()) {
        throw std::out_of_range("testbed::backend_address: no HTTP backend " + std::string(name));
    }
    return found->second.address + ":" + std::to_string(port_);
}

std::filesystem::path testbed::backend_record(std::string_view name) const
{
    const auto found = http_backends_.find(name);
    if (found == http_backends_.end()) {
        throw std::out_of_range("testbed::backend_record: no HTTP backend " + std::string(name));
    }
    return found->second.record;
}

std::vector<std::string> testbed::backend_requests(std::string_view name) const
{
    std::istringstream content(read_file(backend_record(name)));
    std::vector<std::string> lines;
    for (std::string line; std::getline(content, line);) {
        lines.push_back(std::move(line));
    }
    return lines;
}

}  // namespace danegate::test
