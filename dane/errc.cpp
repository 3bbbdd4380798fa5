// The dane error category: one sentence per dane::errc value.
#include "dane/errc.hpp"

#include <stdexcept>

namespace danegate::dane {

namespace {

class category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "dane"; }

    std::string message(int value) const override
    {
        switch (static_cast<errc>(value)) {
        case errc::bad_tlsa_syntax: return "malformed TLSA record";
        case errc::tlsa_field_range: return "TLSA field out of range 0..255";
        case errc::bad_hex: return "TLSA association data is not valid hex";
        case errc::empty_tlsa_data: return "TLSA association data is empty";
        case errc::digest_length: return "TLSA digest length does not fit the matching type";
        case errc::truncated_rdata: return "truncated TLSA rdata";
        case errc::bad_domain_name: return "invalid domain name";
        case errc::resolver_setup: return "resolver configuration rejected";
        case errc::lookup_failed: return "DNS lookup failed";
        case errc::certificate_load: return "cannot load certificate";
        case errc::tls_setup: return "TLS setup failed";
        }
        return "unknown dane error";
    }
};

}  // namespace

const boost::system::error_category& dane_category() noexcept
{
    static const category instance;
    return instance;
}

std::string failure::message() const
{
    return detail.empty() ? code.message() : detail;
}

void throw_exception_from_error(const failure& f, const boost::source_location&)
{
    throw std::runtime_error(f.message());
}

}  // namespace danegate::dane
