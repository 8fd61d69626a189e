#include "verify/authenticate.h"

#include <cmath>
#include <strings.h>

#include "keys/signature.h"
#include "token/claims.h"
#include "verify/scope.h"

namespace m2m {

namespace {

std::string_view without_application_prefix(std::string_view typ)
{
    constexpr std::string_view prefix = "application/";
    if (typ.size() > prefix.size() && strncasecmp(typ.data(), prefix.data(), prefix.size()) == 0) {
        typ.remove_prefix(prefix.size());
    }
    return typ;
}

// RFC 7515 §4.1.9: "typ" is a media type; "application/" may be left out and
// the comparison ignores case.
bool typ_allowed(const json_t *header, const std::vector<std::string> &allowed)
{
    std::string_view typ;
    if (!json_string_member(header, "typ", &typ)) {
        return false;
    }
    typ = without_application_prefix(typ);
    for (const auto &want : allowed) {
        std::string_view w = without_application_prefix(want);
        if (w.size() == typ.size() && strncasecmp(w.data(), typ.data(), typ.size()) == 0) {
            return true;
        }
    }
    return false;
}

// Exactly one key may be tried per token, so a forged token costs one
// signature check whatever the key set holds. With a kid that is the key of
// that kid; without one it is the only key that fits the alg, and a set with
// several such keys refuses kid-less tokens (RFC 7515 §4.1.4 makes "kid" the
// way to choose between keys).
Reason select_key(const Token &token, Algorithm alg, const KeySet &keys, const Key **selected)
{
    const Key *candidate = nullptr;
    bool kid_seen = false;
    size_t fitting = 0;
    for (const Key &key : keys.keys()) {
        if (token.has_kid()) {
            if (!key.kid || *key.kid != token.kid()) {
                continue;
            }
            kid_seen = true;
        }
        if (key.fits(alg)) {
            fitting++;
            candidate = candidate ? candidate : &key;
        }
    }
    if (token.has_kid() ? !kid_seen : fitting != 1) {
        // Without a kid, "no key of the right type" is the kid-less
        // unknown_kid: a remote issuer may have published it since.
        return Reason::unknown_kid;
    }
    if (!candidate) {
        return Reason::key_alg_mismatch;
    }
    *selected = candidate;
    return Reason::ok;
}

Reason check_signature(const Token &token, Algorithm alg, const KeySet &keys)
{
    const Key *key = nullptr;
    Reason status = select_key(token, alg, keys, &key);
    if (status != Reason::ok) {
        return status;
    }
    // EVP on the key made ready when the set was parsed, not cjose: cjose
    // imports the whole token again and hands OpenSSL a legacy key on every
    // call (bench/signature_speed.cpp measures both). The signature was
    // decoded by Token::parse; a signature of the wrong length for the key
    // is refused before any digest.
    return verify_signature(*key, alg, token.signing_input(), token.signature());
}

// A NumericDate claim: absent is fine (present=false), a non-number is not.
bool numeric_date(const json_t *claims, const char *name, double *value, bool *present)
{
    const json_t *member = json_object_get(claims, name);
    *present = member != nullptr;
    if (!member) {
        return true;
    }
    if (!json_is_number(member)) {
        return false;
    }
    *value = json_number_value(member);
    return std::isfinite(*value);
}

TimeClaims read_times_of(const json_t *claims)
{
    TimeClaims times;
    bool has_exp;
    if (!numeric_date(claims, "exp", &times.exp, &has_exp) ||
        !numeric_date(claims, "nbf", &times.nbf, &times.has_nbf) ||
        !numeric_date(claims, "iat", &times.iat, &times.has_iat)) {
        times.status = Reason::malformed_claim;
    } else if (!has_exp) {
        times.status = Reason::missing_exp;
    }
    return times;
}

Reason check_audience(const json_t *claims, const std::vector<std::string> &audiences)
{
    if (audiences.empty()) {
        return Reason::ok;
    }
    const json_t *aud = json_object_get(claims, "aud");
    auto accepted = [&](const json_t *value) {
        if (!json_is_string(value)) {
            return false;
        }
        std::string_view got(json_string_value(value), json_string_length(value));
        for (const auto &want : audiences) {
            if (got == want) {
                return true;
            }
        }
        return false;
    };
    if (json_is_string(aud)) {
        return accepted(aud) ? Reason::ok : Reason::wrong_audience;
    }
    if (json_is_array(aud)) {
        size_t i;
        const json_t *item;
        json_array_foreach(aud, i, item)
        {
            if (!json_is_string(item)) {
                return Reason::malformed_claim;
            }
        }
        json_array_foreach(aud, i, item)
        {
            if (accepted(item)) {
                return Reason::ok;
            }
        }
        return Reason::wrong_audience;
    }
    return aud ? Reason::malformed_claim : Reason::wrong_audience;
}

}  // namespace

Reason check_header(const Token &token, const IssuerPolicy &issuer) noexcept
{
    auto alg = algorithm_from_name(token.alg());
    if (!alg || !issuer.algorithms.contains(*alg)) {
        return Reason::alg_not_allowed;
    }
    // RFC 7515 §4.1.11: we implement no extension, so any "crit" is refused.
    if (json_object_get(token.header(), "crit")) {
        return Reason::unsupported_crit;
    }
    if (!issuer.require_typ.empty() && !typ_allowed(token.header(), issuer.require_typ)) {
        return Reason::wrong_typ;
    }
    return Reason::ok;
}

TimeClaims read_times(const json_t *claims) noexcept
{
    return read_times_of(claims);
}

Reason authenticate(Token token, const IssuerPolicy &issuer, const IssuerKeys &keys,
                    std::shared_ptr<const VerifiedToken> *out) noexcept
{
    out->reset();
    try {
        if (!keys.set || keys.set->empty()) {
            return Reason::keys_unavailable;
        }
        Reason status = check_header(token, issuer);
        if (status != Reason::ok) {
            return status;
        }
        status = check_signature(token, *algorithm_from_name(token.alg()), *keys.set);
        if (status != Reason::ok) {
            return status;
        }

        std::shared_ptr<VerifiedToken> verified = std::make_shared<VerifiedToken>(VerifiedToken::Made());
        verified->token_ = std::move(token);
        verified->issuer_ = &issuer;
        verified->generation_ = keys.generation;
        const json_t *claims = verified->token_.claims();
        verified->times_ = read_times_of(claims);
        // The caller picked the issuer by "iss"; checked again all the same.
        verified->claims_status_ = verified->token_.issuer() != issuer.issuer
                                       ? Reason::wrong_issuer
                                       : check_audience(claims, issuer.audiences);
        verified->confirmation_ = read_confirmation(claims);
        if (verified->claims_status_ == Reason::ok && verified->confirmation_.status != Reason::ok) {
            verified->claims_status_ = verified->confirmation_.status;
        }
        verified->client_id_ = find_client_id(claims, issuer.client_id_claims);
        auto scopes = collect_scopes(claims, issuer.scope_claims);
        auto joined = scopes ? join_scopes(*scopes) : std::nullopt;
        if (!joined) {
            return Reason::internal_error;
        }
        verified->scopes_ = std::move(*scopes);
        verified->scope_string_ = std::move(*joined);
        *out = std::move(verified);
        return Reason::ok;
    } catch (...) {
        return Reason::internal_error;
    }
}

}  // namespace m2m
