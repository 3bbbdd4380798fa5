// The single name table for dane::reason (DESIGN §1 vocabulary).
#include "dane/reason.hpp"

#include <array>
#include <utility>

namespace danegate::dane {

namespace {

constexpr std::array<std::pair<reason, std::string_view>, 8> names{{
    {reason::authenticated, "authenticated"},
    {reason::mismatch, "mismatch"},
    {reason::no_tlsa, "no-tlsa"},
    {reason::insecure, "insecure"},
    {reason::bogus, "bogus"},
    {reason::unusable, "unusable"},
    {reason::dns_error, "dns-error"},
    {reason::tls_error, "tls-error"},
}};

}  // namespace

std::string_view to_string(reason r) noexcept
{
    for (const auto& [value, word] : names) {
        if (value == r) {
            return word;
        }
    }
    return "unknown";
}

std::optional<reason> reason_from_string(std::string_view word) noexcept
{
    for (const auto& [value, name] : names) {
        if (name == word) {
            return value;
        }
    }
    return std::nullopt;
}

}  // namespace danegate::dane
