// The EVP signature check (signature.h) on the keys parse_jwks prepares:
// per key type a known-good and known-bad case, every bit flip and every
// truncation of a signature, PSS salt lengths, the ECDSA high-S twin, exact
// lengths, key/alg mismatches, OpenSSL's error queue, and the same verdict
// as the cjose path it replaces. Tokens are signed with OpenSSL directly
// (test_keys.cpp, or sign_with below), never by the code under test.
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "keys/signature.h"
#include "token/token.h"
#include "test_keys.h"
#include "test_suites.h"
#include "test_support.h"

using m2m::Algorithm;
using m2m::Reason;
using testkeys::b64url_decode;
using testkeys::b64url_encode;
using testkeys::KeyName;
using testkeys::public_jwk;
using namespace testsupport;

namespace {

using SigCase = testkeys::SignatureCase;
const auto &kCases = testkeys::kSignatureCases;
constexpr int kCaseCount = testkeys::kSignatureCaseCount;
constexpr int kFastCaseCount = kCaseCount - testkeys::kSlowSignatureCases;

// The standard keys, the larger RSA ones, and an RSA key bound to RS256.
const m2m::KeySet &keys()
{
    static std::shared_ptr<const m2m::KeySet> set = load_keys(testkeys::jwk_set({
        public_jwk(KeyName::rsa, "rsa-1"),
        public_jwk(KeyName::p256, "ec-256"),
        public_jwk(KeyName::p384, "ec-384"),
        public_jwk(KeyName::p521, "ec-521"),
        public_jwk(KeyName::rsa_3072, "rsa-3072"),
        public_jwk(KeyName::rsa_4096, "rsa-4096"),
        public_jwk(KeyName::rsa, "rs256-only", "\"alg\":\"RS256\""),
    }));
    return *set;
}

const m2m::Key &key(const std::string &kid)
{
    for (const m2m::Key &k : keys().keys()) {
        if (k.kid && *k.kid == kid) {
            return k;
        }
    }
    ck_abort_msg("no key %s", kid.c_str());
    return keys().keys()[0];
}

Algorithm alg_of(const char *name)
{
    auto alg = m2m::algorithm_from_name(name);
    ck_assert_msg(alg.has_value(), "unknown alg %s", name);
    return *alg;
}

// A signing input of a realistic shape, and its signature by the case's key.
struct Signed {
    std::string input;
    std::string signature;
    std::string compact() const { return input + "." + b64url_encode(signature); }
};

Signed sign_case(const SigCase &c, const std::string &claims = claims_json())
{
    Signed s;
    s.input = b64url_encode(testkeys::header_json(c.alg, c.kid)) + "." + b64url_encode(claims);
    s.signature = testkeys::sign_bytes(c.alg, c.key, s.input);
    ck_assert_uint_eq(s.signature.size(), c.signature_bytes);
    return s;
}

Reason check(const SigCase &c, const std::string &input, const std::string &signature)
{
    return m2m::verify_signature(key(c.kid), alg_of(c.alg), input, signature);
}

// The check on a whole compact token as authenticate() makes it: parsed, then
// the signing input and the signature Token::parse decoded.
Reason check_compact(const m2m::Key &k, Algorithm alg, const std::string &compact)
{
    m2m::Token token;
    const Reason parsed = m2m::Token::parse(compact, &token);
    return parsed != Reason::ok ? parsed : m2m::verify_signature(k, alg, token.signing_input(), token.signature());
}

// The path verify.cpp takes today, as the reference the EVP path must match:
// the exact-length rule, then cjose on the whole compact token.
Reason cjose_verdict(const m2m::Key &k, const std::string &compact)
{
    m2m::Token token;
    const Reason parsed = m2m::Token::parse(compact, &token);
    if (parsed != Reason::ok) {
        return parsed;
    }
    if (token.signature().size() != k.signature_size) {
        return Reason::bad_signature;
    }
    cjose_err err;
    m2m::JwsPtr jws(cjose_jws_import(compact.data(), compact.size(), &err));
    if (!jws) {
        return Reason::malformed;
    }
    return cjose_jws_verify(jws.get(), k.jwk.get(), &err) ? Reason::ok : Reason::bad_signature;
}

struct Free {
    void operator()(EVP_PKEY *p) const { EVP_PKEY_free(p); }
    void operator()(EVP_PKEY_CTX *p) const { EVP_PKEY_CTX_free(p); }
    void operator()(EVP_MD_CTX *p) const { EVP_MD_CTX_free(p); }
    void operator()(BIGNUM *p) const { BN_free(p); }
    void operator()(EC_GROUP *p) const { EC_GROUP_free(p); }
};
template <typename T>
using Ptr = std::unique_ptr<T, Free>;

// RSASSA-PSS with any salt length and MGF1 digest, which test_keys.cpp (the
// JOSE rules only) cannot make.
std::string sign_pss(EVP_PKEY *pkey, const EVP_MD *md, const EVP_MD *mgf1, int salt, const std::string &input)
{
    Ptr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX *pctx = nullptr;
    ck_assert(ctx && EVP_DigestSignInit(ctx.get(), &pctx, md, nullptr, pkey) == 1);
    ck_assert(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1);
    ck_assert(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, mgf1) == 1);
    ck_assert(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt) == 1);
    const auto *data = reinterpret_cast<const unsigned char *>(input.data());
    size_t len = 0;
    ck_assert(EVP_DigestSign(ctx.get(), nullptr, &len, data, input.size()) == 1);
    std::string sig(len, '\0');
    ck_assert(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char *>(&sig[0]), &len, data, input.size()) == 1);
    sig.resize(len);
    return sig;
}

// OpenSSL's own verdict on an RS256 or PS256 signature of any length.
bool openssl_accepts(EVP_PKEY *pkey, bool pss, const std::string &input, const std::string &sig)
{
    Ptr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX *pctx = nullptr;
    const bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), &pctx, EVP_sha256(), nullptr, pkey) == 1 &&
                    (!pss || (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
                              EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1)) &&
                    EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char *>(sig.data()), sig.size(),
                                     reinterpret_cast<const unsigned char *>(input.data()), input.size()) == 1;
    ERR_clear_error();
    return ok;
}

// Big-endian a - b (a >= b) or a + b, left-padded to `width` (0: as long as
// it takes).
std::string bn_arith(const std::string &a, const std::string &b, bool subtract, size_t width)
{
    const auto *pa = reinterpret_cast<const unsigned char *>(a.data());
    const auto *pb = reinterpret_cast<const unsigned char *>(b.data());
    Ptr<BIGNUM> x(BN_bin2bn(pa, static_cast<int>(a.size()), nullptr));
    Ptr<BIGNUM> y(BN_bin2bn(pb, static_cast<int>(b.size()), nullptr));
    Ptr<BIGNUM> r(BN_new());
    ck_assert(x && y && r && (subtract ? BN_sub(r.get(), x.get(), y.get()) : BN_add(r.get(), x.get(), y.get())));
    ck_assert(!BN_is_negative(r.get()));
    std::string out(std::max(width, static_cast<size_t>(BN_num_bytes(r.get()))), '\0');
    ck_assert(BN_bn2binpad(r.get(), reinterpret_cast<unsigned char *>(&out[0]), static_cast<int>(out.size())) > 0);
    return out;
}

// The order n of an EC test key's curve, big-endian at the coordinate width.
std::string curve_order(KeyName name, size_t width)
{
    const int nid = name == KeyName::p256 ? NID_X9_62_prime256v1 : name == KeyName::p384 ? NID_secp384r1 : NID_secp521r1;
    Ptr<EC_GROUP> group(EC_GROUP_new_by_curve_name(nid));
    ck_assert(group);
    std::string out(width, '\0');
    ck_assert(BN_bn2binpad(EC_GROUP_get0_order(group.get()), reinterpret_cast<unsigned char *>(&out[0]),
                           static_cast<int>(width)) > 0);
    return out;
}

bool is_ec(const SigCase &c) { return c.alg[0] == 'E'; }

}  // namespace

START_TEST(test_good_signature_verifies)
{
    const SigCase &c = kCases[_i];
    const Signed s = sign_case(c);
    ck_assert_status(check(c, s.input, s.signature), Reason::ok);
    ck_assert_status(check_compact(key(c.kid), alg_of(c.alg), s.compact()), Reason::ok);
    ck_assert_status(cjose_verdict(key(c.kid), s.compact()), Reason::ok);
}
END_TEST

START_TEST(test_signature_of_another_key_refused)
{
    const SigCase &c = kCases[_i];
    const Signed s = sign_case(c);
    // The same input signed by a key of the same kind the set never held
    // (P-384 and P-521 have no twin here: the other curve's key stands in,
    // and its signature has the wrong length).
    const KeyName other = c.key == KeyName::p256 ? KeyName::p256_other
                          : is_ec(c)             ? (c.key == KeyName::p384 ? KeyName::p521 : KeyName::p384)
                                                 : KeyName::rsa_other;
    const std::string forged = testkeys::sign_bytes(c.alg, other, s.input);
    ck_assert_status(check(c, s.input, forged), Reason::bad_signature);
    // The right signature over another input.
    ck_assert_status(check(c, s.input + "x", s.signature), Reason::bad_signature);
    ck_assert_status(check(c, s.input.substr(1), s.signature), Reason::bad_signature);
    ck_assert_status(check(c, "", s.signature), Reason::bad_signature);
}
END_TEST

START_TEST(test_every_signature_bit_flip_refused)
{
    const SigCase &c = kCases[_i];
    const Signed s = sign_case(c, claims_json({{"sub", ""}, {"scope", ""}, {"jti", ""}}));
    size_t tried = 0;
    for (size_t byte = 0; byte < s.signature.size(); byte++) {
        for (int bit = 0; bit < 8; bit++) {
            std::string flipped = s.signature;
            flipped[byte] = static_cast<char>(flipped[byte] ^ (1 << bit));
            const Reason status = check(c, s.input, flipped);
            ck_assert_msg(status == Reason::bad_signature, "%s: bit %d of byte %zu flipped: got %s", c.alg, bit,
                          byte, status_name(status));
            tried++;
        }
    }
    ck_assert_uint_eq(tried, c.signature_bytes * 8);
}
END_TEST

START_TEST(test_every_signature_truncation_refused)
{
    const SigCase &c = kCases[_i];
    const Signed s = sign_case(c);
    for (size_t len = 0; len < s.signature.size(); len++) {
        const Reason status = check(c, s.input, s.signature.substr(0, len));
        ck_assert_msg(status == Reason::bad_signature, "%s: cut to %zu bytes: got %s", c.alg, len, status_name(status));
        // The same cut made to the token's text: refused as too short, or,
        // when the cut leaves bits over in its last character, as no strict
        // base64url at all (Token::parse decodes the signature).
        const std::string compact = s.compact();
        const std::string cut = compact.substr(0, compact.size() - b64url_encode(s.signature).size() +
                                                      b64url_encode(s.signature.substr(0, len)).size());
        std::string ignored;
        const Reason want =
            b64url_decode(cut.substr(cut.rfind('.') + 1), &ignored) ? Reason::bad_signature : Reason::malformed;
        ck_assert_status(check_compact(key(c.kid), alg_of(c.alg), cut), want);
    }
    // And lengthened: a byte after, a byte before, twice over.
    ck_assert_status(check(c, s.input, s.signature + std::string(1, '\0')), Reason::bad_signature);
    ck_assert_status(check(c, s.input, std::string(1, '\0') + s.signature), Reason::bad_signature);
    ck_assert_status(check(c, s.input, s.signature + s.signature), Reason::bad_signature);
    ck_assert_status(check(c, s.input, std::string(c.signature_bytes, '\0')), Reason::bad_signature);
    ck_assert_status(check(c, s.input, std::string(c.signature_bytes, '\xff')), Reason::bad_signature);
}
END_TEST

// RFC 7518 §3.5: the salt is exactly as long as the hash, and MGF1 uses the
// same hash. OpenSSL 3.0 verifies any salt length unless told, and accepts
// any MGF1 hash a signature's parameters name.
START_TEST(test_pss_salt_length_and_mgf1_are_exact)
{
    struct Pss {
        const char *alg;
        const EVP_MD *md;
        int digest_size;
    };
    const Pss cases[] = {{"PS256", EVP_sha256(), 32}, {"PS384", EVP_sha384(), 48}, {"PS512", EVP_sha512(), 64}};
    EVP_PKEY *pkey = testkeys::pkey(KeyName::rsa);
    const m2m::Key &k = key("rsa-1");
    const std::string input = b64url_encode("{\"alg\":\"PS\"}") + "." + b64url_encode(claims_json());
    for (const Pss &p : cases) {
        const Algorithm alg = alg_of(p.alg);
        ck_assert_status(m2m::verify_signature(k, alg, input, sign_pss(pkey, p.md, p.md, p.digest_size, input)),
                         Reason::ok);
        ck_assert_status(m2m::verify_signature(k, alg, input, sign_pss(pkey, p.md, p.md, RSA_PSS_SALTLEN_DIGEST, input)),
                         Reason::ok);
        for (int salt : {0, 1, 20, 32, 48, 64, p.digest_size - 1, p.digest_size + 1, RSA_PSS_SALTLEN_MAX}) {
            if (salt == p.digest_size) {
                continue;
            }
            const Reason status = m2m::verify_signature(k, alg, input, sign_pss(pkey, p.md, p.md, salt, input));
            ck_assert_msg(status == Reason::bad_signature, "%s with a %d-byte salt: got %s", p.alg, salt,
                          status_name(status));
        }
        for (const EVP_MD *mgf1 : {EVP_sha1(), EVP_sha256(), EVP_sha384(), EVP_sha512()}) {
            if (mgf1 == p.md) {
                continue;
            }
            const Reason status =
                m2m::verify_signature(k, alg, input, sign_pss(pkey, p.md, mgf1, p.digest_size, input));
            ck_assert_msg(status == Reason::bad_signature, "%s with MGF1-%s: got %s", p.alg, EVP_MD_get0_name(mgf1),
                          status_name(status));
        }
    }
}
END_TEST

// The padding and the hash are the algorithm's: a signature made under one
// RSA algorithm verifies under no other.
START_TEST(test_rsa_signature_only_under_its_own_algorithm)
{
    const char *algs[] = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"};
    const std::string input = b64url_encode("{}") + "." + b64url_encode(claims_json());
    for (const char *signed_as : algs) {
        const std::string sig = testkeys::sign_bytes(signed_as, KeyName::rsa, input);
        for (const char *checked_as : algs) {
            const Reason status = m2m::verify_signature(key("rsa-1"), alg_of(checked_as), input, sig);
            const Reason want = std::strcmp(signed_as, checked_as) == 0 ? Reason::ok : Reason::bad_signature;
            ck_assert_msg(status == want, "signed %s, checked as %s: got %s", signed_as, checked_as,
                          status_name(status));
        }
    }
}
END_TEST

// RFC 7518 §3.4 and FIPS 186-4 accept (r, n - s) as well as (r, s), and so
// do OpenSSL and cjose: the high-S twin verifies (see signature.h). Every
// other change to r or s fails, values at or above n included.
START_TEST(test_ecdsa_high_s_twin_and_out_of_range_values)
{
    for (const SigCase &c : kCases) {
        if (!is_ec(c)) {
            continue;
        }
        const Signed s = sign_case(c);
        const size_t w = c.signature_bytes / 2;
        const std::string r = s.signature.substr(0, w);
        const std::string sv = s.signature.substr(w);
        const std::string n = curve_order(c.key, w);

        const std::string twin = r + bn_arith(n, sv, true, w);
        ck_assert_status(check(c, s.input, twin), Reason::ok);
        ck_assert_status(cjose_verdict(key(c.kid), s.input + "." + b64url_encode(twin)), Reason::ok);

        ck_assert_status(check(c, s.input, bn_arith(n, r, true, w) + sv), Reason::bad_signature);  // n - r
        ck_assert_status(check(c, s.input, sv + r), Reason::bad_signature);                       // swapped
        ck_assert_status(check(c, s.input, std::string(w, '\0') + sv), Reason::bad_signature);    // r = 0
        ck_assert_status(check(c, s.input, r + std::string(w, '\0')), Reason::bad_signature);     // s = 0
        ck_assert_status(check(c, s.input, n + sv), Reason::bad_signature);                       // r = n
        ck_assert_status(check(c, s.input, r + n), Reason::bad_signature);                        // s = n
        // s + n still fits P-521's 66 bytes: the same s modulo n, refused.
        const std::string s_plus_n = bn_arith(sv, n, false, w);
        if (s_plus_n.size() == w) {
            ck_assert_status(check(c, s.input, r + s_plus_n), Reason::bad_signature);
        }
    }
}
END_TEST

// RFC 7518 §3.3-3.5: exactly the key's length. An RSA signature whose
// first byte is zero, sent without it, is the same number: OpenSSL 3.0
// alone refuses it for PKCS#1 v1.5 but accepts it for PSS. R || S with each
// half padded to a wider field is the same pair. Each would be a second
// encoding of a valid token.
START_TEST(test_only_the_exact_length_verifies)
{
    for (const SigCase *rsa : {&kCases[0], &kCases[3]}) {  // RS256, PS256
        Signed s;
        for (int i = 0;; i++) {
            ck_assert_msg(i < 5000, "no %s signature with a leading zero byte", rsa->alg);
            s = sign_case(*rsa, claims_json({{"jti", q("jti-" + std::to_string(i))}}));
            if (s.signature[0] == '\0') {
                break;
            }
        }
        const std::string short_sig = s.signature.substr(1);
        const bool pss = rsa->alg[0] == 'P';
        ck_assert(openssl_accepts(testkeys::pkey(KeyName::rsa), pss, s.input, short_sig) == pss);
        ck_assert_status(check(*rsa, s.input, short_sig), Reason::bad_signature);
        ck_assert_status(check(*rsa, s.input, s.signature), Reason::ok);
    }

    for (const SigCase &c : kCases) {
        if (!is_ec(c)) {
            continue;
        }
        const Signed e = sign_case(c);
        const size_t w = c.signature_bytes / 2;
        const std::string wide = std::string(1, '\0') + e.signature.substr(0, w) + std::string(1, '\0') + e.signature.substr(w);
        ck_assert_status(check(c, e.input, wide), Reason::bad_signature);
    }
}
END_TEST

START_TEST(test_key_and_alg_must_fit)
{
    const std::string input = "e30.e30";
    const std::string sig(256, '\x01');
    const struct {
        const char *kid;
        const char *alg;
    } mismatches[] = {
        {"rsa-1", "ES256"},      {"rsa-1", "ES512"},      {"ec-256", "RS256"}, {"ec-256", "PS256"},
        {"ec-256", "ES384"},     {"ec-384", "ES256"},     {"ec-521", "ES384"}, {"rs256-only", "RS384"},
        {"rs256-only", "PS256"}, {"rs256-only", "ES256"},
    };
    for (const auto &m : mismatches) {
        const m2m::Key &k = key(m.kid);
        const Algorithm alg = alg_of(m.alg);
        ck_assert_msg(m2m::verify_signature(k, alg, input, sig) == Reason::key_alg_mismatch, "%s with %s", m.kid,
                      m.alg);
    }
    // The RS256-bound key verifies RS256.
    const std::string rs = testkeys::sign_bytes("RS256", KeyName::rsa, input);
    ck_assert_status(m2m::verify_signature(key("rs256-only"), Algorithm::RS256, input, rs), Reason::ok);
}
END_TEST

START_TEST(test_compact_token_forms)
{
    const SigCase &c = kCases[6];  // ES256
    const m2m::Key &k = key(c.kid);
    const Signed s = sign_case(c);
    const std::string segment = b64url_encode(s.signature);
    ck_assert_status(check_compact(k, Algorithm::ES256, s.compact()), Reason::ok);
    ck_assert_status(check_compact(k, Algorithm::ES256, ""), Reason::malformed);
    ck_assert_status(check_compact(k, Algorithm::ES256, segment), Reason::malformed);
    ck_assert_status(check_compact(k, Algorithm::ES256, "e30." + segment), Reason::malformed);
    // The right length, but not strict base64url (a third '.' is no JWS).
    for (const char *bad : {"+", "/", "=", " ", "\n", "."}) {
        std::string broken = segment;
        broken[10] = bad[0];
        const std::string token = s.input + "." + broken;
        const Reason status = check_compact(k, Algorithm::ES256, token);
        ck_assert_msg(status == Reason::malformed, "%s: got %s", token.c_str(), status_name(status));
    }
    // The last character's unused bits must be zero (one encoding only).
    std::string loose = segment;
    loose.back() = static_cast<char>(loose.back() + 1);
    ck_assert_status(check_compact(k, Algorithm::ES256, s.input + "." + loose), Reason::malformed);
    // The signature covers everything before the last '.', and only that.
    m2m::Token parsed;
    ck_assert_status(m2m::Token::parse(s.compact(), &parsed), Reason::ok);
    ck_assert_std_str_eq(parsed.signing_input(), s.input);
    ck_assert(parsed.signature() == s.signature);
    // Each character of the signing input is covered.
    for (size_t i = 0; i < s.input.size(); i++) {
        if (s.input[i] == '.') {
            continue;
        }
        std::string changed = s.input;
        changed[i] = changed[i] == 'A' ? 'B' : 'A';
        ck_assert_status(check(c, changed, s.signature), Reason::bad_signature);
    }
}
END_TEST

// A refusal leaves OpenSSL's per-thread error queue as it found it: nginx
// logs leftovers as "[alert] ignoring stale global SSL error" at its next
// TLS call, and must not lose an error of its own queued before.
START_TEST(test_openssl_error_queue_left_alone)
{
    const SigCase &rs = kCases[0];
    const SigCase &es = kCases[6];
    const Signed r = sign_case(rs);
    const Signed e = sign_case(es);
    std::string bad_r = r.signature;
    bad_r[5] = static_cast<char>(bad_r[5] ^ 1);
    std::string bad_e = e.signature;
    bad_e[0] = '\xff';  // r above n: OpenSSL queues "bad signature"

    ERR_clear_error();
    ck_assert_status(check(rs, r.input, bad_r), Reason::bad_signature);
    ck_assert_status(check(es, e.input, bad_e), Reason::bad_signature);
    ck_assert_status(check(rs, r.input, r.signature.substr(1)), Reason::bad_signature);
    ck_assert_uint_eq(ERR_peek_error(), 0);

    ERR_raise(ERR_LIB_USER, 42);
    const unsigned long before = ERR_peek_last_error();
    ck_assert_status(check(rs, r.input, bad_r), Reason::bad_signature);
    ck_assert_status(check(es, e.input, bad_e), Reason::bad_signature);
    ck_assert_status(check(rs, r.input, r.signature), Reason::ok);
    ck_assert_uint_eq(ERR_peek_last_error(), before);
    ck_assert_uint_eq(ERR_get_error(), before);
    ck_assert_uint_eq(ERR_peek_error(), 0);
}
END_TEST

// Keys and algorithms used in turn share no state: each check starts from
// its key's own prepared context.
START_TEST(test_keys_and_algorithms_alternate)
{
    std::vector<Signed> signed_cases;
    for (int i = 0; i < kFastCaseCount; i++) {
        signed_cases.push_back(sign_case(kCases[i]));
    }
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < kFastCaseCount; i++) {
            const SigCase &c = kCases[i];
            ck_assert_status(check(c, signed_cases[i].input, signed_cases[i].signature), Reason::ok);
            std::string bad = signed_cases[i].signature;
            bad.back() = static_cast<char>(bad.back() ^ 0x10);
            ck_assert_status(check(c, signed_cases[i].input, bad), Reason::bad_signature);
        }
    }
}
END_TEST

// The EVP path and the cjose path it replaces give the same verdict on the
// same token, whatever bit of the header, payload or signature changes.
START_TEST(test_same_verdict_as_cjose)
{
    const SigCase &c = kCases[_i];
    const m2m::Key &k = key(c.kid);
    const Algorithm alg = alg_of(c.alg);
    const Signed s = sign_case(c, claims_json({{"scope", ""}, {"jti", ""}}));
    const testkeys::Segments parts = testkeys::split(s.compact());
    std::string decoded[3];
    ck_assert(b64url_decode(parts.header, &decoded[0]));
    ck_assert(b64url_decode(parts.payload, &decoded[1]));
    decoded[2] = s.signature;
    size_t compared = 0, accepted = 0;
    for (int part = 0; part < 3; part++) {
        for (size_t byte = 0; byte < decoded[part].size(); byte++) {
            for (int bit = 0; bit < 8; bit++) {
                std::string d[3] = {decoded[0], decoded[1], decoded[2]};
                d[part][byte] = static_cast<char>(d[part][byte] ^ (1 << bit));
                const std::string token = b64url_encode(d[0]) + "." + b64url_encode(d[1]) + "." + b64url_encode(d[2]);
                // The verifier checks the signature only of a token that
                // parses and names this alg (cjose would refuse "RS255").
                m2m::Token parsed;
                if (m2m::Token::parse(token, &parsed) != Reason::ok || parsed.alg() != c.alg) {
                    continue;
                }
                const Reason evp = m2m::verify_signature(k, alg, parsed.signing_input(), parsed.signature());
                const Reason reference = cjose_verdict(k, token);
                ck_assert_msg(evp == reference, "%s: bit %d of byte %zu of part %d: EVP %s, cjose %s", c.alg, bit,
                              byte, part, status_name(evp), status_name(reference));
                compared++;
                accepted += evp == Reason::ok;
            }
        }
    }
    ck_assert_uint_gt(compared, decoded[2].size() * 8);
    // Every flip changes the signed bytes or the signature: none verifies.
    ck_assert_uint_eq(accepted, 0);
}
END_TEST

// parse_jwks makes the EVP key from the JWK's own numbers: the same public
// key OpenSSL generated, and a prepared context for each algorithm it fits.
START_TEST(test_keys_made_for_evp)
{
    const struct {
        const char *kid;
        KeyName name;
    } made[] = {{"rsa-1", KeyName::rsa},     {"ec-256", KeyName::p256},         {"ec-384", KeyName::p384},
                {"ec-521", KeyName::p521},   {"rsa-3072", KeyName::rsa_3072}, {"rsa-4096", KeyName::rsa_4096},
                {"rs256-only", KeyName::rsa}};
    for (const auto &m : made) {
        const m2m::Key &k = key(m.kid);
        ck_assert_ptr_nonnull(k.pkey.get());
        ck_assert_msg(EVP_PKEY_eq(k.pkey.get(), testkeys::pkey(m.name)) == 1, "%s is not the generated key", m.kid);
        for (size_t i = 0; i < m2m::kAlgorithmCount; i++) {
            const auto alg = static_cast<Algorithm>(i);
            ck_assert_msg((k.verifiers[i] != nullptr) == k.fits(alg), "%s: context for %s", m.kid,
                          m2m::algorithm_name(alg));
        }
    }
    // The contexts move with the key set, as the cjose keys do.
    m2m::JwksParseResult r = m2m::parse_jwks(testkeys::jwk_set({public_jwk(KeyName::p256, "a")}));
    const EVP_PKEY_CTX *prepared = r.keys.keys()[0].verifiers[static_cast<size_t>(Algorithm::ES256)].get();
    std::shared_ptr<const m2m::KeySet> shared = m2m::share_keys(std::move(r.keys));
    ck_assert_ptr_eq(shared->keys()[0].verifiers[static_cast<size_t>(Algorithm::ES256)].get(), prepared);
}
END_TEST

// RFC 7518 allows any odd public exponent; OpenSSL's own public-key check
// (SP 800-56B) would refuse e = 3, so parse_jwks must not ask it.
START_TEST(test_rsa_exponent_three_key_works)
{
    Ptr<EVP_PKEY_CTX> gen(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
    Ptr<BIGNUM> three(BN_new());
    ck_assert(gen && three && BN_set_word(three.get(), 3) == 1);
    ck_assert(EVP_PKEY_keygen_init(gen.get()) == 1 && EVP_PKEY_CTX_set_rsa_keygen_bits(gen.get(), 2048) == 1);
    ck_assert(EVP_PKEY_CTX_set1_rsa_keygen_pubexp(gen.get(), three.get()) == 1);
    EVP_PKEY *raw = nullptr;
    ck_assert(EVP_PKEY_generate(gen.get(), &raw) == 1);
    Ptr<EVP_PKEY> pkey(raw);

    BIGNUM *n = nullptr, *e = nullptr;
    ck_assert(EVP_PKEY_get_bn_param(pkey.get(), OSSL_PKEY_PARAM_RSA_N, &n) == 1);
    ck_assert(EVP_PKEY_get_bn_param(pkey.get(), OSSL_PKEY_PARAM_RSA_E, &e) == 1);
    Ptr<BIGNUM> n_owner(n), e_owner(e);
    std::string n_bytes(static_cast<size_t>(BN_num_bytes(n)), '\0'), e_bytes(static_cast<size_t>(BN_num_bytes(e)), '\0');
    BN_bn2bin(n, reinterpret_cast<unsigned char *>(&n_bytes[0]));
    BN_bn2bin(e, reinterpret_cast<unsigned char *>(&e_bytes[0]));
    ck_assert_std_str_eq(e_bytes, std::string(1, '\x03'));

    const std::string jwk = "{\"kty\":\"RSA\",\"kid\":\"e3\",\"n\":\"" + b64url_encode(n_bytes) + "\",\"e\":\"" +
                            b64url_encode(e_bytes) + "\"}";
    std::shared_ptr<const m2m::KeySet> set = load_keys(testkeys::jwk_set({jwk}));
    const m2m::Key &k = set->keys()[0];
    const std::string input = "e30.e30";
    const std::string pss = sign_pss(pkey.get(), EVP_sha256(), EVP_sha256(), RSA_PSS_SALTLEN_DIGEST, input);
    ck_assert_status(m2m::verify_signature(k, Algorithm::PS256, input, pss), Reason::ok);
    ck_assert_status(m2m::verify_signature(k, Algorithm::PS256, input + ".", pss), Reason::bad_signature);
}
END_TEST

Suite *signature_suite()
{
    Suite *s = suite_create("signature");

    TCase *tc = tcase_create("evp");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_good_signature_verifies, 0, kCaseCount);
    tcase_add_loop_test(tc, test_signature_of_another_key_refused, 0, kCaseCount);
    tcase_add_loop_test(tc, test_every_signature_bit_flip_refused, 0, kFastCaseCount);
    tcase_add_loop_test(tc, test_every_signature_truncation_refused, 0, kCaseCount);
    tcase_add_test(tc, test_pss_salt_length_and_mgf1_are_exact);
    tcase_add_test(tc, test_rsa_signature_only_under_its_own_algorithm);
    tcase_add_test(tc, test_ecdsa_high_s_twin_and_out_of_range_values);
    tcase_add_test(tc, test_only_the_exact_length_verifies);
    tcase_add_test(tc, test_key_and_alg_must_fit);
    tcase_add_test(tc, test_compact_token_forms);
    tcase_add_test(tc, test_openssl_error_queue_left_alone);
    tcase_add_test(tc, test_keys_and_algorithms_alternate);
    tcase_add_loop_test(tc, test_same_verdict_as_cjose, 0, kFastCaseCount);
    tcase_add_test(tc, test_keys_made_for_evp);
    tcase_add_test(tc, test_rsa_exponent_three_key_works);
    suite_add_tcase(s, tc);

    // P-384 and P-521: the bit flips and the cjose comparison, a few seconds.
    TCase *slow = tcase_create("evp_slow_curves");
    tcase_set_tags(slow, "slow");
    tcase_set_timeout(slow, 120);
    tcase_add_loop_test(slow, test_every_signature_bit_flip_refused, kFastCaseCount, kCaseCount);
    tcase_add_loop_test(slow, test_same_verdict_as_cjose, kFastCaseCount, kCaseCount);
    suite_add_tcase(s, slow);
    return s;
}
