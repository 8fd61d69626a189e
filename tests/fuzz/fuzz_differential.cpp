// The module's signature verdict against OpenSSL's EVP API used directly:
// a token whose signature the module trusts must verify with EVP under the
// header's alg and a key the header may select, and a token with a kid whose
// signature EVP accepts must not be refused as bad_signature. Tokens are
// built from the input around keys generated at start-up, signed properly
// often enough that the accepting paths are reached, then damaged.
// Beside the verdict, the EVP signature check (signature.h) and the cjose
// path it replaces (cjose_jws_import + cjose_jws_verify after the
// exact-length rule, as verify.cpp does) must agree on every token that
// parses, for every published key that fits its alg, and EVP used directly
// must agree with both.
//
// Input: 8 control bytes, then up to three sections separated by NUL bytes
// (header text, payload text, raw bytes for a kid or a signature).
//   [0] signing key: 0-5 the published keys below, 6 a key never published
//   [1] header alg, one of kHeaderAlgs
//   [2] below 0x80 sign with the header's alg (if it is a signing one),
//       else with kSignAlgs[[2] % 9]
//   [3] kid: 0 the signing key's own, 1-5 a published kid, 6 none, 7 "",
//       8 "nope", 9 section 3
//   [4] signature: 0 as signed, 1 PSS with a salt of [5] % 80 bytes, 2 one
//       bit flipped at [5][6], 3 cut to [5][6] bytes, 4 byte [6] appended
//       (prepended if [5] is odd), 5 high-S twin (ES) or + n (RSA), 6 section
//       3 as is, 7 DER instead of R||S (ES) or signed by the other RSA key
//   [5], [6] arguments of [4] and of the text mutation
//   [7] bit 0 section 1 appended as members to the header, bit 1 section 1
//       is the whole header, bit 2 section 2 is the payload, bit 3 the
//       second issuer, bit 4 byte [6] written over (bit 5: inserted into)
//       the compact token at [5], bit 6 a "crit" header member
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include <openssl/bn.h>

#include "base64url.h"
#include "fuzz_support.h"
#include "fuzz_verify.h"
#include "keys/jwks.h"
#include "keys/signature.h"
#include "token/token.h"

namespace {

constexpr int64_t kNow = 1700000000;

const char *const kHeaderAlgs[] = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                                   "ES256", "ES384", "ES512", "none",  "HS256", "ES256K"};
const char *const kSignAlgs[] = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"};

struct TestKey {
    const char *kid;     // nullptr: published without one
    const char *alg;     // the JWK's own "alg", nullptr if none
    bool published;
    EVP_PKEY *pkey;
};

// Kid-less ES256 and PS256 tokens have two fitting keys, ES384 and RS256
// ones exactly one: both sides of the kid-less rule are reachable.
TestKey keys[] = {
    {"rsa-1", nullptr, true, nullptr},  {"rsa-2", "PS256", true, nullptr}, {"ec-256", "ES256", true, nullptr},
    {"ec-384", nullptr, true, nullptr}, {"ec-521", nullptr, true, nullptr}, {nullptr, nullptr, true, nullptr},
    {"ec-256", nullptr, false, nullptr},
};
constexpr size_t kKeys = sizeof keys / sizeof keys[0];

fuzz::Issuer issuer_a, issuer_b;
m2m::IssuerPolicy &policy_a = issuer_a.policy, &policy_b = issuer_b.policy;
std::vector<const fuzz::Issuer *> issuers;
const m2m::KeySet *published = nullptr;  // in the order of keys[], unpublished one left out

void set_up()
{
    keys[0].pkey = fuzz::generate_rsa(2048);
    keys[1].pkey = fuzz::generate_rsa(2048);
    keys[2].pkey = fuzz::generate_ec("P-256");
    keys[3].pkey = fuzz::generate_ec("P-384");
    keys[4].pkey = fuzz::generate_ec("P-521");
    keys[5].pkey = fuzz::generate_ec("P-256");
    keys[6].pkey = fuzz::generate_ec("P-256");
    std::string jwks = "{\"keys\":[";
    for (const TestKey &k : keys) {
        if (k.published) {
            jwks += (jwks.back() == '[' ? "" : ",") +
                    fuzz::public_jwk(k.pkey, k.kid ? k.kid : "", k.alg ? std::string("\"alg\":\"") + k.alg + "\"" : "");
        }
    }
    jwks += "]}";
    m2m::JwksParseResult parsed = m2m::parse_jwks(jwks);
    if (parsed.status != m2m::Reason::ok || parsed.keys.keys().size() != kKeys - 1) {
        fuzz::fail("the generated key set does not load");
    }
    const std::shared_ptr<const m2m::KeySet> set = m2m::share_keys(std::move(parsed.keys));
    published = set.get();

    policy_a.name = "a";
    policy_a.issuer = "https://issuer.example/";
    policy_a.audiences = {"api://fuzz"};
    issuer_a.keys.replace(set, 1);
    policy_b.name = "b";
    policy_b.issuer = "https://b.example/";
    policy_b.algorithms = m2m::AlgorithmSet();
    policy_b.algorithms.add(m2m::Algorithm::ES256);
    policy_b.algorithms.add(m2m::Algorithm::PS256);
    issuer_b.keys.replace(set, 1);
    issuers = {&issuer_a, &issuer_b};
}

struct Input {
    uint8_t c[8];
    std::string_view sections[3];
};

bool split_input(const uint8_t *data, size_t size, Input *in)
{
    if (size < 8) {
        return false;
    }
    std::copy(data, data + 8, in->c);
    std::string_view rest(reinterpret_cast<const char *>(data) + 8, size - 8);
    for (int i = 0; i < 3; i++) {
        const size_t nul = i < 2 ? rest.find('\0') : std::string_view::npos;
        in->sections[i] = rest.substr(0, nul);
        rest = nul == std::string_view::npos ? std::string_view() : rest.substr(nul + 1);
    }
    return true;
}

std::string json_text(json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    std::string out = text ? text : "";
    free(text);
    json_decref(value);
    return out;
}

std::string build_header(const Input &in, const TestKey &signer, const char *alg)
{
    if (in.c[7] & 2) {
        return std::string(in.sections[0]);
    }
    json_t *h = json_object();
    json_object_set_new(h, "alg", json_string(alg));
    json_object_set_new(h, "typ", json_string("at+jwt"));
    const char *kid = nullptr;
    switch (in.c[3] % 10) {
    case 0: kid = signer.kid; break;
    case 6: break;
    case 7: kid = ""; break;
    case 8: kid = "nope"; break;
    case 9: json_object_set_new(h, "kid", json_stringn(in.sections[2].data(), in.sections[2].size())); break;
    default: kid = keys[in.c[3] % 10 - 1].kid; break;
    }
    if (kid) {
        json_object_set_new(h, "kid", json_string(kid));
    }
    if (in.c[7] & 0x40) {
        json_object_set_new(h, "crit", json_pack("[s]", "exp"));
    }
    std::string text = json_text(h);
    if ((in.c[7] & 1) && !text.empty()) {
        text.pop_back();
        text += "," + std::string(in.sections[0]) + "}";
    }
    return text;
}

std::string build_payload(const Input &in)
{
    if (in.c[7] & 4) {
        return std::string(in.sections[1]);
    }
    const char *iss = (in.c[7] & 8) ? policy_b.issuer.c_str() : policy_a.issuer.c_str();
    return json_text(json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s}", "iss", iss, "sub", "svc", "aud", "api://fuzz",
                               "exp", static_cast<json_int_t>(kNow + 600), "iat", static_cast<json_int_t>(kNow - 30),
                               "client_id", "svc", "scope", "a b"));
}

// big-endian a op b, left-padded to width if it fits.
std::string bn_op(std::string_view a, std::string_view b, bool subtract_a_from_b, size_t width)
{
    BIGNUM *x = BN_bin2bn(reinterpret_cast<const unsigned char *>(a.data()), static_cast<int>(a.size()), nullptr);
    BIGNUM *y = BN_bin2bn(reinterpret_cast<const unsigned char *>(b.data()), static_cast<int>(b.size()), nullptr);
    BIGNUM *r = BN_new();
    std::string out;
    if (x && y && r && (subtract_a_from_b ? BN_sub(r, y, x) : BN_add(r, x, y)) && !BN_is_negative(r)) {
        out.assign(std::max<size_t>(width, static_cast<size_t>(BN_num_bytes(r))), '\0');
        BN_bn2binpad(r, reinterpret_cast<unsigned char *>(&out[0]), static_cast<int>(out.size()));
    }
    BN_free(x);
    BN_free(y);
    BN_free(r);
    return out;
}

std::string build_signature(const Input &in, const TestKey &signer, const char *alg, const std::string &input)
{
    const unsigned mode = in.c[4] % 8;
    const size_t arg = static_cast<size_t>(in.c[5]) * 256 + in.c[6];
    if (mode == 6) {
        return std::string(in.sections[2]);
    }
    if (mode == 1) {
        return fuzz::sign(signer.pkey, alg, input, in.c[5] % 80);
    }
    if (mode == 7 && fuzz::is_rsa(signer.pkey)) {
        return fuzz::sign(keys[&signer == &keys[0] ? 1 : 0].pkey, alg, input);
    }
    std::string sig = fuzz::sign(signer.pkey, alg, input);
    if (sig.empty()) {
        return sig;
    }
    switch (mode) {
    case 2: sig[arg / 8 % sig.size()] ^= static_cast<char>(1 << (arg % 8)); break;
    case 3: sig.resize(arg % (sig.size() + 1)); break;
    case 4: sig.insert(in.c[5] & 1 ? 0 : sig.size(), 1, static_cast<char>(in.c[6])); break;
    case 5:
        if (fuzz::is_rsa(signer.pkey)) {
            sig = bn_op(sig, fuzz::rsa_modulus(signer.pkey), false, sig.size());
        } else {
            const size_t w = sig.size() / 2;
            sig = sig.substr(0, w) + bn_op(sig.substr(w), fuzz::ec_order(signer.pkey), true, w);
        }
        break;
    case 7: sig = fuzz::ecdsa_raw_to_der(sig); break;
    default: break;
    }
    return sig;
}

std::string build_token(const Input &in)
{
    const TestKey &signer = keys[in.c[0] % kKeys];
    const char *header_alg = kHeaderAlgs[in.c[1] % 12];
    const char *sign_alg = in.c[2] < 0x80 && in.c[1] % 12 < 9 ? header_alg : kSignAlgs[in.c[2] % 9];
    const std::string input =
        fuzz::b64url_encode(build_header(in, signer, header_alg)) + "." + fuzz::b64url_encode(build_payload(in));
    std::string token = input + "." + fuzz::b64url_encode(build_signature(in, signer, sign_alg, input));
    if (in.c[7] & 0x10) {
        const size_t at = static_cast<size_t>(in.c[5]) * 37 % (token.size() + 1);
        if (in.c[7] & 0x20) {
            token.insert(at, 1, static_cast<char>(in.c[6]));
        } else if (at < token.size()) {
            token[at] = static_cast<char>(in.c[6]);
        }
    }
    return token;
}

// What the token says, read independently of the module.
struct Reading {
    bool parsed = false;
    std::string alg, kid, signing_input, signature;
    bool has_kid = false, has_crit = false;
};

Reading read_token(const std::string &token)
{
    Reading r;
    const size_t a = token.find('.');
    const size_t b = a == std::string::npos ? a : token.find('.', a + 1);
    if (b == std::string::npos || token.find('.', b + 1) != std::string::npos) {
        return r;
    }
    std::string header;
    if (!fuzz::b64url_decode(token.substr(0, a), &header) || !fuzz::b64url_decode(token.substr(b + 1), &r.signature)) {
        return r;
    }
    m2m::JsonPtr h(json_loadb(header.data(), header.size(), 0, nullptr));
    const json_t *alg = json_object_get(h.get(), "alg");
    const json_t *kid = json_object_get(h.get(), "kid");
    if (!json_is_string(alg)) {
        return r;
    }
    r.alg.assign(json_string_value(alg), json_string_length(alg));
    r.has_kid = kid != nullptr;
    if (json_is_string(kid)) {
        r.kid.assign(json_string_value(kid), json_string_length(kid));
    }
    r.has_crit = json_object_get(h.get(), "crit") != nullptr;
    r.signing_input = token.substr(0, b);
    r.parsed = true;
    return r;
}

// RFC 7517 §4.4 and §4.5: with a kid only that key, and a JWK's own alg
// binds it. The type and curve are evp_verify's to check.
bool may_select(const TestKey &key, const Reading &r)
{
    return key.published && (!r.has_kid || (key.kid && r.kid == key.kid)) && (!key.alg || r.alg == key.alg);
}

bool evp_accepts(const Reading &r)
{
    for (const TestKey &key : keys) {
        if (may_select(key, r) && fuzz::evp_verify(key.pkey, r.alg, r.signing_input, r.signature)) {
            return true;
        }
    }
    return false;
}

// verify.cpp's signature check before signature.h: the exact length, then
// cjose on the whole compact token.
m2m::Reason cjose_verdict(const m2m::Key &key, const m2m::Token &token)
{
    if (token.signature().size() != key.signature_size) {
        return m2m::Reason::bad_signature;
    }
    cjose_err err;
    m2m::JwsPtr jws(cjose_jws_import(token.compact().data(), token.compact().size(), &err));
    if (!jws) {
        return m2m::Reason::malformed;
    }
    return cjose_jws_verify(jws.get(), key.jwk.get(), &err) ? m2m::Reason::ok : m2m::Reason::bad_signature;
}

// The module's base64url decoder, both forms, against the harness's own
// bit-at-a-time one on each of the token's '.'-separated segments (damaged
// ones too): the same verdict, the same bytes.
void compare_base64url(const std::string &compact)
{
    size_t start = 0;
    for (;;) {
        const size_t end = std::min(compact.find('.', start), compact.size());
        const std::string_view segment = std::string_view(compact).substr(start, end - start);
        std::string reference, as_string;
        const bool want = fuzz::b64url_decode(segment, &reference);
        std::vector<unsigned char> buffer(m2m::base64url_decoded_size(segment.size()));
        size_t size = 0;
        if (m2m::base64url_decode(segment, &as_string) != want ||
            m2m::base64url_decode(segment, buffer.data(), buffer.size(), &size) != want) {
            fuzz::fail("base64url_decode and the harness's decoder disagree on a segment");
        }
        if (want && (as_string != reference || std::string_view(reinterpret_cast<char *>(buffer.data()), size) != reference)) {
            fuzz::fail("base64url_decode and the harness's decoder decode a segment to other bytes");
        }
        if (end == compact.size()) {
            return;
        }
        start = end + 1;
    }
}

// Only tokens that parse and name one of our algs reach a signature check.
void compare_signature_paths(const std::string &compact)
{
    m2m::Token token;
    if (m2m::Token::parse(compact, &token) != m2m::Reason::ok) {
        return;
    }
    const auto alg = m2m::algorithm_from_name(token.alg());
    if (!alg) {
        return;
    }
    const size_t last_dot = compact.rfind('.');
    std::string signature;
    if (!fuzz::b64url_decode(std::string_view(compact).substr(last_dot + 1), &signature)) {
        fuzz::fail("a token that parses has a signature our own decoder refuses");
    }
    const std::string_view input = std::string_view(compact).substr(0, last_dot);
    if (token.signing_input() != input || token.signature() != signature) {
        fuzz::fail("Token::parse's signing input or signature differs from the harness's reading");
    }
    for (size_t i = 0; i < published->keys().size(); i++) {
        const m2m::Key &key = published->keys()[i];
        if (!key.fits(*alg)) {
            continue;
        }
        // As authenticate() checks it: on what Token::parse decoded.
        const m2m::Reason evp = m2m::verify_signature(key, *alg, token.signing_input(), token.signature());
        const m2m::Reason reference = cjose_verdict(key, token);
        if (getenv("FUZZ_VERBOSE")) {
            const auto name = [](m2m::Reason st) { return st == m2m::Reason::ok ? "ok" : m2m::reason_code(st); };
            fprintf(stderr, "key %zu %s: evp %s, cjose %s\n", i, m2m::algorithm_name(*alg), name(evp),
                    name(reference));
        }
        if (evp != reference) {
            fuzz::fail("the EVP signature check and the cjose path disagree");
        }
        if ((evp == m2m::Reason::ok) != fuzz::evp_verify(keys[i].pkey, token.alg(), input, signature)) {
            fuzz::fail("the EVP signature check and OpenSSL used directly disagree");
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    json_object_seed(1);
    set_up();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Input in;
    if (!split_input(data, size, &in)) {
        return 0;
    }
    const std::string token = build_token(in);
    const fuzz::Verdict v = fuzz::verify(token, issuers, kNow);
    if (getenv("FUZZ_VERBOSE")) {
        fprintf(stderr, "verify: %s\n%s\n", v.status == m2m::Reason::ok ? "ok" : m2m::reason_code(v.status),
                token.c_str());
    }
    if (v.status == m2m::Reason::ok && !v.token) {
        fuzz::fail("ok without a verified signature");
    }
    const Reading r = read_token(token);
    if (v.token) {
        if (!r.parsed || !evp_accepts(r)) {
            fuzz::fail("the module trusts a signature that EVP refuses");
        }
        const auto alg = m2m::algorithm_from_name(r.alg);
        if (!alg || !v.issuer || !v.issuer->policy.algorithms.contains(*alg)) {
            fuzz::fail("the module trusts an algorithm outside the issuer's allow-list");
        }
        if (r.has_crit) {
            fuzz::fail("the module trusts a token with \"crit\"");
        }
    }
    compare_base64url(token);
    compare_signature_paths(token);
    if (v.status == m2m::Reason::bad_signature && r.parsed && r.has_kid) {
        // Kids are unique among the published keys: the module had no choice.
        for (const TestKey &key : keys) {
            if (may_select(key, r) && fuzz::evp_verify(key.pkey, r.alg, r.signing_input, r.signature)) {
                fuzz::fail("the module refused as bad_signature a signature that EVP accepts");
            }
        }
    }
    return 0;
}
