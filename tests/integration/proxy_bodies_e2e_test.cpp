// Bodies of 10 MiB both ways through the proxy, byte-exact, in both framings (issue 3 §4, DESIGN
// §4 "bodies streamed with bounded buffers in both directions (chunked, Content-Length)").
// proxy_e2e_test already sends a 10 MiB Content-Length upload; this suite adds the downloads with
// Content-Length (/bytes/N) and chunked (/chunked/N), compared by size and SHA-256, and a 10 MiB
// chunked upload whose SHA-256 the backend reports. The twins are the empty bodies of each
// framing, the edge where a relay most often hangs or invents bytes.
#include "tests/integration/e2e_proxy.hpp"
#include "tests/support/process.hpp"
#include "tests/support/testbed.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>

namespace danegate::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::size_t ten_mib = 10 * 1024 * 1024;

class proxy_bodies_e2e : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        const auto& bed = testbed::get();
        const auto web50 = bed.endpoint("web50");
        proxy_ = std::make_unique<e2e_proxy>("proxy-bodies",
                                             "      - { match: { host: bodies.example }, upstream: web50 }\n",
                                             "  - { name: web50, endpoints: [ \"" + web50 + "\" ] }\n");
        pattern_ = bed.dir() / "pattern-10MiB.bin";
        write_pattern_file(pattern_, ten_mib);
        pattern_sha256_ = sha256_of_file(pattern_);
    }

    static void TearDownTestSuite()
    {
        if (proxy_) {
            proxy_->stop();
            proxy_.reset();
        }
    }

    /** Downloads `path` through the proxy into a file; returns the reply and the file. */
    static std::pair<curl_reply, std::filesystem::path> download(const std::string& path, const std::string& file_name)
    {
        const auto file = testbed::get().dir() / file_name;
        std::filesystem::remove(file);
        auto reply = proxy_->curl("bodies.example", path, {"-o", file.string()}, 120);
        return {std::move(reply), file};
    }

    static inline std::unique_ptr<e2e_proxy> proxy_;
    static inline std::filesystem::path pattern_;
    static inline std::string pattern_sha256_;
};

TEST_F(proxy_bodies_e2e, a_10_mib_content_length_download_is_byte_exact)
{
    const auto [reply, file] = download("/bytes/" + std::to_string(ten_mib), "download-cl.bin");
    ASSERT_EQ(reply.status, 200) << "curl exit " << reply.exit_code << "\n" << reply.headers << proxy_->log();
    EXPECT_THAT(reply.headers, HasSubstr("content-length: " + std::to_string(ten_mib)));
    EXPECT_EQ(std::filesystem::file_size(file), ten_mib);
    EXPECT_EQ(sha256_of_file(file), pattern_sha256_);
}

TEST_F(proxy_bodies_e2e, a_slow_reader_gets_a_content_length_download_byte_exact)
{
    // At 3 MB/s the client's socket fills and the proxy's writes wait, most of them on pieces
    // written from the upstream's read buffer (view_body): the upstream may be read again only
    // once a piece is out, and every byte must still arrive in order.
    const auto file = testbed::get().dir() / "download-slow-cl.bin";
    std::filesystem::remove(file);
    const auto reply = proxy_->curl("bodies.example", "/bytes/" + std::to_string(ten_mib),
                                    {"--limit-rate", "3M", "-o", file.string()}, 120);
    ASSERT_EQ(reply.status, 200) << "curl exit " << reply.exit_code << "\n" << reply.headers << proxy_->log();
    EXPECT_EQ(std::filesystem::file_size(file), ten_mib);
    EXPECT_EQ(sha256_of_file(file), pattern_sha256_);
}

TEST_F(proxy_bodies_e2e, a_10_mib_chunked_download_is_byte_exact)
{
    const auto [reply, file] = download("/chunked/" + std::to_string(ten_mib), "download-chunked.bin");
    ASSERT_EQ(reply.status, 200) << "curl exit " << reply.exit_code << "\n" << reply.headers << proxy_->log();
    // A streaming relay cannot know the length in advance: it stays chunked.
    EXPECT_THAT(reply.headers, HasSubstr("transfer-encoding: chunked"));
    EXPECT_THAT(reply.headers, Not(HasSubstr("content-length")));
    EXPECT_EQ(std::filesystem::file_size(file), ten_mib);
    EXPECT_EQ(sha256_of_file(file), pattern_sha256_);
}

TEST_F(proxy_bodies_e2e, a_10_mib_chunked_upload_is_byte_exact)
{
    // Random bytes, so that no pattern shared with the downloads could make the hashes agree.
    const auto upload = testbed::get().dir() / "upload-chunked.bin";
    ASSERT_EQ(run_command({"sh", "-c", "head -c " + std::to_string(ten_mib) + " /dev/urandom > " + upload.string()},
                          nullptr),
              0);
    const auto expected = sha256_of_file(upload);
    const auto target = unique_target("/echo/chunked-upload");
    const auto reply = proxy_->curl("bodies.example", target,
                                    {"-H", "Transfer-Encoding: chunked", "--data-binary", "@" + upload.string()}, 120);
    ASSERT_EQ(reply.status, 200) << "curl exit " << reply.exit_code << ": " << reply.body.substr(0, 400) << proxy_->log();
    EXPECT_THAT(reply.body, HasSubstr("\"body_bytes\": " + std::to_string(ten_mib))) << reply.body.substr(0, 600);
    EXPECT_THAT(reply.body, HasSubstr("\"body_sha256\": \"" + expected + "\"")) << reply.body.substr(0, 600);
    EXPECT_EQ(backend_requests_for("ee50", target, "POST"), 1u);
}

TEST_F(proxy_bodies_e2e, empty_bodies_in_either_framing_arrive_empty)
{
    const auto [by_length, length_file] = download("/bytes/0", "download-empty-cl.bin");
    EXPECT_EQ(by_length.status, 200) << "curl exit " << by_length.exit_code << "\n" << by_length.headers;
    EXPECT_THAT(by_length.headers, HasSubstr("content-length: 0"));
    EXPECT_EQ(std::filesystem::exists(length_file) ? std::filesystem::file_size(length_file) : 0u, 0u);

    const auto [chunked, chunked_file] = download("/chunked/0", "download-empty-chunked.bin");
    EXPECT_EQ(chunked.status, 200) << "curl exit " << chunked.exit_code << "\n" << chunked.headers;
    EXPECT_EQ(chunked.exit_code, 0) << "the empty chunked body did not end cleanly";
    EXPECT_EQ(std::filesystem::exists(chunked_file) ? std::filesystem::file_size(chunked_file) : 0u, 0u);

    const auto empty = testbed::get().dir() / "upload-empty.bin";
    { std::ofstream touch(empty); }
    const auto upload = proxy_->curl("bodies.example", "/echo/empty-chunked-upload",
                                     {"-H", "Transfer-Encoding: chunked", "--data-binary", "@" + empty.string()});
    EXPECT_EQ(upload.status, 200) << upload.body;
    EXPECT_THAT(upload.body, HasSubstr("\"body_bytes\": 0")) << upload.body;
}

}  // namespace
}  // namespace danegate::test
