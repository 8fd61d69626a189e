// What the token endpoint sends: JWT access tokens as RFC 9068 profiles
// them, and the JSON replies of RFC 6749 §5.1 (success) and §5.2 (error).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "issuer/signing_key.h"
#include "issuer/token_request.h"

namespace m2m {

// Bits of the "jti" (RFC 9068 §2.2 asks for a unique one; 128 random bits
// never repeat in practice).
constexpr size_t kTokenIdBytes = 16;

// Names the client's extra claims may not take. The claims RFC 9068 §2.2
// registers and this issuer sets (iss, sub, aud, exp, nbf, iat, jti,
// client_id, scope), and the ones a verifier reads as the client or its
// scopes (the defaults of client_id_claim and scope_claim: azp, appid, cid,
// scp, scopes): an extra "scp" would grant scopes the registration never
// allowed, since verifiers merge every scope claim. And "cnf", which binds
// a token to a key (RFC 7800): only the issuer may say which.
bool is_reserved_claim(std::string_view name) noexcept;

// 32 hex digits from OpenSSL's RNG; an empty optional if it fails.
std::optional<std::string> new_token_id() noexcept;

// The payload, compact JSON: iss, sub and client_id (the client's id), aud,
// iat and nbf (now), exp (now + lifetime), jti, scope (space-separated),
// cnf {"x5t#S256", "jkt"} for a certificate- or DPoP-bound grant (each
// member only when bound so), then the client's extra
// claims in their order, less the reserved ones.
// An empty optional if memory runs out or a string is not UTF-8 (issuer
// and audience come from the configuration, which may hold any bytes).
std::optional<std::string> access_token_claims(std::string_view issuer, const TokenGrant &grant, int64_t now,
                                               int64_t lifetime, std::string_view jti) noexcept;

// The signed token (the key's header: alg, typ "at+jwt", kid). An empty
// optional with a one-line *error (no key material) if the RNG, memory or
// the signature fails.
std::optional<std::string> issue_access_token(const SigningKey &key, std::string_view issuer, const TokenGrant &grant,
                                              int64_t now, int64_t lifetime, std::string *error) noexcept;

// {"access_token": ..., "token_type": "Bearer", "expires_in": N,
//  "scope": "a b"}; the scope is always sent, so a client that asked for
// none learns what it got (RFC 6749 §5.1). token_type is "DPoP" for a
// DPoP-bound token (RFC 9449 §5). Empty optional if memory runs out.
std::optional<std::string> token_response_json(std::string_view access_token, int64_t expires_in,
                                               const std::vector<std::string> &scopes, bool dpop = false) noexcept;

// {"error": ..., "error_description": ...} (no description member if it is
// empty). Empty optional if memory runs out.
std::optional<std::string> error_response_json(const TokenRefusal &refusal) noexcept;

}  // namespace m2m
