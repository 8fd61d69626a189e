#include "verify/binding.h"

#include <openssl/crypto.h>

#include "base64url.h"

namespace m2m {

namespace {

constexpr size_t kSha256Size = 32;

// Exactly a SHA-256 in strict base64url: 43 characters that decode to 32
// bytes, the last one's unused bits zero, so each digest has one spelling.
bool is_sha256_b64url(std::string_view s)
{
    unsigned char digest[kSha256Size];
    size_t size = 0;
    return s.size() == base64url_encoded_size(kSha256Size) && base64url_decode(s, digest, sizeof(digest), &size)
           && size == kSha256Size;
}

// An absent member is fine; a present one must be a digest.
bool read_digest(const json_t *cnf, const char *name, std::string_view *out)
{
    const json_t *value = json_object_get(cnf, name);
    if (value == nullptr) {
        return true;
    }
    if (!json_is_string(value)) {
        return false;
    }
    std::string_view s(json_string_value(value), json_string_length(value));
    if (!is_sha256_b64url(s)) {
        return false;
    }
    *out = s;
    return true;
}

}  // namespace

Confirmation read_confirmation(const json_t *claims) noexcept
{
    Confirmation result;
    const json_t *cnf = json_object_get(claims, "cnf");
    if (cnf == nullptr) {
        return result;
    }
    // RFC 7800 §3.1: cnf is an object. Other confirmation methods (jwk, jku,
    // kid) are not ours to check and bind nothing here.
    if (!json_is_object(cnf) || !read_digest(cnf, "x5t#S256", &result.x5t_s256)
        || !read_digest(cnf, "jkt", &result.jkt)) {
        return Confirmation{Reason::malformed_claim, {}, {}};
    }
    return result;
}

bool same_digest(std::string_view a, std::string_view b) noexcept
{
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Reason check_certificate_binding(const Confirmation &cnf, bool certificate_bound,
                                 const std::string_view *thumbprint) noexcept
{
    if (!cnf.x5t_s256.empty()) {
        return thumbprint && same_digest(*thumbprint, cnf.x5t_s256) ? Reason::ok : Reason::certificate_mismatch;
    }
    return certificate_bound ? Reason::unbound_token : Reason::ok;
}

Reason check_dpop_binding(const Confirmation &cnf, DpopMode mode, Scheme scheme,
                          std::string_view proof_jkt) noexcept
{
    if (scheme == Scheme::bearer) {
        if (!cnf.jkt.empty()) {
            return Reason::dpop_bound_bearer;
        }
        return mode == DpopMode::required ? Reason::dpop_required : Reason::ok;
    }
    if (cnf.jkt.empty()) {
        return Reason::dpop_unbound_token;
    }
    return same_digest(proof_jkt, cnf.jkt) ? Reason::ok : Reason::dpop_key_mismatch;
}

}  // namespace m2m
