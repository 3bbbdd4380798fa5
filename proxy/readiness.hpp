// /readyz (issue 4 §1): whether a load balancer should send traffic here. Ready when a
// configuration is loaded, the listeners are bound and accepting (not draining), and every upstream
// of the current configuration has an endpoint whose last verdict was `authenticated`, or has had
// none tried yet (a fresh start must not be unready until its first request).
#pragma once

#include <string>
#include <vector>

namespace danegate::proxy {

struct proxy_state;

struct readiness {
    bool ready = false;
    std::vector<std::string> problems;  ///< one line each, for the 503 body; empty when ready
};

/** @param listening whether every listener is bound and accepting. */
readiness check_readiness(const proxy_state& state, bool listening);

}  // namespace danegate::proxy
