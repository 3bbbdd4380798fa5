// docs/configuration.md documents every key of the schema (issue 4 §5). The keys come from the
// code, not from a list kept here: conf/schema.cpp's rule tables live in an anonymous namespace, so
// the test reads that file's source text. Each `const rule_table<T>& NAME()` function holds one
// table; each top-level entry of its `rules{...}` initialiser is one key, named by the entry's
// first string literal (`integer("max_idle", ...)`, `text("cert", ...)`, `{"address", ...}`) or,
// for an entry that is a call such as `sni_field()`, by the first string literal of that helper's
// `return {...}`. An entry naming another table (`&pool_rules`, `tls_rules()`) nests it, below
// `key[]` for a `sequence(...)` and below `key` otherwise. An entry the reader cannot name fails the
// test, so a new kind of rule cannot slip past it; and every path found must be accepted by
// apply_schema() itself, so the reading is checked against the real walker.
#include "conf/schema.hpp"
#include "conf/yaml_reader.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace danegate::conf {
namespace {

namespace fs = std::filesystem;

std::string read_source(const fs::path& path)
{
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in) << "cannot read " << path;
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

/** The text with // and block comments blanked out (string and character literals kept). */
std::string without_comments(const std::string& text)
{
    std::string out = text;
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (out[i] == '"' || out[i] == '\'') {
            const char quote = out[i];
            for (++i; i < out.size() && out[i] != quote; ++i) {
                if (out[i] == '\\') {
                    ++i;
                }
            }
        } else if (out.compare(i, 2, "//") == 0) {
            for (; i < out.size() && out[i] != '\n'; ++i) {
                out[i] = ' ';
            }
        } else if (out.compare(i, 2, "/*") == 0) {
            const auto end = out.find("*/", i + 2);
            const auto stop = end == std::string::npos ? out.size() : end + 2;
            for (; i < stop; ++i) {
                out[i] = out[i] == '\n' ? '\n' : ' ';
            }
            --i;
        }
    }
    return out;
}

/** Index just past the bracket that closes the one at @p open (literals skipped). */
std::size_t matching_close(const std::string& text, std::size_t open)
{
    int depth = 0;
    for (std::size_t i = open; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '"' || c == '\'') {
            for (++i; i < text.size() && text[i] != c; ++i) {
                if (text[i] == '\\') {
                    ++i;
                }
            }
        } else if (c == '(' || c == '{' || c == '[') {
            ++depth;
        } else if (c == ')' || c == '}' || c == ']') {
            if (--depth == 0) {
                return i + 1;
            }
        }
    }
    return std::string::npos;
}

/** The entries of an initialiser body, split at top-level commas (template arguments count as nesting). */
std::vector<std::string> split_entries(const std::string& body)
{
    std::vector<std::string> entries;
    std::string current;
    int depth = 0;
    for (std::size_t i = 0; i < body.size(); ++i) {
        const char c = body[i];
        if (c == '"' || c == '\'') {
            const auto start = i;
            for (++i; i < body.size() && body[i] != c; ++i) {
                if (body[i] == '\\') {
                    ++i;
                }
            }
            current += body.substr(start, i - start + 1);
            continue;
        }
        const bool template_open = c == '<' && i > 0 && (std::isalnum(static_cast<unsigned char>(body[i - 1])) != 0 ||
                                                         body[i - 1] == '_');
        if (c == '(' || c == '{' || c == '[' || template_open) {
            ++depth;
        } else if (c == ')' || c == '}' || c == ']' || (c == '>' && depth > 0 && body[i - 1] != '-')) {
            --depth;
        } else if (c == ',' && depth == 0) {
            entries.push_back(current);
            current.clear();
            continue;
        }
        current += c;
    }
    if (current.find_first_not_of(" \t\r\n") != std::string::npos) {
        entries.push_back(current);
    }
    return entries;
}

std::optional<std::string> first_string_literal(const std::string& text)
{
    static const std::regex literal(R"re("([^"\\]*)")re");
    std::smatch m;
    if (std::regex_search(text, m, literal)) {
        return m[1].str();
    }
    return std::nullopt;
}

struct rule_entry {
    std::string key;
    bool sequence_of_mappings = false;
    std::optional<std::string> nested;  ///< the name of the table this key's value is read by
};

struct schema_source {
    std::map<std::string, std::vector<rule_entry>> tables;  ///< table function name -> entries
    std::vector<std::string> problems;
};

schema_source read_schema_source(const std::string& raw)
{
    const std::string text = without_comments(raw);
    schema_source out;

    // Helper functions returning one field rule: `field_rule<upstream> sni_field()`.
    std::map<std::string, std::string> helpers;
    static const std::regex helper_head(R"(field_rule<\w+>\s+(\w+)\s*\([^)]*\)\s*\{)");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), helper_head); it != std::sregex_iterator(); ++it) {
        const auto open = static_cast<std::size_t>(it->position(0) + it->length(0) - 1);
        helpers[(*it)[1].str()] = text.substr(open, matching_close(text, open) - open);
    }

    static const std::regex table_head(R"(const\s+rule_table<\w+>&\s+(\w+)\s*\(\s*\)\s*\{)");
    static const std::regex table_ref(R"((\w+_rules)\b)");
    static const std::regex call_only(R"(^\s*(\w+)\s*\(\s*\)\s*$)");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), table_head); it != std::sregex_iterator(); ++it) {
        const std::string name = (*it)[1].str();
        const auto function_open = static_cast<std::size_t>(it->position(0) + it->length(0) - 1);
        const auto function_end = matching_close(text, function_open);
        const auto body_at = text.find("rules{", function_open);
        if (body_at == std::string::npos || body_at > function_end) {
            out.problems.push_back(name + ": no `rules{...}` initialiser found");
            continue;
        }
        const auto open = body_at + std::string("rules").size();
        const auto close = matching_close(text, open);
        auto& entries = out.tables[name];
        for (const auto& entry : split_entries(text.substr(open + 1, close - open - 2))) {
            rule_entry rule;
            std::string where = entry;  // where the key and the nested table are named
            std::smatch call;
            if (std::regex_match(entry, call, call_only)) {
                const auto helper = helpers.find(call[1].str());
                if (helper == helpers.end()) {
                    out.problems.push_back(name + ": cannot find the helper of entry `" + entry + "`");
                    continue;
                }
                const auto ret = helper->second.find("return {");
                where = ret == std::string::npos ? std::string() : helper->second.substr(ret);
            }
            const auto key = first_string_literal(where);
            if (!key) {
                out.problems.push_back(name + ": cannot read the key of entry `" + entry + "`");
                continue;
            }
            rule.key = *key;
            rule.sequence_of_mappings = entry.find_first_not_of(" \t\r\n") == entry.find("sequence");
            for (auto ref = std::sregex_iterator(where.begin(), where.end(), table_ref); ref != std::sregex_iterator();
                 ++ref) {
                if ((*ref)[1].str() != name) {
                    rule.nested = (*ref)[1].str();
                }
            }
            entries.push_back(rule);
        }
    }
    return out;
}

/** Every key path, `a.b.c` with `[]` after a list of mappings, depth first from @p table. */
void collect_paths(const schema_source& schema, const std::string& table, const std::string& prefix,
                   std::vector<std::string>& paths, std::set<std::string>& visited, std::vector<std::string>& problems)
{
    visited.insert(table);
    const auto found = schema.tables.find(table);
    if (found == schema.tables.end()) {
        problems.push_back("a rule refers to the table " + table + ", which was not found");
        return;
    }
    for (const auto& rule : found->second) {
        const auto path = prefix.empty() ? rule.key : prefix + "." + rule.key;
        paths.push_back(path);
        if (rule.nested) {
            collect_paths(schema, *rule.nested, rule.sequence_of_mappings ? path + "[]" : path, paths, visited, problems);
        }
    }
}

struct schema_paths {
    std::vector<std::string> paths;
    std::vector<std::string> problems;
};

schema_paths schema_paths_from_source(const std::string& source)
{
    const auto schema = read_schema_source(source);
    schema_paths out;
    out.problems = schema.problems;
    std::set<std::string> referenced;
    for (const auto& [name, entries] : schema.tables) {
        for (const auto& rule : entries) {
            if (rule.nested) {
                referenced.insert(*rule.nested);
            }
        }
    }
    std::vector<std::string> roots;
    for (const auto& [name, entries] : schema.tables) {
        if (referenced.count(name) == 0) {
            roots.push_back(name);
        }
    }
    if (roots.size() != 1) {
        out.problems.push_back("expected exactly one top-level rule table (one that no other refers to), found " +
                               std::to_string(roots.size()));
        return out;
    }
    std::set<std::string> visited;
    collect_paths(schema, roots.front(), "", out.paths, visited, out.problems);
    for (const auto& [name, entries] : schema.tables) {
        if (visited.count(name) == 0) {
            out.problems.push_back("rule table " + name + " is not reachable from " + roots.front());
        }
    }
    return out;
}

/** A YAML document (flow style) that sets @p path to a scalar: "a[].b" -> "{a: [{b: x}]}". */
std::string yaml_setting(const std::string& path)
{
    std::vector<std::string> steps;
    std::stringstream split(path);
    for (std::string step; std::getline(split, step, '.');) {
        steps.push_back(step);
    }
    std::string value = "x";
    for (auto step = steps.rbegin(); step != steps.rend(); ++step) {
        const bool list = step->size() > 2 && step->compare(step->size() - 2, 2, "[]") == 0;
        const auto key = list ? step->substr(0, step->size() - 2) : *step;
        value = "{" + key + ": " + (list ? "[" + value + "]" : value) + "}";
    }
    return value + "\n";
}

fs::path source_dir()
{
    return fs::path(DANEGATE_SOURCE_DIR);
}

TEST(reference, the_schema_reader_finds_the_tables_keys)
{
    const auto found = schema_paths_from_source(read_source(source_dir() / "conf" / "schema.cpp"));
    for (const auto& problem : found.problems) {
        ADD_FAILURE() << "conf/schema.cpp: " << problem;
    }
    // A floor, so that a reader finding nothing cannot pass: DESIGN §3 alone has more than 40 keys.
    EXPECT_GE(found.paths.size(), 40U);
    const std::set<std::string> paths(found.paths.begin(), found.paths.end());
    for (const char* known : {"threads", "limits.header_timeout", "listeners[].tls.certificates[].cert",
                              "upstreams[].pool.max_idle", "upstreams[].sni", "admin.address",
                              "listeners[].routes[].match.sni", "resolver.stub_zones[].addrs"}) {
        EXPECT_EQ(paths.count(known), 1U) << known << " not read from conf/schema.cpp";
    }
}

TEST(reference, every_key_read_from_the_source_is_one_the_schema_accepts)
{
    const auto found = schema_paths_from_source(read_source(source_dir() / "conf" / "schema.cpp"));
    ASSERT_FALSE(found.paths.empty());
    for (const auto& path : found.paths) {
        const auto yaml = yaml_setting(path);
        const auto doc = read_yaml(yaml, "probe.yaml");
        ASSERT_FALSE(doc.error) << path << ":\n" << yaml << doc.error->message;
        std::vector<config_error> errors;
        (void)apply_schema(doc.root, errors);
        for (const auto& error : errors) {
            EXPECT_EQ(error.message.find("unknown key"), std::string::npos)
                << path << " was read from conf/schema.cpp but apply_schema refuses it:\n"
                << yaml << error.message;
        }
    }
}

TEST(reference, every_schema_key_is_in_docs_configuration_md)
{
    const auto found = schema_paths_from_source(read_source(source_dir() / "conf" / "schema.cpp"));
    ASSERT_FALSE(found.paths.empty());
    const auto doc = read_source(source_dir() / "docs" / "configuration.md");
    for (const auto& path : found.paths) {
        EXPECT_NE(doc.find("`" + path + "`"), std::string::npos)
            << "docs/configuration.md does not document `" << path
            << "` (a row or heading naming the key path in backticks, with type, default and example)";
    }
}

TEST(reference, an_entry_the_reader_cannot_name_is_a_failure)
{
    const std::string source = R"(
const rule_table<config>& config_rules()
{
    static const rule_table<config> rules{
        integer("threads", &config::threads, 1, 1024),
        mapping("limits", &config::limits, &limits_rules),
        something_new(),
    };
    return rules;
}
const rule_table<limits_config>& limits_rules()
{
    static const rule_table<limits_config> rules{
        timespan("idle_timeout", &limits_config::idle_timeout, 1s, 24h),
    };
    return rules;
}
)";
    const auto found = schema_paths_from_source(source);
    EXPECT_EQ(found.paths, (std::vector<std::string>{"threads", "limits", "limits.idle_timeout"}));
    ASSERT_EQ(found.problems.size(), 1U);
    EXPECT_NE(found.problems.front().find("something_new()"), std::string::npos) << found.problems.front();
}

}  // namespace
}  // namespace danegate::conf
