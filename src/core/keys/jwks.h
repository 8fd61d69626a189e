// A JSON Web Key Set (RFC 7517) reduced to the keys that can verify our
// algorithms. Keys we cannot use are skipped with a reason rather than
// failing the whole set: one exotic key from an issuer must not lock out
// every client.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "keys/algorithm.h"
#include "json.h"
#include "openssl_handles.h"
#include "reason.h"

namespace m2m {

// RFC 7518 §3.3: RSA keys for RS*/PS* must be at least 2048 bits.
constexpr size_t kMinRsaBits = 2048;
// Verifying with a huge modulus costs quadratic time; nobody signs with more.
constexpr size_t kMaxRsaBits = 16384;

struct Key {
    std::optional<std::string> kid;
    KeyType kty;
    Curve crv;                     // Curve::none for RSA
    std::optional<Algorithm> alg;  // the JWK's own "alg", if it names one
    size_t signature_size = 0;     // the only valid signature length for this key
    JwkPtr jwk;                    // null for a DPoP proof's key
    // The same public key for OpenSSL 3's EVP, built once per key set from
    // the members parse_jwks checked, never from cjose's copy.
    EvpPkeyPtr pkey;
    // One verification context per algorithm the key fits, null for the
    // others; signature.h verifies with copies of these.
    std::array<EvpPkeyCtxPtr, kAlgorithmCount> verifiers;

    // Whether this key may verify a token signed with alg (type, curve and
    // the JWK's own alg all agree).
    bool fits(Algorithm token_alg) const noexcept;
};

class KeySet {
public:
    const std::vector<Key> &keys() const noexcept { return keys_; }
    bool empty() const noexcept { return keys_.empty(); }
    std::vector<Key> &mutable_keys() noexcept { return keys_; }

private:
    std::vector<Key> keys_;
};

struct JwksParseResult {
    Reason status = Reason::internal_error;  // ok, jwks_malformed, jwks_no_usable_key
    KeySet keys;
    std::vector<std::string> skipped;  // one line per ignored key: "kid \"x\": reason",
                                       // control bytes escaped as \xNN, cut at 128 bytes
};

JwksParseResult parse_jwks(std::string_view json) noexcept;

// One public JWK, as a DPoP proof's header carries it (RFC 9449 §4.2),
// checked as parse_jwks checks each key of a set, for verifying `alg` only
// (its verifier alone is prepared). In order: dpop_proof_bad_key if it is
// not an object; dpop_proof_private_key if it has a private or secret
// member (d, p, q, dp, dq, qi, oth, k), whatever its kty; dpop_proof_bad_key
// if parse_jwks would skip it (a symmetric kty among others) or it does not
// fit alg (Key::fits); internal_error if memory ran out; ok and *out.
Reason import_public_jwk(const json_t *jwk, Algorithm alg, Key *out) noexcept;

// Moves a parsed set behind the pointer IssuerKeys::set holds. Null if
// memory ran out: a worker importing keys then keeps its old ones rather
// than throwing into nginx.
std::shared_ptr<const KeySet> share_keys(KeySet keys) noexcept;

}  // namespace m2m
