// The one translation unit that compiles Boost.Asio and its SSL support
// (BOOST_ASIO_SEPARATE_COMPILATION is defined project-wide). dane/ is the lowest layer that uses
// Asio, so the implementation lives here and everything above links it.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
