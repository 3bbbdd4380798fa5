#include "tests/integration/admin_client.hpp"

#include "tests/support/process.hpp"

#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace danegate::test {

admin_reply admin_get(std::uint16_t port, const std::string& path, const std::vector<std::string>& extra)
{
    std::vector<std::string> argv{"curl", "-s", "--max-time", "20", "-w", "\n%{http_code} %{content_type}",
                                  "http://127.0.0.1:" + std::to_string(port) + path};
    argv.insert(argv.end(), extra.begin(), extra.end());
    std::string output;
    run_command(argv, &output);
    admin_reply reply;
    const auto newline = output.rfind('\n');
    if (newline == std::string::npos) {
        return reply;
    }
    reply.body = output.substr(0, newline);
    std::istringstream tail(output.substr(newline + 1));
    tail >> reply.status;
    std::getline(tail >> std::ws, reply.content_type);
    return reply;
}

metrics_text::metrics_text(const std::string& exposition)
{
    std::istringstream in(exposition);
    for (std::string line; std::getline(in, line);) {
        if (line.empty()) {
            continue;
        }
        if (line.rfind("# TYPE ", 0) == 0) {
            std::istringstream words(line.substr(7));
            std::string family;
            std::string type;
            words >> family >> type;
            types_[family] = type;
            continue;
        }
        if (line[0] == '#') {
            continue;
        }
        sample s;
        std::size_t i = line.find_first_of("{ ");
        if (i == std::string::npos) {
            throw std::runtime_error("not a sample: " + line);
        }
        s.name = line.substr(0, i);
        if (line[i] == '{') {
            ++i;
            while (i < line.size() && line[i] != '}') {
                const auto eq = line.find("=\"", i);
                if (eq == std::string::npos) {
                    throw std::runtime_error("bad labels: " + line);
                }
                const auto name = line.substr(i, eq - i);
                std::string value;
                std::size_t j = eq + 2;
                for (; j < line.size() && line[j] != '"'; ++j) {
                    if (line[j] == '\\' && j + 1 < line.size()) {
                        ++j;
                        value += line[j] == 'n' ? '\n' : line[j];
                    } else {
                        value += line[j];
                    }
                }
                s.labels[name] = value;
                i = j + 1;
                if (i < line.size() && line[i] == ',') {
                    ++i;
                }
            }
            ++i;  // past '}'
        }
        s.value = std::strtod(line.c_str() + i, nullptr);
        samples_.push_back(std::move(s));
    }
}

std::vector<metrics_text::sample> metrics_text::find(const std::string& name, const label_set& subset) const
{
    std::vector<sample> out;
    for (const auto& s : samples_) {
        if (s.name != name) {
            continue;
        }
        bool all = true;
        for (const auto& [key, value] : subset) {
            auto it = s.labels.find(key);
            all = all && it != s.labels.end() && it->second == value;
        }
        if (all) {
            out.push_back(s);
        }
    }
    return out;
}

double metrics_text::sum(const std::string& name, const label_set& subset) const
{
    double total = 0;
    for (const auto& s : find(name, subset)) {
        total += s.value;
    }
    return total;
}

std::optional<double> metrics_text::value(const std::string& name, const label_set& subset) const
{
    const auto found = find(name, subset);
    if (found.size() != 1) {
        return std::nullopt;
    }
    return found.front().value;
}

std::string metrics_text::type(const std::string& family) const
{
    auto it = types_.find(family);
    return it == types_.end() ? std::string() : it->second;
}

metrics_text scrape(std::uint16_t port)
{
    const auto reply = admin_get(port, "/metrics");
    return metrics_text(reply.status == 200 ? reply.body : std::string());
}

}  // namespace danegate::test
