#include "issuer/metadata.h"

#include <algorithm>
#include <new>

#include "json.h"
#include "keys/algorithm.h"

namespace m2m {

namespace {

bool starts_with(std::string_view s, std::string_view prefix)
{
    return s.substr(0, prefix.size()) == prefix;
}

json_t *checked(json_t *value)
{
    if (!value) {
        throw std::bad_alloc();
    }
    return value;
}

// Takes ownership of value. jansson refuses strings that are not UTF-8:
// reported as out of memory, which the caller's message covers.
void set(json_t *object, const char *key, json_t *value)
{
    if (json_object_set_new(object, key, checked(value)) != 0) {
        throw std::bad_alloc();
    }
}

json_t *string_value(std::string_view s) { return checked(json_stringn(s.data(), s.size())); }

json_t *url(std::string_view base, std::string_view where)
{
    if (is_absolute_url(where)) {
        return string_value(where);
    }
    std::string joined(base);
    joined += where;
    return string_value(joined);
}

json_t *strings(std::initializer_list<std::string_view> values)
{
    JsonPtr array(checked(json_array()));
    for (std::string_view v : values) {
        if (json_array_append_new(array.get(), string_value(v)) != 0) {
            throw std::bad_alloc();
        }
    }
    return array.release();
}

}  // namespace

bool is_absolute_url(std::string_view where) noexcept
{
    return starts_with(where, "http://") || starts_with(where, "https://");
}

bool is_url_authority(std::string_view host) noexcept
{
    size_t i = 0;
    if (!host.empty() && host[0] == '[') {
        const size_t close = host.find(']');
        if (close == std::string_view::npos || close < 3) {
            return false;
        }
        for (i = 1; i < close; i++) {
            const char c = host[i];
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
                  c == '.')) {
                return false;
            }
        }
        i = close + 1;
    } else {
        for (; i < host.size() && host[i] != ':'; i++) {
            const char c = host[i];
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
                  c == '.' || c == '_')) {
                return false;
            }
        }
        if (i == 0) {
            return false;
        }
    }
    if (i == host.size()) {
        return true;
    }
    if (host[i] != ':' || i + 1 == host.size() || host.size() - i - 1 > 5) {
        return false;
    }
    unsigned port = 0;
    for (i++; i < host.size(); i++) {
        if (host[i] < '0' || host[i] > '9') {
            return false;
        }
        port = port * 10 + static_cast<unsigned>(host[i] - '0');
    }
    return port <= 65535;
}

namespace {

bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// RFC 3986 §3.3: a path of pchar and '/'.
bool is_path(std::string_view path)
{
    if (path.empty() || path[0] != '/') {
        return false;
    }
    for (size_t i = 0; i < path.size(); i++) {
        const char c = path[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
            continue;
        }
        if (c == '%') {
            if (i + 2 >= path.size() || !is_hex(path[i + 1]) || !is_hex(path[i + 2])) {
                return false;
            }
            i += 2;
            continue;
        }
        if (std::string_view("/-._~!$&'()*+,;=:@").find(c) == std::string_view::npos) {
            return false;
        }
    }
    return true;
}

}  // namespace

bool is_base_url(std::string_view url) noexcept
{
    if (!is_absolute_url(url)) {
        return false;
    }
    url.remove_prefix(url[4] == 's' ? 8 : 7);
    const size_t slash = url.find('/');
    return is_url_authority(url.substr(0, slash)) && (slash == std::string_view::npos || is_path(url.substr(slash)));
}

bool is_endpoint_location(std::string_view where) noexcept
{
    return is_path(where) || is_base_url(where);
}

std::optional<std::string> server_metadata(std::string_view issuer, std::string_view base,
                                           const MetadataEndpoints &endpoints,
                                           const std::vector<std::string> &scopes) noexcept
{
    try {
        JsonPtr doc(checked(json_object()));
        set(doc.get(), "issuer", string_value(issuer));
        set(doc.get(), "token_endpoint", url(base, endpoints.token));
        set(doc.get(), "jwks_uri", url(base, endpoints.jwks));
        if (!endpoints.registration.empty()) {
            set(doc.get(), "registration_endpoint", url(base, endpoints.registration));
        }
        if (!scopes.empty()) {
            std::vector<std::string> sorted(scopes);
            std::sort(sorted.begin(), sorted.end());
            sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
            JsonPtr array(checked(json_array()));
            for (const std::string &scope : sorted) {
                if (json_array_append_new(array.get(), string_value(scope)) != 0) {
                    throw std::bad_alloc();
                }
            }
            set(doc.get(), "scopes_supported", array.release());
        }
        // RFC 8414 requires the member; this server has no authorization
        // endpoint, so no response type.
        set(doc.get(), "response_types_supported", strings({}));
        set(doc.get(), "grant_types_supported", strings({"client_credentials"}));
        set(doc.get(), "token_endpoint_auth_methods_supported",
            strings({"client_secret_basic", "client_secret_post"}));
        // RFC 8705 §3.3: clients registered so get certificate-bound tokens
        set(doc.get(), "tls_client_certificate_bound_access_tokens", json_true());
        // RFC 9449 §5.1: the token endpoint binds a token to the key of a
        // DPoP proof made with any of these
        JsonPtr algs(checked(json_array()));
        for (size_t i = 0; i < kAlgorithmCount; i++) {
            if (json_array_append_new(algs.get(), string_value(algorithm_name(static_cast<Algorithm>(i)))) != 0) {
                throw std::bad_alloc();
            }
        }
        set(doc.get(), "dpop_signing_alg_values_supported", algs.release());

        std::string text = dump_json(doc.get(), JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (text.empty()) {
            return std::nullopt;
        }
        text += '\n';
        return text;
    } catch (...) {
        return std::nullopt;
    }
}

}  // namespace m2m
