// Record usability under a policy: RFC 6698 §2.1, RFC 7671 §5 (usages), RFC 7218 (acronyms).
#include "dane/policy.hpp"

namespace danegate::dane {

std::string unusable_because(const tlsa_record& record, const dane_policy& policy)
{
    const std::string u = std::to_string(record.usage);
    switch (record.usage) {
    case usage::pkix_ta:
    case usage::pkix_ee:
        return "usage " + u + " (PKIX) needs a WebPKI store, which danegate does not have";
    case usage::dane_ta:
        if (!policy.allow_dane_ta) {
            return "usage 2 (DANE-TA) is not allowed for this upstream";
        }
        break;
    case usage::dane_ee:
        if (!policy.allow_dane_ee) {
            return "usage 3 (DANE-EE) is not allowed for this upstream";
        }
        break;
    default:
        return "usage " + u + " is not defined";
    }
    if (record.selector != selector::cert && record.selector != selector::spki) {
        return "selector " + std::to_string(record.selector) + " is not defined";
    }
    if (record.matching_type > matching_type::sha2_512) {
        return "matching type " + std::to_string(record.matching_type) + " is not defined";
    }
    return {};
}

bool is_usable(const tlsa_record& record, const dane_policy& policy)
{
    return unusable_because(record, policy).empty();
}

}  // namespace danegate::dane
