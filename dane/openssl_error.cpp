#include "dane/openssl_error.hpp"

#include <openssl/err.h>

#include <array>

namespace danegate::dane {

std::string take_openssl_error()
{
    const unsigned long code = ERR_get_error();
    ERR_clear_error();
    if (code == 0) {
        return "no OpenSSL error was queued";
    }
    std::array<char, 256> text{};
    ERR_error_string_n(code, text.data(), text.size());
    return text.data();
}

}  // namespace danegate::dane
