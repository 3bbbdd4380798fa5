// wire_format against Beast's own serializer: the same bytes for the response heads the session
// renders and for chunked bodies, so replacing the serializer changed nothing on the wire.
#include "proxy/wire_format.hpp"

#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/serializer.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace danegate::proxy {
namespace {

namespace http = boost::beast::http;

/** Everything @p serializer has ready, as Beast would write it; stops at need_buffer. */
template <class Serializer>
std::string drain(Serializer& serializer)
{
    std::string wire;
    boost::system::error_code ec;
    while (!serializer.is_done()) {
        serializer.next(ec, [&](boost::system::error_code&, const auto& buffers) {
            wire += boost::beast::buffers_to_string(buffers);
            serializer.consume(boost::beast::buffer_bytes(buffers));
        });
        if (ec == http::error::need_buffer) {
            break;
        }
        if (ec) {
            ADD_FAILURE() << ec.message();
            break;
        }
    }
    return wire;
}

TEST(wire_format, a_response_head_matches_beast_s_serializer_with_and_without_a_reason)
{
    for (const char* reason : {"", "Everything Is Fine", "Not Found"}) {
        for (const unsigned code : {200U, 404U, 599U, 103U}) {
            http::response<http::empty_body> response;
            response.result(code);
            response.reason(reason);
            response.version(11);
            response.set(http::field::server, "backend");
            response.insert("X-Empty", "");
            response.set(http::field::content_length, "12");
            http::response_serializer<http::empty_body> serializer(response);
            std::string mine = "left over";
            render_response_head(response, mine);
            EXPECT_EQ(mine, drain(serializer)) << code << " '" << reason << "'";
        }
    }
    http::response<http::empty_body> response(http::status::not_modified, 10);
    std::string mine;
    render_response_head(response, mine);
    EXPECT_EQ(mine, "HTTP/1.0 304 Not Modified\r\n\r\n");
}

TEST(wire_format, chunks_match_beast_s_chunked_serializer)
{
    // The session's use: the head with the first piece of body, more pieces, then the last one
    // with the end of the body; sizes below, at and above one hex digit.
    const std::vector<std::string> pieces{std::string(15, 'a'), std::string(16, 'b'), "", std::string(16 * 1024, 'c'),
                                          "z"};
    http::response<http::buffer_body> response(http::status::ok, 11);
    response.set(http::field::content_type, "text/plain");
    response.chunked(true);
    response.body().data = nullptr;
    response.body().more = true;
    http::response_serializer<http::buffer_body> serializer(response);
    std::string beast;
    std::string mine;
    render_response_head(response, mine);
    for (std::size_t i = 0; i < pieces.size(); ++i) {
        auto& piece = pieces[i];
        const bool last = i + 1 == pieces.size();
        response.body().data = piece.empty() ? nullptr : const_cast<char*>(piece.data());
        response.body().size = piece.size();
        response.body().more = !last;
        beast += drain(serializer);
        if (!piece.empty()) {
            append_chunk(mine, piece.data(), piece.size());
        }
        if (last) {
            append_last_chunk(mine);
        }
    }
    EXPECT_TRUE(serializer.is_done());
    EXPECT_EQ(mine, beast);
    EXPECT_NE(mine.find("\r\n\r\nf\r\naaaaaaaaaaaaaaa\r\n10\r\nbbbbbbbbbbbbbbbb\r\n4000\r\nccc"), std::string::npos);
    EXPECT_TRUE(mine.ends_with("\r\n1\r\nz\r\n0\r\n\r\n"));
}

}  // namespace
}  // namespace danegate::proxy
