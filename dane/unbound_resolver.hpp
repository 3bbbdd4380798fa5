// An in-process DNSSEC-validating resolver: one libunbound context driven from an Asio io_context
// (DESIGN §1: an AD bit from elsewhere is never trusted). libunbound runs its own worker thread
// (ub_ctx_async); its pipe, ub_fd, is watched with a posix::stream_descriptor and ub_process runs
// the result callbacks on our strand. Each query carries our own deadline, since an unreachable
// server takes libunbound about 17 s to give up.
//
// Input: trust anchors, stub zones, forwarders and an optional unbound.conf. Output: dns_answer,
// classified in the order TESTBED.md gives (err, bogus, rcode, secure).
#pragma once

#include "dane/errc.hpp"
#include "dane/lookup_result.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace danegate::dane {

/** How the resolver finds and validates answers. */
struct resolver_options {
    /** Files of DS or DNSKEY lines in zone-file format (unbound's trust-anchor-file). */
    std::vector<std::string> trust_anchor_files;
    /** Inline anchors, e.g. "corp.example. DS 12345 13 2 ABCD...". */
    std::vector<std::string> trust_anchors;

    struct stub_zone {
        std::string name;                ///< "corp.example."
        std::vector<std::string> addrs;  ///< "10.0.0.53@53"
    };
    std::vector<stub_zone> stub_zones;

    /** Recursive servers to forward to ("127.0.0.1@53"); validation still happens here. */
    std::vector<std::string> forwarders;

    /** Optional unbound.conf read with ub_ctx_config, applied before the options above. */
    std::string unbound_conf;

    /** Our own deadline for one query. */
    std::chrono::milliseconds timeout{std::chrono::seconds{5}};
};

/** One classified answer from libunbound. */
struct dns_answer {
    /**
     * secure_records: validated data; secure_nodata / secure_nxdomain: validated denial;
     * insecure: unsigned (rdata may still hold the unvalidated data); bogus; dns_error.
     */
    dns_status status = dns_status::dns_error;
    /** Wire rdata of the answer RRset, when the answer has data (secure or insecure). */
    std::vector<std::vector<std::uint8_t>> rdata;
    /** The final name after following CNAMEs, lower case and absolute; the qname without them. */
    std::string canonical_name;
    std::chrono::seconds ttl{0};
    /** why_bogus, the rcode name, the library error or the timeout. */
    std::string detail;
    /** The earliest RRSIG expiration in the answer, when it carried signatures. */
    std::optional<std::chrono::system_clock::time_point> signatures_expire;
};

/** RR types the resolver is asked for. */
namespace rr_type {
inline constexpr int a = 1;
inline constexpr int aaaa = 28;
inline constexpr int tlsa = 52;
}  // namespace rr_type

class resolver_handle;

/**
 * A libunbound context on an io_context. Thread-safe: resolve() may be called from any thread;
 * handlers run on the resolver's internal strand and must not block (post elsewhere if needed).
 * Destroying it closes the context on its strand: queries in flight complete with dns_error
 * ("resolver shut down") if the io_context runs again; objects that may outlive it send queries
 * through a resolver_handle.
 */
class unbound_resolver {
public:
    using handler = std::function<void(dns_answer)>;

    /**
     * Builds and configures the libunbound context. Configuration problems (unreadable anchor
     * file, malformed address, bad unbound.conf) are reported here, never at query time.
     */
    static result<std::unique_ptr<unbound_resolver>> create(boost::asio::io_context& io,
                                                             const resolver_options& options);

    ~unbound_resolver();
    unbound_resolver(const unbound_resolver&) = delete;
    unbound_resolver& operator=(const unbound_resolver&) = delete;

    /** Looks up (@p name, @p type, class IN) and calls @p on_answer exactly once. */
    void resolve(std::string name, int type, handler on_answer);

    /** A handle that stays safe to use after this resolver is destroyed. */
    resolver_handle handle() const;

    /** Completes every query in flight with dns_error ("resolver shut down"); later ones too. */
    void shutdown();

    /** Number of queries handed to libunbound so far (for tests of coalescing). */
    std::uint64_t queries_sent() const noexcept;

    /**
     * The special-use zones (RFC 6761 and unbound's default local zones) that contain @p zone;
     * unbound answers them locally unless a more specific local zone lets queries through.
     */
    static std::vector<std::string> default_local_zones_containing(const std::string& zone);

    /** libunbound's version, for `danegate version`. */
    static std::string library_version();

    struct impl;

private:
    explicit unbound_resolver(std::shared_ptr<impl> state);
    std::shared_ptr<impl> impl_;
};

/**
 * A non-owning, copyable way to query an unbound_resolver, for objects that may outlive it (a
 * lookup in flight, a cache). Once the resolver is gone, resolve() answers dns_error ("resolver
 * shut down") at once, on the calling thread.
 */
class resolver_handle {
public:
    /** Looks up (@p name, @p type, class IN) and calls @p on_answer exactly once. */
    void resolve(std::string name, int type, unbound_resolver::handler on_answer) const;

private:
    friend class unbound_resolver;
    explicit resolver_handle(std::weak_ptr<unbound_resolver::impl> state) : impl_(std::move(state)) {}
    std::weak_ptr<unbound_resolver::impl> impl_;
};

/** Lower case, absolute ("App.Example" -> "app.example."); empty when not a valid host name. */
std::string normalize_domain_name(std::string_view name);

/** Appends normalize_domain_name(@p name) to @p out; false, leaving @p out as it was, when not valid. */
bool append_normalized_domain_name(std::string_view name, std::string& out);

}  // namespace danegate::dane
