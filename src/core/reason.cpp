#include "reason.h"

namespace m2m {

const char *reason_code(Reason status) noexcept
{
    // No default: the compiler names any status added without a code.
    switch (status) {
    case Reason::ok: return "";
    case Reason::missing_token: return "missing_token";
    case Reason::bad_authorization: return "bad_authorization";
    case Reason::token_too_large: return "token_too_large";
    case Reason::jwe_not_supported: return "jwe_not_supported";
    case Reason::malformed: return "malformed";
    case Reason::malformed_claim: return "malformed_claim";
    case Reason::alg_not_allowed: return "alg_not_allowed";
    case Reason::unsupported_crit: return "unsupported_crit";
    case Reason::wrong_typ: return "wrong_typ";
    case Reason::unknown_kid: return "unknown_kid";
    case Reason::key_alg_mismatch: return "key_alg_mismatch";
    case Reason::bad_signature: return "bad_signature";
    case Reason::missing_exp: return "missing_exp";
    case Reason::expired: return "expired";
    case Reason::not_yet_valid: return "not_yet_valid";
    case Reason::issued_in_future: return "issued_in_future";
    case Reason::wrong_issuer: return "wrong_issuer";
    case Reason::wrong_audience: return "wrong_audience";
    case Reason::insufficient_scope: return "insufficient_scope";
    case Reason::keys_unavailable: return "keys_unavailable";
    case Reason::jwks_malformed: return "jwks_malformed";
    case Reason::jwks_no_usable_key: return "jwks_no_usable_key";
    case Reason::discovery_malformed: return "discovery_malformed";
    case Reason::discovery_issuer_mismatch: return "discovery_issuer_mismatch";
    case Reason::internal_error: return "internal_error";
    }
    return "internal_error";
}

}  // namespace m2m
