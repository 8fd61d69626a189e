// SigningKey::load on arbitrary bytes: the PEM text of a local issuer's
// signing_key. A key it takes must be one the module can publish and verify:
// its public JWK parses into exactly one key with the same kid, and a token
// it signs passes OpenSSL's own verification with that key.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "issuer/signing_key.h"
#include "keys/jwks.h"
#include "keys/thumbprint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const std::string_view pem(reinterpret_cast<const char *>(data), size);
    m2m::SigningKey key;
    std::string error;
    if (!m2m::SigningKey::load(pem, &key, &error)) {
        if (error.empty() || error.find('\n') != std::string::npos) {
            fuzz::fail("a refusal without a one-line reason");
        }
        return 0;
    }

    m2m::JwksParseResult set = m2m::parse_jwks("{\"keys\":[" + key.public_jwk() + "]}");
    if (set.status != m2m::Reason::ok || set.keys.keys().size() != 1 || !set.keys.keys()[0].kid ||
        *set.keys.keys()[0].kid != key.kid()) {
        fuzz::fail("a loaded key whose public JWK does not parse back to it");
    }
    if (m2m::jwk_thumbprint(set.keys.keys()[0].pkey.get()) != key.kid()) {
        fuzz::fail("kid is not the thumbprint of the published key");
    }

    const std::string token = key.sign("{\"sub\":\"fuzz\"}");
    const size_t dot = token.rfind('.');
    std::string signature;
    if (dot == std::string::npos || !fuzz::b64url_decode(std::string_view(token).substr(dot + 1), &signature) ||
        !fuzz::evp_verify(set.keys.keys()[0].pkey.get(), m2m::algorithm_name(key.algorithm()),
                          std::string_view(token).substr(0, dot), signature)) {
        fuzz::fail("a token the loaded key signed does not verify with its published key");
    }
    return 0;
}
