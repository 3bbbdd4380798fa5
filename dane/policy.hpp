// Per-upstream DANE policy (DESIGN §1): which usages are allowed, whether DANE-EE checks names,
// what SNI to send; and which TLSA records are usable under it (RFC 7671 §5, RFC 7672 §3.1.3).
#pragma once

#include "dane/tlsa_record.hpp"

#include <string>

namespace danegate::dane {

/** What SNI the upstream handshake sends (DESIGN §1). */
enum class sni_mode {
    base_domain,  ///< the TLSA base domain (default)
    none,         ///< no SNI at all
    fixed,        ///< dane_policy::fixed_sni
};

struct dane_policy {
    bool allow_dane_ta = true;   ///< usage 2
    bool allow_dane_ee = true;   ///< usage 3
    /** RFC 7671 §5.1: DANE-EE ignores names; an upstream may opt back in. */
    bool ee_name_checks = false;
    sni_mode sni = sni_mode::base_domain;
    std::string fixed_sni;
};

/**
 * Whether @p record can authenticate under @p policy: usage DANE-TA or DANE-EE (and allowed),
 * selector Cert or SPKI, matching type Full, SHA2-256 or SHA2-512. PKIX-TA/PKIX-EE are unusable
 * because danegate has no WebPKI store (DESIGN §1).
 */
bool is_usable(const tlsa_record& record, const dane_policy& policy);

/** Why @p record is not usable ("usage 0 (PKIX-TA) needs a WebPKI store"); empty if usable. */
std::string unusable_because(const tlsa_record& record, const dane_policy& policy);

}  // namespace danegate::dane
