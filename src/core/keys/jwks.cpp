#include "keys/jwks.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include <openssl/core_names.h>
#include <openssl/err.h>

#include "base64url.h"
#include "keys/signature.h"

namespace m2m {

namespace {

// The one reason that is not the key's fault: import_public_jwk tells it apart.
const char kOutOfMemory[] = "out of memory";

std::optional<Curve> curve_from_name(std::string_view name)
{
    if (name == "P-256") {
        return Curve::P256;
    }
    if (name == "P-384") {
        return Curve::P384;
    }
    if (name == "P-521") {
        return Curve::P521;
    }
    return std::nullopt;
}

size_t coordinate_size(Curve curve)
{
    switch (curve) {
    case Curve::P256:
        return 32;
    case Curve::P384:
        return 48;
    case Curve::P521:
        return 66;
    case Curve::none:
        break;
    }
    return 0;
}

bool has_string_members(const json_t *jwk, std::initializer_list<const char *> names)
{
    std::string_view unused;
    for (const char *name : names) {
        if (!json_string_member(jwk, name, &unused) || unused.empty()) {
            return false;
        }
    }
    return true;
}

// A big-endian unsigned integer from base64url, without leading zero bytes.
bool decode_uint(const json_t *jwk, const char *name, std::string *out)
{
    std::string_view text;
    if (!json_string_member(jwk, name, &text) || !base64url_decode(text, out)) {
        return false;
    }
    out->erase(0, std::min(out->find_first_not_of('\0'), out->size()));
    return true;
}

size_t bit_length(const std::string &magnitude)
{
    if (magnitude.empty()) {
        return 0;
    }
    unsigned char top = static_cast<unsigned char>(magnitude[0]);
    size_t bits = (magnitude.size() - 1) * 8;
    while (top) {
        bits++;
        top >>= 1;
    }
    return bits;
}

// Neither cjose nor OpenSSL checks a public key's shape; with e = 1 a
// "signature" is just the padded digest, forgeable by anyone. Real keys have
// an odd modulus and a small odd exponent of at least 3. *n and *e are the
// checked numbers, big-endian without leading zero bytes.
std::string check_rsa_numbers(const json_t *jwk, std::string *n_out, std::string *e_out)
{
    std::string &n = *n_out;
    std::string &e = *e_out;
    if (!decode_uint(jwk, "n", &n) || !decode_uint(jwk, "e", &e)) {
        return "RSA \"n\" or \"e\" is not base64url";
    }
    const size_t n_bits = bit_length(n);
    if (n_bits < kMinRsaBits) {
        return "RSA key shorter than 2048 bits";
    }
    if (n_bits > kMaxRsaBits) {
        return "RSA key longer than 16384 bits";
    }
    if ((static_cast<unsigned char>(n.back()) & 1) == 0) {
        return "RSA modulus is even";
    }
    if (e.empty() || e.size() > 4 || (static_cast<unsigned char>(e.back()) & 1) == 0 || (e.size() == 1 && static_cast<unsigned char>(e[0]) < 3)) {
        return "RSA exponent is not an odd number from 3 to 2^32";
    }
    return {};
}

// RFC 7518 §6.2.1.2: each coordinate is the full field width. cjose's own
// base64 decoder asserts on some malformed input (an embedded '='), so no
// byte reaches it that our strict decoder has not accepted first. *x and *y
// are the checked coordinates.
std::string check_ec_coordinates(const json_t *jwk, Curve curve, std::string *x, std::string *y)
{
    const size_t width = coordinate_size(curve);
    std::string_view text;
    for (const char *name : {"x", "y"}) {
        std::string &decoded = *name == 'x' ? *x : *y;
        if (!json_string_member(jwk, name, &text) || !base64url_decode(text, &decoded)) {
            return std::string("EC \"") + name + "\" is not base64url";
        }
        if (decoded.size() != width) {
            return std::string("EC \"") + name + "\" is " + std::to_string(decoded.size()) + " bytes, not " +
                   std::to_string(width);
        }
    }
    return {};
}

// OpenSSL's reason for the last error it queued, for a skipped-key line.
std::string openssl_reason(const char *fallback)
{
    const char *reason = ERR_reason_error_string(ERR_peek_last_error());
    return std::string("rejected by OpenSSL: ") + (reason ? reason : fallback);
}

// The EVP_PKEY for numbers check_rsa_numbers accepted. OpenSSL checks
// nothing of an RSA public key here (and its own public-key check would
// refuse e = 3, which RFC 7518 allows): check_rsa_numbers is the check.
std::string make_rsa_pkey(const std::string &n, const std::string &e, EvpPkeyPtr *out)
{
    OpenSslErrorScope errors;
    const auto bytes = [](const std::string &s) { return reinterpret_cast<const unsigned char *>(s.data()); };
    BignumPtr bn_n(BN_bin2bn(bytes(n), static_cast<int>(n.size()), nullptr));
    BignumPtr bn_e(BN_bin2bn(bytes(e), static_cast<int>(e.size()), nullptr));
    ParamBuilderPtr builder(OSSL_PARAM_BLD_new());
    if (!bn_n || !bn_e || !builder || OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
        return kOutOfMemory;
    }
    ParamsPtr params(OSSL_PARAM_BLD_to_param(builder.get()));
    EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
    EVP_PKEY *pkey = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
        return openssl_reason("cannot make an RSA key");
    }
    out->reset(pkey);
    return {};
}

// The EVP_PKEY for coordinates check_ec_coordinates accepted, as the
// uncompressed point 0x04 || x || y on the named curve. OpenSSL is then
// asked, explicitly, whether the point is on the curve (and not the point at
// infinity): an off-curve point is the invalid-curve attack's way in.
// EVP_PKEY_fromdata in 3.0 refuses one already ("point is not on curve"),
// and cjose's import before us too; neither is a promise we rely on.
std::string make_ec_pkey(Curve curve, const std::string &x, const std::string &y, EvpPkeyPtr *out)
{
    const char *group = curve == Curve::P256   ? "prime256v1"
                        : curve == Curve::P384 ? "secp384r1"
                        : curve == Curve::P521 ? "secp521r1"
                                               : nullptr;
    const size_t width = coordinate_size(curve);
    unsigned char point[1 + 2 * 66];
    if (!group || x.size() != width || y.size() != width || 1 + 2 * width > sizeof point) {
        return "unsupported curve";
    }
    point[0] = 0x04;
    std::memcpy(point + 1, x.data(), width);
    std::memcpy(point + 1 + width, y.data(), width);

    OpenSslErrorScope errors;
    ParamBuilderPtr builder(OSSL_PARAM_BLD_new());
    if (!builder || OSSL_PARAM_BLD_push_utf8_string(builder.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(builder.get(), OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * width) != 1) {
        return kOutOfMemory;
    }
    ParamsPtr params(OSSL_PARAM_BLD_to_param(builder.get()));
    EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
    EVP_PKEY *raw = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
        return openssl_reason("cannot make an EC key");
    }
    EvpPkeyPtr pkey(raw);
    EvpPkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
    if (!check || EVP_PKEY_public_check_quick(check.get()) != 1) {
        return openssl_reason("EC point is not on the curve");
    }
    *out = std::move(pkey);
    return {};
}

// The key for EVP, and a verification context for each algorithm it fits
// (only `only`'s, when not null).
std::string prepare_for_evp(Key *key, const std::string &a, const std::string &b, const Algorithm *only)
{
    std::string why = key->kty == KeyType::RSA ? make_rsa_pkey(a, b, &key->pkey) : make_ec_pkey(key->crv, a, b, &key->pkey);
    if (!why.empty()) {
        return why;
    }
    // OpenSSL must see the modulus we measured, or the exact-length rule in
    // verify_signature would hold the wrong length. Cannot differ today.
    if (key->kty == KeyType::RSA && static_cast<size_t>(EVP_PKEY_get_size(key->pkey.get())) != key->signature_size) {
        return "rejected by OpenSSL: modulus size differs";
    }
    for (size_t i = 0; i < kAlgorithmCount; i++) {
        const auto alg = static_cast<Algorithm>(i);
        if (key->fits(alg) && (!only || *only == alg)) {
            key->verifiers[i] = prepare_verification(key->pkey.get(), alg);
            if (!key->verifiers[i]) {
                return std::string("rejected by OpenSSL for ") + algorithm_name(alg);
            }
        }
    }
    return {};
}

// Key material from a remote server ends up in the error log: no raw
// line-breaking character (the same set as claims: C0, DEL, C1, U+2028/2029,
// each of its bytes as \xNN), so no forged log line, and no unbounded length.
std::string printable(std::string_view text)
{
    static const char kHex[] = "0123456789abcdef";
    const std::string_view head = text.substr(0, 128);
    std::string out;
    size_t escape = 0;  // bytes of the current line breaker still to escape
    for (size_t i = 0; i < head.size(); i++) {
        const unsigned char c = static_cast<unsigned char>(head[i]);
        escape = escape ? escape : line_breaking_char_length(head, i);
        if (escape || c == '\\') {
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 15];
            escape -= escape ? 1 : 0;
        } else {
            out += static_cast<char>(c);
        }
    }
    if (text.size() > 128) {
        out += "...";
    }
    return out;
}

// Builds a Key from one JWK, or returns the reason it cannot be used. With
// `only` (a DPoP proof's key, imported per request for one signature), the
// key must fit that algorithm, only its verifier is prepared, and no cjose
// copy is made: nothing reads it.
std::string import_key(const json_t *jwk, Key *key, const Algorithm *only = nullptr)
{
    if (!json_is_object(jwk)) {
        return "not a JSON object";
    }
    std::string_view kty;
    if (!json_string_member(jwk, "kty", &kty)) {
        return "no \"kty\"";
    }
    std::string_view kid;
    if (json_object_get(jwk, "kid")) {
        if (!json_string_member(jwk, "kid", &kid)) {
            return "\"kid\" is not a string";
        }
        key->kid = std::string(kid);
    }
    std::string_view use;
    if (json_object_get(jwk, "use") && (!json_string_member(jwk, "use", &use) || use != "sig")) {
        return "\"use\" is not \"sig\"";
    }
    if (const json_t *ops = json_object_get(jwk, "key_ops")) {
        bool verify = false;
        size_t i;
        const json_t *op;
        json_array_foreach(ops, i, op)
        {
            verify = verify || (json_is_string(op) && std::string_view(json_string_value(op)) == "verify");
        }
        if (!verify) {
            return "\"key_ops\" lacks \"verify\"";
        }
    }
    std::string_view alg;
    if (json_object_get(jwk, "alg")) {
        if (!json_string_member(jwk, "alg", &alg)) {
            return "\"alg\" is not a string";
        }
        key->alg = algorithm_from_name(alg);
        if (!key->alg) {
            return "unsupported \"alg\" " + std::string(alg);
        }
    }

    // RSA n and e, or EC x and y, as checked below.
    std::string number_a, number_b;
    if (kty == "RSA") {
        if (!has_string_members(jwk, {"n", "e"})) {
            return "RSA key without \"n\" and \"e\"";
        }
        std::string why = check_rsa_numbers(jwk, &number_a, &number_b);
        if (!why.empty()) {
            return why;
        }
        key->signature_size = number_a.size();
        key->kty = KeyType::RSA;
        key->crv = Curve::none;
    } else if (kty == "EC") {
        std::string_view crv;
        if (!json_string_member(jwk, "crv", &crv)) {
            return "EC key without \"crv\"";
        }
        auto curve = curve_from_name(crv);
        if (!curve) {
            return "unsupported curve " + std::string(crv);
        }
        if (!has_string_members(jwk, {"x", "y"})) {
            return "EC key without \"x\" and \"y\"";
        }
        std::string why = check_ec_coordinates(jwk, *curve, &number_a, &number_b);
        if (!why.empty()) {
            return why;
        }
        key->kty = KeyType::EC;
        key->crv = *curve;
    } else {
        return "unsupported kty " + std::string(kty);
    }
    if (key->alg && !key->fits(*key->alg)) {
        return "\"alg\" " + std::string(alg) + " does not fit the key";
    }
    // RFC 7518 §3.3 and §3.4: an RSA signature is exactly the modulus length
    // and an ECDSA one is R||S at the curve's width. cjose accepts longer
    // ones, which would make signatures malleable.
    if (key->kty == KeyType::EC) {
        key->signature_size = 2 * coordinate_size(key->crv);
    }
    if (only) {
        if (!key->fits(*only)) {
            return std::string("does not fit ") + algorithm_name(*only);
        }
        return prepare_for_evp(key, number_a, number_b, only);
    }

    // Import only the public members: cjose would happily load a private
    // half ("d", "p", ...) that a published key set should never carry.
    JsonPtr public_jwk(json_object());
    if (!public_jwk) {
        return kOutOfMemory;
    }
    static const char *const kRsaMembers[] = {"kty", "n", "e", nullptr};
    static const char *const kEcMembers[] = {"kty", "crv", "x", "y", nullptr};
    for (const char *const *name = key->kty == KeyType::RSA ? kRsaMembers : kEcMembers; *name; name++) {
        json_object_set(public_jwk.get(), *name, json_object_get(jwk, *name));
    }

    cjose_err err;
    key->jwk.reset(cjose_jwk_import_json(public_jwk.get(), &err));
    if (!key->jwk) {
        return std::string("rejected by cjose: ") + (err.message ? err.message : "invalid key");
    }
    return prepare_for_evp(key, number_a, number_b, nullptr);
}

}  // namespace

bool Key::fits(Algorithm token_alg) const noexcept
{
    if (key_type_for(token_alg) != kty || curve_for(token_alg) != crv) {
        return false;
    }
    return !alg || *alg == token_alg;
}

JwksParseResult parse_jwks(std::string_view json) noexcept
{
    JwksParseResult result;
    try {
        JsonPtr root = parse_json_object(json);
        json_t *keys = root ? json_object_get(root.get(), "keys") : nullptr;
        if (!json_is_array(keys)) {
            result.status = Reason::jwks_malformed;
            return result;
        }
        size_t i;
        json_t *jwk;
        json_array_foreach(keys, i, jwk)
        {
            Key key{};
            std::string why = import_key(jwk, &key);
            if (why.empty()) {
                result.keys.mutable_keys().push_back(std::move(key));
                continue;
            }
            std::string name = key.kid ? "kid \"" + *key.kid + "\"" : "key #" + std::to_string(i);
            result.skipped.push_back(printable(name + ": " + why));
        }
        result.status = result.keys.empty() ? Reason::jwks_no_usable_key : Reason::ok;
    } catch (...) {
        result = JwksParseResult{};
        result.status = Reason::internal_error;
    }
    return result;
}

Reason import_public_jwk(const json_t *jwk, Algorithm alg, Key *out) noexcept
{
    try {
        if (!json_is_object(jwk)) {
            return Reason::dpop_proof_bad_key;
        }
        // RFC 7518 §6.2.2, §6.3.2 and §6.4: every private or secret member.
        // A client that sends one has leaked its key.
        for (const char *name : {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}) {
            if (json_object_get(jwk, name)) {
                return Reason::dpop_proof_private_key;
            }
        }
        Key key{};
        const std::string why = import_key(jwk, &key, &alg);
        if (why == kOutOfMemory) {
            return Reason::internal_error;
        }
        if (!why.empty()) {
            return Reason::dpop_proof_bad_key;
        }
        *out = std::move(key);
        return Reason::ok;
    } catch (...) {
        return Reason::internal_error;
    }
}

std::shared_ptr<const KeySet> share_keys(KeySet keys) noexcept
{
    try {
        return std::make_shared<const KeySet>(std::move(keys));
    } catch (...) {
        return nullptr;
    }
}

}  // namespace m2m
