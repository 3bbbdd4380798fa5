// A Beast body for a relayed body that copies nothing: the parser leaves in it where, in the
// caller's input buffer, the body bytes it just parsed lie.
//
// Why: with buffer_body the parser copies every body byte out of the input buffer, and the
// relay then copies it again next to its framing. For a 64 KiB response that was two of the
// four copies a proxied body took (the other two are OpenSSL's, into and out of its record
// buffers); callgrind counted 4 x 64 KiB of memcpy per request.
//
// The catch is lifetime: a piece points into the input buffer, so it is valid only until that
// buffer is next written to (a prepare() may move what it holds). The caller parses with
// parser.put() on its own buffer, relays the piece, and reads into the buffer only afterwards;
// Beast's async_read_some cannot be used with it: while the parser needs more, it reads again
// before it returns, and the prepare() for that read may move the bytes a piece points to.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional/optional.hpp>
#include <boost/system/error_code.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace danegate::proxy {

struct view_body {
    /** At most one contiguous piece of body. */
    class value_type {
    public:
        /** The body bytes parsed since the last make_room(); empty when none. */
        std::string_view piece() const { return {data_, size_}; }

        /** Forgets the piece (it has been relayed) and makes room for the next, of at most @p limit bytes. */
        void make_room(std::size_t limit)
        {
            data_ = nullptr;
            size_ = 0;
            limit_ = limit;
        }

    private:
        friend struct view_body;
        const char* data_ = nullptr;
        std::size_t size_ = 0;
        std::size_t limit_ = 0;  // 0 until make_room(): a parser given no room stops at the body
    };

    class reader {
    public:
        template <bool isRequest, class Fields>
        reader(boost::beast::http::header<isRequest, Fields>&, value_type& body) : body_(body)
        {
        }

        void init(const boost::optional<std::uint64_t>&, boost::system::error_code& ec) { ec = {}; }

        /**
         * Takes the first buffer's bytes as the piece, up to the limit. A piece already held, or
         * bytes left over, answer need_buffer, as a full buffer_body does: the parser stops
         * there, and the caller relays the piece before it puts the rest.
         */
        template <class ConstBufferSequence>
        std::size_t put(const ConstBufferSequence& buffers, boost::system::error_code& ec)
        {
            const boost::asio::const_buffer first = *boost::asio::buffer_sequence_begin(buffers);
            if (body_.size_ > 0) {
                ec = boost::beast::http::error::need_buffer;
                return 0;
            }
            const std::size_t taken = std::min(first.size(), body_.limit_);
            body_.data_ = static_cast<const char*>(first.data());
            body_.size_ = taken;
            if (taken < boost::asio::buffer_size(buffers)) {
                ec = boost::beast::http::error::need_buffer;
            } else {
                ec = {};
            }
            return taken;
        }

        void finish(boost::system::error_code& ec) { ec = {}; }

    private:
        value_type& body_;
    };
};

}  // namespace danegate::proxy
