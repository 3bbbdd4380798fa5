#include "conf/source_mark.hpp"

namespace danegate::conf {

std::string source_mark::to_string() const
{
    if (line <= 0) {
        return file;
    }
    return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

}  // namespace danegate::conf
