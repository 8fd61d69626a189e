// The signature check must hold under every single-bit change and every
// truncation: none of these tokens may verify.
#include <string>

#include "test_keys.h"
#include "test_suites.h"
#include "test_support.h"
#include "verify.h"

using m2m::Status;
using testkeys::b64url_decode;
using testkeys::b64url_encode;
using testkeys::KeyName;
using testkeys::Segments;
using namespace testsupport;

namespace {

struct FuzzCase {
    const char *alg;
    KeyName key;
    const char *kid;
    size_t signature_bytes;
};

const FuzzCase kCases[] = {
    {"RS256", KeyName::rsa, "rsa-1", 256},
    {"ES256", KeyName::p256, "ec-256", 64},
};

const FuzzCase &fuzz_case(int i) { return kCases[i]; }

std::string fuzz_token(const FuzzCase &c)
{
    return testkeys::make_token(c.alg, c.key, c.kid, claims_json());
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

}  // namespace

START_TEST(test_untouched_tokens_verify)
{
    const FuzzCase &c = fuzz_case(_i);
    ck_assert_status(check_token(fuzz_token(c), make_policy()), Status::ok);
}
END_TEST

START_TEST(test_every_signature_bit_flip_fails)
{
    const FuzzCase &c = fuzz_case(_i);
    const m2m::IssuerPolicy policy = make_policy();
    const std::string token = fuzz_token(c);
    const std::string sig = signature_of(token, c);
    size_t tried = 0;
    for (size_t byte = 0; byte < sig.size(); byte++) {
        for (int bit = 0; bit < 8; bit++) {
            std::string flipped = sig;
            flipped[byte] = static_cast<char>(flipped[byte] ^ (1 << bit));
            bool verified = true;
            Status status = check_token(with_signature(token, flipped), policy, kNow, &verified);
            ck_assert_msg(status == Status::bad_signature, "%s: bit %d of byte %zu flipped: got %s", c.alg, bit,
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
    const m2m::IssuerPolicy policy = make_policy();
    const std::string token = fuzz_token(c);
    const std::string sig = signature_of(token, c);
    for (size_t len = 0; len < sig.size(); len++) {
        Status status = check_token(with_signature(token, sig.substr(0, len)), policy);
        ck_assert_msg(status == Status::bad_signature, "%s: signature cut to %zu bytes: got %s", c.alg, len, status_name(status));
    }
    // Truncating the base64url text at every length fails as well.
    Segments s = testkeys::split(token);
    for (size_t len = 0; len < s.signature.size(); len++) {
        Segments cut = s;
        cut.signature.resize(len);
        Status status = check_token(cut.join(), policy);
        ck_assert_msg(status == Status::malformed || status == Status::bad_signature,
                      "%s: signature text cut to %zu characters: got %s", c.alg, len, status_name(status));
    }
}
END_TEST

START_TEST(test_signature_extensions_fail)
{
    const FuzzCase &c = fuzz_case(_i);
    const m2m::IssuerPolicy policy = make_policy();
    const std::string token = fuzz_token(c);
    const std::string sig = signature_of(token, c);
    // Trailing and leading bytes appended to a valid signature.
    ck_assert_status(check_token(with_signature(token, sig + std::string(1, '\0')), policy), Status::bad_signature);
    ck_assert_status(check_token(with_signature(token, std::string(1, '\0') + sig), policy), Status::bad_signature);
    ck_assert_status(check_token(with_signature(token, sig + sig), policy), Status::bad_signature);
    ck_assert_status(check_token(with_signature(token, std::string(sig.size(), '\0')), policy),
                     Status::bad_signature);
    ck_assert_status(check_token(with_signature(token, std::string(sig.size(), '\xff')), policy),
                     Status::bad_signature);
}
END_TEST

// RFC 7518 §3.4: an ES256 signature is exactly the 64-octet R || S. Each half
// zero-padded to 33 octets encodes the same numbers; accepting it makes
// tokens malleable (a second valid encoding of the same token).
START_TEST(test_ecdsa_signature_must_be_fixed_width)
{
    const FuzzCase &c = kCases[1];
    const std::string token = fuzz_token(c);
    const std::string sig = signature_of(token, c);
    std::string padded = std::string(1, '\0') + sig.substr(0, 32) + std::string(1, '\0') + sig.substr(32);
    ck_assert_status(check_token(with_signature(token, padded), make_policy()), Status::bad_signature);
}
END_TEST

START_TEST(test_every_payload_bit_flip_fails)
{
    const FuzzCase &c = fuzz_case(_i);
    const m2m::IssuerPolicy policy = make_policy();
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
            Status status = check_token(t.join(), policy);
            ck_assert_msg(status == Status::bad_signature || status == Status::malformed,
                          "%s: payload bit %d of byte %zu flipped: got %s", c.alg, bit, byte, status_name(status));
            if (status == Status::bad_signature) {
                still_json++;
            }
            // verify() either refuses the issuer the flip produced or the signature.
            m2m::Verification v;
            m2m::verify(t.join(), {&policy}, kNow, &v);
            ck_assert_msg(v.status != Status::ok && !v.signature_verified && v.client_id.empty(),
                          "%s: payload bit %d of byte %zu flipped: verify() got %s", c.alg, bit, byte,
                          status_name(v.status));
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
    const m2m::IssuerPolicy policy = make_policy();
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
            Status status = check_token(t.join(), policy, kNow, &verified);
            ck_assert_msg(status != Status::ok && !verified, "%s: header bit %d of byte %zu flipped: got %s", c.alg,
                          bit, byte, status_name(status));
        }
    }
}
END_TEST

Suite *signature_fuzz_suite()
{
    Suite *s = suite_create("signature_fuzz");
    TCase *tc = tcase_create("fuzz");
    tcase_set_timeout(tc, 120);
    const int n = sizeof(kCases) / sizeof(kCases[0]);
    tcase_add_loop_test(tc, test_untouched_tokens_verify, 0, n);
    tcase_add_loop_test(tc, test_every_signature_bit_flip_fails, 0, n);
    tcase_add_loop_test(tc, test_every_signature_truncation_fails, 0, n);
    tcase_add_loop_test(tc, test_signature_extensions_fail, 0, n);
    tcase_add_test(tc, test_ecdsa_signature_must_be_fixed_width);
    tcase_add_loop_test(tc, test_every_payload_bit_flip_fails, 0, n);
    tcase_add_loop_test(tc, test_every_header_bit_flip_fails, 0, n);
    suite_add_tcase(s, tc);
    return s;
}
