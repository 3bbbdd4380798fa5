// A deliberately dumb HTTPS client for black-box proxy tests: it sends the exact bytes a test
// gives it (malformed framing included, which real clients refuse to produce) and returns every
// byte the server sent until it closed or went quiet. Certificate checks are off: the proxy's own
// certificate is not what these tests are about.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace danegate::test {

struct raw_exchange {
    bool connected = false;
    std::string response;  ///< everything received
    std::string error;     ///< why the exchange ended early, if it did

    /** The status code of the first response line ("HTTP/1.1 502 ..."), or 0. */
    int status() const;
};

/**
 * Connects to @p address:@p port over TLS with SNI @p sni, writes @p request, and reads until the
 * server closes or nothing arrives for @p quiet.
 */
raw_exchange send_raw_https(const std::string& address, std::uint16_t port, const std::string& sni,
                            const std::string& request,
                            std::chrono::milliseconds quiet = std::chrono::milliseconds{3000});

}  // namespace danegate::test
