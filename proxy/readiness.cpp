// See readiness.hpp.
#include "proxy/readiness.hpp"

#include "proxy/proxy_state.hpp"

namespace danegate::proxy {

readiness check_readiness(const proxy_state& state, bool listening)
{
    readiness out;
    const auto current = state.current();
    if (!current) {
        out.problems.push_back("no configuration loaded");
        return out;
    }
    if (state.draining) {
        out.problems.push_back("draining: no longer accepting connections");
    } else if (!listening) {
        out.problems.push_back("listeners not bound yet");
    }
    for (const auto& upstream : current->config->upstreams) {
        bool tried = false;
        bool authenticated = false;
        std::string last_words;
        for (const auto& endpoint : upstream.endpoints) {
            const auto where = endpoint.host + ":" + std::to_string(endpoint.port);
            const auto last = state.endpoints.find(upstream.name, where);
            if (!last) {
                continue;
            }
            tried = true;
            authenticated = authenticated || last->verdict.authenticated();
            last_words += (last_words.empty() ? "" : ", ") + where + " " + std::string(dane::to_string(last->verdict.outcome));
        }
        if (upstream.srv) {
            // SRV discovery is accepted by the configuration but not implemented: nothing to reach.
            out.problems.push_back("upstream " + upstream.name + ": SRV discovery is not supported");
        } else if (tried && !authenticated) {
            out.problems.push_back("upstream " + upstream.name + ": no endpoint authenticated (" + last_words + ")");
        }
    }
    out.ready = out.problems.empty();
    return out;
}

}  // namespace danegate::proxy
