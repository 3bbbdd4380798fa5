#include "proxy/close_notify.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

namespace danegate::proxy {

bool take_close_notify(SSL* ssl, std::string& record)
{
    BIO* original = SSL_get_wbio(ssl);
    BIO* memory = BIO_new(BIO_s_mem());
    if (original == nullptr || memory == nullptr || BIO_up_ref(original) != 1) {
        BIO_free(memory);
        return false;
    }
    // SSL_set0_wbio releases the SSL's reference to the old write BIO: the one added above keeps
    // it alive (tls_stream's socket BIO is also the read BIO, as SSL_set_fd's would be), and is
    // handed back by the second call.
    SSL_set0_wbio(ssl, memory);
    ERR_clear_error();
    const int sent = SSL_shutdown(ssl);  // 0: sent, the peer's not received yet; 1: both done
    char* data = nullptr;
    const long size = BIO_get_mem_data(memory, &data);
    if (sent >= 0 && size > 0) {
        record.assign(data, static_cast<std::size_t>(size));
    }
    SSL_set0_wbio(ssl, original);  // frees the memory BIO
    ERR_clear_error();
    return sent >= 0 && size > 0;
}

}  // namespace danegate::proxy
