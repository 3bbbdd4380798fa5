// See upstream_observer.hpp.
#include "proxy/upstream_observer.hpp"

#include "proxy/errc.hpp"

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
        const auto endpoint = target.host + ":" + std::to_string(target.port);
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
        board.record(target.upstream, endpoint,
                     endpoint_status{lookup.status, result.verdict, std::chrono::system_clock::now()});
    };
}

}  // namespace danegate::proxy
