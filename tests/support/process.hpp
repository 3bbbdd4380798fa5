// Child processes and loopback ports for tests that talk to real peers (NSD, openssl s_server,
// the SMTP test server): start a program, keep its output in a log file, make sure it is gone
// when the test is, and find ports nobody else uses.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace danegate::test {

/** Closes a descriptor on scope exit. */
class unique_fd {
public:
    unique_fd() = default;
    explicit unique_fd(int fd) : fd_(fd) {}
    ~unique_fd() { reset(); }
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    unique_fd& operator=(unique_fd&& other) noexcept
    {
        if (this != &other) {
            reset();
            fd_ = std::exchange(other.fd_, -1);
        }
        return *this;
    }
    int get() const { return fd_; }
    void reset()
    {
        if (fd_ >= 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }

private:
    int fd_ = -1;
};

/**
 * A program running in the background, stopped when this object is destroyed.
 *
 * stdin is /dev/null, stdout and stderr go to `log_file` (created or truncated). The child gets
 * SIGTERM when the test process dies, even by a crash or SIGKILL (PR_SET_PDEATHSIG); to make that
 * independent of which thread starts it, every child is forked by one internal thread that lives
 * as long as the process. The destructor sends SIGTERM, waits up to `stop()`'s grace period, then
 * sends SIGKILL and reaps the child. Not thread-safe: use one object from one thread at a time.
 *
 * Sanitizers: a child built with TSan/ASan/UBSan (danegate, the HTTP test backend) writes its
 * reports into the log file, where the test process cannot see them by itself. So whenever a
 * child is stopped or destroyed, and once more for every child still alive when the test program
 * ends (a GoogleTest environment), the log is scanned and a report fails the current test (or the
 * run) with the report's text: a data race in a child fails the suite like one in the test does.
 */
class child_process {
public:
    /**
     * Starts `argv` (argv[0] is looked up with find_program() unless it contains a '/').
     * Throws std::runtime_error when the program cannot be found or executed.
     */
    child_process(std::vector<std::string> argv, std::filesystem::path log_file);
    ~child_process();

    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;
    child_process(child_process&&) = delete;
    child_process& operator=(child_process&&) = delete;

    pid_t pid() const { return pid_; }

    /** False once the child has exited (it is reaped then, and exit_code() is set). */
    bool running() const;

    /** The exit status once the child has exited: its exit code, or 128 + signal number. */
    std::optional<int> exit_code() const;

    /** Sends SIGTERM and returns at once (to stop several children in parallel). */
    void terminate();

    /** SIGTERM, then up to `grace` for the child to exit, then SIGKILL. Returns exit_code(). */
    int stop(std::chrono::milliseconds grace = std::chrono::seconds(2));

    /** Waits (without a time limit) for the child to exit by itself. Returns exit_code(). */
    int wait();

    const std::filesystem::path& log_file() const { return log_file_; }

    /** The log file's content so far (for failure messages). */
    std::string log() const;

    /** The command line, space-separated (for failure messages). */
    const std::string& command() const { return command_; }

    /**
     * The first sanitizer report in the log so far (from its "WARNING: ThreadSanitizer",
     * "ERROR: AddressSanitizer", "ERROR: LeakSanitizer" or UBSan "runtime error:" line, at most
     * 8 KiB of it), or nullopt when there is none.
     */
    std::optional<std::string> sanitizer_report() const;

    /**
     * Fails the current test (ADD_FAILURE) once if sanitizer_report() finds something; returns
     * whether it did. stop(), wait() and the destructor call it; call it directly to check a child
     * that keeps running (e.g. at suite teardown).
     */
    bool expect_no_sanitizer_report() const;

private:
    bool reap(bool block) const;

    std::string command_;
    std::filesystem::path log_file_;
    pid_t pid_ = -1;
    pid_t owner_ = -1;  // the process that started the child (not a forked copy of it)
    mutable std::optional<int> exit_code_;
    mutable bool sanitizer_reported_ = false;
};

/**
 * The first sanitizer report in `text` (see child_process::sanitizer_report), or nullopt.
 * TSan exits with status 66 after a report; these are the lines that explain it.
 */
std::optional<std::string> find_sanitizer_report(std::string_view text);

/** A waitpid() status as a shell reports it: the exit code, or 128 + the signal number. */
int decode_status(int status);

/**
 * Runs `argv` to completion (argv[0] resolved like child_process does) with stdin /dev/null and
 * stderr inherited. stdout is captured into `*output` (replacing its content) when `output` is
 * not null, else inherited. Returns the exit code, or 128 + signal number. Throws
 * std::runtime_error when the program cannot be found or executed. For pipelines use
 * {"/bin/sh", "-c", "openssl x509 -in ee.pem -pubkey -noout | openssl pkey -pubin -outform DER"}.
 */
int run_command(const std::vector<std::string>& argv, std::string* output);

/**
 * The absolute path of `name` from PATH, then /usr/local/sbin, /usr/sbin and /sbin (nsd lives in
 * sbin, which is not on every user's PATH). Empty when not found.
 */
std::filesystem::path find_program(std::string_view name);

/**
 * A TCP port that was free on 127.0.0.1 a moment ago (bound to port 0, then released), and that
 * this process has not been handed before.
 */
std::uint16_t free_tcp_port();

/**
 * Whether a TCP connection to `address` (numeric IPv4 or IPv6) and `port` succeeds within
 * `timeout`, retrying every 20 ms. The connection is closed at once.
 */
bool wait_for_tcp(const std::string& address, std::uint16_t port, std::chrono::milliseconds timeout);

/** Whether @p child's log contains @p text within @p timeout, polling every 20 ms. */
bool wait_for_log(const child_process& child, std::string_view text, std::chrono::milliseconds timeout);

/**
 * Waits until a just-started `danegate run` finished its start-up live checks (which connect to
 * every upstream endpoint), so that a test counting its backends' connections starts from quiet.
 */
bool wait_for_live_checks(const child_process& danegate, std::chrono::milliseconds timeout = std::chrono::seconds(20));

}  // namespace danegate::test
