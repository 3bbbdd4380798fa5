// Host-name patterns for routes: exact names and "*." wildcards (one or more leading labels),
// matched case-insensitively on names normalized once at construction.
#pragma once

#include <string>
#include <string_view>

namespace danegate::routing {

class host_pattern {
public:
    /** "app.corp.example" or "*.corp.example"; case and a trailing dot do not matter. */
    explicit host_pattern(std::string_view pattern);

    /** Whether @p host (any case, trailing dot or not, optional ":port") matches. */
    bool matches(std::string_view host) const;

    bool is_wildcard() const noexcept { return wildcard_; }

private:
    std::string suffix_;  // lower case, no trailing dot; for a wildcard, ".corp.example"
    bool wildcard_ = false;
};

/** Lower case, without a trailing dot or a ":port" suffix. */
std::string normalize_host(std::string_view host);

}  // namespace danegate::routing
