// The local issuer's authorization server metadata (RFC 8414), which a
// gateway's `discovery` reads: its issuer, where its token endpoint and JWK
// Set are, and what it supports (the client credentials grant only, with
// client_secret_basic or client_secret_post, and certificate-bound tokens).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace m2m {

// Where this nginx serves the issuer's endpoints: a path, joined to the base
// URL, or an absolute http(s) URL, taken as it is.
struct MetadataEndpoints {
    std::string_view token = "/oauth2/token";
    std::string_view jwks = "/.well-known/jwks.json";
    std::string_view registration = "/oauth2/clients";  // empty: none published
};

// Whether `where` is an absolute http:// or https:// URL.
bool is_absolute_url(std::string_view where) noexcept;

// Whether a request's Host may stand as the authority of the URLs built from
// it: a host name or IPv4 address (letters, digits, '-', '.') or a bracketed
// IPv6 address, then an optional :port. Nothing that needs escaping passes.
bool is_url_authority(std::string_view host) noexcept;

// An absolute http:// or https:// URL whose authority passes
// is_url_authority, with an optional path of RFC 3986 path characters (and
// well-formed %XX escapes): no query, no fragment, nothing JSON or a header
// would need to escape.
bool is_base_url(std::string_view url) noexcept;

// Where metadata may say an endpoint is: such a path ('/' first) or such an
// absolute URL.
bool is_endpoint_location(std::string_view where) noexcept;

// The metadata document (JSON, members in RFC 8414 §2's order, ending in a
// newline). `base` is the scheme and authority (and any path prefix) the
// endpoint paths are joined to, without a trailing '/'. scopes_supported
// lists `scopes` sorted, each once, and is left out when there are none. Empty optional if memory ran out or a
// value is not UTF-8.
std::optional<std::string> server_metadata(std::string_view issuer, std::string_view base,
                                           const MetadataEndpoints &endpoints,
                                           const std::vector<std::string> &scopes) noexcept;

}  // namespace m2m
