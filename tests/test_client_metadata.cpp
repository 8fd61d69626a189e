// The clients API's messages (RFC 7591, RFC 7592): what a registration
// request may ask for, and what a client looks like from outside.
#include <string>

#include "issuer/client_metadata.h"
#include "test_suites.h"
#include "test_support.h"

using m2m::ClientMetadata;
using m2m::parse_client_metadata;
using testsupport::json;

namespace {

ClientMetadata accepted(const char *body)
{
    ClientMetadata out;
    std::string why;
    ck_assert_msg(parse_client_metadata(body, &out, &why), "refused %s: %s", body, why.c_str());
    return out;
}

std::string refused(const char *body)
{
    ClientMetadata out;
    std::string why;
    ck_assert_msg(!parse_client_metadata(body, &out, &why), "accepted %s", body);
    ck_assert_msg(!why.empty(), "no description for %s", body);
    return why;
}

m2m::Client sample_client()
{
    m2m::Client c;
    c.client_id = "m2m_0123";
    c.name = "reporting bot";
    c.scopes = {"tasks:read", "tasks:write"};
    c.claims = json("{\"org_id\":\"acme\"}");
    c.created_at = 1764500000;
    c.secrets.push_back({"sec_01", "sha256:c2FsdA:ZGlnZXN0", 1764500000, 1767100000});
    return c;
}

}  // namespace

START_TEST(test_full_request)
{
    const ClientMetadata m = accepted(
        "{\"client_name\":\"reporting bot\",\"scope\":\"tasks:read  tasks:write tasks:read\","
        "\"grant_types\":[\"client_credentials\"],\"token_endpoint_auth_method\":\"client_secret_post\","
        "\"claims\":{\"org_id\":\"acme\",\"tier\":2},\"enabled\":false,\"logo_uri\":\"https://x/y.png\"}");
    ck_assert_str_eq(m.name.c_str(), "reporting bot");
    ck_assert_uint_eq(m.scopes.size(), 2);
    ck_assert_str_eq(m.scopes[0].c_str(), "tasks:read");
    ck_assert_str_eq(m.scopes[1].c_str(), "tasks:write");
    ck_assert_ptr_nonnull(m.claims.get());
    ck_assert_int_eq(json_integer_value(json_object_get(m.claims.get(), "tier")), 2);
    ck_assert(m.enabled.has_value() && !*m.enabled);
    ck_assert(!m.client_id.has_value());
}
END_TEST

START_TEST(test_empty_object_is_a_nameless_client_without_scopes)
{
    const ClientMetadata m = accepted("{}");
    ck_assert(m.name.empty());
    ck_assert(m.scopes.empty());
    ck_assert_ptr_null(m.claims.get());
    ck_assert(!m.enabled.has_value());
}
END_TEST

START_TEST(test_certificate_bound)
{
    ck_assert(!accepted("{}").certificate_bound.has_value());
    const ClientMetadata m = accepted("{\"tls_client_certificate_bound_access_tokens\":true}");
    ck_assert(m.certificate_bound.has_value() && *m.certificate_bound);
    ck_assert(!*accepted("{\"tls_client_certificate_bound_access_tokens\":false}").certificate_bound);
    refused("{\"tls_client_certificate_bound_access_tokens\":1}");
    refused("{\"tls_client_certificate_bound_access_tokens\":\"true\"}");

    m2m::Client c = sample_client();
    for (bool bound : {false, true}) {
        c.certificate_bound = bound;
        m2m::JsonPtr doc = json(m2m::render_client(c, nullptr, "https://api.test/c").c_str());
        const json_t *shown = json_object_get(doc.get(), "tls_client_certificate_bound_access_tokens");
        ck_assert(json_is_boolean(shown) && json_is_true(shown) == bound);
    }
}
END_TEST

START_TEST(test_put_names_its_client)
{
    const ClientMetadata m = accepted("{\"client_id\":\"m2m_ab\",\"client_secret\":\"s3cret\"}");
    ck_assert_str_eq(m.client_id->c_str(), "m2m_ab");
    ck_assert_str_eq(m.client_secret->c_str(), "s3cret");
}
END_TEST

START_TEST(test_refusals)
{
    refused("");
    refused("[]");
    refused("{\"client_name\":1}");
    refused("{\"client_name\":\"a\",\"client_name\":\"b\"}");
    refused("{\"client_name\":\"line\\nbreak\"}");
    refused(("{\"client_name\":\"" + std::string(201, 'n') + "\"}").c_str());
    refused("{\"scope\":[\"tasks:read\"]}");
    refused("{\"scope\":\"ok bad\\\"quote\"}");
    refused("{\"scope\":\"caf\\u00e9\"}");
    refused("{\"grant_types\":[\"authorization_code\"]}");
    refused("{\"grant_types\":[\"client_credentials\",\"refresh_token\"]}");
    refused("{\"grant_types\":[]}");
    refused("{\"grant_types\":\"client_credentials\"}");
    refused("{\"token_endpoint_auth_method\":\"private_key_jwt\"}");
    refused("{\"token_endpoint_auth_method\":\"none\"}");
    refused("{\"claims\":[\"org\"]}");
    refused("{\"enabled\":\"yes\"}");
    refused("{\"client_id\":7}");
}
END_TEST

START_TEST(test_claims_cannot_override_registered_ones)
{
    for (const char *name : {"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id", "scope"}) {
        const std::string body = std::string("{\"claims\":{\"org\":1,\"") + name + "\":\"x\"}}";
        const std::string why = refused(body.c_str());
        ck_assert_msg(why.find(name) != std::string::npos, "%s: %s", name, why.c_str());
    }
    accepted("{\"claims\":null}");
    accepted("{\"claims\":{\"roles\":[\"a\"],\"org_id\":\"acme\"}}");
}
END_TEST

START_TEST(test_render_client_shows_no_secret_material)
{
    const m2m::Client c = sample_client();
    const std::string text = m2m::render_client(c, nullptr, "https://api.test/oauth2/clients/m2m_0123");
    m2m::JsonPtr doc = json(text.c_str());
    ck_assert_str_eq(json_string_value(json_object_get(doc.get(), "client_id")), "m2m_0123");
    ck_assert_str_eq(json_string_value(json_object_get(doc.get(), "scope")), "tasks:read tasks:write");
    ck_assert_str_eq(json_string_value(json_object_get(doc.get(), "registration_client_uri")),
                     "https://api.test/oauth2/clients/m2m_0123");
    ck_assert_int_eq(json_integer_value(json_object_get(doc.get(), "client_id_issued_at")), 1764500000);
    ck_assert_ptr_null(json_object_get(doc.get(), "client_secret"));
    ck_assert_msg(text.find("sha256") == std::string::npos && text.find("ZGlnZXN0") == std::string::npos,
                  "hash shown: %s", text.c_str());
    const json_t *secret = json_array_get(json_object_get(doc.get(), "secrets"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(secret, "id")), "sec_01");
    ck_assert_int_eq(json_integer_value(json_object_get(secret, "expires_at")), 1767100000);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(doc.get(), "claims"), "org_id")), "acme");
}
END_TEST

START_TEST(test_render_client_at_registration_shows_the_secret_once)
{
    const m2m::Client c = sample_client();
    const m2m::IssuedSecret issued{"sec_01", "the-secret-itself"};
    m2m::JsonPtr doc = json(m2m::render_client(c, &issued, "https://api.test/c/m2m_0123").c_str());
    ck_assert_str_eq(json_string_value(json_object_get(doc.get(), "client_secret")), "the-secret-itself");
    ck_assert_int_eq(json_integer_value(json_object_get(doc.get(), "client_secret_expires_at")), 0);
}
END_TEST

START_TEST(test_render_list_and_error)
{
    m2m::Registry registry;
    registry.clients.push_back(sample_client());
    registry.clients.push_back(sample_client());
    registry.clients.back().client_id = "m2m_4567";
    m2m::JsonPtr doc = json(m2m::render_client_list(registry, "https://api.test/c").c_str());
    const json_t *list = json_object_get(doc.get(), "clients");
    ck_assert_uint_eq(json_array_size(list), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 1), "registration_client_uri")),
                     "https://api.test/c/m2m_4567");
    m2m::JsonPtr error = json(m2m::render_registration_error("invalid_client_metadata", "scope \"x\"").c_str());
    ck_assert_str_eq(json_string_value(json_object_get(error.get(), "error_description")), "scope \"x\"");
}
END_TEST

Suite *client_metadata_suite()
{
    Suite *s = suite_create("client_metadata");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_full_request);
    tcase_add_test(tc, test_empty_object_is_a_nameless_client_without_scopes);
    tcase_add_test(tc, test_certificate_bound);
    tcase_add_test(tc, test_put_names_its_client);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_claims_cannot_override_registered_ones);
    tcase_add_test(tc, test_render_client_shows_no_secret_material);
    tcase_add_test(tc, test_render_client_at_registration_shows_the_secret_once);
    tcase_add_test(tc, test_render_list_and_error);
    suite_add_tcase(s, tc);
    return s;
}
