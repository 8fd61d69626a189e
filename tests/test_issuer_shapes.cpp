// Client-id and scope rules over the token shapes real issuers send for the
// client-credentials grant, verified end to end through verify() with every
// issuer configured side by side (one location trusting all of them).
#include <string>
#include <vector>

#include "token/claims.h"
#include "verify/scope.h"
#include "test_keys.h"
#include "test_suites.h"
#include "test_support.h"

using m2m::Reason;
using testkeys::KeyName;
using namespace testsupport;

namespace {

const char *const kScalekit = "https://acme.scalekit.dev";
const char *const kAuth0 = "https://acme.us.auth0.com/";
const char *const kOkta = "https://dev-123456.okta.com/oauth2/default";
const char *const kEntraV1 = "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/";
const char *const kEntraV2 = "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0";
const char *const kKeycloak = "https://sso.example.com/realms/acme";
const char *const kCognito = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEfGhI";

std::string rendered(const json_t *value) { return value_of(m2m::render_claim(value)); }

struct Issuers {
    TestIssuer scalekit, auth0, okta, entra_v1, entra_v2, keycloak, cognito;

    Issuers()
    {
        scalekit = policy("scalekit", kScalekit, {"prd_skc_7848964512134595"});
        auth0 = policy("auth0", kAuth0, {"https://tasks.example.com/api"});
        okta = policy("okta", kOkta, {"api://default"});
        entra_v1 = policy("entra_v1", kEntraV1, {"api://tasks-api"});
        entra_v1.scope_claims = {"roles"};
        entra_v2 = policy("entra_v2", kEntraV2, {"3f2a9c41-5b7e-4d6a-9f21-8c0e7b1d2a54"});
        entra_v2.scope_claims = {"roles"};
        keycloak = policy("keycloak", kKeycloak, {"tasks-api"});
        cognito = policy("cognito", kCognito, {});
    }

    std::vector<const TestIssuer *> all() const
    {
        return {&scalekit, &auth0, &okta, &entra_v1, &entra_v2, &keycloak, &cognito};
    }

    static TestIssuer policy(const char *name, const char *issuer, std::vector<std::string> audiences)
    {
        TestIssuer p = make_policy();
        p.name = name;
        p.issuer = issuer;
        p.audiences = std::move(audiences);
        return p;
    }
};

std::string header(const std::string &alg, const std::string &kid, const std::string &typ)
{
    return "{\"alg\":\"" + alg + "\",\"typ\":\"" + typ + "\",\"kid\":\"" + kid + "\"}";
}

Verdict verify_all(const Issuers &issuers, const std::string &token)
{
    return verify(token, issuers.all());
}

void assert_scopes(const Verdict &v, const std::vector<std::string> &want)
{
    const std::string joined = value_of(m2m::join_scopes(want));
    ck_assert_msg(v.token->scopes() == want, "scopes \"%s\", want \"%s\"", v.token->scope_string().c_str(),
                  joined.c_str());
    ck_assert_std_str_eq(v.token->scope_string(), joined);
}

std::string scalekit_claims()
{
    return object_json({
        {"aud", "[\"prd_skc_7848964512134595\"]"},
        {"client_id", q("m2morg_68315758685323697")},
        {"exp", at(3600)},
        {"iat", at(-5)},
        {"iss", q(kScalekit)},
        {"jti", q("tkn_69041163914445100")},
        {"nbf", at(-5)},
        {"oid", q("org_59615193906282635")},
        {"scopes", "[\"deploy:applications\",\"read:deployments\"]"},
        {"sub", q("m2morg_68315758685323697")},
    });
}

std::string auth0_claims()
{
    return object_json({
        {"iss", q(kAuth0)},
        {"sub", q("xyz@clients")},
        {"aud", q("https://tasks.example.com/api")},
        {"iat", at(-5)},
        {"exp", at(86400)},
        {"scope", q("read:tasks write:tasks")},
        {"gty", q("client-credentials")},
        {"azp", q("xyz")},
    });
}

std::string okta_claims()
{
    return object_json({
        {"ver", "1"},
        {"jti", q("AT.4u9xJ1Pwbxo2cgK0cVb5rh7F2sOrUXq1bpfhQ-hxWjo")},
        {"iss", q(kOkta)},
        {"aud", q("api://default")},
        {"iat", at(-5)},
        {"exp", at(3600)},
        {"cid", q("0oa8f5j3ecb5w3dF35d7")},
        {"scp", "[\"tasks:read\",\"tasks:write\"]"},
        {"sub", q("0oa8f5j3ecb5w3dF35d7")},
    });
}

std::string entra_v1_claims()
{
    return object_json({
        {"aud", q("api://tasks-api")},
        {"iss", q(kEntraV1)},
        {"iat", at(-5)},
        {"nbf", at(-5)},
        {"exp", at(3599)},
        {"aio", q("E2ZgYDj8nPl/3cF3d+1fAA==")},
        {"appid", q("6e74172b-be56-4843-9ff4-e66a39bb12e3")},
        {"appidacr", q("1")},
        {"idp", q(kEntraV1)},
        {"oid", q("b9c1a3f2-1d2e-4f5a-8b7c-0e9d8c7b6a51")},
        {"rh", q("0.ARoAv4j5cvGGr0GRqy180BHbR.")},
        {"roles", "[\"Tasks.Read.All\",\"Tasks.Write.All\"]"},
        {"sub", q("b9c1a3f2-1d2e-4f5a-8b7c-0e9d8c7b6a51")},
        {"tid", q("72f988bf-86f1-41af-91ab-2d7cd011db47")},
        {"uti", q("fqiBqXLPj0eQa82S-IYFAA")},
        {"ver", q("1.0")},
    });
}

std::string entra_v2_claims()
{
    return object_json({
        {"aud", q("3f2a9c41-5b7e-4d6a-9f21-8c0e7b1d2a54")},
        {"iss", q(kEntraV2)},
        {"iat", at(-5)},
        {"nbf", at(-5)},
        {"exp", at(3599)},
        {"azp", q("6e74172b-be56-4843-9ff4-e66a39bb12e3")},
        {"azpacr", q("1")},
        {"oid", q("b9c1a3f2-1d2e-4f5a-8b7c-0e9d8c7b6a51")},
        {"roles", "[\"Tasks.Read.All\"]"},
        {"sub", q("b9c1a3f2-1d2e-4f5a-8b7c-0e9d8c7b6a51")},
        {"tid", q("72f988bf-86f1-41af-91ab-2d7cd011db47")},
        {"ver", q("2.0")},
    });
}

std::string keycloak_claims(const std::string &client_id_member)
{
    return object_json({
        {"exp", at(300)},
        {"iat", at(-5)},
        {"jti", q("5b1f0f3e-8c2a-4d9e-a1b7-3c6d2e9f0a11")},
        {"iss", q(kKeycloak)},
        {"aud", "[\"tasks-api\",\"account\"]"},
        {"sub", q("0f9a8b7c-6d5e-4f3a-2b1c-0d9e8f7a6b5c")},
        {"typ", q("Bearer")},
        {"azp", q("tasks-worker")},
        {"acr", q("1")},
        {"realm_access", "{\"roles\":[\"offline_access\",\"default-roles-acme\"]}"},
        {"resource_access", "{\"tasks-api\":{\"roles\":[\"writer\"]}}"},
        {"scope", q("profile email tasks:read")},
        {"clientHost", q("10.0.0.7")},
        {client_id_member, q("tasks-worker")},
        {"clientAddress", q("10.0.0.7")},
    });
}

std::string cognito_claims()
{
    return object_json({
        {"sub", q("4tt1qv0le8on1n8c5an6ehr8ap")},
        {"token_use", q("access")},
        {"scope", q("tasks-api/tasks.read tasks-api/tasks.write")},
        {"auth_time", at(-5)},
        {"iss", q(kCognito)},
        {"exp", at(3600)},
        {"iat", at(-5)},
        {"version", "2"},
        {"jti", q("6a1c3e1f-7a4b-4a0e-9d5e-2b8f1c0d3e4a")},
        {"client_id", q("4tt1qv0le8on1n8c5an6ehr8ap")},
    });
}

}  // namespace

START_TEST(test_scalekit)
{
    Issuers issuers;
    std::string token = testkeys::sign_compact("RS256", KeyName::rsa, header("RS256", "rsa-1", "JWT"), scalekit_claims());
    Verdict v = verify_all(issuers, token);
    ck_assert_status(v.status, Reason::ok);
    ck_assert_ptr_eq(v.issuer, &issuers.scalekit);
    ck_assert_std_str_eq(v.token->client_id(), "m2morg_68315758685323697");
    assert_scopes(v, {"deploy:applications", "read:deployments"});
    ck_assert(m2m::has_all_scopes(v.token->scopes(), {"read:deployments"}));
    ck_assert(!m2m::has_all_scopes(v.token->scopes(), {"read:deployments", "delete:deployments"}));
}
END_TEST

START_TEST(test_auth0)
{
    Issuers issuers;
    std::string token = testkeys::sign_compact("RS256", KeyName::rsa, header("RS256", "rsa-1", "at+jwt"), auth0_claims());
    Verdict v = verify_all(issuers, token);
    ck_assert_status(v.status, Reason::ok);
    ck_assert_ptr_eq(v.issuer, &issuers.auth0);
    // azp is the client; sub is "<client>@clients".
    ck_assert_std_str_eq(v.token->client_id(), "xyz");
    assert_scopes(v, {"read:tasks", "write:tasks"});

    // An operator who prefers sub gets the "@clients" form.
    issuers.auth0.client_id_claims = {"sub"};
    v = verify_all(issuers, token);
    ck_assert_status(v.status, Reason::ok);
    ck_assert_std_str_eq(v.token->client_id(), "xyz@clients");

    // RFC 9068 typ, as Auth0 sends it for at+jwt profiles.
    issuers.auth0.require_typ = {"application/at+jwt"};
    ck_assert_status(verify_all(issuers, token).status, Reason::ok);
    std::string jwt_typ =
        testkeys::sign_compact("RS256", KeyName::rsa, header("RS256", "rsa-1", "JWT"), auth0_claims());
    ck_assert_status(verify_all(issuers, jwt_typ).status, Reason::wrong_typ);
}
END_TEST

START_TEST(test_okta)
{
    Issuers issuers;
    std::string token = testkeys::sign_compact("RS256", KeyName::rsa, header("RS256", "rsa-1", "JWT"), okta_claims());
    Verdict v = verify_all(issuers, token);
    ck_assert_status(v.status, Reason::ok);
    ck_assert_ptr_eq(v.issuer, &issuers.okta);
    ck_assert_std_str_eq(v.token->client_id(), "0oa8f5j3ecb5w3dF35d7");
    assert_scopes(v, {"tasks:read", "tasks:write"});
    // cid is found by name, not because sub happens to be equal.
    issuers.okta.client_id_claims = {"cid"};
    ck_assert_std_str_eq(verify_all(issuers, token).token->client_id(), "0oa8f5j3ecb5w3dF35d7");
}
END_TEST

START_TEST(test_entra_v1)
{
    Issuers issuers;
    std::string token = testkeys::sign_compact("RS256", KeyName::rsa, header("RS256", "rsa-1", "JWT"), entra_v1_claims());
    Verdict v = verify_all(issuers, token);
    ck_assert_status(v.status, Reason::ok);
    ck_assert_ptr_eq(v.issuer, &issuers.entra_v1);
    // appid, not sub (the service principal's object id).
    ck_assert_std_str_eq(v.token->client_id(), "6e74172b-be56-4843-9ff4-e66a39bb12e3");
    assert_scopes(v, {"Tasks.Read.All", "Tasks.Write.All"});
    ck_assert(m2m::has_all_scopes(v.token->scopes(), {"Tasks.Write.All"}));

    // With the default scope claims, app roles are not scopes.
    issuers.entra_v1.scope_claims = TestIssuer().scope_claims;
    v = verify_all(issuers, token);
    ck_assert_status(v.status, Reason::ok);
    assert_scopes(v, {});
    ck_assert(!m2m::has_all_scopes(v.token->scopes(), {"Tasks.Read.All"}));
}
END_TEST

START_TEST(test_entra_v2)
{
    Issuers issuers;
    std::string token = testkeys::sign_compact("RS256", KeyName::rsa, header("RS256", "rsa-1", "JWT"), entra_v2_claims());
    Verdict v = verify_all(issuers, token);
    ck_assert_status(v.status, Reason::ok);
    ck_assert_ptr_eq(v.issuer, &issuers.entra_v2);
    ck_assert_std_str_eq(v.token->client_id(), "6e74172b-be56-4843-9ff4-e66a39bb12e3");
    assert_scopes(v, {"Tasks.Read.All"});
    // A v2 token is not accepted by the v1 issuer's policy (different iss).
    std::vector<const TestIssuer *> v1_only = {&issuers.entra_v1};
    Verdict w = verify(token, v1_only);
    ck_assert_status(w.status, Reason::wrong_issuer);
}
END_TEST

START_TEST(test_keycloak)
{
    Issuers issuers;
    std::string token =
        testkeys::sign_compact("ES256", KeyName::p256, header("ES256", "ec-256", "JWT"), keycloak_claims("client_id"));
    Verdict v = verify_all(issuers, token);
    ck_assert_status(v.status, Reason::ok);
    ck_assert_ptr_eq(v.issuer, &issuers.keycloak);
    ck_assert_std_str_eq(v.token->client_id(), "tasks-worker");
    assert_scopes(v, {"profile", "email", "tasks:read"});
    ck_assert_std_str_eq(rendered(m2m::find_claim_path(v.token->token().claims(), {"realm_access", "roles"})),
                         "offline_access default-roles-acme");
    ck_assert_std_str_eq(
        rendered(m2m::find_claim_path(v.token->token().claims(), {"resource_access", "tasks-api", "roles"})), "writer");
    // Keycloak's own "typ":"Bearer" claim is a claim, not the JOSE typ.
    ck_assert_std_str_eq(rendered(m2m::find_claim(v.token->token().claims(), "typ")), "Bearer");

    // Older Keycloak spells it "clientId": azp still names the client.
    std::string old =
        testkeys::sign_compact("RS256", KeyName::rsa, header("RS256", "rsa-1", "JWT"), keycloak_claims("clientId"));
    v = verify_all(issuers, old);
    ck_assert_status(v.status, Reason::ok);
    ck_assert_std_str_eq(v.token->client_id(), "tasks-worker");
    ck_assert_std_str_eq(rendered(m2m::find_claim(v.token->token().claims(), "clientid")), "tasks-worker");
}
END_TEST

START_TEST(test_cognito)
{
    Issuers issuers;
    std::string token = testkeys::sign_compact("RS256", KeyName::rsa, header("RS256", "rsa-1", "JWT"), cognito_claims());
    Verdict v = verify_all(issuers, token);
    ck_assert_status(v.status, Reason::ok);
    ck_assert_ptr_eq(v.issuer, &issuers.cognito);
    ck_assert_std_str_eq(v.token->client_id(), "4tt1qv0le8on1n8c5an6ehr8ap");
    assert_scopes(v, {"tasks-api/tasks.read", "tasks-api/tasks.write"});

    // Cognito access tokens carry no aud: configuring an audience refuses them.
    issuers.cognito.audiences = {"tasks-api"};
    v = verify_all(issuers, token);
    ck_assert_status(v.status, Reason::wrong_audience);
    ck_assert_ptr_nonnull(v.token.get());
    ck_assert_std_str_eq(v.token->client_id(), "4tt1qv0le8on1n8c5an6ehr8ap");
}
END_TEST

START_TEST(test_tokens_do_not_cross_issuers)
{
    // Auth0's claims under Okta's iss: Okta's audience is required.
    Issuers issuers;
    std::string payload = auth0_claims();
    payload.replace(payload.find(kAuth0), std::string(kAuth0).size(), kOkta);
    std::string token = testkeys::sign_compact("RS256", KeyName::rsa, header("RS256", "rsa-1", "JWT"), payload);
    Verdict v = verify_all(issuers, token);
    ck_assert_status(v.status, Reason::wrong_audience);
    ck_assert_ptr_eq(v.issuer, &issuers.okta);
}
END_TEST

Suite *issuer_shapes_suite()
{
    Suite *s = suite_create("issuer_shapes");
    TCase *tc = tcase_create("issuers");
    tcase_add_test(tc, test_scalekit);
    tcase_add_test(tc, test_auth0);
    tcase_add_test(tc, test_okta);
    tcase_add_test(tc, test_entra_v1);
    tcase_add_test(tc, test_entra_v2);
    tcase_add_test(tc, test_keycloak);
    tcase_add_test(tc, test_cognito);
    tcase_add_test(tc, test_tokens_do_not_cross_issuers);
    suite_add_tcase(s, tc);
    return s;
}
