#include "keys/thumbprint.h"

#include <climits>
#include <stdexcept>
#include <string_view>

#include <openssl/core_names.h>
#include <openssl/objects.h>

#include "base64url.h"

namespace m2m {

namespace {

std::string bignum_b64(const EVP_PKEY *key, const char *param, size_t width)
{
    BIGNUM *raw = nullptr;
    if (EVP_PKEY_get_bn_param(key, param, &raw) != 1) {
        throw std::runtime_error("cannot read the public key");
    }
    BignumPtr bn(raw);
    const int bytes = BN_num_bytes(bn.get());
    if (width == 0) {
        width = static_cast<size_t>(bytes);  // RSA: minimal, no leading zero (RFC 7518 §6.3.1)
    }
    if (bytes < 0 || static_cast<size_t>(bytes) > width || width > INT_MAX) {
        throw std::runtime_error("cannot read the public key");
    }
    std::string out(width, '\0');
    if (BN_bn2binpad(bn.get(), reinterpret_cast<unsigned char *>(&out[0]), static_cast<int>(width)) < 0) {
        throw std::runtime_error("cannot read the public key");
    }
    return base64url_encode(out);
}

}  // namespace

const char *jose_curve(const EVP_PKEY *key) noexcept
{
    char group[64];
    size_t len = 0;
    if (!EVP_PKEY_is_a(key, "EC") || EVP_PKEY_get_group_name(key, group, sizeof group, &len) != 1) {
        return nullptr;
    }
    switch (OBJ_txt2nid(group)) {
    case NID_X9_62_prime256v1:
        return "P-256";
    case NID_secp384r1:
        return "P-384";
    case NID_secp521r1:
        return "P-521";
    default:
        return nullptr;
    }
}

PublicMembers public_members(const EVP_PKEY *key)
{
    PublicMembers m;
    if (EVP_PKEY_is_a(key, "RSA")) {
        m.kty = KeyType::RSA;
        m.n = bignum_b64(key, OSSL_PKEY_PARAM_RSA_N, 0);
        m.e = bignum_b64(key, OSSL_PKEY_PARAM_RSA_E, 0);
        return m;
    }
    if (EVP_PKEY_is_a(key, "EC")) {
        m.kty = KeyType::EC;
        m.crv = jose_curve(key);
        if (m.crv == nullptr) {
            throw std::runtime_error("not a P-256, P-384 or P-521 key");
        }
        const std::string_view crv(m.crv);
        const size_t width = crv == "P-256" ? 32 : crv == "P-384" ? 48 : 66;
        m.x = bignum_b64(key, OSSL_PKEY_PARAM_EC_PUB_X, width);
        m.y = bignum_b64(key, OSSL_PKEY_PARAM_EC_PUB_Y, width);
        return m;
    }
    throw std::runtime_error("not an RSA or EC key");
}

// RFC 7638 §3.2: the required members only, in lexicographic order, no
// whitespace. Every value is base64url or a fixed name: nothing to escape.
std::string thumbprint(const PublicMembers &m)
{
    const std::string canonical =
        m.kty == KeyType::RSA
            ? "{\"e\":\"" + m.e + "\",\"kty\":\"RSA\",\"n\":\"" + m.n + "\"}"
            : "{\"crv\":\"" + std::string(m.crv) + "\",\"kty\":\"EC\",\"x\":\"" + m.x + "\",\"y\":\"" + m.y + "\"}";
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (EVP_Digest(canonical.data(), canonical.size(), digest, &size, EVP_sha256(), nullptr) != 1) {
        throw std::runtime_error("SHA-256 failed");
    }
    return base64url_encode(std::string_view(reinterpret_cast<const char *>(digest), size));
}

std::string jwk_thumbprint(const EVP_PKEY *key) noexcept
{
    OpenSslErrorScope errors;
    try {
        return thumbprint(public_members(key));
    } catch (...) {
        return std::string();
    }
}

}  // namespace m2m
