// proxy::errc's category; see errc.hpp.
#include "proxy/errc.hpp"

#include <string>

namespace danegate::proxy {

namespace {

class category : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "danegate.proxy"; }

    std::string message(int value) const override
    {
        switch (static_cast<errc>(value)) {
        case errc::upstream_rejected: return "upstream not authenticated";
        case errc::connect_failed: return "upstream connection failed";
        case errc::connect_timeout: return "upstream connection timed out";
        case errc::shutting_down: return "server shutting down";
        }
        return "unknown proxy error";
    }
};

}  // namespace

const boost::system::error_category& proxy_category() noexcept
{
    static const category instance;
    return instance;
}

}  // namespace danegate::proxy
