#include "routing/host_match.hpp"

#include <algorithm>
#include <cctype>

namespace danegate::routing {

std::string normalize_host(std::string_view host)
{
    // "[v6]:port" keeps its brackets; "name:port" loses the port.
    if (!host.empty() && host.front() != '[') {
        if (auto colon = host.rfind(':'); colon != std::string_view::npos) {
            host = host.substr(0, colon);
        }
    }
    if (!host.empty() && host.back() == '.') {
        host.remove_suffix(1);
    }
    std::string out(host);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
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

bool host_pattern::matches(std::string_view host) const
{
    const std::string name = normalize_host(host);
    if (!wildcard_) {
        return name == suffix_;
    }
    // "*.corp.example" matches "a.corp.example" and "a.b.corp.example", not "corp.example".
    return name.size() > suffix_.size() && name.ends_with(suffix_);
}

}  // namespace danegate::routing
