// The local issuer's signing keys: which PEM keys are taken and which are
// refused (and that the refusal never quotes the key), the kid as the RFC
// 7638 thumbprint, the public JWK, and tokens that verify both with OpenSSL
// directly and along the module's own path from the published JWK Set.
#include <string>
#include <vector>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/pem.h>

#include "base64url.h"
#include "issuer/signing_key.h"
#include "keys/jwks.h"
#include "keys/thumbprint.h"
#include "test_keys.h"
#include "test_suites.h"
#include "test_support.h"

using m2m::Algorithm;
using m2m::Reason;
using m2m::SigningKey;
using testkeys::KeyName;
using namespace testsupport;

namespace {

std::string pem_of(EVP_PKEY *key, bool traditional = false)
{
    BIO *bio = BIO_new(BIO_s_mem());
    ck_assert_ptr_nonnull(bio);
    const int ok = traditional ? PEM_write_bio_PrivateKey_traditional(bio, key, nullptr, nullptr, 0, nullptr, nullptr)
                               : PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
    ck_assert_int_eq(ok, 1);
    char *data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    std::string pem(data, static_cast<size_t>(size));
    BIO_free(bio);
    return pem;
}

std::string pem_of(KeyName name, bool traditional = false) { return pem_of(testkeys::pkey(name), traditional); }

std::string public_pem_of(KeyName name)
{
    BIO *bio = BIO_new(BIO_s_mem());
    ck_assert_int_eq(PEM_write_bio_PUBKEY(bio, testkeys::pkey(name)), 1);
    char *data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    std::string pem(data, static_cast<size_t>(size));
    BIO_free(bio);
    return pem;
}

SigningKey loaded(const std::string &pem)
{
    SigningKey key;
    std::string error;
    ck_assert_msg(SigningKey::load(pem, &key, &error), "refused: %s", error.c_str());
    return key;
}

// The refusal, which must be one line and must not quote the PEM body.
std::string refusal(const std::string &pem)
{
    SigningKey key;
    std::string error;
    ck_assert_msg(!SigningKey::load(pem, &key, &error), "accepted");
    ck_assert_msg(!error.empty(), "no reason given");
    ck_assert_msg(error.find('\n') == std::string::npos, "reason spans lines: %s", error.c_str());
    const size_t body = pem.find('\n');
    if (body != std::string::npos && pem.size() > body + 17) {
        ck_assert_msg(error.find(pem.substr(body + 1, 16)) == std::string::npos, "reason quotes the key: %s",
                      error.c_str());
    }
    return error;
}

#define ck_assert_refused(pem, fragment)                                                              \
    do {                                                                                              \
        const std::string why_ = refusal(pem);                                                        \
        ck_assert_msg(why_.find(fragment) != std::string::npos, "reason \"%s\" does not say \"%s\"", \
                      why_.c_str(), fragment);                                                        \
    } while (0)

std::string sha256_b64(const std::string &text)
{
    unsigned char digest[32];
    unsigned int size = 0;
    ck_assert_int_eq(EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha256(), nullptr), 1);
    return testkeys::b64url_encode(std::string(reinterpret_cast<char *>(digest), size));
}

// RFC 7638 §3.2 by hand, from the test's own view of the key.
std::string expected_thumbprint(KeyName name)
{
    const testkeys::JwkParts p = testkeys::jwk_parts(name);
    if (p.kty == "RSA") {
        return sha256_b64("{\"e\":\"" + p.e + "\",\"kty\":\"RSA\",\"n\":\"" + p.n + "\"}");
    }
    return sha256_b64("{\"crv\":\"" + p.crv + "\",\"kty\":\"EC\",\"x\":\"" + p.x + "\",\"y\":\"" + p.y + "\"}");
}

// The signature checked with OpenSSL directly against the test's key: R||S
// turned back into DER for ECDSA.
bool verifies_with_openssl(const std::string &token, KeyName name, const char *md, size_t ec_width)
{
    const testkeys::Segments s = testkeys::split(token);
    std::string sig;
    ck_assert(testkeys::b64url_decode(s.signature, &sig));
    if (ec_width) {
        if (sig.size() != 2 * ec_width) {
            return false;
        }
        const unsigned char *raw = reinterpret_cast<const unsigned char *>(sig.data());
        ECDSA_SIG *es = ECDSA_SIG_new();
        ECDSA_SIG_set0(es, BN_bin2bn(raw, static_cast<int>(ec_width), nullptr),
                       BN_bin2bn(raw + ec_width, static_cast<int>(ec_width), nullptr));
        unsigned char *der = nullptr;
        const int der_size = i2d_ECDSA_SIG(es, &der);
        sig.assign(reinterpret_cast<char *>(der), static_cast<size_t>(der_size));
        OPENSSL_free(der);
        ECDSA_SIG_free(es);
    }
    const std::string input = s.header + "." + s.payload;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    const bool ok = EVP_DigestVerifyInit_ex(ctx, nullptr, md, nullptr, nullptr, testkeys::pkey(name), nullptr) == 1 &&
                    EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char *>(sig.data()), sig.size(),
                                     reinterpret_cast<const unsigned char *>(input.data()), input.size()) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

struct KindCase {
    KeyName key;
    Algorithm alg;
    const char *alg_name;
    const char *md;
    size_t ec_width;  // 0 for RSA
};

const KindCase kKinds[] = {
    {KeyName::rsa, Algorithm::RS256, "RS256", "SHA256", 0},
    {KeyName::rsa_3072, Algorithm::RS256, "RS256", "SHA256", 0},
    {KeyName::rsa_4096, Algorithm::RS256, "RS256", "SHA256", 0},
    {KeyName::p256, Algorithm::ES256, "ES256", "SHA256", 32},
    {KeyName::p384, Algorithm::ES384, "ES384", "SHA384", 48},
};
constexpr int kKindCount = sizeof kKinds / sizeof kKinds[0];

TestIssuer issuer_of(const std::vector<const SigningKey *> &keys)
{
    std::string jwks = "{\"keys\":[";
    for (size_t i = 0; i < keys.size(); i++) {
        jwks += (i ? "," : "") + keys[i]->public_jwk();
    }
    jwks += "]}";
    TestIssuer issuer = make_policy(load_keys(jwks));
    issuer.require_typ = {"at+jwt"};
    return issuer;
}

}  // namespace

START_TEST(test_each_kind_loads)
{
    const KindCase &c = kKinds[_i];
    for (bool traditional : {false, true}) {
        SigningKey key = loaded(pem_of(c.key, traditional));
        ck_assert_msg(key.algorithm() == c.alg, "%s: algorithm %s", c.alg_name, m2m::algorithm_name(key.algorithm()));
        ck_assert_std_str_eq(key.kid(), expected_thumbprint(c.key));
    }
}
END_TEST

START_TEST(test_public_jwk_has_public_members_only)
{
    const KindCase &c = kKinds[_i];
    SigningKey key = loaded(pem_of(c.key));
    const testkeys::JwkParts p = testkeys::jwk_parts(c.key);
    m2m::JsonPtr jwk = json(key.public_jwk().c_str());
    const char *want_rsa[] = {"kty", "kid", "use", "alg", "n", "e"};
    const char *want_ec[] = {"kty", "kid", "use", "alg", "crv", "x", "y"};
    ck_assert_uint_eq(json_object_size(jwk.get()), c.ec_width ? 7 : 6);
    for (const char *name : c.ec_width ? std::vector<const char *>(want_ec, want_ec + 7)
                                       : std::vector<const char *>(want_rsa, want_rsa + 6)) {
        ck_assert_msg(json_is_string(json_object_get(jwk.get(), name)), "%s: no \"%s\"", c.alg_name, name);
    }
    auto member = [&](const char *name) { return std::string(json_string_value(json_object_get(jwk.get(), name))); };
    ck_assert_std_str_eq(member("kid"), key.kid());
    ck_assert_std_str_eq(member("use"), "sig");
    ck_assert_std_str_eq(member("alg"), c.alg_name);
    ck_assert_std_str_eq(member("kty"), p.kty);
    if (c.ec_width) {
        ck_assert_std_str_eq(member("crv"), p.crv);
        ck_assert_std_str_eq(member("x"), p.x);
        ck_assert_std_str_eq(member("y"), p.y);
    } else {
        ck_assert_std_str_eq(member("n"), p.n);
        ck_assert_std_str_eq(member("e"), p.e);
    }
    ck_assert_msg(key.public_jwk().find(p.d) == std::string::npos, "private member published");
}
END_TEST

START_TEST(test_refused_keys)
{
    ck_assert_refused(pem_of(KeyName::rsa_1024), "RSA key of 1024 bits: at least 2048");
    ck_assert_refused(pem_of(KeyName::p521), "curve secp521r1: use P-256 or P-384");

    EVP_PKEY *ed = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
    ck_assert_ptr_nonnull(ed);
    ck_assert_refused(pem_of(ed), "ED25519 key: use RSA");
    EVP_PKEY_free(ed);

    EVP_PKEY *x = EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519");
    ck_assert_ptr_nonnull(x);
    ck_assert_refused(pem_of(x), "X25519 key: use RSA");
    EVP_PKEY_free(x);

    ck_assert_refused(public_pem_of(KeyName::rsa), "no private key");
    ck_assert_refused(public_pem_of(KeyName::p256), "no private key");
    ck_assert_refused("", "not PEM");
    ck_assert_refused("garbage\n", "not PEM");
    ck_assert_refused(std::string(2000, 'A'), "not PEM");
    ck_assert_refused("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "cannot be read");

    // A damaged body: one base64 character of the key changed.
    std::string damaged = pem_of(KeyName::p256);
    damaged[damaged.find('\n') + 40] ^= 1;
    refusal(damaged);

    ck_assert_refused(std::string(m2m::kMaxPemSize + 1, '\n'), "larger than 64 KiB");
    ck_assert_refused(pem_of(KeyName::p256) + pem_of(KeyName::p384), "more than one private key");
}
END_TEST

// nginx cannot answer a passphrase prompt: an encrypted key is refused
// with that reason, and OpenSSL never reads the terminal.
START_TEST(test_encrypted_key_refused)
{
    BIO *bio = BIO_new(BIO_s_mem());
    ck_assert_int_eq(PEM_write_bio_PKCS8PrivateKey(bio, testkeys::pkey(KeyName::p256), EVP_aes_128_cbc(), nullptr,
                                                   0, nullptr, const_cast<char *>("secret")),
                     1);
    char *data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    const std::string pem(data, static_cast<size_t>(size));
    BIO_free(bio);
    ck_assert_refused(pem, "encrypted");
}
END_TEST

// A public key, a certificate chain or a second key after the key: only
// the extra private key is refused (it would be silently ignored).
START_TEST(test_key_with_other_blocks)
{
    SigningKey key = loaded(public_pem_of(KeyName::rsa) + pem_of(KeyName::p256) + public_pem_of(KeyName::p384));
    ck_assert_std_str_eq(key.kid(), expected_thumbprint(KeyName::p256));
}
END_TEST

// RFC 7638 §3.1's example key and thumbprint.
START_TEST(test_rfc7638_example)
{
    const std::string jwk =
        "{\"kty\":\"RSA\",\"n\":\"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"
        "BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8"
        "KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_"
        "xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw\",\"e\":\"AQAB\",\"alg\":\"RS256\",\"kid\":\"2011-04-29\"}";
    std::shared_ptr<const m2m::KeySet> keys = load_keys("{\"keys\":[" + jwk + "]}");
    ck_assert_uint_eq(keys->keys().size(), 1);
    ck_assert_std_str_eq(m2m::jwk_thumbprint(keys->keys()[0].pkey.get()), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");

    // and the same function agrees with the hand-made thumbprint of EC keys
    // (P-521 too: a DPoP client's key may be one, though no signing key is)
    for (KeyName name : {KeyName::p256, KeyName::p384, KeyName::p521, KeyName::rsa_3072}) {
        ck_assert_std_str_eq(m2m::jwk_thumbprint(testkeys::pkey(name)), expected_thumbprint(name));
    }
}
END_TEST

START_TEST(test_signed_token_verifies)
{
    const KindCase &c = kKinds[_i];
    SigningKey key = loaded(pem_of(c.key));
    const std::string claims = claims_json();
    const std::string token = key.sign(claims);

    const testkeys::Segments s = testkeys::split(token);
    std::string header, payload;
    ck_assert(testkeys::b64url_decode(s.header, &header));
    ck_assert(testkeys::b64url_decode(s.payload, &payload));
    ck_assert_std_str_eq(header, std::string("{\"alg\":\"") + c.alg_name + "\",\"typ\":\"at+jwt\",\"kid\":\"" +
                                     key.kid() + "\"}");
    ck_assert_std_str_eq(payload, claims);

    ck_assert_msg(verifies_with_openssl(token, c.key, c.md, c.ec_width), "%s: OpenSSL refuses it", c.alg_name);

    // along the module's path, with the keys parsed from the published set
    const TestIssuer issuer = issuer_of({&key});
    bool verified = false;
    ck_assert_status(check_token(token, issuer, kNow, &verified), Reason::ok);
    ck_assert(verified);

    // a changed payload does not
    testkeys::Segments forged = s;
    forged.payload = testkeys::b64url_encode(claims_json({{"scope", q("admin")}}));
    ck_assert_status(check_token(forged.join(), issuer, kNow), Reason::bad_signature);
}
END_TEST

// R and S shorter than the field are left-padded: one ECDSA signature in
// 256 has a leading zero byte in R, one in 256 in S, so sign until both have
// been seen (6,000 signatures without one of them: a chance of about 1e-10).
START_TEST(test_ecdsa_signatures_fixed_width)
{
    for (const KindCase &c : kKinds) {
        if (!c.ec_width) {
            continue;
        }
        SigningKey key = loaded(pem_of(c.key));
        const TestIssuer issuer = issuer_of({&key});
        bool short_r = false, short_s = false;
        for (int i = 0; i < 6000 && !(short_r && short_s); i++) {
            const std::string token = key.sign(claims_json({{"jti", q("jti-" + std::to_string(i))}}));
            std::string sig;
            ck_assert(testkeys::b64url_decode(testkeys::split(token).signature, &sig));
            ck_assert_uint_eq(sig.size(), 2 * c.ec_width);
            if (sig[0] == 0 || sig[c.ec_width] == 0) {
                short_r = short_r || sig[0] == 0;
                short_s = short_s || sig[c.ec_width] == 0;
                ck_assert_msg(verifies_with_openssl(token, c.key, c.md, c.ec_width), "%s: padded signature refused",
                              c.alg_name);
                ck_assert_status(check_token(token, issuer, kNow), Reason::ok);
            }
        }
        ck_assert_msg(short_r && short_s, "%s: no signature with a short R and one with a short S in 6000", c.alg_name);
    }
}
END_TEST

// Rotation: the set publishes every key; tokens of each verify against it,
// and a key that is not in it is not trusted.
START_TEST(test_jwks_json_and_rotation)
{
    SigningKey a = loaded(pem_of(KeyName::rsa));
    SigningKey b = loaded(pem_of(KeyName::p256));
    SigningKey other = loaded(pem_of(KeyName::rsa_other));
    std::vector<SigningKey> both;
    both.push_back(std::move(a));
    both.push_back(std::move(b));

    const std::string jwks = m2m::jwks_json(both.data(), both.size());
    ck_assert_std_str_eq(jwks, "{\"keys\":[" + both[0].public_jwk() + "," + both[1].public_jwk() + "]}");
    ck_assert_std_str_eq(m2m::jwks_json(nullptr, 0), "{\"keys\":[]}");

    TestIssuer issuer = make_policy(load_keys(jwks));
    ck_assert_uint_eq(issuer.keys.set->keys().size(), 2);
    ck_assert_std_str_eq(*issuer.keys.set->keys()[0].kid, both[0].kid());
    ck_assert_std_str_eq(*issuer.keys.set->keys()[1].kid, both[1].kid());

    ck_assert_status(check_token(both[0].sign(claims_json()), issuer, kNow), Reason::ok);
    ck_assert_status(check_token(both[1].sign(claims_json()), issuer, kNow), Reason::ok);
    ck_assert_status(check_token(other.sign(claims_json()), issuer, kNow), Reason::unknown_kid);
}
END_TEST

Suite *signing_key_suite()
{
    Suite *s = suite_create("signing_key");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, test_each_kind_loads, 0, kKindCount);
    tcase_add_loop_test(tc, test_public_jwk_has_public_members_only, 0, kKindCount);
    tcase_add_test(tc, test_refused_keys);
    tcase_add_test(tc, test_encrypted_key_refused);
    tcase_add_test(tc, test_key_with_other_blocks);
    tcase_add_test(tc, test_rfc7638_example);
    tcase_add_loop_test(tc, test_signed_token_verifies, 0, kKindCount);
    tcase_add_test(tc, test_ecdsa_signatures_fixed_width);
    tcase_add_test(tc, test_jwks_json_and_rotation);
    suite_add_tcase(s, tc);
    return s;
}
