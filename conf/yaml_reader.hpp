// YAML text to a neutral tree of nodes that remember FILE:LINE:COL. This and yaml_reader.cpp are the
// only files of the project that know yaml-cpp: the schema (schema.hpp) walks this tree instead, so
// no yaml-cpp type leaks into a header and the YAML library could be swapped in one file.
#pragma once

#include "conf/config_error.hpp"
#include "conf/source_mark.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace danegate::conf {

enum class node_kind { null, scalar, sequence, mapping };

/** One YAML node with its position; a mapping's values carry their key and the key's position. */
struct node {
    node_kind kind = node_kind::null;
    std::string text;            ///< a scalar's text, as written (quotes removed)
    std::vector<node> children;  ///< sequence items, or mapping values in file order
    std::string key;             ///< for a mapping value: its key
    source_mark key_mark;        ///< for a mapping value: where its key is
    source_mark mark;            ///< where the node starts (for a null value: where its key is)
};

/** The tree of the first YAML document, or the syntax error that stopped the parser. */
struct yaml_document {
    node root;
    std::optional<config_error> error;
};

/**
 * Parses @p text as YAML. Positions are yaml-cpp's 0-based Mark plus one; an empty document is a
 * null root at FILE:1:1.
 * @param file the name errors and marks carry
 * @return the tree, or `error` set to "FILE:LINE:COL: <yaml-cpp's message>" for a syntax error or a
 *         mapping key that is not a scalar
 */
yaml_document read_yaml(std::string_view text, const std::string& file);

}  // namespace danegate::conf
