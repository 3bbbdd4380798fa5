// Certificate selection by SNI (RFC 6066 §3) with exact and one-label wildcard names
// (RFC 6125 §6.4.3); the first certificate is the default.
#include "proxy/tls_server_context.hpp"

#include <gtest/gtest.h>

namespace danegate::proxy {
namespace {

TEST(tls_server_context, wildcards_cover_exactly_one_label)
{
    EXPECT_TRUE(certificate_name_matches("*.corp.example", "app.corp.example"));
    EXPECT_FALSE(certificate_name_matches("*.corp.example", "a.b.corp.example"));
    EXPECT_FALSE(certificate_name_matches("*.corp.example", "corp.example"));
    EXPECT_FALSE(certificate_name_matches("*.corp.example", ".corp.example"));
    EXPECT_TRUE(certificate_name_matches("app.example", "app.example"));
    EXPECT_FALSE(certificate_name_matches("app.example", "www.app.example"));
    EXPECT_FALSE(certificate_name_matches("", "app.example"));
}

TEST(tls_server_context, exact_names_win_over_wildcards_and_the_first_is_the_default)
{
    const std::vector<certificate_names> certificates{
        {"default.example"},
        {"*.corp.example"},
        {"app.corp.example", "api.corp.example"},
    };
    EXPECT_EQ(select_certificate(certificates, "app.corp.example"), 2u) << "exact beats an earlier wildcard";
    EXPECT_EQ(select_certificate(certificates, "API.Corp.Example."), 2u) << "case and the root dot do not matter";
    EXPECT_EQ(select_certificate(certificates, "web.corp.example"), 1u);
    EXPECT_EQ(select_certificate(certificates, "default.example"), 0u);
    EXPECT_EQ(select_certificate(certificates, "unknown.example"), 0u) << "no match: the default";
    EXPECT_EQ(select_certificate(certificates, ""), 0u) << "no SNI: the default";
    EXPECT_EQ(select_certificate(certificates, "x.y.corp.example"), 0u) << "a wildcard is one label";
}

TEST(tls_server_context, names_of_an_unreadable_file_are_empty)
{
    EXPECT_TRUE(read_certificate_names("/nonexistent/cert.pem").empty());
}

}  // namespace
}  // namespace danegate::proxy
