#include "test_keys.h"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

namespace testkeys {

namespace {

[[noreturn]] void die(const char *what)
{
    std::fprintf(stderr, "test_keys: %s failed\n", what);
    ERR_print_errors_fp(stderr);
    std::abort();
}

struct KeyInfo {
    const char *type;  // "RSA" or "EC"
    size_t bits;       // RSA
    const char *curve;  // EC: OpenSSL group name == JOSE crv name
    size_t coord_bytes;
    unsigned primes;   // RSA: 2, or more for a multi-prime key (RFC 8017 §3)
};

// The large RSA keys are multi-prime: a 4096-bit key made of four 1024-bit
// primes costs about what a 2048-bit one does to generate, where two
// 2048-bit primes take seconds. A verifier only ever sees (n, e), which is
// an ordinary RSA public key of that size.
constexpr std::array<KeyInfo, 9> kInfo = {{
    {"RSA", 2048, nullptr, 0, 2},
    {"RSA", 2048, nullptr, 0, 2},
    {"RSA", 1024, nullptr, 0, 2},
    {"EC", 0, "P-256", 32, 0},
    {"EC", 0, "P-256", 32, 0},
    {"EC", 0, "P-384", 48, 0},
    {"EC", 0, "P-521", 66, 0},
    {"RSA", 3072, nullptr, 0, 3},
    {"RSA", 4096, nullptr, 0, 4},
}};

std::array<EVP_PKEY *, kInfo.size()> g_keys{};

const KeyInfo &info(KeyName name) { return kInfo[static_cast<size_t>(name)]; }

EVP_PKEY *generate(const KeyInfo &ki)
{
    EVP_PKEY *key = nullptr;
    if (std::string_view(ki.type) == "RSA" && ki.primes > 2) {
        std::unique_ptr<EVP_PKEY_CTX, void (*)(EVP_PKEY_CTX *)> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr),
                                                                    EVP_PKEY_CTX_free);
        if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
            EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), static_cast<int>(ki.bits)) != 1 ||
            EVP_PKEY_CTX_set_rsa_keygen_primes(ctx.get(), static_cast<int>(ki.primes)) != 1 ||
            EVP_PKEY_generate(ctx.get(), &key) != 1) {
            die("multi-prime RSA keygen");
        }
    } else if (std::string_view(ki.type) == "RSA") {
        key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", ki.bits);
    } else {
        key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", ki.curve);
    }
    if (!key) {
        die("EVP_PKEY_Q_keygen");
    }
    return key;
}

struct BnFree {
    void operator()(BIGNUM *bn) const { BN_clear_free(bn); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;

BnPtr get_bn(EVP_PKEY *key, const char *param)
{
    BIGNUM *bn = nullptr;
    if (EVP_PKEY_get_bn_param(key, param, &bn) != 1 || !bn) {
        die(param);
    }
    return BnPtr(bn);
}

// Big-endian bytes; width 0 means minimal length.
std::string bn_bytes(const BIGNUM *bn, size_t width)
{
    if (width == 0) {
        width = static_cast<size_t>(BN_num_bytes(bn));
    }
    std::string out(width, '\0');
    if (BN_bn2binpad(bn, reinterpret_cast<unsigned char *>(&out[0]), static_cast<int>(width)) < 0) {
        die("BN_bn2binpad");
    }
    return out;
}

const EVP_MD *digest_for(const std::string &alg)
{
    std::string bits = alg.size() >= 3 ? alg.substr(alg.size() - 3) : "";
    if (bits == "256") {
        return EVP_sha256();
    }
    if (bits == "384") {
        return EVP_sha384();
    }
    if (bits == "512") {
        return EVP_sha512();
    }
    die("digest_for (unknown alg)");
}

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

}  // namespace

void init_all()
{
    for (size_t i = 0; i < kInfo.size(); i++) {
        pkey(static_cast<KeyName>(i));
    }
}

EVP_PKEY *pkey(KeyName name)
{
    EVP_PKEY *&slot = g_keys[static_cast<size_t>(name)];
    if (!slot) {
        slot = generate(info(name));
    }
    return slot;
}

std::string b64url_encode(std::string_view bytes)
{
    std::string out;
    out.reserve((bytes.size() * 4 + 2) / 3);
    size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        uint32_t v = (uint32_t(uint8_t(bytes[i])) << 16) | (uint32_t(uint8_t(bytes[i + 1])) << 8) |
                     uint32_t(uint8_t(bytes[i + 2]));
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += kAlphabet[(v >> 6) & 63];
        out += kAlphabet[v & 63];
    }
    size_t rest = bytes.size() - i;
    if (rest == 1) {
        uint32_t v = uint32_t(uint8_t(bytes[i])) << 16;
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
    } else if (rest == 2) {
        uint32_t v = (uint32_t(uint8_t(bytes[i])) << 16) | (uint32_t(uint8_t(bytes[i + 1])) << 8);
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += kAlphabet[(v >> 6) & 63];
    }
    return out;
}

bool b64url_decode(std::string_view in, std::string *out)
{
    out->clear();
    if (in.size() % 4 == 1) {
        return false;
    }
    uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        const char *p = c ? std::strchr(kAlphabet, c) : nullptr;
        if (!p) {
            return false;
        }
        acc = ((acc << 6) | uint32_t(p - kAlphabet)) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out->push_back(static_cast<char>((acc >> bits) & 0xff));
        }
    }
    return (acc & ((1u << bits) - 1)) == 0;
}

JwkParts jwk_parts(KeyName name)
{
    const KeyInfo &ki = info(name);
    EVP_PKEY *key = pkey(name);
    JwkParts parts;
    if (std::string_view(ki.type) == "RSA") {
        parts.kty = "RSA";
        parts.n = b64url_encode(bn_bytes(get_bn(key, OSSL_PKEY_PARAM_RSA_N).get(), 0));
        parts.e = b64url_encode(bn_bytes(get_bn(key, OSSL_PKEY_PARAM_RSA_E).get(), 0));
        parts.d = b64url_encode(bn_bytes(get_bn(key, OSSL_PKEY_PARAM_RSA_D).get(), 0));
    } else {
        parts.kty = "EC";
        parts.crv = ki.curve;
        parts.x = b64url_encode(bn_bytes(get_bn(key, OSSL_PKEY_PARAM_EC_PUB_X).get(), ki.coord_bytes));
        parts.y = b64url_encode(bn_bytes(get_bn(key, OSSL_PKEY_PARAM_EC_PUB_Y).get(), ki.coord_bytes));
        parts.d = b64url_encode(bn_bytes(get_bn(key, OSSL_PKEY_PARAM_PRIV_KEY).get(), ki.coord_bytes));
    }
    return parts;
}

std::string public_jwk(KeyName name, const std::string &kid, const std::string &extra)
{
    JwkParts p = jwk_parts(name);
    std::string out = "{\"kty\":\"" + p.kty + "\"";
    if (!kid.empty()) {
        out += ",\"kid\":\"" + kid + "\"";
    }
    if (p.kty == "RSA") {
        out += ",\"n\":\"" + p.n + "\",\"e\":\"" + p.e + "\"";
    } else {
        out += ",\"crv\":\"" + p.crv + "\",\"x\":\"" + p.x + "\",\"y\":\"" + p.y + "\"";
    }
    if (!extra.empty()) {
        out += "," + extra;
    }
    return out + "}";
}

std::string jwk_set(const std::vector<std::string> &jwks)
{
    std::string out = "{\"keys\":[";
    for (size_t i = 0; i < jwks.size(); i++) {
        if (i > 0) {
            out += ",";
        }
        out += jwks[i];
    }
    return out + "]}";
}

std::string sign_bytes(const std::string &alg, KeyName name, std::string_view input)
{
    EVP_PKEY *key = pkey(name);
    const EVP_MD *md = digest_for(alg);
    std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX *)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    EVP_PKEY_CTX *pctx = nullptr;
    if (!ctx || EVP_DigestSignInit(ctx.get(), &pctx, md, nullptr, key) != 1) {
        die("EVP_DigestSignInit");
    }
    const bool pss = alg.rfind("PS", 0) == 0;
    if (pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
                EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1)) {
        die("PSS parameters");
    }
    const auto *data = reinterpret_cast<const unsigned char *>(input.data());
    size_t len = 0;
    if (EVP_DigestSign(ctx.get(), nullptr, &len, data, input.size()) != 1) {
        die("EVP_DigestSign (size)");
    }
    std::string sig(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char *>(&sig[0]), &len, data, input.size()) != 1) {
        die("EVP_DigestSign");
    }
    sig.resize(len);
    if (std::string_view(info(name).type) == "RSA") {
        return sig;
    }
    // ECDSA: DER SEQUENCE { r, s } -> fixed-width R || S (RFC 7518 §3.4).
    const auto *der = reinterpret_cast<const unsigned char *>(sig.data());
    ECDSA_SIG *ecdsa = d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(sig.size()));
    if (!ecdsa) {
        die("d2i_ECDSA_SIG");
    }
    const BIGNUM *r = nullptr;
    const BIGNUM *s = nullptr;
    ECDSA_SIG_get0(ecdsa, &r, &s);
    const size_t width = info(name).coord_bytes;
    std::string raw = bn_bytes(r, width) + bn_bytes(s, width);
    ECDSA_SIG_free(ecdsa);
    return raw;
}

std::string hmac_sha256(std::string_view secret, std::string_view input)
{
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
              reinterpret_cast<const unsigned char *>(input.data()), input.size(), out, &len)) {
        die("HMAC");
    }
    return std::string(reinterpret_cast<char *>(out), len);
}

std::string sign_compact(const std::string &sign_alg, KeyName key, const std::string &header_json,
                         const std::string &payload_json)
{
    std::string input = b64url_encode(header_json) + "." + b64url_encode(payload_json);
    return input + "." + b64url_encode(sign_bytes(sign_alg, key, input));
}

std::string header_json(const std::string &alg, const std::string &kid, const std::string &extra)
{
    std::string out = "{\"alg\":\"" + alg + "\",\"typ\":\"at+jwt\"";
    if (!kid.empty()) {
        out += ",\"kid\":\"" + kid + "\"";
    }
    if (!extra.empty()) {
        out += "," + extra;
    }
    return out + "}";
}

std::string make_token(const std::string &alg, KeyName key, const std::string &kid, const std::string &payload_json)
{
    return sign_compact(alg, key, header_json(alg, kid), payload_json);
}

Segments split(const std::string &compact)
{
    size_t a = compact.find('.');
    size_t b = a == std::string::npos ? a : compact.find('.', a + 1);
    if (b == std::string::npos || compact.find('.', b + 1) != std::string::npos) {
        die("split (not three segments)");
    }
    return {compact.substr(0, a), compact.substr(a + 1, b - a - 1), compact.substr(b + 1)};
}

}  // namespace testkeys
