// Sender-constrained tokens: a token whose "cnf" (RFC 7800) names a key only
// its client holds is honoured only from a caller who shows that key, a TLS
// client certificate (RFC 8705 §3) or a DPoP proof (RFC 9449). Checked per
// request, once the token verified and before the location's scopes, so that
// a stolen token learns nothing about its rights.
#pragma once

#include <string_view>

#include "json.h"
#include "reason.h"

namespace m2m {

// cnf's members that bind a token, as views into the claims. Both are
// base64url SHA-256 digests (43 characters, no padding) when present.
struct Confirmation {
    Reason status = Reason::ok;  // malformed_claim: cnf is not an object, or
                                 // x5t#S256 or jkt is not a base64url SHA-256
    std::string_view x5t_s256;   // RFC 8705 §3.1; empty: not certificate-bound
    std::string_view jkt;        // RFC 9449 §6.1; empty: not DPoP-bound
};

Confirmation read_confirmation(const json_t *claims) noexcept;

// auth_m2m_dpop: whether the DPoP scheme is understood here, and whether
// it is the only one.
enum class DpopMode { off, allowed, required };

// The Authorization scheme the token came with.
enum class Scheme { bearer, dpop };

// The certificate half. `thumbprint` is base64url(SHA-256(DER)) of the
// caller's client certificate, null when it showed none; compared in
// constant time. In order: a token with x5t#S256 needs that certificate
// (certificate_mismatch); a location with auth_m2m_certificate_bound on
// needs a token with x5t#S256 (unbound_token).
Reason check_certificate_binding(const Confirmation &cnf, bool certificate_bound,
                                 const std::string_view *thumbprint) noexcept;

// The DPoP half, after the proof itself verified (dpop_proof.h) when the
// scheme is DPoP; `proof_jkt` is the RFC 7638 thumbprint of its key. As
// Bearer: a DPoP-bound token is refused (dpop_bound_bearer), and so is any
// token where DPoP is required (dpop_required). As DPoP: the token must be
// DPoP-bound (dpop_unbound_token) to the proof's key (dpop_key_mismatch).
Reason check_dpop_binding(const Confirmation &cnf, DpopMode mode, Scheme scheme,
                          std::string_view proof_jkt) noexcept;

// Equal strings, in time that depends on their lengths only.
bool same_digest(std::string_view a, std::string_view b) noexcept;

}  // namespace m2m
