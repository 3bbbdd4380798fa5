// view_body under Beast's own parser: pieces point into the input, never past the limit, and a
// held piece stops the parser until room is made for the next.
#include "proxy/view_body.hpp"

#include <boost/beast/http/parser.hpp>

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace danegate::proxy {
namespace {

namespace http = boost::beast::http;
using boost::system::error_code;

/** A parser that has read @p head of @p wire, eager from then on. @return the bytes it used. */
std::size_t parse_head(http::response_parser<view_body>& parser, std::string_view wire, error_code& ec)
{
    const std::size_t used = parser.put(boost::asio::buffer(wire.data(), wire.size()), ec);
    parser.eager(true);
    return used;
}

std::size_t put(http::response_parser<view_body>& parser, std::string_view wire, error_code& ec)
{
    return parser.put(boost::asio::buffer(wire.data(), wire.size()), ec);
}

TEST(view_body, a_piece_points_into_the_input_without_a_copy)
{
    const std::string wire = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    http::response_parser<view_body> parser;
    error_code ec;
    const std::size_t head = parse_head(parser, wire, ec);
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_EQ(head, wire.size() - 5);

    parser.get().body().make_room(1024);
    EXPECT_EQ(put(parser, std::string_view(wire).substr(head), ec), 5u);
    EXPECT_FALSE(ec) << ec.message();
    const std::string_view piece = parser.get().body().piece();
    EXPECT_EQ(piece, "hello");
    EXPECT_EQ(piece.data(), wire.data() + head);  // the input's own bytes
    EXPECT_TRUE(parser.is_done());
}

TEST(view_body, a_piece_stops_at_the_limit_and_the_parser_goes_on_after_make_room)
{
    const std::string wire = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789";
    http::response_parser<view_body> parser;
    error_code ec;
    std::size_t at = parse_head(parser, wire, ec);
    ASSERT_FALSE(ec) << ec.message();

    parser.get().body().make_room(4);
    at += put(parser, std::string_view(wire).substr(at), ec);
    EXPECT_EQ(ec, http::error::need_buffer);
    EXPECT_EQ(parser.get().body().piece(), "0123");
    EXPECT_FALSE(parser.is_done());

    // No room made: the parser takes nothing more.
    EXPECT_EQ(put(parser, std::string_view(wire).substr(at), ec), 0u);
    EXPECT_EQ(ec, http::error::need_buffer);
    EXPECT_EQ(parser.get().body().piece(), "0123");

    parser.get().body().make_room(16);
    EXPECT_TRUE(parser.get().body().piece().empty());
    at += put(parser, std::string_view(wire).substr(at), ec);
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(parser.get().body().piece(), "456789");
    EXPECT_EQ(at, wire.size());
    EXPECT_TRUE(parser.is_done());
}

TEST(view_body, each_chunk_is_its_own_piece)
{
    const std::string wire =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n";
    http::response_parser<view_body> parser;
    error_code ec;
    std::size_t at = parse_head(parser, wire, ec);
    ASSERT_FALSE(ec) << ec.message();

    std::string body;
    int pieces = 0;
    while (!parser.is_done() && at < wire.size()) {
        parser.get().body().make_room(1024);
        at += put(parser, std::string_view(wire).substr(at), ec);
        ASSERT_TRUE(!ec || ec == http::error::need_buffer) << ec.message();
        const std::string_view piece = parser.get().body().piece();
        if (!piece.empty()) {
            ++pieces;
            // Never the chunk framing: a piece is one chunk's data, inside the input.
            EXPECT_GE(piece.data(), wire.data());
            EXPECT_LE(piece.data() + piece.size(), wire.data() + wire.size());
            body += piece;
        }
    }
    EXPECT_TRUE(parser.is_done());
    EXPECT_EQ(pieces, 2);
    EXPECT_EQ(body, "abcdefg");
}

TEST(view_body, a_parser_given_no_room_stops_at_the_body)
{
    const std::string wire = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    http::response_parser<view_body> parser;
    parser.eager(true);  // it would go on into the body, were there room
    error_code ec;
    const std::size_t used = put(parser, wire, ec);
    EXPECT_EQ(ec, http::error::need_buffer);
    EXPECT_EQ(used, wire.size() - 5);
    EXPECT_TRUE(parser.get().body().piece().empty());
    EXPECT_TRUE(parser.is_header_done());
}

}  // namespace
}  // namespace danegate::proxy
