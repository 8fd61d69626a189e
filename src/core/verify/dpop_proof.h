// A DPoP proof (RFC 9449 §4), checked as §4.3 lists: a JWS whose header has
// typ "dpop+jwt", an allowed asymmetric alg and the public "jwk" that signed
// it; claims htm and htu for this request, a recent iat, a jti, and, when an
// access token comes with it, ath. Replay of jti is the caller's to refuse:
// the proof says only what it is.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "keys/algorithm.h"
#include "reason.h"

namespace m2m {

// What the request the proof came with is.
struct DpopRequest {
    std::string_view method;        // as the request line has it
    // scheme://host[:port]/path: the URI the client addressed, its path as
    // the request line has it (still percent-encoded); a query or fragment
    // is ignored. Compared with htu after RFC 3986 §6.2.2-6.2.3
    // normalization of both; one that is no http(s) URI matches nothing.
    std::string_view uri;
    std::string_view access_token;  // empty: none (a token request), no ath expected
    int64_t now = 0;
    int64_t window = 60;            // auth_m2m_dpop_window: how old iat may be
    int64_t leeway = 5;             // clock skew allowed on either side of iat
    AlgorithmSet algorithms = AlgorithmSet::all_asymmetric();
};

struct DpopProof {
    std::string jkt;  // RFC 7638 thumbprint of the proof's jwk, base64url
    std::string jti;
    int64_t iat = 0;  // rounded down; jti is remembered until iat + window + leeway
};

// Largest proof read; anything longer is dpop_proof_malformed.
constexpr size_t kMaxDpopProofSize = 8192;

// ok with *out filled (left untouched otherwise), or the first failure, in
// this order:
//   dpop_proof_malformed        over kMaxDpopProofSize, not a compact JWS of
//                               JSON objects, typ not exactly "dpop+jwt", any
//                               "crit" (we implement no extension);
//   dpop_proof_alg_not_allowed  alg not in request.algorithms ("none", HS*);
//   dpop_proof_malformed        jti not a string of 1-256 bytes without line
//                               breaks, htm or htu not a string, iat not a
//                               number, ath present and not a string;
//   dpop_proof_private_key      jwk has a private member (import_public_jwk);
//   dpop_proof_bad_key          jwk missing, unusable, or not the alg's type;
//   dpop_proof_bad_signature;
//   dpop_proof_wrong_method     htm is not request.method (case-sensitive);
//   dpop_proof_wrong_uri;
//   dpop_proof_stale            iat < now - window - leeway;
//   dpop_proof_future           iat > now + leeway;
//   dpop_proof_wrong_ath        an access token, and ath missing or not its
//                               hash (compared in constant time);
//   internal_error              memory or OpenSSL failed.
Reason verify_dpop_proof(std::string_view proof, const DpopRequest &request, DpopProof *out) noexcept;

// base64url(SHA-256(access token)), as ath carries it (RFC 9449 §4.2); empty
// if OpenSSL fails.
std::string access_token_hash(std::string_view access_token) noexcept;

}  // namespace m2m
