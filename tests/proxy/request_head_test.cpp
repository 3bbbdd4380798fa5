// render_request_head against Beast's own serializer: the same bytes for the headers the session
// renders, and the request line's parts in order.
#include "proxy/request_head.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>

#include <gtest/gtest.h>

#include <string>

namespace danegate::proxy {
namespace {

namespace http = boost::beast::http;

/** What Beast's serializer writes for @p request's header. */
std::string beast_head(http::request<http::empty_body>& request)
{
    http::request_serializer<http::empty_body> serializer(request);
    serializer.split(true);
    std::string wire;
    boost::system::error_code ec;
    while (!serializer.is_header_done()) {
        serializer.next(ec, [&](boost::system::error_code&, const auto& buffers) {
            wire += boost::beast::buffers_to_string(buffers);
            serializer.consume(boost::beast::buffer_bytes(buffers));
        });
        if (ec) {
            ADD_FAILURE() << ec.message();
            break;
        }
    }
    return wire;
}

TEST(request_head, matches_beast_s_serializer_byte_for_byte)
{
    http::request<http::empty_body> request(http::verb::get, "/dashboard/overview?tab=usage", 11);
    request.set(http::field::host, "app.corp.example:8443");
    request.insert("X-Forwarded-For", "203.0.113.7, 192.0.2.9");
    request.insert("X-Custom", "");
    request.set(http::field::via, "1.1 danegate");
    std::string mine;
    render_request_head(request, mine);
    EXPECT_EQ(mine, beast_head(request));
    EXPECT_EQ(mine,
              "GET /dashboard/overview?tab=usage HTTP/1.1\r\n"
              "Host: app.corp.example:8443\r\n"
              "X-Forwarded-For: 203.0.113.7, 192.0.2.9\r\n"
              "X-Custom: \r\n"
              "Via: 1.1 danegate\r\n"
              "\r\n");
}

TEST(request_head, an_unknown_method_and_http_1_0_keep_their_spelling)
{
    http::request<http::empty_body> request;
    request.method_string("PROPFIND");
    request.target("/dav/");
    request.version(10);
    request.set(http::field::content_length, "0");
    std::string mine = "left over";
    render_request_head(request, mine);
    EXPECT_EQ(mine, beast_head(request));
    EXPECT_EQ(mine, "PROPFIND /dav/ HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
}

}  // namespace
}  // namespace danegate::proxy
