// The local issuer's RFC 8414 metadata: exact document, endpoints as paths
// under the base or as absolute URLs, scopes sorted and once, and which
// request Host values may become part of its URLs.
#include <string>
#include <vector>

#include "issuer/metadata.h"
#include "test_suites.h"
#include "test_support.h"

using m2m::MetadataEndpoints;
using testsupport::json;

START_TEST(test_default_document)
{
    const auto text = m2m::server_metadata("https://auth.example.com", "https://auth.example.com",
                                           MetadataEndpoints(), {});
    ck_assert(text.has_value());
    ck_assert_std_str_eq(*text,
                         "{\n"
                         "  \"issuer\": \"https://auth.example.com\",\n"
                         "  \"token_endpoint\": \"https://auth.example.com/oauth2/token\",\n"
                         "  \"jwks_uri\": \"https://auth.example.com/.well-known/jwks.json\",\n"
                         "  \"registration_endpoint\": \"https://auth.example.com/oauth2/clients\",\n"
                         "  \"response_types_supported\": [],\n"
                         "  \"grant_types_supported\": [\n"
                         "    \"client_credentials\"\n"
                         "  ],\n"
                         "  \"token_endpoint_auth_methods_supported\": [\n"
                         "    \"client_secret_basic\",\n"
                         "    \"client_secret_post\"\n"
                         "  ],\n"
                         "  \"tls_client_certificate_bound_access_tokens\": true,\n"
                         "  \"dpop_signing_alg_values_supported\": [\n"
                         "    \"RS256\",\n    \"RS384\",\n    \"RS512\",\n"
                         "    \"PS256\",\n    \"PS384\",\n    \"PS512\",\n"
                         "    \"ES256\",\n    \"ES384\",\n    \"ES512\"\n"
                         "  ]\n"
                         "}\n");
}
END_TEST

START_TEST(test_endpoints_and_scopes)
{
    MetadataEndpoints e;
    e.token = "/auth/token";
    e.jwks = "https://keys.example.com/jwks";
    e.registration = "";
    const auto text = m2m::server_metadata("https://issuer.example/", "http://127.0.0.1:8080/base", e,
                                           {"tasks:write", "tasks:read", "tasks:write", "admin"});
    ck_assert(text.has_value());
    m2m::JsonPtr doc = json(text->c_str());
    auto member = [&](const char *name) {
        json_t *v = json_object_get(doc.get(), name);
        return v && json_is_string(v) ? std::string(json_string_value(v)) : std::string("<absent>");
    };
    ck_assert_std_str_eq(member("issuer"), "https://issuer.example/");
    ck_assert_std_str_eq(member("token_endpoint"), "http://127.0.0.1:8080/base/auth/token");
    ck_assert_std_str_eq(member("jwks_uri"), "https://keys.example.com/jwks");
    ck_assert_ptr_null(json_object_get(doc.get(), "registration_endpoint"));
    json_t *scopes = json_object_get(doc.get(), "scopes_supported");
    ck_assert_uint_eq(json_array_size(scopes), 3);
    ck_assert_str_eq(json_string_value(json_array_get(scopes, 0)), "admin");
    ck_assert_str_eq(json_string_value(json_array_get(scopes, 1)), "tasks:read");
    ck_assert_str_eq(json_string_value(json_array_get(scopes, 2)), "tasks:write");

    // an issuer that is not UTF-8 cannot be published
    ck_assert(!m2m::server_metadata("https://\xff/", "http://x", e, {}).has_value());
}
END_TEST

START_TEST(test_url_authority)
{
    for (const char *good : {"example.com", "a", "my_service:8080", "EXAMPLE.com:8443", "127.0.0.1", "127.0.0.1:1", "[::1]",
                             "[::1]:8080", "[2001:db8::1]", "xn--bcher-kva.example:65535"}) {
        ck_assert_msg(m2m::is_url_authority(good), "\"%s\" refused", good);
    }
    for (const char *bad : {"", ":80", "example.com:", "example.com:80a", "example.com:123456", "a b", "a\"b",
                            "a\\b", "a/b", "a?b", "a#b", "a@b", "[::1", "[]", "[::g]", "[::1]x", "[::1]:", "a:1:2",
                            "\xc3\xa9.example", "a\r\nb"}) {
        ck_assert_msg(!m2m::is_url_authority(bad), "\"%s\" accepted", bad);
    }
    for (const char *good : {"https://x", "http://127.0.0.1:8080", "https://auth.example.com/base",
                             "https://a.example/b/c%2F/d-._~!$&'()*+,;=:@"}) {
        ck_assert_msg(m2m::is_base_url(good), "\"%s\" refused", good);
        ck_assert_msg(m2m::is_endpoint_location(good), "\"%s\" refused", good);
    }
    for (const char *bad : {"", "/x", "https://", "https:///x", "https://x?y", "https://x/#y", "https://x/a b",
                            "https://x/a\"b", "https://x/a\\b", "https://x/%2", "https://x/%zz", "ftp://x",
                            "https://user@x/", "https://x:99999/"}) {
        ck_assert_msg(!m2m::is_base_url(bad), "\"%s\" accepted", bad);
    }
    for (const char *good : {"/", "/oauth2/token", "/.well-known/jwks.json", "/a%20b"}) {
        ck_assert_msg(m2m::is_endpoint_location(good), "\"%s\" refused", good);
    }
    for (const char *bad : {"", "oauth2/token", "/a b", "/a?b", "/a#b", "/a\"", "/\xc3\xa9", "/a\nb"}) {
        ck_assert_msg(!m2m::is_endpoint_location(bad), "\"%s\" accepted", bad);
    }
    ck_assert(m2m::is_absolute_url("https://x"));
    ck_assert(m2m::is_absolute_url("http://x"));
    ck_assert(!m2m::is_absolute_url("/x"));
    ck_assert(!m2m::is_absolute_url("ftp://x"));
    ck_assert(!m2m::is_absolute_url("HTTPS://x"));
}
END_TEST

Suite *metadata_suite()
{
    Suite *s = suite_create("metadata");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_default_document);
    tcase_add_test(tc, test_endpoints_and_scopes);
    tcase_add_test(tc, test_url_authority);
    suite_add_tcase(s, tc);
    return s;
}
