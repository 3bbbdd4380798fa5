// FILE:LINE:COL as error messages print it.
#include "conf/source_mark.hpp"

#include <gtest/gtest.h>

namespace danegate::conf {
namespace {

TEST(source_mark, prints_file_line_and_column)
{
    EXPECT_EQ((source_mark{"danegate.yaml", 12, 7}).to_string(), "danegate.yaml:12:7");
}

TEST(source_mark, prints_only_the_file_when_the_position_is_unknown)
{
    EXPECT_EQ((source_mark{"danegate.yaml", 0, 0}).to_string(), "danegate.yaml");
}

}  // namespace
}  // namespace danegate::conf
