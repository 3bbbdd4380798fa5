// A running danegate (DESIGN §2 `run`): owns the io_context and its threads, the libunbound
// resolver, the TLSA cache, the run-time state built from the configuration and the listeners.
// SIGTERM/SIGINT stop accepting, let in-flight requests finish for up to drain_timeout, then stop.
#pragma once

#include "conf/config.hpp"

#include <memory>
#include <string>

namespace danegate::proxy {

class server {
public:
    /**
     * Builds everything and binds every listener. @return nullptr with @p error set when any
     * part fails; nothing is served then.
     */
    static std::unique_ptr<server> create(std::shared_ptr<const conf::config> config, std::string& error);

    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /** Serves until a stop signal and the drain that follows. @return the exit code (0). */
    int run();

    struct impl;

private:
    explicit server(std::unique_ptr<impl> state);
    std::unique_ptr<impl> impl_;
};

}  // namespace danegate::proxy
