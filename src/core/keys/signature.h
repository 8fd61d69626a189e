// The JWS signature check (RFC 7515 §5.2 step 8; RFC 7518 §3.3-3.5) with
// OpenSSL 3's EVP interface, on the key jwks.cpp made ready once per key set.
// Per call: one digest of the signing input with a digest fetched once per
// process, a copy of the key's prepared verification context, and the public
// key operation. It reads the signing input and the signature where
// Token::parse left them: nothing is decoded or copied again.
#pragma once

#include <cstddef>
#include <string_view>

#include "keys/algorithm.h"
#include "keys/jwks.h"
#include "openssl_handles.h"
#include "reason.h"

namespace m2m {

// A verification context for `alg` with `pkey`, set up once: the provider's
// implementation, the digest, and for RSA the padding (PKCS#1 v1.5 for RS*;
// PSS for PS*, with MGF1 on the same digest and a salt exactly as long as
// the digest, RFC 7518 §3.5). Null if OpenSSL refuses (a key of the wrong
// type) or memory runs out. jwks.cpp calls it for each algorithm a key fits.
EvpPkeyCtxPtr prepare_verification(EVP_PKEY *pkey, Algorithm alg) noexcept;

// Whether `signature` (raw bytes: RSA s, or ECDSA R || S) is key's signature
// of `signing_input` under alg. In order:
//   key_alg_mismatch  the key does not fit alg (Key::fits);
//   bad_signature     signature is not exactly Key::signature_size bytes
//                     (RFC 7518 §3.3-3.5: OpenSSL 3.0 alone takes an RSA-PSS
//                     signature with its leading zero bytes cut off), or it
//                     does not verify;
//   internal_error    memory ran out, or key was not made by parse_jwks;
//   ok.
// Nothing is allocated for the signature (an ECDSA one is re-encoded as DER
// on the stack), and OpenSSL's error queue is left as it was found.
//
// High-S ECDSA signatures (s > n/2) verify: RFC 7518 §3.4 and FIPS 186-4
// accept both (r, s) and (r, n - s), as OpenSSL and cjose do. That twin is a
// second valid token for the same claims, signed by the key's holder; it
// cannot be made without a valid signature, so nothing that trusts a
// verified token is weakened (a token cache keys on the token's bytes and
// holds the two as two tokens).
Reason verify_signature(const Key &key, Algorithm alg, std::string_view signing_input,
                        std::string_view signature) noexcept;

}  // namespace m2m
