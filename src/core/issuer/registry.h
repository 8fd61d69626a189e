// The local issuer's client registry: the clients that may trade their id and
// secret for an access token (OAuth 2.0 client credentials, RFC 6749 §4.4).
// One JSON file per issuer. A secret is stored only as a salted SHA-256 of
// it: secrets are 256 random bits, so a slow password hash would buy nothing
// and would make the token endpoint a CPU-exhaustion target.
//
// The file (version 1), written by render() and read by parse_registry():
//   {"version": 1, "clients": [
//     {"client_id": "m2m_…", "name": "…", "scopes": ["tasks:read", …],
//      "claims": {"org_id": "…"}, "tls_client_certificate_bound_access_tokens": true,
//      "enabled": true, "created_at": 1764500000,
//      "secrets": [{"id": "sec_…", "hash": "sha256:<salt b64url>:<digest b64url>",
//                   "created_at": 1764500000, "expires_at": 1767100000}]}]}
// "claims", "tls_client_certificate_bound_access_tokens" (false) and
// "expires_at" may be absent. At most kMaxSecrets secrets.
//
// Writers (m2m-clients, the clients API) never write the file in place: each
// takes an exclusive flock(2) on the sibling file PATH.lock (it outlives the
// renames, and a read-only descriptor is enough for flock), reads PATH,
// writes the new text to a temporary file in the same directory, fsyncs it
// and renames it over PATH. Readers take no lock: a rename is atomic, so they
// see the old file or the new one, never half of one, and two writers never
// lose each other's update.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "json.h"

namespace m2m {

constexpr size_t kMaxSecrets = 5;           // as Scalekit allows: rotation without downtime
constexpr size_t kSecretBytes = 32;         // 256 bits from OpenSSL's RNG
constexpr size_t kMaxRegistrySize = 4 << 20;
constexpr size_t kMaxClientNameLength = 200;  // bytes of a client's name, as the clients API allows
constexpr size_t kMaxIdLength = 128;          // client and secret ids: 1..128 URI-unreserved characters
constexpr int64_t kMaxTime = 253402300799;    // 9999-12-31T23:59:59Z: any later time is a mistake

struct ClientSecret {
    std::string id;                        // "sec_" + 8 random bytes, hex; names it for removal
    std::string hash;                      // "sha256:<salt>:<digest>", never the secret
    int64_t created_at = 0;
    std::optional<int64_t> expires_at;     // refused from this second on
};

struct Client {
    std::string client_id;                 // "m2m_" + 16 random bytes, hex
    std::string name;
    std::vector<std::string> scopes;       // allowed; each a scope-token (RFC 6749 §3.3)
    JsonPtr claims;                        // extra claims for its tokens: an object, or null
    // RFC 8705 §3.4 tls_client_certificate_bound_access_tokens: its tokens
    // are bound to the TLS client certificate it requests them with, and it
    // gets none without one
    bool certificate_bound = false;
    bool enabled = true;
    int64_t created_at = 0;
    std::vector<ClientSecret> secrets;
};

class Registry {
public:
    std::vector<Client> clients;

    const Client *find(std::string_view client_id) const noexcept;
    Client *find(std::string_view client_id) noexcept;

    // The file's text (pretty-printed, ends with a newline). May throw.
    std::string render() const;
};

// Strict: every member checked for type and shape, duplicate client ids or
// secret ids refused, claims that would override a registered claim (iss,
// sub, aud, exp, nbf, iat, jti, client_id, scope) refused. False with a
// one-line *error (no secret material in it) if the text is not a registry.
bool parse_registry(std::string_view text, Registry *out, std::string *error) noexcept;

// Whether name, scopes and claims (null or an object) may make a client, by
// the rules parse_registry applies to the file: a name of at most
// kMaxClientNameLength bytes without control characters, distinct RFC 6749
// scope-tokens, claim names that are not empty, have no control characters
// and are not among the claims every token carries (RFC 9068 §2.2: iss,
// sub, aud, exp, nbf, iat, jti, client_id, scope). False with a one-line *error.
bool check_client_fields(std::string_view name, const std::vector<std::string> &scopes, const json_t *claims,
                         std::string *error) noexcept;

// A new secret for the client: 256 random bits, returned once in clear as
// base64url; only its salted hash is kept in the client. Throws
// std::length_error if the client already has kMaxSecrets, and
// std::runtime_error if the RNG fails.
struct IssuedSecret {
    std::string id;
    std::string secret;
};
IssuedSecret add_secret(Client *client, int64_t now, std::optional<int64_t> expires_at);

// A new client with one secret. Throws std::invalid_argument (what():
// check_client_fields' error) if the fields may not make a client, and
// std::runtime_error on RNG failure.
Client new_client(std::string name, std::vector<std::string> scopes, JsonPtr claims, int64_t now,
                  IssuedSecret *secret);

// Client authentication at the token endpoint. Null unless the client
// exists, is enabled and one of its unexpired secrets matches, compared in
// constant time. Every call walks the whole client list and hashes the
// secret kMaxSecrets times (against dummies where the client has fewer
// secrets, or is unknown), so the time does not tell which of id and secret
// was wrong, nor whether the client is disabled or its secret expired.
const Client *authenticate_client(const Registry &registry, std::string_view client_id,
                                  std::string_view secret, int64_t now) noexcept;

}  // namespace m2m
