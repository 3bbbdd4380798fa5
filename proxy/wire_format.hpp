// The chunked coding's delimiters (RFC 9112 §7.1) as danegate writes them around a relayed body
// piece, into the one string that goes out in one write. Beast's serializer produces the same
// bytes (tests/proxy/wire_format_test.cpp) through a buffer sequence that costs more to walk than
// the piece costs to copy. Message heads are rendered by http_rules (render_upstream_request,
// render_client_response), which apply the relay's rules as they write.
#pragma once

#include <cstddef>
#include <string>

namespace danegate::proxy {

/** Appends one chunk of the chunked coding (RFC 9112 §7.1): size in hex, CRLF, the data, CRLF. */
void append_chunk(std::string& out, const char* data, std::size_t size);

/** Appends the last chunk and the end of an empty trailer section: "0\r\n\r\n". */
void append_last_chunk(std::string& out);

}  // namespace danegate::proxy
