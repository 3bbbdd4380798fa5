#include "tests/integration/curl_client.hpp"

#include "tests/support/process.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace danegate::test {

std::string curl_via(std::uint16_t port, const std::string& host, const std::string& path,
                     const std::vector<std::string>& extra)
{
    const auto authority = host + ":" + std::to_string(port);
    std::vector<std::string> argv{"curl", "-sk", "--max-time", "20", "--resolve", authority + ":127.0.0.1",
                                  "-w", "\n%{http_code}", "https://" + authority + path};
    argv.insert(argv.end(), extra.begin(), extra.end());
    std::string output;
    run_command(argv, &output);
    return output;
}

std::vector<int> curl_sequence(std::uint16_t port, const std::string& host, const std::string& path, int count)
{
    const auto authority = host + ":" + std::to_string(port);
    // One curl, many URLs: curl keeps its connection alive between them.
    // Unique per call: tests run several sequences at once.
    static std::atomic<unsigned> calls{0};
    const auto list = std::filesystem::temp_directory_path() /
                      ("danegate-curl-" + std::to_string(::getpid()) + "-" + std::to_string(port) + "-" +
                       std::to_string(calls++) + ".conf");
    {
        std::ofstream out(list);
        for (int i = 0; i < count; ++i) {
            out << "url = \"https://" << authority << path << "\"\n"
                << "output = \"/dev/null\"\n";
        }
    }
    std::string output;
    run_command({"curl", "-sk", "--max-time", "120", "--resolve", authority + ":127.0.0.1", "-w", "%{http_code}\n",
                 "-K", list.string()},
                &output);
    std::filesystem::remove(list);
    std::vector<int> statuses;
    std::istringstream lines(output);
    for (std::string line; std::getline(lines, line);) {
        statuses.push_back(std::atoi(line.c_str()));
    }
    return statuses;
}

int status_of(const std::string& curl_output)
{
    const auto newline = curl_output.rfind('\n');
    return newline == std::string::npos ? 0 : std::atoi(curl_output.c_str() + newline + 1);
}

}  // namespace danegate::test
