// yaml-cpp to conf::node. yaml-cpp counts lines and columns from 0; users (and editors) count from
// 1, so every mark is shifted here and nowhere else.
#include "conf/yaml_reader.hpp"

#include <yaml-cpp/yaml.h>

#include <vector>

namespace danegate::conf {
namespace {

source_mark to_mark(const YAML::Mark& mark, const std::string& file, const source_mark& fallback)
{
    // Null marks come with nodes yaml-cpp made up (an empty value); the caller's position is then
    // the nearest thing a user can find in the file.
    if (mark.is_null() || mark.line < 0) {
        return fallback;
    }
    return source_mark{file, mark.line + 1, mark.column + 1};
}

/** Thrown inside conversion only, and caught in read_yaml: a non-scalar mapping key. */
struct bad_key {
    config_error error;
};

node convert(const YAML::Node& in, const std::string& file, const source_mark& fallback)
{
    node out;
    out.mark = to_mark(in.Mark(), file, fallback);
    switch (in.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
        out.kind = node_kind::null;
        break;
    case YAML::NodeType::Scalar:
        out.kind = node_kind::scalar;
        out.text = in.Scalar();
        break;
    case YAML::NodeType::Sequence:
        out.kind = node_kind::sequence;
        for (const auto& item : in) {
            out.children.push_back(convert(item, file, out.mark));
        }
        break;
    case YAML::NodeType::Map:
        out.kind = node_kind::mapping;
        for (const auto& entry : in) {
            const auto key_mark = to_mark(entry.first.Mark(), file, out.mark);
            if (!entry.first.IsScalar()) {
                throw bad_key{config_error{key_mark, "a mapping key must be a plain word"}};
            }
            node value = convert(entry.second, file, key_mark);
            if (value.kind == node_kind::null) {
                // yaml-cpp marks an empty value at the token after it (often the next line); the
                // key is what the user has to look at.
                value.mark = key_mark;
            }
            value.key = entry.first.Scalar();
            value.key_mark = key_mark;
            out.children.push_back(std::move(value));
        }
        break;
    }
    return out;
}

}  // namespace

yaml_document read_yaml(std::string_view text, const std::string& file)
{
    yaml_document doc;
    const source_mark start{file, 1, 1};
    doc.root.mark = start;
    try {
        const std::vector<YAML::Node> documents = YAML::LoadAll(std::string(text));
        if (documents.size() > 1) {
            // A second document would be ignored silently by YAML::Load; say so instead.
            doc.error = config_error{to_mark(documents[1].Mark(), file, start),
                                     "a configuration is one YAML document; remove the second one (after '---')"};
            return doc;
        }
        if (!documents.empty()) {
            doc.root = convert(documents.front(), file, start);
        }
    } catch (const YAML::Exception& e) {
        // e.msg is the message without yaml-cpp's own "yaml-cpp: error at line ..." prefix.
        doc.error = config_error{to_mark(e.mark, file, start), e.msg};
    } catch (const bad_key& e) {
        doc.error = e.error;
    }
    return doc;
}

}  // namespace danegate::conf
