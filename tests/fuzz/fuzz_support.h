// Shared by the fuzz targets: keys, signing and checking written directly
// against OpenSSL, so that an oracle never relies on the code (or on cjose)
// under test.
#pragma once

#include <string>
#include <string_view>

#include <openssl/evp.h>

namespace fuzz {

// An invariant the code under test broke: a crash libFuzzer records, with
// the reason on stderr first.
[[noreturn]] void fail(const char *what);

// RFC 4648 §5 without padding.
std::string b64url_encode(std::string_view bytes);
// RFC 4648 §4 with padding.
std::string base64_encode(std::string_view bytes);
// Our own strict decoder (no padding, zero trailing bits), independent of
// the module's.
bool b64url_decode(std::string_view in, std::string *out);

EVP_PKEY *generate_rsa(unsigned bits);
EVP_PKEY *generate_ec(const char *group);  // "P-256", "P-384", "P-521"
EVP_PKEY *load_private_pem(const char *pem);

// A throwaway P-256 test key ("ec-1"): checked-in seeds of the token and
// dpop_proof targets carry tokens and proofs it signed.
extern const char kEc1Pem[];

bool is_rsa(EVP_PKEY *key);
// Bytes of one EC coordinate (32, 48, 66), 0 for RSA.
size_t ec_field_bytes(EVP_PKEY *key);
const char *ec_curve_name(EVP_PKEY *key);  // "P-256"..., nullptr for RSA

// The public JWK as JSON object text; `extra` is raw member text appended
// inside the object. Empty kid: no kid member.
std::string public_jwk(EVP_PKEY *key, const std::string &kid, const std::string &extra = "");

// Signs as the JOSE algorithm alg (RS*, PS*, ES*) says; ES signatures are
// R||S sized by the key's own curve, whatever alg names. pss_salt is the PSS
// salt length in bytes, -1 for the digest length RFC 7518 requires. Empty if
// OpenSSL refuses.
std::string sign(EVP_PKEY *key, std::string_view alg, std::string_view input, int pss_salt = -1);

// RFC 7518 §3 as a spec: true only if alg is RS*/PS*/ES*, the key's type and
// curve are the ones alg names, the signature has exactly the length the key
// gives, and OpenSSL's EVP_DigestVerify accepts it (ES converted to DER).
bool evp_verify(EVP_PKEY *key, std::string_view alg, std::string_view input, std::string_view signature);

// R||S (each half big-endian, equal width) to DER, and back. Empty on error.
std::string ecdsa_raw_to_der(std::string_view raw);
std::string ecdsa_der_to_raw(std::string_view der, size_t width);

// An RSA key's modulus, big-endian.
std::string rsa_modulus(EVP_PKEY *key);

// The curve order of an EC key, big-endian at the field width, for making
// high-S twins of signatures.
std::string ec_order(EVP_PKEY *key);

}  // namespace fuzz
