#include "verify.h"

#include <cmath>
#include <strings.h>

#include "claims.h"
#include "scope.h"

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
Status select_key(const Token &token, Algorithm alg, const KeySet &keys, const Key **selected)
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
        return Status::unknown_kid;
    }
    if (!candidate) {
        return Status::key_alg_mismatch;
    }
    *selected = candidate;
    return Status::ok;
}

Status check_signature(const Token &token, Algorithm alg, const KeySet &keys)
{
    const Key *key = nullptr;
    Status status = select_key(token, alg, keys, &key);
    if (status != Status::ok) {
        return status;
    }
    if (token.signature_size() != key->signature_size) {
        return Status::bad_signature;
    }
    cjose_err err;
    JwsPtr jws(cjose_jws_import(token.compact().data(), token.compact().size(), &err));
    if (!jws) {
        return Status::malformed;
    }
    return cjose_jws_verify(jws.get(), key->jwk.get(), &err) ? Status::ok : Status::bad_signature;
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

Status check_times(const json_t *claims, int64_t now, int64_t leeway)
{
    double exp = 0, nbf = 0, iat = 0;
    bool has_exp, has_nbf, has_iat;
    if (!numeric_date(claims, "exp", &exp, &has_exp) || !numeric_date(claims, "nbf", &nbf, &has_nbf) ||
        !numeric_date(claims, "iat", &iat, &has_iat)) {
        return Status::malformed_claim;
    }
    const double t = static_cast<double>(now);
    const double skew = static_cast<double>(leeway);
    if (!has_exp) {
        return Status::missing_exp;
    }
    // RFC 7519 §4.1.4: the current time must be before exp.
    if (t >= exp + skew) {
        return Status::expired;
    }
    if (has_nbf && nbf > t + skew) {
        return Status::not_yet_valid;
    }
    if (has_iat && iat > t + skew) {
        return Status::issued_in_future;
    }
    return Status::ok;
}

Status check_audience(const json_t *claims, const std::vector<std::string> &audiences)
{
    if (audiences.empty()) {
        return Status::ok;
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
        return accepted(aud) ? Status::ok : Status::wrong_audience;
    }
    if (json_is_array(aud)) {
        size_t i;
        const json_t *item;
        json_array_foreach(aud, i, item)
        {
            if (!json_is_string(item)) {
                return Status::malformed_claim;
            }
        }
        json_array_foreach(aud, i, item)
        {
            if (accepted(item)) {
                return Status::ok;
            }
        }
        return Status::wrong_audience;
    }
    return aud ? Status::malformed_claim : Status::wrong_audience;
}

}  // namespace

Status verify_token(const Token &token, const IssuerPolicy &policy, const KeySet &keys, int64_t now,
                    bool *signature_verified) noexcept
{
    *signature_verified = false;
    try {
        auto alg = algorithm_from_name(token.alg());
        if (!alg || !policy.algorithms.contains(*alg)) {
            return Status::alg_not_allowed;
        }
        // RFC 7515 §4.1.11: we implement no extension, so any "crit" is refused.
        if (json_object_get(token.header(), "crit")) {
            return Status::unsupported_crit;
        }
        if (!policy.require_typ.empty() && !typ_allowed(token.header(), policy.require_typ)) {
            return Status::wrong_typ;
        }
        Status status = check_signature(token, *alg, keys);
        if (status != Status::ok) {
            return status;
        }
        *signature_verified = true;
        status = check_times(token.claims(), now, policy.leeway);
        if (status != Status::ok) {
            return status;
        }
        if (token.issuer() != policy.issuer) {
            return Status::wrong_issuer;
        }
        return check_audience(token.claims(), policy.audiences);
    } catch (...) {
        return Status::internal_error;
    }
}

void verify(std::string_view compact, const std::vector<const IssuerPolicy *> &issuers, int64_t now,
            Verification *out) noexcept
{
    try {
        *out = Verification{};
        out->status = Token::parse(compact, &out->token);
        if (out->status != Status::ok) {
            return;
        }
        for (const IssuerPolicy *policy : issuers) {
            if (policy->issuer == out->token.issuer()) {
                out->issuer = policy;
                break;
            }
        }
        if (!out->issuer) {
            out->status = Status::wrong_issuer;
            return;
        }
        if (!out->issuer->keys || out->issuer->keys->empty()) {
            out->status = Status::keys_unavailable;
            return;
        }
        out->status =
            verify_token(out->token, *out->issuer, *out->issuer->keys, now, &out->signature_verified);
        if (out->signature_verified) {
            const json_t *claims = out->token.claims();
            out->client_id = find_client_id(claims, out->issuer->client_id_claims);
            auto scopes = collect_scopes(claims, out->issuer->scope_claims);
            auto joined = scopes ? join_scopes(*scopes) : std::nullopt;
            if (!joined) {
                out->status = Status::internal_error;
                return;
            }
            out->scopes = std::move(*scopes);
            out->scope_string = std::move(*joined);
        }
    } catch (...) {
        out->status = Status::internal_error;
    }
}

}  // namespace m2m
