// The clients API's messages: OAuth 2.0 Dynamic Client Registration (RFC
// 7591) and its management protocol (RFC 7592), as far as a client of the
// client-credentials grant needs them, so that existing tooling fits.
//
// A request body is client metadata: "client_name", "scope" (space-separated),
// "tls_client_certificate_bound_access_tokens" (RFC 8705 §3.4), and the
// extensions "claims" (extra claims for the client's tokens) and "enabled". "grant_types" and "token_endpoint_auth_method", if present, must
// name what this issuer does (client_credentials; client_secret_basic or
// client_secret_post). Other members are ignored, as RFC 7591 §2 says.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "issuer/registry.h"
#include "json.h"

namespace m2m {

struct ClientMetadata {
    std::optional<std::string> client_id;       // RFC 7592 §2.2: a PUT names its client
    std::optional<std::string> client_secret;   // ... and may repeat its secret
    std::string name;
    std::vector<std::string> scopes;
    JsonPtr claims;                             // an object, or null
    std::optional<bool> certificate_bound;      // tls_client_certificate_bound_access_tokens
    std::optional<bool> enabled;
};

// False with *description (for error_description) if the body is not client
// metadata this issuer can register: "invalid_client_metadata" (RFC 7591
// §3.2.2).
bool parse_client_metadata(std::string_view body, ClientMetadata *out, std::string *description) noexcept;

// A client as the API shows it (RFC 7591 §3.2.1, RFC 7592 §3): never a
// secret's hash; the secret itself only when `secret` is given (at
// registration). May throw.
std::string render_client(const Client &client, const IssuedSecret *secret, std::string_view registration_uri);

// {"clients": [...]}, each rendered as above without a secret. May throw.
std::string render_client_list(const Registry &registry, std::string_view registration_base);

// {"error": ..., "error_description": ...}. May throw.
std::string render_registration_error(std::string_view error, std::string_view description);

}  // namespace m2m
