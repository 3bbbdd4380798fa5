// The access log line (DESIGN §5): valid JSON with the reason word and the matched record.
#include "proxy/access_log.hpp"

#include <gtest/gtest.h>

namespace danegate::proxy {
namespace {

TEST(access_log, a_record_is_one_json_object_with_escaped_strings)
{
    access_record record;
    record.time = std::chrono::system_clock::time_point{};
    record.client = "127.0.0.1:5000";
    record.host = "app.example";
    record.method = "GET";
    record.path = "/a\"b\\c\n";
    record.status = 502;
    record.dane = "mismatch";
    record.duration = std::chrono::microseconds(1500);
    const auto line = to_json(record);
    EXPECT_EQ(line.front(), '{');
    EXPECT_EQ(line.back(), '}');
    EXPECT_NE(line.find(R"("time":"1970-01-01T00:00:00.000Z")"), std::string::npos) << line;
    EXPECT_NE(line.find(R"("path":"/a\"b\\c\n")"), std::string::npos) << line;
    EXPECT_NE(line.find(R"("status":502)"), std::string::npos) << line;
    EXPECT_NE(line.find(R"("dane":"mismatch")"), std::string::npos) << line;
    EXPECT_NE(line.find(R"("duration":0.0015)"), std::string::npos) << line;
    EXPECT_EQ(line.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace danegate::proxy
