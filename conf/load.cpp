// Reading the file and running the three phases in order. A YAML syntax error stops at the first
// phase (there is no tree to check); otherwise schema and validation both run, so a file with a bad
// word in one place and an unknown upstream in another reports both.
#include "conf/load.hpp"

#include "conf/schema.hpp"
#include "conf/validate.hpp"
#include "conf/yaml_reader.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace danegate::conf {
namespace {

load_result run_phases(std::string_view yaml, std::string file_name, const validate_options& options)
{
    load_result result;
    auto doc = read_yaml(yaml, file_name);
    if (doc.error) {
        result.errors.push_back(std::move(*doc.error));
        return result;
    }
    config cfg = apply_schema(doc.root, result.errors);
    cfg.file = std::move(file_name);
    validate(cfg, options, result.errors);
    std::stable_sort(result.errors.begin(), result.errors.end(), [](const config_error& a, const config_error& b) {
        return std::pair(a.mark.line, a.mark.column) < std::pair(b.mark.line, b.mark.column);
    });
    if (result.errors.empty()) {
        result.value = std::make_shared<const config>(std::move(cfg));
    }
    return result;
}

}  // namespace

load_result load_config(const std::filesystem::path& file, const load_options& options)
{
    std::error_code ec;
    if (std::filesystem::is_directory(file, ec)) {
        load_result result;
        result.errors.push_back(config_error{source_mark{file.string(), 0, 0}, "cannot read the configuration: it is a directory"});
        return result;
    }
    std::ifstream in(file, std::ios::binary);
    std::ostringstream text;
    if (in) {
        text << in.rdbuf();
    }
    if (!in || in.bad()) {
        load_result result;
        result.errors.push_back(config_error{source_mark{file.string(), 0, 0},
                                             std::string("cannot read the configuration: ") + std::strerror(errno)});
        return result;
    }
    auto directory = std::filesystem::absolute(file, ec).parent_path();
    if (ec) {
        directory = file.parent_path();
    }
    return run_phases(text.str(), file.string(), validate_options{directory, options.default_trust_anchor_file});
}

load_result parse_config(std::string_view yaml, std::string file_name, const load_options& options)
{
    return run_phases(yaml, std::move(file_name),
                      validate_options{options.base_directory, options.default_trust_anchor_file});
}

}  // namespace danegate::conf
