// Host-name patterns for routes: exact names and "*." wildcards (one or more leading labels),
// matched ASCII case-insensitively. Patterns are normalised once at construction; the name being
// matched (a Host header or an SNI value) is only trimmed, never copied, so matching allocates
// nothing on the request path.
#pragma once

#include <string>
#include <string_view>

namespace danegate::routing {

/** One route pattern for a Host header or an SNI value. Immutable once built. */
class host_pattern {
public:
    /** "app.corp.example" or "*.corp.example"; case and a trailing dot do not matter. */
    explicit host_pattern(std::string_view pattern);

    /**
     * Whether @p host matches: any case, with or without a trailing dot or a ":port" suffix
     * (RFC 9110 §7.2 Host syntax, including "[v6]:port"). A host that is not a well-formed
     * uri-host[:port] is compared as it stands and so matches nothing a sane pattern names.
     */
    bool matches(std::string_view host) const noexcept;

    /** Whether the pattern was "*.suffix". */
    bool is_wildcard() const noexcept { return wildcard_; }

    /** The normalised pattern: lower case, no trailing dot ("*.corp.example"). */
    std::string to_string() const;

private:
    std::string suffix_;  // lower case, no trailing dot; for a wildcard, ".corp.example"
    bool wildcard_ = false;
};

/**
 * @p host without a ":port" suffix and without one trailing dot, case untouched. "[::1]:8443"
 * gives "[::1]" (brackets kept: they are how a Host header spells an IPv6 literal). When what
 * follows the host is not ":" and digits, or an unbracketed name holds several colons, @p host is
 * returned as it stands.
 * @return a view into @p host.
 */
std::string_view bare_host(std::string_view host) noexcept;

/** bare_host() in ASCII lower case: the form patterns are stored in. */
std::string normalize_host(std::string_view host);

}  // namespace danegate::routing
