// Test keys and token signing, written directly against OpenSSL 3 so that the
// tests never trust the code (or the JOSE library) under test to produce the
// tokens they check. Keys are generated once per process: call
// testkeys::init_all() before Check forks, and every test reuses them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <openssl/evp.h>

namespace testkeys {

enum class KeyName {
    rsa,         // RSA-2048, the issuer's main key
    rsa_other,   // RSA-2048, a key the issuer never published
    rsa_1024,    // RSA-1024, too short to be accepted
    p256,        // EC P-256
    p256_other,  // EC P-256, never published
    p384,        // EC P-384
    p521,        // EC P-521
    rsa_3072,    // RSA-3072 (three primes, see test_keys.cpp)
    rsa_4096,    // RSA-4096 (four primes)
};

// One signing case per algorithm with the standard keys, and the larger RSA
// moduli: the signature suites loop over them. P-384 and P-521 come last:
// OpenSSL 3.0 verifies them in 1-1.5 ms (P-256 and RSA-4096 in 0.1), so a
// suite runs the last kSlowSignatureCases in a test case of its own, tagged
// "slow" (CK_EXCLUDE_TAGS=slow leaves them out of a quick run).
struct SignatureCase {
    const char *alg;
    KeyName key;
    const char *kid;
    size_t signature_bytes;
};
inline constexpr SignatureCase kSignatureCases[] = {
    {"RS256", KeyName::rsa, "rsa-1", 256},         {"RS384", KeyName::rsa, "rsa-1", 256},
    {"RS512", KeyName::rsa, "rsa-1", 256},         {"PS256", KeyName::rsa, "rsa-1", 256},
    {"PS384", KeyName::rsa, "rsa-1", 256},         {"PS512", KeyName::rsa, "rsa-1", 256},
    {"ES256", KeyName::p256, "ec-256", 64},        {"RS384", KeyName::rsa_3072, "rsa-3072", 384},
    {"PS512", KeyName::rsa_4096, "rsa-4096", 512}, {"ES384", KeyName::p384, "ec-384", 96},
    {"ES512", KeyName::p521, "ec-521", 132},
};
inline constexpr int kSignatureCaseCount = sizeof kSignatureCases / sizeof kSignatureCases[0];
inline constexpr int kSlowSignatureCases = 2;

// Generates every key now. Without it keys are generated on first use.
void init_all();

EVP_PKEY *pkey(KeyName name);

// RFC 4648 §5 without padding.
std::string b64url_encode(std::string_view bytes);
// Strict decoder of our own (no padding, zero trailing bits); false on error.
bool b64url_decode(std::string_view in, std::string *out);

// The members of a key's public JWK, each already base64url-encoded.
struct JwkParts {
    std::string kty;  // "RSA" or "EC"
    std::string n, e;         // RSA
    std::string crv, x, y;    // EC, coordinates left-padded to the curve size
    std::string d;            // the private member (RSA d or EC d), for leak tests
};
JwkParts jwk_parts(KeyName name);

// The public JWK as JSON object text. `extra` is raw member text appended
// inside the object, e.g. "\"alg\":\"RS256\",\"use\":\"sig\"". Empty kid: no kid.
std::string public_jwk(KeyName name, const std::string &kid, const std::string &extra = "");

// {"keys":[...]} from JWK object texts.
std::string jwk_set(const std::vector<std::string> &jwks);

// Signs `input` as the JOSE algorithm `alg` says (RS*, PS* with salt length =
// digest length, ES* as fixed-width R||S sized by the key's curve) with `key`.
std::string sign_bytes(const std::string &alg, KeyName key, std::string_view input);

// HMAC-SHA256, for forging HS256 tokens in key-confusion tests.
std::string hmac_sha256(std::string_view secret, std::string_view input);

// A compact JWS: base64url(header).base64url(payload).base64url(signature),
// the signature made by `sign_alg` with `key` over the first two parts.
std::string sign_compact(const std::string &sign_alg, KeyName key, const std::string &header_json,
                         const std::string &payload_json);

// {"alg":alg,"typ":"at+jwt","kid":kid} (no kid member when kid is empty),
// with `extra` raw members appended.
std::string header_json(const std::string &alg, const std::string &kid, const std::string &extra = "");

// sign_compact(alg, key, header_json(alg, kid), payload_json)
std::string make_token(const std::string &alg, KeyName key, const std::string &kid, const std::string &payload_json);

// The three dot-separated segments of a compact JWS (aborts if not three).
struct Segments {
    std::string header, payload, signature;
    std::string join() const { return header + "." + payload + "." + signature; }
};
Segments split(const std::string &compact);

}  // namespace testkeys
