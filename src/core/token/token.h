// A compact JWS split and decoded, but not yet trusted: nothing read from a
// Token may reach a variable or a log line before authenticate() has made it
// a VerifiedToken (authenticate.h).
#pragma once

#include <string>
#include <string_view>

#include "json.h"
#include "reason.h"

namespace m2m {

// Real access tokens are 1-2 KiB; anything over this is refused before we
// spend a base64 or JSON parse on it.
constexpr size_t kMaxTokenSize = 8192;

class Token {
public:
    // ok, token_too_large, jwe_not_supported or malformed.
    static Reason parse(std::string_view compact, Token *out) noexcept;

    const json_t *header() const noexcept { return header_.get(); }
    const json_t *claims() const noexcept { return claims_.get(); }
    const std::string &compact() const noexcept { return compact_; }

    // Header "alg" and the payload's "iss" (both checked to be strings by parse
    // when present); empty when absent.
    std::string_view alg() const noexcept { return alg_; }
    std::string_view issuer() const noexcept { return issuer_; }
    bool has_kid() const noexcept { return has_kid_; }
    size_t signature_size() const noexcept { return signature_size_; }  // decoded bytes
    std::string_view kid() const noexcept { return kid_; }

private:
    std::string compact_;
    JsonPtr header_;
    JsonPtr claims_;
    std::string_view alg_;
    std::string_view issuer_;
    std::string_view kid_;
    bool has_kid_ = false;
    size_t signature_size_ = 0;
};

}  // namespace m2m
