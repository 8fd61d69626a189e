#include "issuer/registry.h"

#include <algorithm>
#include <new>
#include <stdexcept>
#include <unordered_set>
#include <utility>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base64url.h"
#include "openssl_handles.h"
#include "verify/scope.h"

namespace m2m {

namespace {

constexpr size_t kSaltBytes = 16;
constexpr size_t kDigestBytes = 32;
constexpr std::string_view kHashPrefix = "sha256:";
constexpr size_t kHashSize =
    kHashPrefix.size() + base64url_encoded_size(kSaltBytes) + 1 + base64url_encoded_size(kDigestBytes);

// Stands in for the secrets a client does not have, so every call hashes
// kMaxSecrets times. Its digest is never compared as a match.
constexpr std::string_view kDummyHash = "sha256:AAAAAAAAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
static_assert(kDummyHash.size() == kHashSize);

// Thrown inside the parser with a one-line description; never leaves it.
struct Refusal {
    std::string what;
};

[[noreturn]] void refuse(std::string what) { throw Refusal{std::move(what)}; }

// Client and secret ids: URI-unreserved characters (RFC 3986 §2.3), so an id
// can be a path segment of the clients API, a log field and a header value
// as it is.
bool is_id(std::string_view id)
{
    if (id.empty() || id.size() > kMaxIdLength) {
        return false;
    }
    for (unsigned char c : id) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                        c == '.' || c == '_' || c == '~';
        if (!ok) {
            return false;
        }
    }
    return true;
}

// "sha256:<salt>:<digest>", both strict base64url of their exact sizes.
bool decode_hash(std::string_view hash, unsigned char salt[kSaltBytes], unsigned char digest[kDigestBytes])
{
    if (hash.size() != kHashSize || hash.substr(0, kHashPrefix.size()) != kHashPrefix) {
        return false;
    }
    const std::string_view rest = hash.substr(kHashPrefix.size());
    const size_t salt_chars = base64url_encoded_size(kSaltBytes);
    if (rest[salt_chars] != ':') {
        return false;
    }
    size_t n = 0, m = 0;
    return base64url_decode(rest.substr(0, salt_chars), salt, kSaltBytes, &n) && n == kSaltBytes &&
           base64url_decode(rest.substr(salt_chars + 1), digest, kDigestBytes, &m) && m == kDigestBytes;
}

bool sha256(EVP_MD_CTX *md, const unsigned char *salt, std::string_view secret, unsigned char out[kDigestBytes])
{
    unsigned int len = 0;
    return EVP_DigestInit_ex(md, EVP_sha256(), nullptr) == 1 && EVP_DigestUpdate(md, salt, kSaltBytes) == 1 &&
           EVP_DigestUpdate(md, secret.data(), secret.size()) == 1 && EVP_DigestFinal_ex(md, out, &len) == 1 &&
           len == kDigestBytes;
}

void random_bytes(unsigned char *out, size_t n)
{
    if (RAND_bytes(out, static_cast<int>(n)) != 1) {
        throw std::runtime_error("OpenSSL's random generator failed");
    }
}

std::string random_hex(size_t bytes)
{
    static const char kHex[] = "0123456789abcdef";
    unsigned char raw[32];
    random_bytes(raw, bytes);
    std::string out;
    for (size_t i = 0; i < bytes; i++) {
        out += kHex[raw[i] >> 4];
        out += kHex[raw[i] & 15];
    }
    return out;
}

constexpr const char *kCertificateBound = "tls_client_certificate_bound_access_tokens";

// The claims every issued token carries (RFC 9068 §2.2): a client's extra
// claims may not replace them.
bool is_registered_claim(std::string_view name)
{
    static constexpr std::string_view kRegistered[] = {"iss", "sub", "aud",       "exp",  "nbf",
                                                       "iat", "jti", "client_id", "scope"};
    return std::find(std::begin(kRegistered), std::end(kRegistered), name) != std::end(kRegistered);
}

// --- the parser ---

// Every member of `object` must be one of `known`: a misspelt "expires_at"
// silently ignored would be a secret that never expires.
void only_members(const json_t *object, std::initializer_list<std::string_view> known, const std::string &where)
{
    const char *name;
    const json_t *value;
    json_object_foreach(const_cast<json_t *>(object), name, value)
    {
        if (std::find(known.begin(), known.end(), name) == known.end()) {
            // the name is not echoed: it may hold anything
            refuse(where + "has an unknown member");
        }
    }
}

const json_t *member(const json_t *object, const char *name, const std::string &where)
{
    const json_t *value = json_object_get(object, name);
    if (!value) {
        refuse(where + "has no \"" + name + "\"");
    }
    return value;
}

std::string_view string_member(const json_t *object, const char *name, const std::string &where)
{
    const json_t *value = member(object, name, where);
    if (!json_is_string(value)) {
        refuse(where + "\"" + name + "\" is not a string");
    }
    return std::string_view(json_string_value(value), json_string_length(value));
}

int64_t time_value(const json_t *value, const char *name, const std::string &where)
{
    if (!json_is_integer(value) || json_integer_value(value) < 0 || json_integer_value(value) > kMaxTime) {
        refuse(where + "\"" + name + "\" is not a time in seconds between 0 and " + std::to_string(kMaxTime));
    }
    return json_integer_value(value);
}

ClientSecret parse_secret(const json_t *value, const std::string &where)
{
    if (!json_is_object(value)) {
        refuse(where + "is not an object");
    }
    only_members(value, {"id", "hash", "created_at", "expires_at"}, where);
    ClientSecret secret;
    secret.id = string_member(value, "id", where);
    if (!is_id(secret.id)) {
        refuse(where + "\"id\" is not 1 to " + std::to_string(kMaxIdLength) + " of A-Z a-z 0-9 - . _ ~");
    }
    secret.hash = string_member(value, "hash", where);
    unsigned char salt[kSaltBytes], digest[kDigestBytes];
    if (!decode_hash(secret.hash, salt, digest)) {
        refuse(where + "\"hash\" is not sha256:<16-byte salt>:<32-byte digest> in base64url");
    }
    secret.created_at = time_value(member(value, "created_at", where), "created_at", where);
    if (const json_t *expires = json_object_get(value, "expires_at")) {
        secret.expires_at = time_value(expires, "expires_at", where);
    }
    return secret;
}

Client parse_client(const json_t *value, size_t index)
{
    std::string where = "client " + std::to_string(index) + ": ";
    if (!json_is_object(value)) {
        refuse(where + "is not an object");
    }
    only_members(value,
                 {"client_id", "name", "scopes", "claims", kCertificateBound, "enabled", "created_at", "secrets"},
                 where);

    Client client;
    client.client_id = string_member(value, "client_id", where);
    if (!is_id(client.client_id)) {
        refuse(where + "\"client_id\" is not 1 to " + std::to_string(kMaxIdLength) + " of A-Z a-z 0-9 - . _ ~");
    }
    // from here on the id is safe to quote, and names the client better
    where = "client \"" + client.client_id + "\": ";

    client.name = string_member(value, "name", where);

    const json_t *scopes = member(value, "scopes", where);
    if (!json_is_array(scopes)) {
        refuse(where + "\"scopes\" is not an array");
    }
    size_t i;
    const json_t *scope;
    json_array_foreach(scopes, i, scope)
    {
        if (!json_is_string(scope)) {
            refuse(where + "\"scopes\" holds a value that is not a string");
        }
        client.scopes.emplace_back(json_string_value(scope), json_string_length(scope));
    }

    const json_t *claims = json_object_get(value, "claims");
    if (claims && !json_is_object(claims)) {
        refuse(where + "\"claims\" is not an object");
    }
    std::string error;
    if (!check_client_fields(client.name, client.scopes, claims, &error)) {
        refuse(where + error);
    }
    if (claims) {
        client.claims.reset(json_incref(const_cast<json_t *>(claims)));
    }

    if (const json_t *bound = json_object_get(value, kCertificateBound)) {
        if (!json_is_boolean(bound)) {
            refuse(where + "\"" + kCertificateBound + "\" is not true or false");
        }
        client.certificate_bound = json_is_true(bound);
    }

    const json_t *enabled = member(value, "enabled", where);
    if (!json_is_boolean(enabled)) {
        refuse(where + "\"enabled\" is not true or false");
    }
    client.enabled = json_is_true(enabled);
    client.created_at = time_value(member(value, "created_at", where), "created_at", where);

    const json_t *secrets = member(value, "secrets", where);
    if (!json_is_array(secrets)) {
        refuse(where + "\"secrets\" is not an array");
    }
    if (json_array_size(secrets) > kMaxSecrets) {
        refuse(where + "has more than " + std::to_string(kMaxSecrets) + " secrets");
    }
    const json_t *secret;
    json_array_foreach(secrets, i, secret)
    {
        client.secrets.push_back(parse_secret(secret, where + "secret " + std::to_string(i) + ": "));
        for (size_t k = 0; k + 1 < client.secrets.size(); k++) {
            if (client.secrets[k].id == client.secrets.back().id) {
                refuse(where + "two secrets have the id \"" + client.secrets.back().id + "\"");
            }
        }
    }
    return client;
}

// --- render ---

void put(json_t *object, const char *name, json_t *value)
{
    if (value == nullptr || json_object_set_new(object, name, value) != 0) {
        throw std::bad_alloc();
    }
}

void append(json_t *array, json_t *value)
{
    if (value == nullptr || json_array_append_new(array, value) != 0) {
        throw std::bad_alloc();
    }
}

JsonPtr new_object()
{
    JsonPtr object(json_object());
    if (!object) {
        throw std::bad_alloc();
    }
    return object;
}

json_t *string_value(std::string_view text) { return json_stringn(text.data(), text.size()); }

}  // namespace

const Client *Registry::find(std::string_view client_id) const noexcept
{
    for (const auto &client : clients) {
        if (client.client_id == client_id) {
            return &client;
        }
    }
    return nullptr;
}

Client *Registry::find(std::string_view client_id) noexcept
{
    return const_cast<Client *>(static_cast<const Registry *>(this)->find(client_id));
}

std::string Registry::render() const
{
    JsonPtr list(json_array());
    if (!list) {
        throw std::bad_alloc();
    }
    for (const auto &client : clients) {
        JsonPtr c = new_object();
        put(c.get(), "client_id", string_value(client.client_id));
        put(c.get(), "name", string_value(client.name));
        JsonPtr scopes(json_array());
        if (!scopes) {
            throw std::bad_alloc();
        }
        for (const auto &scope : client.scopes) {
            append(scopes.get(), string_value(scope));
        }
        put(c.get(), "scopes", scopes.release());
        if (client.claims) {
            put(c.get(), "claims", json_incref(client.claims.get()));
        }
        if (client.certificate_bound) {
            put(c.get(), kCertificateBound, json_true());
        }
        put(c.get(), "enabled", json_boolean(client.enabled));
        put(c.get(), "created_at", json_integer(client.created_at));
        JsonPtr secrets(json_array());
        if (!secrets) {
            throw std::bad_alloc();
        }
        for (const auto &secret : client.secrets) {
            JsonPtr s = new_object();
            put(s.get(), "id", string_value(secret.id));
            put(s.get(), "hash", string_value(secret.hash));
            put(s.get(), "created_at", json_integer(secret.created_at));
            if (secret.expires_at) {
                put(s.get(), "expires_at", json_integer(*secret.expires_at));
            }
            append(secrets.get(), s.release());
        }
        put(c.get(), "secrets", secrets.release());
        append(list.get(), c.release());
    }
    JsonPtr doc = new_object();
    put(doc.get(), "version", json_integer(1));
    put(doc.get(), "clients", list.release());
    std::string text = dump_json(doc.get(), JSON_INDENT(2));
    if (text.empty()) {
        throw std::bad_alloc();
    }
    text += '\n';
    return text;
}

bool check_client_fields(std::string_view name, const std::vector<std::string> &scopes, const json_t *claims,
                         std::string *error) noexcept
{
    try {
        if (name.size() > kMaxClientNameLength || has_line_breaking_chars(name)) {
            *error = "\"name\" is longer than " + std::to_string(kMaxClientNameLength) +
                     " bytes or holds a control character";
            return false;
        }
        std::unordered_set<std::string_view> seen;
        for (size_t i = 0; i < scopes.size(); i++) {
            if (!is_scope_token(scopes[i])) {
                *error = "scope " + std::to_string(i) + " is not an RFC 6749 scope-token";
                return false;
            }
            if (!seen.insert(scopes[i]).second) {
                *error = "scope \"" + scopes[i] + "\" is listed twice";
                return false;
            }
        }
        if (claims == nullptr) {
            return true;
        }
        if (!json_is_object(claims)) {
            *error = "\"claims\" is not an object";
            return false;
        }
        const char *claim;
        const json_t *value;
        json_object_foreach(const_cast<json_t *>(claims), claim, value)
        {
            // jansson keys may hold NUL (\u0000 is refused by its parser,
            // but not by json_object_setn)
            const std::string_view key(claim);
            if (key.empty() || has_line_breaking_chars(key) || key.size() > kMaxClientNameLength) {
                *error = "a claim name is empty, longer than " + std::to_string(kMaxClientNameLength) +
                         " bytes or holds a control character";
                return false;
            }
            if (is_registered_claim(key)) {
                *error = "claim \"" + std::string(key) + "\" would override a registered claim";
                return false;
            }
        }
        return true;
    } catch (...) {
        *error = "out of memory";
        return false;
    }
}

bool parse_registry(std::string_view text, Registry *out, std::string *error) noexcept
{
    try {
        if (text.size() > kMaxRegistrySize) {
            *error = "larger than " + std::to_string(kMaxRegistrySize) + " bytes";
            return false;
        }
        JsonPtr doc = parse_json_object(text);
        if (!doc) {
            // where, but not jansson's text: it quotes the input
            json_error_t where;
            JsonPtr any(json_loadb(text.data(), text.size(), JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &where));
            *error = any ? "not a JSON object"
                         : "not JSON (or a duplicate member name, a NUL, invalid UTF-8) at line " +
                               std::to_string(where.line) + ", column " + std::to_string(where.column);
            return false;
        }
        const std::string top = "the registry ";
        only_members(doc.get(), {"version", "clients"}, top);
        const json_t *version = member(doc.get(), "version", top);
        if (!json_is_integer(version) || json_integer_value(version) != 1) {
            refuse("\"version\" is not 1");
        }
        const json_t *clients = member(doc.get(), "clients", top);
        if (!json_is_array(clients)) {
            refuse("\"clients\" is not an array");
        }
        Registry registry;
        registry.clients.reserve(json_array_size(clients));
        std::unordered_set<std::string> ids;
        size_t i;
        const json_t *value;
        json_array_foreach(clients, i, value)
        {
            Client client = parse_client(value, i);
            if (!ids.insert(client.client_id).second) {
                refuse("two clients have the id \"" + client.client_id + "\"");
            }
            registry.clients.push_back(std::move(client));
        }
        *out = std::move(registry);
        return true;
    } catch (Refusal &refusal) {
        *error = std::move(refusal.what);
    } catch (...) {
        *error = "out of memory";
    }
    return false;
}

IssuedSecret add_secret(Client *client, int64_t now, std::optional<int64_t> expires_at)
{
    if (client->secrets.size() >= kMaxSecrets) {
        throw std::length_error("the client already has " + std::to_string(kMaxSecrets) + " secrets");
    }
    IssuedSecret issued;
    do {
        issued.id = "sec_" + random_hex(8);
    } while (std::any_of(client->secrets.begin(), client->secrets.end(),
                         [&](const ClientSecret &s) { return s.id == issued.id; }));

    unsigned char raw[kSecretBytes];
    unsigned char salt[kSaltBytes];
    unsigned char digest[kDigestBytes];
    try {
        random_bytes(raw, sizeof(raw));
        random_bytes(salt, sizeof(salt));
        issued.secret = base64url_encode(std::string_view(reinterpret_cast<char *>(raw), sizeof(raw)));
        OPENSSL_cleanse(raw, sizeof(raw));
        EvpMdCtxPtr md(EVP_MD_CTX_new());
        if (!md || !sha256(md.get(), salt, issued.secret, digest)) {
            throw std::runtime_error("SHA-256 failed");
        }
    } catch (...) {
        OPENSSL_cleanse(raw, sizeof(raw));
        if (!issued.secret.empty()) {
            OPENSSL_cleanse(&issued.secret[0], issued.secret.size());
        }
        throw;
    }

    ClientSecret secret;
    secret.id = issued.id;
    secret.hash = std::string(kHashPrefix) +
                  base64url_encode(std::string_view(reinterpret_cast<char *>(salt), sizeof(salt))) + ":" +
                  base64url_encode(std::string_view(reinterpret_cast<char *>(digest), sizeof(digest)));
    secret.created_at = now;
    secret.expires_at = expires_at;
    client->secrets.push_back(std::move(secret));
    return issued;
}

Client new_client(std::string name, std::vector<std::string> scopes, JsonPtr claims, int64_t now,
                  IssuedSecret *secret)
{
    std::string error;
    if (!check_client_fields(name, scopes, claims.get(), &error)) {
        throw std::invalid_argument(error);
    }
    Client client;
    client.client_id = "m2m_" + random_hex(16);
    client.name = std::move(name);
    client.scopes = std::move(scopes);
    client.claims = std::move(claims);
    client.enabled = true;
    client.created_at = now;
    *secret = add_secret(&client, now, std::nullopt);
    return client;
}

const Client *authenticate_client(const Registry &registry, std::string_view client_id, std::string_view secret,
                                  int64_t now) noexcept
{
    OpenSslErrorScope errors;

    // the whole list, wherever (and whether) the id is in it
    const Client *client = nullptr;
    for (const auto &candidate : registry.clients) {
        if (candidate.client_id == client_id) {
            client = &candidate;
        }
    }

    EvpMdCtxPtr md(EVP_MD_CTX_new());
    if (!md) {
        return nullptr;
    }
    const size_t count = client ? client->secrets.size() : 0;
    unsigned match = 0;
    for (size_t i = 0; i < std::max(kMaxSecrets, count); i++) {
        const ClientSecret *stored = i < count ? &client->secrets[i] : nullptr;
        unsigned char salt[kSaltBytes], digest[kDigestBytes], presented[kDigestBytes];
        // parse_registry checked every hash; one that is not (a registry
        // built in memory) matches nothing
        const bool valid = decode_hash(stored ? stored->hash : kDummyHash, salt, digest);
        if (!sha256(md.get(), salt, secret, presented)) {
            return nullptr;
        }
        const bool same = CRYPTO_memcmp(presented, digest, kDigestBytes) == 0;
        const bool live = stored && valid && (!stored->expires_at || now < *stored->expires_at);
        match |= static_cast<unsigned>(same && live);
    }
    return client && client->enabled && match ? client : nullptr;
}

}  // namespace m2m
