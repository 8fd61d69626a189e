#include "issuer/token_request.h"

#include <algorithm>
#include <utility>

#include "issuer/form.h"
#include "verify/scope.h"

namespace m2m {

namespace {

constexpr std::string_view kFormType = "application/x-www-form-urlencoded";

// The parameters this endpoint reads: a repeated one is named in the error;
// other names come from the client and are not echoed.
constexpr std::string_view kKnownParams[] = {"grant_type", "client_id", "client_secret",
                                             "scope",      "audience",  "resource"};

TokenRefusal refuse(OAuthError error, std::string description)
{
    TokenRefusal refusal;
    refusal.error = error;
    refusal.description = std::move(description);
    switch (error) {
    case OAuthError::invalid_client:
        refusal.status = 401;
        refusal.challenge = true;
        break;
    case OAuthError::server_error:
        refusal.status = 500;
        break;
    case OAuthError::invalid_request:
    case OAuthError::unauthorized_client:
    case OAuthError::unsupported_grant_type:
    case OAuthError::invalid_scope:
    case OAuthError::invalid_target:
    case OAuthError::invalid_dpop_proof:
        refusal.status = 400;
        break;
    }
    return refusal;
}

// Failed client authentication: one description whatever went wrong, so the
// reply never tells a valid id from a valid secret.
TokenRefusal authentication_failed(std::string_view client_id)
{
    TokenRefusal refusal = refuse(OAuthError::invalid_client, "client authentication failed");
    refusal.authentication_failed = true;
    refusal.client_id = std::string(client_id);
    return refusal;
}

bool ascii_iequal(std::string_view a, std::string_view b)
{
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
               return lower(x) == lower(y);
           });
}

bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

// RFC 9110 §8.3.1: type "/" subtype, then parameters, which are ignored.
bool is_form_media_type(std::string_view value)
{
    const size_t semicolon = value.find(';');
    std::string_view type = value.substr(0, semicolon);
    while (!type.empty() && is_ows(type.front())) {
        type.remove_prefix(1);
    }
    while (!type.empty() && is_ows(type.back())) {
        type.remove_suffix(1);
    }
    return ascii_iequal(type, kFormType);
}

// RFC 6749 appendix A: client-id and client-secret are *VSCHAR.
bool is_vschar_text(std::string_view text, size_t max_size)
{
    if (text.empty() || text.size() > max_size) {
        return false;
    }
    return std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

// "Parameters sent without a value MUST be treated as if they were omitted
// from the request" (RFC 6749 §3.2).
const std::string *param(const FormParams &params, std::string_view name)
{
    const std::string *value = params.get(name);
    return value && !value->empty() ? value : nullptr;
}

std::optional<TokenRefusal> check_form(const FormError error, const std::string &repeated)
{
    switch (error) {
    case FormError::ok:
        return std::nullopt;
    case FormError::repeated:
        if (std::find(std::begin(kKnownParams), std::end(kKnownParams), repeated) != std::end(kKnownParams)) {
            return refuse(OAuthError::invalid_request, "parameter " + repeated + " is repeated");
        }
        return refuse(OAuthError::invalid_request, "a parameter is repeated");
    case FormError::too_large:
        return refuse(OAuthError::invalid_request, "request body over " + std::to_string(kMaxFormSize) + " bytes");
    case FormError::out_of_memory:
        return refuse(OAuthError::server_error, "out of memory");
    case FormError::too_many:
    case FormError::bad_character:
    case FormError::bad_escape:
    case FormError::control_character:
        break;
    }
    return refuse(OAuthError::invalid_request,
                  std::string("request body is not form-encoded: ") + form_error_text(error));
}

// RFC 6749 §3.3: scope-token *( SP scope-token ), strictly.
std::optional<TokenRefusal> select_scopes(const std::string *requested, const Client &client,
                                         std::vector<std::string> *granted)
{
    if (!requested) {
        *granted = client.scopes;
        return std::nullopt;
    }
    std::optional<TokenRefusal> refusal;
    for_each_space_separated(*requested, [&](std::string_view scope) {
        if (!is_scope_token(scope)) {
            refusal = refuse(OAuthError::invalid_scope, "scope is malformed");
        } else if (std::find(client.scopes.begin(), client.scopes.end(), scope) == client.scopes.end()) {
            refusal = refuse(OAuthError::invalid_scope,
                             "scope " + std::string(scope) + " is not allowed for this client");
        } else if (std::find(granted->begin(), granted->end(), scope) == granted->end()) {
            granted->emplace_back(scope);
        }
        return !refusal;
    });
    return refusal;
}

TokenDecision decide(const TokenRequest &request, const Registry &registry, const std::vector<std::string> &audiences,
                     int64_t now)
{
    TokenDecision decision;
    const auto refused = [&decision](TokenRefusal refusal) {
        decision.refusal = std::move(refusal);
        return std::move(decision);
    };

    if (auto refusal = check_request_line(request)) {
        return refused(std::move(*refusal));
    }
    if (request.body_too_large) {
        return refused(refuse(OAuthError::invalid_request, "request body too large"));
    }
    FormParams params;
    std::string repeated;
    if (auto refusal = check_form(parse_form(request.body, &params, &repeated), repeated)) {
        return refused(std::move(*refusal));
    }

    const std::string *grant_type = param(params, "grant_type");
    if (!grant_type) {
        return refused(refuse(OAuthError::invalid_request, "grant_type is missing"));
    }
    if (*grant_type != "client_credentials") {
        return refused(refuse(OAuthError::unsupported_grant_type, "only client_credentials is supported"));
    }
    const std::string *audience = param(params, "audience");
    const std::string *resource = param(params, "resource");
    if (audience && resource) {
        return refused(refuse(OAuthError::invalid_request, "send audience or resource, not both"));
    }

    const std::string *body_id = param(params, "client_id");
    const std::string *body_secret = param(params, "client_secret");
    BasicCredentials basic;
    std::string_view client_id, secret;
    if (request.authorization) {
        const BasicError error = parse_basic(*request.authorization, &basic);
        switch (error) {
        case BasicError::ok:
            break;
        case BasicError::out_of_memory:
            return refused(refuse(OAuthError::server_error, "out of memory"));
        case BasicError::not_basic:
            return refused(refuse(OAuthError::invalid_client, "client authentication must use the Basic scheme"));
        case BasicError::too_large:
        case BasicError::bad_base64:
        case BasicError::no_colon:
        case BasicError::bad_encoding:
            return refused(refuse(OAuthError::invalid_client, basic_error_text(error)));
        }
        if (body_secret) {
            return refused(refuse(OAuthError::invalid_request,
                                  "client credentials both in the Authorization header and in the body"));
        }
        if (body_id && *body_id != basic.client_id) {
            return refused(refuse(OAuthError::invalid_request, "client_id differs from the Basic credentials"));
        }
        client_id = basic.client_id;
        secret = basic.secret;
    } else {
        if (!body_id && !body_secret) {
            return refused(refuse(OAuthError::invalid_client, "no client authentication"));
        }
        if (!body_id) {
            return refused(refuse(OAuthError::invalid_request, "client_secret without client_id"));
        }
        client_id = *body_id;
        if (body_secret) {
            secret = *body_secret;
        }
    }

    const bool printable_id = is_vschar_text(client_id, kMaxClientIdSize);
    if (!printable_id || !is_vschar_text(secret, kMaxClientSecretSize)) {
        return refused(authentication_failed(printable_id ? client_id : std::string_view()));
    }
    const Client *client = authenticate_client(registry, client_id, secret, now);
    if (!client) {
        return refused(authentication_failed(client_id));
    }

    if (client->scopes.empty()) {
        return refused(refuse(OAuthError::unauthorized_client, "this client is not allowed any scope"));
    }
    if (client->certificate_bound) {
        if (!request.certificate_thumbprint) {
            return refused(refuse(OAuthError::unauthorized_client,
                                  "this client's tokens are certificate-bound: request them over TLS with its "
                                  "client certificate"));
        }
        decision.grant.x5t_s256 = *request.certificate_thumbprint;
    }
    const std::string *wanted = audience ? audience : resource;
    if (wanted) {
        if (std::find(audiences.begin(), audiences.end(), *wanted) == audiences.end()) {
            return refused(refuse(OAuthError::invalid_target, "the issuer does not issue tokens for this audience"));
        }
        decision.grant.audience = *wanted;
    } else if (audiences.empty()) {
        return refused(refuse(OAuthError::server_error, "the issuer has no audience"));
    } else {
        decision.grant.audience = audiences.front();
    }
    if (auto refusal = select_scopes(param(params, "scope"), *client, &decision.grant.scopes)) {
        return refused(std::move(*refusal));
    }
    decision.grant.client = client;
    return decision;
}

}  // namespace

TokenRefusal token_refusal(OAuthError error, std::string description)
{
    return refuse(error, std::move(description));
}

const char *oauth_error_code(OAuthError error) noexcept
{
    switch (error) {
    case OAuthError::invalid_request: return "invalid_request";
    case OAuthError::invalid_client: return "invalid_client";
    case OAuthError::unauthorized_client: return "unauthorized_client";
    case OAuthError::unsupported_grant_type: return "unsupported_grant_type";
    case OAuthError::invalid_scope: return "invalid_scope";
    case OAuthError::invalid_target: return "invalid_target";
    case OAuthError::invalid_dpop_proof: return "invalid_dpop_proof";
    case OAuthError::server_error: return "server_error";
    }
    return "server_error";
}

std::optional<TokenRefusal> check_request_line(const TokenRequest &request) noexcept
{
    try {
        if (request.method != "POST") {
            TokenRefusal refusal = refuse(OAuthError::invalid_request, "the token endpoint accepts POST only");
            refusal.status = 405;
            refusal.allow_post = true;
            return refusal;
        }
        if (!request.content_type || !is_form_media_type(*request.content_type)) {
            return refuse(OAuthError::invalid_request, "Content-Type must be application/x-www-form-urlencoded");
        }
        return std::nullopt;
    } catch (...) {
        TokenRefusal refusal;  // server_error 500, no description: nothing to allocate
        return refusal;
    }
}

TokenDecision decide_token_request(const TokenRequest &request, const Registry &registry,
                                   const std::vector<std::string> &audiences, int64_t now) noexcept
{
    try {
        return decide(request, registry, audiences, now);
    } catch (...) {
        TokenDecision decision;
        decision.refusal.emplace();  // server_error 500
        return decision;
    }
}

}  // namespace m2m
