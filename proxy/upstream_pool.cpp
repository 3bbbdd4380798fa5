// See upstream_pool.hpp. The pool is small (max_idle, 64 by default), so a deque scanned from the
// newest end is simpler and faster than per-endpoint maps.
#include "proxy/upstream_pool.hpp"

#include <sys/socket.h>

#include <cerrno>

namespace danegate::proxy {

namespace {

void close_connection(upstream_connection& connection)
{
    // No close_notify: nobody waits on an idle connection, and the upstream closes it anyway.
    boost::system::error_code ignored;
    connection.stream.lowest_layer().close(ignored);
}

// A connection released this recently was alive when its last response ended (keep-alive, read to
// the end), and servers close idle connections after seconds, not milliseconds: under load the
// check would cost a system call per request and find nothing. The race it leaves is the one a
// check has anyway (the server closes just after it), and http_session retries idempotent
// requests on a fresh connection when a pooled one fails before answering.
constexpr auto recheck_after = std::chrono::milliseconds(50);

}  // namespace

bool still_open(upstream_connection& connection)
{
    // An idle connection must have nothing to read: a FIN (0), an error, or bytes (a close_notify
    // alert, a stray response) all mean it cannot carry the next request.
    char byte = 0;
    const auto fd = connection.stream.lowest_layer().native_handle();
    const auto got = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

upstream_pool::upstream_pool(std::size_t max_idle, clock::duration idle_timeout)
    : max_idle_(max_idle), idle_timeout_(idle_timeout)
{
}

upstream_pool::~upstream_pool()
{
    for (auto& entry : idle_) {
        close_connection(*entry.connection);
    }
}

in_use_counter& upstream_pool::counter_for(const upstream_connection& connection)
{
    auto& counter = in_use_[{connection.host, connection.port}];
    if (!counter) {
        counter = std::make_shared<std::atomic<std::int64_t>>(0);
    }
    return counter;
}

void upstream_pool::mark_in_use(upstream_connection& connection)
{
    std::lock_guard lock(mutex_);
    connection.in_use = in_use_mark(counter_for(connection));
}

void upstream_pool::release(std::unique_ptr<upstream_connection> connection, clock::time_point now)
{
    std::lock_guard lock(mutex_);
    auto counter = connection->in_use.release();
    if (max_idle_ == 0) {
        close_connection(*connection);
        return;
    }
    if (idle_.size() >= max_idle_) {
        close_connection(*idle_.front().connection);
        idle_.pop_front();
    }
    idle_.push_back(idle_connection{std::move(connection), now, std::move(counter)});
}

std::unique_ptr<upstream_connection> upstream_pool::acquire(const std::string& host, std::uint16_t port,
                                                            const std::array<std::uint8_t, 32>& current_digest,
                                                            clock::time_point now)
{
    std::lock_guard lock(mutex_);
    for (auto it = idle_.end(); it != idle_.begin();) {
        --it;
        auto& connection = *it->connection;
        if (connection.host != host || connection.port != port) {
            continue;
        }
        const bool current = connection.rrset_digest == current_digest;
        if (current && now - it->since < idle_timeout_ && (now - it->since < recheck_after || still_open(connection))) {
            auto taken = std::move(it->connection);
            auto counter = it->counter ? std::move(it->counter) : counter_for(*taken);
            idle_.erase(it);
            taken->in_use = in_use_mark(std::move(counter));
            return taken;
        }
        // DESIGN §1: authenticated by an RRset that is gone, expired, or closed by the peer.
        retired_ += current ? 0 : 1;
        close_connection(connection);
        it = idle_.erase(it);
    }
    return nullptr;
}

void upstream_pool::sweep(clock::time_point now)
{
    std::lock_guard lock(mutex_);
    while (!idle_.empty() && now - idle_.front().since >= idle_timeout_) {
        close_connection(*idle_.front().connection);
        idle_.pop_front();
    }
}

std::size_t upstream_pool::idle() const
{
    std::lock_guard lock(mutex_);
    return idle_.size();
}

std::uint64_t upstream_pool::retired() const
{
    std::lock_guard lock(mutex_);
    return retired_;
}

std::vector<endpoint_pool_counts> upstream_pool::counts() const
{
    std::lock_guard lock(mutex_);
    std::vector<endpoint_pool_counts> out;
    for (const auto& [endpoint, counter] : in_use_) {
        endpoint_pool_counts counts;
        counts.host = endpoint.first;
        counts.port = endpoint.second;
        counts.in_use = counter->load(std::memory_order_relaxed);
        for (const auto& entry : idle_) {
            counts.idle += entry.connection->host == counts.host && entry.connection->port == counts.port ? 1 : 0;
        }
        out.push_back(std::move(counts));
    }
    return out;
}

}  // namespace danegate::proxy
