// Issued access tokens (RFC 9068) and the token endpoint's JSON replies.
#include <set>
#include <string>
#include <vector>

#include <openssl/bio.h>
#include <openssl/pem.h>

#include "issuer/access_token.h"
#include "keys/jwks.h"
#include "test_keys.h"
#include "test_suites.h"
#include "test_support.h"

using testsupport::json;
using testsupport::kNow;
using testsupport::value_of;

namespace {

m2m::Client make_client(const char *claims_json = nullptr)
{
    m2m::Client client;
    client.client_id = "m2m_0123456789abcdef0123456789abcdef";
    client.name = "reporting";
    client.scopes = {"tasks:read", "tasks:write"};
    if (claims_json) {
        client.claims = json(claims_json);
    }
    return client;
}

m2m::TokenGrant make_grant(const m2m::Client &client)
{
    m2m::TokenGrant grant;
    grant.client = &client;
    grant.scopes = {"tasks:read", "tasks:write"};
    grant.audience = "api://tasks";
    return grant;
}

m2m::JsonPtr claims_of(const m2m::TokenGrant &grant)
{
    const std::string text = value_of(
        m2m::access_token_claims("https://auth.example/", grant, kNow, 3600, "00112233445566778899aabbccddeeff"));
    m2m::JsonPtr claims = m2m::parse_json_object(text);
    ck_assert_msg(claims != nullptr, "not a JSON object: %s", text.c_str());
    return claims;
}

std::string str(const json_t *object, const char *name)
{
    const json_t *v = json_object_get(object, name);
    ck_assert_msg(json_is_string(v), "%s is not a string", name);
    return json_string_value(v);
}

json_int_t num(const json_t *object, const char *name)
{
    const json_t *v = json_object_get(object, name);
    ck_assert_msg(json_is_integer(v), "%s is not an integer", name);
    return json_integer_value(v);
}

std::vector<std::string> member_names(const json_t *object)
{
    std::vector<std::string> names;
    const char *name;
    json_t *value;
    json_object_foreach(const_cast<json_t *>(object), name, value)
    {
        names.emplace_back(name);
    }
    return names;
}

std::string pem_of(testkeys::KeyName name)
{
    BIO *bio = BIO_new(BIO_s_mem());
    ck_assert_int_eq(PEM_write_bio_PrivateKey(bio, testkeys::pkey(name), nullptr, nullptr, 0, nullptr, nullptr), 1);
    char *data;
    const long size = BIO_get_mem_data(bio, &data);
    std::string pem(data, static_cast<size_t>(size));
    BIO_free(bio);
    return pem;
}

// The header and payload of a compact token, decoded by the tests' own
// base64url reader.
m2m::JsonPtr part_of(const std::string &token, int index)
{
    size_t start = 0;
    for (int i = 0; i < index; i++) {
        start = token.find('.', start) + 1;
    }
    const std::string part = token.substr(start, token.find('.', start) - start);
    std::string text;
    ck_assert(testkeys::b64url_decode(part, &text));
    m2m::JsonPtr object = m2m::parse_json_object(text);
    ck_assert_msg(object != nullptr, "not a JSON object: %s", text.c_str());
    return object;
}

}  // namespace

START_TEST(test_issued_tokens_verify)
{
    const struct {
        testkeys::KeyName key;
        const char *alg;
    } cases[] = {{testkeys::KeyName::rsa, "RS256"}, {testkeys::KeyName::p256, "ES256"},
                 {testkeys::KeyName::p384, "ES384"}};
    const m2m::Client client = make_client("{\"org_id\":\"org_42\"}");
    m2m::TokenGrant grant = make_grant(client);
    grant.audience = testsupport::kAudience;
    for (const auto &c : cases) {
        m2m::SigningKey key;
        std::string error;
        ck_assert_msg(m2m::SigningKey::load(pem_of(c.key), &key, &error), "%s: %s", c.alg, error.c_str());
        const std::optional<std::string> token =
            m2m::issue_access_token(key, testsupport::kIssuer, grant, kNow, 600, &error);
        ck_assert_msg(token.has_value(), "%s: %s", c.alg, error.c_str());

        const m2m::JsonPtr header = part_of(*token, 0);
        ck_assert_std_str_eq(str(header.get(), "alg"), c.alg);
        ck_assert_std_str_eq(str(header.get(), "typ"), "at+jwt");
        ck_assert_std_str_eq(str(header.get(), "kid"), key.kid());
        const m2m::JsonPtr claims = part_of(*token, 1);
        ck_assert_std_str_eq(str(claims.get(), "client_id"), client.client_id);
        ck_assert_std_str_eq(str(claims.get(), "org_id"), "org_42");
        ck_assert_uint_eq(str(claims.get(), "jti").size(), 32);

        // This module's verifier takes it with the key's public JWK, at+jwt required.
        testsupport::TestIssuer issuer =
            testsupport::make_policy(testsupport::load_keys(m2m::jwks_json(&key, 1)));
        issuer.require_typ = {"at+jwt"};
        ck_assert_status(testsupport::check_token(*token, issuer, kNow), m2m::Reason::ok);
        ck_assert_status(testsupport::check_token(*token, issuer, kNow + 600 + 61), m2m::Reason::expired);
        // Any bit of the signature changed, it does not verify.
        std::string forged = *token;
        forged[forged.size() - 3] = forged[forged.size() - 3] == 'A' ? 'B' : 'A';
        ck_assert_status(testsupport::check_token(forged, issuer, kNow), m2m::Reason::bad_signature);
    }
}
END_TEST

START_TEST(test_registered_claims)
{
    const m2m::Client client = make_client();
    const m2m::JsonPtr claims = claims_of(make_grant(client));
    const json_t *c = claims.get();
    ck_assert_std_str_eq(str(c, "iss"), "https://auth.example/");
    ck_assert_std_str_eq(str(c, "sub"), client.client_id);
    ck_assert_std_str_eq(str(c, "client_id"), client.client_id);
    ck_assert_std_str_eq(str(c, "aud"), "api://tasks");
    ck_assert_int_eq(num(c, "iat"), kNow);
    ck_assert_int_eq(num(c, "nbf"), kNow);
    ck_assert_int_eq(num(c, "exp"), kNow + 3600);
    ck_assert_std_str_eq(str(c, "jti"), "00112233445566778899aabbccddeeff");
    ck_assert_std_str_eq(str(c, "scope"), "tasks:read tasks:write");
    const std::vector<std::string> want = {"iss", "sub", "client_id", "aud", "iat", "nbf", "exp", "jti", "scope"};
    ck_assert_msg(member_names(c) == want, "unexpected members");
}
END_TEST

START_TEST(test_extra_claims)
{
    const m2m::Client client =
        make_client("{\"org_id\":\"org_42\",\"tier\":3,\"flags\":{\"beta\":true},\"tags\":[\"a\",\"b\"]}");
    const m2m::JsonPtr claims = claims_of(make_grant(client));
    ck_assert_std_str_eq(str(claims.get(), "org_id"), "org_42");
    ck_assert_int_eq(num(claims.get(), "tier"), 3);
    ck_assert(json_is_true(json_object_get(json_object_get(claims.get(), "flags"), "beta")));
    ck_assert_int_eq(json_array_size(json_object_get(claims.get(), "tags")), 2);
    const std::vector<std::string> names = member_names(claims.get());
    ck_assert_uint_eq(names.size(), 13);
    ck_assert_std_str_eq(names[9], "org_id");  // after the registered ones, in their order
}
END_TEST

START_TEST(test_extra_claims_never_override)
{
    // The registry refuses these; the token builder does not rely on it.
    const m2m::Client client = make_client(
        "{\"iss\":\"https://evil/\",\"sub\":\"admin\",\"aud\":\"api://all\",\"exp\":9999999999,\"nbf\":0,"
        "\"iat\":0,\"jti\":\"fixed\",\"client_id\":\"other\",\"scope\":\"clients:admin\","
        "\"scp\":[\"clients:admin\"],\"scopes\":\"clients:admin\",\"azp\":\"other\",\"appid\":\"other\","
        "\"cid\":\"other\",\"org_id\":\"kept\"}");
    const m2m::JsonPtr claims = claims_of(make_grant(client));
    const json_t *c = claims.get();
    ck_assert_std_str_eq(str(c, "iss"), "https://auth.example/");
    ck_assert_std_str_eq(str(c, "sub"), client.client_id);
    ck_assert_std_str_eq(str(c, "client_id"), client.client_id);
    ck_assert_std_str_eq(str(c, "aud"), "api://tasks");
    ck_assert_int_eq(num(c, "exp"), kNow + 3600);
    ck_assert_int_eq(num(c, "nbf"), kNow);
    ck_assert_std_str_eq(str(c, "jti"), "00112233445566778899aabbccddeeff");
    ck_assert_std_str_eq(str(c, "scope"), "tasks:read tasks:write");
    for (const char *name : {"scp", "scopes", "azp", "appid", "cid"}) {
        ck_assert_msg(json_object_get(c, name) == nullptr, "%s was copied", name);
        ck_assert(m2m::is_reserved_claim(name));
    }
    ck_assert_std_str_eq(str(c, "org_id"), "kept");
    ck_assert(!m2m::is_reserved_claim("org_id"));
}
END_TEST

// RFC 8705 §3.1: a bound grant's token has cnf {"x5t#S256"}, and a client's
// extra claims never set cnf.
START_TEST(test_certificate_bound_claims)
{
    const m2m::Client client = make_client("{\"cnf\":{\"x5t#S256\":\"forged\"},\"org_id\":\"kept\"}");
    m2m::TokenGrant grant = make_grant(client);
    m2m::JsonPtr claims = claims_of(grant);
    ck_assert_msg(json_object_get(claims.get(), "cnf") == nullptr, "an extra cnf was copied");
    ck_assert(m2m::is_reserved_claim("cnf"));

    grant.x5t_s256 = "u2GTMi-w-4JOniztl_gMxHuGwj_-6lHM8R5HiNMhQDs";
    claims = claims_of(grant);
    const json_t *cnf = json_object_get(claims.get(), "cnf");
    ck_assert_msg(json_is_object(cnf) && json_object_size(cnf) == 1, "cnf is not an object of one member");
    ck_assert_std_str_eq(str(cnf, "x5t#S256"), grant.x5t_s256);
    ck_assert_std_str_eq(str(claims.get(), "org_id"), "kept");

    // RFC 9449 §6.1: a DPoP-bound grant adds jkt, alone or beside x5t#S256
    grant.jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
    claims = claims_of(grant);
    cnf = json_object_get(claims.get(), "cnf");
    ck_assert_msg(json_is_object(cnf) && json_object_size(cnf) == 2, "cnf is not an object of two members");
    ck_assert_std_str_eq(str(cnf, "x5t#S256"), grant.x5t_s256);
    ck_assert_std_str_eq(str(cnf, "jkt"), grant.jkt);
    grant.x5t_s256.clear();
    claims = claims_of(grant);
    cnf = json_object_get(claims.get(), "cnf");
    ck_assert_msg(json_is_object(cnf) && json_object_size(cnf) == 1, "cnf is not an object of one member");
    ck_assert_std_str_eq(str(cnf, "jkt"), grant.jkt);
}
END_TEST

START_TEST(test_claims_refuse_non_utf8)
{
    const m2m::Client client = make_client();
    m2m::TokenGrant grant = make_grant(client);
    grant.audience = "api://\xff";
    ck_assert(!m2m::access_token_claims("https://auth.example/", grant, kNow, 60, "j"));
    grant.audience = "api://tasks";
    ck_assert(!m2m::access_token_claims("https://auth.example/\xc3", grant, kNow, 60, "j"));
    grant.client = nullptr;
    ck_assert(!m2m::access_token_claims("https://auth.example/", grant, kNow, 60, "j"));
}
END_TEST

START_TEST(test_token_ids)
{
    std::set<std::string> seen;
    for (int i = 0; i < 1000; i++) {
        const std::string id = value_of(m2m::new_token_id());
        ck_assert_uint_eq(id.size(), 2 * m2m::kTokenIdBytes);
        ck_assert_msg(id.find_first_not_of("0123456789abcdef") == std::string::npos, "not hex: %s", id.c_str());
        ck_assert_msg(seen.insert(id).second, "repeated: %s", id.c_str());
    }
}
END_TEST

START_TEST(test_success_body)
{
    const std::string text = value_of(m2m::token_response_json("a.b.c", 3600, {"tasks:read", "tasks:write"}));
    ck_assert_std_str_eq(text,
                         "{\"access_token\":\"a.b.c\",\"token_type\":\"Bearer\",\"expires_in\":3600,"
                         "\"scope\":\"tasks:read tasks:write\"}");
    // RFC 9449 §5: a DPoP-bound token's token_type
    const std::string dpop = value_of(m2m::token_response_json("a.b.c", 60, {"x"}, true));
    ck_assert_std_str_eq(dpop, "{\"access_token\":\"a.b.c\",\"token_type\":\"DPoP\",\"expires_in\":60,\"scope\":\"x\"}");
}
END_TEST

START_TEST(test_error_body)
{
    m2m::TokenRefusal refusal;
    refusal.error = m2m::OAuthError::invalid_scope;
    refusal.description = "scope admin is not allowed for this client";
    ck_assert_std_str_eq(value_of(m2m::error_response_json(refusal)),
                         "{\"error\":\"invalid_scope\",\"error_description\":\"scope admin is not allowed for this "
                         "client\"}");
    refusal.error = m2m::OAuthError::server_error;
    refusal.description.clear();
    ck_assert_std_str_eq(value_of(m2m::error_response_json(refusal)), "{\"error\":\"server_error\"}");
    for (auto e : {m2m::OAuthError::invalid_request, m2m::OAuthError::invalid_client,
                   m2m::OAuthError::unauthorized_client, m2m::OAuthError::unsupported_grant_type,
                   m2m::OAuthError::invalid_target}) {
        refusal.error = e;
        const m2m::JsonPtr body = m2m::parse_json_object(value_of(m2m::error_response_json(refusal)));
        ck_assert_std_str_eq(str(body.get(), "error"), m2m::oauth_error_code(e));
    }
}
END_TEST

Suite *access_token_suite()
{
    Suite *s = suite_create("access_token");
    TCase *tc = tcase_create("claims");
    tcase_add_test(tc, test_registered_claims);
    tcase_add_test(tc, test_extra_claims);
    tcase_add_test(tc, test_extra_claims_never_override);
    tcase_add_test(tc, test_certificate_bound_claims);
    tcase_add_test(tc, test_claims_refuse_non_utf8);
    tcase_add_test(tc, test_token_ids);
    tcase_add_test(tc, test_issued_tokens_verify);
    suite_add_tcase(s, tc);
    TCase *bodies = tcase_create("bodies");
    tcase_add_test(bodies, test_success_body);
    tcase_add_test(bodies, test_error_body);
    suite_add_tcase(s, bodies);
    return s;
}
