// Token::parse: the compact serialization, its size limit and the strict
// shape of header and payload, before any key is involved.
#include <string>
#include <vector>

#include "test_keys.h"
#include "test_suites.h"
#include "test_support.h"
#include "token/token.h"

using m2m::Reason;
using m2m::Token;
using testkeys::b64url_encode;
using testkeys::KeyName;
using testkeys::Segments;
using namespace testsupport;

namespace {

Reason parse(const std::string &compact)
{
    Token token;
    return Token::parse(compact, &token);
}

std::string good_token() { return testkeys::make_token("RS256", KeyName::rsa, "rsa-1", claims_json()); }

// A token with the given header and payload JSON texts, validly signed.
std::string token_with(const std::string &header, const std::string &payload)
{
    return testkeys::sign_compact("RS256", KeyName::rsa, header, payload);
}

std::string std_header() { return testkeys::header_json("RS256", "rsa-1"); }

void assert_parse(const std::string &compact, Reason want, const char *what)
{
    Reason got = parse(compact);
    ck_assert_msg(got == want, "%s: got %s, want %s", what, status_name(got), status_name(want));
}

// Sets the lowest unused bit of the last character of a segment whose
// decoded length is not a multiple of 3 (so it has unused bits).
std::string with_trailing_bit(const std::string &segment)
{
    static const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    ck_assert_msg(segment.size() % 4 == 2 || segment.size() % 4 == 3, "segment has no unused bits");
    std::string out = segment;
    size_t v = alphabet.find(out.back());
    ck_assert_uint_eq(v & 1, 0);
    out.back() = alphabet[v | 1];
    return out;
}

}  // namespace

START_TEST(test_parse_ok)
{
    std::string compact = good_token();
    Token token;
    ck_assert_status(Token::parse(compact, &token), Reason::ok);
    ck_assert_std_str_eq(token.alg(), "RS256");
    ck_assert(token.has_kid());
    ck_assert_std_str_eq(token.kid(), "rsa-1");
    ck_assert_std_str_eq(token.issuer(), kIssuer);
    ck_assert_std_str_eq(token.compact(), compact);
    ck_assert_ptr_nonnull(token.header());
    ck_assert_ptr_nonnull(token.claims());
    ck_assert_std_str_eq(json_string_value(json_object_get(token.header(), "typ")), "at+jwt");
    ck_assert_int_eq(json_integer_value(json_object_get(token.claims(), "exp")), kNow + 600);
}
END_TEST

START_TEST(test_parse_without_kid_and_iss)
{
    std::string compact = testkeys::make_token("ES256", KeyName::p256, "", claims_json({{"iss", ""}}));
    Token token;
    ck_assert_status(Token::parse(compact, &token), Reason::ok);
    ck_assert(!token.has_kid());
    ck_assert_std_str_eq(token.kid(), "");
    ck_assert_std_str_eq(token.issuer(), "");
    ck_assert_std_str_eq(token.alg(), "ES256");
}
END_TEST

START_TEST(test_token_size_limit)
{
    ck_assert_uint_eq(m2m::kMaxTokenSize, 8192);
    // Junk over the limit is refused for its size, before anything else.
    assert_parse(std::string(8193, 'a'), Reason::token_too_large, "8193 bytes of junk");
    assert_parse(std::string(100000, '.'), Reason::token_too_large, "100000 dots");
    assert_parse(std::string(8192, 'a'), Reason::malformed, "8192 bytes of junk");

    // Well-formed, signed tokens of exactly 8192 and 8193 bytes.
    std::string at_limit, over_limit;
    for (int hpad = 0; hpad < 4 && (at_limit.empty() || over_limit.empty()); hpad++) {
        std::string header = testkeys::header_json("RS256", "rsa-1", "\"x-pad\":\"" + std::string(hpad, 'h') + "\"");
        for (size_t fill = 5000; fill < 6500 && (at_limit.empty() || over_limit.empty()); fill++) {
            std::string payload = claims_json({{"filler", q(std::string(fill, 'f'))}});
            size_t size = b64url_encode(header).size() + b64url_encode(payload).size() + 2 + 342;
            if (size == 8192 && at_limit.empty()) {
                at_limit = token_with(header, payload);
            } else if (size == 8193 && over_limit.empty()) {
                over_limit = token_with(header, payload);
            }
        }
    }
    ck_assert_uint_eq(at_limit.size(), 8192);
    ck_assert_uint_eq(over_limit.size(), 8193);
    assert_parse(at_limit, Reason::ok, "8192-byte token");
    assert_parse(over_limit, Reason::token_too_large, "8193-byte token");
    // The 8192-byte token is a fully valid token, not just a parseable one.
    TestIssuer policy = make_policy();
    ck_assert_status(check_token(at_limit, policy), Reason::ok);
    // And through verify() the over-size one never gets further.
    Verdict v = verify(over_limit, {&policy});
    ck_assert_status(v.status, Reason::token_too_large);
    ck_assert_ptr_null(v.issuer);
}
END_TEST

START_TEST(test_jwe_refused)
{
    // A compact JWE: header.encrypted_key.iv.ciphertext.tag
    std::string jwe = b64url_encode("{\"alg\":\"RSA-OAEP\",\"enc\":\"A256GCM\"}") + "." + b64url_encode("key") + "." +
                      b64url_encode("iv-iv-iv-iv") + "." + b64url_encode("ciphertext") + "." + b64url_encode("tag");
    assert_parse(jwe, Reason::jwe_not_supported, "five-part JWE");
    assert_parse("a.b.c.d.e", Reason::jwe_not_supported, "five parts of junk");
    assert_parse("....", Reason::jwe_not_supported, "five empty parts");
    assert_parse(good_token() + ".x.y", Reason::jwe_not_supported, "JWS with two parts appended");
    assert_parse("a.b.c.d.e.f", Reason::malformed, "six parts");
}
END_TEST

START_TEST(test_wrong_number_of_parts)
{
    Segments s = testkeys::split(good_token());
    assert_parse("", Reason::malformed, "empty string");
    assert_parse(s.header, Reason::malformed, "one part");
    assert_parse(s.header + "." + s.payload, Reason::malformed, "two parts");
    assert_parse(s.header + "." + s.payload + ".", Reason::ok, "three parts, empty signature");
    assert_parse(s.join() + "." + s.signature, Reason::malformed, "four parts");
    assert_parse(s.join() + ".", Reason::malformed, "four parts, last empty");
    assert_parse(s.header + "." + s.payload + "." + s.signature + "." + s.signature + "." + s.signature + "." +
                     s.signature,
                 Reason::malformed, "seven parts");
}
END_TEST

START_TEST(test_empty_parts)
{
    Segments s = testkeys::split(good_token());
    assert_parse("..", Reason::malformed, "all parts empty");
    assert_parse("." + s.payload + "." + s.signature, Reason::malformed, "empty header");
    assert_parse(s.header + ".." + s.signature, Reason::malformed, "empty payload");
    // An unsecured JWS parses; verify() refuses it (see test_verify).
    assert_parse(s.header + "." + s.payload + ".", Reason::ok, "empty signature");
    // Sanity: the untouched token parses.
    assert_parse(s.join(), Reason::ok, "untouched token");
}
END_TEST

START_TEST(test_bad_base64url_characters)
{
    Segments s = testkeys::split(good_token());
    for (const char *bad : {"+", "/", "*", " ", "%", "\n", "\xc3\xa9"}) {
        Segments h = s, p = s, g = s;
        h.header.insert(4, bad);
        p.payload.insert(4, bad);
        g.signature.insert(4, bad);
        // Keep the lengths legal so that the character, not the length, is the fault.
        h.header.erase(8, std::string(bad).size());
        p.payload.erase(8, std::string(bad).size());
        g.signature.erase(8, std::string(bad).size());
        assert_parse(h.join(), Reason::malformed, bad);
        assert_parse(p.join(), Reason::malformed, bad);
        assert_parse(g.join(), Reason::malformed, bad);
    }
    // Standard base64 of the same bytes is not base64url.
    std::string sig;
    ck_assert(testkeys::b64url_decode(s.signature, &sig));
    Segments std64 = s;
    for (char &c : std64.signature) {
        c = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    if (std64.signature != s.signature) {
        assert_parse(std64.join(), Reason::malformed, "base64 alphabet in signature");
    }
}
END_TEST

START_TEST(test_base64_padding_refused)
{
    // Header and payload padded with JSON whitespace so that no segment is a
    // multiple of 4 characters long (RS256 signatures are 342 characters).
    std::string header = std_header();
    while (header.size() % 3 == 0) {
        header.insert(header.size() - 1, " ");
    }
    std::string payload = claims_json();
    while (payload.size() % 3 == 0) {
        payload.insert(payload.size() - 1, " ");
    }
    Segments s = testkeys::split(token_with(header, payload));
    ck_assert_uint_ne(s.header.size() % 4, 0);
    ck_assert_uint_ne(s.payload.size() % 4, 0);
    ck_assert_uint_ne(s.signature.size() % 4, 0);
    assert_parse(s.join(), Reason::ok, "unpadded");
    auto pad = [](const std::string &seg) { return seg + std::string((4 - seg.size() % 4) % 4, '='); };
    Segments h = s, p = s, g = s;
    h.header = pad(h.header);
    p.payload = pad(p.payload);
    g.signature = pad(g.signature);
    assert_parse(h.join(), Reason::malformed, "padded header");
    assert_parse(p.join(), Reason::malformed, "padded payload");
    assert_parse(g.join(), Reason::malformed, "padded signature");
}
END_TEST

START_TEST(test_nonzero_trailing_bits_refused)
{
    std::string header = std_header();
    while (header.size() % 3 == 0) {
        header.insert(header.size() - 1, " ");
    }
    std::string payload = claims_json();
    while (payload.size() % 3 == 0) {
        payload.insert(payload.size() - 1, " ");
    }
    Segments s = testkeys::split(token_with(header, payload));
    assert_parse(s.join(), Reason::ok, "canonical encoding");
    Segments h = s, p = s, g = s;
    h.header = with_trailing_bit(s.header);
    p.payload = with_trailing_bit(s.payload);
    g.signature = with_trailing_bit(s.signature);  // 256 bytes: 4 unused bits
    assert_parse(h.join(), Reason::malformed, "header with trailing bits");
    assert_parse(p.join(), Reason::malformed, "payload with trailing bits");
    assert_parse(g.join(), Reason::malformed, "signature with trailing bits");
}
END_TEST

START_TEST(test_header_not_a_json_object)
{
    const std::string payload = claims_json();
    for (const char *header : {"[\"RS256\"]", "[{\"alg\":\"RS256\"}]", "\"RS256\"", "null", "42", "true",
                               "{\"alg\":\"RS256\"", "{\"alg\":\"RS256\"}x", "{\"alg\":\"RS256\"}{}", "{alg:\"RS256\"}",
                               "{'alg':'RS256'}", ""}) {
        assert_parse(token_with(header, payload), Reason::malformed, header);
    }
}
END_TEST

START_TEST(test_payload_not_a_json_object)
{
    const std::string header = std_header();
    for (const char *payload : {"[]", "[{\"iss\":\"x\"}]", "\"claims\"", "null", "1700000000", "{\"exp\":1",
                                "{\"exp\":1}}", "{\"exp\":01}", "{\"exp\":NaN}", "{\"exp\":1,}", "not json"}) {
        assert_parse(token_with(header, payload), Reason::malformed, payload);
    }
}
END_TEST

START_TEST(test_invalid_utf8_refused)
{
    const std::string header = std_header();
    const char *bad_strings[] = {
        "\xff",              // never valid
        "\xc0\xaf",          // overlong '/'
        "\xe0\x80\xaf",      // overlong, three bytes
        "\xed\xa0\x80",      // UTF-16 surrogate
        "\xc3",              // truncated sequence
        "a\x80z",            // lone continuation byte
        "\xf4\x90\x80\x80",  // beyond U+10FFFF
    };
    for (const char *bad : bad_strings) {
        std::string payload = claims_json({{"sub", "\"" + std::string(bad) + "\""}});
        assert_parse(token_with(header, payload), Reason::malformed, "invalid UTF-8 in payload");
        std::string bad_header = testkeys::header_json("RS256", "rsa-1", "\"x\":\"" + std::string(bad) + "\"");
        assert_parse(token_with(bad_header, claims_json()), Reason::malformed, "invalid UTF-8 in header");
    }
    // A NUL escaped into a string is refused too.
    assert_parse(token_with(header, claims_json({{"sub", "\"a\\u0000b\""}})), Reason::malformed, "NUL in claim");
    // Valid multi-byte UTF-8 is fine.
    assert_parse(token_with(header, claims_json({{"sub", "\"caf\xc3\xa9 \xf0\x9f\x94\x91\""}})), Reason::ok,
                 "valid UTF-8");
}
END_TEST

START_TEST(test_duplicate_members_refused)
{
    assert_parse(token_with("{\"alg\":\"RS256\",\"kid\":\"rsa-1\",\"alg\":\"none\"}", claims_json()), Reason::malformed,
                 "duplicate alg");
    assert_parse(token_with("{\"alg\":\"RS256\",\"kid\":\"rsa-1\",\"kid\":\"other\"}", claims_json()),
                 Reason::malformed, "duplicate kid");
    std::string payload = claims_json();
    payload.insert(payload.size() - 1, ",\"iss\":\"https://evil.example/\"");
    assert_parse(token_with(std_header(), payload), Reason::malformed, "duplicate iss");
    payload = claims_json();
    payload.insert(payload.size() - 1, ",\"exp\":9999999999");
    assert_parse(token_with(std_header(), payload), Reason::malformed, "duplicate exp");
    assert_parse(token_with(std_header(), claims_json({{"nested", "{\"a\":1,\"a\":2}"}})), Reason::malformed,
                 "duplicate member in a nested object");
}
END_TEST

START_TEST(test_alg_missing_or_not_a_string)
{
    const std::string payload = claims_json();
    for (const char *header : {"{\"kid\":\"rsa-1\"}", "{\"alg\":256,\"kid\":\"rsa-1\"}", "{\"alg\":null}",
                               "{\"alg\":[\"RS256\"]}", "{\"alg\":{\"name\":\"RS256\"}}", "{\"alg\":true}",
                               "{\"ALG\":\"RS256\"}", "{}"}) {
        assert_parse(token_with(header, payload), Reason::malformed, header);
    }
}
END_TEST

START_TEST(test_kid_not_a_string)
{
    const std::string payload = claims_json();
    for (const char *header : {"{\"alg\":\"RS256\",\"kid\":1}", "{\"alg\":\"RS256\",\"kid\":null}",
                               "{\"alg\":\"RS256\",\"kid\":[\"rsa-1\"]}", "{\"alg\":\"RS256\",\"kid\":{}}",
                               "{\"alg\":\"RS256\",\"kid\":false}"}) {
        assert_parse(token_with(header, payload), Reason::malformed, header);
    }
}
END_TEST

START_TEST(test_iss_not_a_string)
{
    for (const char *iss : {"42", "null", "[\"https://issuer.example.com/\"]", "{}", "true"}) {
        assert_parse(token_with(std_header(), claims_json({{"iss", iss}})), Reason::malformed_claim, iss);
    }
}
END_TEST

Suite *token_suite()
{
    Suite *s = suite_create("token");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_parse_ok);
    tcase_add_test(tc, test_parse_without_kid_and_iss);
    tcase_add_test(tc, test_token_size_limit);
    tcase_add_test(tc, test_jwe_refused);
    tcase_add_test(tc, test_wrong_number_of_parts);
    tcase_add_test(tc, test_empty_parts);
    tcase_add_test(tc, test_bad_base64url_characters);
    tcase_add_test(tc, test_base64_padding_refused);
    tcase_add_test(tc, test_nonzero_trailing_bits_refused);
    tcase_add_test(tc, test_header_not_a_json_object);
    tcase_add_test(tc, test_payload_not_a_json_object);
    tcase_add_test(tc, test_invalid_utf8_refused);
    tcase_add_test(tc, test_duplicate_members_refused);
    tcase_add_test(tc, test_alg_missing_or_not_a_string);
    tcase_add_test(tc, test_kid_not_a_string);
    tcase_add_test(tc, test_iss_not_a_string);
    suite_add_tcase(s, tc);
    return s;
}
