// See wire_format.hpp.
#include "proxy/wire_format.hpp"

#include <array>

namespace danegate::proxy {

namespace {

template <class Fields>
void append_fields(const Fields& fields, std::string& out)
{
    for (const auto& field : fields) {
        const auto name = field.name_string();
        const auto value = field.value();
        out.append(name.data(), name.size());
        out += ": ";
        out.append(value.data(), value.size());
        out += "\r\n";
    }
    out += "\r\n";
}

}  // namespace

void render_response_head(const boost::beast::http::response_header<>& response, std::string& out)
{
    out.clear();
    const unsigned code = response.result_int();
    const std::array<char, 13> start{'H', 'T', 'T', 'P', '/',
                                     static_cast<char>('0' + response.version() / 10), '.',
                                     static_cast<char>('0' + response.version() % 10), ' ',
                                     static_cast<char>('0' + code / 100 % 10),
                                     static_cast<char>('0' + code / 10 % 10),
                                     static_cast<char>('0' + code % 10), ' '};
    out.append(start.data(), start.size());
    const auto reason = response.reason();
    out.append(reason.data(), reason.size());
    out += "\r\n";
    append_fields(response, out);
}

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
