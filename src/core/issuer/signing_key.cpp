#include "issuer/signing_key.h"

#include <stdexcept>
#include <utility>

#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "base64url.h"
#include "keys/jwks.h"
#include "keys/thumbprint.h"

namespace m2m {

namespace {

// An unencrypted key is the only kind nginx can read unattended: without a
// callback, OpenSSL would prompt for a passphrase on the terminal.
int refuse_passphrase(char *, int, int, void *asked)
{
    *static_cast<bool *>(asked) = true;
    return -1;
}

std::string jwk_json(const PublicMembers &m, const std::string &kid, Algorithm alg)
{
    std::string out = "{\"kty\":\"";
    out += m.kty == KeyType::RSA ? "RSA" : "EC";
    out += "\",\"kid\":\"" + kid + "\",\"use\":\"sig\",\"alg\":\"";
    out += algorithm_name(alg);
    if (m.kty == KeyType::RSA) {
        out += "\",\"n\":\"" + m.n + "\",\"e\":\"" + m.e + "\"}";
    } else {
        out += "\",\"crv\":\"" + std::string(m.crv) + "\",\"x\":\"" + m.x + "\",\"y\":\"" + m.y + "\"}";
    }
    return out;
}

// Which algorithm the key signs with, or false and *error.
bool choose_algorithm(const EVP_PKEY *key, Algorithm *alg, std::string *error)
{
    if (EVP_PKEY_is_a(key, "RSA")) {
        const int bits = EVP_PKEY_get_bits(key);
        if (bits < static_cast<int>(kMinRsaBits)) {
            *error = "is an RSA key of " + std::to_string(bits) + " bits: at least " + std::to_string(kMinRsaBits) +
                     " are needed (RFC 7518 §3.3)";
            return false;
        }
        if (bits > static_cast<int>(kMaxRsaBits)) {
            *error = "is an RSA key of " + std::to_string(bits) + " bits: at most " + std::to_string(kMaxRsaBits) +
                     " are verified";
            return false;
        }
        *alg = Algorithm::RS256;
        return true;
    }
    if (EVP_PKEY_is_a(key, "EC")) {
        // jose_curve knows P-521 (a DPoP client's key may be one); a
        // signing key stays P-256 or P-384.
        const char *crv = jose_curve(key);
        if (crv == nullptr || std::string_view(crv) == "P-521") {
            char group[64];
            size_t len = 0;
            if (EVP_PKEY_get_group_name(key, group, sizeof group, &len) == 1) {
                *error = std::string("is an EC key on curve ") + group + ": use P-256 or P-384";
            } else {
                *error = "is an EC key without a named curve: use P-256 or P-384";
            }
            return false;
        }
        *alg = std::string_view(crv) == "P-256" ? Algorithm::ES256 : Algorithm::ES384;
        return true;
    }
    const char *type = EVP_PKEY_get0_type_name(key);
    *error = std::string("is ") + (type ? std::string("a ") + type + " key" : "a key of an unknown type") +
             ": use RSA (2048 bits or more), EC P-256 or EC P-384";
    return false;
}

bool load_key(std::string_view pem, EvpPkeyPtr *out, std::string *error)
{
    if (pem.size() > kMaxPemSize) {
        *error = "is larger than " + std::to_string(kMaxPemSize / 1024) + " KiB: not one PEM key";
        return false;
    }
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!bio) {
        throw std::bad_alloc();
    }
    bool asked = false;
    EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, refuse_passphrase, &asked));
    if (!key) {
        if (asked) {
            *error = "holds an encrypted private key: nginx cannot ask for a passphrase; give the key "
                     "unencrypted and protect the file instead";
        } else if (pem.find("-----BEGIN ") == std::string_view::npos) {
            *error = "is not PEM: no \"-----BEGIN\" line";
        } else if (pem.find("PRIVATE KEY-----") == std::string_view::npos) {
            *error = "holds no private key (a public key or a certificate cannot sign)";
        } else {
            *error = "holds a private key that cannot be read (damaged PEM?)";
        }
        return false;
    }
    // One key per file: a second one would be silently ignored.
    bool asked_again = false;
    EvpPkeyPtr second(PEM_read_bio_PrivateKey(bio.get(), nullptr, refuse_passphrase, &asked_again));
    if (second || asked_again) {
        *error = "holds more than one private key: give each key a file of its own";
        return false;
    }
    *out = std::move(key);
    return true;
}

}  // namespace

bool SigningKey::load(std::string_view pem, SigningKey *out, std::string *error) noexcept
{
    OpenSslErrorScope errors;
    try {
        EvpPkeyPtr key;
        Algorithm alg{};
        if (!load_key(pem, &key, error) || !choose_algorithm(key.get(), &alg, error)) {
            return false;
        }
        // A damaged key would sign tokens nobody can verify: better refused
        // by nginx -t than found by the first client.
        EvpPkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
        if (!check || EVP_PKEY_pairwise_check(check.get()) != 1) {
            *error = "holds a private key that does not match its public part";
            return false;
        }
        const PublicMembers members = public_members(key.get());
        SigningKey loaded;
        loaded.kid_ = thumbprint(members);
        loaded.public_jwk_ = jwk_json(members, loaded.kid_, alg);
        loaded.alg_ = alg;
        loaded.pkey_ = std::move(key);
        *out = std::move(loaded);
        return true;
    } catch (const std::bad_alloc &) {
        *error = "out of memory";
    } catch (const std::exception &e) {
        try {
            *error = std::string("cannot be used: ") + e.what();
        } catch (...) {
            *error = "out of memory";
        }
    }
    return false;
}

std::string SigningKey::sign(std::string_view payload_json) const
{
    OpenSslErrorScope errors;
    const bool ec = alg_ != Algorithm::RS256;
    const std::string header =
        std::string("{\"alg\":\"") + algorithm_name(alg_) + "\",\"typ\":\"at+jwt\",\"kid\":\"" + kid_ + "\"}";
    std::string out = base64url_encode(header);
    out += '.';
    out += base64url_encode(payload_json);

    EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX *pctx = nullptr;
    if (!ctx ||
        EVP_DigestSignInit_ex(ctx.get(), &pctx, alg_ == Algorithm::ES384 ? "SHA384" : "SHA256", nullptr, nullptr,
                              pkey_.get(), nullptr) != 1 ||
        (!ec && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)) {
        throw std::runtime_error("cannot set up signing");
    }
    const int max = EVP_PKEY_get_size(pkey_.get());
    if (max <= 0) {
        throw std::runtime_error("cannot set up signing");
    }
    std::string sig(static_cast<size_t>(max), '\0');
    size_t sig_size = sig.size();
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char *>(&sig[0]), &sig_size,
                       reinterpret_cast<const unsigned char *>(out.data()), out.size()) != 1) {
        throw std::runtime_error("signing failed");
    }
    sig.resize(sig_size);

    if (ec) {
        // JWS wants R||S, each left-padded to the field size (RFC 7518 §3.4);
        // OpenSSL gives DER.
        const size_t width = alg_ == Algorithm::ES256 ? 32 : 48;
        const unsigned char *p = reinterpret_cast<const unsigned char *>(sig.data());
        EcdsaSigPtr der(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())));
        const BIGNUM *r = nullptr, *s = nullptr;
        if (der) {
            ECDSA_SIG_get0(der.get(), &r, &s);
        }
        std::string rs(2 * width, '\0');
        unsigned char *to = reinterpret_cast<unsigned char *>(&rs[0]);
        if (!r || !s || BN_bn2binpad(r, to, static_cast<int>(width)) < 0 ||
            BN_bn2binpad(s, to + width, static_cast<int>(width)) < 0) {
            throw std::runtime_error("cannot convert the ECDSA signature");
        }
        sig = std::move(rs);
    }

    out += '.';
    out += base64url_encode(sig);
    return out;
}

std::string jwks_json(const SigningKey *keys, size_t count)
{
    std::string out = "{\"keys\":[";
    for (size_t i = 0; i < count; i++) {
        if (i > 0) {
            out += ',';
        }
        out += keys[i].public_jwk();
    }
    out += "]}";
    return out;
}

}  // namespace m2m
