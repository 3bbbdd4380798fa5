// See signature_expiry.hpp. A bounds-checked walk over the message (RFC 1035 §4.1): header,
// questions, then answer records, skipping names (labels or a compression pointer).
#include "dane/signature_expiry.hpp"

namespace danegate::dane {

namespace {

constexpr std::uint16_t type_rrsig = 46;

class reader {
public:
    explicit reader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

    bool skip(std::size_t n)
    {
        if (bytes_.size() - pos_ < n) {
            return false;
        }
        pos_ += n;
        return true;
    }

    std::optional<std::uint32_t> number(std::size_t width)
    {
        if (bytes_.size() - pos_ < width) {
            return std::nullopt;
        }
        std::uint32_t value = 0;
        for (std::size_t i = 0; i < width; ++i) {
            value = (value << 8) | bytes_[pos_ + i];
        }
        pos_ += width;
        return value;
    }

    /** Skips an owner name: labels up to the root, or up to a compression pointer. */
    bool skip_name()
    {
        for (int labels = 0; labels < 128; ++labels) {
            const auto length = number(1);
            if (!length) {
                return false;
            }
            if (*length == 0) {
                return true;
            }
            if ((*length & 0xC0) == 0xC0) {
                return skip(1);
            }
            if ((*length & 0xC0) != 0 || !skip(*length)) {
                return false;
            }
        }
        return false;
    }

    std::size_t position() const { return pos_; }

private:
    std::span<const std::uint8_t> bytes_;
    std::size_t pos_ = 0;
};

}  // namespace

std::optional<std::chrono::system_clock::time_point> earliest_signature_expiry(std::span<const std::uint8_t> packet)
{
    reader in(packet);
    if (!in.skip(4)) {
        return std::nullopt;
    }
    const auto questions = in.number(2);
    const auto answers = in.number(2);
    if (!questions || !answers || !in.skip(4)) {
        return std::nullopt;
    }
    for (std::uint32_t i = 0; i < *questions; ++i) {
        if (!in.skip_name() || !in.skip(4)) {
            return std::nullopt;
        }
    }
    std::optional<std::chrono::system_clock::time_point> earliest;
    for (std::uint32_t i = 0; i < *answers; ++i) {
        if (!in.skip_name()) {
            return std::nullopt;
        }
        const auto type = in.number(2);
        const bool header_ok = type && in.skip(6);  // class, TTL
        const auto length = header_ok ? in.number(2) : std::nullopt;
        if (!length) {
            return std::nullopt;
        }
        const auto rdata = in.position();
        if (*type == type_rrsig && *length >= 18) {
            // type covered (2), algorithm (1), labels (1), original TTL (4), then the expiration:
            // seconds since 1970 as an unsigned 32-bit number (valid until 2106).
            reader rrsig(packet.subspan(rdata, *length));
            rrsig.skip(8);
            const auto expiration = rrsig.number(4);
            const auto at = std::chrono::system_clock::time_point(std::chrono::seconds(*expiration));
            earliest = earliest ? std::min(*earliest, at) : at;
        }
        if (!in.skip(*length)) {
            return std::nullopt;
        }
    }
    return earliest;
}

}  // namespace danegate::dane
