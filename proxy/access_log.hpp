// The access log (DESIGN §5): one JSON object per request, carrying the DANE reason word and the
// matched record, to stdout, a file, or nowhere (`log.access`).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace spdlog {
class logger;
}

namespace danegate::proxy {

/** One request as the access log records it. */
struct access_record {
    std::chrono::system_clock::time_point time;
    std::string client;  ///< "ADDR:PORT"
    std::string sni;
    std::string host;
    std::string method;
    std::string path;
    unsigned status = 0;
    std::uint64_t bytes_in = 0;   ///< request body bytes from the client
    std::uint64_t bytes_out = 0;  ///< response body bytes to the client
    std::chrono::microseconds duration{0};
    std::string upstream;   ///< "host:port (address)" once an upstream was tried
    std::string dane;       ///< reason word (empty when no upstream was tried)
    std::string matched;    ///< "3 1 1 <hex>" when authenticated
    std::string detail;     ///< why it failed, for non-2xx answers made by danegate
};

/** @p record as one line of JSON, without the newline. */
std::string to_json(const access_record& record);

/** Where access records go; thread-safe. */
class access_log {
public:
    /** @param where "stdout", "off", or a file path (appended to). */
    explicit access_log(const std::string& where);
    ~access_log();

    void write(const access_record& record) const;

    /** Whether lines are written at all: sessions skip building fields only the log reads. */
    bool enabled() const noexcept { return logger_ != nullptr; }

private:
    std::shared_ptr<spdlog::logger> logger_;  // null when off
};

}  // namespace danegate::proxy
