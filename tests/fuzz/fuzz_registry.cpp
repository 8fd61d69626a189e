// parse_registry on arbitrary files, render on whatever it accepts, and
// authenticate_client against an oracle written here with OpenSSL: the
// registry decides who gets tokens, so an accepted file must obey every rule
// of registry.h, render back to itself, and let in exactly the secrets its
// hashes say.
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "issuer/registry.h"
#include "json.h"
#include "verify/scope.h"

namespace {

// The seed corpus holds hashes of this secret, so mutations keep some
// matching ones to flip expiry and enabled around.
constexpr std::string_view kSecret = "fuzz-secret";
constexpr int64_t kNow = 1700000000;

bool is_id(const std::string &id)
{
    return !id.empty() && id.size() <= 128 &&
           id.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") ==
               std::string::npos;
}

// "sha256:" salt ":" digest: does SHA-256(salt || secret) equal digest?
bool hash_matches(const std::string &hash, std::string_view secret)
{
    const size_t colon = hash.find(':', 7);
    std::string salt, digest;
    if (hash.compare(0, 7, "sha256:") != 0 || colon == std::string::npos ||
        !fuzz::b64url_decode(hash.substr(7, colon - 7), &salt) || !fuzz::b64url_decode(hash.substr(colon + 1), &digest)) {
        fuzz::fail("accepted a hash that is not sha256:<salt>:<digest>");
    }
    if (salt.size() != 16 || digest.size() != 32) {
        fuzz::fail("accepted a salt or digest of the wrong size");
    }
    const std::string input = salt + std::string(secret);
    unsigned char md[32];
    unsigned int len = 0;
    if (EVP_Digest(input.data(), input.size(), md, &len, EVP_sha256(), nullptr) != 1) {
        fuzz::fail("EVP_Digest failed");
    }
    return CRYPTO_memcmp(md, digest.data(), 32) == 0;
}

void check_client(const m2m::Client &c)
{
    static const char *const kRegistered[] = {"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id", "scope"};
    if (!is_id(c.client_id) || c.name.size() > 200 || m2m::has_line_breaking_chars(c.name)) {
        fuzz::fail("accepted a bad client id or name");
    }
    std::set<std::string> scopes;
    for (const auto &s : c.scopes) {
        if (!m2m::is_scope_token(s) || !scopes.insert(s).second) {
            fuzz::fail("accepted a bad or repeated scope");
        }
    }
    if (c.claims) {
        if (!json_is_object(c.claims.get())) {
            fuzz::fail("claims that are not an object");
        }
        for (const char *name : kRegistered) {
            if (json_object_get(c.claims.get(), name)) {
                fuzz::fail("claims override a registered claim");
            }
        }
    }
    if (c.created_at < 0 || c.created_at > m2m::kMaxTime || c.secrets.size() > m2m::kMaxSecrets) {
        fuzz::fail("accepted a bad time or too many secrets");
    }
    std::set<std::string> ids;
    for (const auto &s : c.secrets) {
        if (!is_id(s.id) || !ids.insert(s.id).second || s.created_at < 0 || s.created_at > m2m::kMaxTime ||
            (s.expires_at && (*s.expires_at < 0 || *s.expires_at > m2m::kMaxTime))) {
            fuzz::fail("accepted a bad or repeated secret id, or a bad time");
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    json_object_seed(1);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const std::string_view text(reinterpret_cast<const char *>(data), size);
    m2m::Registry registry;
    registry.clients.emplace_back();
    registry.clients.back().client_id = "untouched";
    std::string error;
    if (!m2m::parse_registry(text, &registry, &error)) {
        if (error.empty() || error.find('\n') != std::string::npos) {
            fuzz::fail("refused without a one-line reason");
        }
        if (registry.clients.size() != 1 || registry.clients[0].client_id != "untouched") {
            fuzz::fail("a refused file changed the registry");
        }
        return 0;
    }

    std::set<std::string> ids;
    for (const auto &c : registry.clients) {
        check_client(c);
        if (!ids.insert(c.client_id).second) {
            fuzz::fail("two clients with one id");
        }
        bool expected = false;
        for (const auto &s : c.secrets) {
            expected |= hash_matches(s.hash, kSecret) && (!s.expires_at || kNow < *s.expires_at);
        }
        expected &= c.enabled;
        const m2m::Client *got = m2m::authenticate_client(registry, c.client_id, kSecret, kNow);
        if (got != (expected ? &c : nullptr)) {
            fuzz::fail("authenticate_client disagrees with the hashes");
        }
    }

    const std::string rendered = registry.render();
    m2m::Registry again;
    if (!m2m::parse_registry(rendered, &again, &error)) {
        fuzz::fail("render gave a file that does not parse");
    }
    if (again.render() != rendered || again.clients.size() != registry.clients.size()) {
        fuzz::fail("render is not stable across a round trip");
    }
    return 0;
}
