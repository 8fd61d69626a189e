// JWK Set parsing: usable RSA and EC keys are kept, everything else is
// skipped with a reason, and only a set that is not a JWK Set at all fails.
#include <cstdlib>
#include <string>
#include <vector>

#include "keys/jwks.h"
#include "test_keys.h"
#include "test_suites.h"
#include "test_support.h"

using m2m::Algorithm;
using m2m::Curve;
using m2m::KeyType;
using m2m::Reason;
using testkeys::jwk_set;
using testkeys::KeyName;
using testkeys::public_jwk;
using namespace testsupport;

namespace {

m2m::JwksParseResult parse(const std::vector<std::string> &jwks) { return m2m::parse_jwks(jwk_set(jwks)); }

// A set holding only `jwk`, which must be skipped; returns the skip line.
std::string assert_only_key_skipped(const std::string &jwk)
{
    m2m::JwksParseResult r = parse({jwk});
    ck_assert_msg(r.status == Reason::jwks_no_usable_key, "status %s for %s", status_name(r.status), jwk.c_str());
    ck_assert_uint_eq(r.keys.keys().size(), 0);
    ck_assert_uint_eq(r.skipped.size(), 1);
    return r.skipped[0];
}

// A set of `jwk` followed by a good RSA key "good": only "good" survives.
void assert_skipped_beside_good_key(const std::string &jwk, const std::string &skip_prefix)
{
    m2m::JwksParseResult r = parse({jwk, public_jwk(KeyName::rsa, "good")});
    ck_assert_status(r.status, Reason::ok);
    ck_assert_uint_eq(r.keys.keys().size(), 1);
    ck_assert(r.keys.keys()[0].kid.has_value());
    ck_assert_std_str_eq(*r.keys.keys()[0].kid, "good");
    ck_assert_uint_eq(r.skipped.size(), 1);
    ck_assert_msg(r.skipped[0].rfind(skip_prefix, 0) == 0, "skip line \"%s\" does not start with \"%s\"",
                  r.skipped[0].c_str(), skip_prefix.c_str());
}

bool contains(const std::string &haystack, const std::string &needle)
{
    return haystack.find(needle) != std::string::npos;
}

// An RSA JWK with the members given as raw text.
std::string rsa_jwk_with(const std::string &members) { return "{\"kty\":\"RSA\",\"kid\":\"r\"," + members + "}"; }
std::string ec_jwk_with(const std::string &members) { return "{\"kty\":\"EC\",\"kid\":\"e\"," + members + "}"; }

}  // namespace

START_TEST(test_rsa_key_parsed)
{
    m2m::JwksParseResult r = parse({public_jwk(KeyName::rsa, "rsa-1")});
    ck_assert_status(r.status, Reason::ok);
    ck_assert_uint_eq(r.skipped.size(), 0);
    ck_assert_uint_eq(r.keys.keys().size(), 1);
    const m2m::Key &key = r.keys.keys()[0];
    ck_assert(key.kid.has_value());
    ck_assert_std_str_eq(*key.kid, "rsa-1");
    ck_assert(key.kty == KeyType::RSA);
    ck_assert(key.crv == Curve::none);
    ck_assert(!key.alg.has_value());
    ck_assert_ptr_nonnull(key.jwk.get());
    cjose_err err;
    ck_assert_int_eq(cjose_jwk_get_kty(key.jwk.get(), &err), CJOSE_JWK_KTY_RSA);
    ck_assert_int_eq(cjose_jwk_get_keysize(key.jwk.get(), &err), 2048);
}
END_TEST

START_TEST(test_ec_keys_parsed)
{
    m2m::JwksParseResult r = parse({
        public_jwk(KeyName::p256, "ec-256"),
        public_jwk(KeyName::p384, "ec-384"),
        public_jwk(KeyName::p521, "ec-521"),
    });
    ck_assert_status(r.status, Reason::ok);
    ck_assert_uint_eq(r.skipped.size(), 0);
    ck_assert_uint_eq(r.keys.keys().size(), 3);
    const char *kids[] = {"ec-256", "ec-384", "ec-521"};
    const Curve curves[] = {Curve::P256, Curve::P384, Curve::P521};
    const cjose_jwk_ec_curve cjose_curves[] = {CJOSE_JWK_EC_P_256, CJOSE_JWK_EC_P_384, CJOSE_JWK_EC_P_521};
    for (size_t i = 0; i < 3; i++) {
        const m2m::Key &key = r.keys.keys()[i];
        ck_assert(key.kid.has_value());
        ck_assert_std_str_eq(*key.kid, kids[i]);
        ck_assert(key.kty == KeyType::EC);
        ck_assert_msg(key.crv == curves[i], "key %zu has the wrong curve", i);
        ck_assert_ptr_nonnull(key.jwk.get());
        cjose_err err;
        ck_assert_int_eq(cjose_jwk_get_kty(key.jwk.get(), &err), CJOSE_JWK_KTY_EC);
        ck_assert_int_eq(cjose_jwk_EC_get_curve(key.jwk.get(), &err), cjose_curves[i]);
    }
}
END_TEST

START_TEST(test_mixed_set_keeps_order)
{
    m2m::JwksParseResult r = m2m::parse_jwks(standard_jwks());
    ck_assert_status(r.status, Reason::ok);
    ck_assert_uint_eq(r.keys.keys().size(), 4);
    ck_assert(r.keys.keys()[0].kty == KeyType::RSA);
    ck_assert(r.keys.keys()[1].crv == Curve::P256);
    ck_assert(r.keys.keys()[2].crv == Curve::P384);
    ck_assert(r.keys.keys()[3].crv == Curve::P521);
}
END_TEST

START_TEST(test_key_without_kid_parsed)
{
    m2m::JwksParseResult r = parse({public_jwk(KeyName::p256, "")});
    ck_assert_status(r.status, Reason::ok);
    ck_assert_uint_eq(r.keys.keys().size(), 1);
    ck_assert(!r.keys.keys()[0].kid.has_value());
}
END_TEST

START_TEST(test_jwk_alg_recorded)
{
    m2m::JwksParseResult r = parse({
        public_jwk(KeyName::rsa, "ps", "\"alg\":\"PS384\",\"use\":\"sig\""),
        public_jwk(KeyName::p521, "es", "\"alg\":\"ES512\",\"key_ops\":[\"verify\"]"),
    });
    ck_assert_status(r.status, Reason::ok);
    ck_assert_uint_eq(r.keys.keys().size(), 2);
    ck_assert(r.keys.keys()[0].alg == Algorithm::PS384);
    ck_assert(r.keys.keys()[1].alg == Algorithm::ES512);
}
END_TEST

START_TEST(test_use_enc_skipped)
{
    assert_skipped_beside_good_key(public_jwk(KeyName::p256, "enc-key", "\"use\":\"enc\""), "");
    std::string why = assert_only_key_skipped(public_jwk(KeyName::rsa, "enc-rsa", "\"use\":\"enc\""));
    ck_assert_msg(contains(why, "use"), "reason \"%s\" does not name \"use\"", why.c_str());
    // "use" that is not a string, or another value, is not "sig" either.
    assert_only_key_skipped(public_jwk(KeyName::rsa, "u1", "\"use\":1"));
    assert_only_key_skipped(public_jwk(KeyName::rsa, "u2", "\"use\":\"SIG\""));
    // use=sig is fine.
    m2m::JwksParseResult ok = parse({public_jwk(KeyName::rsa, "sig", "\"use\":\"sig\"")});
    ck_assert_status(ok.status, Reason::ok);
    ck_assert_uint_eq(ok.keys.keys().size(), 1);
}
END_TEST

START_TEST(test_key_ops_without_verify_skipped)
{
    assert_skipped_beside_good_key(public_jwk(KeyName::p256, "signer", "\"key_ops\":[\"sign\"]"), "");
    std::string why = assert_only_key_skipped(public_jwk(KeyName::rsa, "enc", "\"key_ops\":[\"encrypt\",\"wrapKey\"]"));
    ck_assert_msg(contains(why, "key_ops"), "reason \"%s\" does not name key_ops", why.c_str());
    assert_only_key_skipped(public_jwk(KeyName::rsa, "empty", "\"key_ops\":[]"));
    assert_only_key_skipped(public_jwk(KeyName::rsa, "str", "\"key_ops\":\"verify\""));
    // verify among other operations is enough.
    m2m::JwksParseResult ok = parse({public_jwk(KeyName::rsa, "v", "\"key_ops\":[\"sign\",\"verify\"]")});
    ck_assert_status(ok.status, Reason::ok);
    ck_assert_uint_eq(ok.keys.keys().size(), 1);
}
END_TEST

// jwks.h: one skip line per ignored key, "kid \"x\": reason", so that ops can
// tell which of an issuer's keys was ignored, whatever the reason.
START_TEST(test_skip_line_names_kid)
{
    const std::vector<std::pair<std::string, std::string>> cases = {
        {public_jwk(KeyName::rsa, "enc-key", "\"use\":\"enc\""), "kid \"enc-key\": "},
        {public_jwk(KeyName::p256, "signer", "\"key_ops\":[\"sign\"]"), "kid \"signer\": "},
        {public_jwk(KeyName::rsa_1024, "short"), "kid \"short\": "},
        {public_jwk(KeyName::rsa, "hs", "\"alg\":\"HS256\""), "kid \"hs\": "},
        {"{\"kty\":\"oct\",\"kid\":\"h\",\"k\":\"c2VjcmV0\"}", "kid \"h\": "},
        {public_jwk(KeyName::rsa, "", "\"use\":\"enc\""), "key #0: "},
    };
    for (const auto &c : cases) {
        std::string line = assert_only_key_skipped(c.first);
        ck_assert_msg(line.rfind(c.second, 0) == 0, "skip line \"%s\" does not start with \"%s\"", line.c_str(),
                      c.second.c_str());
    }
}
END_TEST

START_TEST(test_oct_and_okp_skipped)
{
    m2m::JwksParseResult r = parse({
        "{\"kty\":\"oct\",\"kid\":\"hmac\",\"k\":\"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0\",\"alg\":\"HS256\"}",
        public_jwk(KeyName::rsa, "rsa-1"),
        "{\"kty\":\"OKP\",\"kid\":\"ed\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}",
    });
    ck_assert_status(r.status, Reason::ok);
    ck_assert_uint_eq(r.keys.keys().size(), 1);
    ck_assert_std_str_eq(*r.keys.keys()[0].kid, "rsa-1");
    ck_assert_uint_eq(r.skipped.size(), 2);
    ck_assert_msg(r.skipped[0].rfind("kid \"hmac\": ", 0) == 0, "skip line: %s", r.skipped[0].c_str());
    ck_assert_msg(r.skipped[1].rfind("kid \"ed\": ", 0) == 0, "skip line: %s", r.skipped[1].c_str());
    // Without an alg the oct key is still refused for its kty.
    std::string why = assert_only_key_skipped("{\"kty\":\"oct\",\"kid\":\"h2\",\"k\":\"c2VjcmV0\"}");
    ck_assert_msg(contains(why, "oct"), "reason \"%s\" does not name the kty", why.c_str());
    why = assert_only_key_skipped("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}");
    ck_assert_msg(why.rfind("key #0: ", 0) == 0, "skip line without kid: %s", why.c_str());
}
END_TEST

START_TEST(test_missing_members_skipped)
{
    testkeys::JwkParts rsa = testkeys::jwk_parts(KeyName::rsa);
    testkeys::JwkParts ec = testkeys::jwk_parts(KeyName::p256);
    const std::string n = "\"n\":\"" + rsa.n + "\"";
    const std::string e = "\"e\":\"" + rsa.e + "\"";
    const std::string crv = "\"crv\":\"P-256\"";
    const std::string x = "\"x\":\"" + ec.x + "\"";
    const std::string y = "\"y\":\"" + ec.y + "\"";
    // Sanity: the complete hand-built keys are accepted.
    ck_assert_status(parse({rsa_jwk_with(n + "," + e)}).status, Reason::ok);
    ck_assert_status(parse({ec_jwk_with(crv + "," + x + "," + y)}).status, Reason::ok);

    const std::vector<std::string> broken = {
        rsa_jwk_with(e),                                  // no n
        rsa_jwk_with(n),                                  // no e
        rsa_jwk_with("\"n\":\"\"," + e),                  // empty n
        rsa_jwk_with(n + ",\"e\":65537"),                 // e not a string
        ec_jwk_with(x + "," + y),                         // no crv
        ec_jwk_with(crv + "," + y),                       // no x
        ec_jwk_with(crv + "," + x),                       // no y
        ec_jwk_with("\"crv\":256," + x + "," + y),        // crv not a string
        ec_jwk_with(crv + ",\"x\":\"\"," + y),            // empty x
        "{\"kid\":\"nokty\"," + n + "," + e + "}",        // no kty
        "{\"kty\":7,\"kid\":\"numkty\"," + n + "," + e + "}",  // kty not a string
        "{\"kty\":\"RSA\",\"kid\":5," + n + "," + e + "}",     // kid not a string
        "\"just a string\"",                              // not an object
        "[1,2]",                                          // not an object
    };
    for (const auto &jwk : broken) {
        assert_only_key_skipped(jwk);
    }
    assert_skipped_beside_good_key(rsa_jwk_with(e), "kid \"r\": ");
    assert_skipped_beside_good_key("\"x\"", "key #0: ");
}
END_TEST

START_TEST(test_unknown_curve_skipped)
{
    testkeys::JwkParts ec = testkeys::jwk_parts(KeyName::p256);
    const std::string xy = "\"x\":\"" + ec.x + "\",\"y\":\"" + ec.y + "\"";
    for (const char *crv : {"P-192", "secp256k1", "p-256", "P256", "Ed25519", "X25519"}) {
        std::string why = assert_only_key_skipped(ec_jwk_with("\"crv\":\"" + std::string(crv) + "\"," + xy));
        ck_assert_msg(contains(why, crv), "reason \"%s\" does not name curve %s", why.c_str(), crv);
    }
}
END_TEST

START_TEST(test_short_rsa_key_skipped)
{
    std::string why = assert_only_key_skipped(public_jwk(KeyName::rsa_1024, "short"));
    ck_assert_msg(why.rfind("kid \"short\": ", 0) == 0, "skip line: %s", why.c_str());
    ck_assert_msg(contains(why, "2048"), "reason \"%s\" does not name the minimum", why.c_str());
    assert_skipped_beside_good_key(public_jwk(KeyName::rsa_1024, "short"), "kid \"short\": ");
}
END_TEST

// n and e as given (base64url), around the real key's other half.
std::string rsa_numbers(const std::string &n, const std::string &e)
{
    return rsa_jwk_with("\"n\":\"" + n + "\",\"e\":\"" + e + "\"");
}

START_TEST(test_broken_rsa_numbers_skipped)
{
    testkeys::JwkParts parts = testkeys::jwk_parts(KeyName::rsa);
    // With e = 1 a signature is the padded digest itself: anyone could forge.
    for (const char *e : {"AQ", "AA", "Ag", "AAE", "AQAAAAAB"}) {
        std::string why = assert_only_key_skipped(rsa_numbers(parts.n, e));
        ck_assert_msg(contains(why, "exponent"), "e=%s: %s", e, why.c_str());
    }
    std::string n;
    ck_assert(testkeys::b64url_decode(parts.n, &n));
    std::string even = n;
    even.back() = static_cast<char>(even.back() & ~1);
    ck_assert_msg(contains(assert_only_key_skipped(rsa_numbers(testkeys::b64url_encode(even), parts.e)), "even"),
                  "even modulus accepted");
    // 2041 bits in 256 bytes: cjose rounds the size up to 2048, we count.
    std::string short_top = n;
    short_top[0] = 0x01;
    ck_assert_msg(contains(assert_only_key_skipped(rsa_numbers(testkeys::b64url_encode(short_top), parts.e)), "2048"),
                  "2041-bit modulus accepted");
    // Leading zero bytes do not count towards the length.
    std::string padded = std::string(1, '\0') + n;
    m2m::JwksParseResult r = parse({rsa_numbers(testkeys::b64url_encode(padded), parts.e)});
    ck_assert_status(r.status, Reason::ok);
    ck_assert_uint_eq(r.keys.keys()[0].signature_size, 256);
}
END_TEST

START_TEST(test_skip_line_escapes_control_bytes)
{
    // A remote key set must not be able to write its own lines into error.log.
    std::string why = assert_only_key_skipped("{\"kty\":\"oct\",\"kid\":\"x\\n2024/01/01 [emerg] forged\\\\\",\"k\":\"AA\"}");
    ck_assert_msg(why.find('\n') == std::string::npos, "raw newline in: %s", why.c_str());
    ck_assert_msg(contains(why, "x\\x0a2024/01/01 [emerg] forged\\x5c"), "not escaped: %s", why.c_str());
    // So are DEL, C1 controls and U+2028/2029, which log viewers break lines at;
    // other non-ASCII text stays.
    why = assert_only_key_skipped("{\"kty\":\"oct\",\"kid\":\"a\\u007fb\\u0085c\\u2028d\\u2029e\\u00e9\",\"k\":\"AA\"}");
    ck_assert_msg(contains(why, "a\\x7fb\\xc2\\x85c\\xe2\\x80\\xa8d\\xe2\\x80\\xa9e\xc3\xa9"), "not escaped: %s", why.c_str());
    std::string long_kid(1000, 'k');
    std::string cut = assert_only_key_skipped("{\"kty\":\"oct\",\"kid\":\"" + long_kid + "\",\"k\":\"AA\"}");
    ck_assert_uint_le(cut.size(), 131);
}
END_TEST

START_TEST(test_private_member_imports_public_half)
{
    for (KeyName name : {KeyName::rsa, KeyName::p384}) {
        testkeys::JwkParts parts = testkeys::jwk_parts(name);
        m2m::JwksParseResult r = parse({public_jwk(name, "leaky", "\"d\":\"" + parts.d + "\"")});
        ck_assert_status(r.status, Reason::ok);
        ck_assert_uint_eq(r.keys.keys().size(), 1);
        ck_assert_uint_eq(r.skipped.size(), 0);
        cjose_err err;
        // Exported with private members, the imported key still has no "d".
        char *text = cjose_jwk_to_json(r.keys.keys()[0].jwk.get(), true, &err);
        ck_assert_ptr_nonnull(text);
        std::string exported(text);
        free(text);
        ck_assert_msg(!contains(exported, "\"d\""), "private half imported: %s", exported.c_str());
        const std::string public_member = parts.kty == "RSA" ? parts.n : parts.x;
        ck_assert_msg(contains(exported, public_member), "public half missing: %s", exported.c_str());
    }
}
END_TEST

START_TEST(test_alg_not_fitting_key_skipped)
{
    const std::vector<std::string> misfits = {
        public_jwk(KeyName::rsa, "a1", "\"alg\":\"ES256\""),
        public_jwk(KeyName::p256, "a2", "\"alg\":\"ES384\""),
        public_jwk(KeyName::p384, "a3", "\"alg\":\"ES256\""),
        public_jwk(KeyName::p521, "a4", "\"alg\":\"RS512\""),
        public_jwk(KeyName::rsa, "a5", "\"alg\":\"HS256\""),    // HMAC: never
        public_jwk(KeyName::rsa, "a6", "\"alg\":\"RSA-OAEP\""),  // encryption alg
        public_jwk(KeyName::rsa, "a7", "\"alg\":\"rs256\""),     // names are case-sensitive
        public_jwk(KeyName::rsa, "a8", "\"alg\":256"),
    };
    for (const auto &jwk : misfits) {
        assert_only_key_skipped(jwk);
    }
    assert_skipped_beside_good_key(misfits[0], "kid \"a1\": ");
}
END_TEST

START_TEST(test_not_a_jwk_set)
{
    const char *bad[] = {
        "",
        "not json",
        "{\"keys\":[",
        "[]",
        "{}",
        "{\"keys\":{}}",
        "{\"keys\":\"abc\"}",
        "{\"keys\":null}",
        "{\"Keys\":[]}",
        "{\"keys\":[],\"keys\":[]}",  // duplicate member
    };
    for (const char *text : bad) {
        m2m::JwksParseResult r = m2m::parse_jwks(text);
        ck_assert_msg(r.status == Reason::jwks_malformed, "'%s': got %s", text, status_name(r.status));
        ck_assert_uint_eq(r.keys.keys().size(), 0);
    }
    // A valid set embedded after junk is still junk.
    std::string with_junk = standard_jwks() + "x";
    ck_assert_status(m2m::parse_jwks(with_junk).status, Reason::jwks_malformed);
}
END_TEST

START_TEST(test_no_usable_key)
{
    m2m::JwksParseResult empty = m2m::parse_jwks("{\"keys\":[]}");
    ck_assert_status(empty.status, Reason::jwks_no_usable_key);
    ck_assert_uint_eq(empty.skipped.size(), 0);

    m2m::JwksParseResult r = parse({
        public_jwk(KeyName::rsa, "enc", "\"use\":\"enc\""),
        "{\"kty\":\"oct\",\"kid\":\"h\",\"k\":\"c2VjcmV0\"}",
        public_jwk(KeyName::rsa_1024, "short"),
    });
    ck_assert_status(r.status, Reason::jwks_no_usable_key);
    ck_assert_uint_eq(r.keys.keys().size(), 0);
    ck_assert_uint_eq(r.skipped.size(), 3);
}
END_TEST

START_TEST(test_ec_point_not_on_curve_skipped)
{
    testkeys::JwkParts ec = testkeys::jwk_parts(KeyName::p256);
    std::string y;
    ck_assert(testkeys::b64url_decode(ec.y, &y));
    y[y.size() - 1] = static_cast<char>(y[y.size() - 1] ^ 1);  // (x, y^1) is not on P-256
    std::string jwk = ec_jwk_with("\"crv\":\"P-256\",\"x\":\"" + ec.x + "\",\"y\":\"" + testkeys::b64url_encode(y) + "\"");
    assert_only_key_skipped(jwk);
    assert_skipped_beside_good_key(jwk, "kid \"e\": ");
    // A P-384 point labelled P-256 is not a P-256 point either.
    testkeys::JwkParts p384 = testkeys::jwk_parts(KeyName::p384);
    assert_only_key_skipped(ec_jwk_with("\"crv\":\"P-256\",\"x\":\"" + p384.x + "\",\"y\":\"" + p384.y + "\""));
}
END_TEST

// Issue 6, item 1: cjose's base64 decoder asserts (SIGABRT, a dead nginx) on
// an embedded '='. Every coordinate is decoded strictly by us first, at the
// curve's exact width, and a bad one skips the key like any other.
START_TEST(test_bad_ec_coordinates_skipped)
{
    testkeys::JwkParts ec = testkeys::jwk_parts(KeyName::p256);
    auto p256 = [](const std::string &x, const std::string &y) {
        return ec_jwk_with("\"crv\":\"P-256\",\"x\":\"" + x + "\",\"y\":\"" + y + "\"");
    };
    std::string x;
    ck_assert(testkeys::b64url_decode(ec.x, &x));
    const std::string pad_inside = "AAAAA=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    const std::vector<std::pair<std::string, std::string>> broken = {
        {pad_inside, ec.y},                                   // the crash of the review
        {ec.x, pad_inside},
        {ec.x + "=", ec.y},                                   // padded
        {ec.x.substr(0, 42) + "+", ec.y},                     // standard base64
        {ec.x.substr(0, 20) + " " + ec.x.substr(21), ec.y},   // whitespace
        {testkeys::b64url_encode(x.substr(1)), ec.y},         // 31 bytes
        {testkeys::b64url_encode(std::string(1, '\0') + x), ec.y},  // 33 bytes
        {testkeys::b64url_encode(x + x), ec.y},               // 64 bytes
    };
    for (const auto &xy : broken) {
        std::string why = assert_only_key_skipped(p256(xy.first, xy.second));
        ck_assert_msg(contains(why, "EC \""), "x=%s: reason \"%s\"", xy.first.c_str(), why.c_str());
        assert_skipped_beside_good_key(p256(xy.first, xy.second), "kid \"e\": ");
    }
    // A P-384 key's 48-byte coordinates under crv P-521 are refused by width.
    testkeys::JwkParts p384 = testkeys::jwk_parts(KeyName::p384);
    std::string why = assert_only_key_skipped(ec_jwk_with("\"crv\":\"P-521\",\"x\":\"" + p384.x + "\",\"y\":\"" + p384.y + "\""));
    ck_assert_msg(contains(why, "48 bytes, not 66"), "reason \"%s\"", why.c_str());
}
END_TEST

START_TEST(test_key_fits)
{
    std::shared_ptr<const m2m::KeySet> keys = load_keys(jwk_set({
        public_jwk(KeyName::rsa, "rsa"),
        public_jwk(KeyName::p384, "p384"),
        public_jwk(KeyName::rsa, "rs384", "\"alg\":\"RS384\""),
    }));
    const m2m::Key &rsa = keys->keys()[0];
    const m2m::Key &p384 = keys->keys()[1];
    const m2m::Key &rs384 = keys->keys()[2];
    for (Algorithm alg : {Algorithm::RS256, Algorithm::RS384, Algorithm::RS512, Algorithm::PS256, Algorithm::PS384,
                          Algorithm::PS512}) {
        ck_assert_msg(rsa.fits(alg), "RSA key should fit %s", m2m::algorithm_name(alg));
        ck_assert_msg(!p384.fits(alg), "P-384 key should not fit %s", m2m::algorithm_name(alg));
        ck_assert_msg(rs384.fits(alg) == (alg == Algorithm::RS384), "alg=RS384 key vs %s", m2m::algorithm_name(alg));
    }
    ck_assert(!rsa.fits(Algorithm::ES256));
    ck_assert(!p384.fits(Algorithm::ES256));
    ck_assert(p384.fits(Algorithm::ES384));
    ck_assert(!p384.fits(Algorithm::ES512));
}
END_TEST

START_TEST(test_share_keys_moves_the_set)
{
    m2m::JwksParseResult r = parse({public_jwk(KeyName::rsa, "a"), public_jwk(KeyName::p256, "b")});
    ck_assert_status(r.status, Reason::ok);
    const cjose_jwk_t *first = r.keys.keys()[0].jwk.get();
    std::shared_ptr<const m2m::KeySet> shared = m2m::share_keys(std::move(r.keys));
    ck_assert_ptr_nonnull(shared.get());
    ck_assert_uint_eq(shared->keys().size(), 2);
    ck_assert_ptr_eq(shared->keys()[0].jwk.get(), first);  // moved, not imported again
}
END_TEST

Suite *jwks_suite()
{
    Suite *s = suite_create("jwks");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_rsa_key_parsed);
    tcase_add_test(tc, test_ec_keys_parsed);
    tcase_add_test(tc, test_mixed_set_keeps_order);
    tcase_add_test(tc, test_key_without_kid_parsed);
    tcase_add_test(tc, test_jwk_alg_recorded);
    tcase_add_test(tc, test_use_enc_skipped);
    tcase_add_test(tc, test_key_ops_without_verify_skipped);
    tcase_add_test(tc, test_skip_line_names_kid);
    tcase_add_test(tc, test_oct_and_okp_skipped);
    tcase_add_test(tc, test_missing_members_skipped);
    tcase_add_test(tc, test_unknown_curve_skipped);
    tcase_add_test(tc, test_short_rsa_key_skipped);
    tcase_add_test(tc, test_private_member_imports_public_half);
    tcase_add_test(tc, test_alg_not_fitting_key_skipped);
    tcase_add_test(tc, test_not_a_jwk_set);
    tcase_add_test(tc, test_no_usable_key);
    tcase_add_test(tc, test_ec_point_not_on_curve_skipped);
    tcase_add_test(tc, test_key_fits);
    tcase_add_test(tc, test_bad_ec_coordinates_skipped);
    tcase_add_test(tc, test_broken_rsa_numbers_skipped);
    tcase_add_test(tc, test_skip_line_escapes_control_bytes);
    tcase_add_test(tc, test_share_keys_moves_the_set);
    suite_add_tcase(s, tc);
    return s;
}
