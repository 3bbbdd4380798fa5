// See e2e_proxy.hpp.
#include "tests/integration/e2e_proxy.hpp"

#include "tests/integration/danegate_runner.hpp"
#include "tests/support/testbed.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace danegate::test {
namespace {

using namespace std::chrono_literals;

std::string read_text(const std::filesystem::path& path)
{
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string lower(std::string text)
{
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
    return text;
}

}  // namespace

e2e_proxy::e2e_proxy(const std::string& name, const std::string& routes, const std::string& upstreams,
                     const std::string& extra)
{
    const auto& bed = testbed::get();
    port_ = free_tcp_port();
    const auto config = bed.dir() / (name + ".yaml");
    // threads: 2 in every end-to-end configuration, so that the TSan stage has two io threads
    // to race (DESIGN §4: one strand per connection, shared with its upstream leg).
    std::ofstream(config) << "threads: 2\n"
                             "resolver:\n"
                             "  trust_anchor_file: " << bed.trust_anchor_file().string() << "\n"
                             "  forwarders: [ \"" << bed.forwarder() << "\" ]\n"
                             "  timeout: 3s\n"
                             "listeners:\n"
                             "  - name: web\n"
                             "    address: 127.0.0.1:" << port_ << "\n"
                             "    tls:\n"
                             "      certificates: [ { cert: " << bed.file("ta-leaf.pem").string()
                          << ", key: " << bed.file("ta-leaf.key").string() << " } ]\n"
                             "    routes:\n"
                          << routes << "upstreams:\n"
                          << upstreams << "log: { access: stdout }\n"
                          << extra;
    process_ = start_danegate_run(config, bed.dir() / (name + ".log"), port_);
}

e2e_proxy::~e2e_proxy()
{
    if (!stopped_) {
        stop();
    }
}

curl_reply e2e_proxy::curl(const std::string& host, const std::string& path, const std::vector<std::string>& extra,
                           int max_time) const
{
    static int counter = 0;
    const auto headers_file = testbed::get().dir() / ("curl-headers-" + std::to_string(++counter) + ".txt");
    std::vector<std::string> argv{"curl", "-sk", "--max-time", std::to_string(max_time), "--resolve",
                                  host + ":" + std::to_string(port_) + ":127.0.0.1", "-D", headers_file.string(),
                                  "-w", "\n%{http_code}", "https://" + host + ":" + std::to_string(port_) + path};
    argv.insert(argv.end(), extra.begin(), extra.end());
    std::string output;
    curl_reply reply;
    reply.exit_code = run_command(argv, &output);
    const auto newline = output.rfind('\n');
    if (newline != std::string::npos) {
        reply.status = std::atoi(output.c_str() + newline + 1);
        reply.body = output.substr(0, newline);
    }
    reply.headers = lower(read_text(headers_file));
    std::filesystem::remove(headers_file);
    return reply;
}

void e2e_proxy::expect_no_sanitizer_reports() const
{
    process_->expect_no_sanitizer_report();
    const auto& bed = testbed::get();
    for (const auto& backend : bed.backend_names()) {
        const auto log = bed.dir() / "logs" / ("http-backend-" + backend + ".log");
        if (const auto report = find_sanitizer_report(read_text(log))) {
            ADD_FAILURE() << "sanitizer report in the test backend " << backend << " (" << log.string() << "):\n"
                          << *report;
        }
    }
}

void e2e_proxy::stop(std::chrono::milliseconds grace)
{
    stopped_ = true;
    expect_no_sanitizer_reports();
    // DESIGN §2: SIGTERM drains and exits 0. ThreadSanitizer turns that into 66 after a report
    // (which stop() itself also finds in the log).
    const int status = process_->stop(grace);
    EXPECT_EQ(status, 0) << "danegate did not exit cleanly on SIGTERM (TSan exits 66 after a report); log "
                         << process_->log_file().string();
}

std::string sha256_of_file(const std::filesystem::path& path)
{
    std::string output;
    const int status = run_command({"sha256sum", path.string()}, &output);
    if (status != 0 || output.size() < 64) {
        throw std::runtime_error("sha256sum " + path.string() + " failed");
    }
    return output.substr(0, 64);
}

void write_pattern_file(const std::filesystem::path& path, std::size_t size)
{
    std::string content(size, '\0');
    for (std::size_t i = 0; i < size; ++i) {
        content[i] = static_cast<char>(i % 251);
    }
    std::ofstream(path, std::ios::binary) << content;
}

std::string unique_target(const std::string& path)
{
    static std::atomic<unsigned> counter{0};
    return path + "-" + std::to_string(++counter);
}

std::size_t backend_requests_for(const std::string& name, const std::string& target, const std::string& method)
{
    std::size_t count = 0;
    for (const auto& line : testbed::get().backend_requests(name)) {
        // "<connection> <METHOD> <target>": a request target holds no space.
        std::istringstream fields(line);
        std::string connection, line_method, line_target;
        fields >> connection >> line_method >> line_target;
        if (line_target == target && (method.empty() || line_method == method)) {
            ++count;
        }
    }
    return count;
}

}  // namespace danegate::test
