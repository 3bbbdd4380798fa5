// Beast's compiled part for danegate_http_test_backend alone. BOOST_BEAST_SEPARATE_COMPILATION is
// defined project-wide, so every executable that uses Beast needs src.hpp exactly once; the proxy
// gets it from proxy/beast_impl.cpp, but this test server must not link danegate_proxy, so it has
// its own copy. Asio's compiled part comes from danegate_dane (dane/asio_impl.cpp).
#include <boost/beast/src.hpp>
