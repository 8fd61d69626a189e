// The RFC 7638 JWK thumbprint of a public key: the local issuer's kid, and
// the "jkt" that binds a DPoP token to its client's key (RFC 9449 §6.1).
// Computed from the key OpenSSL holds, not from the JWK text a client sent,
// so that two spellings of one key (an RSA modulus with a leading zero
// byte) have one thumbprint.
#pragma once

#include <string>

#include "keys/algorithm.h"
#include "openssl_handles.h"

namespace m2m {

// The public members of a key, each already base64url: n and e for RSA
// (minimal, no leading zero byte, RFC 7518 §6.3.1), x and y for EC (padded
// to the field size, RFC 7518 §6.2.1.2).
struct PublicMembers {
    KeyType kty = KeyType::RSA;
    const char *crv = nullptr;  // "P-256", "P-384" or "P-521"
    std::string n, e, x, y;
};

// The JOSE name of an EC key's curve ("P-256", "P-384", "P-521"), or null
// for another curve or key type.
const char *jose_curve(const EVP_PKEY *key) noexcept;

// Throws std::runtime_error if the key is neither RSA nor EC on a JOSE
// curve, or OpenSSL cannot read it; std::bad_alloc.
PublicMembers public_members(const EVP_PKEY *key);

// RFC 7638 §3.2 over members public_members() made. Throws
// std::runtime_error if SHA-256 fails; std::bad_alloc.
std::string thumbprint(const PublicMembers &members);

// The thumbprint (SHA-256, base64url) of an RSA or EC P-256/P-384/P-521 key,
// public or private; empty if it is another kind or OpenSSL fails.
std::string jwk_thumbprint(const EVP_PKEY *key) noexcept;

}  // namespace m2m
