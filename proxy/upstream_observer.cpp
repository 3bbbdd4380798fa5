// See upstream_observer.hpp.
#include "proxy/upstream_observer.hpp"

#include "proxy/errc.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <string_view>

namespace danegate::proxy {

connection_result classify(const connect_result& result)
{
    if (!result.ec) {
        if (result.connection->from_pool) {
            return connection_result::pooled;
        }
        return result.connection->resumed ? connection_result::resumed : connection_result::handshake;
    }
    if (result.ec == errc::connect_timeout) {
        return connection_result::timeout;
    }
    if (result.ec == errc::connect_failed) {
        return connection_result::failed;
    }
    return connection_result::rejected;
}

upstream_connector::observer make_upstream_observer(metrics& counters, endpoint_status_board& board)
{
    return [&counters, &board](const upstream_target& target, const dane::lookup_result& lookup,
                               const connect_result& result) {
        // "host:port" on the stack: a pooled hand-out (most requests) needs no string made.
        std::array<char, 256 + 6> text{};
        const std::size_t host_size = std::min(target.host.size(), text.size() - 6);
        std::copy_n(target.host.data(), host_size, text.data());
        text[host_size] = ':';
        const auto end = std::to_chars(text.data() + host_size + 1, text.data() + text.size(), target.port).ptr;
        const std::string_view endpoint(text.data(), static_cast<std::size_t>(end - text.data()));
        const auto kind = classify(result);
        counters.count_upstream_connection(target.upstream, endpoint, kind);
        if (kind == connection_result::pooled) {
            return;
        }
        // DANE decided when the DNS answer refused, or when authenticate() judged a handshake;
        // a refused TCP connection or a timeout is a connection failure, not a verdict.
        if (kind != connection_result::failed && kind != connection_result::timeout) {
            counters.count_verification(target.upstream, result.verdict.outcome);
        }
        board.record(target.upstream, std::string(endpoint),
                     endpoint_status{lookup.status, result.verdict, std::chrono::system_clock::now()});
    };
}

}  // namespace danegate::proxy
