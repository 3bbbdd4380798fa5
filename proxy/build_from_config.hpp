// Translates configuration words into dane/ types, in one place and with exhaustive switches
// (STYLE §3): conf and dane never include each other, so this file is the only bridge.
#pragma once

#include "conf/config.hpp"
#include "dane/policy.hpp"
#include "dane/tlsa_cache.hpp"
#include "dane/unbound_resolver.hpp"

namespace danegate::proxy {

/** The resolver options for `resolver:`; paths are used as written (validated by conf). */
dane::resolver_options to_resolver_options(const conf::resolver_config& resolver);

/** The TLSA cache caps of `resolver:` (negative_ttl, error_ttl). */
dane::cache_options to_cache_options(const conf::resolver_config& resolver);

/** The DANE policy of one upstream: usages, DANE-EE name checks, SNI. */
dane::dane_policy to_dane_policy(const conf::upstream& upstream);

}  // namespace danegate::proxy
