// See bind_address.hpp.
#include "proxy/bind_address.hpp"

namespace danegate::proxy {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using boost::system::error_code;

bool bind_acceptor(tcp::acceptor& acceptor, net::io_context& io, const conf::listen_address& address,
                   std::string& error)
{
    const auto where = address.host + ":" + std::to_string(address.port);
    error_code ec;
    auto ip = net::ip::make_address(address.host, ec);
    if (ec) {
        // A name ("localhost:8443"): resolved once, at start-up, with the system resolver.
        tcp::resolver resolver(io);
        auto found = resolver.resolve(address.host, std::to_string(address.port), ec);
        if (ec || found.empty()) {
            error = where + ": " + (ec ? ec.message() : "no address");
            return false;
        }
        ip = found.begin()->endpoint().address();
    }
    const tcp::endpoint endpoint(ip, address.port);
    if (acceptor.open(endpoint.protocol(), ec); !ec) {
        acceptor.set_option(net::socket_base::reuse_address(true), ec);
    }
    if (!ec) {
        acceptor.bind(endpoint, ec);
    }
    if (!ec) {
        acceptor.listen(net::socket_base::max_listen_connections, ec);
    }
    if (ec) {
        error = where + ": " + ec.message();
        return false;
    }
    return true;
}

}  // namespace danegate::proxy
