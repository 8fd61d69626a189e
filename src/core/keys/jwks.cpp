#include "keys/jwks.h"

#include <algorithm>
#include <utility>

#include "base64url.h"

namespace m2m {

namespace {

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
// an odd modulus and a small odd exponent of at least 3.
std::string check_rsa_numbers(const json_t *jwk, size_t *modulus_bytes)
{
    std::string n, e;
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
    *modulus_bytes = n.size();
    return {};
}

// RFC 7518 §6.2.1.2: each coordinate is the full field width. cjose's own
// base64 decoder asserts on some malformed input (an embedded '='), so no
// byte reaches it that our strict decoder has not accepted first.
std::string check_ec_coordinates(const json_t *jwk, Curve curve)
{
    const size_t width = coordinate_size(curve);
    std::string_view text;
    std::string decoded;
    for (const char *name : {"x", "y"}) {
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

// Builds a Key from one JWK, or returns the reason it cannot be used.
std::string import_key(json_t *jwk, Key *key)
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

    if (kty == "RSA") {
        if (!has_string_members(jwk, {"n", "e"})) {
            return "RSA key without \"n\" and \"e\"";
        }
        std::string why = check_rsa_numbers(jwk, &key->signature_size);
        if (!why.empty()) {
            return why;
        }
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
        std::string why = check_ec_coordinates(jwk, *curve);
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

    // Import only the public members: cjose would happily load a private
    // half ("d", "p", ...) that a published key set should never carry.
    JsonPtr public_jwk(json_object());
    if (!public_jwk) {
        return "out of memory";
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
    // RFC 7518 §3.3 and §3.4: an RSA signature is exactly the modulus length
    // and an ECDSA one is R||S at the curve's width. cjose accepts longer
    // ones, which would make signatures malleable.
    if (key->kty == KeyType::EC) {
        key->signature_size = 2 * coordinate_size(key->crv);
    }
    return {};
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

std::shared_ptr<const KeySet> share_keys(KeySet keys) noexcept
{
    try {
        return std::make_shared<const KeySet>(std::move(keys));
    } catch (...) {
        return nullptr;
    }
}

}  // namespace m2m
