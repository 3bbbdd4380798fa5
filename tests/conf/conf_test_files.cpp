// Generates the test files of conf_test_files.hpp; a failed openssl run fails the whole suite at
// once (the tests would otherwise report confusing certificate errors one by one).
#include "conf_test_files.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace danegate::conf::test {
namespace {

void run(const std::string& command)
{
    if (std::system((command + " >/dev/null 2>&1").c_str()) != 0) {
        throw std::runtime_error("test setup failed: " + command);
    }
}

void write(const std::filesystem::path& path, const std::string& text)
{
    std::ofstream(path) << text;
}

std::filesystem::path make_files()
{
    std::string pattern = (std::filesystem::temp_directory_path() / "danegate-conf-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
        throw std::runtime_error("mkdtemp failed");
    }
    const std::filesystem::path dir = pattern;
    const std::string d = "'" + dir.string() + "'";
    run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=web.test"
        " -keyout " + d + "/web.key -out " + d + "/web.pem");
    run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " + d + "/other.key");
    write(dir / "root.key", ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n");
    write(dir / "unbound.conf", "server:\n");
    write(dir / "garbage.pem", "this is not PEM\n");
    return dir;
}

/** Removes the directory when the test program ends. */
struct cleanup {
    std::filesystem::path dir;
    ~cleanup()
    {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
};

}  // namespace

const std::filesystem::path& test_files()
{
    static const cleanup files{make_files()};
    return files.dir;
}

std::filesystem::path data_file(const std::string& name)
{
    return std::filesystem::path(DANEGATE_SOURCE_DIR) / "tests" / "data" / "conf" / name;
}

}  // namespace danegate::conf::test
