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
