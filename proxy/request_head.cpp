// See request_head.hpp.
#include "proxy/request_head.hpp"

namespace danegate::proxy {

void render_request_head(const boost::beast::http::request_header<>& request, std::string& out)
{
    out.clear();
    const auto method = request.method_string();
    const auto target = request.target();
    out.append(method.data(), method.size());
    out += ' ';
    out.append(target.data(), target.size());
    out += request.version() == 10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n";
    for (const auto& field : request) {
        const auto name = field.name_string();
        const auto value = field.value();
        out.append(name.data(), name.size());
        out += ": ";
        out.append(value.data(), value.size());
        out += "\r\n";
    }
    out += "\r\n";
}

}  // namespace danegate::proxy
