// Cross-field checks of a config the schema has filled (STYLE rec. 9, second phase): names unique,
// routes naming existing upstreams, an upstream's endpoints or srv (exactly one), listener
// addresses distinct, files present and readable, certificate/key pairs that match, a trust
// anchor (fail closed, DESIGN §1), and the defaults that depend on the machine (threads). Paths
// are resolved here, so everything after validation can open them without knowing the CWD.
#pragma once

#include "conf/config.hpp"
#include "conf/config_error.hpp"

#include <filesystem>
#include <vector>

namespace danegate::conf {

/** Where relative paths point, and the trust anchor used when the file names none. */
struct validate_options {
    /** Relative cert, key, trust_anchor_file, unbound_conf and log.access paths resolve against
     *  this directory; empty means the current working directory. */
    std::filesystem::path base_directory;
    /** Used as resolver.trust_anchor_file when no anchor is configured and this file exists
     *  (Debian's dns-root-data); empty disables the fallback. */
    std::filesystem::path default_trust_anchor_file = "/usr/share/dns/root.key";
};

/**
 * Checks @p cfg as a whole, resolves its paths and sets machine-dependent defaults.
 * @param cfg the schema's output; on return paths are resolved and threads is at least 1
 * @param errors every violation is appended (all of them, not the first)
 */
void validate(config& cfg, const validate_options& options, std::vector<config_error>& errors);

}  // namespace danegate::conf
