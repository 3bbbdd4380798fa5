// One configuration error: where it is (FILE:LINE:COL) and what is wrong. Every phase of loading
// (YAML, schema, cross-field validation) reports these, so they print and sort the same way.
#pragma once

#include "conf/source_mark.hpp"

#include <string>

namespace danegate::conf {

/** An error in a configuration file, at the value (or key) that causes it. */
struct config_error {
    source_mark mark;
    std::string message;  ///< one sentence, no position, no trailing newline

    /** "FILE:LINE:COL: message" (or "FILE: message" when the position is unknown). */
    std::string to_string() const;
};

}  // namespace danegate::conf
