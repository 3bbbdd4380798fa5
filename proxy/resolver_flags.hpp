// The resolver flags shared by every subcommand that resolves (DESIGN §2): --trust-anchor-file,
// --stub ZONE=ADDR@PORT, --forward ADDR@PORT, --unbound-conf; turned into dane::resolver_options.
#pragma once

#include "dane/unbound_resolver.hpp"

#include <string>
#include <vector>

namespace danegate::proxy {

struct resolver_flags {
    std::vector<std::string> trust_anchor_files;
    std::vector<std::string> stubs;       ///< "ZONE=ADDR@PORT"
    std::vector<std::string> forwarders;  ///< "ADDR@PORT"
    std::string unbound_conf;
};

/** Where the root trust anchor lives on Debian (package dns-root-data). */
inline constexpr const char* default_root_anchor = "/usr/share/dns/root.key";

/**
 * The resolver options the flags ask for. Without --trust-anchor-file or --unbound-conf the root
 * anchor file @p root_anchor is used when present; otherwise there is no trust anchor at all,
 * which is an error, since nothing could ever validate (fail closed, DESIGN §1).
 */
dane::result<dane::resolver_options> to_resolver_options(const resolver_flags& flags,
                                                        const std::string& root_anchor = default_root_anchor);

}  // namespace danegate::proxy
