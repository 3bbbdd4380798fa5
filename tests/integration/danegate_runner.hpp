// Helpers for the black-box tests of the danegate binary: run it with a time limit (a hang must
// fail a test, not stall the suite), capture stdout and stderr separately, and pick lines out of
// what `danegate tlsa verify` prints ("reason:      <word>" is always its last line).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace danegate::test {

class child_process;

/** What one run of the binary did. */
struct cli_result {
    int exit_code = -1;                 ///< exit code, or 128 + signal number
    bool timed_out = false;             ///< killed (SIGKILL) after the time limit
    std::string out;                    ///< everything written to stdout
    std::string err;                    ///< everything written to stderr
    std::chrono::milliseconds elapsed{0};

    /** The last non-empty line of stdout, without the newline. */
    std::string last_line() const;

    /** The word after "reason:" on the last line of stdout, or "" when that line is not one. */
    std::string reason() const;

    /** The first stdout line starting with @p prefix (the prefix included), if any. */
    std::optional<std::string> line_starting_with(std::string_view prefix) const;

    /** Every stdout line starting with @p prefix. */
    std::vector<std::string> lines_starting_with(std::string_view prefix) const;

    /**
     * The values of every stdout line of the form "[spaces]NAME:[spaces]VALUE", in order, e.g.
     * fields("record") or fields("subject") (an indented certificate line).
     */
    std::vector<std::string> fields(std::string_view name) const;

    /** The first of fields(name), or nullopt. */
    std::optional<std::string> field(std::string_view name) const;

    /** stdout and stderr, labelled, for failure messages. */
    std::string describe() const;
};

/**
 * Starts `danegate run -c @p config` (output to @p log) and waits until it listens on
 * 127.0.0.1:@p port and has finished its start-up live checks (which connect to every upstream,
 * so tests counting their backends' connections start from quiet). Fails the calling test
 * (ADD_FAILURE) when either does not happen in time; the process is returned all the same.
 */
std::unique_ptr<child_process> start_danegate_run(const std::filesystem::path& config, const std::filesystem::path& log,
                                                  std::uint16_t port);

/** The path of the danegate binary under test (DANEGATE_BINARY). */
std::string danegate_binary();

/**
 * Runs the danegate binary with @p args (stdin /dev/null) and waits at most @p limit; a child
 * still running then is killed with SIGKILL and `timed_out` is set. Throws std::runtime_error
 * when the binary cannot be started.
 */
cli_result run_danegate(const std::vector<std::string>& args,
                        std::chrono::milliseconds limit = std::chrono::seconds{60});

/** The resolver flags that point the binary at the test bed: anchor file and NSD as forwarder. */
std::vector<std::string> testbed_resolver_flags();

/** {"tlsa", "verify", host(label), port} + testbed_resolver_flags() + @p extra. */
std::vector<std::string> verify_args(std::string_view label, const std::vector<std::string>& extra = {});

/** @p text quoted for /bin/sh. */
std::string shell_quote(std::string_view text);

/** stdout of `/bin/sh -c command` (via run_command); throws when the command exits non-zero. */
std::string shell_output(const std::string& command);

}  // namespace danegate::test
