// TLS session resumption for DANE upstreams, within the rule of DESIGN §1: no TLS session is
// resumed across a TLSA change. A resumed handshake verifies no certificate at all, so a session
// may only stand in for the handshake that authenticated it: it is remembered only after
// authenticate() said `authenticated`, together with that verdict and the digest of the TLSA RRset
// that produced it, and prepare_dane_handshake offers it only to a handshake whose fresh lookup has
// the same digest. The cache is keyed by endpoint (and SNI); the digest is part of the entry, so a
// changed RRset makes the old session unusable at once.
#pragma once

#include "dane/authenticate.hpp"

#include <openssl/ssl.h>

#include <array>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace danegate::dane {

using rrset_digest_bytes = std::array<std::uint8_t, 32>;

/** A TLS session of a connection that authenticate() accepted, and what accepted it. */
class resumable_session {
public:
    resumable_session(SSL_SESSION* session, verdict original, const rrset_digest_bytes& digest) noexcept;
    ~resumable_session();
    resumable_session(const resumable_session&) = delete;
    resumable_session& operator=(const resumable_session&) = delete;

    SSL_SESSION* session() const noexcept { return session_; }
    /** The verdict of the full handshake that established the session. */
    const verdict& original() const noexcept { return original_; }
    /** The TLSA RRset that verdict was reached under. */
    const rrset_digest_bytes& digest() const noexcept { return digest_; }

private:
    SSL_SESSION* session_;  // owned
    verdict original_;
    rrset_digest_bytes digest_;
};

/**
 * The newest resumable session per endpoint key, bounded (least recently stored goes first).
 * Thread-safe. Owned by a shared_ptr: the connections it remembers sessions from hold it weakly,
 * because TLS 1.3 tickets arrive after the handshake, for as long as the connection lives.
 */
class tls_session_cache : public std::enable_shared_from_this<tls_session_cache> {
public:
    explicit tls_session_cache(std::size_t capacity = 1024);

    /**
     * Makes @p ctx hand every new client session to the cache remember() tied its connection to
     * (and drop the sessions of any other connection). Call once per upstream context.
     */
    static void enable_on(SSL_CTX* ctx);

    /** The session to offer to a new connection to @p key, if one is remembered. */
    std::shared_ptr<const resumable_session> find(const std::string& key) const;

    /**
     * Called once @p ssl's handshake gave @p authenticated_verdict under the RRset @p digest:
     * remembers its session now if it is resumable (TLS 1.2), and every session ticket the
     * connection receives later (TLS 1.3).
     * @pre authenticated_verdict.authenticated(); the context had enable_on().
     */
    void remember(SSL* ssl, const std::string& key, const verdict& authenticated_verdict,
                  const rrset_digest_bytes& digest);

    /** Forgets @p key's session (a resumption with it failed, or the endpoint was rejected). */
    void forget(const std::string& key);

    std::size_t size() const;

    /** Remembers a copy of @p session. */
    void store(const std::string& key, SSL_SESSION* session, const verdict& original, const rrset_digest_bytes& digest);

private:
    struct entry {
        std::shared_ptr<const resumable_session> session;
        std::list<std::string>::iterator age;  // position in order_
    };

    const std::size_t capacity_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, entry> entries_;
    std::list<std::string> order_;  // oldest store first
};

}  // namespace danegate::dane
