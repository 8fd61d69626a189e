#include "issuer/access_token.h"

#include <algorithm>

#include <openssl/rand.h>

#include "json.h"
#include "verify/scope.h"

namespace m2m {

namespace {

constexpr std::string_view kReservedClaims[] = {
    "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id", "scope",  // RFC 9068 §2.2, set here
    "azp", "appid", "cid", "scp", "scopes",                                 // read as the client or its scopes
    "cnf",                                                                  // RFC 7800: the issuer's to bind
};

// json_object_set_new takes the value even when it fails.
bool set(json_t *object, const char *name, json_t *value)
{
    return value && json_object_set_new(object, name, value) == 0;
}

json_t *string_value(std::string_view s)
{
    return json_stringn(s.data(), s.size());
}

std::optional<std::string> dump(const JsonPtr &object)
{
    std::string text = dump_json(object.get(), JSON_COMPACT);
    if (text.empty()) {
        return std::nullopt;
    }
    return text;
}

}  // namespace

bool is_reserved_claim(std::string_view name) noexcept
{
    return std::find(std::begin(kReservedClaims), std::end(kReservedClaims), name) != std::end(kReservedClaims);
}

std::optional<std::string> new_token_id() noexcept
{
    unsigned char bytes[kTokenIdBytes];
    if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
        return std::nullopt;
    }
    static const char kHex[] = "0123456789abcdef";
    try {
        std::string id;
        id.reserve(2 * sizeof(bytes));
        for (unsigned char b : bytes) {
            id += kHex[b >> 4];
            id += kHex[b & 0xf];
        }
        return id;
    } catch (...) {
        return std::nullopt;
    }
}

std::optional<std::string> access_token_claims(std::string_view issuer, const TokenGrant &grant, int64_t now,
                                               int64_t lifetime, std::string_view jti) noexcept
{
    try {
        const std::optional<std::string> scope = join_scopes(grant.scopes);
        JsonPtr claims(json_object());
        if (!scope || !claims || !grant.client) {
            return std::nullopt;
        }
        const std::string &client_id = grant.client->client_id;
        json_t *c = claims.get();
        if (!set(c, "iss", string_value(issuer)) || !set(c, "sub", string_value(client_id)) ||
            !set(c, "client_id", string_value(client_id)) || !set(c, "aud", string_value(grant.audience)) ||
            !set(c, "iat", json_integer(now)) || !set(c, "nbf", json_integer(now)) ||
            !set(c, "exp", json_integer(now + lifetime)) || !set(c, "jti", string_value(jti)) ||
            !set(c, "scope", string_value(*scope))) {
            return std::nullopt;
        }
        if (!grant.x5t_s256.empty() || !grant.jkt.empty()) {
            JsonPtr cnf(json_object());
            if (!cnf || (!grant.x5t_s256.empty() && !set(cnf.get(), "x5t#S256", string_value(grant.x5t_s256))) ||
                (!grant.jkt.empty() && !set(cnf.get(), "jkt", string_value(grant.jkt))) ||
                !set(c, "cnf", cnf.release())) {
                return std::nullopt;
            }
        }
        if (json_is_object(grant.client->claims.get())) {
            const char *name;
            json_t *value;
            json_object_foreach(grant.client->claims.get(), name, value)
            {
                if (is_reserved_claim(name) || json_object_get(c, name)) {
                    continue;
                }
                if (json_object_set(c, name, value) != 0) {
                    return std::nullopt;
                }
            }
        }
        return dump(claims);
    } catch (...) {
        return std::nullopt;
    }
}

std::optional<std::string> issue_access_token(const SigningKey &key, std::string_view issuer, const TokenGrant &grant,
                                              int64_t now, int64_t lifetime, std::string *error) noexcept
{
    try {
        const std::optional<std::string> jti = new_token_id();
        if (!jti) {
            *error = "the random number generator failed";
            return std::nullopt;
        }
        const std::optional<std::string> claims = access_token_claims(issuer, grant, now, lifetime, *jti);
        if (!claims) {
            *error = "cannot build the claims (out of memory, or an issuer or audience that is not UTF-8)";
            return std::nullopt;
        }
        return key.sign(*claims);
    } catch (const std::exception &e) {
        try {
            *error = std::string("cannot sign: ") + e.what();
        } catch (...) {
        }
        return std::nullopt;
    } catch (...) {
        return std::nullopt;
    }
}

std::optional<std::string> token_response_json(std::string_view access_token, int64_t expires_in,
                                               const std::vector<std::string> &scopes, bool dpop) noexcept
{
    try {
        const std::optional<std::string> scope = join_scopes(scopes);
        JsonPtr body(json_object());
        if (!scope || !body || !set(body.get(), "access_token", string_value(access_token)) ||
            !set(body.get(), "token_type", json_string(dpop ? "DPoP" : "Bearer")) ||
            !set(body.get(), "expires_in", json_integer(expires_in)) ||
            !set(body.get(), "scope", string_value(*scope))) {
            return std::nullopt;
        }
        return dump(body);
    } catch (...) {
        return std::nullopt;
    }
}

std::optional<std::string> error_response_json(const TokenRefusal &refusal) noexcept
{
    try {
        JsonPtr body(json_object());
        if (!body || !set(body.get(), "error", json_string(oauth_error_code(refusal.error)))) {
            return std::nullopt;
        }
        if (!refusal.description.empty() &&
            !set(body.get(), "error_description", string_value(refusal.description))) {
            return std::nullopt;
        }
        return dump(body);
    } catch (...) {
        return std::nullopt;
    }
}

}  // namespace m2m
