// See endpoint_status.hpp.
#include "proxy/endpoint_status.hpp"

namespace danegate::proxy {

std::string_view dnssec_state(dane::dns_status status) noexcept
{
    switch (status) {
    case dane::dns_status::secure_records:
    case dane::dns_status::secure_nodata:
    case dane::dns_status::secure_nxdomain:
        return "secure";
    case dane::dns_status::insecure:
        return "insecure";
    case dane::dns_status::bogus:
        return "bogus";
    case dane::dns_status::dns_error:
        return "indeterminate";
    }
    return "indeterminate";
}

void endpoint_status_board::record(const std::string& upstream, const std::string& endpoint, endpoint_status status)
{
    std::lock_guard lock(mutex_);
    statuses_[{upstream, endpoint}] = std::move(status);
}

std::optional<endpoint_status> endpoint_status_board::find(const std::string& upstream, const std::string& endpoint) const
{
    std::lock_guard lock(mutex_);
    if (auto it = statuses_.find({upstream, endpoint}); it != statuses_.end()) {
        return it->second;
    }
    return std::nullopt;
}

std::map<endpoint_status_board::key, endpoint_status> endpoint_status_board::all() const
{
    std::lock_guard lock(mutex_);
    return statuses_;
}

}  // namespace danegate::proxy
