#include "fuzz_support.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sanitizer/common_interface_defs.h>

namespace fuzz {

namespace {

struct Free {
    void operator()(EVP_PKEY_CTX *p) const { EVP_PKEY_CTX_free(p); }
    void operator()(EVP_MD_CTX *p) const { EVP_MD_CTX_free(p); }
    void operator()(BIGNUM *p) const { BN_free(p); }
    void operator()(ECDSA_SIG *p) const { ECDSA_SIG_free(p); }
    void operator()(EC_GROUP *p) const { EC_GROUP_free(p); }
    void operator()(BIO *p) const { BIO_free(p); }
};
template <typename T>
using Ptr = std::unique_ptr<T, Free>;

// Setup failures are bugs in the harness, not findings: stop loudly.
EVP_PKEY *must(EVP_PKEY *key, const char *what)
{
    if (!key) {
        fprintf(stderr, "fuzz setup: %s failed\n", what);
        abort();
    }
    return key;
}

struct AlgSpec {
    const char *name;
    const EVP_MD *(*md)();
    char family;              // 'R' PKCS#1 v1.5, 'P' PSS, 'E' ECDSA
    const char *curve;        // ES only
};

const AlgSpec kAlgs[] = {
    {"RS256", EVP_sha256, 'R', nullptr}, {"RS384", EVP_sha384, 'R', nullptr}, {"RS512", EVP_sha512, 'R', nullptr},
    {"PS256", EVP_sha256, 'P', nullptr}, {"PS384", EVP_sha384, 'P', nullptr}, {"PS512", EVP_sha512, 'P', nullptr},
    {"ES256", EVP_sha256, 'E', "P-256"}, {"ES384", EVP_sha384, 'E', "P-384"}, {"ES512", EVP_sha512, 'E', "P-521"},
};

const AlgSpec *find_alg(std::string_view name)
{
    for (const auto &a : kAlgs) {
        if (name == a.name) {
            return &a;
        }
    }
    return nullptr;
}

std::string bn_bytes(const BIGNUM *bn, size_t width)
{
    std::string out(width ? width : static_cast<size_t>(BN_num_bytes(bn)), '\0');
    if (BN_bn2binpad(bn, reinterpret_cast<unsigned char *>(&out[0]), static_cast<int>(out.size())) < 0) {
        return {};
    }
    return out;
}

std::string bn_param(EVP_PKEY *key, const char *name, size_t width)
{
    BIGNUM *raw = nullptr;
    if (!EVP_PKEY_get_bn_param(key, name, &raw)) {
        return {};
    }
    Ptr<BIGNUM> bn(raw);
    return bn_bytes(bn.get(), width);
}

bool digest_init(EVP_MD_CTX *ctx, bool signing, EVP_PKEY *key, const AlgSpec &a, int pss_salt)
{
    EVP_PKEY_CTX *pctx = nullptr;
    const int ok = signing ? EVP_DigestSignInit(ctx, &pctx, a.md(), nullptr, key)
                           : EVP_DigestVerifyInit(ctx, &pctx, a.md(), nullptr, key);
    if (ok != 1) {
        return false;
    }
    if (a.family == 'P') {
        return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
               EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, a.md()) == 1 &&
               EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, pss_salt < 0 ? RSA_PSS_SALTLEN_DIGEST : pss_salt) == 1;
    }
    return true;
}

}  // namespace

void fail(const char *what)
{
    fprintf(stderr, "\n*** fuzz invariant broken: %s\n", what);
    // A trap is a signal the sanitizers do not report: say where we were.
    __sanitizer_print_stack_trace();
    fflush(stderr);
    __builtin_trap();
}

const char kEc1Pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg+LYB7ytqvvrcPwmf\n"
    "vU/c4e/Wos8TJFYDU/QhZgb5F7mhRANCAATL/pWplWp2yxKcZZcBZNkafFug2aNC\n"
    "D6At2J5vFkvjbHKE1rrBpi6751sNyjiHupg5Cl6vTsqIp6VWQdroMS8i\n"
    "-----END PRIVATE KEY-----\n";

namespace {

std::string encode(std::string_view bytes, const char *alphabet, bool pad)
{
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    for (unsigned char c : bytes) {
        acc = (acc << 8) | c;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += alphabet[(acc >> bits) & 63];
        }
    }
    if (bits > 0) {
        out += alphabet[(acc << (6 - bits)) & 63];
    }
    while (pad && out.size() % 4) {
        out += '=';
    }
    return out;
}

}  // namespace

std::string b64url_encode(std::string_view bytes)
{
    return encode(bytes, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", false);
}

std::string base64_encode(std::string_view bytes)
{
    return encode(bytes, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", true);
}

bool b64url_decode(std::string_view in, std::string *out)
{
    out->clear();
    uint32_t acc = 0;
    int bits = 0;
    for (char ch : in) {
        int v;
        if (ch >= 'A' && ch <= 'Z') {
            v = ch - 'A';
        } else if (ch >= 'a' && ch <= 'z') {
            v = ch - 'a' + 26;
        } else if (ch >= '0' && ch <= '9') {
            v = ch - '0' + 52;
        } else if (ch == '-' || ch == '_') {
            v = ch == '-' ? 62 : 63;
        } else {
            return false;
        }
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            *out += static_cast<char>((acc >> bits) & 0xff);
        }
    }
    // 6 leftover bits is a lone character (no byte); fewer must be zero.
    return bits < 6 && (acc & ((1u << bits) - 1)) == 0;
}

EVP_PKEY *generate_rsa(unsigned bits)
{
    return must(EVP_RSA_gen(bits), "RSA key generation");
}

EVP_PKEY *generate_ec(const char *group)
{
    return must(EVP_EC_gen(group), "EC key generation");
}

EVP_PKEY *load_private_pem(const char *pem)
{
    Ptr<BIO> bio(BIO_new_mem_buf(pem, -1));
    return must(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr, "PEM key load");
}

bool is_rsa(EVP_PKEY *key)
{
    return EVP_PKEY_is_a(key, "RSA");
}

size_t ec_field_bytes(EVP_PKEY *key)
{
    return is_rsa(key) ? 0 : (static_cast<size_t>(EVP_PKEY_get_bits(key)) + 7) / 8;
}

const char *ec_curve_name(EVP_PKEY *key)
{
    switch (is_rsa(key) ? 0 : EVP_PKEY_get_bits(key)) {
    case 256: return "P-256";
    case 384: return "P-384";
    case 521: return "P-521";
    default: return nullptr;
    }
}

std::string public_jwk(EVP_PKEY *key, const std::string &kid, const std::string &extra)
{
    std::string out = "{";
    if (is_rsa(key)) {
        out += "\"kty\":\"RSA\",\"n\":\"" + b64url_encode(bn_param(key, OSSL_PKEY_PARAM_RSA_N, 0)) +
               "\",\"e\":\"" + b64url_encode(bn_param(key, OSSL_PKEY_PARAM_RSA_E, 0)) + "\"";
    } else {
        const size_t w = ec_field_bytes(key);
        out += std::string("\"kty\":\"EC\",\"crv\":\"") + ec_curve_name(key) + "\",\"x\":\"" +
               b64url_encode(bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, w)) + "\",\"y\":\"" +
               b64url_encode(bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, w)) + "\"";
    }
    if (!kid.empty()) {
        out += ",\"kid\":\"" + kid + "\"";
    }
    if (!extra.empty()) {
        out += "," + extra;
    }
    return out + "}";
}

std::string sign(EVP_PKEY *key, std::string_view alg, std::string_view input, int pss_salt)
{
    const AlgSpec *a = find_alg(alg);
    Ptr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
    if (!a || !ctx || (a->family == 'E') == is_rsa(key) || !digest_init(ctx.get(), true, key, *a, pss_salt)) {
        return {};
    }
    size_t len = 0;
    const auto *in = reinterpret_cast<const unsigned char *>(input.data());
    if (EVP_DigestSign(ctx.get(), nullptr, &len, in, input.size()) != 1) {
        return {};
    }
    std::string sig(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char *>(&sig[0]), &len, in, input.size()) != 1) {
        return {};
    }
    sig.resize(len);
    return a->family == 'E' ? ecdsa_der_to_raw(sig, ec_field_bytes(key)) : sig;
}

bool evp_verify(EVP_PKEY *key, std::string_view alg, std::string_view input, std::string_view signature)
{
    const AlgSpec *a = find_alg(alg);
    if (!a) {
        return false;
    }
    std::string der;
    std::string_view sig = signature;
    if (a->family == 'E') {
        const char *curve = ec_curve_name(key);
        if (!curve || strcmp(curve, a->curve) != 0 || signature.size() != 2 * ec_field_bytes(key)) {
            return false;
        }
        der = ecdsa_raw_to_der(signature);
        if (der.empty()) {
            return false;
        }
        sig = der;
    } else if (!is_rsa(key) || signature.size() != static_cast<size_t>(EVP_PKEY_get_size(key))) {
        return false;
    }
    Ptr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
    return ctx && digest_init(ctx.get(), false, key, *a, -1) &&
           EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char *>(sig.data()), sig.size(),
                            reinterpret_cast<const unsigned char *>(input.data()), input.size()) == 1;
}

std::string ecdsa_raw_to_der(std::string_view raw)
{
    if (raw.empty() || raw.size() % 2 != 0) {
        return {};
    }
    const auto *p = reinterpret_cast<const unsigned char *>(raw.data());
    const int half = static_cast<int>(raw.size() / 2);
    Ptr<ECDSA_SIG> sig(ECDSA_SIG_new());
    BIGNUM *r = BN_bin2bn(p, half, nullptr);
    BIGNUM *s = BN_bin2bn(p + half, half, nullptr);
    if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
        BN_free(r);
        BN_free(s);
        return {};
    }
    unsigned char *der = nullptr;
    const int len = i2d_ECDSA_SIG(sig.get(), &der);
    if (len <= 0) {
        return {};
    }
    std::string out(reinterpret_cast<char *>(der), static_cast<size_t>(len));
    OPENSSL_free(der);
    return out;
}

std::string ecdsa_der_to_raw(std::string_view der, size_t width)
{
    const auto *p = reinterpret_cast<const unsigned char *>(der.data());
    Ptr<ECDSA_SIG> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
    if (!sig) {
        return {};
    }
    const std::string r = bn_bytes(ECDSA_SIG_get0_r(sig.get()), width);
    const std::string s = bn_bytes(ECDSA_SIG_get0_s(sig.get()), width);
    return r.empty() || s.empty() ? std::string() : r + s;
}

std::string rsa_modulus(EVP_PKEY *key)
{
    return bn_param(key, OSSL_PKEY_PARAM_RSA_N, 0);
}

std::string ec_order(EVP_PKEY *key)
{
    const char *curve = ec_curve_name(key);
    const int nid = !curve ? NID_undef
                    : strcmp(curve, "P-256") == 0 ? NID_X9_62_prime256v1
                    : strcmp(curve, "P-384") == 0 ? NID_secp384r1
                                                  : NID_secp521r1;
    Ptr<EC_GROUP> group(nid == NID_undef ? nullptr : EC_GROUP_new_by_curve_name(nid));
    return group ? bn_bytes(EC_GROUP_get0_order(group.get()), ec_field_bytes(key)) : std::string();
}

}  // namespace fuzz
