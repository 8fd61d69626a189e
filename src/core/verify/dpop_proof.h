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
    std::string_view uri;           // scheme://host[:port]/path, no query or fragment
    std::string_view access_token;  // empty: none (a token request), no ath expected
    int64_t now = 0;
    int64_t window = 60;            // auth_m2m_dpop_window: how old iat may be
    int64_t leeway = 5;             // clock skew allowed on either side of iat
    AlgorithmSet algorithms = AlgorithmSet::all_asymmetric();
};

struct DpopProof {
    std::string jkt;  // RFC 7638 thumbprint of the proof's jwk, base64url
    std::string jti;
    int64_t iat = 0;  // jti is remembered until iat + window + leeway
};

// Largest proof read; anything longer is dpop_proof_malformed.
constexpr size_t kMaxDpopProofSize = 8192;

// ok with *out filled, or the first failure among: dpop_proof_malformed,
// dpop_proof_alg_not_allowed, dpop_proof_private_key, dpop_proof_bad_key,
// dpop_proof_bad_signature, dpop_proof_wrong_method, dpop_proof_wrong_uri,
// dpop_proof_stale, dpop_proof_future, dpop_proof_wrong_ath, internal_error.
Reason verify_dpop_proof(std::string_view proof, const DpopRequest &request, DpopProof *out) noexcept;

// base64url(SHA-256(access token)), as ath carries it (RFC 9449 §4.2); empty
// if OpenSSL fails.
std::string access_token_hash(std::string_view access_token) noexcept;

}  // namespace m2m
