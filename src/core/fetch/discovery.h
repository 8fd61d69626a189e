// RFC 8414 / OpenID Connect Discovery: from an issuer's metadata document to
// the JWK Set URL we fetch keys from.
#pragma once

#include <string>
#include <string_view>

#include "reason.h"

namespace m2m {

// "issuer" must equal expected_issuer byte for byte: a document naming
// another issuer is an attack or a misconfiguration (RFC 8414 §3.3), and its
// keys must not be trusted for ours. Returns ok and sets *jwks_uri to the
// document's "jwks_uri", which must be an absolute http:// or https:// URL;
// else discovery_malformed or discovery_issuer_mismatch, *jwks_uri untouched.
Reason parse_discovery(std::string_view json, std::string_view expected_issuer, std::string *jwks_uri) noexcept;

}  // namespace m2m
