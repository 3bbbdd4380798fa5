// The one translation unit that compiles Boost.Beast (BOOST_BEAST_SEPARATE_COMPILATION is defined
// project-wide): every other file sees only declarations, which keeps a clean build within CI's
// budget. Asio's own implementation is in dane/asio_impl.cpp.
#include <boost/beast/src.hpp>
