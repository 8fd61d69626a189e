// The verifier: from a compact token and the issuers a location trusts to a
// verdict. Time is a parameter so every rule is testable without a clock.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "issuer_policy.h"
#include "jwks.h"
#include "status.h"
#include "token.h"

namespace m2m {

// Checks one parsed token against one issuer's policy and key set, in this
// order: alg allow-list, crit, typ, key selection, signature, exp, nbf, iat,
// iss, aud. Only the first failure is reported. *signature_verified tells the
// caller whether the claims can be trusted enough to log a client id.
Status verify_token(const Token &token, const IssuerPolicy &policy, const KeySet &keys, int64_t now,
                    bool *signature_verified) noexcept;

struct Verification {
    Status status = Status::missing_token;
    const IssuerPolicy *issuer = nullptr;  // the policy the token's "iss" selected
    Token token;
    bool signature_verified = false;
    std::string client_id;            // filled once the signature verified
    std::vector<std::string> scopes;  // likewise
    std::string scope_string;         // scopes joined by spaces
};

// Parses `compact`, picks the issuer whose `issuer` equals the token's "iss"
// and verifies against that issuer's current keys.
void verify(std::string_view compact, const std::vector<const IssuerPolicy *> &issuers, int64_t now,
            Verification *out) noexcept;

}  // namespace m2m
