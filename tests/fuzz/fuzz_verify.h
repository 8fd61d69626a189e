// The module's path from a compact token to a verdict, shared by the fuzz
// targets that verify: the token parsed once, its issuer picked by "iss",
// authenticated with that issuer's keys, then authorized. On the way it
// checks what must hold between the two steps, whatever the input.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "verify/authenticate.h"
#include "keys/issuer_keys.h"
#include "verify/issuer_policy.h"
#include "reason.h"
#include "token/token.h"

namespace fuzz {

// An issuer as the module holds one: configuration and keys apart.
struct Issuer {
    m2m::IssuerPolicy policy;
    m2m::IssuerKeys keys;
};

struct Verdict {
    m2m::Reason status = m2m::Reason::missing_token;
    const Issuer *issuer = nullptr;                   // the one "iss" named
    std::shared_ptr<const m2m::VerifiedToken> token;  // once the signature held
};

// `parsed`, if given, sees every token that parses, verified or not.
Verdict verify(std::string_view compact, const std::vector<const Issuer *> &issuers, int64_t now,
               void (*parsed)(const m2m::Token &) = nullptr);

}  // namespace fuzz
