// A `danegate run` child for one end-to-end suite, in front of the test bed: the configuration is
// written next to the bed's files (threads: 2, the bed's anchor and NSD as forwarder, one HTTP
// listener on a free port with the ta-leaf certificate), then only routes, upstreams and extra
// top-level keys differ between suites. Plus what those suites share: curl through the proxy,
// SHA-256 of files, and the check that neither danegate nor the bed's backends (both built with
// the sanitizer of the build under test) reported anything.
#pragma once

#include "tests/support/process.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace danegate::test {

/** What curl got through the proxy. */
struct curl_reply {
    int status = 0;        ///< %{http_code}; 0 when no response arrived
    std::string body;      ///< the response body (empty when written to a file with -o)
    std::string headers;   ///< the response header block (-D), lower-cased
    int exit_code = -1;    ///< curl's own exit code
};

class e2e_proxy {
public:
    /**
     * Writes `<bed dir>/<name>.yaml` and starts danegate with it (log: `<name>.log`).
     * @param routes     YAML list items for the listener's `routes:`, each line indented 6 spaces
     * @param upstreams  YAML list items for `upstreams:`, each line indented 2 spaces
     * @param extra      further top-level keys (e.g. "limits: { header_timeout: 3s }\n")
     * Fails the calling test (ADD_FAILURE) when danegate does not listen within 20 s.
     */
    e2e_proxy(const std::string& name, const std::string& routes, const std::string& upstreams,
              const std::string& extra = {});

    /** Stops danegate (see stop()). */
    ~e2e_proxy();

    e2e_proxy(const e2e_proxy&) = delete;
    e2e_proxy& operator=(const e2e_proxy&) = delete;

    std::uint16_t port() const { return port_; }
    const child_process& process() const { return *process_; }
    std::string log() const { return process_->log(); }

    /**
     * curl -sk through the proxy to https://HOST:port()PATH (HOST resolved to 127.0.0.1), at most
     * `max_time` seconds, with `extra` arguments appended.
     */
    curl_reply curl(const std::string& host, const std::string& path, const std::vector<std::string>& extra = {},
                    int max_time = 60) const;

    /**
     * Fails the calling test when danegate's log or a test bed HTTP backend's log holds a
     * sanitizer report (for the suite's TearDownTestSuite, while everything still runs).
     */
    void expect_no_sanitizer_reports() const;

    /**
     * SIGTERM, then waits up to `grace` (TSan builds are slow to drain and exit): fails the calling
     * test unless danegate exits 0 (TSan exits 66 after a report) and its log holds no report.
     */
    void stop(std::chrono::milliseconds grace = std::chrono::seconds(20));

private:
    std::uint16_t port_ = 0;
    std::unique_ptr<child_process> process_;
    bool stopped_ = false;
};

/** Lower-case hex SHA-256 of a file's content. */
std::string sha256_of_file(const std::filesystem::path& path);

/** Writes `size` bytes of the test backend's /bytes pattern (byte i = i % 251) to `path`. */
void write_pattern_file(const std::filesystem::path& path, std::size_t size);

/**
 * `path` with a suffix never returned before in this process ("/echo/x" -> "/echo/x-7"), so that a
 * request can be counted in the backend's record even when tests repeat (--gtest_repeat).
 */
std::string unique_target(const std::string& path);

/**
 * How many requests for exactly `target` the test bed backend `name` recorded (record lines are
 * "<connection> <METHOD> <target>"); `method` empty means any method.
 */
std::size_t backend_requests_for(const std::string& name, const std::string& target, const std::string& method = {});

}  // namespace danegate::test
