// Forged and re-encoded tokens. Unlike the parse tests in test_token.cpp,
// every token here is validly signed over exactly the bytes it carries (by
// the issuer's own key unless a test says otherwise), so the only reason
// left to refuse it is the one part under test. Each is refused, or handled
// as RFC 7515 (JWS), RFC 7519 (JWT), RFC 4648 (base64url) and RFC 8259
// (JSON) say; never a crash, never an accept that those RFCs rule out.
#include <cctype>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

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

const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


// A token over exactly these header and payload texts, signed as `alg` with `key`.
std::string signed_token(const std::string &header, const std::string &payload, const std::string &alg = "RS256",
                         KeyName key = KeyName::rsa)
{
    return testkeys::sign_compact(alg, key, header, payload);
}

std::string rs256_header(const std::string &extra = "") { return testkeys::header_json("RS256", "rsa-1", extra); }

// The standard RS256 token of the standard issuer; it verifies.
std::string good_token() { return signed_token(rs256_header(), claims_json()); }

// JSON text grown with insignificant whitespace until its length is not a
// multiple of 3, so that its base64url form ends in a partial group: two or
// four unused bits in the last character, and '=' padding in standard base64.
std::string unaligned(std::string json)
{
    while (json.size() % 3 == 0) {
        json.insert(json.size() - 1, " ");
    }
    return json;
}

// `object` with `member` (raw "name":value text) appended as its last member.
std::string with_member(const std::string &object, const std::string &member)
{
    return object.substr(0, object.size() - 1) + "," + member + "}";
}

// The refusals made before the signature is known to be good.
bool refused_before_signature(Reason status)
{
    switch (status) {
    case Reason::token_too_large:
    case Reason::jwe_not_supported:
    case Reason::malformed:
    case Reason::alg_not_allowed:
    case Reason::unsupported_crit:
    case Reason::wrong_typ:
    case Reason::unknown_kid:
    case Reason::key_alg_mismatch:
    case Reason::bad_signature:
        return true;
    default:
        return false;
    }
}

// check_token() against the standard issuer, compared with `want`.
void expect(const std::string &token, Reason want, const std::string &what)
{
    bool verified = true;
    Reason got = check_token(token, make_policy(), kNow, &verified);
    ck_assert_msg(got == want, "%s: got %s, want %s", what.c_str(), status_name(got), status_name(want));
    ck_assert_msg(!refused_before_signature(got) || !verified, "%s: %s, yet the signature verified", what.c_str(),
                  status_name(got));
}

// verify(), the module's path, against the standard issuer. No client id or
// scopes may come out of a token whose signature did not verify.
void expect_verify(const std::string &token, Reason want, const std::string &what)
{
    const TestIssuer policy = make_policy();
    Verdict v = verify(token, {&policy});
    ck_assert_msg(v.status == want, "%s: verify() got %s, want %s", what.c_str(), status_name(v.status),
                  status_name(want));
    ck_assert_msg(!refused_before_signature(v.status) || !v.token,
                  "%s: %s, yet a verified token came out of verify()", what.c_str(), status_name(v.status));
    ck_assert_msg(v.status != Reason::ok || v.token, "%s: ok without a verified token", what.c_str());
}

// Characters 0..31 and 127 as \xNN, so that messages stay on one line.
std::string printable(const std::string &s)
{
    std::string out;
    for (unsigned char c : s) {
        if (c < 0x20 || c == 0x7f) {
            static const char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    return out.size() > 80 ? out.substr(0, 77) + "..." : out;
}

std::string hmac(const EVP_MD *md, const std::string &secret, const std::string &input)
{
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    ck_assert(HMAC(md, secret.data(), static_cast<int>(secret.size()),
                   reinterpret_cast<const unsigned char *>(input.data()), input.size(), out, &len) != nullptr);
    return std::string(reinterpret_cast<char *>(out), len);
}

// The public key as PEM SubjectPublicKeyInfo text and as DER bytes: what an
// HS256 key-confusion attack feeds HMAC, since the verifier holds exactly that.
std::string public_pem(KeyName name)
{
    BIO *bio = BIO_new(BIO_s_mem());
    ck_assert(bio != nullptr && PEM_write_bio_PUBKEY(bio, testkeys::pkey(name)) == 1);
    char *data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    std::string pem(data, static_cast<size_t>(len));
    BIO_free(bio);
    return pem;
}

std::string public_der(KeyName name)
{
    unsigned char *der = nullptr;
    int len = i2d_PUBKEY(testkeys::pkey(name), &der);
    ck_assert(len > 0);
    std::string out(reinterpret_cast<char *>(der), static_cast<size_t>(len));
    OPENSSL_free(der);
    return out;
}

// A self-signed X.509 certificate for `name`, as the standard-base64 DER that
// a JWS "x5c" member carries (RFC 7515 §4.1.6).
std::string self_signed_cert_base64(KeyName name)
{
    EVP_PKEY *key = testkeys::pkey(name);
    X509 *cert = X509_new();
    ck_assert(cert != nullptr);
    X509_NAME *subject = X509_get_subject_name(cert);
    ck_assert(X509_set_version(cert, 2) == 1 && ASN1_INTEGER_set(X509_get_serialNumber(cert), 1) == 1 &&
              X509_gmtime_adj(X509_getm_notBefore(cert), -86400) != nullptr &&
              X509_gmtime_adj(X509_getm_notAfter(cert), 86400L * 365 * 30) != nullptr &&
              X509_set_pubkey(cert, key) == 1 &&
              X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                                         reinterpret_cast<const unsigned char *>("issuer.example.com"), -1, -1,
                                         0) == 1 &&
              X509_set_issuer_name(cert, subject) == 1 && X509_sign(cert, key, EVP_sha256()) > 0);
    unsigned char *der = nullptr;
    int len = i2d_X509(cert, &der);
    X509_free(cert);
    ck_assert(len > 0);
    std::string b64(4 * ((static_cast<size_t>(len) + 2) / 3) + 1, '\0');
    int written = EVP_EncodeBlock(reinterpret_cast<unsigned char *>(&b64[0]), der, len);
    OPENSSL_free(der);
    b64.resize(static_cast<size_t>(written));
    return b64;
}

// `n` nested JSON arrays around 0: [[[0]]] for n = 3.
std::string nested_arrays(size_t n) { return std::string(n, '[') + "0" + std::string(n, ']'); }

// `n` nested objects: {"a":{"a":0}} for n = 2.
std::string nested_objects(size_t n)
{
    std::string out;
    for (size_t i = 0; i < n; i++) {
        out += "{\"a\":";
    }
    return out + "0" + std::string(n, '}');
}

}  // namespace

// ---- base64url re-encodings (RFC 7515 §2: base64url without padding, and
// RFC 7515 §7.1: no whitespace in the compact serialization) ----

START_TEST(test_padding_refused)
{
    // Unaligned header and payload, and signatures of every length class:
    // RSA-2048 and P-256 (partial last group) and P-384 (a whole one).
    for (const AlgCase &c : {kAlgCases[0], kAlgCases[6], kAlgCases[7]}) {
        const std::string header = unaligned(testkeys::header_json(c.alg, c.kid));
        const Segments s = testkeys::split(signed_token(header, unaligned(claims_json()), c.alg, c.key));
        expect(s.join(), Reason::ok, std::string(c.alg) + " unpadded");
        ck_assert_uint_ne(s.header.size() % 4, 0);
        ck_assert_uint_ne(s.payload.size() % 4, 0);
        for (const char *pad : {"=", "==", "===", "%3D", "%3D%3D"}) {
            Segments h = s, p = s, g = s;
            h.header += pad;
            p.payload += pad;
            g.signature += pad;
            expect(h.join(), Reason::malformed, std::string(c.alg) + ": header + \"" + pad + "\"");
            expect(p.join(), Reason::malformed, std::string(c.alg) + ": payload + \"" + pad + "\"");
            expect(g.join(), Reason::malformed, std::string(c.alg) + ": signature + \"" + pad + "\"");
        }
        // Padding in the middle, where a lenient decoder restarts.
        Segments mid = s;
        mid.payload.insert(8, "==");
        expect(mid.join(), Reason::malformed, std::string(c.alg) + ": '==' inside the payload");
    }
}
END_TEST

// RFC 4648 §3.5: the unused low bits of the last character are zero. Setting
// any of them gives a second text for the same bytes; every such text is
// refused, so each token has exactly one encoding.
START_TEST(test_noncanonical_trailing_bits_refused)
{
    size_t variants = 0;
    for (const AlgCase &c : kAlgCases) {
        const std::string header = unaligned(testkeys::header_json(c.alg, c.kid));
        const Segments s = testkeys::split(signed_token(header, unaligned(claims_json()), c.alg, c.key));
        expect(s.join(), Reason::ok, std::string(c.alg) + " canonical");
        for (int part = 0; part < 3; part++) {
            const std::string &seg = part == 0 ? s.header : part == 1 ? s.payload : s.signature;
            const size_t unused_bits = seg.size() % 4 == 2 ? 4 : seg.size() % 4 == 3 ? 2 : 0;
            const size_t last = std::string(kAlphabet).find(seg.back());
            ck_assert_uint_eq(last & ((1u << unused_bits) - 1), 0);
            for (size_t bits = 1; bits < (1u << unused_bits); bits++) {
                Segments t = s;
                std::string &target = part == 0 ? t.header : part == 1 ? t.payload : t.signature;
                target.back() = kAlphabet[last | bits];
                expect(t.join(), Reason::malformed,
                       std::string(c.alg) + ": unused bits " + std::to_string(bits) + " set in segment " +
                           std::to_string(part));
                variants++;
            }
        }
    }
    // Header and payload always have unused bits; RSA-2048 and P-256
    // signatures do too (256 and 64 bytes), P-384 and P-521 ones do not.
    ck_assert_uint_ge(variants, 9 * 2 * 3 + 7 * 15);
}
END_TEST

START_TEST(test_whitespace_inside_segments_refused)
{
    const Segments s = testkeys::split(good_token());
    expect(s.join(), Reason::ok, "untouched");
    // Whitespace, a no-break space, and the two URL encodings of a space.
    for (const char *ws : {" ", "\t", "\n", "\r", "\r\n", "\v", "\f", "\xc2\xa0", "%20", "+"}) {
        const std::string name = "\"" + printable(ws) + "\"";
        for (int part = 0; part < 3; part++) {
            const std::string &seg = part == 0 ? s.header : part == 1 ? s.payload : s.signature;
            for (size_t at : {size_t(0), seg.size() / 2, seg.size()}) {
                Segments t = s;
                std::string &target = part == 0 ? t.header : part == 1 ? t.payload : t.signature;
                target.insert(at, ws);
                expect(t.join(), Reason::malformed,
                       name + " at " + std::to_string(at) + " of segment " + std::to_string(part));
            }
        }
        // Around the whole token, as a sloppy header parser might leave it.
        expect(ws + s.join(), Reason::malformed, name + " before the token");
        expect(s.join() + ws, Reason::malformed, name + " after the token");
        expect(s.header + ws + "." + s.payload + "." + s.signature, Reason::malformed, name + " before a dot");
        expect(s.header + "." + ws + s.payload + "." + s.signature, Reason::malformed, name + " after a dot");
    }
    // A line-wrapped token (PEM style, 64 characters a line).
    std::string wrapped = s.join();
    for (size_t at = 64; at < wrapped.size(); at += 65) {
        wrapped.insert(at, "\n");
    }
    expect(wrapped, Reason::malformed, "token wrapped at 64 columns");
}
END_TEST

// Standard base64 (RFC 4648 §4) spells 62 and 63 as '+' and '/'. Every
// segment here contains '-' and '_', so its standard-alphabet twin differs.
START_TEST(test_standard_base64_alphabet_refused)
{
    auto has_url_chars = [](const std::string &seg) {
        return seg.find('-') != std::string::npos && seg.find('_') != std::string::npos;
    };
    // "???>>>" encodes as "Pz8_Pj4-" when it starts on a 3-byte boundary:
    // the first of three alignments whose encoding has both characters.
    auto aligned = [&](const std::function<std::string(const std::string &)> &json_with) {
        for (int pad = 0; pad < 3; pad++) {
            std::string json = json_with(std::string(pad, 'a') + "\?\?\?>>>");
            if (has_url_chars(b64url_encode(json))) {
                return json;
            }
        }
        ck_abort_msg("no alignment gives '-' and '_'");
        return std::string();
    };
    const std::string header = aligned([](const std::string &x) { return rs256_header("\"x\":" + q(x)); });
    // A signature is random bytes: try a few payloads until one has both.
    std::string token;
    for (int jti = 0; jti < 20 && token.empty(); jti++) {
        const std::string payload =
            aligned([&](const std::string &x) { return claims_json({{"x", q(x)}, {"jti", q(std::to_string(jti))}}); });
        std::string candidate = signed_token(header, payload);
        if (has_url_chars(testkeys::split(candidate).signature)) {
            token = candidate;
        }
    }
    ck_assert_msg(!token.empty(), "no signature with '-' and '_'");
    expect(token, Reason::ok, "base64url");
    auto to_standard = [](std::string seg) {
        for (char &c : seg) {
            c = c == '-' ? '+' : c == '_' ? '/' : c;
        }
        return seg;
    };
    const Segments s = testkeys::split(token);
    Segments h = s, p = s, g = s;
    h.header = to_standard(s.header);
    p.payload = to_standard(s.payload);
    g.signature = to_standard(s.signature);
    const Segments all = {h.header, p.payload, g.signature};
    expect(h.join(), Reason::malformed, "standard base64 header");
    expect(p.join(), Reason::malformed, "standard base64 payload");
    expect(g.join(), Reason::malformed, "standard base64 signature");
    expect(all.join(), Reason::malformed, "standard base64 everywhere");
}
END_TEST

// ---- JSON texts (RFC 8259, RFC 7515 §5.2) ----

// RFC 7515 §5.2 lets a JWS parser refuse duplicate member names, and two
// parsers disagreeing on which duplicate wins is how a token says one thing
// to the gateway and another to the service behind it.
START_TEST(test_duplicate_members_refused)
{
    const std::string payload = claims_json();
    for (const char *header : {
             "{\"alg\":\"RS256\",\"kid\":\"rsa-1\",\"alg\":\"RS256\"}",
             "{\"alg\":\"none\",\"kid\":\"rsa-1\",\"alg\":\"RS256\"}",
             "{\"alg\":\"RS256\",\"kid\":\"rsa-1\",\"alg\":\"HS256\"}",
             "{\"alg\":\"RS256\",\"kid\":\"nope\",\"kid\":\"rsa-1\"}",
             "{\"alg\":\"RS256\",\"kid\":\"rsa-1\",\"kid\":\"rsa-1\"}",
             "{\"alg\":\"RS256\",\"\\u0061lg\":\"RS256\",\"kid\":\"rsa-1\"}",
             "{\"alg\":\"RS256\",\"kid\":\"rsa-1\",\"k\\u0069d\":\"ec-256\"}",
             "{\"alg\":\"RS256\",\"kid\":\"rsa-1\",\"typ\":\"JWT\",\"typ\":\"at+jwt\"}",
             "{\"alg\":\"RS256\",\"kid\":\"rsa-1\",\"x\":{\"a\":1,\"a\":2}}",
         }) {
        expect_verify(signed_token(header, payload), Reason::malformed, std::string("header ") + header);
    }
    const std::string header = rs256_header();
    for (const char *member : {
             "\"iss\":\"https://evil.example/\"",
             "\"iss\":\"https://issuer.example.com/\"",
             "\"exp\":9999999999",
             "\"exp\":\"9999999999\"",
             "\"\\u0065xp\":9999999999",
             "\"aud\":\"api://other\"",
             "\"client_id\":\"admin\"",
             "\"scope\":\"tasks:admin\"",
         }) {
        expect_verify(signed_token(header, with_member(payload, member)), Reason::malformed,
                      std::string("payload with a second ") + member);
    }
    expect_verify(signed_token(header, claims_json({{"cnf", "{\"jkt\":\"a\",\"jkt\":\"b\"}"}})), Reason::malformed,
                  "duplicate in a nested object");
    // Without the duplicate, the same texts verify.
    expect_verify(signed_token(header, payload), Reason::ok, "no duplicates");
    expect_verify(signed_token(header, with_member(payload, "\"x-extra\":1")), Reason::ok, "one extra member");
}
END_TEST

// RFC 8259 §8.1: JSON is sent without a byte order mark (a parser may skip
// one; this one refuses it). RFC 7515 §2 and §5.2 make header and payload
// UTF-8 octets, so UTF-16 is no JWS, and bytes after the object are not
// part of the JSON text.
START_TEST(test_bytes_around_the_json_refused)
{
    const std::string header = rs256_header();
    const std::string payload = claims_json();
    auto utf16 = [](const std::string &ascii, bool big_endian) {
        std::string out;
        for (char c : ascii) {
            out += big_endian ? std::string(1, '\0') + c : std::string(1, c) + '\0';
        }
        return out;
    };
    const std::vector<std::pair<std::string, std::string>> bad_payloads = {
        {"BOM", "\xef\xbb\xbf" + payload},
        {"UTF-16LE", utf16(payload, false)},
        {"UTF-16BE", utf16(payload, true)},
        {"UTF-16LE with BOM", "\xff\xfe" + utf16(payload, false)},
        {"UTF-16BE with BOM", "\xfe\xff" + utf16(payload, true)},
        {"trailing x", payload + "x"},
        {"second object", payload + "{}"},
        {"second copy", payload + payload},
        {"trailing NUL", payload + std::string(1, '\0')},
        {"NUL then more JSON", payload + std::string(1, '\0') + "{\"iss\":\"https://evil.example/\"}"},
        {"trailing ^Z", payload + "\x1a"},
        {"trailing comment", payload + "//"},
        {"leading x", "x" + payload},
        {"leading NUL", std::string(1, '\0') + payload},
        {"Latin-1 string", claims_json({{"sub", "\"caf\xe9\""}})},
        {"overlong quote", claims_json({{"sub", "\"a\xc0\xa2,\xc0\xa2scope\xc0\xa2:\xc0\xa2x\""}})},
        {"lone surrogate escape", claims_json({{"sub", "\"\\ud800\""}})},
        {"CESU-8 surrogate pair", claims_json({{"sub", "\"\xed\xa0\xbd\xed\xb8\x80\""}})},
    };
    for (const auto &bad : bad_payloads) {
        expect_verify(signed_token(header, bad.second), Reason::malformed, "payload: " + bad.first);
    }
    for (const auto &bad : std::vector<std::pair<std::string, std::string>>{
             {"BOM", "\xef\xbb\xbf" + header},
             {"UTF-16LE", utf16(header, false)},
             {"trailing NUL", header + std::string(1, '\0')},
             {"second object", header + "{\"alg\":\"none\"}"},
             {"overlong hyphen in kid", testkeys::header_json("RS256", "rsa\xc0\xad" "1")},
         }) {
        expect_verify(signed_token(bad.second, payload), Reason::malformed, "header: " + bad.first);
    }
    // Insignificant whitespace around the object is JSON (RFC 8259 §2): the
    // texts above are refused for their bytes, not for being unusual.
    expect_verify(signed_token(" \n" + header + "\r\n", "\t" + payload + " \n"), Reason::ok, "JSON whitespace");
}
END_TEST

START_TEST(test_header_and_payload_must_be_objects)
{
    for (const char *not_object : {"[{\"alg\":\"RS256\",\"kid\":\"rsa-1\"}]", "\"RS256\"",
                                   "\"{\\\"alg\\\":\\\"RS256\\\"}\"", "256", "null", "true", "[]"}) {
        expect_verify(signed_token(not_object, claims_json()), Reason::malformed, std::string("header ") + not_object);
        expect_verify(signed_token(rs256_header(), not_object), Reason::malformed,
                      std::string("payload ") + not_object);
    }
}
END_TEST

// ---- the compact serialization's shape (RFC 7515 §7.1, RFC 7516 §7.1) ----

START_TEST(test_segment_count_and_empty_segments)
{
    const Segments s = testkeys::split(good_token());
    const std::string jws = s.join();
    expect_verify(jws, Reason::ok, "three segments");
    // Four dots is the compact JWE shape, whatever the segments hold.
    expect_verify(jws + ".x.y", Reason::jwe_not_supported, "JWS + two segments");
    expect_verify(jws + "..", Reason::jwe_not_supported, "JWS + two empty segments");
    expect_verify(s.header + "..." + s.payload + "." + s.signature, Reason::jwe_not_supported,
                  "five parts, JWS inside");
    // Other counts are malformed.
    expect_verify(s.header + "." + s.payload, Reason::malformed, "two segments");
    expect_verify(jws + ".", Reason::malformed, "JWS + one empty segment");
    expect_verify(jws + "." + s.signature, Reason::malformed, "signature twice");
    expect_verify("." + jws, Reason::malformed, "leading dot");
    expect_verify(jws + ".x.y.z", Reason::malformed, "six segments");
    expect_verify(s.header + "." + s.payload + s.signature, Reason::malformed, "dot missing");
    // Empty segments.
    expect_verify("..", Reason::malformed, "all empty");
    expect_verify("." + s.payload + "." + s.signature, Reason::malformed, "empty header");
    expect_verify(s.header + ".." + s.signature, Reason::malformed, "empty payload (RFC 7515 detached content)");
    expect_verify(s.header + "." + s.payload + ".", Reason::bad_signature, "empty signature");
    // The JWS JSON serializations (RFC 7515 §7.2) are not compact tokens.
    const std::string flattened = "{\"protected\":\"" + s.header + "\",\"payload\":\"" + s.payload +
                                  "\",\"signature\":\"" + s.signature + "\"}";
    expect_verify(flattened, Reason::malformed, "flattened JSON serialization");
    expect_verify(b64url_encode(flattened), Reason::malformed, "flattened JSON serialization, base64url");
}
END_TEST

START_TEST(test_empty_signature_refused_for_every_algorithm)
{
    for (const AlgCase &c : kAlgCases) {
        Segments s = testkeys::split(testkeys::make_token(c.alg, c.key, c.kid, claims_json()));
        expect(s.join(), Reason::ok, c.alg);
        s.signature.clear();
        expect(s.join(), Reason::bad_signature, std::string(c.alg) + " with an empty signature");
    }
}
END_TEST

// ---- "alg" (RFC 7515 §4.1.1: a case-sensitive string) ----

START_TEST(test_alg_in_another_case_refused)
{
    for (const AlgCase &c : kAlgCases) {
        const std::string alg = c.alg;
        std::string lower = alg, capitalized = alg, mixed = alg;
        for (size_t i = 0; i < alg.size(); i++) {
            lower[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(alg[i])));
        }
        capitalized[1] = lower[1];  // "Rs256"
        mixed[0] = lower[0];        // "rS256"
        const std::string payload = claims_json();
        for (const std::string &variant : {lower, capitalized, mixed}) {
            expect(signed_token(testkeys::header_json(variant, c.kid), payload, alg, c.key), Reason::alg_not_allowed,
                   "alg " + variant);
        }
        expect(signed_token(testkeys::header_json(alg, c.kid), payload, alg, c.key), Reason::ok, "alg " + alg);
        // A JSON escape spells the same string (RFC 8259 §7): "\u0052S256" is "RS256".
        char escaped[8];
        std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(alg[0]));
        expect(signed_token(testkeys::header_json(escaped + alg.substr(1), c.kid), payload, alg, c.key), Reason::ok,
               "alg " + std::string(escaped) + alg.substr(1));
    }
}
END_TEST

// "none" is no signature and HMAC would make the issuer's public key a
// shared secret: both refused for their alg whatever the signature holds,
// including an HMAC keyed with every form of the public key the gateway has.
START_TEST(test_none_and_hmac_refused)
{
    const std::string payload = claims_json();
    const std::string real_signature = testkeys::split(good_token()).signature;
    for (const char *none : {"none", "None", "NONE", "nOnE"}) {
        for (const char *kid : {"rsa-1", ""}) {
            const std::string header = testkeys::header_json(none, kid);
            const std::string input = b64url_encode(header) + "." + b64url_encode(payload);
            for (const std::string &sig : {std::string(), real_signature, std::string("AA")}) {
                expect_verify(input + "." + sig, Reason::alg_not_allowed,
                              std::string("alg ") + none + ", kid \"" + kid + "\", signature \"" +
                                  sig.substr(0, 8) + "\"");
            }
        }
    }
    const testkeys::JwkParts rsa = testkeys::jwk_parts(KeyName::rsa);
    std::string modulus;
    ck_assert(b64url_decode(rsa.n, &modulus));
    const std::vector<std::pair<std::string, std::string>> secrets = {
        {"PEM public key", public_pem(KeyName::rsa)},
        {"DER public key", public_der(KeyName::rsa)},
        {"JWK", testkeys::public_jwk(KeyName::rsa, "rsa-1")},
        {"JWK Set", standard_jwks()},
        {"modulus bytes", modulus},
        {"modulus base64url", rsa.n},
        {"P-256 PEM public key", public_pem(KeyName::p256)},
        {"empty key", ""},
    };
    const std::pair<const char *, const EVP_MD *> hmacs[] = {
        {"HS256", EVP_sha256()}, {"HS384", EVP_sha384()}, {"HS512", EVP_sha512()}};
    for (const auto &h : hmacs) {
        for (const char *kid : {"rsa-1", "ec-256", ""}) {
            const std::string header = testkeys::header_json(h.first, kid);
            const std::string input = b64url_encode(header) + "." + b64url_encode(payload);
            for (const auto &secret : secrets) {
                expect_verify(input + "." + b64url_encode(hmac(h.second, secret.second, input)),
                              Reason::alg_not_allowed,
                              std::string(h.first) + " keyed with the " + secret.first + ", kid \"" + kid + "\"");
            }
        }
    }
}
END_TEST

// ---- "kid" (RFC 7515 §4.1.4: a hint, compared as a string) ----

// Signed with the issuer's own RSA key: only the kid can be wrong.
START_TEST(test_kid_lookalikes_refused)
{
    const std::string payload = claims_json();
    auto token_with_kid = [&](const std::string &kid_json_text) {
        return signed_token("{\"alg\":\"RS256\",\"kid\":\"" + kid_json_text + "\"}", payload);
    };
    expect_verify(token_with_kid("rsa-1"), Reason::ok, "kid rsa-1");
    // Escapes spell the same string, so this is kid "rsa-1" (RFC 8259 §7).
    expect_verify(token_with_kid("rsa\\u002d1"), Reason::ok, "kid rsa\\u002d1");
    for (const std::string &kid : {
             std::string("../../etc/passwd"),
             std::string("../../../../../../dev/null"),
             std::string("rsa-1/../rsa-1"),
             std::string("./rsa-1"),
             std::string("rsa-1/"),
             std::string("/rsa-1"),
             std::string("rsa-1\\\\"),
             std::string("..\\\\..\\\\rsa-1"),
             std::string("rsa-1%00"),
             std::string("rsa-%31"),
             std::string("file:///etc/passwd"),
             std::string("https://evil.example/jwks.json#rsa-1"),
             std::string("rsa-1' OR '1'='1"),
             std::string("*"),
             std::string("rsa-*"),
             std::string("rsa-1 "),
             std::string(" rsa-1"),
             std::string("RSA-1"),
             std::string("rsa-1\\n"),
             std::string("rsa-1\\t"),
             std::string("rsa\xe2\x80\x90" "1"),  // U+2010 HYPHEN
             std::string("rsa\xef\xbc\x8d" "1"),  // U+FF0D FULLWIDTH HYPHEN-MINUS
             std::string("rsa-1\xe2\x80\x8b"),    // U+200B ZERO WIDTH SPACE
             std::string(4000, 'k'),
             "rsa-1" + std::string(4000, ' '),
         }) {
        expect_verify(token_with_kid(kid), Reason::unknown_kid, "kid \"" + printable(kid) + "\"");
    }
    // A NUL would end the kid for C string code ("rsa-1\0..." == "rsa-1").
    // The JSON parser refuses strings with NUL (malformed); a kid compared
    // with its length would name no key (unknown_kid). Never ok.
    for (const char *kid : {"rsa-1\\u0000", "rsa-1\\u0000../../etc/passwd", "\\u0000rsa-1", "\\u0000"}) {
        const TestIssuer policy = make_policy();
        Verdict v = verify(token_with_kid(kid), {&policy});
        ck_assert_msg(v.status == Reason::malformed || v.status == Reason::unknown_kid, "kid \"%s\": got %s", kid,
                      status_name(v.status));
        ck_assert_ptr_null(v.token.get());
    }
    // Raw control bytes are not JSON at all.
    expect_verify(token_with_kid(std::string("rsa-1") + '\n'), Reason::malformed, "kid with a raw newline");
    // Too long to be a token at all.
    expect_verify(token_with_kid(std::string(7000, 'k')), Reason::token_too_large, "kid of 7000 characters");
}
END_TEST

// ---- embedded and remote keys (RFC 7515 §4.1.2, 4.1.3, 4.1.5, 4.1.6) ----

// "jku", "jwk", "x5u" and "x5c" name keys the token's own sender chose. The
// verifier only ever uses the issuer's published keys: a token signed by the
// attacker and carrying the attacker's key in every such form is refused,
// as unknown_kid if its kid names none of the issuer's keys and as
// bad_signature if it names one (or, without kid, one key fits its alg).
START_TEST(test_embedded_keys_never_used)
{
    const std::string payload = claims_json();
    struct Attacker {
        const char *alg;
        KeyName key;
        const char *issuer_kid;  // the issuer's key of the same type
    };
    for (const Attacker &a : {Attacker{"RS256", KeyName::rsa_other, "rsa-1"},
                              Attacker{"ES256", KeyName::p256_other, "ec-256"}}) {
        const std::vector<std::string> members = {
            "\"jwk\":" + testkeys::public_jwk(a.key, "attacker"),
            "\"jwk\":" + testkeys::public_jwk(a.key, a.issuer_kid),
            "\"jku\":\"https://evil.example/jwks.json\"",
            "\"x5u\":\"https://evil.example/cert.pem\"",
            "\"x5c\":[\"" + self_signed_cert_base64(a.key) + "\"]",
            "\"jwk\":" + testkeys::public_jwk(a.key, "attacker") + ",\"jku\":\"https://evil.example/jwks.json\"," +
                "\"x5u\":\"https://evil.example/cert.pem\",\"x5c\":[\"" + self_signed_cert_base64(a.key) + "\"]",
        };
        for (const std::string &member : members) {
            const std::string what = std::string(a.alg) + " with " + member.substr(0, 40);
            const std::string header = testkeys::header_json(a.alg, "attacker", member);
            expect_verify(signed_token(header, payload, a.alg, a.key), Reason::unknown_kid, what + ", kid attacker");
            expect_verify(signed_token(testkeys::header_json(a.alg, a.issuer_kid, member), payload, a.alg, a.key),
                          Reason::bad_signature, what + ", the issuer's kid");
            expect_verify(signed_token(testkeys::header_json(a.alg, "", member), payload, a.alg, a.key),
                          Reason::bad_signature, what + ", no kid");
            // The members are ignored, not refused: the issuer's own token
            // carrying them verifies with the issuer's key.
            const KeyName issuer_key = a.key == KeyName::rsa_other ? KeyName::rsa : KeyName::p256;
            expect_verify(
                signed_token(testkeys::header_json(a.alg, a.issuer_kid, member), payload, a.alg, issuer_key),
                Reason::ok, what + ", signed by the issuer");
        }
    }
    // Without kid and with two keys of the token's type, no key is guessed:
    // the attacker's embedded key cannot make the verifier try them all.
    TestIssuer two_rsa = make_policy(load_keys(testkeys::jwk_set(
        {testkeys::public_jwk(KeyName::rsa, "rsa-1"), testkeys::public_jwk(KeyName::rsa_3072, "rsa-2")})));
    const std::string header =
        testkeys::header_json("RS256", "", "\"jwk\":" + testkeys::public_jwk(KeyName::rsa_other, ""));
    Verdict v = verify(signed_token(header, payload, "RS256", KeyName::rsa_other), {&two_rsa});
    ck_assert_status(v.status, Reason::unknown_kid);
    ck_assert_ptr_null(v.token.get());
}
END_TEST

// ---- numbers and nesting in the claims (RFC 7519 §2 NumericDate, §4.1.4) ----

// exp is accepted only as a finite JSON number in the future; numbers JSON
// cannot represent (1e400) or that are not JSON (NaN, hex) are refused.
START_TEST(test_huge_and_odd_exp)
{
    struct Case {
        const char *exp;
        Reason want;
    };
    const Case cases[] = {
        {"1e400", Reason::malformed},                // overflows a double: refused by the JSON parser
        {"-1e400", Reason::malformed},
        {"1e-400", Reason::expired},                 // underflows to 0
        {"9e18", Reason::ok},                        // finite and in the future
        {"9223372036854775807", Reason::ok},         // INT64_MAX
        {"1.7976931348623157e308", Reason::ok},      // DBL_MAX
        {"1700000600.5", Reason::ok},
        {"17000006e2", Reason::ok},
        {"1.7000006E9", Reason::ok},
        {"0", Reason::expired},
        {"-0", Reason::expired},
        {"-1", Reason::expired},
        {"-9e18", Reason::expired},
        {"-1.7976931348623157e308", Reason::expired},
        {"\"1700000600\"", Reason::malformed_claim},
        {"\"9e18\"", Reason::malformed_claim},
        {"\"Infinity\"", Reason::malformed_claim},
        {"[9e18]", Reason::malformed_claim},
        {"{\"$numberLong\":\"9000000000000000000\"}", Reason::malformed_claim},
        {"true", Reason::malformed_claim},
        {"null", Reason::malformed_claim},
        {"Infinity", Reason::malformed},             // not JSON
        {"NaN", Reason::malformed},
        {"0x7fffffff", Reason::malformed},
        {"+1700000600", Reason::malformed},
        {"01700000600", Reason::malformed},
        {"1700000600.", Reason::malformed},
        {".5e10", Reason::malformed},
    };
    for (const Case &c : cases) {
        expect_verify(signed_token(rs256_header(), claims_json({{"exp", c.exp}})), c.want, std::string("exp ") + c.exp);
    }
    // One past INT64_MAX is a valid NumericDate that the JSON parser cannot
    // hold as an integer: refusing it is the parser's limit, accepting it
    // is RFC 7519; anything else (a crash, "expired") is wrong.
    bool verified = false;
    Reason got = check_token(signed_token(rs256_header(), claims_json({{"exp", "9223372036854775808"}})), make_policy(),
                             kNow, &verified);
    ck_assert_msg(got == Reason::ok || got == Reason::malformed || got == Reason::malformed_claim,
                  "exp 9223372036854775808: got %s", status_name(got));
    // nbf and iat are read the same way.
    const std::pair<Members, Reason> others[] = {
        {{{"nbf", "9e18"}}, Reason::not_yet_valid},  {{{"nbf", "1e400"}}, Reason::malformed},
        {{{"nbf", "-1e308"}}, Reason::ok},           {{{"nbf", "\"0\""}}, Reason::malformed_claim},
        {{{"iat", "9e18"}}, Reason::issued_in_future}, {{{"iat", "-9e18"}}, Reason::ok},
        {{{"iat", "-1e400"}}, Reason::malformed},    {{{"iat", "[]"}}, Reason::malformed_claim},
    };
    for (const auto &o : others) {
        expect_verify(signed_token(rs256_header(), claims_json(o.first)), o.second,
                      o.first[0].first + " " + o.first[0].second);
    }
}
END_TEST

// Deep nesting costs the parser stack; jansson stops at depth 2048 and the
// token size limit caps it well before anything else would.
START_TEST(test_deep_nesting)
{
    const std::string header = rs256_header();
    // Claims the verifier does not read may hold anything JSON allows.
    expect_verify(signed_token(header, claims_json({{"deep", nested_arrays(100)}})), Reason::ok, "100 nested arrays");
    // jansson counts every value, the claims object and the innermost 0 too.
    expect_verify(signed_token(header, claims_json({{"deep", nested_arrays(2046)}})), Reason::ok,
                  "2046 nested arrays (depth 2048)");
    expect_verify(signed_token(header, claims_json({{"deep", nested_objects(500)}})), Reason::ok,
                  "500 nested objects");
    std::string wide = "[0";
    for (int i = 0; i < 2000; i++) {
        wide += ",0";
    }
    expect_verify(signed_token(header, claims_json({{"wide", wide + "]"}})), Reason::ok, "array of 2001 numbers");
    // One level deeper than the parser allows.
    expect_verify(signed_token(header, claims_json({{"deep", nested_arrays(2047)}})), Reason::malformed,
                  "2047 nested arrays (depth 2049)");
    expect_verify(signed_token(rs256_header("\"deep\":" + nested_arrays(2047)), claims_json()), Reason::malformed,
                  "2047 nested arrays in the header");
    expect_verify(signed_token(header, claims_json({{"deep", nested_arrays(3500)}})), Reason::token_too_large,
                  "3500 nested arrays");
    // Registered claims of the wrong shape are malformed claims, however deep.
    expect_verify(signed_token(header, claims_json({{"exp", nested_arrays(1000)}})), Reason::malformed_claim,
                  "exp as 1000 nested arrays");
    expect_verify(signed_token(header, claims_json({{"aud", nested_arrays(1000)}})), Reason::malformed_claim,
                  "aud as 1000 nested arrays");
    expect_verify(signed_token(header, claims_json({{"iss", nested_objects(500)}})), Reason::malformed_claim,
                  "iss as 500 nested objects");
    // Client id and scopes ignore values of the wrong shape: the client id
    // falls back to "sub", the nested scopes are dropped.
    const TestIssuer policy = make_policy();
    Verdict v = verify(signed_token(header, claims_json({{"client_id", nested_objects(500)},
                                                         {"scope", ""},
                                                         {"scp", "[" + nested_arrays(1000) + ",\"tasks:read\"]"}})),
                       {&policy});
    ck_assert_status(v.status, Reason::ok);
    ck_assert_std_str_eq(v.token->client_id(), "svc-1");
    ck_assert_std_str_eq(v.token->scope_string(), "tasks:read");
}
END_TEST

Suite *forgery_suite()
{
    Suite *s = suite_create("forgery");
    TCase *encoding = tcase_create("encoding");
    tcase_add_test(encoding, test_padding_refused);
    tcase_add_test(encoding, test_noncanonical_trailing_bits_refused);
    tcase_add_test(encoding, test_whitespace_inside_segments_refused);
    tcase_add_test(encoding, test_standard_base64_alphabet_refused);
    tcase_add_test(encoding, test_segment_count_and_empty_segments);
    tcase_add_test(encoding, test_empty_signature_refused_for_every_algorithm);
    suite_add_tcase(s, encoding);

    TCase *json = tcase_create("json");
    tcase_add_test(json, test_duplicate_members_refused);
    tcase_add_test(json, test_bytes_around_the_json_refused);
    tcase_add_test(json, test_header_and_payload_must_be_objects);
    tcase_add_test(json, test_huge_and_odd_exp);
    tcase_add_test(json, test_deep_nesting);
    suite_add_tcase(s, json);

    TCase *header = tcase_create("header");
    tcase_set_timeout(header, 30);
    tcase_add_test(header, test_alg_in_another_case_refused);
    tcase_add_test(header, test_none_and_hmac_refused);
    tcase_add_test(header, test_kid_lookalikes_refused);
    tcase_add_test(header, test_embedded_keys_never_used);
    suite_add_tcase(s, header);
    return s;
}
