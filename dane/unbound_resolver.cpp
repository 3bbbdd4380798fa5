// libunbound on Asio: see unbound_resolver.hpp. All state below is touched on the strand only,
// except in the destructor, which runs when no handler of ours can (documented precondition).
#include "dane/unbound_resolver.hpp"

#include "dane/signature_expiry.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <unbound.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <fstream>
#include <map>
#include <sstream>
#include <string_view>

namespace danegate::dane {

namespace net = boost::asio;

namespace {

// unbound's built-in local zones for special-use names (unbound.conf(5), "local-zone" defaults;
// RFC 6761, RFC 6762, RFC 8375, RFC 7686, AS112). A private zone below one of them is answered
// NXDOMAIN locally unless the default is turned off with `local-zone: <name> nodefault`.
constexpr std::array special_use_zones{
    std::string_view{"localhost."}, std::string_view{"test."}, std::string_view{"invalid."},
    std::string_view{"onion."}, std::string_view{"home.arpa."}, std::string_view{"resolver.arpa."},
    std::string_view{"service.arpa."},
    // Reverse zones: loopback, RFC 1918, RFC 6598, link local, documentation, this network.
    std::string_view{"127.in-addr.arpa."}, std::string_view{"10.in-addr.arpa."},
    std::string_view{"16.172.in-addr.arpa."}, std::string_view{"17.172.in-addr.arpa."},
    std::string_view{"18.172.in-addr.arpa."}, std::string_view{"19.172.in-addr.arpa."},
    std::string_view{"20.172.in-addr.arpa."}, std::string_view{"21.172.in-addr.arpa."},
    std::string_view{"22.172.in-addr.arpa."}, std::string_view{"23.172.in-addr.arpa."},
    std::string_view{"24.172.in-addr.arpa."}, std::string_view{"25.172.in-addr.arpa."},
    std::string_view{"26.172.in-addr.arpa."}, std::string_view{"27.172.in-addr.arpa."},
    std::string_view{"28.172.in-addr.arpa."}, std::string_view{"29.172.in-addr.arpa."},
    std::string_view{"30.172.in-addr.arpa."}, std::string_view{"31.172.in-addr.arpa."},
    std::string_view{"168.192.in-addr.arpa."}, std::string_view{"100.in-addr.arpa."},
    std::string_view{"254.169.in-addr.arpa."}, std::string_view{"2.0.192.in-addr.arpa."},
    std::string_view{"100.51.198.in-addr.arpa."}, std::string_view{"113.0.203.in-addr.arpa."},
    std::string_view{"0.in-addr.arpa."}, std::string_view{"255.255.255.255.in-addr.arpa."},
    std::string_view{"ip6.arpa."} /* ::1, ::, fd00::/8, fe80::/10, 2001:db8::/32 all sit below */,
};

bool is_subdomain_or_equal(std::string_view name, std::string_view zone)
{
    if (name.size() < zone.size()) {
        return false;
    }
    if (name.size() == zone.size()) {
        return name == zone;
    }
    return name.ends_with(zone) && name[name.size() - zone.size() - 1] == '.';
}

bool is_loopback_address(std::string_view addr)
{
    return addr.starts_with("127.") || addr.starts_with("::1") || addr.starts_with("localhost");
}

std::string rcode_name(int rcode)
{
    switch (rcode) {
    case 1: return "FORMERR";
    case 2: return "SERVFAIL";
    case 4: return "NOTIMP";
    case 5: return "REFUSED";
    default: return "rcode " + std::to_string(rcode);
    }
}

// Owner names of the DS/DNSKEY lines of an anchor file, to find the private zones it configures.
std::vector<std::string> anchor_owner_names(std::istream& in)
{
    std::vector<std::string> owners;
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string owner;
        if (fields >> owner && !owner.starts_with(";") && !owner.starts_with("$")) {
            owners.push_back(owner);
        }
    }
    return owners;
}

// TESTBED.md: classify in the order err -> bogus -> rcode -> secure. A bogus answer arrives with
// NOERROR and data; a SERVFAIL has neither secure nor bogus set and would otherwise look insecure.
dns_answer classify(int err, const ub_result* result, const std::string& qname)
{
    dns_answer answer;
    if (err != 0 || result == nullptr) {
        answer.status = dns_status::dns_error;
        answer.detail = std::string("resolver error: ") + ub_strerror(err);
        return answer;
    }
    answer.ttl = std::chrono::seconds{std::max(result->ttl, 0)};
    answer.canonical_name = qname;
    if (result->canonname != nullptr) {
        answer.canonical_name = normalize_domain_name(result->canonname);
        if (answer.canonical_name.empty()) {
            // An alias target we cannot spell would silently drop the expanded name from the
            // TLSA lookup order (RFC 7671 §7): refuse rather than guess.
            answer.status = dns_status::dns_error;
            answer.detail = qname + " is an alias for a name danegate cannot use: " + result->canonname;
            return answer;
        }
    }
    if (result->bogus) {
        answer.status = dns_status::bogus;
        answer.detail = result->why_bogus != nullptr ? result->why_bogus : "DNSSEC validation failed";
        return answer;
    }
    if (result->rcode != 0 && result->rcode != 3) {
        answer.status = dns_status::dns_error;
        answer.detail = rcode_name(result->rcode) + " for " + qname;
        return answer;
    }
    if (result->havedata) {
        for (int i = 0; result->data[i] != nullptr; ++i) {
            const auto* bytes = reinterpret_cast<const std::uint8_t*>(result->data[i]);
            answer.rdata.emplace_back(bytes, bytes + result->len[i]);
        }
    }
    if (!result->secure) {
        answer.status = dns_status::insecure;
        answer.detail = qname + " is not DNSSEC-signed (no chain of trust)";
        return answer;
    }
    if (result->answer_packet != nullptr && result->answer_len > 0) {
        answer.signatures_expire = earliest_signature_expiry(
            {static_cast<const std::uint8_t*>(result->answer_packet), static_cast<std::size_t>(result->answer_len)});
    }
    if (result->havedata) {
        answer.status = dns_status::secure_records;
    } else if (result->nxdomain) {
        answer.status = dns_status::secure_nxdomain;
    } else {
        answer.status = dns_status::secure_nodata;
    }
    return answer;
}

dns_answer error_answer(std::string detail)
{
    dns_answer answer;
    answer.status = dns_status::dns_error;
    answer.detail = std::move(detail);
    return answer;
}

}  // namespace

bool append_normalized_domain_name(std::string_view name, std::string& out)
{
    if (name.empty() || name.size() > 254) {
        return false;
    }
    std::size_t label = 0;
    for (const char c : name) {
        if (c == '.') {
            if (label == 0) {
                return false;
            }
            label = 0;
        } else {
            const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                 (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '*';
            if (!allowed || ++label > 63) {
                return false;
            }
        }
    }
    const bool absolute = name.back() == '.';
    if (name.size() + (absolute ? 0 : 1) > 254) {
        return false;
    }
    const std::size_t start = out.size();
    out.append(name);
    for (auto it = out.begin() + static_cast<std::ptrdiff_t>(start); it != out.end(); ++it) {
        *it = static_cast<char>(*it >= 'A' && *it <= 'Z' ? *it - 'A' + 'a' : *it);
    }
    if (!absolute) {
        out.push_back('.');
    }
    return true;
}

std::string normalize_domain_name(std::string_view name)
{
    std::string out;
    out.reserve(name.size() + 1);
    return append_normalized_domain_name(name, out) ? out : std::string{};
}

struct unbound_resolver::impl : std::enable_shared_from_this<impl> {
    struct query {
        std::uint64_t serial = 0;  // never reused, unlike the query's address
        int id = 0;                // libunbound's async_id
        std::string name;
        handler on_answer;
        net::steady_timer deadline;
        impl* owner;

        query(net::strand<net::io_context::executor_type>& strand, impl* o) : deadline(strand), owner(o) {}
    };

    net::io_context& io;
    net::strand<net::io_context::executor_type> strand;
    ub_ctx* ctx;
    net::posix::stream_descriptor pipe;
    std::chrono::milliseconds timeout;
    std::map<std::uint64_t, std::unique_ptr<query>> in_flight;
    std::uint64_t next_serial = 0;
    bool waiting = false;
    std::string closed_because;  // empty while the resolver works
    std::atomic<std::uint64_t> sent{0};

    impl(net::io_context& context, ub_ctx* c, std::chrono::milliseconds t)
        : io(context), strand(net::make_strand(context)), ctx(c), pipe(strand), timeout(t)
    {
    }

    // The last reference goes on the strand (handlers hold it) or while the io_context is being
    // destroyed; either way no ub_process runs. Queries still here have nobody left to answer.
    ~impl()
    {
        for (const auto& [serial, q] : in_flight) {
            ub_cancel(ctx, q->id);
        }
        in_flight.clear();
        // The pipe belongs to libunbound: release it so Asio does not close it under ub_ctx_delete.
        pipe.release();
        ub_ctx_delete(ctx);
    }

    void start(std::string name, int type, handler on_answer)
    {
        if (!closed_because.empty()) {
            net::post(strand, [h = std::move(on_answer), why = closed_because] { h(error_answer(why)); });
            return;
        }
        auto owned = std::make_unique<query>(strand, this);
        query* q = owned.get();
        q->serial = ++next_serial;
        q->name = std::move(name);
        q->on_answer = std::move(on_answer);
        const int err = ub_resolve_async(ctx, q->name.c_str(), type, 1 /* IN */, q, &on_result, &q->id);
        if (err != 0) {
            net::post(strand, [h = std::move(q->on_answer), err] {
                h(error_answer(std::string("resolver error: ") + ub_strerror(err)));
            });
            return;
        }
        ++sent;
        in_flight.emplace(q->serial, std::move(owned));
        q->deadline.expires_after(timeout);
        q->deadline.async_wait([self = shared_from_this(), serial = q->serial](boost::system::error_code ec) {
            if (!ec) {
                self->on_deadline(serial);
            }
        });
        wait_for_results();
    }

    void wait_for_results()
    {
        // Only wait while queries are in flight, so an io_context with nothing else to do returns.
        if (waiting || in_flight.empty()) {
            return;
        }
        waiting = true;
        pipe.async_wait(net::posix::descriptor_base::wait_read,
                        [self = shared_from_this()](boost::system::error_code ec) { self->on_readable(ec); });
    }

    void on_readable(boost::system::error_code ec)
    {
        waiting = false;
        if (!closed_because.empty()) {
            return;
        }
        if (ec && ec != net::error::operation_aborted) {
            close("libunbound's result pipe failed: " + ec.message());
            return;
        }
        if (!ec) {
            // Runs the callbacks of every result that is ready, here on the strand.
            if (int err = ub_process(ctx); err != 0) {
                // UB_PIPE and the like: the worker thread is gone and no answer will come.
                close(std::string("libunbound failed: ") + ub_strerror(err));
                return;
            }
        }
        // A wait cancelled while idle may meet a query started since.
        wait_for_results();
    }

    void on_deadline(std::uint64_t serial)
    {
        auto it = in_flight.find(serial);
        if (it == in_flight.end()) {
            return;
        }
        ub_cancel(ctx, it->second->id);  // its callback will not be called any more
        const auto seconds = std::chrono::duration<double>(timeout).count();
        finish(serial, error_answer("no answer for " + it->second->name + " within " +
                                    std::to_string(seconds).substr(0, 4) + " s"));
    }

    static void on_result(void* my_data, int err, ub_result* result)
    {
        auto* q = static_cast<query*>(my_data);
        dns_answer answer = classify(err, result, q->name);
        ub_resolve_free(result);
        q->owner->finish(q->serial, std::move(answer));
    }

    void finish(std::uint64_t serial, dns_answer answer)
    {
        auto node = in_flight.extract(serial);
        if (node.empty()) {
            return;
        }
        std::unique_ptr<query> owned = std::move(node.mapped());
        owned->deadline.cancel();
        if (in_flight.empty() && waiting) {
            // Nothing left to wait for: let an io_context with no other work return.
            boost::system::error_code ignored;
            pipe.cancel(ignored);
        }
        // Handlers run after ub_process returns, never inside libunbound's callback.
        net::post(strand, [h = std::move(owned->on_answer), a = std::move(answer)]() mutable { h(std::move(a)); });
    }

    /** Answers every query in flight, and every later one, with dns_error and @p why. */
    void close(std::string why)
    {
        closed_because = std::move(why);
        while (!in_flight.empty()) {
            auto it = in_flight.begin();
            ub_cancel(ctx, it->second->id);
            finish(it->first, error_answer(closed_because));
        }
        boost::system::error_code ignored;
        pipe.cancel(ignored);
    }
};

result<std::unique_ptr<unbound_resolver>> unbound_resolver::create(net::io_context& io,
                                                                    const resolver_options& options)
{
    ub_ctx* ctx = ub_ctx_create();
    if (ctx == nullptr) {
        return make_failure(errc::resolver_setup, "cannot create the libunbound context");
    }
    auto fail = [ctx](std::string detail) {
        ub_ctx_delete(ctx);
        return make_failure(errc::resolver_setup, std::move(detail));
    };
    auto setup_error = [](int err) { return std::string(": ") + ub_strerror(err); };

    std::vector<std::string> private_zones;
    if (!options.unbound_conf.empty()) {
        if (!std::ifstream(options.unbound_conf)) {
            return fail("cannot read unbound configuration " + options.unbound_conf);
        }
        if (int err = ub_ctx_config(ctx, options.unbound_conf.c_str()); err != 0) {
            return fail("unbound configuration " + options.unbound_conf + setup_error(err));
        }
    }
    for (const auto& file : options.trust_anchor_files) {
        std::ifstream in(file);
        if (!in) {
            return fail("cannot read trust anchor file " + file);
        }
        auto owners = anchor_owner_names(in);
        if (owners.empty()) {
            return fail("trust anchor file " + file + " holds no DS or DNSKEY record");
        }
        private_zones.insert(private_zones.end(), owners.begin(), owners.end());
        if (int err = ub_ctx_add_ta_file(ctx, file.c_str()); err != 0) {
            return fail("trust anchor file " + file + setup_error(err));
        }
    }
    for (const auto& anchor : options.trust_anchors) {
        std::istringstream in(anchor);
        auto owners = anchor_owner_names(in);
        if (owners.empty()) {
            return fail("empty trust anchor");
        }
        private_zones.push_back(owners.front());
        if (int err = ub_ctx_add_ta(ctx, anchor.c_str()); err != 0) {
            return fail("trust anchor \"" + anchor + "\"" + setup_error(err));
        }
    }
    bool loopback_server = false;
    for (const auto& stub : options.stub_zones) {
        const std::string zone = normalize_domain_name(stub.name);
        if (zone.empty()) {
            return fail("stub zone \"" + stub.name + "\" is not a valid domain name");
        }
        if (stub.addrs.empty()) {
            return fail("stub zone " + zone + " has no address");
        }
        private_zones.push_back(zone);
        for (const auto& addr : stub.addrs) {
            if (int err = ub_ctx_set_stub(ctx, zone.c_str(), addr.c_str(), 0); err != 0) {
                return fail("stub zone " + zone + " address \"" + addr + "\"" + setup_error(err));
            }
            loopback_server = loopback_server || is_loopback_address(addr);
        }
    }
    for (const auto& addr : options.forwarders) {
        if (int err = ub_ctx_set_fwd(ctx, addr.c_str()); err != 0) {
            return fail("forwarder \"" + addr + "\"" + setup_error(err));
        }
        loopback_server = loopback_server || is_loopback_address(addr);
    }
    // An operator who names a server on this host means it; unbound refuses localhost by default.
    if (loopback_server) {
        if (int err = ub_ctx_set_option(ctx, "do-not-query-localhost:", "no"); err != 0) {
            return fail("do-not-query-localhost" + setup_error(err));
        }
    }
    // DESIGN §1: private zones under special-use names (test., home.arpa., ...) must resolve
    // instead of hitting unbound's built-in NXDOMAIN answers. `local-zone: <name> nodefault` only
    // works from a config file: given to ub_ctx_set_option it is accepted and ignored (unbound
    // 1.17). A `transparent` local zone for the private zone itself has the same effect through
    // the API, and being more specific it overrides the default zone for that subtree only.
    std::vector<std::string> transparent;
    for (const auto& zone : private_zones) {
        const std::string name = normalize_domain_name(zone);
        if (!default_local_zones_containing(name).empty() &&
            std::find(transparent.begin(), transparent.end(), name) == transparent.end()) {
            transparent.push_back(name);
        }
    }
    for (const auto& name : transparent) {
        const std::string value = name + " transparent";
        if (int err = ub_ctx_set_option(ctx, "local-zone:", value.c_str()); err != 0) {
            return fail("local-zone " + value + setup_error(err));
        }
    }
    // TESTBED.md: without this libunbound forks a worker process per context.
    if (int err = ub_ctx_async(ctx, 1); err != 0) {
        return fail("ub_ctx_async" + setup_error(err));
    }
    // libunbound parses anchors and settings only when the context is finalized, normally at the
    // first query. Removing local data finalizes it without a query, so a malformed anchor is a
    // startup error here instead of a dns-error on every lookup later.
    if (int err = ub_ctx_data_remove(ctx, "danegate-finalize.invalid."); err != 0) {
        return fail("the resolver configuration was rejected (see libunbound's message above)" + setup_error(err));
    }
    auto state = std::make_shared<impl>(io, ctx, options.timeout);
    boost::system::error_code ec;
    state->pipe.assign(ub_fd(ctx), ec);
    if (ec) {
        state->pipe.release();
        return make_failure(errc::resolver_setup, "cannot watch the libunbound pipe: " + ec.message());
    }
    return std::unique_ptr<unbound_resolver>(new unbound_resolver(std::move(state)));
}

unbound_resolver::unbound_resolver(std::shared_ptr<impl> state) : impl_(std::move(state)) {}

unbound_resolver::~unbound_resolver()
{
    // On the strand, like every other touch of the context. If the io_context never runs again,
    // the handler is destroyed with it and the last reference closes the context in ~impl.
    auto strand = impl_->strand;
    net::dispatch(strand, [self = std::move(impl_)] { self->close("resolver shut down"); });
}

void unbound_resolver::resolve(std::string name, int type, handler on_answer)
{
    handle().resolve(std::move(name), type, std::move(on_answer));
}

resolver_handle unbound_resolver::handle() const
{
    return resolver_handle(impl_);
}

void unbound_resolver::shutdown()
{
    net::dispatch(impl_->strand, [self = impl_] { self->close("resolver shut down"); });
}

void resolver_handle::resolve(std::string name, int type, unbound_resolver::handler on_answer) const
{
    auto state = impl_.lock();
    if (!state) {
        on_answer(error_answer("resolver shut down"));
        return;
    }
    net::dispatch(state->strand, [state, name = std::move(name), type, h = std::move(on_answer)]() mutable {
        state->start(std::move(name), type, std::move(h));
    });
}

std::uint64_t unbound_resolver::queries_sent() const noexcept
{
    return impl_->sent.load();
}

std::string unbound_resolver::library_version()
{
    return ub_version();
}

std::vector<std::string> unbound_resolver::default_local_zones_containing(const std::string& zone)
{
    std::vector<std::string> found;
    for (auto special : special_use_zones) {
        if (!zone.empty() && is_subdomain_or_equal(zone, special)) {
            found.emplace_back(special);
        }
    }
    return found;
}

}  // namespace danegate::dane
