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
    case Reason::claim_rule_failed: return "claim_rule_failed";
    case Reason::certificate_mismatch: return "certificate_mismatch";
    case Reason::unbound_token: return "unbound_token";
    case Reason::dpop_required: return "dpop_required";
    case Reason::dpop_bound_bearer: return "dpop_bound_bearer";
    case Reason::dpop_unbound_token: return "dpop_unbound_token";
    case Reason::dpop_key_mismatch: return "dpop_key_mismatch";
    case Reason::dpop_proof_missing: return "dpop_proof_missing";
    case Reason::dpop_proof_multiple: return "dpop_proof_multiple";
    case Reason::dpop_proof_malformed: return "dpop_proof_malformed";
    case Reason::dpop_proof_alg_not_allowed: return "dpop_proof_alg_not_allowed";
    case Reason::dpop_proof_bad_key: return "dpop_proof_bad_key";
    case Reason::dpop_proof_private_key: return "dpop_proof_private_key";
    case Reason::dpop_proof_bad_signature: return "dpop_proof_bad_signature";
    case Reason::dpop_proof_wrong_method: return "dpop_proof_wrong_method";
    case Reason::dpop_proof_wrong_uri: return "dpop_proof_wrong_uri";
    case Reason::dpop_proof_stale: return "dpop_proof_stale";
    case Reason::dpop_proof_future: return "dpop_proof_future";
    case Reason::dpop_proof_replayed: return "dpop_proof_replayed";
    case Reason::dpop_proof_wrong_ath: return "dpop_proof_wrong_ath";
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
