// What every upstream connection attempt leaves behind for operators: its count in the metrics
// (result, and the DANE reason when DANE decided) and the endpoint's last status. The connector
// calls the function made here once per attempt (upstream_connector::observer).
#pragma once

#include "proxy/endpoint_status.hpp"
#include "proxy/metrics.hpp"
#include "proxy/upstream_connector.hpp"

namespace danegate::proxy {

/** The `result` label of @p result. */
connection_result classify(const connect_result& result);

/**
 * An observer that counts each attempt in @p counters and records the verdicts of new connections
 * on @p board. An idle connection handed out by the pool is counted (`pooled`) but changes no
 * status: it carries the verdict of the handshake that made it, recorded then.
 * @pre both outlive the connector.
 */
upstream_connector::observer make_upstream_observer(metrics& counters, endpoint_status_board& board);

}  // namespace danegate::proxy
