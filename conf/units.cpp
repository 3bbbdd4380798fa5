// Parsing of the configuration's value syntaxes (durations, sizes, addresses, names). Every
// function takes the whole text and accepts it or explains, in one sentence, what is wrong; they
// never throw and never clamp a value into range silently.
#include "conf/units.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>

namespace danegate::conf {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

bool all_digits(std::string_view text)
{
    return !text.empty() && std::all_of(text.begin(), text.end(), is_digit);
}

/** Digits only (no sign, no spaces) into an unsigned 64-bit value; nullopt on overflow. */
std::optional<std::uint64_t> parse_unsigned(std::string_view digits)
{
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc{} || end != digits.data() + digits.size()) {
        return std::nullopt;
    }
    return value;
}

unit_result<std::uint16_t> parse_port(std::string_view text, std::string_view whole)
{
    if (text.empty()) {
        return unit_result<std::uint16_t>::failure("missing port in " + quoted(whole) + " (HOST:PORT)");
    }
    if (!all_digits(text)) {
        return unit_result<std::uint16_t>::failure("port " + quoted(text) + " is not a number");
    }
    const auto port = parse_unsigned(text);
    if (!port || *port < 1 || *port > 65535) {
        return unit_result<std::uint16_t>::failure("port " + std::string(text) + " is out of range 1..65535");
    }
    return static_cast<std::uint16_t>(*port);
}

struct host_port {
    std::string host;
    std::uint16_t port = 0;
    bool bracketed = false;  // "[::1]:443": the host is an IPv6 literal
};

/** "host:port" or "[v6]:port", the shared grammar of listen and endpoint addresses. */
unit_result<host_port> split_host_port(std::string_view text)
{
    using result = unit_result<host_port>;
    if (text.empty()) {
        return result::failure("empty address; expected HOST:PORT");
    }
    host_port out;
    std::string_view port_text;
    if (text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos) {
            return result::failure("missing ']' in " + quoted(text));
        }
        out.host = std::string(text.substr(1, close - 1));
        out.bracketed = true;
        const auto rest = text.substr(close + 1);
        if (rest.empty() || rest.front() != ':') {
            return result::failure("missing port in " + quoted(text) + " ([ADDR]:PORT)");
        }
        port_text = rest.substr(1);
        in6_addr v6{};
        if (inet_pton(AF_INET6, out.host.c_str(), &v6) != 1) {
            return result::failure(quoted(out.host) + " in brackets is not an IPv6 address");
        }
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos) {
            return result::failure("missing port in " + quoted(text) + " (HOST:PORT)");
        }
        if (text.find(':') != colon) {
            // Without brackets "::1:8443" could end in a port or in an address group.
            return result::failure("an IPv6 address needs brackets: [ADDR]:PORT, not " + quoted(text));
        }
        out.host = std::string(text.substr(0, colon));
        port_text = text.substr(colon + 1);
        if (out.host.empty()) {
            return result::failure("missing host in " + quoted(text) +
                                   " (write 0.0.0.0:PORT or [::]:PORT for every address)");
        }
    }
    auto port = parse_port(port_text, text);
    if (!port) {
        return result::failure(port.error());
    }
    out.port = *port;
    return out;
}

}  // namespace

unit_result<duration> parse_duration(std::string_view text)
{
    using result = unit_result<duration>;
    if (text.empty()) {
        return result::failure("empty duration; expected a number and a unit such as 5s");
    }
    if (all_digits(text)) {
        return result::failure("duration " + quoted(text) + " needs a unit: write " + std::string(text) +
                               "s or " + std::string(text) + "ms (units: ms, s, m, h)");
    }
    // Chained components like Go's time.ParseDuration: "1h30m", "1m30s", "1s500ms".
    using ms = std::chrono::milliseconds::rep;
    ms total = 0;
    std::string_view rest = text;
    while (!rest.empty()) {
        std::size_t n = 0;
        while (n < rest.size() && is_digit(rest[n])) {
            ++n;
        }
        std::size_t u = n;
        while (u < rest.size() && is_alpha(rest[u])) {
            ++u;
        }
        if (n == 0 || u == n) {
            return result::failure("bad duration " + quoted(text) + "; expected a number and a unit (ms, s, m, h), e.g. 500ms, 5s, 2m, 1h");
        }
        const auto number = parse_unsigned(rest.substr(0, n));
        const auto unit = rest.substr(n, u - n);
        ms scale = 0;
        if (unit == "ms") {
            scale = 1;
        } else if (unit == "s") {
            scale = 1000;
        } else if (unit == "m") {
            scale = 60 * 1000;
        } else if (unit == "h") {
            scale = 3600 * 1000;
        } else {
            return result::failure("unknown unit " + quoted(unit) + " in duration " + quoted(text) + " (units: ms, s, m, h)");
        }
        constexpr auto max = std::numeric_limits<ms>::max();
        if (!number || *number > static_cast<std::uint64_t>(max / scale) ||
            static_cast<ms>(*number) * scale > max - total) {
            return result::failure("duration " + quoted(text) + " is too large");
        }
        total += static_cast<ms>(*number) * scale;
        rest = rest.substr(u);
    }
    return duration{total};
}

unit_result<std::size_t> parse_size(std::string_view text)
{
    using result = unit_result<std::size_t>;
    std::size_t n = 0;
    while (n < text.size() && is_digit(text[n])) {
        ++n;
    }
    if (n == 0) {
        return result::failure("bad size " + quoted(text) + "; expected bytes or a number with B, KiB, MiB, GiB, KB, MB or GB");
    }
    const auto unit = text.substr(n);
    struct suffix {
        std::string_view name;
        std::uint64_t scale;
    };
    constexpr std::array<suffix, 8> suffixes{{
        {"", 1}, {"B", 1},
        {"KiB", 1ULL << 10}, {"MiB", 1ULL << 20}, {"GiB", 1ULL << 30},
        {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
    }};
    const auto found = std::find_if(suffixes.begin(), suffixes.end(), [&](const suffix& s) { return s.name == unit; });
    if (found == suffixes.end()) {
        return result::failure("unknown unit " + quoted(unit) + " in size " + quoted(text) +
                               " (B, KiB, MiB, GiB = powers of 1024; KB, MB, GB = powers of 1000)");
    }
    const auto number = parse_unsigned(text.substr(0, n));
    constexpr auto max = static_cast<std::uint64_t>(std::numeric_limits<std::size_t>::max());
    if (!number || *number > max / found->scale) {
        return result::failure("size " + quoted(text) + " is too large");
    }
    return static_cast<std::size_t>(*number * found->scale);
}

unit_result<listen_address> parse_listen_address(std::string_view text)
{
    using result = unit_result<listen_address>;
    auto split = split_host_port(text);
    if (!split) {
        return result::failure(split.error());
    }
    listen_address out;
    out.port = split.value().port;
    if (split.value().bracketed || is_ip_literal(split.value().host)) {
        out.host = split.value().host;
        return out;
    }
    auto name = parse_domain_name(split.value().host);
    if (!name) {
        return result::failure("host " + quoted(split.value().host) + " is neither an IP address nor a name: " + name.error());
    }
    out.host = *name;
    return out;
}

unit_result<endpoint_address> parse_endpoint_address(std::string_view text)
{
    using result = unit_result<endpoint_address>;
    auto split = split_host_port(text);
    if (!split) {
        return result::failure(split.error());
    }
    endpoint_address out;
    out.port = split.value().port;
    if (split.value().bracketed || is_ip_literal(split.value().host)) {
        // DANE authenticates a name: the TLSA record lives at _PORT._tcp.NAME (RFC 6698 §3).
        return result::failure("endpoint " + quoted(split.value().host) +
                               " is an IP address; DANE needs a host name whose _" + std::to_string(out.port) +
                               "._tcp TLSA record authenticates it");
    }
    // Underscores are valid in DNS names and common in container service names.
    auto name = parse_domain_name(split.value().host, {.allow_wildcard = false, .allow_underscore = true});
    if (!name) {
        return result::failure("host " + quoted(split.value().host) + " is not a valid host name: " + name.error());
    }
    out.host = *name;
    return out;
}

unit_result<resolver_address> parse_resolver_address(std::string_view text)
{
    using result = unit_result<resolver_address>;
    resolver_address out;
    std::string_view addr = text;
    const auto at = text.find('@');
    if (at != std::string_view::npos) {
        addr = text.substr(0, at);
        auto port = parse_port(text.substr(at + 1), text);
        if (!port) {
            return result::failure(port.error());
        }
        out.port = *port;
    }
    if (addr.size() > 2 && addr.front() == '[' && addr.back() == ']') {
        return result::failure("write IPv6 resolver addresses without brackets: ADDR@PORT, e.g. ::1@53");
    }
    if (!is_ip_literal(addr)) {
        return result::failure(quoted(addr) + " is not an IP address (ADDR@PORT, e.g. 10.0.0.53@53; unbound takes no names here)");
    }
    out.host = std::string(addr);
    return out;
}

unit_result<std::string> parse_domain_name(std::string_view text, name_rules rules)
{
    using result = unit_result<std::string>;
    std::string name(text);
    if (!name.empty() && name.back() == '.') {
        name.pop_back();
    }
    if (name.empty()) {
        return result::failure("empty name");
    }
    if (name.size() > 253) {
        return result::failure("name " + quoted(text) + " is longer than 253 characters");
    }
    std::string_view rest = name;
    bool first = true;
    while (true) {
        const auto dot = rest.find('.');
        const auto label = rest.substr(0, dot);
        if (label.empty()) {
            return result::failure("name " + quoted(text) + " has an empty label");
        }
        if (label.size() > 63) {
            return result::failure("name " + quoted(text) + " has a label longer than 63 characters");
        }
        const bool wildcard = first && label == "*" && rules.allow_wildcard;
        if (label == "*" && !wildcard) {
            return result::failure(rules.allow_wildcard ? "a wildcard '*' may only be the first label, as in *.corp.example"
                                                        : "a wildcard is not allowed in " + quoted(text));
        }
        if (!wildcard) {
            for (char c : label) {
                const bool ok = is_alpha(c) || is_digit(c) || c == '-' || (c == '_' && rules.allow_underscore);
                if (!ok) {
                    return result::failure("name " + quoted(text) + " contains " + quoted(std::string(1, c)) +
                                           " (letters, digits and '-' only)");
                }
            }
            if (label.front() == '-' || label.back() == '-') {
                return result::failure("a label of " + quoted(text) + " starts or ends with '-'");
            }
        }
        first = false;
        if (dot == std::string_view::npos) {
            break;
        }
        rest = rest.substr(dot + 1);
    }
    std::transform(name.begin(), name.end(), name.begin(), to_lower);
    return name;
}

bool is_ip_literal(std::string_view text)
{
    const std::string s(text);
    in_addr v4{};
    in6_addr v6{};
    return inet_pton(AF_INET, s.c_str(), &v4) == 1 || inet_pton(AF_INET6, s.c_str(), &v6) == 1;
}

}  // namespace danegate::conf
