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
    // The token as the client sent it.
    std::string_view compact() const noexcept { return std::string_view(bytes_).substr(0, compact_size_); }
    // What the signature covers (RFC 7515 §5.2): the token up to its last '.'.
    std::string_view signing_input() const noexcept { return compact().substr(0, signing_input_size_); }
    // The signature's bytes, decoded here once for the signature check (empty
    // for an unsecured JWS).
    std::string_view signature() const noexcept { return std::string_view(bytes_).substr(compact_size_); }
    // The heap block that holds compact() and signature(), for the token
    // cache's memory accounting.
    size_t bytes_capacity() const noexcept { return bytes_.capacity(); }

    // Header "alg" and the payload's "iss" (both checked to be strings by parse
    // when present); empty when absent.
    std::string_view alg() const noexcept { return alg_; }
    std::string_view issuer() const noexcept { return issuer_; }
    bool has_kid() const noexcept { return has_kid_; }
    std::string_view kid() const noexcept { return kid_; }

private:
    // The compact token, then its decoded signature: one allocation for both.
    std::string bytes_;
    size_t compact_size_ = 0;
    size_t signing_input_size_ = 0;
    JsonPtr header_;
    JsonPtr claims_;
    std::string_view alg_;
    std::string_view issuer_;
    std::string_view kid_;
    bool has_kid_ = false;
};

}  // namespace m2m
