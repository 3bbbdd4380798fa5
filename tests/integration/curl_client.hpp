// curl as the client of end-to-end tests: a real HTTP/1.1-over-TLS client whose connection reuse
// (several URLs on one command line share one connection) is what users see.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace danegate::test {

/**
 * GET (or whatever @p extra says) https://@p host:@p port@p path, with @p host resolved to
 * 127.0.0.1. @return the body, a newline and the status code ("BODY\nSTATUS"); status 000 when
 * no response came.
 */
std::string curl_via(std::uint16_t port, const std::string& host, const std::string& path,
                     const std::vector<std::string>& extra = {});

/**
 * Sends @p count GET requests for @p path one after another over ONE client connection.
 * @return each response's status code, in order.
 */
std::vector<int> curl_sequence(std::uint16_t port, const std::string& host, const std::string& path, int count);

/** The status code at the end of curl_via's output, 0 when there is none. */
int status_of(const std::string& curl_output);

}  // namespace danegate::test
