// The field-rule table of DESIGN §3 (nginx's directive table, Envoy's field rules): for every
// mapping of the configuration, which keys exist, what type each value has, whether it is
// required, which words and ranges it allows, and where it lands in conf::config. Unknown keys,
// wrong types, bad words and out-of-range values are all caught here, uniformly, each at its own
// FILE:LINE:COL; cross-field checks (references, files, certificates) are validate.hpp's job.
#pragma once

#include "conf/config.hpp"
#include "conf/config_error.hpp"
#include "conf/yaml_reader.hpp"

#include <string_view>
#include <vector>

namespace danegate::conf {

/**
 * Fills a config from a YAML tree by the rule table; every key not given keeps config.hpp's
 * default. Paths and names are taken as written (validate() resolves paths).
 * @param root the document's root node (a mapping, or an error is reported)
 * @param errors every rule violation is appended here, in file order per mapping
 * @return the config, complete for every value that passed its rule
 */
config apply_schema(const node& root, std::vector<config_error>& errors);

/**
 * The key a misspelt one probably meant: "listner" -> "listeners" (edit distance at most 2, or sharing
 * all but the last of at least 4 characters: "max_fails" -> "max_failures").
 * @return one of @p candidates, or empty when none is close
 */
std::string_view closest_word(std::string_view word, const std::vector<std::string_view>& candidates);

}  // namespace danegate::conf
