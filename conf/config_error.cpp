// How a configuration error prints: the compiler convention editors and CI annotators understand.
#include "conf/config_error.hpp"

namespace danegate::conf {

std::string config_error::to_string() const
{
    return mark.to_string() + ": " + message;
}

}  // namespace danegate::conf
