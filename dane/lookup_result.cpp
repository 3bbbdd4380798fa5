// Names and mappings of the DNS outcome type, and the RRset digest that keys pools and sessions.
#include "dane/lookup_result.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>

namespace danegate::dane {

std::string_view to_string(dns_status status) noexcept
{
    switch (status) {
    case dns_status::secure_records: return "secure";
    case dns_status::secure_nodata: return "secure NODATA";
    case dns_status::secure_nxdomain: return "secure NXDOMAIN";
    case dns_status::insecure: return "insecure";
    case dns_status::bogus: return "bogus";
    case dns_status::dns_error: return "error";
    }
    return "unknown";
}

reason rejection_reason(dns_status status) noexcept
{
    switch (status) {
    case dns_status::secure_records: return reason::authenticated;
    case dns_status::secure_nodata: return reason::no_tlsa;
    case dns_status::secure_nxdomain: return reason::no_tlsa;
    case dns_status::insecure: return reason::insecure;
    case dns_status::bogus: return reason::bogus;
    case dns_status::dns_error: return reason::dns_error;
    }
    return reason::dns_error;
}

std::array<std::uint8_t, 32> rrset_digest(std::vector<tlsa_record> records)
{
    // Any fixed order of the rdata makes the digest independent of the order DNS returned; here
    // shorter first, then by octets. Each rdata is length-prefixed so no two different sets
    // hash the same input.
    std::vector<std::vector<std::uint8_t>> rdata;
    rdata.reserve(records.size());
    for (const auto& record : records) {
        rdata.push_back(to_rdata(record));
    }
    std::sort(rdata.begin(), rdata.end(), [](const auto& a, const auto& b) {
        if (a.size() != b.size()) {
            return a.size() < b.size();
        }
        return std::memcmp(a.data(), b.data(), a.size()) < 0;
    });
    rdata.erase(std::unique(rdata.begin(), rdata.end()), rdata.end());

    std::array<std::uint8_t, 32> digest{};
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1;
    for (const auto& bytes : rdata) {
        const std::uint8_t length[2] = {static_cast<std::uint8_t>(bytes.size() >> 8),
                                        static_cast<std::uint8_t>(bytes.size() & 0xff)};
        ok = ok && EVP_DigestUpdate(ctx, length, sizeof length) == 1 &&
             EVP_DigestUpdate(ctx, bytes.data(), bytes.size()) == 1;
    }
    unsigned int size = 0;
    ok = ok && EVP_DigestFinal_ex(ctx, digest.data(), &size) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        // Cannot happen with the default provider; an all-ones digest never equals a real one.
        digest.fill(0xff);
    }
    return digest;
}

}  // namespace danegate::dane
