// DPoP proofs (RFC 9449 §4.3): proofs minted here with OpenSSL directly
// (test_keys.h), one test per way a proof is refused, the good cases per key
// type, htu normalization, the iat window's exact edges, and RFC 9449's own
// example proof and ath.
#include <cstring>
#include <string>

#include <openssl/evp.h>

#include "keys/jwks.h"
#include "keys/thumbprint.h"
#include "test_keys.h"
#include "test_suites.h"
#include "test_support.h"
#include "verify/dpop_proof.h"

using m2m::DpopProof;
using m2m::DpopRequest;
using m2m::Reason;
using testkeys::KeyName;
using namespace testsupport;

namespace {

constexpr const char *kUri = "https://server.example.com/token";
constexpr const char *kAccessToken = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJzdmMtMSJ9.c2ln";

std::string sha256_b64(const std::string &text)
{
    unsigned char digest[32];
    unsigned int size = 0;
    ck_assert_int_eq(EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha256(), nullptr), 1);
    return testkeys::b64url_encode(std::string(reinterpret_cast<char *>(digest), size));
}

// RFC 7638 §3.2 by hand, from the test's own view of the key.
std::string expected_jkt(KeyName name)
{
    const testkeys::JwkParts p = testkeys::jwk_parts(name);
    if (p.kty == "RSA") {
        return sha256_b64("{\"e\":\"" + p.e + "\",\"kty\":\"RSA\",\"n\":\"" + p.n + "\"}");
    }
    return sha256_b64("{\"crv\":\"" + p.crv + "\",\"kty\":\"EC\",\"x\":\"" + p.x + "\",\"y\":\"" + p.y + "\"}");
}

// base members, then each override: same name replaces in place, an empty
// value removes, a new name is appended.
Members merged(Members base, const Members &overrides)
{
    for (const auto &o : overrides) {
        bool found = false;
        for (auto it = base.begin(); it != base.end(); ++it) {
            if (it->first == o.first) {
                found = true;
                if (o.second.empty()) {
                    base.erase(it);
                } else {
                    it->second = o.second;
                }
                break;
            }
        }
        if (!found && !o.second.empty()) {
            base.push_back(o);
        }
    }
    return base;
}

struct Spec {
    std::string alg = "ES256";
    KeyName signer = KeyName::p256;  // signs the proof
    KeyName jwk = KeyName::p256;     // the key in its header
    Members header;                  // overrides of typ, alg, jwk
    Members claims;                  // overrides of jti, htm, htu, iat
};

std::string proof_of(const Spec &spec)
{
    const std::string header = object_json(merged(
        {{"typ", q("dpop+jwt")}, {"alg", q(spec.alg)}, {"jwk", testkeys::public_jwk(spec.jwk, "")}}, spec.header));
    const std::string claims = object_json(merged(
        {{"jti", q("e1j3V_bKic8-LAEB")}, {"htm", q("POST")}, {"htu", q(kUri)}, {"iat", at(0)}}, spec.claims));
    return testkeys::sign_compact(spec.alg, spec.signer, header, claims);
}

DpopRequest request(const char *uri = kUri, const char *method = "POST")
{
    DpopRequest r;
    r.method = method;
    r.uri = uri;
    r.now = kNow;
    r.window = 60;
    r.leeway = 5;
    return r;
}

Reason check(const std::string &proof, const DpopRequest &r = request(), DpopProof *out = nullptr)
{
    DpopProof unused;
    return m2m::verify_dpop_proof(proof, r, out ? out : &unused);
}

Reason check(const Spec &spec, const DpopRequest &r = request())
{
    return check(proof_of(spec), r);
}

// An unsigned JWS with the given header and claims, and the given signature bytes.
std::string unsigned_proof(const std::string &header, const std::string &claims, const std::string &signature = "")
{
    return testkeys::b64url_encode(header) + "." + testkeys::b64url_encode(claims) + "." +
           testkeys::b64url_encode(signature);
}

struct GoodCase {
    const char *alg;
    KeyName key;
};
const GoodCase kGood[] = {
    {"ES256", KeyName::p256}, {"RS256", KeyName::rsa},      {"PS256", KeyName::rsa},
    {"PS512", KeyName::rsa_4096}, {"ES384", KeyName::p384}, {"ES512", KeyName::p521},
};
constexpr int kGoodCount = sizeof kGood / sizeof kGood[0];

}  // namespace

START_TEST(test_good_proof)
{
    const GoodCase &c = kGood[_i];
    Spec spec;
    spec.alg = c.alg;
    spec.signer = spec.jwk = c.key;
    spec.claims = {{"iat", at(-7)}};
    DpopProof out;
    ck_assert_status(check(proof_of(spec), request(), &out), Reason::ok);
    ck_assert_std_str_eq(out.jkt, expected_jkt(c.key));
    ck_assert_std_str_eq(out.jti, "e1j3V_bKic8-LAEB");
    ck_assert_int_eq(out.iat, kNow - 7);
}
END_TEST

// RFC 9449 §4.1 Figure 4, verbatim, and its key's thumbprint from §6.1.
START_TEST(test_rfc9449_example)
{
    const std::string proof =
        "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0Rs"
        "cEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2"
        "In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2Vu"
        "IiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3"
        "Lg";
    DpopRequest r = request();
    r.now = 1562262616;
    DpopProof out;
    ck_assert_status(check(proof, r, &out), Reason::ok);
    ck_assert_std_str_eq(out.jkt, "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I");
    ck_assert_std_str_eq(out.jti, "-BwC3ESc6acc2lTc");
    ck_assert_int_eq(out.iat, 1562262616);
    // and the same proof is stale a window later
    r.now += 66;
    ck_assert_status(check(proof, r), Reason::dpop_proof_stale);
}
END_TEST

// RFC 9449 §7.1 Figure 12's access token and its ath.
START_TEST(test_access_token_hash)
{
    ck_assert_std_str_eq(m2m::access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
                         "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo");
    ck_assert_std_str_eq(m2m::access_token_hash(kAccessToken), sha256_b64(kAccessToken));
}
END_TEST

START_TEST(test_ath)
{
    DpopRequest with_token = request();
    with_token.access_token = kAccessToken;
    const std::string ath = q(sha256_b64(kAccessToken));
    Spec spec;
    spec.claims = {{"ath", ath}};
    ck_assert_status(check(spec, with_token), Reason::ok);
    // without a token, ath is not looked at
    ck_assert_status(check(spec), Reason::ok);

    spec.claims = {{"ath", q(sha256_b64(std::string(kAccessToken) + "x"))}};  // another token's
    ck_assert_status(check(spec, with_token), Reason::dpop_proof_wrong_ath);
    spec.claims = {{"ath", q(sha256_b64(kAccessToken).substr(1))}};
    ck_assert_status(check(spec, with_token), Reason::dpop_proof_wrong_ath);
    spec.claims = {{"ath", q("")}};
    ck_assert_status(check(spec, with_token), Reason::dpop_proof_wrong_ath);
    spec.claims = {};  // a token, and no ath
    ck_assert_status(check(spec, with_token), Reason::dpop_proof_wrong_ath);
    spec.claims = {{"ath", "42"}};
    ck_assert_status(check(spec, with_token), Reason::dpop_proof_malformed);
    ck_assert_status(check(spec), Reason::dpop_proof_malformed);
}
END_TEST

START_TEST(test_malformed)
{
    const std::string good = proof_of(Spec());
    ck_assert_status(check(good), Reason::ok);
    ck_assert_status(check(""), Reason::dpop_proof_malformed);
    ck_assert_status(check("a.b"), Reason::dpop_proof_malformed);
    ck_assert_status(check(good + ".x.y"), Reason::dpop_proof_malformed);  // a JWE's five parts
    ck_assert_status(check(good + "="), Reason::dpop_proof_malformed);
    ck_assert_status(check(" " + good), Reason::dpop_proof_malformed);
    const testkeys::Segments s = testkeys::split(good);
    ck_assert_status(check(testkeys::b64url_encode("[1]") + "." + s.payload + "." + s.signature),
                     Reason::dpop_proof_malformed);
    ck_assert_status(check(s.header + "." + testkeys::b64url_encode("not json") + "." + s.signature),
                     Reason::dpop_proof_malformed);
    // over the size limit, however good the rest
    Spec big;
    big.claims = {{"pad", q(std::string(m2m::kMaxDpopProofSize, 'a'))}};
    ck_assert_status(check(big), Reason::dpop_proof_malformed);
}
END_TEST

START_TEST(test_size_limit_edge)
{
    // padded so the proof is exactly kMaxDpopProofSize, then one byte more
    Spec spec;
    spec.claims = {{"pad", q("")}};
    const size_t base = proof_of(spec).size();
    // each 3 bytes of payload add 4 characters; 64-byte signature fixed
    size_t pad = (m2m::kMaxDpopProofSize - base) / 4 * 3;
    spec.claims = {{"pad", q(std::string(pad, 'a'))}};
    std::string proof = proof_of(spec);
    while (proof.size() < m2m::kMaxDpopProofSize) {
        spec.claims = {{"pad", q(std::string(++pad, 'a'))}};
        proof = proof_of(spec);
    }
    ck_assert_uint_eq(proof.size(), m2m::kMaxDpopProofSize);  // base64url length steps by 1 or 2
    ck_assert_status(check(proof), Reason::ok);
    spec.claims = {{"pad", q(std::string(pad + 1, 'a'))}};
    proof = proof_of(spec);
    ck_assert_uint_gt(proof.size(), m2m::kMaxDpopProofSize);
    ck_assert_status(check(proof), Reason::dpop_proof_malformed);
}
END_TEST

START_TEST(test_header_typ_and_crit)
{
    Spec spec;
    for (const char *typ : {"", "\"JWT\"", "\"DPoP+JWT\"", "\"dpop+jwt \"", "\"at+jwt\"", "1"}) {
        spec.header = {{"typ", *typ ? typ : ""}};
        ck_assert_msg(check(spec) == Reason::dpop_proof_malformed, "typ %s", typ);
    }
    spec.header = {{"crit", "[\"exp\"]"}, {"exp", "1"}};
    ck_assert_status(check(spec), Reason::dpop_proof_malformed);
    spec.header = {{"kid", "7"}};  // Token::parse refuses a non-string kid
    ck_assert_status(check(spec), Reason::dpop_proof_malformed);
    spec.header = {{"kid", q("k1")}};  // a string one is no harm
    ck_assert_status(check(spec), Reason::ok);
}
END_TEST

START_TEST(test_claims_malformed)
{
    const Members bad[] = {
        {{"jti", ""}},
        {{"jti", q("")}},
        {{"jti", "1"}},
        {{"jti", q(std::string(257, 'j'))}},
        {{"jti", q("a\\nb")}},
        {{"htm", ""}},
        {{"htm", "[\"POST\"]"}},
        {{"htu", ""}},
        {{"htu", "{}"}},
        {{"iat", ""}},
        {{"iat", q(at(0))}},
        {{"iat", "null"}},
        {{"iat", "true"}},
    };
    for (const Members &claims : bad) {
        Spec spec;
        spec.claims = claims;
        ck_assert_msg(check(spec) == Reason::dpop_proof_malformed, "%s = %s: %s", claims[0].first.c_str(),
                      claims[0].second.c_str(), status_name(check(spec)));
    }
    Spec longest;
    longest.claims = {{"jti", q(std::string(256, 'j'))}};
    ck_assert_status(check(longest), Reason::ok);
}
END_TEST

START_TEST(test_alg_not_allowed)
{
    const std::string jwk = testkeys::public_jwk(KeyName::p256, "");
    const std::string claims = object_json({{"jti", q("j")}, {"htm", q("POST")}, {"htu", q(kUri)}, {"iat", at(0)}});
    // "none", unsigned
    const std::string none = object_json({{"typ", q("dpop+jwt")}, {"alg", q("none")}, {"jwk", jwk}});
    ck_assert_status(check(unsigned_proof(none, claims)), Reason::dpop_proof_alg_not_allowed);
    // HS256 keyed with the public key's bytes, the classic confusion
    const std::string hs = object_json({{"typ", q("dpop+jwt")}, {"alg", q("HS256")}, {"jwk", jwk}});
    const std::string input = testkeys::b64url_encode(hs) + "." + testkeys::b64url_encode(claims);
    ck_assert_status(check(input + "." + testkeys::b64url_encode(testkeys::hmac_sha256(jwk, input))),
                     Reason::dpop_proof_alg_not_allowed);
    Spec spec;
    spec.header = {{"alg", q("ES256K")}};
    ck_assert_status(check(spec), Reason::dpop_proof_alg_not_allowed);
    spec.header = {{"alg", q("es256")}};
    ck_assert_status(check(spec), Reason::dpop_proof_alg_not_allowed);
    spec.header = {{"alg", ""}};  // no alg at all: not a JWS
    ck_assert_status(check(spec), Reason::dpop_proof_malformed);
    // a good algorithm the location does not allow
    DpopRequest only_rs = request();
    only_rs.algorithms = m2m::AlgorithmSet();
    only_rs.algorithms.add(m2m::Algorithm::RS256);
    ck_assert_status(check(Spec(), only_rs), Reason::dpop_proof_alg_not_allowed);
    spec = Spec();
    spec.alg = "RS256";
    spec.signer = spec.jwk = KeyName::rsa;
    ck_assert_status(check(spec, only_rs), Reason::ok);
}
END_TEST

START_TEST(test_private_key)
{
    const testkeys::JwkParts ec = testkeys::jwk_parts(KeyName::p256);
    Spec spec;
    spec.header = {{"jwk", testkeys::public_jwk(KeyName::p256, "", q("d") + ":" + q(ec.d))}};
    ck_assert_status(check(spec), Reason::dpop_proof_private_key);
    for (const char *name : {"p", "q", "dp", "dq", "qi", "oth", "k"}) {
        Spec rs;
        rs.alg = "RS256";
        rs.signer = rs.jwk = KeyName::rsa;
        rs.header = {{"jwk", testkeys::public_jwk(KeyName::rsa, "", q(name) + ":" + q("AQAB"))}};
        ck_assert_msg(check(rs) == Reason::dpop_proof_private_key, "%s", name);
    }
    // even with an unusable type or null values: the client leaked a key
    spec.header = {{"jwk", "{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}"}};
    ck_assert_status(check(spec), Reason::dpop_proof_private_key);
    spec.header = {{"jwk", testkeys::public_jwk(KeyName::p256, "", "\"d\":null")}};
    ck_assert_status(check(spec), Reason::dpop_proof_private_key);
}
END_TEST

START_TEST(test_bad_key)
{
    const testkeys::JwkParts ec = testkeys::jwk_parts(KeyName::p256);
    const std::string xy = q("x") + ":" + q(ec.x) + "," + q("y") + ":" + q(ec.y);
    const char *const bad_jwks[] = {
        "",  // no jwk
        "\"a key\"",
        "[]",
        "{}",
        "{\"kty\":\"oct\"}",
        "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}",
    };
    for (const char *jwk : bad_jwks) {
        Spec spec;
        spec.header = {{"jwk", jwk}};
        ck_assert_msg(check(spec) == Reason::dpop_proof_bad_key, "jwk %s: %s", jwk, status_name(check(spec)));
    }
    const std::string bad_ec[] = {
        "{\"kty\":\"EC\",\"crv\":\"P-256\"," + xy + ",\"use\":\"enc\"}",
        "{\"kty\":\"EC\",\"crv\":\"P-256\"," + xy + ",\"alg\":\"ES384\"}",
        "{\"kty\":\"EC\",\"crv\":\"P-384\"," + xy + "}",
        "{\"kty\":\"EC\",\"crv\":\"secp256k1\"," + xy + "}",
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":" + q(ec.x) + "}",
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":" + q(ec.x) + ",\"y\":" + q(ec.x) + "}",  // off the curve
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":" + q(ec.x + "A") + ",\"y\":" + q(ec.y) + "}",
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":" + q(ec.x.substr(0, 20) + "=" + ec.x.substr(21)) + ",\"y\":" +
            q(ec.y) + "}",  // cjose's base64 decoder asserts on this; ours must refuse first
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":" + q(ec.x) + ",\"y\":7}",
    };
    for (const std::string &jwk : bad_ec) {
        Spec spec;
        spec.header = {{"jwk", jwk}};
        ck_assert_msg(check(spec) == Reason::dpop_proof_bad_key, "jwk %s: %s", jwk.c_str(), status_name(check(spec)));
    }
    // the key's type is not the alg's: an RSA jwk for ES256, a P-256 key for ES384
    Spec spec;
    spec.jwk = KeyName::rsa;
    ck_assert_status(check(spec), Reason::dpop_proof_bad_key);
    spec = Spec();
    spec.alg = "ES384";
    spec.signer = KeyName::p384;
    ck_assert_status(check(spec), Reason::dpop_proof_bad_key);
    // RSA below 2048 bits, and a jwk whose own alg is not the header's
    spec = Spec();
    spec.alg = "RS256";
    spec.signer = spec.jwk = KeyName::rsa_1024;
    ck_assert_status(check(spec), Reason::dpop_proof_bad_key);
    spec = Spec();
    spec.alg = "PS256";
    spec.signer = spec.jwk = KeyName::rsa;
    spec.header = {{"jwk", testkeys::public_jwk(KeyName::rsa, "", "\"alg\":\"RS256\"")}};
    ck_assert_status(check(spec), Reason::dpop_proof_bad_key);
    spec.header = {{"jwk", testkeys::public_jwk(KeyName::rsa, "", "\"alg\":\"PS256\",\"use\":\"sig\"")}};
    ck_assert_status(check(spec), Reason::ok);
}
END_TEST

START_TEST(test_bad_signature)
{
    // signed by another key than the one in its header
    Spec spec;
    spec.signer = KeyName::p256_other;
    ck_assert_status(check(spec), Reason::dpop_proof_bad_signature);
    spec = Spec();
    spec.alg = "RS256";
    spec.signer = KeyName::rsa_other;
    spec.jwk = KeyName::rsa;
    ck_assert_status(check(spec), Reason::dpop_proof_bad_signature);

    // every bit of a good signature flipped, and every shorter length
    const testkeys::Segments s = testkeys::split(proof_of(Spec()));
    std::string signature;
    ck_assert(testkeys::b64url_decode(s.signature, &signature));
    for (size_t bit = 0; bit < signature.size() * 8; bit++) {
        std::string flipped = signature;
        flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
        const std::string proof = s.header + "." + s.payload + "." + testkeys::b64url_encode(flipped);
        ck_assert_msg(check(proof) == Reason::dpop_proof_bad_signature, "bit %zu", bit);
    }
    for (size_t size = 0; size < signature.size(); size++) {
        const std::string proof = s.header + "." + s.payload + "." + testkeys::b64url_encode(signature.substr(0, size));
        ck_assert_msg(check(proof) == Reason::dpop_proof_bad_signature, "length %zu", size);
    }
    // the claims changed under a good signature
    const std::string other = testkeys::split(proof_of(Spec{"ES256", KeyName::p256, KeyName::p256, {}, {{"htm", q("GET")}}})).payload;
    ck_assert_status(check(s.header + "." + other + "." + s.signature), Reason::dpop_proof_bad_signature);
}
END_TEST

START_TEST(test_wrong_method)
{
    Spec spec;
    ck_assert_status(check(spec, request(kUri, "GET")), Reason::dpop_proof_wrong_method);
    spec.claims = {{"htm", q("post")}};  // RFC 9110 §9.1: case-sensitive
    ck_assert_status(check(spec), Reason::dpop_proof_wrong_method);
    spec.claims = {{"htm", q("")}};
    ck_assert_status(check(spec), Reason::dpop_proof_wrong_method);
    spec.claims = {{"htm", q("POST ")}};
    ck_assert_status(check(spec), Reason::dpop_proof_wrong_method);
    spec.claims = {{"htm", q("PATCH")}};
    ck_assert_status(check(spec, request(kUri, "PATCH")), Reason::ok);
}
END_TEST

// htu against the request's URI, both normalized (RFC 3986 §6.2.2, §6.2.3).
START_TEST(test_htu_matches)
{
    struct Case {
        const char *htu;
        const char *uri;
    };
    const Case same[] = {
        {"https://server.example.com/token", "https://server.example.com/token"},
        {"HTTPS://Server.Example.COM/token", "https://server.example.com/token"},
        {"https://server.example.com:443/token", "https://server.example.com/token"},
        {"https://server.example.com/token", "https://server.example.com:443/token"},
        {"https://server.example.com:/token", "https://server.example.com/token"},
        {"http://server.example.com:80/token", "http://server.example.com/token"},
        {"https://server.example.com:8443/token", "https://server.example.com:8443/token"},
        {"https://server.example.com:08443/token", "https://server.example.com:8443/token"},
        {"https://server.example.com/token?x=1", "https://server.example.com/token"},
        {"https://server.example.com/token#frag", "https://server.example.com/token"},
        {"https://server.example.com/token?x=1#f", "https://server.example.com/token?y=2"},
        {"https://server.example.com", "https://server.example.com/"},
        {"https://server.example.com?q", "https://server.example.com/"},
        {"https://server.example.com/", "https://server.example.com"},
        {"https://server.example.com/%74%6Fken", "https://server.example.com/token"},
        {"https://server.example.com/a%2fb", "https://server.example.com/a%2Fb"},
        {"https://server.example.com/a%7e", "https://server.example.com/a~"},
        {"https://server.example.com/a/./b/../token", "https://server.example.com/a/token"},
        {"https://server.example.com/a/b/..", "https://server.example.com/a/"},
        {"https://server.example.com/../token", "https://server.example.com/token"},
        {"https://server.example.com/a/%2E%2E/token", "https://server.example.com/token"},
        {"https://[::1]:8443/api", "https://[::1]:8443/api"},
        {"https://[FE80::1]/api", "https://[fe80::1]:443/api"},
        {"https://127.0.0.1/api", "https://127.0.0.1/api"},
        {"https://server.example.com/a;b=c/d:e@f!$&'()*+,", "https://server.example.com/a;b=c/d:e@f!$&'()*+,"},
    };
    for (const Case &c : same) {
        Spec spec;
        spec.claims = {{"htu", q(c.htu)}};
        ck_assert_msg(check(spec, request(c.uri)) == Reason::ok, "htu %s uri %s: %s", c.htu, c.uri,
                      status_name(check(spec, request(c.uri))));
    }
    const Case different[] = {
        {"https://server.example.com/token", "https://server.example.com/token/"},
        {"https://server.example.com/Token", "https://server.example.com/token"},
        {"https://server.example.com/token", "http://server.example.com/token"},
        {"https://server.example.com/token", "https://other.example.com/token"},
        {"https://server.example.com:8443/token", "https://server.example.com/token"},
        {"https://server.example.com:443/token", "http://server.example.com:443/token"},
        {"https://server.example.com/a%2Fb", "https://server.example.com/a/b"},
        {"https://server.example.com/token", "https://server.example.com/api"},
        // not an http(s) URI, or not one this module accepts
        {"server.example.com/token", "https://server.example.com/token"},
        {"/token", "https://server.example.com/token"},
        {"", "https://server.example.com/token"},
        {"wss://server.example.com/token", "https://server.example.com/token"},
        {"https:/server.example.com/token", "https://server.example.com/token"},
        {"https://user@server.example.com/token", "https://server.example.com/token"},
        {"https://server.example.com@evil.example/token", "https://server.example.com/token"},
        {"https:///token", "https:///token"},
        {"https://server.example.com:99999/token", "https://server.example.com:99999/token"},
        {"https://server.example.com:0/token", "https://server.example.com:0/token"},
        {"https://server.example.com:44a/token", "https://server.example.com:44a/token"},
        {"https://server.example.com/to ken", "https://server.example.com/to ken"},
        {"https://server.example.com/to%zzken", "https://server.example.com/to%zzken"},
        {"https://server.example.com/token%", "https://server.example.com/token%"},
        {"https://server.example.com/token%4", "https://server.example.com/token%4"},
        {"https://server.example.com/t\\u00f6ken", "https://server.example.com/t\xc3\xb6ken"},
        {"https://serv%65r.example.com/token", "https://serv%65r.example.com/token"},
        {"https://[::1/token", "https://[::1/token"},
        {"https://[::g]/token", "https://[::g]/token"},
        {"https://server.example.com\\\\.evil/token", "https://server.example.com\\.evil/token"},
    };
    for (const Case &c : different) {
        Spec spec;
        spec.claims = {{"htu", q(c.htu)}};
        ck_assert_msg(check(spec, request(c.uri)) == Reason::dpop_proof_wrong_uri, "htu %s uri %s: %s", c.htu, c.uri,
                      status_name(check(spec, request(c.uri))));
    }
}
END_TEST

// Exactly at the window's edges: now - window - leeway and now + leeway are in.
START_TEST(test_iat_window)
{
    struct Case {
        const char *iat;
        Reason want;
    };
    const std::string oldest = at(-65), too_old = at(-66), newest = at(5), too_new = at(6);
    const std::string half_old = std::to_string(kNow - 65) + ".5", half_too_old = std::to_string(kNow - 66) + ".9";
    const std::string half_new = std::to_string(kNow + 5) + ".0", half_too_new = std::to_string(kNow + 5) + ".25";
    const Case cases[] = {
        {oldest.c_str(), Reason::ok},
        {too_old.c_str(), Reason::dpop_proof_stale},
        {newest.c_str(), Reason::ok},
        {too_new.c_str(), Reason::dpop_proof_future},
        {half_old.c_str(), Reason::ok},
        {half_too_old.c_str(), Reason::dpop_proof_stale},
        {half_new.c_str(), Reason::ok},
        {half_too_new.c_str(), Reason::dpop_proof_future},
        {"0", Reason::dpop_proof_stale},
        {"-1", Reason::dpop_proof_stale},
        {"1e300", Reason::dpop_proof_future},
        {"-1e300", Reason::dpop_proof_stale},
        {"9.9e19", Reason::dpop_proof_future},
    };
    for (const Case &c : cases) {
        Spec spec;
        spec.claims = {{"iat", c.iat}};
        DpopProof out;
        const Reason got = check(proof_of(spec), request(), &out);
        ck_assert_msg(got == c.want, "iat %s: got %s, want %s", c.iat, status_name(got), status_name(c.want));
    }
    // the proof's iat is kept whole, rounded down
    Spec spec;
    spec.claims = {{"iat", half_old}};
    DpopProof out;
    ck_assert_status(check(proof_of(spec), request(), &out), Reason::ok);
    ck_assert_int_eq(out.iat, kNow - 65);

    // the window and leeway are the request's
    DpopRequest r = request();
    r.window = 300;
    r.leeway = 0;
    spec.claims = {{"iat", at(-300)}};
    ck_assert_status(check(spec, r), Reason::ok);
    spec.claims = {{"iat", at(-301)}};
    ck_assert_status(check(spec, r), Reason::dpop_proof_stale);
    spec.claims = {{"iat", at(1)}};
    ck_assert_status(check(spec, r), Reason::dpop_proof_future);
}
END_TEST

// The first failure in RFC 9449 §4.3's order is the one reported.
START_TEST(test_order)
{
    Spec spec;
    spec.signer = KeyName::p256_other;
    spec.claims = {{"htm", q("GET")}, {"iat", at(-1000)}};
    ck_assert_status(check(spec), Reason::dpop_proof_bad_signature);
    spec = Spec();
    spec.claims = {{"htm", q("GET")}, {"htu", q("https://x/")}, {"iat", at(-1000)}};
    ck_assert_status(check(spec), Reason::dpop_proof_wrong_method);
    spec.claims = {{"htu", q("https://x/")}, {"iat", at(-1000)}};
    ck_assert_status(check(spec), Reason::dpop_proof_wrong_uri);
    DpopRequest r = request();
    r.access_token = kAccessToken;
    spec.claims = {{"iat", at(-1000)}};
    ck_assert_status(check(spec, r), Reason::dpop_proof_stale);
    spec = Spec();
    spec.header = {{"alg", q("HS256")}, {"jwk", "{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}"}};
    ck_assert_status(check(spec), Reason::dpop_proof_alg_not_allowed);
    // a failed proof leaves *out as it was
    DpopProof out;
    out.jti = "before";
    spec = Spec();
    spec.claims = {{"htm", q("GET")}};
    ck_assert_status(check(proof_of(spec), request(), &out), Reason::dpop_proof_wrong_method);
    ck_assert_std_str_eq(out.jti, "before");
}
END_TEST

// import_public_jwk on its own: what the proof's key is made of.
START_TEST(test_import_public_jwk)
{
    m2m::JsonPtr jwk = json(testkeys::public_jwk(KeyName::rsa, "").c_str());
    m2m::Key key;
    ck_assert_status(m2m::import_public_jwk(jwk.get(), m2m::Algorithm::PS256, &key), Reason::ok);
    ck_assert_ptr_nonnull(key.pkey.get());
    ck_assert_ptr_null(key.jwk.get());
    ck_assert_uint_eq(key.signature_size, 256);
    for (size_t i = 0; i < m2m::kAlgorithmCount; i++) {
        // only the verifier for the proof's algorithm is prepared
        ck_assert_int_eq(key.verifiers[i] != nullptr, i == static_cast<size_t>(m2m::Algorithm::PS256));
    }
    ck_assert_std_str_eq(m2m::jwk_thumbprint(key.pkey.get()), expected_jkt(KeyName::rsa));
    ck_assert_status(m2m::import_public_jwk(jwk.get(), m2m::Algorithm::ES256, &key), Reason::dpop_proof_bad_key);
    ck_assert_status(m2m::import_public_jwk(nullptr, m2m::Algorithm::ES256, &key), Reason::dpop_proof_bad_key);
}
END_TEST

Suite *dpop_proof_suite()
{
    Suite *s = suite_create("dpop_proof");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_good_proof, 0, kGoodCount);
    tcase_add_test(tc, test_rfc9449_example);
    tcase_add_test(tc, test_access_token_hash);
    tcase_add_test(tc, test_ath);
    tcase_add_test(tc, test_malformed);
    tcase_add_test(tc, test_size_limit_edge);
    tcase_add_test(tc, test_header_typ_and_crit);
    tcase_add_test(tc, test_claims_malformed);
    tcase_add_test(tc, test_alg_not_allowed);
    tcase_add_test(tc, test_private_key);
    tcase_add_test(tc, test_bad_key);
    tcase_add_test(tc, test_bad_signature);
    tcase_add_test(tc, test_wrong_method);
    tcase_add_test(tc, test_htu_matches);
    tcase_add_test(tc, test_iat_window);
    tcase_add_test(tc, test_order);
    tcase_add_test(tc, test_import_public_jwk);
    suite_add_tcase(s, tc);
    return s;
}
