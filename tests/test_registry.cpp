// The local issuer's client registry: the file's shape (every refusal, and a
// round trip through render), secrets made and kept only as salted hashes,
// and client authentication as the token endpoint asks for it.
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <openssl/evp.h>

#include "issuer/registry.h"
#include "test_suites.h"
#include "test_support.h"

using m2m::Client;
using m2m::IssuedSecret;
using m2m::Registry;
using testsupport::json;
using testsupport::kNow;

namespace {

// RFC 4648 §5 without padding, with OpenSSL's encoder, not the module's.
std::string b64url(const std::string &bytes)
{
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char *>(&out[0]),
                                  reinterpret_cast<const unsigned char *>(bytes.data()), static_cast<int>(bytes.size()));
    out.resize(static_cast<size_t>(n));
    while (!out.empty() && out.back() == '=') {
        out.pop_back();
    }
    for (char &c : out) {
        c = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    return out;
}

std::string sha256(const std::string &data)
{
    unsigned char md[32];
    unsigned int len = 0;
    ck_assert_int_eq(EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr), 1);
    return std::string(reinterpret_cast<char *>(md), len);
}

// The file's hash of `secret` with `salt`, computed here independently.
std::string hash_of(const std::string &salt, const std::string &secret)
{
    return "sha256:" + b64url(salt) + ":" + b64url(sha256(salt + secret));
}

const std::string kSalt = "0123456789abcdef";  // 16 bytes
const std::string kSecret = "correct-horse-battery-staple-correct-horse-b";

// A registry with two clients: "m2m_alpha" (two secrets, the first kSecret,
// claims) and "m2m_beta" (disabled, no claims, no secrets).
std::string sample_text()
{
    return "{\"version\": 1, \"clients\": ["
           "{\"client_id\": \"m2m_alpha\", \"name\": \"reporting bot\", \"scopes\": [\"tasks:read\", \"tasks:write\"],"
           " \"claims\": {\"org_id\": \"acme\", \"tier\": 2}, \"enabled\": true, \"created_at\": 1700000000,"
           " \"secrets\": [{\"id\": \"sec_01\", \"hash\": \"" +
           hash_of(kSalt, kSecret) +
           "\", \"created_at\": 1700000000},"
           " {\"id\": \"sec_02\", \"hash\": \"" +
           hash_of("fedcba9876543210", "other") +
           "\", \"created_at\": 1700000100, \"expires_at\": 1800000000}]},"
           "{\"client_id\": \"m2m_beta\", \"name\": \"\", \"scopes\": [], \"enabled\": false, \"created_at\": 0,"
           " \"secrets\": []}]}";
}

Registry parsed(const std::string &text)
{
    Registry registry;
    std::string error;
    ck_assert_msg(m2m::parse_registry(text, &registry, &error), "refused: %s", error.c_str());
    return registry;
}

// The refusal of `text`: one line, naming no hash.
std::string refusal(const std::string &text)
{
    Registry registry;
    registry.clients.emplace_back();
    registry.clients.back().client_id = "untouched";
    std::string error;
    ck_assert_msg(!m2m::parse_registry(text, &registry, &error), "accepted: %.300s", text.c_str());
    ck_assert_msg(!error.empty(), "no reason for %.300s", text.c_str());
    ck_assert_msg(error.find('\n') == std::string::npos, "reason spans lines: %s", error.c_str());
    for (size_t at = error.find("sha256:"); at != std::string::npos; at = error.find("sha256:", at + 1)) {
        ck_assert_msg(error.compare(at, 8, "sha256:<") == 0, "reason quotes a hash: %s", error.c_str());
    }
    ck_assert_msg(registry.clients.size() == 1 && registry.clients[0].client_id == "untouched",
                  "registry changed by a refused parse");
    return error;
}

// sample_text() changed by `edit` on its parsed form.
std::string edited(const std::function<void(json_t *doc)> &edit)
{
    m2m::JsonPtr doc = json(sample_text().c_str());
    edit(doc.get());
    char *text = json_dumps(doc.get(), 0);
    ck_assert_ptr_nonnull(text);
    std::string out(text);
    free(text);
    return out;
}

json_t *client0(json_t *doc) { return json_array_get(json_object_get(doc, "clients"), 0); }
json_t *secret0(json_t *doc) { return json_array_get(json_object_get(client0(doc), "secrets"), 0); }

void set(json_t *object, const char *name, json_t *value) { ck_assert_int_eq(json_object_set_new(object, name, value), 0); }

#define ck_refused_as(text, fragment)                                                                    \
    do {                                                                                                 \
        const std::string why_ = refusal(text);                                                          \
        ck_assert_msg(why_.find(fragment) != std::string::npos, "reason \"%s\" lacks \"%s\"", why_.c_str(), \
                      fragment);                                                                         \
    } while (0)

}  // namespace

START_TEST(test_sample_parses)
{
    const Registry r = parsed(sample_text());
    ck_assert_uint_eq(r.clients.size(), 2);
    const Client &a = r.clients[0];
    ck_assert_str_eq(a.client_id.c_str(), "m2m_alpha");
    ck_assert_str_eq(a.name.c_str(), "reporting bot");
    ck_assert_uint_eq(a.scopes.size(), 2);
    ck_assert_str_eq(a.scopes[1].c_str(), "tasks:write");
    ck_assert_ptr_nonnull(a.claims.get());
    ck_assert_str_eq(json_string_value(json_object_get(a.claims.get(), "org_id")), "acme");
    ck_assert(a.enabled);
    ck_assert_int_eq(a.created_at, 1700000000);
    ck_assert_uint_eq(a.secrets.size(), 2);
    ck_assert_str_eq(a.secrets[0].id.c_str(), "sec_01");
    ck_assert(!a.secrets[0].expires_at);
    ck_assert(a.secrets[1].expires_at && *a.secrets[1].expires_at == 1800000000);
    const Client &b = r.clients[1];
    ck_assert(!b.enabled);
    ck_assert_ptr_null(b.claims.get());
    ck_assert(b.secrets.empty() && b.scopes.empty() && b.name.empty());
    ck_assert_ptr_eq(r.find("m2m_beta"), &r.clients[1]);
    ck_assert_ptr_null(r.find("m2m_gamma"));
    ck_assert_ptr_null(r.find(""));
}
END_TEST

START_TEST(test_render_round_trip)
{
    Registry r = parsed(sample_text());
    IssuedSecret issued;
    r.clients.push_back(m2m::new_client("new \xc3\xa9t\xc3\xa9", {"a", "b:c"}, json("{\"org\":{\"x\":[1,2]}}"), kNow,
                                        &issued));
    const std::string text = r.render();
    ck_assert_msg(!text.empty() && text.back() == '\n', "render ends with a newline");
    ck_assert_msg(text.find("\n  ") != std::string::npos, "render is indented");
    const Registry again = parsed(text);
    ck_assert_std_str_eq(again.render(), text);
    ck_assert_uint_eq(again.clients.size(), 3);
    for (size_t i = 0; i < 3; i++) {
        const Client &x = r.clients[i], &y = again.clients[i];
        ck_assert_std_str_eq(y.client_id, x.client_id);
        ck_assert_std_str_eq(y.name, x.name);
        ck_assert(y.scopes == x.scopes);
        ck_assert(y.enabled == x.enabled && y.created_at == x.created_at);
        ck_assert_int_eq(json_equal(y.claims.get(), x.claims.get()) || (!y.claims && !x.claims), 1);
        ck_assert_uint_eq(y.secrets.size(), x.secrets.size());
        for (size_t k = 0; k < x.secrets.size(); k++) {
            ck_assert_std_str_eq(y.secrets[k].id, x.secrets[k].id);
            ck_assert_std_str_eq(y.secrets[k].hash, x.secrets[k].hash);
            ck_assert(y.secrets[k].created_at == x.secrets[k].created_at);
            ck_assert(y.secrets[k].expires_at == x.secrets[k].expires_at);
        }
    }
    // the new client's secret works after the round trip, and is not in the file
    ck_assert_ptr_eq(m2m::authenticate_client(again, again.clients[2].client_id, issued.secret, kNow), &again.clients[2]);
    ck_assert_msg(text.find(issued.secret) == std::string::npos, "the secret is in the file");
    // an empty registry renders and parses too
    ck_assert_uint_eq(parsed(Registry().render()).clients.size(), 0);
}
END_TEST

// RFC 8705 §3.4 tls_client_certificate_bound_access_tokens: absent is
// false, and false is not written, so files without it keep their text.
START_TEST(test_certificate_bound)
{
    const Registry plain = parsed(sample_text());
    for (const Client &c : plain.clients) {
        ck_assert(!c.certificate_bound);
    }
    ck_assert_msg(plain.render().find("tls_client_certificate_bound_access_tokens") == std::string::npos,
                  "false is written");
    const Registry bound = parsed(edited([](json_t *d) {
        set(client0(d), "tls_client_certificate_bound_access_tokens", json_true());
    }));
    ck_assert(bound.clients[0].certificate_bound);
    ck_assert(!bound.clients[1].certificate_bound);
    const Registry again = parsed(bound.render());
    ck_assert(again.clients[0].certificate_bound && !again.clients[1].certificate_bound);
    ck_assert(!parsed(edited([](json_t *d) {
                   set(client0(d), "tls_client_certificate_bound_access_tokens", json_false());
               })).clients[0].certificate_bound);
    ck_refused_as(edited([](json_t *d) {
                      set(client0(d), "tls_client_certificate_bound_access_tokens", json_string("yes"));
                  }),
                  "\"tls_client_certificate_bound_access_tokens\" is not true or false");
}
END_TEST

START_TEST(test_boundaries_accepted)
{
    const std::string id128(128, 'a');
    parsed(edited([&](json_t *doc) {
        set(client0(doc), "client_id", json_string(id128.c_str()));
        set(client0(doc), "name", json_string(std::string(200, 'n').c_str()));
        set(client0(doc), "created_at", json_integer(m2m::kMaxTime));
        set(secret0(doc), "id", json_string("A-Z.a_z~09"));
        set(secret0(doc), "expires_at", json_integer(0));
        set(client0(doc), "claims", json_object());
        set(client0(doc), "scopes", json_pack("[sss]", "!", "~#$%&'()*+,-./:;<=>?@[]^_`{|}", "x"));
    }));
    // a name may be any UTF-8 without control characters
    parsed(edited([](json_t *doc) { set(client0(doc), "name", json_string("B\xc3\xbcro \xe2\x82\xac \xf0\x9f\x98\x80")); }));
    parsed("{\"version\":1,\"clients\":[]}");
    parsed("{\"clients\":[],\"version\":1}");
}
END_TEST

START_TEST(test_refusals)
{
    // the document
    ck_refused_as("", "not JSON");
    ck_refused_as("[]", "not a JSON object");
    ck_refused_as("\"x\"", "not a JSON object");
    ck_refused_as("{\"version\":1,\"clients\":[]} x", "not JSON");
    ck_refused_as("{\"version\":1,\n\"version\":1,\"clients\":[]}", "line 2");
    ck_refused_as("{\"version\":1,\"clients\":[],\"x\":\"\\u0000\"}", "not JSON");
    ck_refused_as("{\"version\":1,\"clients\":[],\"x\":\"\xff\"}", "not JSON");
    // the position, never the text around it
    ck_assert_msg(refusal("{\"version\":1,\"clients\":[], secret-text}").find("secret") == std::string::npos,
                  "the reason quotes the file");
    ck_refused_as("{\"clients\":[]}", "no \"version\"");
    ck_refused_as("{\"version\":2,\"clients\":[]}", "\"version\" is not 1");
    ck_refused_as("{\"version\":\"1\",\"clients\":[]}", "\"version\" is not 1");
    ck_refused_as("{\"version\":1.0,\"clients\":[]}", "\"version\" is not 1");
    ck_refused_as("{\"version\":1}", "no \"clients\"");
    ck_refused_as("{\"version\":1,\"clients\":{}}", "\"clients\" is not an array");
    ck_refused_as("{\"version\":1,\"clients\":[],\"extra\":1}", "unknown member");
    ck_refused_as("{\"version\":1,\"clients\":[1]}", "client 0: is not an object");

    // a client
    ck_refused_as(edited([](json_t *d) { set(client0(d), "extra", json_true()); }), "unknown member");
    ck_refused_as(edited([](json_t *d) { set(client0(d), "expires_at", json_integer(1)); }), "unknown member");
    for (const char *name : {"client_id", "name", "scopes", "enabled", "created_at", "secrets"}) {
        ck_refused_as(edited([&](json_t *d) { json_object_del(client0(d), name); }), name);
    }
    for (const char *id : {"", "a b", "a/b", "a:b", "caf\xc3\xa9", "a%20"}) {
        ck_refused_as(edited([&](json_t *d) { set(client0(d), "client_id", json_string(id)); }), "\"client_id\"");
    }
    ck_refused_as(edited([](json_t *d) { set(client0(d), "client_id", json_string(std::string(129, 'a').c_str())); }),
                  "\"client_id\"");
    ck_refused_as(edited([](json_t *d) { set(client0(d), "client_id", json_integer(1)); }), "not a string");
    ck_refused_as(edited([](json_t *d) {
                      set(json_array_get(json_object_get(d, "clients"), 1), "client_id", json_string("m2m_alpha"));
                  }),
                  "two clients have the id \"m2m_alpha\"");
    for (const char *name : {"a\nb", "a\tb", "a\x7f", "a\xc2\x85", "a\xe2\x80\xa8", "a\xe2\x80\xa9", "\x1b[31m"}) {
        ck_refused_as(edited([&](json_t *d) { set(client0(d), "name", json_string(name)); }), "\"name\"");
    }
    ck_refused_as(edited([](json_t *d) { set(client0(d), "name", json_string(std::string(201, 'n').c_str())); }),
                  "\"name\"");
    ck_refused_as(edited([](json_t *d) { set(client0(d), "name", json_null()); }), "\"name\" is not a string");

    // scopes
    ck_refused_as(edited([](json_t *d) { set(client0(d), "scopes", json_string("a b")); }), "\"scopes\" is not an array");
    ck_refused_as(edited([](json_t *d) { set(client0(d), "scopes", json_pack("[i]", 1)); }), "not a string");
    for (const char *scope : {"", "a b", "a\"b", "a\\b", "caf\xc3\xa9", "a\x01", "a\x7f"}) {
        ck_refused_as(edited([&](json_t *d) { set(client0(d), "scopes", json_pack("[ss]", "ok", scope)); }),
                      "scope 1 is not an RFC 6749 scope-token");
    }
    ck_refused_as(edited([](json_t *d) { set(client0(d), "scopes", json_pack("[sss]", "a", "b", "a")); }),
                  "scope \"a\" is listed twice");

    // claims
    ck_refused_as(edited([](json_t *d) { set(client0(d), "claims", json_pack("[s]", "x")); }),
                  "\"claims\" is not an object");
    ck_refused_as(edited([](json_t *d) { set(client0(d), "claims", json_null()); }), "\"claims\" is not an object");
    for (const char *claim : {"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id", "scope"}) {
        ck_refused_as(edited([&](json_t *d) { set(json_object_get(client0(d), "claims"), claim, json_string("x")); }),
                      "would override a registered claim");
    }
    for (const char *claim : {"", "a\nb", "\xe2\x80\xa8"}) {
        ck_refused_as(edited([&](json_t *d) { set(json_object_get(client0(d), "claims"), claim, json_string("x")); }),
                      "claim name");
    }

    // enabled and times
    ck_refused_as(edited([](json_t *d) { set(client0(d), "enabled", json_string("true")); }), "\"enabled\"");
    ck_refused_as(edited([](json_t *d) { set(client0(d), "enabled", json_integer(1)); }), "\"enabled\"");
    for (json_t *bad : {json_real(1.5), json_integer(-1), json_integer(m2m::kMaxTime + 1), json_string("1700000000"),
                        json_null()}) {
        ck_refused_as(edited([&](json_t *d) { set(client0(d), "created_at", json_incref(bad)); }), "\"created_at\"");
        ck_refused_as(edited([&](json_t *d) { set(secret0(d), "created_at", json_incref(bad)); }), "\"created_at\"");
        ck_refused_as(edited([&](json_t *d) { set(secret0(d), "expires_at", json_incref(bad)); }), "\"expires_at\"");
        json_decref(bad);
    }
    ck_refused_as("{\"version\":1,\"clients\":[{\"client_id\":\"a\",\"name\":\"\",\"scopes\":[],\"enabled\":true,"
                  "\"created_at\":99999999999999999999999,\"secrets\":[]}]}",
                  "not JSON");

    // secrets
    ck_refused_as(edited([](json_t *d) { set(client0(d), "secrets", json_object()); }), "\"secrets\" is not an array");
    ck_refused_as(edited([](json_t *d) { json_array_append_new(json_object_get(client0(d), "secrets"), json_true()); }),
                  "secret 2: is not an object");
    ck_refused_as(edited([](json_t *d) { set(secret0(d), "extra", json_true()); }), "secret 0: has an unknown member");
    ck_refused_as(edited([](json_t *d) { set(secret0(d), "secret", json_string(kSecret.c_str())); }),
                  "unknown member");
    for (const char *name : {"id", "hash", "created_at"}) {
        ck_refused_as(edited([&](json_t *d) { json_object_del(secret0(d), name); }), name);
    }
    for (const char *id : {"", "a b", "a:b"}) {
        ck_refused_as(edited([&](json_t *d) { set(secret0(d), "id", json_string(id)); }), "\"id\"");
    }
    ck_refused_as(edited([](json_t *d) {
                      set(json_array_get(json_object_get(client0(d), "secrets"), 1), "id", json_string("sec_01"));
                  }),
                  "two secrets have the id \"sec_01\"");
    const std::string good = hash_of(kSalt, kSecret);
    const std::string salt = b64url(kSalt), digest = b64url(sha256(kSalt + kSecret));
    std::vector<std::string> bad_hashes = {
        "",
        "sha256:",
        "SHA256:" + salt + ":" + digest,
        "sha512:" + salt + ":" + digest,
        "sha256:" + salt + digest,
        "sha256:" + salt + ":" + digest + "=",
        "sha256:" + salt + "==:" + digest,
        "sha256:" + b64url("short salt") + ":" + digest,
        "sha256:" + b64url(kSalt + "x") + ":" + digest,
        "sha256:" + salt + ":" + digest.substr(1),
        "sha256:" + salt + ":" + b64url(sha256("x") + "x"),
        // the last character's unused bits set: not the canonical encoding
        "sha256:" + salt.substr(0, salt.size() - 1) + "B:" + digest,
        "sha256:" + salt + ":" + digest.substr(0, digest.size() - 1) + "/",
        good + " ",
        " " + good,
    };
    ck_assert_msg(salt.back() == 'A' || salt.back() == 'Q' || salt.back() == 'g' || salt.back() == 'w',
                  "16 bytes end in a character with 4 zero bits");
    for (const auto &hash : bad_hashes) {
        ck_refused_as(edited([&](json_t *d) { set(secret0(d), "hash", json_string(hash.c_str())); }), "\"hash\"");
    }
    ck_refused_as(edited([](json_t *d) {
                      json_t *secrets = json_object_get(client0(d), "secrets");
                      for (int i = 0; i < 4; i++) {
                          json_t *copy = json_deep_copy(json_array_get(secrets, 0));
                          set(copy, "id", json_string(("sec_x" + std::to_string(i)).c_str()));
                          json_array_append_new(secrets, copy);
                      }
                  }),
                  "more than 5 secrets");
}
END_TEST

START_TEST(test_size_limit)
{
    std::string text = "{\"version\":1,\"clients\":[]}";
    text.append(m2m::kMaxRegistrySize - text.size(), ' ');
    parsed(text);
    ck_refused_as(text + " ", "larger than");
}
END_TEST

START_TEST(test_five_secrets_and_no_more)
{
    Registry r = parsed(sample_text());
    Client &c = r.clients[0];
    std::vector<std::string> secrets = {kSecret};
    while (c.secrets.size() < m2m::kMaxSecrets) {
        secrets.push_back(m2m::add_secret(&c, kNow, std::nullopt).secret);
    }
    ck_assert_uint_eq(c.secrets.size(), 5);
    bool thrown = false;
    try {
        m2m::add_secret(&c, kNow, std::nullopt);
    } catch (const std::length_error &) {
        thrown = true;
    }
    ck_assert_msg(thrown, "a sixth secret was added");
    ck_assert_uint_eq(c.secrets.size(), 5);
    // every one works, and the file of five parses
    const Registry again = parsed(r.render());
    for (const auto &secret : secrets) {
        ck_assert_ptr_eq(m2m::authenticate_client(again, "m2m_alpha", secret, kNow), &again.clients[0]);
    }
}
END_TEST

START_TEST(test_new_client_and_secret_shapes)
{
    IssuedSecret one, two;
    const Client a = m2m::new_client("a", {"x"}, nullptr, kNow, &one);
    const Client b = m2m::new_client("b", {}, nullptr, kNow, &two);
    for (const Client *c : {&a, &b}) {
        ck_assert_uint_eq(c->client_id.size(), 4 + 32);
        ck_assert_msg(c->client_id.rfind("m2m_", 0) == 0 &&
                          c->client_id.find_first_not_of("0123456789abcdef", 4) == std::string::npos,
                      "client id %s", c->client_id.c_str());
        ck_assert(c->enabled && c->created_at == kNow && c->secrets.size() == 1);
        ck_assert_uint_eq(c->secrets[0].id.size(), 4 + 16);
        ck_assert_msg(c->secrets[0].id.rfind("sec_", 0) == 0 &&
                          c->secrets[0].id.find_first_not_of("0123456789abcdef", 4) == std::string::npos,
                      "secret id %s", c->secrets[0].id.c_str());
        ck_assert(c->secrets[0].created_at == kNow && !c->secrets[0].expires_at);
    }
    ck_assert_std_str_eq(one.id, a.secrets[0].id);
    ck_assert_msg(a.client_id != b.client_id && one.secret != two.secret, "two clients alike");
    // 256 bits, base64url
    ck_assert_uint_eq(one.secret.size(), 43);
    ck_assert(one.secret.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
              std::string::npos);
    // the hash is SHA-256(salt || secret), checked with OpenSSL here
    const std::string &hash = a.secrets[0].hash;
    ck_assert_uint_eq(hash.size(), 7 + 22 + 1 + 43);
    const std::string salt_b64 = hash.substr(7, 22);
    ck_assert_msg(hash.find(one.secret) == std::string::npos, "the hash holds the secret");
    // an independent hash: decode the salt with OpenSSL's decoder
    std::string b64 = salt_b64 + "==";
    for (char &ch : b64) {
        ch = ch == '-' ? '+' : ch == '_' ? '/' : ch;
    }
    unsigned char salt[24];
    ck_assert_int_eq(EVP_DecodeBlock(salt, reinterpret_cast<const unsigned char *>(b64.data()), 24), 18);
    ck_assert_std_str_eq(hash, hash_of(std::string(reinterpret_cast<char *>(salt), 16), one.secret));
    // a second secret of the same client has another id and salt
    Client c = m2m::new_client("c", {}, nullptr, kNow, &one);
    const IssuedSecret next = m2m::add_secret(&c, kNow + 5, kNow + 10);
    ck_assert(next.id != c.secrets[0].id && c.secrets[1].hash.substr(7, 22) != c.secrets[0].hash.substr(7, 22));
    ck_assert(c.secrets[1].created_at == kNow + 5 && c.secrets[1].expires_at == kNow + 10);
}
END_TEST

START_TEST(test_new_client_refuses_bad_fields)
{
    const std::vector<std::function<Client(IssuedSecret *)>> bad = {
        [](IssuedSecret *s) { return m2m::new_client("a\nb", {}, nullptr, kNow, s); },
        [](IssuedSecret *s) { return m2m::new_client(std::string(201, 'x'), {}, nullptr, kNow, s); },
        [](IssuedSecret *s) { return m2m::new_client("a", {"a b"}, nullptr, kNow, s); },
        [](IssuedSecret *s) { return m2m::new_client("a", {""}, nullptr, kNow, s); },
        [](IssuedSecret *s) { return m2m::new_client("a", {"x", "x"}, nullptr, kNow, s); },
        [](IssuedSecret *s) { return m2m::new_client("a", {}, json("{\"sub\":\"admin\"}"), kNow, s); },
        [](IssuedSecret *s) { return m2m::new_client("a", {}, json("[1]"), kNow, s); },
    };
    for (size_t i = 0; i < bad.size(); i++) {
        IssuedSecret s;
        bool thrown = false;
        try {
            bad[i](&s);
        } catch (const std::invalid_argument &e) {
            thrown = std::string(e.what()).size() > 0;
        }
        ck_assert_msg(thrown, "case %zu made a client", i);
        ck_assert_msg(s.secret.empty(), "case %zu issued a secret", i);
    }
    std::string error;
    ck_assert(m2m::check_client_fields("ok", {"a", "b"}, nullptr, &error));
    ck_assert(!m2m::check_client_fields("ok", {"a", "a"}, nullptr, &error));
    ck_assert(!m2m::check_client_fields("ok", {}, json("{\"client_id\":1}").get(), &error));
    ck_assert(m2m::check_client_fields("ok", {}, json("{\"org_id\":1}").get(), &error));
}
END_TEST

START_TEST(test_authenticate_client)
{
    Registry r = parsed(sample_text());
    const Client *alpha = &r.clients[0];
    ck_assert_ptr_eq(m2m::authenticate_client(r, "m2m_alpha", kSecret, kNow), alpha);
    ck_assert_ptr_eq(m2m::authenticate_client(r, "m2m_alpha", "other", kNow), alpha);  // the second secret
    // wrong secrets: near misses, empty, another client's, the hash itself
    for (const std::string &wrong : {kSecret.substr(1), kSecret + "x", std::string(), std::string("Other"),
                                     kSecret.substr(0, kSecret.size() - 1) + "f", alpha->secrets[0].hash,
                                     std::string(kSecret + std::string(1, '\0'))}) {
        ck_assert_ptr_null(m2m::authenticate_client(r, "m2m_alpha", wrong, kNow));
    }
    // unknown and near-miss ids
    for (const char *id : {"m2m_alph", "m2m_alphaa", "M2M_ALPHA", "", "m2m_gamma"}) {
        ck_assert_ptr_null(m2m::authenticate_client(r, id, kSecret, kNow));
    }
    // the second secret expires at 1800000000: refused from that second on
    ck_assert_ptr_eq(m2m::authenticate_client(r, "m2m_alpha", "other", 1800000000 - 1), alpha);
    ck_assert_ptr_null(m2m::authenticate_client(r, "m2m_alpha", "other", 1800000000));
    ck_assert_ptr_eq(m2m::authenticate_client(r, "m2m_alpha", kSecret, 1800000000), alpha);
    // disabled
    r.clients[0].enabled = false;
    ck_assert_ptr_null(m2m::authenticate_client(r, "m2m_alpha", kSecret, kNow));
    r.clients[0].enabled = true;
    // no secrets at all; a disabled client without secrets
    ck_assert_ptr_null(m2m::authenticate_client(r, "m2m_beta", "", kNow));
    r.clients[1].enabled = true;
    ck_assert_ptr_null(m2m::authenticate_client(r, "m2m_beta", "", kNow));
    // a secret removed stops working; the other goes on
    r.clients[0].secrets.erase(r.clients[0].secrets.begin());
    ck_assert_ptr_null(m2m::authenticate_client(r, "m2m_alpha", kSecret, kNow));
    ck_assert_ptr_eq(m2m::authenticate_client(r, "m2m_alpha", "other", kNow), alpha);
    // a broken hash in a registry built in memory matches nothing, not even
    // the dummy's all-zero digest
    r.clients[0].secrets[0].hash = "sha256:AAAAAAAAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    ck_assert_ptr_null(m2m::authenticate_client(r, "m2m_alpha", "other", kNow));
    r.clients[0].secrets[0].hash = "garbage";
    ck_assert_ptr_null(m2m::authenticate_client(r, "m2m_alpha", "other", kNow));
    // an empty registry
    ck_assert_ptr_null(m2m::authenticate_client(Registry(), "m2m_alpha", kSecret, kNow));
}
END_TEST

START_TEST(test_secret_with_expiry_from_add_secret)
{
    Registry r;
    IssuedSecret first;
    r.clients.push_back(m2m::new_client("c", {"x"}, nullptr, kNow, &first));
    const IssuedSecret second = m2m::add_secret(&r.clients[0], kNow, kNow + 60);
    const Registry again = parsed(r.render());
    ck_assert_ptr_nonnull(m2m::authenticate_client(again, again.clients[0].client_id, second.secret, kNow + 59));
    ck_assert_ptr_null(m2m::authenticate_client(again, again.clients[0].client_id, second.secret, kNow + 60));
    ck_assert_ptr_nonnull(m2m::authenticate_client(again, again.clients[0].client_id, first.secret, kNow + 60));
    ck_assert_ptr_null(m2m::authenticate_client(again, again.clients[0].client_id, first.secret + "x", kNow));
}
END_TEST

Suite *registry_suite()
{
    Suite *s = suite_create("registry");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_sample_parses);
    tcase_add_test(tc, test_render_round_trip);
    tcase_add_test(tc, test_certificate_bound);
    tcase_add_test(tc, test_boundaries_accepted);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_size_limit);
    tcase_add_test(tc, test_five_secrets_and_no_more);
    tcase_add_test(tc, test_new_client_and_secret_shapes);
    tcase_add_test(tc, test_new_client_refuses_bad_fields);
    tcase_add_test(tc, test_authenticate_client);
    tcase_add_test(tc, test_secret_with_expiry_from_add_secret);
    suite_add_tcase(s, tc);
    return s;
}
