// The harness check behind the TSan stage: a sanitizer report written by a child process (danegate,
// the HTTP test backend) must fail the test that ran it, although the report only ever reaches the
// child's log file. A shell script stands in for an instrumented child.
#include "tests/support/process.hpp"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace danegate::test {
namespace {

std::filesystem::path log_path(const std::string& name)
{
    return std::filesystem::temp_directory_path() / ("danegate-" + name + "-" + std::to_string(::getpid()) + ".log");
}

constexpr const char* tsan_report =
    "echo 'serving'; echo '=================='; "
    "echo 'WARNING: ThreadSanitizer: data race (pid=4242)'; echo '  Write of size 8 at 0x7b04 by thread T2:'; "
    "echo '    #0 danegate::proxy::http_session::on_read_header() proxy/http_session.cpp:250'; "
    "echo 'SUMMARY: ThreadSanitizer: data race proxy/http_session.cpp:250 in on_read_header'; exit 66";

TEST(child_sanitizer_check, a_tsan_report_in_a_child_fails_the_test_once)
{
    const auto log = log_path("tsan-child");
    {
        child_process child({"sh", "-c", tsan_report}, log);
        // Reported with the child's command and the report itself, not the lines before it.
        EXPECT_NONFATAL_FAILURE(child.wait(), "WARNING: ThreadSanitizer: data race (pid=4242)");
        ASSERT_TRUE(child.sanitizer_report().has_value());
        EXPECT_TRUE(child.sanitizer_report()->starts_with("WARNING: ThreadSanitizer")) << *child.sanitizer_report();
        EXPECT_EQ(child.exit_code(), 66);
        // Only once: the destructor (and the end-of-run check) must not fail the test again.
        EXPECT_TRUE(child.expect_no_sanitizer_report());
    }
    std::filesystem::remove(log);
}

TEST(child_sanitizer_check, a_running_child_is_checked_on_demand)
{
    const auto log = log_path("running-child");
    {
        child_process child({"sh", "-c", "echo 'x.cpp:3:5: runtime error: signed integer overflow'; sleep 30"}, log);
        for (int i = 0; i < 200 && !child.sanitizer_report(); ++i) {
            ::usleep(10'000);
        }
        EXPECT_NONFATAL_FAILURE(child.expect_no_sanitizer_report(), "runtime error: signed integer overflow");
        EXPECT_TRUE(child.running());
    }
    std::filesystem::remove(log);
}

TEST(child_sanitizer_check, a_clean_child_passes)
{
    const auto log = log_path("clean-child");
    {
        child_process child({"sh", "-c", "echo 'ThreadSanitizer is not mentioned here as a report'; exit 0"}, log);
        EXPECT_EQ(child.wait(), 0);
        EXPECT_FALSE(child.sanitizer_report().has_value()) << *child.sanitizer_report();
        EXPECT_FALSE(child.expect_no_sanitizer_report());
    }
    std::filesystem::remove(log);
}

TEST(child_sanitizer_check, every_kind_of_report_is_recognised)
{
    EXPECT_TRUE(find_sanitizer_report("a\nWARNING: ThreadSanitizer: lock-order-inversion\n"));
    EXPECT_TRUE(find_sanitizer_report("==1==ERROR: AddressSanitizer: heap-use-after-free on address"));
    EXPECT_TRUE(find_sanitizer_report("==1==ERROR: LeakSanitizer: detected memory leaks"));
    EXPECT_TRUE(find_sanitizer_report("conf/units.cpp:40:12: runtime error: shift exponent 64"));
    EXPECT_FALSE(find_sanitizer_report("[info] danegate listening on 127.0.0.1:8443\n"));
    EXPECT_FALSE(find_sanitizer_report(""));
    EXPECT_EQ(find_sanitizer_report("one\ntwo WARNING: ThreadSanitizer: x\nthree"), "two WARNING: ThreadSanitizer: x\nthree");
}

}  // namespace
}  // namespace danegate::test
