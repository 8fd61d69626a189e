// verify_dpop_proof on arbitrary proofs: the JWS split, the header's jwk
// import (nothing unchecked may reach OpenSSL), htu normalization and the
// claim checks. Without signatures that verify, everything after the
// signature check would be out of reach, so the harness can sign.
//
// Input, by its first byte:
//   bit 0 clear ('r'): the rest is the compact proof, as a client sends it.
//   bit 0 set: the rest is header JSON, NUL, payload JSON, NUL, signature
//   bytes; the harness base64url-encodes them. With bit 1 also set ('s',
//   'w') the signature bytes are ignored and the proof is signed ES256 by
//   "ec-1", the key whose private half is below (seeds carry its public
//   jwk); without it ('u') they are used as is.
//   bit 2 set ('w', 'u'): the request carries an access token, so ath is
//   checked.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <openssl/evp.h>

#include "fuzz_support.h"
#include "json.h"
#include "reason.h"
#include "verify/dpop_proof.h"

namespace {

constexpr int64_t kNow = 1700000000;
constexpr const char *kAccessToken = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJzdmMtMSJ9.c2ln";

EVP_PKEY *ec1;
std::string ec1_jkt;

// The value of "name":"..." in JSON text we made ourselves.
std::string member(const std::string &json, const std::string &name)
{
    const size_t at = json.find("\"" + name + "\":\"");
    if (at == std::string::npos) {
        fuzz::fail("fixture: member missing");
    }
    const size_t start = at + name.size() + 4;
    return json.substr(start, json.find('"', start) - start);
}

// RFC 7638 by hand from the harness's own JWK, not the module's code.
std::string thumbprint_of(EVP_PKEY *key)
{
    const std::string jwk = fuzz::public_jwk(key, "");
    const std::string canonical = "{\"crv\":\"" + member(jwk, "crv") + "\",\"kty\":\"EC\",\"x\":\"" +
                                  member(jwk, "x") + "\",\"y\":\"" + member(jwk, "y") + "\"}";
    unsigned char digest[32];
    unsigned int size = 0;
    if (EVP_Digest(canonical.data(), canonical.size(), digest, &size, EVP_sha256(), nullptr) != 1) {
        fuzz::fail("fixture: SHA-256");
    }
    return fuzz::b64url_encode(std::string_view(reinterpret_cast<const char *>(digest), size));
}

std::string structured_proof(unsigned char mode, std::string_view rest)
{
    const size_t a = rest.find('\0');
    const size_t b = a == std::string_view::npos ? a : rest.find('\0', a + 1);
    const std::string_view header = rest.substr(0, a);
    const std::string_view payload = a == std::string_view::npos ? std::string_view() : rest.substr(a + 1, b - a - 1);
    const std::string_view signature = b == std::string_view::npos ? std::string_view() : rest.substr(b + 1);
    const std::string input = fuzz::b64url_encode(header) + "." + fuzz::b64url_encode(payload);
    const std::string sig = (mode & 2) ? fuzz::sign(ec1, "ES256", input) : std::string(signature);
    return input + "." + fuzz::b64url_encode(sig);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    // jansson seeds its hash function randomly; a fixed seed makes each
    // input's run the same every time.
    json_object_seed(1);
    ec1 = fuzz::load_private_pem(fuzz::kEc1Pem);
    ec1_jkt = thumbprint_of(ec1);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    const std::string_view rest(reinterpret_cast<const char *>(data) + 1, size - 1);
    const std::string proof = (data[0] & 1) ? structured_proof(data[0], rest) : std::string(rest);

    m2m::DpopRequest request;
    request.method = "POST";
    request.uri = "https://server.example.com/token";
    request.access_token = (data[0] & 4) ? kAccessToken : "";
    request.now = kNow;
    request.window = 60;
    request.leeway = 5;

    m2m::DpopProof out;
    const m2m::Reason status = m2m::verify_dpop_proof(proof, request, &out);
    if (getenv("FUZZ_VERBOSE")) {
        // For checking what a seed reaches: fuzz_dpop_proof -runs=0 seed...
        fprintf(stderr, "dpop proof: %s\n", m2m::reason_code(status));
    }
    if (status == m2m::Reason::internal_error) {
        fuzz::fail("verify_dpop_proof reported internal_error");
    }
    m2m::DpopProof again;
    if (m2m::verify_dpop_proof(proof, request, &again) != status) {
        fuzz::fail("the same proof judged twice differently");
    }
    if (status != m2m::Reason::ok) {
        return 0;
    }
    // ec-1 is the only private key there is: a proof that verified was
    // signed by it, so its jwk was ec-1's.
    if (out.jkt != ec1_jkt || again.jkt != out.jkt) {
        fuzz::fail("ok for a proof not signed by the key in its jwk");
    }
    if (out.jti.empty() || out.jti.size() > 256) {
        fuzz::fail("ok with a jti of no or too great a length");
    }
    if (out.iat < kNow - 65 || out.iat > kNow + 5) {
        fuzz::fail("ok with iat outside the window");
    }
    if (proof.size() > m2m::kMaxDpopProofSize) {
        fuzz::fail("ok for a proof over the size limit");
    }
    return 0;
}
