#include "issuer/client_metadata.h"

#include <algorithm>
#include <new>

#include "verify/scope.h"

namespace m2m {

namespace {

bool string_member(const json_t *body, const char *name, std::optional<std::string> *out,
                   std::string *description)
{
    const json_t *value = json_object_get(body, name);
    if (value == nullptr) {
        return true;
    }
    if (!json_is_string(value)) {
        *description = std::string(name) + " must be a string";
        return false;
    }
    *out = std::string(json_string_value(value), json_string_length(value));
    return true;
}

// "grant_types" and "token_endpoint_auth_method" may only ask for what
// this issuer does; asking for more is an error, not silently ignored,
// or the client would believe it registered something it did not.
bool check_grant_and_auth_method(const json_t *body, std::string *description)
{
    if (const json_t *grants = json_object_get(body, "grant_types")) {
        size_t i;
        const json_t *grant;
        bool ok = json_is_array(grants) && json_array_size(grants) > 0;
        json_array_foreach(grants, i, grant)
        {
            ok = ok && json_is_string(grant) && std::string_view(json_string_value(grant)) == "client_credentials";
        }
        if (!ok) {
            *description = "grant_types must be [\"client_credentials\"]";
            return false;
        }
    }
    if (const json_t *method = json_object_get(body, "token_endpoint_auth_method")) {
        const std::string_view name = json_is_string(method) ? json_string_value(method) : "";
        if (name != "client_secret_basic" && name != "client_secret_post") {
            *description = "token_endpoint_auth_method must be client_secret_basic or client_secret_post";
            return false;
        }
    }
    return true;
}

bool read_scopes(const json_t *body, std::vector<std::string> *scopes, std::string *description)
{
    const json_t *value = json_object_get(body, "scope");
    if (value == nullptr) {
        return true;
    }
    if (!json_is_string(value)) {
        *description = "scope must be a string of space-separated scopes";
        return false;
    }
    const std::string_view text(json_string_value(value), json_string_length(value));
    return for_each_space_separated(text, [&](std::string_view scope) {
        if (scope.empty()) {
            return true;
        }
        if (!is_scope_token(scope)) {
            *description = "scope holds a value that is not an RFC 6749 scope-token";
            return false;
        }
        if (std::find(scopes->begin(), scopes->end(), scope) == scopes->end()) {
            scopes->emplace_back(scope);
        }
        return true;
    });
}

bool read_claims(const json_t *body, JsonPtr *claims, std::string *description)
{
    json_t *value = json_object_get(body, "claims");
    if (value == nullptr || json_is_null(value)) {
        return true;
    }
    if (!json_is_object(value)) {
        *description = "claims must be an object";
        return false;
    }
    claims->reset(json_incref(value));
    return true;
}

// json_object_set_new, or bad_alloc: jansson answers a failed allocation
// with a null value, which set_new refuses.
void put(json_t *object, const char *name, json_t *value)
{
    if (value == nullptr || json_object_set_new(object, name, value) != 0) {
        throw std::bad_alloc();
    }
}

json_t *string_value(std::string_view text)
{
    return json_stringn(text.data(), text.size());
}

JsonPtr client_object(const Client &client, std::string_view registration_uri)
{
    const std::optional<std::string> scope_text = join_scopes(client.scopes);
    if (!scope_text) {
        throw std::bad_alloc();
    }
    JsonPtr secrets(json_array());
    for (const auto &secret : client.secrets) {
        JsonPtr s(json_object());
        if (!s) {
            throw std::bad_alloc();
        }
        put(s.get(), "id", string_value(secret.id));
        put(s.get(), "created_at", json_integer(secret.created_at));
        if (secret.expires_at) {
            put(s.get(), "expires_at", json_integer(*secret.expires_at));
        }
        if (json_array_append_new(secrets.get(), s.release()) != 0) {
            throw std::bad_alloc();
        }
    }
    JsonPtr out(json_object());
    if (!out || !secrets) {
        throw std::bad_alloc();
    }
    json_t *o = out.get();
    put(o, "client_id", string_value(client.client_id));
    put(o, "client_id_issued_at", json_integer(client.created_at));
    put(o, "client_name", string_value(client.name));
    put(o, "scope", string_value(*scope_text));
    put(o, "grant_types", json_pack("[s]", "client_credentials"));
    put(o, "token_endpoint_auth_method", json_string("client_secret_basic"));
    put(o, "tls_client_certificate_bound_access_tokens", json_boolean(client.certificate_bound));
    put(o, "enabled", json_boolean(client.enabled));
    put(o, "secrets", secrets.release());
    if (client.claims) {
        put(o, "claims", json_incref(client.claims.get()));
    }
    put(o, "registration_client_uri", string_value(registration_uri));
    return out;
}

std::string dump_or_throw(const json_t *value)
{
    std::string text = dump_json(value, JSON_COMPACT);
    if (text.empty()) {
        throw std::bad_alloc();
    }
    return text;
}

}  // namespace

bool parse_client_metadata(std::string_view text, ClientMetadata *out, std::string *description) noexcept
{
    try {
        JsonPtr body = parse_json_object(text);
        if (!body) {
            *description = "the body is not a JSON object";
            return false;
        }
        std::optional<std::string> name;
        if (!string_member(body.get(), "client_id", &out->client_id, description)
            || !string_member(body.get(), "client_secret", &out->client_secret, description)
            || !string_member(body.get(), "client_name", &name, description)
            || !check_grant_and_auth_method(body.get(), description)
            || !read_scopes(body.get(), &out->scopes, description)
            || !read_claims(body.get(), &out->claims, description)) {
            return false;
        }
        if (name) {
            out->name = std::move(*name);
        }
        // the rules of the registry file itself, so that what the API
        // accepts can always be written
        if (!check_client_fields(out->name, out->scopes, out->claims.get(), description)) {
            return false;
        }
        if (const json_t *enabled = json_object_get(body.get(), "enabled")) {
            if (!json_is_boolean(enabled)) {
                *description = "enabled must be true or false";
                return false;
            }
            out->enabled = json_is_true(enabled);
        }
        if (const json_t *bound = json_object_get(body.get(), "tls_client_certificate_bound_access_tokens")) {
            if (!json_is_boolean(bound)) {
                *description = "tls_client_certificate_bound_access_tokens must be true or false";
                return false;
            }
            out->certificate_bound = json_is_true(bound);
        }
        return true;
    } catch (...) {
        *description = "out of memory";
        return false;
    }
}

std::string render_client(const Client &client, const IssuedSecret *secret, std::string_view registration_uri)
{
    JsonPtr object = client_object(client, registration_uri);
    if (secret) {
        put(object.get(), "client_secret", string_value(secret->secret));
        put(object.get(), "client_secret_expires_at", json_integer(0));
    }
    return dump_or_throw(object.get());
}

std::string render_client_list(const Registry &registry, std::string_view registration_base)
{
    JsonPtr list(json_array());
    JsonPtr out(json_object());
    if (!list || !out) {
        throw std::bad_alloc();
    }
    for (const auto &client : registry.clients) {
        std::string uri(registration_base);
        uri += '/';
        uri += client.client_id;
        if (json_array_append_new(list.get(), client_object(client, uri).release()) != 0) {
            throw std::bad_alloc();
        }
    }
    put(out.get(), "clients", list.release());
    return dump_or_throw(out.get());
}

std::string render_registration_error(std::string_view error, std::string_view description)
{
    JsonPtr out(json_object());
    if (!out) {
        throw std::bad_alloc();
    }
    put(out.get(), "error", string_value(error));
    put(out.get(), "error_description", string_value(description));
    return dump_or_throw(out.get());
}

}  // namespace m2m
