#include "status.h"

namespace m2m {

const char *reason_code(Status status) noexcept
{
    // No default: the compiler names any status added without a code.
    switch (status) {
    case Status::ok: return "";
    case Status::missing_token: return "missing_token";
    case Status::bad_authorization: return "bad_authorization";
    case Status::token_too_large: return "token_too_large";
    case Status::jwe_not_supported: return "jwe_not_supported";
    case Status::malformed: return "malformed";
    case Status::malformed_claim: return "malformed_claim";
    case Status::alg_not_allowed: return "alg_not_allowed";
    case Status::unsupported_crit: return "unsupported_crit";
    case Status::wrong_typ: return "wrong_typ";
    case Status::unknown_kid: return "unknown_kid";
    case Status::key_alg_mismatch: return "key_alg_mismatch";
    case Status::bad_signature: return "bad_signature";
    case Status::missing_exp: return "missing_exp";
    case Status::expired: return "expired";
    case Status::not_yet_valid: return "not_yet_valid";
    case Status::issued_in_future: return "issued_in_future";
    case Status::wrong_issuer: return "wrong_issuer";
    case Status::wrong_audience: return "wrong_audience";
    case Status::insufficient_scope: return "insufficient_scope";
    case Status::keys_unavailable: return "keys_unavailable";
    case Status::jwks_malformed: return "jwks_malformed";
    case Status::jwks_no_usable_key: return "jwks_no_usable_key";
    case Status::discovery_malformed: return "discovery_malformed";
    case Status::discovery_issuer_mismatch: return "discovery_issuer_mismatch";
    case Status::internal_error: return "internal_error";
    }
    return "internal_error";
}

}  // namespace m2m
