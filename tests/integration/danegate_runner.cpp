// The runner behind the black-box CLI tests: posix_spawn of the danegate binary with stdout and
// stderr on two pipes, a deadline after which the child is killed, and line helpers.
#include "tests/integration/danegate_runner.hpp"

#include "tests/support/process.hpp"
#include "tests/support/testbed.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <thread>

#ifndef DANEGATE_BINARY
#error "DANEGATE_BINARY (path of the built danegate binary) must be defined"
#endif

extern char** environ;

namespace danegate::test {
namespace {

using clock_type = std::chrono::steady_clock;

[[noreturn]] void throw_errno(const std::string& what, int error)
{
    throw std::runtime_error(what + ": " + std::strerror(error));
}

std::vector<std::string> split_lines(const std::string& text)
{
    std::vector<std::string> lines;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        lines.push_back(line);
    }
    return lines;
}

/** Reads what is available on @p fd into @p sink; false at end of file or on an error. */
bool drain(int fd, std::string& sink)
{
    std::array<char, 4096> buffer{};
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n > 0) {
        sink.append(buffer.data(), static_cast<std::size_t>(n));
        return true;
    }
    return n < 0 && (errno == EINTR || errno == EAGAIN);
}

}  // namespace

std::string cli_result::last_line() const
{
    const auto lines = split_lines(out);
    for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
        if (!it->empty()) {
            return *it;
        }
    }
    return {};
}

std::string cli_result::reason() const
{
    const std::string line = last_line();
    constexpr std::string_view prefix = "reason:";
    if (line.rfind(prefix, 0) != 0) {
        return {};
    }
    const auto start = line.find_first_not_of(' ', prefix.size());
    return start == std::string::npos ? std::string() : line.substr(start);
}

std::optional<std::string> cli_result::line_starting_with(std::string_view prefix) const
{
    auto lines = lines_starting_with(prefix);
    if (lines.empty()) {
        return std::nullopt;
    }
    return lines.front();
}

std::vector<std::string> cli_result::lines_starting_with(std::string_view prefix) const
{
    std::vector<std::string> found;
    for (auto& line : split_lines(out)) {
        if (line.rfind(prefix, 0) == 0) {
            found.push_back(std::move(line));
        }
    }
    return found;
}

std::vector<std::string> cli_result::fields(std::string_view name) const
{
    std::vector<std::string> found;
    const std::string key = std::string(name) + ":";
    for (const auto& line : split_lines(out)) {
        const auto start = line.find_first_not_of(' ');
        if (start == std::string::npos || line.compare(start, key.size(), key) != 0) {
            continue;
        }
        const auto value = line.find_first_not_of(' ', start + key.size());
        found.push_back(value == std::string::npos ? std::string() : line.substr(value));
    }
    return found;
}

std::optional<std::string> cli_result::field(std::string_view name) const
{
    auto found = fields(name);
    if (found.empty()) {
        return std::nullopt;
    }
    return found.front();
}

std::string cli_result::describe() const
{
    std::ostringstream text;
    text << "exit code " << exit_code << (timed_out ? " (killed after the time limit)" : "") << " after "
         << elapsed.count() << " ms\n--- stdout ---\n"
         << out << "--- stderr ---\n"
         << err << "---";
    return text.str();
}

std::string danegate_binary()
{
    return DANEGATE_BINARY;
}

cli_result run_danegate(const std::vector<std::string>& args, std::chrono::milliseconds limit)
{
    std::array<int, 2> out_pipe{};
    std::array<int, 2> err_pipe{};
    if (::pipe2(out_pipe.data(), O_CLOEXEC) != 0) {
        throw_errno("pipe2", errno);
    }
    unique_fd out_read(out_pipe[0]);
    unique_fd out_write(out_pipe[1]);
    if (::pipe2(err_pipe.data(), O_CLOEXEC) != 0) {
        throw_errno("pipe2", errno);
    }
    unique_fd err_read(err_pipe[0]);
    unique_fd err_write(err_pipe[1]);

    posix_spawn_file_actions_t actions;
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    ::posix_spawn_file_actions_adddup2(&actions, out_write.get(), STDOUT_FILENO);
    ::posix_spawn_file_actions_adddup2(&actions, err_write.get(), STDERR_FILENO);

    const std::string binary = danegate_binary();
    std::vector<std::string> argv_storage;
    argv_storage.reserve(args.size() + 1);
    argv_storage.push_back(binary);
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& arg : argv_storage) {
        argv.push_back(arg.data());
    }
    argv.push_back(nullptr);

    const auto start = clock_type::now();
    const auto deadline = start + limit;
    pid_t pid = -1;
    const int spawn_error = ::posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ);
    ::posix_spawn_file_actions_destroy(&actions);
    if (spawn_error != 0) {
        throw_errno("posix_spawn " + binary, spawn_error);
    }
    out_write.reset();
    err_write.reset();

    cli_result result;
    bool out_open = true;
    bool err_open = true;
    while ((out_open || err_open) && clock_type::now() < deadline) {
        std::array<pollfd, 2> fds{pollfd{out_open ? out_read.get() : -1, POLLIN, 0},
                                  pollfd{err_open ? err_read.get() : -1, POLLIN, 0}};
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
        const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(std::max<long>(left.count(), 0) + 1));
        if (ready < 0 && errno != EINTR) {
            throw_errno("poll", errno);
        }
        if (ready <= 0) {
            continue;
        }
        if (out_open && fds[0].revents != 0) {
            out_open = drain(out_read.get(), result.out);
        }
        if (err_open && fds[1].revents != 0) {
            err_open = drain(err_read.get(), result.err);
        }
    }

    int status = 0;
    for (;;) {
        const pid_t done = ::waitpid(pid, &status, WNOHANG);
        if (done == pid) {
            break;
        }
        if (done < 0 && errno != EINTR) {
            throw_errno("waitpid", errno);
        }
        if (clock_type::now() >= deadline) {
            result.timed_out = true;
            ::kill(pid, SIGKILL);
            while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds{5});
    }
    result.exit_code = decode_status(status);
    result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - start);
    return result;
}

std::vector<std::string> testbed_resolver_flags()
{
    const auto& bed = testbed::get();
    return {"--trust-anchor-file", bed.trust_anchor_file().string(), "--forward", bed.forwarder()};
}

std::vector<std::string> verify_args(std::string_view label, const std::vector<std::string>& extra)
{
    const auto& bed = testbed::get();
    std::vector<std::string> args{"tlsa", "verify", bed.host(label), std::to_string(bed.port())};
    for (auto& flag : testbed_resolver_flags()) {
        args.push_back(std::move(flag));
    }
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

std::string shell_quote(std::string_view text)
{
    std::string quoted = "'";
    for (const char c : text) {
        if (c == '\'') {
            quoted += "'\\''";
        } else {
            quoted += c;
        }
    }
    return quoted + "'";
}

std::string shell_output(const std::string& command)
{
    std::string output;
    const int code = run_command({"/bin/sh", "-c", "set -e; " + command}, &output);
    if (code != 0) {
        throw std::runtime_error("command failed (exit " + std::to_string(code) + "): " + command);
    }
    return output;
}

std::unique_ptr<child_process> start_danegate_run(const std::filesystem::path& config, const std::filesystem::path& log,
                                                  std::uint16_t port)
{
    auto danegate = std::make_unique<child_process>(std::vector<std::string>{danegate_binary(), "run", "-c", config.string()}, log);
    if (!wait_for_tcp("127.0.0.1", port, std::chrono::seconds(20))) {
        ADD_FAILURE() << "danegate did not listen on " << port << ":\n" << danegate->log();
    } else if (!wait_for_live_checks(*danegate)) {
        ADD_FAILURE() << "danegate did not finish its start-up live checks:\n" << danegate->log();
    }
    return danegate;
}

}  // namespace danegate::test
