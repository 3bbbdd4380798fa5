// OpenSSL's thread-local error queue as text for failure details.
#pragma once

#include <string>

namespace danegate::dane {

/** The text of the oldest queued OpenSSL error ("no OpenSSL error was queued" if none); the
 *  queue is empty afterwards, so a later call does not report a stale error. */
std::string take_openssl_error();

}  // namespace danegate::dane
