// Exact and "*." wildcard host matching on names normalised once (see host_match.hpp).
#include "routing/host_match.hpp"

#include <algorithm>

namespace danegate::routing {
namespace {

// ASCII only, on purpose: host names on the wire are A-labels (RFC 5890), and std::tolower would
// consult the C locale on every byte.
char ascii_lower(char c) noexcept
{
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool all_digits(std::string_view text) noexcept
{
    return std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Compares @p name (any case) with @p lower (already lower case).
bool equals_lower(std::string_view name, std::string_view lower) noexcept
{
    return name.size() == lower.size()
        && std::equal(name.begin(), name.end(), lower.begin(),
                      [](char a, char b) { return ascii_lower(a) == b; });
}

}  // namespace

std::string_view bare_host(std::string_view host) noexcept
{
    if (host.starts_with('[')) {
        // IP-literal (RFC 3986 §3.2.2): the port, if any, follows the closing bracket.
        const auto close = host.find(']');
        if (close == std::string_view::npos) {
            return host;
        }
        const auto rest = host.substr(close + 1);
        if (rest.empty() || (rest.front() == ':' && all_digits(rest.substr(1)))) {
            return host.substr(0, close + 1);
        }
        return host;
    }
    if (const auto colon = host.find(':'); colon != std::string_view::npos) {
        const auto port = host.substr(colon + 1);
        // Several colons without brackets is no uri-host; leave it whole so it matches nothing.
        if (!all_digits(port)) {
            return host;
        }
        host = host.substr(0, colon);
    }
    // "app.example." and "app.example" are the same absolute name.
    if (host.ends_with('.')) {
        host.remove_suffix(1);
    }
    return host;
}

std::string normalize_host(std::string_view host)
{
    std::string out(bare_host(host));
    std::transform(out.begin(), out.end(), out.begin(), ascii_lower);
    return out;
}

host_pattern::host_pattern(std::string_view pattern)
{
    std::string normalized = normalize_host(pattern);
    if (normalized.starts_with("*.")) {
        wildcard_ = true;
        suffix_ = normalized.substr(1);
    } else {
        suffix_ = std::move(normalized);
    }
}

bool host_pattern::matches(std::string_view host) const noexcept
{
    const std::string_view name = bare_host(host);
    if (!wildcard_) {
        return equals_lower(name, suffix_);
    }
    // "*.corp.example" matches "a.corp.example" and "a.b.corp.example" but not "corp.example"
    // itself, nor ".corp.example" (an empty label is no label).
    return name.size() > suffix_.size() && name.front() != '.'
        && equals_lower(name.substr(name.size() - suffix_.size()), suffix_);
}

std::string host_pattern::to_string() const
{
    return wildcard_ ? "*" + suffix_ : suffix_;
}

}  // namespace danegate::routing
