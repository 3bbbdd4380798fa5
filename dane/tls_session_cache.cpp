// See tls_session_cache.hpp. The link from a connection to the cache is SSL ex_data holding a
// small "sink" (weak cache, key, verdict, digest) that OpenSSL frees with the SSL: the new-session
// callback of a connection that was never authenticated finds no sink and keeps nothing.
#include "dane/tls_session_cache.hpp"

#include <openssl/ssl.h>

#include <mutex>

namespace danegate::dane {

namespace {

struct session_sink {
    std::weak_ptr<tls_session_cache> cache;
    std::string key;
    verdict original;
    rrset_digest_bytes digest;
};

void free_sink(void*, void* pointer, CRYPTO_EX_DATA*, int, long, void*)
{
    delete static_cast<session_sink*>(pointer);
}

int sink_index()
{
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, free_sink);
    return index;
}

/** OpenSSL's new-session callback. Returns 0: OpenSSL keeps its reference, store() makes a copy. */
int on_new_session(SSL* ssl, SSL_SESSION* session)
{
    const auto* sink = static_cast<const session_sink*>(SSL_get_ex_data(ssl, sink_index()));
    if (sink == nullptr || SSL_SESSION_is_resumable(session) != 1) {
        return 0;  // not (yet) authenticated: during a TLS 1.2 handshake, or a rejected connection
    }
    auto cache = sink->cache.lock();
    if (!cache) {
        return 0;
    }
    cache->store(sink->key, session, sink->original, sink->digest);
    return 0;
}

}  // namespace

resumable_session::resumable_session(SSL_SESSION* session, verdict original, const rrset_digest_bytes& digest) noexcept
    : session_(session), original_(std::move(original)), digest_(digest)
{
}

resumable_session::~resumable_session()
{
    SSL_SESSION_free(session_);
}

tls_session_cache::tls_session_cache(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

void tls_session_cache::enable_on(SSL_CTX* ctx)
{
    // Client sessions go to the callback only: OpenSSL's internal cache knows nothing of RRsets.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, on_new_session);
}

std::shared_ptr<const resumable_session> tls_session_cache::find(const std::string& key) const
{
    std::lock_guard lock(mutex_);
    const auto found = entries_.find(key);
    return found == entries_.end() ? nullptr : found->second.session;
}

void tls_session_cache::remember(SSL* ssl, const std::string& key, const verdict& authenticated_verdict,
                                 const rrset_digest_bytes& digest)
{
    if (!authenticated_verdict.authenticated()) {
        return;  // only an authenticated handshake may be stood in for
    }
    auto sink = std::make_unique<session_sink>(session_sink{weak_from_this(), key, authenticated_verdict, digest});
    if (SSL_set_ex_data(ssl, sink_index(), sink.get()) == 1) {
        sink.release();  // freed with the SSL by free_sink
    }
    // TLS 1.2 established its session during the handshake, before the sink existed.
    if (SSL_SESSION* session = SSL_get1_session(ssl)) {
        if (SSL_SESSION_is_resumable(session) == 1) {
            store(key, session, authenticated_verdict, digest);
        }
        SSL_SESSION_free(session);
    }
}

void tls_session_cache::store(const std::string& key, SSL_SESSION* session, const verdict& original,
                              const rrset_digest_bytes& digest)
{
    // A copy, not a reference: OpenSSL marks the connection's own session object not resumable
    // when the connection ends without close_notify (ssl_clear_bad_session), which is how pooled
    // and abandoned upstream connections end.
    SSL_SESSION* copy = SSL_SESSION_dup(session);
    if (copy == nullptr) {
        return;  // out of memory: no resumption, nothing worse
    }
    auto remembered = std::make_shared<const resumable_session>(copy, original, digest);
    std::lock_guard lock(mutex_);
    if (auto found = entries_.find(key); found != entries_.end()) {
        found->second.session = std::move(remembered);
        order_.splice(order_.end(), order_, found->second.age);
        return;
    }
    if (entries_.size() >= capacity_) {
        entries_.erase(order_.front());
        order_.pop_front();
    }
    order_.push_back(key);
    entries_.emplace(key, entry{std::move(remembered), std::prev(order_.end())});
}

void tls_session_cache::forget(const std::string& key)
{
    std::lock_guard lock(mutex_);
    if (auto found = entries_.find(key); found != entries_.end()) {
        order_.erase(found->second.age);
        entries_.erase(found);
    }
}

std::size_t tls_session_cache::size() const
{
    std::lock_guard lock(mutex_);
    return entries_.size();
}

}  // namespace danegate::dane
