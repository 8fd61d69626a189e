// The first of the two steps from a token to a verdict: what a token proves
// about itself, whatever the request. The caller parses it once and picks
// the issuer its "iss" names; authenticate() then checks it against that
// issuer's rules and keys, in this order: alg allow-list, crit, typ, key
// selection, signature. Once the signature holds, it reads the claims the
// verdict needs later: the times, the issuer's own iss and aud, the client
// id, the scopes and cnf. Nothing here depends on the clock or the location, so
// one verified token can serve every request that presents it to the same
// issuer while the keys stay in one generation; authorize() (authorize.h)
// judges it for each request.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "keys/issuer_keys.h"
#include "verify/binding.h"
#include "verify/issuer_policy.h"
#include "reason.h"
#include "token/token.h"

namespace m2m {

// exp, nbf and iat as the token has them (NumericDate, RFC 7519 §2).
struct TimeClaims {
    Reason status = Reason::ok;  // malformed_claim (one is not a finite number),
                                 // else missing_exp (no exp), else ok
    double exp = 0;
    double nbf = 0;
    double iat = 0;
    bool has_nbf = false;
    bool has_iat = false;
};

// A token whose signature held under one issuer's keys. Made only by
// authenticate(), immutable after: it may be shared between requests.
class VerifiedToken {
    // Only authenticate() can name it, so only authenticate() can call the
    // constructor, which is public for std::make_shared alone (the object
    // and its use count in one allocation).
    struct Made {
        explicit Made() = default;
    };

public:
    explicit VerifiedToken(Made) noexcept {}

    const Token &token() const noexcept { return token_; }
    // The issuer it was verified for, and the generation of its keys then.
    const IssuerPolicy &issuer() const noexcept { return *issuer_; }
    uint64_t generation() const noexcept { return generation_; }

    const TimeClaims &times() const noexcept { return times_; }
    // The first failure among the issuer's own claim rules: wrong_issuer,
    // then wrong_audience or malformed_claim (aud), then malformed_claim
    // (cnf); ok when they pass. It is reported after the times, as
    // authorize() does.
    Reason claims_status() const noexcept { return claims_status_; }

    // Read with the issuer's client_id_claims and scope_claims. The client id
    // is a view into the token's claims, which this object owns.
    std::string_view client_id() const noexcept { return client_id_; }
    const std::vector<std::string> &scopes() const noexcept { return scopes_; }
    const std::string &scope_string() const noexcept { return scope_string_; }  // joined by spaces
    // What cnf binds the token to (binding.h). A malformed cnf is reported
    // by claims_status() as malformed_claim.
    const Confirmation &confirmation() const noexcept { return confirmation_; }

private:
    friend Reason authenticate(Token token, const IssuerPolicy &issuer, const IssuerKeys &keys,
                               std::shared_ptr<const VerifiedToken> *out) noexcept;

    Token token_;
    const IssuerPolicy *issuer_ = nullptr;
    uint64_t generation_ = 0;
    TimeClaims times_;
    Reason claims_status_ = Reason::ok;
    std::string_view client_id_;
    std::vector<std::string> scopes_;
    std::string scope_string_;
    Confirmation confirmation_;
};

// The header checks, authenticate()'s first: the alg allow-list
// (alg_not_allowed), crit (unsupported_crit), typ (wrong_typ).
Reason check_header(const Token &token, const IssuerPolicy &issuer) noexcept;

// exp, nbf and iat as the claims have them, as VerifiedToken::times() holds
// them.
TimeClaims read_times(const json_t *claims) noexcept;

// ok with *out set once the signature holds (the claims may still fail:
// authorize() says), else the first failure: keys_unavailable (the issuer has
// no keys yet), alg_not_allowed, unsupported_crit, wrong_typ, unknown_kid,
// key_alg_mismatch, bad_signature, malformed or internal_error; *out is then
// null.
Reason authenticate(Token token, const IssuerPolicy &issuer, const IssuerKeys &keys,
                    std::shared_ptr<const VerifiedToken> *out) noexcept;

}  // namespace m2m
