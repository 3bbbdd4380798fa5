// wire_format against Beast's own serializer: the same chunk framing, so replacing the
// serializer changed nothing on the wire.
#include "proxy/wire_format.hpp"

#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/buffer_body.hpp>
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
    const auto head_end = beast.find("\r\n\r\n");
    ASSERT_NE(head_end, std::string::npos);
    EXPECT_EQ(beast.substr(head_end + 4), mine);
    mine.insert(0, beast.substr(0, head_end + 4));
    EXPECT_NE(mine.find("\r\n\r\nf\r\naaaaaaaaaaaaaaa\r\n10\r\nbbbbbbbbbbbbbbbb\r\n4000\r\nccc"), std::string::npos);
    EXPECT_TRUE(mine.ends_with("\r\n1\r\nz\r\n0\r\n\r\n"));
}

}  // namespace
}  // namespace danegate::proxy
