// The public entry point of conf/: YAML file -> validated, immutable config, or every error in it
// as FILE:LINE:COL: message. Three phases (yaml_reader, schema, validate); the config is handed out
// only when all of them found nothing, so `danegate run` and a SIGHUP reload can never start from
// a half-checked configuration (STYLE rec. 9).
#pragma once

#include "conf/config.hpp"
#include "conf/config_error.hpp"

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace danegate::conf {

/** A validated configuration, or the reasons there is none. */
struct load_result {
    std::shared_ptr<const config> value;  ///< set exactly when errors is empty
    std::vector<config_error> errors;     ///< sorted by position; all of them, not the first

    /** Whether the configuration is valid and value is set. */
    bool ok() const { return value != nullptr && errors.empty(); }
};

/** What loading needs besides the text; the defaults are what `danegate run` uses. */
struct load_options {
    /** parse_config only: where relative paths in the file point (empty: the working directory).
     *  load_config always uses the configuration file's own directory. */
    std::filesystem::path base_directory;
    /** The anchor used when the file configures none (empty: no fallback, so that is an error). */
    std::filesystem::path default_trust_anchor_file = "/usr/share/dns/root.key";
};

/**
 * Reads and validates a configuration file. Relative paths inside it (cert, key,
 * trust_anchor_file, unbound_conf, log.access) are resolved against the file's directory, as
 * users expect (nginx would use its prefix; we follow the file), and stored resolved.
 * @return the config, or errors; a file that cannot be read is one error "FILE: cannot read ..."
 */
load_result load_config(const std::filesystem::path& file, const load_options& options = {});

/**
 * Validates YAML text as if read from @p file_name (which errors print). File checks run against
 * options.base_directory, by default the current working directory.
 */
load_result parse_config(std::string_view yaml, std::string file_name, const load_options& options = {});

}  // namespace danegate::conf
