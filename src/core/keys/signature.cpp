#include "keys/signature.h"

#include <array>
#include <cstdint>
#include <cstring>

#include <openssl/rsa.h>

namespace m2m {

namespace {

enum class Scheme : uint8_t { pkcs1, pss, ecdsa };

// Indexes into fetched_digest's table.
enum class Digest : uint8_t { sha256, sha384, sha512 };

struct Method {
    Digest digest;
    Scheme scheme;
};

// Indexed by Algorithm (RFC 7518 §3.1).
constexpr std::array<Method, kAlgorithmCount> kMethods = {{
    {Digest::sha256, Scheme::pkcs1},
    {Digest::sha384, Scheme::pkcs1},
    {Digest::sha512, Scheme::pkcs1},
    {Digest::sha256, Scheme::pss},
    {Digest::sha384, Scheme::pss},
    {Digest::sha512, Scheme::pss},
    {Digest::sha256, Scheme::ecdsa},
    {Digest::sha384, Scheme::ecdsa},
    {Digest::sha512, Scheme::ecdsa},
}};

const Method &method(Algorithm alg)
{
    return kMethods[static_cast<size_t>(alg)];
}

// Fetched once per process and never per request: EVP_sha256() and its
// kin are legacy stand-ins that OpenSSL 3 resolves with a provider fetch
// (a locked lookup by name) inside every EVP_DigestInit (the "implicit
// fetch" of OpenSSL's crypto(7), "Performance"). Null if OpenSSL cannot
// supply the digest; then nothing verifies with it, and parse_jwks skips
// the keys that would need it. The first call comes from parse_jwks, in
// the process that loads keys, before any request.
const EVP_MD *fetched_digest(Digest digest)
{
    static const std::array<EvpMdPtr, 3> digests = {
        EvpMdPtr(EVP_MD_fetch(nullptr, "SHA256", nullptr)),
        EvpMdPtr(EVP_MD_fetch(nullptr, "SHA384", nullptr)),
        EvpMdPtr(EVP_MD_fetch(nullptr, "SHA512", nullptr)),
    };
    return digests[static_cast<size_t>(digest)].get();
}

// The widest ECDSA half (P-521: 66 bytes) and the longest DER SEQUENCE of
// two such INTEGERs: tag and long-form length (3), and per INTEGER a tag, a
// length and a 0x00 that keeps a high first byte positive (3).
constexpr size_t kMaxEcdsaHalf = 66;
constexpr size_t kMaxEcdsaDerSize = 3 + 2 * (3 + kMaxEcdsaHalf);

// One half of R || S as a DER INTEGER's content: minimal, as OpenSSL's
// ECDSA verification re-encodes what it decoded and refuses any other form.
struct DerInteger {
    const unsigned char *bytes;
    size_t size;
    bool pad;  // a 0x00 goes first, or the top bit would make it negative
};

DerInteger der_integer(const unsigned char *p, size_t n)
{
    while (n > 1 && *p == 0) {
        p++;
        n--;
    }
    return {p, n, (*p & 0x80) != 0};
}

unsigned char *put_der_integer(unsigned char *out, const DerInteger &v)
{
    *out++ = 0x02;
    *out++ = static_cast<unsigned char>(v.size + v.pad);
    if (v.pad) {
        *out++ = 0x00;
    }
    std::memcpy(out, v.bytes, v.size);
    return out + v.size;
}

// RFC 7518 §3.4's fixed-width R || S as the DER ECDSA-Sig-Value that
// OpenSSL 3.0 verifies (it has no raw R || S input), written into `out`
// (kMaxEcdsaDerSize bytes). `half` is 1 to kMaxEcdsaHalf. Returns the DER's
// length.
size_t ecdsa_der(const unsigned char *raw, size_t half, unsigned char *out)
{
    const DerInteger r = der_integer(raw, half);
    const DerInteger s = der_integer(raw + half, half);
    const size_t content = 2 + r.size + r.pad + 2 + s.size + s.pad;
    unsigned char *p = out;
    *p++ = 0x30;
    if (content >= 0x80) {
        *p++ = 0x81;  // at most 138 bytes: one length byte follows
    }
    *p++ = static_cast<unsigned char>(content);
    p = put_der_integer(p, r);
    p = put_der_integer(p, s);
    return static_cast<size_t>(p - out);
}

// The key's group size in bits for an ECDSA algorithm, 0 for RSA ones.
int curve_bits(Algorithm alg)
{
    switch (curve_for(alg)) {
    case Curve::P256:
        return 256;
    case Curve::P384:
        return 384;
    case Curve::P521:
        return 521;
    case Curve::none:
        break;
    }
    return 0;
}

}  // namespace

EvpPkeyCtxPtr prepare_verification(EVP_PKEY *pkey, Algorithm alg) noexcept
{
    const Method &m = method(alg);
    const EVP_MD *md = fetched_digest(m.digest);
    if (!pkey || !md) {
        return nullptr;
    }
    OpenSslErrorScope errors;
    // EVP would run ECDSA-with-SHA-512 on a P-256 key or PKCS#1 on any RSA
    // key: the key must be of the type and curve alg names.
    const bool rsa = key_type_for(alg) == KeyType::RSA;
    if (rsa ? !EVP_PKEY_is_a(pkey, "RSA")
            : !EVP_PKEY_is_a(pkey, "EC") || EVP_PKEY_get_bits(pkey) != curve_bits(alg)) {
        return nullptr;
    }
    EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
    if (!ctx || EVP_PKEY_verify_init(ctx.get()) != 1) {
        return nullptr;
    }
    if (m.scheme == Scheme::pkcs1 && EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1) {
        return nullptr;
    }
    // RFC 7518 §3.5: MGF1 with the hash of the algorithm, and a salt as long
    // as that hash. OpenSSL 3.0's verification default is any salt length
    // ("auto"), which RFC 7518 does not allow and cjose does not accept.
    if (m.scheme == Scheme::pss && (EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PSS_PADDING) != 1 ||
                                    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), md) != 1 ||
                                    EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx.get(), RSA_PSS_SALTLEN_DIGEST) != 1)) {
        return nullptr;
    }
    if (EVP_PKEY_CTX_set_signature_md(ctx.get(), md) != 1) {
        return nullptr;
    }
    return ctx;
}

Reason verify_signature(const Key &key, Algorithm alg, std::string_view signing_input,
                        std::string_view signature) noexcept
{
    if (!key.fits(alg)) {
        return Reason::key_alg_mismatch;
    }
    // First and exact (RFC 7518 §3.3-3.5): OpenSSL 3.0 takes an RSA-PSS
    // signature shorter than the modulus as the same number (it checks the
    // length for PKCS#1 v1.5 only), and one encoding per signature is what
    // keeps tokens from being malleable.
    if (signature.size() != key.signature_size) {
        return Reason::bad_signature;
    }
    const Method &m = method(alg);
    const EVP_MD *md = fetched_digest(m.digest);
    const EVP_PKEY_CTX *prepared = key.verifiers[static_cast<size_t>(alg)].get();
    if (!md || !prepared || (m.scheme == Scheme::ecdsa && (key.signature_size % 2 != 0 ||
                                                           key.signature_size > 2 * kMaxEcdsaHalf))) {
        return Reason::internal_error;  // not a key parse_jwks made
    }
    OpenSslErrorScope errors;

    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_size = 0;
    EvpMdCtxPtr hash(EVP_MD_CTX_new());
    if (!hash || EVP_DigestInit_ex2(hash.get(), md, nullptr) != 1 ||
        EVP_DigestUpdate(hash.get(), signing_input.data(), signing_input.size()) != 1 ||
        EVP_DigestFinal_ex(hash.get(), digest, &digest_size) != 1) {
        return Reason::internal_error;
    }

    const auto *sig = reinterpret_cast<const unsigned char *>(signature.data());
    size_t sig_size = signature.size();
    unsigned char der[kMaxEcdsaDerSize];
    if (m.scheme == Scheme::ecdsa) {
        sig_size = ecdsa_der(sig, sig_size / 2, der);
        sig = der;
    }

    // A copy per call, so a Key stays read-only: EVP_PKEY_verify writes
    // scratch space inside the context (RSA's decrypted block), which would
    // make a shared one safe for one thread at a time only. The copy shares
    // the key and the fetched implementation: under callgrind it costs about
    // 700 instructions more than using the context in place, 0.2% of an
    // RS256 check (bench/signature_speed.cpp, paths b and c). Setting a
    // context up per call instead (EVP_PKEY_CTX_new_from_pkey, init,
    // padding, digest: fetches by name) costs about 30,000, 9%.
    EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_dup(prepared));
    if (!ctx) {
        return Reason::internal_error;
    }
    // 1 is a valid signature; 0 and negative values are refusals (a value
    // over the modulus, a bad padding, r or s out of range) all alike.
    return EVP_PKEY_verify(ctx.get(), sig, sig_size, digest, digest_size) == 1 ? Reason::ok
                                                                              : Reason::bad_signature;
}

}  // namespace m2m
