// See wire_format.hpp.
#include "proxy/wire_format.hpp"

#include <array>

namespace danegate::proxy {

void append_chunk(std::string& out, const char* data, std::size_t size)
{
    std::array<char, 2 * sizeof(std::size_t)> digits{};
    auto first = digits.end();
    std::size_t rest = size;
    do {
        *--first = "0123456789abcdef"[rest & 0xf];
    } while ((rest >>= 4) != 0);
    out.append(first, digits.end());
    out += "\r\n";
    out.append(data, size);
    out += "\r\n";
}

void append_last_chunk(std::string& out)
{
    out += "0\r\n\r\n";
}

}  // namespace danegate::proxy
