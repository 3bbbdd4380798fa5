// The YAML layer: positions count from 1 (yaml-cpp counts from 0), keys keep their own positions,
// an empty value points at its key, and syntax errors are FILE:LINE:COL errors themselves.
#include "conf/yaml_reader.hpp"

#include <gtest/gtest.h>

namespace danegate::conf {
namespace {

TEST(yaml_reader, marks_count_lines_and_columns_from_one)
{
    const auto doc = read_yaml("a: 1\nb:\n  - x\n  - { c: y }\n", "f.yaml");
    ASSERT_FALSE(doc.error) << doc.error->to_string();
    ASSERT_EQ(doc.root.kind, node_kind::mapping);
    EXPECT_EQ(doc.root.mark.to_string(), "f.yaml:1:1");
    ASSERT_EQ(doc.root.children.size(), 2u);
    const node& a = doc.root.children[0];
    EXPECT_EQ(a.key, "a");
    EXPECT_EQ(a.key_mark.to_string(), "f.yaml:1:1");
    EXPECT_EQ(a.kind, node_kind::scalar);
    EXPECT_EQ(a.text, "1");
    EXPECT_EQ(a.mark.to_string(), "f.yaml:1:4");
    const node& b = doc.root.children[1];
    ASSERT_EQ(b.kind, node_kind::sequence);
    ASSERT_EQ(b.children.size(), 2u);
    EXPECT_EQ(b.children[0].mark.to_string(), "f.yaml:3:5");
    const node& inner = b.children[1];
    EXPECT_EQ(inner.kind, node_kind::mapping);
    EXPECT_EQ(inner.mark.to_string(), "f.yaml:4:5");
    EXPECT_EQ(inner.children.at(0).key_mark.to_string(), "f.yaml:4:7");
    EXPECT_EQ(inner.children.at(0).mark.to_string(), "f.yaml:4:10");
}

TEST(yaml_reader, an_empty_value_is_null_at_its_key)
{
    const auto doc = read_yaml("a:\nb: 2\n", "f.yaml");
    ASSERT_FALSE(doc.error);
    const node& a = doc.root.children.at(0);
    EXPECT_EQ(a.kind, node_kind::null);
    EXPECT_EQ(a.mark.to_string(), "f.yaml:1:1");
}

TEST(yaml_reader, quoted_text_loses_its_quotes_but_not_its_position)
{
    const auto doc = read_yaml("k: \"[::1]:443\"\n", "f.yaml");
    ASSERT_FALSE(doc.error);
    EXPECT_EQ(doc.root.children.at(0).text, "[::1]:443");
    EXPECT_EQ(doc.root.children.at(0).mark.to_string(), "f.yaml:1:4");
}

TEST(yaml_reader, a_syntax_error_is_a_positioned_error)
{
    const auto doc = read_yaml("a: [1, 2\nb: 3\n", "f.yaml");
    ASSERT_TRUE(doc.error);
    EXPECT_EQ(doc.error->to_string(), "f.yaml:2:2: end of sequence flow not found");
}

TEST(yaml_reader, a_mapping_key_must_be_a_scalar)
{
    const auto doc = read_yaml("? [a, b]\n: 1\n", "f.yaml");
    ASSERT_TRUE(doc.error);
    EXPECT_EQ(doc.error->to_string(), "f.yaml:1:3: a mapping key must be a plain word");
}

TEST(yaml_reader, a_second_document_is_an_error)
{
    const auto doc = read_yaml("a: 1\n---\nb: 2\n", "f.yaml");
    ASSERT_TRUE(doc.error);
    EXPECT_EQ(doc.error->mark.to_string(), "f.yaml:3:1");
    EXPECT_NE(doc.error->message.find("one YAML document"), std::string::npos) << doc.error->message;
}

TEST(yaml_reader, an_empty_document_is_a_null_root_at_the_start)
{
    const auto doc = read_yaml("# only a comment\n", "f.yaml");
    ASSERT_FALSE(doc.error);
    EXPECT_EQ(doc.root.kind, node_kind::null);
    EXPECT_EQ(doc.root.mark.to_string(), "f.yaml:1:1");
}

}  // namespace
}  // namespace danegate::conf
