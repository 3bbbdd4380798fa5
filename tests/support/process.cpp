// Child processes and loopback ports for tests that talk to real peers: fork/exec with the
// safety nets a test suite needs (children die with it, no inherited descriptors, clear errors
// when a tool is missing).
#include "tests/support/process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace danegate::test {
namespace {

[[noreturn]] void throw_errno(const std::string& what)
{
    throw std::system_error(errno, std::generic_category(), what);
}

std::string join(const std::vector<std::string>& argv)
{
    std::string out;
    for (const auto& arg : argv) {
        if (!out.empty()) {
            out += ' ';
        }
        out += arg;
    }
    return out;
}

std::filesystem::path resolve(const std::string& program)
{
    if (program.empty()) {
        throw std::runtime_error("cannot run an empty command");
    }
    auto path = find_program(program);
    if (path.empty()) {
        throw std::runtime_error("program '" + program +
                                 "' not found (PATH, /usr/local/sbin, /usr/sbin, /sbin)");
    }
    return path;
}


/**
 * fork + execv. stdin is /dev/null; stdout/stderr are `out_fd`/`err_fd` when >= 0, else
 * inherited. Returns the pid once the exec has succeeded; throws with the exec errno otherwise.
 */
pid_t fork_exec(const std::filesystem::path& program, const std::vector<std::string>& argv, int out_fd,
                int err_fd)
{
    // Everything the child needs is prepared here: between fork and exec in a multi-threaded
    // process only async-signal-safe calls are allowed (no allocation).
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const auto& arg : argv) {
        args.push_back(const_cast<char*>(arg.c_str()));
    }
    args.push_back(nullptr);
    const std::string program_path = program.string();

    unique_fd null_fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (null_fd.get() < 0) {
        throw_errno("open /dev/null");
    }
    // The exec error travels back through a close-on-exec pipe: EOF means exec succeeded.
    int error_pipe[2];
    if (::pipe2(error_pipe, O_CLOEXEC) != 0) {
        throw_errno("pipe2");
    }
    unique_fd error_read(error_pipe[0]);
    unique_fd error_write(error_pipe[1]);
    const pid_t parent = ::getpid();

    const pid_t pid = ::fork();
    if (pid < 0) {
        throw_errno("fork");
    }
    if (pid == 0) {
        // The child must not outlive the test process, whatever way it ends.
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != parent) {
            ::_exit(127);
        }
        // The forking thread's signal mask and ignored signals would otherwise be inherited.
        sigset_t none;
        ::sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        struct sigaction default_action {};
        default_action.sa_handler = SIG_DFL;
        for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD}) {
            ::sigaction(sig, &default_action, nullptr);
        }
        ::dup2(null_fd.get(), STDIN_FILENO);
        if (out_fd >= 0) {
            ::dup2(out_fd, STDOUT_FILENO);
        }
        if (err_fd >= 0) {
            ::dup2(err_fd, STDERR_FILENO);
        }
        // Descriptors the test opened without O_CLOEXEC (listening sockets!) must not live on
        // in a server that outlasts the test case.
        if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
            for (int fd = 3; fd < 4096; ++fd) {
                ::fcntl(fd, F_SETFD, FD_CLOEXEC);
            }
        }
        ::execv(program_path.c_str(), args.data());
        const int error = errno;
        [[maybe_unused]] auto ignored = ::write(error_write.get(), &error, sizeof error);
        ::_exit(127);
    }

    error_write.reset();
    int error = 0;
    ssize_t n = 0;
    do {
        n = ::read(error_read.get(), &error, sizeof error);
    } while (n < 0 && errno == EINTR);
    if (n == static_cast<ssize_t>(sizeof error)) {
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        throw std::runtime_error("cannot execute '" + program_path + "': " + std::strerror(error));
    }
    return pid;
}

/**
 * The one thread that forks every child_process. PR_SET_PDEATHSIG fires when the *thread* that
 * forked the child ends, not the process: forking from whatever thread a test happens to use
 * (an Asio pool, a std::thread) would kill NSD when that thread finishes. This thread lives until
 * the process exits; it is deliberately never destroyed, so no static destructor can race it.
 */
class spawner {
public:
    static spawner& instance()
    {
        static auto* const instance = new spawner();
        return *instance;
    }

    pid_t run(std::function<pid_t()> job)
    {
        std::packaged_task<pid_t()> task(std::move(job));
        auto result = task.get_future();
        {
            std::lock_guard lock(mutex_);
            queue_.push_back(std::move(task));
        }
        wake_.notify_one();
        return result.get();
    }

private:
    spawner()
    {
        std::thread([this] { loop(); }).detach();
    }

    [[noreturn]] void loop()
    {
        for (;;) {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [this] { return !queue_.empty(); });
            auto task = std::move(queue_.front());
            queue_.pop_front();
            lock.unlock();
            task();
        }
    }

    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::packaged_task<pid_t()>> queue_;
};

/**
 * Every child_process alive in this process, for the end-of-run sanitizer check. Like spawner,
 * never destroyed: children owned by static objects (the test bed) unregister during exit.
 */
class live_children {
public:
    static live_children& instance()
    {
        static auto* const instance = new live_children();
        return *instance;
    }

    void add(const child_process* child)
    {
        std::lock_guard lock(mutex_);
        children_.insert(child);
    }

    void remove(const child_process* child)
    {
        std::lock_guard lock(mutex_);
        children_.erase(child);
    }

    void check_all()
    {
        std::lock_guard lock(mutex_);
        for (const auto* child : children_) {
            child->expect_no_sanitizer_report();
        }
    }

private:
    std::mutex mutex_;
    std::set<const child_process*> children_;
};

/**
 * After the last test, before the test bed's servers are stopped at exit (too late to fail
 * anything), checks every child still running: the test bed's HTTP backends are instrumented too.
 */
class sanitizer_check_environment : public ::testing::Environment {
public:
    void TearDown() override { live_children::instance().check_all(); }
};

[[maybe_unused]] const auto* const sanitizer_check =
    ::testing::AddGlobalTestEnvironment(new sanitizer_check_environment());

bool is_executable_file(const std::filesystem::path& path)
{
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

}  // namespace

std::optional<std::string> find_sanitizer_report(std::string_view text)
{
    // The first line of each kind of report (TSan also prints "ThreadSanitizer: reported N
    // warnings" at exit, which the first pattern covers).
    static constexpr std::array markers{"WARNING: ThreadSanitizer", "ThreadSanitizer:", "ERROR: AddressSanitizer",
                                        "ERROR: LeakSanitizer", ": runtime error: "};
    std::size_t first = std::string_view::npos;
    for (const std::string_view marker : markers) {
        first = std::min(first, text.find(marker));
    }
    if (first == std::string_view::npos) {
        return std::nullopt;
    }
    const auto line_start = text.rfind('\n', first);
    const auto start = line_start == std::string_view::npos ? 0 : line_start + 1;
    constexpr std::size_t excerpt = 8 * 1024;
    return std::string(text.substr(start, excerpt));
}

int decode_status(int status)
{
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    if (WIFSIGNALED(status)) {
        return 128 + WTERMSIG(status);
    }
    return -1;
}

child_process::child_process(std::vector<std::string> argv, std::filesystem::path log_file)
    : command_(join(argv)), log_file_(std::move(log_file)), owner_(::getpid())
{
    if (argv.empty()) {
        throw std::runtime_error("child_process: empty argv");
    }
    const auto program = resolve(argv.front());
    unique_fd log_fd(::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644));
    if (log_fd.get() < 0) {
        throw_errno("open " + log_file_.string());
    }
    pid_ = spawner::instance().run([&] { return fork_exec(program, argv, log_fd.get(), log_fd.get()); });
    live_children::instance().add(this);
}

child_process::~child_process()
{
    // A forked copy of the test process (a death test) must not stop the original's children.
    if (pid_ > 0 && ::getpid() == owner_) {
        live_children::instance().remove(this);
        stop();
    }
}

std::optional<std::string> child_process::sanitizer_report() const
{
    return find_sanitizer_report(log());
}

bool child_process::expect_no_sanitizer_report() const
{
    if (sanitizer_reported_) {
        return true;
    }
    const auto report = sanitizer_report();
    if (!report) {
        return false;
    }
    sanitizer_reported_ = true;
    const auto status = exit_code_ ? std::to_string(*exit_code_) : std::string("still running");
    ADD_FAILURE() << "sanitizer report in child process `" << command_ << "` (exit status: " << status
                  << ", log " << log_file_.string() << "):\n" << *report;
    return true;
}

bool child_process::reap(bool block) const
{
    if (exit_code_) {
        return true;
    }
    int status = 0;
    for (;;) {
        const pid_t result = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
        if (result == pid_) {
            exit_code_ = decode_status(status);
            return true;
        }
        if (result == 0) {
            return false;
        }
        if (errno == EINTR) {
            continue;
        }
        // ECHILD: somebody else reaped it (SIGCHLD ignored, or a waitpid(-1)); it is gone.
        exit_code_ = -1;
        return true;
    }
}

bool child_process::running() const
{
    return !reap(false);
}

std::optional<int> child_process::exit_code() const
{
    reap(false);
    return exit_code_;
}

void child_process::terminate()
{
    if (!reap(false)) {
        ::kill(pid_, SIGTERM);
    }
}

int child_process::stop(std::chrono::milliseconds grace)
{
    if (reap(false)) {
        expect_no_sanitizer_report();
        return *exit_code_;
    }
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + grace;
    while (std::chrono::steady_clock::now() < deadline) {
        if (reap(false)) {
            // TSan prints its summary and sets exit status 66 as the child exits.
            expect_no_sanitizer_report();
            return *exit_code_;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid_, SIGKILL);
    reap(true);
    expect_no_sanitizer_report();
    return *exit_code_;
}

int child_process::wait()
{
    reap(true);
    expect_no_sanitizer_report();
    return *exit_code_;
}

std::string child_process::log() const
{
    std::ifstream in(log_file_, std::ios::binary);
    std::ostringstream content;
    content << in.rdbuf();
    return content.str();
}

int run_command(const std::vector<std::string>& argv, std::string* output)
{
    if (argv.empty()) {
        throw std::runtime_error("run_command: empty argv");
    }
    const auto program = resolve(argv.front());
    unique_fd read_end;
    unique_fd write_end;
    if (output != nullptr) {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) {
            throw_errno("pipe2");
        }
        read_end = unique_fd(fds[0]);
        write_end = unique_fd(fds[1]);
    }
    // Forked from the calling thread: it blocks below until the child is gone, so the death
    // signal cannot fire early.
    const pid_t pid = fork_exec(program, argv, write_end.get(), -1);
    write_end.reset();
    if (output != nullptr) {
        output->clear();
        char buffer[4096];
        for (;;) {
            const ssize_t n = ::read(read_end.get(), buffer, sizeof buffer);
            if (n > 0) {
                output->append(buffer, static_cast<std::size_t>(n));
            } else if (n == 0 || errno != EINTR) {
                break;
            }
        }
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            throw_errno("waitpid");
        }
    }
    return decode_status(status);
}

std::filesystem::path find_program(std::string_view name)
{
    if (name.find('/') != std::string_view::npos) {
        return is_executable_file(name) ? std::filesystem::path(name) : std::filesystem::path();
    }
    const char* env_path = std::getenv("PATH");
    std::string dirs = env_path != nullptr ? env_path : "/usr/local/bin:/usr/bin:/bin";
    dirs += ":/usr/local/sbin:/usr/sbin:/sbin";
    std::istringstream stream(dirs);
    std::string dir;
    while (std::getline(stream, dir, ':')) {
        if (dir.empty()) {
            continue;
        }
        auto candidate = std::filesystem::path(dir) / name;
        if (is_executable_file(candidate)) {
            return candidate;
        }
    }
    return {};
}

namespace {

/** One port the kernel picked for a bind to port 0, released again. */
std::uint16_t kernel_picked_port()
{
    unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) {
        throw_errno("socket");
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        throw_errno("bind 127.0.0.1:0");
    }
    socklen_t length = sizeof address;
    if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        throw_errno("getsockname");
    }
    return ntohs(address.sin_port);
}

}  // namespace

std::uint16_t free_tcp_port()
{
    // The kernel may pick a port it picked a moment ago, once that socket is gone: a suite that
    // asks for two (a listener and the admin address) then got the same one twice (seen in CI:
    // "address already used by listeners[0]"). A port is handed out once per test process.
    static std::mutex mutex;
    static std::set<std::uint16_t> handed_out;
    std::lock_guard lock(mutex);
    for (int attempt = 0; attempt < 1000; ++attempt) {
        const std::uint16_t port = kernel_picked_port();
        if (handed_out.insert(port).second) {
            return port;
        }
    }
    throw std::runtime_error("free_tcp_port: the kernel kept picking ports already handed out");
}

bool wait_for_log(const child_process& child, std::string_view text, std::chrono::milliseconds timeout)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (child.log().find(text) == std::string::npos) {
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
}

bool wait_for_live_checks(const child_process& danegate, std::chrono::milliseconds timeout)
{
    return wait_for_log(danegate, "live checks done", timeout);
}

bool wait_for_tcp(const std::string& address, std::uint16_t port, std::chrono::milliseconds timeout)
{
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const std::string service = std::to_string(port);
    if (const int rc = ::getaddrinfo(address.c_str(), service.c_str(), &hints, &found); rc != 0) {
        throw std::runtime_error("wait_for_tcp: bad address '" + address + "': " + ::gai_strerror(rc));
    }
    const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(found, &::freeaddrinfo);

    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        unique_fd fd(::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
        if (fd.get() < 0) {
            throw_errno("socket");
        }
        bool connected = ::connect(fd.get(), found->ai_addr, found->ai_addrlen) == 0;
        if (!connected && errno == EINPROGRESS) {
            // Non-blocking so that a non-loopback address that drops SYNs cannot overrun the
            // caller's timeout.
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            pollfd pfd{fd.get(), POLLOUT, 0};
            if (::poll(&pfd, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 1))) == 1) {
                int error = 0;
                socklen_t length = sizeof error;
                connected = ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0;
            }
        }
        if (connected) {
            return true;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

}  // namespace danegate::test
