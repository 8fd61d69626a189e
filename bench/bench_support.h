// What the micro-benchmarks share: their tokens are made here with OpenSSL
// and encoded here, not with the module's base64url, so that what they
// measure is fed the way an independent issuer would feed it.
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

namespace bench {

[[noreturn]] inline void die(const char *what)
{
    std::fprintf(stderr, "%s: %s failed\n", program_invocation_short_name, what);
    ERR_print_errors_fp(stderr);
    std::exit(1);
}

inline std::string b64url(const std::string &bytes)
{
    static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    unsigned acc = 0;
    int bits = 0;
    for (unsigned char c : bytes) {
        acc = (acc << 8) | c;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += kAlphabet[(acc >> bits) & 63];
        }
    }
    if (bits > 0) {
        out += kAlphabet[(acc << (6 - bits)) & 63];
    }
    return out;
}

// A key's big-number parameter, big-endian, left-padded to `width` bytes
// (0: as long as the number).
inline std::string bn_param(EVP_PKEY *key, const char *name, size_t width = 0)
{
    BIGNUM *bn = nullptr;
    if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) {
        die(name);
    }
    std::string out(width ? width : static_cast<size_t>(BN_num_bytes(bn)), '\0');
    BN_bn2binpad(bn, reinterpret_cast<unsigned char *>(&out[0]), static_cast<int>(out.size()));
    BN_free(bn);
    return out;
}

// An ECDSA signature in JWS form (R || S, RFC 7518 §3.4) as DER, the form
// OpenSSL 3.0 verifies.
inline std::string rs_to_der(const std::string &rs)
{
    const size_t half = rs.size() / 2;
    const auto *sig = reinterpret_cast<const unsigned char *>(rs.data());
    ECDSA_SIG *es = ECDSA_SIG_new();
    ECDSA_SIG_set0(es, BN_bin2bn(sig, static_cast<int>(half), nullptr),
                   BN_bin2bn(sig + half, static_cast<int>(half), nullptr));
    unsigned char *out = nullptr;
    const int n = i2d_ECDSA_SIG(es, &out);
    std::string der(reinterpret_cast<char *>(out), static_cast<size_t>(n));
    OPENSSL_free(out);
    ECDSA_SIG_free(es);
    return der;
}

// The JWS signature of `input` with SHA-256: RS256, PS256 (`pss`) or ES256
// on P-256 (`ecdsa`, returned as R || S).
inline std::string sign(EVP_PKEY *key, bool pss, bool ecdsa, const std::string &input)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = nullptr;
    if (!ctx || EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), nullptr, key) != 1 ||
        (pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                 EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))) {
        die("EVP_DigestSignInit");
    }
    size_t len = 0;
    const auto *in = reinterpret_cast<const unsigned char *>(input.data());
    if (EVP_DigestSign(ctx, nullptr, &len, in, input.size()) != 1) {
        die("EVP_DigestSign");
    }
    std::string sig(len, '\0');
    if (EVP_DigestSign(ctx, reinterpret_cast<unsigned char *>(&sig[0]), &len, in, input.size()) != 1) {
        die("EVP_DigestSign");
    }
    EVP_MD_CTX_free(ctx);
    sig.resize(len);
    if (!ecdsa) {
        return sig;
    }
    const auto *der = reinterpret_cast<const unsigned char *>(sig.data());
    ECDSA_SIG *es = d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(sig.size()));
    if (!es) {
        die("d2i_ECDSA_SIG");
    }
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(es), reinterpret_cast<unsigned char *>(&raw[0]), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), reinterpret_cast<unsigned char *>(&raw[32]), 32);
    ECDSA_SIG_free(es);
    return raw;
}

// This thread's CPU time: what a run costs, whatever else the machine does.
inline double thread_cpu_ns()
{
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

}  // namespace bench
