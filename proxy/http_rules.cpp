// HTTP/1.1 message rules for the relay; see http_rules.hpp. Each rule cites its RFC section.
#include "proxy/http_rules.hpp"

#include <arpa/inet.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <iterator>
#include <vector>

namespace danegate::proxy {

namespace http = boost::beast::http;

namespace {

std::string_view trim(std::string_view text) noexcept
{
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
        text.remove_prefix(1);
    }
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
        text.remove_suffix(1);
    }
    return text;
}

std::string lower(std::string_view text)
{
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

/** The comma-separated list elements of every @p name field, trimmed, empty ones dropped (RFC 9110 §5.6.1). */
template <class Fields, class Name>
std::vector<std::string> list_values(const Fields& fields, Name name)
{
    std::vector<std::string> items;
    auto range = fields.equal_range(name);
    for (auto it = range.first; it != range.second; ++it) {
        std::string_view value(it->value().data(), it->value().size());
        while (!value.empty()) {
            const auto comma = value.find(',');
            const auto item = trim(value.substr(0, comma));
            if (!item.empty()) {
                items.push_back(lower(item));
            }
            value = comma == std::string_view::npos ? std::string_view{} : value.substr(comma + 1);
        }
    }
    return items;
}

template <class Fields, class Name>
std::size_t count(const Fields& fields, Name name)
{
    auto range = fields.equal_range(name);
    return static_cast<std::size_t>(std::distance(range.first, range.second));
}

// RFC 3986 §3.2.2 allows sub-delims and pct-encoding in a reg-name, but a Host we route on and
// pass upstream must be a DNS name: letters, digits, '-', '_' and '.'. Anything else ("a.com,b.com",
// "%61") is where proxies and backends start to disagree about which host was meant.
bool host_name_char(char c) noexcept
{
    const auto u = static_cast<unsigned char>(c);
    return std::isalnum(u) || c == '-' || c == '.' || c == '_';
}

/** How many non-empty elements the comma-separated list @p value has (RFC 9110 §5.6.1). */
std::size_t list_size(std::string_view value) noexcept
{
    std::size_t size = 0;
    while (!value.empty()) {
        const auto comma = value.find(',');
        if (!trim(value.substr(0, comma)).empty()) {
            ++size;
        }
        value = comma == std::string_view::npos ? std::string_view{} : value.substr(comma + 1);
    }
    return size;
}

/**
 * The fields the message rules ask about, counted in one pass by their known-name codes: each
 * count() or lookup would be a case-insensitive tree search of its own (about half of the cost
 * of checking a response, callgrind).
 */
struct field_census {
    std::size_t host = 0;
    std::size_t content_length = 0;
    std::size_t transfer_encoding = 0;
    std::size_t upgrade = 0;
    std::size_t expect = 0;
    std::string_view first_host;
    std::string_view first_content_length;

    template <bool IsRequest>
    explicit field_census(const http::header<IsRequest>& message)
    {
        for (const auto& field : message) {
            const auto name = field.name();
            const std::string_view value(field.value().data(), field.value().size());
            if (name == http::field::host) {
                first_host = host++ == 0 ? value : first_host;
            } else if (name == http::field::content_length) {
                first_content_length = content_length++ == 0 ? value : first_content_length;
            } else if (name == http::field::transfer_encoding) {
                ++transfer_encoding;
            } else if (name == http::field::upgrade) {
                ++upgrade;
            } else if (name == http::field::expect) {
                ++expect;
            }
        }
    }
};

/** Whether the framing fields conflict (shared by requests and responses). */
std::optional<std::string> framing_problem(const field_census& fields)
{
    const bool has_te = fields.transfer_encoding > 0;
    const bool has_cl = fields.content_length > 0;
    // RFC 9112 §6.3 (3): both present "ought to be handled as an error"; a proxy that picked
    // one would disagree with some other hop about where the message ends (request smuggling).
    if (has_te && has_cl) {
        return "both Content-Length and Transfer-Encoding";
    }
    // RFC 9110 §8.6: several Content-Length fields (or a list) are invalid unless all equal; we
    // do not repair them.
    if (has_cl && (fields.content_length > 1 || list_size(fields.first_content_length) != 1)) {
        return "more than one Content-Length";
    }
    return std::nullopt;
}

/** Appends "Name: value" and CRLF. */
void append_field(std::string& out, std::string_view name, std::string_view value)
{
    out.append(name);
    out += ": ";
    out.append(value);
    out += "\r\n";
}

/** Appends the framing field a relayed message gets: Transfer-Encoding: chunked, or Content-Length. */
void append_framing(std::string& out, bool chunked, std::optional<std::uint64_t> content_length)
{
    if (chunked) {
        append_field(out, "Transfer-Encoding", "chunked");
    } else if (content_length) {
        append_field(out, "Content-Length", std::to_string(*content_length));
    }
}

/**
 * The hop-by-hop fields of one message (RFC 9110 §7.6.1), for the renderers: Connection,
 * Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade, and every field named
 * in Connection but Host and Content-Length, which are end-to-end whatever a sender claims (it
 * MUST NOT list them).
 */
class hop_by_hop_filter {
public:
    template <class Fields>
    explicit hop_by_hop_filter(const Fields& fields) : listed_(list_values(fields, http::field::connection))
    {
    }

    bool drops(http::field code, std::string_view name) const
    {
        constexpr std::array by_definition{http::field::connection, http::field::keep_alive,
                                           http::field::proxy_connection, http::field::te,
                                           http::field::trailer, http::field::transfer_encoding,
                                           http::field::upgrade};
        if (std::find(by_definition.begin(), by_definition.end(), code) != by_definition.end()) {
            return true;
        }
        return !listed_.empty() && code != http::field::host && code != http::field::content_length &&
               std::any_of(listed_.begin(), listed_.end(),
                           [name](const std::string& item) { return boost::beast::iequals(item, name); });
    }

private:
    std::vector<std::string> listed_;
};

}  // namespace

bool has_obs_fold(std::string_view header_block) noexcept
{
    return header_block.find("\r\n ") != std::string_view::npos || header_block.find("\r\n\t") != std::string_view::npos;
}

bool valid_host(std::string_view host) noexcept
{
    if (host.empty()) {
        return false;  // RFC 9112 §3.2: an empty Host is only for URIs without authority
    }
    std::string_view name = host;
    std::string_view port;
    if (host.front() == '[') {
        // IP-literal (RFC 3986 §3.2.2): hex digits, ':' and '.' inside brackets.
        const auto close = host.find(']');
        if (close == std::string_view::npos || close < 3) {
            return false;
        }
        const std::string literal(host.substr(1, close - 1));
        in6_addr address{};
        if (inet_pton(AF_INET6, literal.c_str(), &address) != 1) {
            return false;
        }
        const auto rest = host.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') {
                return false;
            }
            port = rest.substr(1);
        }
        name = {};
    } else {
        const auto colon = host.rfind(':');
        if (colon != std::string_view::npos) {
            name = host.substr(0, colon);
            port = host.substr(colon + 1);
            if (name.empty()) {
                return false;
            }
        }
        if (!std::all_of(name.begin(), name.end(), host_name_char)) {
            return false;
        }
    }
    // port = *DIGIT (RFC 3986 §3.2.3); we also want it to fit in 16 bits.
    if (!std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) || port.size() > 5) {
        return false;
    }
    return port.empty() || std::stoul(std::string(port)) <= 65535;
}

namespace {

bool has_token(const std::vector<std::string>& items, std::string_view token)
{
    return std::find(items.begin(), items.end(), token) != items.end();
}

/** RFC 6455 §4.1, §4.2.1: what a server requires of an opening handshake, the Upgrade aside. */
std::optional<std::string> websocket_handshake_problem(const http::request_header<>& request)
{
    if (request.method() != http::verb::get || request.version() != 11) {
        return "a WebSocket handshake is an HTTP/1.1 GET";
    }
    if (!has_token(list_values(request, http::field::connection), "upgrade")) {
        return "a WebSocket handshake needs Connection: Upgrade";
    }
    if (count(request, http::field::sec_websocket_version) != 1 ||
        request[http::field::sec_websocket_version] != "13") {
        return "Sec-WebSocket-Version must be 13";
    }
    // The key is 16 random bytes in base64: 22 characters and "==".
    const auto key = request[http::field::sec_websocket_key];
    const bool key_ok = count(request, http::field::sec_websocket_key) == 1 && key.size() == 24 &&
                        key.substr(22) == "==" &&
                        std::all_of(key.begin(), key.begin() + 22, [](char c) {
                            return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/';
                        });
    if (!key_ok) {
        return "Sec-WebSocket-Key must be 16 bytes in base64";
    }
    if (request.count(http::field::content_length) > 0 || request.count(http::field::transfer_encoding) > 0) {
        return "a WebSocket handshake has no body";
    }
    return std::nullopt;
}

}  // namespace

bool is_websocket_upgrade(const http::request_header<>& request)
{
    return request.count(http::field::upgrade) > 0;
}

std::optional<std::string> check_websocket_accept(const http::response_header<>& response, std::string_view key)
{
    if (response.result() != http::status::switching_protocols) {
        return "not a 101 response";
    }
    const auto protocols = list_values(response, http::field::upgrade);
    if (protocols.size() != 1 || protocols.front() != "websocket") {
        return "101 without Upgrade: websocket";
    }
    if (!has_token(list_values(response, http::field::connection), "upgrade")) {
        return "101 without Connection: Upgrade";
    }
    // RFC 6455 §4.2.2 (5.4): base64(SHA-1(key + GUID)) proves the upstream read this handshake.
    const std::string input = std::string(key) + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
    unsigned char encoded[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
    const int length = EVP_EncodeBlock(encoded, digest, SHA_DIGEST_LENGTH);
    const std::string_view expected(reinterpret_cast<const char*>(encoded), static_cast<std::size_t>(length));
    const auto accept = response[http::field::sec_websocket_accept];
    if (count(response, http::field::sec_websocket_accept) != 1 || std::string_view(accept.data(), accept.size()) != expected) {
        return "wrong Sec-WebSocket-Accept";
    }
    return std::nullopt;
}

std::optional<request_problem> check_request(const http::request_header<>& request)
{
    // RFC 9110 §6.2: we speak HTTP/1.x only (Beast parses any single-digit version).
    if (request.version() != 10 && request.version() != 11) {
        return request_problem{505, "HTTP version not supported"};
    }
    // RFC 9110 §9.3.6: CONNECT turns us into a tunnel to an arbitrary place: not offered.
    if (request.method() == http::verb::connect) {
        return request_problem{501, "CONNECT is not supported"};
    }
    // RFC 9112 §3.2: origin-form, or asterisk-form for OPTIONS (§3.2.4). absolute-form
    // (§3.2.2) is for forward proxies; not accepted yet.
    const auto target = request.target();
    const bool origin_form = !target.empty() && target.front() == '/';
    const bool asterisk_form = target == "*" && request.method() == http::verb::options;
    if (!origin_form && !asterisk_form) {
        return request_problem{400, "request-target must be origin-form"};
    }
    // RFC 9112 §3.2: a server MUST answer 400 to a request lacking Host, with more than one
    // Host, or with an invalid Host. We require it of HTTP/1.0 too: routing needs it.
    const field_census fields(request);
    if (fields.host != 1) {
        return request_problem{400, "exactly one Host header is required"};
    }
    if (!valid_host(fields.first_host)) {
        return request_problem{400, "invalid Host header"};
    }
    if (auto problem = framing_problem(fields)) {
        return request_problem{400, *problem};
    }
    if (fields.transfer_encoding > 0) {
        // RFC 9112 §6.1: Transfer-Encoding is an HTTP/1.1 feature; in a 1.0 message the
        // framing is faulty.
        if (request.version() == 10) {
            return request_problem{400, "Transfer-Encoding in an HTTP/1.0 request"};
        }
        // RFC 9112 §6.1: a coding we do not understand is 501; chunked must be the final coding
        // of a request (§6.3 (4)). We re-chunk the body, so only plain "chunked" is relayed.
        const auto codings = list_values(request, http::field::transfer_encoding);
        if (codings.empty() || codings.back() != "chunked") {
            return request_problem{400, "chunked is not the final transfer coding"};
        }
        if (codings.size() != 1) {
            return request_problem{501, "transfer coding not implemented"};
        }
    }
    // RFC 9110 §7.8: Upgrade. Only a valid WebSocket handshake (RFC 6455 §4.1) is tunnelled;
    // any other protocol (h2c, ...) is refused outright (DESIGN §4).
    if (fields.upgrade > 0) {
        const auto protocols = list_values(request, http::field::upgrade);
        if (protocols.size() != 1 || protocols.front() != "websocket") {
            return request_problem{400, "only WebSocket upgrades are accepted"};
        }
        if (auto problem = websocket_handshake_problem(request)) {
            return request_problem{400, *problem};
        }
    }
    // RFC 9110 §10.1.1: the only expectation is 100-continue; anything else is 417.
    if (fields.expect > 0) {
        const auto expectations = list_values(request, http::field::expect);
        if (expectations.size() != 1 || expectations.front() != "100-continue") {
            return request_problem{417, "unsupported expectation"};
        }
    }
    return std::nullopt;
}

std::optional<std::string> check_response(const http::response_header<>& response)
{
    // RFC 9112 §4: status-code is 3 digits; 1xx are handled by the session, not relayed as final.
    if (response.result_int() < 100 || response.result_int() > 599) {
        return "invalid status code " + std::to_string(response.result_int());
    }
    if (response.version() != 10 && response.version() != 11) {
        return "unsupported HTTP version";
    }
    if (response.result() == http::status::switching_protocols) {
        return "101 Switching Protocols without an Upgrade request";  // we never send Upgrade
    }
    const field_census fields(response);
    if (auto problem = framing_problem(fields)) {
        return *problem;
    }
    if (fields.transfer_encoding > 0 && response.version() == 10) {
        // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message is faulty framing.
        return "Transfer-Encoding in an HTTP/1.0 response";
    }
    if (fields.transfer_encoding > 0) {
        // RFC 9112 §6.3 (4): a response whose final coding is not chunked is close-delimited;
        // we keep it simple and only relay plain chunked.
        const auto codings = list_values(response, http::field::transfer_encoding);
        if (codings.size() != 1 || codings.front() != "chunked") {
            return "unsupported Transfer-Encoding";
        }
    }
    return std::nullopt;
}

void remove_hop_by_hop(http::fields& fields)
{
    // RFC 9110 §7.6.1 (hop_by_hop_filter). One pass over the fields, by their known-name codes:
    // erasing each name in turn cost a case-insensitive tree search per name.
    const hop_by_hop_filter hop_by_hop(fields);
    for (auto it = fields.begin(); it != fields.end();) {
        const std::string_view name(it->name_string().data(), it->name_string().size());
        it = hop_by_hop.drops(it->name(), name) ? fields.erase(it) : std::next(it);
    }
}

void append_via(http::fields& fields, unsigned received_version)
{
    // RFC 9110 §7.6.3: each intermediary appends received-protocol and a pseudonym.
    std::string via;
    auto range = fields.equal_range(http::field::via);
    for (auto it = range.first; it != range.second; ++it) {
        via.append(it->value().data(), it->value().size());
        via += ", ";
    }
    via += received_version == 10 ? "1.0 danegate" : "1.1 danegate";
    fields.set(http::field::via, via);
}

void render_upstream_request(const http::request_header<>& request, const upstream_request_options& options,
                             std::string& out)
{
    out.clear();
    const auto method = request.method_string();
    const auto target = request.target();
    out.append(method.data(), method.size());
    out += ' ';
    out.append(target.data(), target.size());
    out += " HTTP/1.1\r\n";  // DESIGN §4: HTTP/1.1 upstream whatever the client spoke
    const hop_by_hop_filter hop_by_hop(request);
    // The client's X-Forwarded-For and Via lists go on, with this hop appended.
    std::string forwarded_for;
    std::string via;
    for (const auto& field : request) {
        const auto code = field.name();
        const std::string_view name(field.name_string().data(), field.name_string().size());
        const std::string_view value(field.value().data(), field.value().size());
        if (hop_by_hop.drops(code, name) || code == http::field::content_length || code == http::field::expect) {
            continue;  // we frame the body, and answer 100-continue ourselves
        }
        if (code == http::field::via) {
            via.append(value);
            via += ", ";
            continue;
        }
        if (code == http::field::unknown) {
            if (boost::beast::iequals(name, "X-Forwarded-For")) {
                forwarded_for.append(value);
                forwarded_for += ", ";
                continue;
            }
            // Proto and Host describe this hop only: whatever the client claimed is replaced.
            if (boost::beast::iequals(name, "X-Forwarded-Proto") || boost::beast::iequals(name, "X-Forwarded-Host")) {
                continue;
            }
        }
        append_field(out, name, value);
    }
    forwarded_for.append(options.client_address);
    via += request.version() == 10 ? "1.0 danegate" : "1.1 danegate";
    append_field(out, "X-Forwarded-For", forwarded_for);
    append_field(out, "X-Forwarded-Proto", "https");
    append_field(out, "X-Forwarded-Host", options.host);
    append_field(out, "Via", via);
    if (options.websocket) {
        // Hop-by-hop, so dropped above; a WebSocket handshake asks the next hop anew (RFC 6455 §4.1).
        append_field(out, "Connection", "Upgrade");
        append_field(out, "Upgrade", "websocket");
    }
    append_framing(out, options.chunked, options.content_length);
    out += "\r\n";
}

void render_client_response(const http::response_header<>& response, const client_response_options& options,
                            std::string& out)
{
    out.clear();
    const unsigned code = response.result_int();
    const std::array<char, 13> status_line{'H', 'T', 'T', 'P', '/', '1', '.', '1', ' ',
                                           static_cast<char>('0' + code / 100 % 10),
                                           static_cast<char>('0' + code / 10 % 10),
                                           static_cast<char>('0' + code % 10), ' '};
    out.append(status_line.data(), status_line.size());
    const auto reason = response.reason();
    out.append(reason.data(), reason.size());
    out += "\r\n";
    const hop_by_hop_filter hop_by_hop(response);
    std::string via;
    for (const auto& field : response) {
        const auto code = field.name();
        const std::string_view name(field.name_string().data(), field.name_string().size());
        const std::string_view value(field.value().data(), field.value().size());
        if (hop_by_hop.drops(code, name) || code == http::field::content_length) {
            continue;
        }
        if (code == http::field::via) {
            via.append(value);
            via += ", ";
            continue;
        }
        append_field(out, name, value);
    }
    via += response.version() == 10 ? "1.0 danegate" : "1.1 danegate";
    append_field(out, "Via", via);
    append_framing(out, options.chunked, options.content_length);
    if (!options.keep_alive) {
        append_field(out, "Connection", "close");
    }
    out += "\r\n";
}

}  // namespace danegate::proxy
