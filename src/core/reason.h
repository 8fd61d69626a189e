// Why a request was refused (or a key set rejected). One code per cause so that
// ops can tell an expired token from a forged one in the access log.
#pragma once

namespace m2m {

enum class Reason {
    ok,                  // verified
    missing_token,       // no Bearer credentials at all
    bad_authorization,   // Authorization header present but not "Bearer <token68>"
    token_too_large,     // over the size limit; refused before any parsing
    jwe_not_supported,   // five-part compact JWE: we only accept signed tokens
    malformed,           // not three base64url parts of UTF-8 JSON objects
    malformed_claim,     // a registered claim has the wrong JSON type
    alg_not_allowed,     // header alg not in the issuer's allow-list
    unsupported_crit,    // "crit" names an extension we do not implement
    wrong_typ,           // JOSE "typ" not one of require_typ
    unknown_kid,         // no key with the token's kid (or, without kid, none of the right type)
    key_alg_mismatch,    // the kid's key is of another type, curve or alg than the header says
    bad_signature,       // signature does not verify with the selected key
    missing_exp,         // "exp" absent: tokens that never expire are refused
    expired,             // now >= exp + leeway
    not_yet_valid,       // nbf > now + leeway
    issued_in_future,    // iat > now + leeway
    wrong_issuer,        // "iss" absent or not one of the location's issuers
    wrong_audience,      // "aud" absent or not one of the configured audiences
    insufficient_scope,  // verified, but a required scope is missing
    claim_rule_failed,   // verified, but one of the location's auth_m2m_require values is empty or "0"
    // Sender-constrained tokens (RFC 8705, RFC 9449): checked per request
    // once the token verified, before the location's scopes.
    certificate_mismatch,   // cnf "x5t#S256" without a client certificate of that SHA-256 thumbprint
    unbound_token,          // auth_m2m_certificate_bound on, and the token has no cnf "x5t#S256"
    dpop_required,          // auth_m2m_dpop required, and the token came as Bearer
    dpop_bound_bearer,      // a token with cnf "jkt" presented as Bearer (RFC 9449 §7.1)
    dpop_unbound_token,     // presented as DPoP, but the token has no cnf "jkt"
    dpop_key_mismatch,      // cnf "jkt" is not the thumbprint of the proof's key
    dpop_proof_missing,     // the DPoP scheme without a DPoP header
    dpop_proof_multiple,    // more than one DPoP header (400)
    dpop_proof_malformed,   // not a JWS of JSON objects, typ not dpop+jwt, a claim of the wrong type or missing
    dpop_proof_alg_not_allowed,  // alg not an allowed asymmetric algorithm ("none", HS*)
    dpop_proof_bad_key,     // "jwk" missing, unusable, or not the alg's type
    dpop_proof_private_key, // "jwk" carries private key members
    dpop_proof_bad_signature,    // the proof does not verify with its own jwk
    dpop_proof_wrong_method,     // htm is not the request's method
    dpop_proof_wrong_uri,        // htu is not the request's URI
    dpop_proof_stale,            // iat older than the window allows
    dpop_proof_future,           // iat further ahead than the leeway allows
    dpop_proof_replayed,         // jti seen before within the window
    dpop_proof_wrong_ath,        // ath is not base64url(SHA-256(access token))
    keys_unavailable,    // the issuer has no keys yet (remote key sets)
    jwks_malformed,      // a JWK Set that is not JSON with a "keys" array
    jwks_no_usable_key,  // a JWK Set none of whose keys we can use for signatures
    discovery_malformed,        // metadata document not JSON or without a string "jwks_uri"
    discovery_issuer_mismatch,  // metadata "issuer" differs from the configured issuer
    internal_error,      // an exception or allocation failure inside the verifier; keep last
};

// For tables indexed by status (per-reason counters in shared memory).
constexpr unsigned kStatusCount = static_cast<unsigned>(Reason::internal_error) + 1;

// The stable, lower-case code used in logs, $m2m_error and error_description.
const char *reason_code(Reason status) noexcept;

}  // namespace m2m
