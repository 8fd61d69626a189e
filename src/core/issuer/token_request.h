// The token endpoint's decision (OAuth 2.0 client credentials, RFC 6749
// §4.4): a request's method, Content-Type, Authorization header and body in;
// a grant, or the error RFC 6749 §5.2 says to send, out. Nothing here signs
// or talks HTTP; the clock is a parameter.
//
// The order of the checks is part of the contract: what the request alone
// shows (method, media type, body syntax, grant_type, how the client
// authenticates) comes first, then the client's credentials, and only an
// authenticated client learns what its registration allows (scopes,
// audiences). The choices, with the RFC text behind each:
// - Methods other than POST: 405 (RFC 6749 §3.2: the client MUST use POST),
//   with Allow: POST; the body is an invalid_request.
// - A Content-Type other than application/x-www-form-urlencoded (parameters
//   such as charset ignored), a body that is not strictly form-encoded (see
//   form.h), a body over kMaxFormSize, a repeated parameter: invalid_request
//   400, as §5.2 lists "repeats a parameter" and "otherwise malformed".
// - A parameter "sent without a value" is treated as omitted (§3.2).
// - grant_type missing: invalid_request; anything but client_credentials:
//   unsupported_grant_type.
// - Client authentication: exactly one of client_secret_basic and
//   client_secret_post. Basic credentials and a client_secret in the body
//   together: invalid_request ("utilizes more than one mechanism", §5.2). A
//   client_id in the body beside Basic credentials is allowed when it equals
//   the Basic id (§3.2.1 lets a client name itself so), else invalid_request.
//   A client_secret without a client_id: invalid_request (missing parameter).
// - No credentials, credentials in another scheme, malformed Basic
//   credentials, an id or secret that no registered client could have (not
//   VSCHAR, RFC 6749 appendix A.1/A.2, or over kMaxClientIdSize /
//   kMaxClientSecretSize), an unknown, disabled or deleted client, a wrong
//   or expired secret: invalid_client 401 with WWW-Authenticate: Basic. The
//   description never says which of id and secret was wrong.
// - A client registered as certificate-bound (RFC 8705 §3.4) whose request
//   came without a TLS client certificate: unauthorized_client. The client
//   authenticated, but is not allowed the grant this way: its registration
//   promises that its tokens are bound, and an unbound one would be a bearer
//   token. (invalid_request would blame the request's syntax, and
//   invalid_client its credentials, which were right.) With a certificate,
//   the grant carries its thumbprint for the token's cnf.
// - A client registered with no scope may not use the grant:
//   unauthorized_client. Its token would carry nothing to authorize with,
//   so an empty scope list is how a registration keeps a client from
//   getting tokens (disabling it is the other way).
// - scope absent: every scope the client is allowed. Present: space
//   separated scope-tokens (§3.3; malformed: invalid_scope), each one the
//   client is allowed (else invalid_scope, naming it), granted in the order
//   asked, duplicates dropped. Never more than asked: down-selection only.
// - audience (the parameter of RFC 8693 and of Auth0) or resource (RFC
//   8707), one value, one of the issuer's audiences byte for byte; absent:
//   the first audience. Both at once: invalid_request. A value the issuer
//   does not issue for: invalid_target (RFC 8707 §2 and RFC 8693 §2.2.2 use
//   it for either parameter). A repeated resource is a repeated parameter.
// - Anything else in the body is ignored (§3.2, unrecognized parameters).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "issuer/registry.h"

namespace m2m {

// Registered ids are "m2m_" and 32 hex digits, secrets 43 base64url
// characters; generous limits still keep a log line short.
constexpr size_t kMaxClientIdSize = 128;
constexpr size_t kMaxClientSecretSize = 256;

enum class OAuthError : uint8_t {
    invalid_request,         // RFC 6749 §5.2
    invalid_client,          // §5.2; 401
    unauthorized_client,     // §5.2
    unsupported_grant_type,  // §5.2
    invalid_scope,           // §5.2
    invalid_target,          // RFC 8707 §2
    invalid_dpop_proof,      // RFC 9449 §5: a DPoP header whose proof fails
    server_error,            // out of memory, no audience to issue for; 500
};

// The "error" member's value.
const char *oauth_error_code(OAuthError error) noexcept;

struct TokenRefusal {
    OAuthError error = OAuthError::server_error;
    int status = 500;           // 400, 401, 405 or 500
    std::string description;    // error_description: RFC 6749 §5.2 characters only
    bool challenge = false;     // send WWW-Authenticate: Basic (every 401)
    bool allow_post = false;    // send Allow: POST (the 405)
    // Credentials were given and did not authenticate a client: the caller
    // logs it once with client_id and counts it.
    bool authentication_failed = false;
    std::string client_id;      // the id tried; VSCHAR, at most kMaxClientIdSize
};

// A refusal with the status its error takes (400, 401 with a challenge, or
// 500), for what the caller decides after decide_token_request(). May throw
// std::bad_alloc.
TokenRefusal token_refusal(OAuthError error, std::string description);

struct TokenGrant {
    const Client *client = nullptr;     // points into the registry given
    std::vector<std::string> scopes;    // never empty
    std::string audience;
    std::string x5t_s256;               // cnf "x5t#S256" (RFC 8705 §3.1); empty: unbound
    std::string jkt;                    // cnf "jkt" (RFC 9449 §6.1); empty: not DPoP-bound
};

struct TokenRequest {
    std::string_view method;                       // as sent: "POST"
    std::optional<std::string_view> content_type;  // absent: no header
    std::optional<std::string_view> authorization;
    std::string_view body;
    bool body_too_large = false;  // the caller did not keep a body over kMaxFormSize
    // x5t#S256 of the TLS client certificate the request came with (see
    // verify/client_certificate.h); absent: none
    std::optional<std::string_view> certificate_thumbprint;
};

struct TokenDecision {
    std::optional<TokenRefusal> refusal;  // empty: granted
    TokenGrant grant;
};

// What can be refused before the body is read (method and Content-Type), so
// that such a body is discarded rather than read.
std::optional<TokenRefusal> check_request_line(const TokenRequest &request) noexcept;

// The whole decision, check_request_line() included.
TokenDecision decide_token_request(const TokenRequest &request, const Registry &registry,
                                   const std::vector<std::string> &audiences, int64_t now) noexcept;

}  // namespace m2m
