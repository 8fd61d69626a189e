// The signature check must hold under every single-bit change and every
// truncation, for every algorithm and RSA key size we accept: none of these
// tokens may verify. Changes are made both to the decoded bytes (a forger
// editing claims or signature) and to the base64url text itself (a forger,
// or a broken proxy, editing the token as it travels).
#include <string>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include "test_keys.h"
#include "test_suites.h"
#include "test_support.h"

using m2m::Reason;
using testkeys::b64url_decode;
using testkeys::b64url_encode;
using testkeys::KeyName;
using testkeys::Segments;
using namespace testsupport;

namespace {

using FuzzCase = testkeys::SignatureCase;
const auto &kCases = testkeys::kSignatureCases;
constexpr int kCaseCount = testkeys::kSignatureCaseCount;
constexpr int kFastCaseCount = kCaseCount - testkeys::kSlowSignatureCases;

const FuzzCase &fuzz_case(int i) { return kCases[i]; }

// The standard keys (standard_jwks()) plus the 3072- and 4096-bit ones.
const TestIssuer &fuzz_policy()
{
    using testkeys::public_jwk;
    static const TestIssuer policy = make_policy(load_keys(testkeys::jwk_set({
        public_jwk(KeyName::rsa, "rsa-1"),
        public_jwk(KeyName::p256, "ec-256"),
        public_jwk(KeyName::p384, "ec-384"),
        public_jwk(KeyName::p521, "ec-521"),
        public_jwk(KeyName::rsa_3072, "rsa-3072"),
        public_jwk(KeyName::rsa_4096, "rsa-4096"),
    })));
    return policy;
}

// The claims the verifier reads (iss, aud, exp, iat) and the client id that
// verify() hands out once a token verifies. Fewer bytes than claims_json():
// every payload bit costs a signature check, over a millisecond on P-384.
std::string fuzz_token(const FuzzCase &c)
{
    return testkeys::make_token(c.alg, c.key, c.kid,
                                claims_json({{"sub", ""}, {"scope", ""}, {"jti", ""}}));
}

// Decoded signature of a token, checked against the expected size.
std::string signature_of(const std::string &token, const FuzzCase &c)
{
    std::string sig;
    ck_assert(b64url_decode(testkeys::split(token).signature, &sig));
    ck_assert_uint_eq(sig.size(), c.signature_bytes);
    return sig;
}

std::string with_signature(const std::string &token, const std::string &sig)
{
    Segments s = testkeys::split(token);
    s.signature = b64url_encode(sig);
    return s.join();
}

std::string decoded(const std::string &segment)
{
    std::string out;
    ck_assert(b64url_decode(segment, &out));
    return out;
}

// Same length, and exactly one bit differs.
bool one_bit_apart(const std::string &a, const std::string &b)
{
    if (a.size() != b.size()) {
        return false;
    }
    int differing_bits = 0;
    for (size_t k = 0; k < a.size(); k++) {
        differing_bits += __builtin_popcount(static_cast<unsigned char>(a[k] ^ b[k]));
    }
    return differing_bits == 1;
}

}  // namespace

START_TEST(test_untouched_tokens_verify)
{
    const FuzzCase &c = fuzz_case(_i);
    ck_assert_status(check_token(fuzz_token(c), fuzz_policy()), Reason::ok);
}
END_TEST

START_TEST(test_every_signature_bit_flip_fails)
{
    const FuzzCase &c = fuzz_case(_i);
    const TestIssuer &policy = fuzz_policy();
    const std::string token = fuzz_token(c);
    const std::string sig = signature_of(token, c);
    size_t tried = 0;
    for (size_t byte = 0; byte < sig.size(); byte++) {
        for (int bit = 0; bit < 8; bit++) {
            std::string flipped = sig;
            flipped[byte] = static_cast<char>(flipped[byte] ^ (1 << bit));
            bool verified = true;
            Reason status = check_token(with_signature(token, flipped), policy, kNow, &verified);
            ck_assert_msg(status == Reason::bad_signature, "%s: bit %d of byte %zu flipped: got %s", c.alg, bit,
                          byte, status_name(status));
            ck_assert(!verified);
            tried++;
        }
    }
    ck_assert_uint_eq(tried, c.signature_bytes * 8);
}
END_TEST

START_TEST(test_every_signature_truncation_fails)
{
    const FuzzCase &c = fuzz_case(_i);
    const TestIssuer &policy = fuzz_policy();
    const std::string token = fuzz_token(c);
    const std::string sig = signature_of(token, c);
    for (size_t len = 0; len < sig.size(); len++) {
        Reason status = check_token(with_signature(token, sig.substr(0, len)), policy);
        ck_assert_msg(status == Reason::bad_signature, "%s: signature cut to %zu bytes: got %s", c.alg, len, status_name(status));
    }
    // Truncating the base64url text at every length fails as well.
    Segments s = testkeys::split(token);
    for (size_t len = 0; len < s.signature.size(); len++) {
        Segments cut = s;
        cut.signature.resize(len);
        Reason status = check_token(cut.join(), policy);
        ck_assert_msg(status == Reason::malformed || status == Reason::bad_signature,
                      "%s: signature text cut to %zu characters: got %s", c.alg, len, status_name(status));
    }
}
END_TEST

START_TEST(test_signature_extensions_fail)
{
    const FuzzCase &c = fuzz_case(_i);
    const TestIssuer &policy = fuzz_policy();
    const std::string token = fuzz_token(c);
    const std::string sig = signature_of(token, c);
    // Trailing and leading bytes appended to a valid signature.
    ck_assert_status(check_token(with_signature(token, sig + std::string(1, '\0')), policy), Reason::bad_signature);
    ck_assert_status(check_token(with_signature(token, std::string(1, '\0') + sig), policy), Reason::bad_signature);
    ck_assert_status(check_token(with_signature(token, sig + sig), policy), Reason::bad_signature);
    ck_assert_status(check_token(with_signature(token, std::string(sig.size(), '\0')), policy),
                     Reason::bad_signature);
    ck_assert_status(check_token(with_signature(token, std::string(sig.size(), '\xff')), policy),
                     Reason::bad_signature);
}
END_TEST

// RFC 7518 §3.4: an ECDSA signature is exactly R || S, each half as wide as
// the curve's order (32, 48, 66 octets). Each half zero-padded by one octet
// encodes the same numbers; accepting it makes tokens malleable (a second
// valid encoding of the same token).
START_TEST(test_ecdsa_signature_must_be_fixed_width)
{
    size_t ec_cases = 0;
    for (const FuzzCase &c : kCases) {
        if (c.alg[0] != 'E') {
            continue;
        }
        ec_cases++;
        const std::string token = fuzz_token(c);
        const std::string sig = signature_of(token, c);
        const size_t half = c.signature_bytes / 2;
        std::string padded = std::string(1, '\0') + sig.substr(0, half) + std::string(1, '\0') + sig.substr(half);
        Reason status = check_token(with_signature(token, padded), fuzz_policy());
        ck_assert_msg(status == Reason::bad_signature, "%s: R and S padded to %zu octets: got %s", c.alg, half + 1,
                      status_name(status));
    }
    ck_assert_uint_eq(ec_cases, 3);
}
END_TEST

// ECDSA works modulo the group order n, so (r + n, s) and (r, s + n) are the
// same numbers to a verifier that reduces first; SEC 1 §4.1.4 requires r and
// s in [1, n-1]. Only on P-521 do they fit the fixed width (n is just over
// 2^520, the width 528 bits): there, they must fail.
START_TEST(test_ecdsa_scalars_out_of_range_fail)
{
    const FuzzCase &c = kCases[kCaseCount - 1];
    ck_assert_str_eq(c.alg, "ES512");
    const std::string token = fuzz_token(c);
    const std::string sig = signature_of(token, c);
    EC_GROUP *group = EC_GROUP_new_by_curve_name(NID_secp521r1);
    ck_assert_ptr_nonnull(group);
    const BIGNUM *order = EC_GROUP_get0_order(group);
    auto plus_order = [&](const std::string &half) {
        BIGNUM *v = BN_bin2bn(reinterpret_cast<const unsigned char *>(half.data()), static_cast<int>(half.size()),
                              nullptr);
        ck_assert(v != nullptr && BN_add(v, v, order) == 1);
        std::string out(half.size(), '\0');
        ck_assert_int_eq(BN_bn2binpad(v, reinterpret_cast<unsigned char *>(&out[0]), static_cast<int>(out.size())),
                         static_cast<int>(out.size()));
        BN_free(v);
        return out;
    };
    const std::string r = sig.substr(0, 66), s = sig.substr(66);
    ck_assert_status(check_token(token, fuzz_policy()), Reason::ok);
    ck_assert_status(check_token(with_signature(token, plus_order(r) + s), fuzz_policy()), Reason::bad_signature);
    ck_assert_status(check_token(with_signature(token, r + plus_order(s)), fuzz_policy()), Reason::bad_signature);
    ck_assert_status(check_token(with_signature(token, plus_order(r) + plus_order(s)), fuzz_policy()),
                     Reason::bad_signature);
    EC_GROUP_free(group);
}
END_TEST

START_TEST(test_every_payload_bit_flip_fails)
{
    const FuzzCase &c = fuzz_case(_i);
    const TestIssuer &policy = fuzz_policy();
    const std::string token = fuzz_token(c);
    const Segments s = testkeys::split(token);
    std::string payload;
    ck_assert(b64url_decode(s.payload, &payload));
    size_t still_json = 0;
    for (size_t byte = 0; byte < payload.size(); byte++) {
        for (int bit = 0; bit < 8; bit++) {
            std::string flipped = payload;
            flipped[byte] = static_cast<char>(flipped[byte] ^ (1 << bit));
            Segments t = s;
            t.payload = b64url_encode(flipped);
            // Through verify(), the module's path: nothing of the
            // forged claims may come out.
            Verdict v = verify(t.join(), {&policy});
            // The times are checked before the signature (screen()), so a
            // flip in exp, nbf or iat may be refused as one of theirs.
            ck_assert_msg(v.status == Reason::bad_signature || v.status == Reason::malformed ||
                              v.status == Reason::wrong_issuer || v.status == Reason::malformed_claim ||
                              v.status == Reason::missing_exp || v.status == Reason::expired ||
                              v.status == Reason::not_yet_valid || v.status == Reason::issued_in_future,
                          "%s: payload bit %d of byte %zu flipped: verify() got %s", c.alg, bit, byte,
                          status_name(v.status));
            ck_assert_msg(!v.token, "%s: payload bit %d of byte %zu flipped: claims came out of verify()", c.alg, bit,
                          byte);
            // A flip that changed "iss" selects no issuer; checked against
            // this issuer's keys anyway, its signature fails too.
            Reason status = v.status;
            if (status == Reason::wrong_issuer) {
                status = check_token(t.join(), policy);
            }
            // One refused before its signature was looked at (screen()):
            // the signature fails all the same.
            if (status != Reason::bad_signature && status != Reason::malformed) {
                m2m::Token parsed;
                std::shared_ptr<const m2m::VerifiedToken> verified;
                ck_assert_status(m2m::Token::parse(t.join(), &parsed), Reason::ok);
                status = m2m::authenticate(std::move(parsed), policy, policy.keys, &verified);
            }
            ck_assert_msg(status == Reason::bad_signature || status == Reason::malformed,
                          "%s: payload bit %d of byte %zu flipped: got %s", c.alg, bit, byte, status_name(status));
            if (status == Reason::bad_signature) {
                still_json++;
            }
        }
    }
    // Many flips (inside strings and numbers) leave valid JSON: they reached
    // the signature check and failed there.
    ck_assert_msg(still_json > payload.size(), "only %zu flips stayed valid JSON", still_json);
}
END_TEST

START_TEST(test_every_header_bit_flip_fails)
{
    const FuzzCase &c = fuzz_case(_i);
    const TestIssuer &policy = fuzz_policy();
    const Segments s = testkeys::split(fuzz_token(c));
    std::string header;
    ck_assert(b64url_decode(s.header, &header));
    for (size_t byte = 0; byte < header.size(); byte++) {
        for (int bit = 0; bit < 8; bit++) {
            std::string flipped = header;
            flipped[byte] = static_cast<char>(flipped[byte] ^ (1 << bit));
            Segments t = s;
            t.header = b64url_encode(flipped);
            bool verified = true;
            Reason status = check_token(t.join(), policy, kNow, &verified);
            ck_assert_msg(status != Reason::ok && !verified, "%s: header bit %d of byte %zu flipped: got %s", c.alg,
                          bit, byte, status_name(status));
        }
    }
}
END_TEST

// Every bit of every character of the compact text, dots included. Most
// flips leave the base64url alphabet (malformed); the rest decode to other
// bytes, which either stop being JSON or reach the signature check and fail
// there.
START_TEST(test_every_text_bit_flip_fails)
{
    const FuzzCase &c = fuzz_case(_i);
    const TestIssuer &policy = fuzz_policy();
    const std::string token = fuzz_token(c);
    const Segments s = testkeys::split(token);
    const std::string segments[3] = {s.header, s.payload, s.signature};
    const std::string decoded_segments[3] = {decoded(s.header), decoded(s.payload), decoded(s.signature)};
    const size_t starts[3] = {0, s.header.size() + 1, s.header.size() + s.payload.size() + 2};
    size_t reached_signature[3] = {0, 0, 0};
    size_t checked_elsewhere = 0;
    for (size_t i = 0; i < token.size(); i++) {
        const int part = i < starts[1] ? 0 : i < starts[2] ? 1 : 2;  // a dot goes with the segment it ends
        for (int bit = 0; bit < 8; bit++) {
            std::string flipped = token;
            flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
            // A segment that still decodes, to bytes one bit away from the
            // original ones, is one of the single-bit flips of the decoded
            // header, payload or signature that the tests above check, every
            // one of them (the strict decoder accepts the canonical text
            // only, so it is the same text too). About a third of the flips
            // that decode are such; checking them again here would cost a
            // signature check each.
            std::string after;
            if (flipped[i] != '.' && token[i] != '.' &&
                b64url_decode(flipped.substr(starts[part], segments[part].size()), &after) &&
                one_bit_apart(decoded_segments[part], after)) {
                checked_elsewhere++;
                continue;
            }
            bool verified = true;
            Reason status = check_token(flipped, policy, kNow, &verified);
            ck_assert_msg(status != Reason::ok && !verified, "%s: bit %d of character %zu (%s) flipped: got %s", c.alg,
                          bit, i, part == 0 ? "header" : part == 1 ? "payload" : "signature", status_name(status));
            if (status == Reason::bad_signature) {
                reached_signature[part]++;
            }
        }
    }
    ck_assert_uint_gt(checked_elsewhere, 0);
    // Not only the parser was exercised: in every segment some flips made a
    // well-formed token that only the signature check refused.
    ck_assert_msg(reached_signature[0] > 0, "%s: no header text flip reached the signature check", c.alg);
    ck_assert_msg(reached_signature[1] > 0, "%s: no payload text flip reached the signature check", c.alg);
    ck_assert_msg(reached_signature[2] > 0, "%s: no signature text flip reached the signature check", c.alg);
}
END_TEST

// A prefix of a JSON object is never a JSON object, so every cut of the
// header or the payload, of its text or of its decoded bytes, is malformed
// (the signature segment is left intact).
START_TEST(test_every_header_and_payload_truncation_fails)
{
    const FuzzCase &c = fuzz_case(_i);
    const TestIssuer &policy = fuzz_policy();
    const Segments s = testkeys::split(fuzz_token(c));
    const std::string header = decoded(s.header);
    const std::string payload = decoded(s.payload);
    for (size_t len = 0; len < s.header.size(); len++) {
        Segments t = s;
        t.header.resize(len);
        Reason status = check_token(t.join(), policy);
        ck_assert_msg(status == Reason::malformed, "%s: header text cut to %zu characters: got %s", c.alg, len,
                      status_name(status));
    }
    for (size_t len = 0; len < s.payload.size(); len++) {
        Segments t = s;
        t.payload.resize(len);
        Reason status = check_token(t.join(), policy);
        ck_assert_msg(status == Reason::malformed, "%s: payload text cut to %zu characters: got %s", c.alg, len,
                      status_name(status));
    }
    for (size_t len = 0; len < header.size(); len++) {
        Segments t = s;
        t.header = b64url_encode(header.substr(0, len));
        Reason status = check_token(t.join(), policy);
        ck_assert_msg(status == Reason::malformed, "%s: header cut to %zu bytes: got %s", c.alg, len,
                      status_name(status));
    }
    for (size_t len = 0; len < payload.size(); len++) {
        Segments t = s;
        t.payload = b64url_encode(payload.substr(0, len));
        Reason status = check_token(t.join(), policy);
        ck_assert_msg(status == Reason::malformed, "%s: payload cut to %zu bytes: got %s", c.alg, len,
                      status_name(status));
    }
}
END_TEST

// The compact text cut anywhere: too few dots, or a short signature.
START_TEST(test_every_token_truncation_fails)
{
    const FuzzCase &c = fuzz_case(_i);
    const TestIssuer &policy = fuzz_policy();
    const std::string token = fuzz_token(c);
    for (size_t len = 0; len < token.size(); len++) {
        Reason status = check_token(token.substr(0, len), policy);
        ck_assert_msg(status == Reason::malformed || status == Reason::bad_signature,
                      "%s: token cut to %zu of %zu characters: got %s", c.alg, len, token.size(), status_name(status));
    }
}
END_TEST

namespace {

// The same properties for kCases[first, last).
TCase *fuzz_tcase(const char *name, int first, int last)
{
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_untouched_tokens_verify, first, last);
    tcase_add_loop_test(tc, test_every_signature_bit_flip_fails, first, last);
    tcase_add_loop_test(tc, test_every_signature_truncation_fails, first, last);
    tcase_add_loop_test(tc, test_signature_extensions_fail, first, last);
    tcase_add_loop_test(tc, test_every_payload_bit_flip_fails, first, last);
    tcase_add_loop_test(tc, test_every_header_bit_flip_fails, first, last);
    tcase_add_loop_test(tc, test_every_text_bit_flip_fails, first, last);
    tcase_add_loop_test(tc, test_every_header_and_payload_truncation_fails, first, last);
    tcase_add_loop_test(tc, test_every_token_truncation_fails, first, last);
    return tc;
}

}  // namespace

Suite *signature_fuzz_suite()
{
    Suite *s = suite_create("signature_fuzz");
    TCase *tc = fuzz_tcase("fuzz", 0, kFastCaseCount);
    tcase_add_test(tc, test_ecdsa_signature_must_be_fixed_width);
    tcase_add_test(tc, test_ecdsa_scalars_out_of_range_fail);
    suite_add_tcase(s, tc);
    TCase *slow = fuzz_tcase("fuzz_p384_p521", kFastCaseCount, kCaseCount);
    tcase_set_tags(slow, "slow");
    suite_add_tcase(s, slow);
    return s;
}
