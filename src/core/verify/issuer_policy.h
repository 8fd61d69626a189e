// What one trusted issuer's tokens must look like: the per-issuer half of
// the configuration, free of nginx types so the core can be tested alone.
// Its keys are not configuration: they live in IssuerKeys (issuer_keys.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "keys/algorithm.h"

namespace m2m {

struct IssuerPolicy {
    std::string name;    // the auth_m2m_issuer block's name, for logs
    std::string issuer;  // compared byte for byte with "iss"
    std::vector<std::string> audiences;  // empty: "aud" is not checked
    AlgorithmSet algorithms = AlgorithmSet::all_asymmetric();
    int64_t leeway = 60;  // seconds of clock skew tolerated on exp, nbf, iat
    std::vector<std::string> client_id_claims{"client_id", "azp", "appid", "cid", "sub"};
    std::vector<std::string> scope_claims{"scope", "scp", "scopes"};
    std::vector<std::string> require_typ;  // empty: "typ" is not checked
};

}  // namespace m2m
