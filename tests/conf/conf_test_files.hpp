// Files the configuration tests point at, generated once per test run into a fresh temporary
// directory with the openssl CLI: an EC P-256 certificate and its key, a second key that matches
// nothing (the mismatch case), a trust anchor and an unbound.conf that only need to exist, and a
// file that is not PEM at all.
#pragma once

#include <filesystem>
#include <string>

namespace danegate::conf::test {

/** The directory holding web.pem, web.key, other.key, root.key, unbound.conf, garbage.pem. */
const std::filesystem::path& test_files();

/** tests/data/conf/NAME in the source tree. */
std::filesystem::path data_file(const std::string& name);

}  // namespace danegate::conf::test
