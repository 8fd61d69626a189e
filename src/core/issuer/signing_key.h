// The local issuer's signing keys: PEM private keys (RSA of 2048 bits or
// more, EC P-256 or P-384), read once at configuration. The first key of an
// issuer signs; all are published in its JWK Set and accepted (rotation).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "keys/algorithm.h"
#include "openssl_handles.h"

namespace m2m {

// PEM text larger than this is no single key (an RSA-16384 PKCS#8 key is
// about 12 KiB).
constexpr size_t kMaxPemSize = 64 * 1024;

class SigningKey {
public:
    // From PEM text. False with a one-line *error (never key material) if it
    // is not an RSA (>= kMinRsaBits) or P-256/P-384 private key.
    static bool load(std::string_view pem, SigningKey *out, std::string *error) noexcept;

    Algorithm algorithm() const noexcept { return alg_; }   // RS256, ES256 or ES384
    // RFC 7638 JWK thumbprint (SHA-256, base64url): the kid of its tokens.
    const std::string &kid() const noexcept { return kid_; }
    // The public JWK as JSON text: kty, kid, use "sig", alg and the public
    // members only.
    const std::string &public_jwk() const noexcept { return public_jwk_; }

    // header.payload.signature with a JWS header {"alg","typ":"at+jwt","kid"}
    // over payload_json (already serialized). Throws on OpenSSL failure.
    std::string sign(std::string_view payload_json) const;

private:
    EvpPkeyPtr pkey_;
    Algorithm alg_{};
    std::string kid_;
    std::string public_jwk_;
};

// {"keys":[...]} of the public JWKs, in order. Throws std::bad_alloc only.
std::string jwks_json(const SigningKey *keys, size_t count);

}  // namespace m2m
