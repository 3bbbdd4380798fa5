// FILE:LINE:COL of a configuration value, and how error messages print it.
#pragma once

#include <string>

namespace danegate::conf {

/** Where a value stands in its source file; line and column count from 1 (0 = unknown). */
struct source_mark {
    std::string file;
    int line = 0;
    int column = 0;

    /** "FILE:LINE:COL", or just FILE when the position is unknown. */
    std::string to_string() const;
};

}  // namespace danegate::conf
