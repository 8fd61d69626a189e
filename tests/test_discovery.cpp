// Discovery metadata (RFC 8414 / OpenID Connect Discovery): the issuer must
// match exactly, and only a plain absolute http(s) jwks_uri is taken.
#include <string>

#include "fetch/discovery.h"
#include "test_suites.h"
#include "test_support.h"

using m2m::Reason;
using namespace testsupport;

namespace {

constexpr const char *kIdp = "https://idp.example.com/";
constexpr const char *kJwks = "https://idp.example.com/.well-known/jwks.json";
constexpr const char *kUntouched = "untouched";

// A metadata document with the given raw members.
std::string document(const Members &members) { return object_json(members); }

std::string document_with_uri(const std::string &raw_jwks_uri)
{
    return document({{"issuer", q(kIdp)}, {"jwks_uri", raw_jwks_uri}});
}

Reason parse(const std::string &json, const std::string &expected, std::string *uri)
{
    *uri = kUntouched;
    return m2m::parse_discovery(json, expected, uri);
}

void assert_accepted(const std::string &json, const std::string &expected, const std::string &want_uri)
{
    std::string uri;
    const Reason status = parse(json, expected, &uri);
    ck_assert_msg(status == Reason::ok, "%s: %s", json.c_str(), status_name(status));
    ck_assert_std_str_eq(uri, want_uri);
}

void assert_refused(const std::string &json, const std::string &expected, Reason want)
{
    std::string uri;
    const Reason status = parse(json, expected, &uri);
    ck_assert_msg(status == want, "%s: got %s, want %s", json.c_str(), status_name(status), status_name(want));
    ck_assert_msg(uri == kUntouched, "jwks_uri changed to \"%s\" on failure", uri.c_str());
}

void assert_uri_refused(const std::string &raw_jwks_uri)
{
    assert_refused(document_with_uri(raw_jwks_uri), kIdp, Reason::discovery_malformed);
}

}  // namespace

START_TEST(test_happy_path)
{
    // A realistic OpenID document, members in any order.
    const std::string json = document({
        {"token_endpoint", q("https://idp.example.com/oauth2/token")},
        {"jwks_uri", q(kJwks)},
        {"issuer", q(kIdp)},
        {"response_types_supported", "[\"code\"]"},
        {"id_token_signing_alg_values_supported", "[\"RS256\",\"ES256\"]"},
    });
    assert_accepted(json, kIdp, kJwks);
}
END_TEST

START_TEST(test_accepted_uri_shapes)
{
    assert_accepted(document_with_uri(q("http://keys.internal/jwks")), kIdp, "http://keys.internal/jwks");
    assert_accepted(document_with_uri(q("https://idp.example.com:8443/keys?tenant=a&v=2")), kIdp,
                    "https://idp.example.com:8443/keys?tenant=a&v=2");
    assert_accepted(document_with_uri(q("https://idp.example.com")), kIdp, "https://idp.example.com");
    assert_accepted(document_with_uri(q("https://127.0.0.1:9000/k")), kIdp, "https://127.0.0.1:9000/k");
    assert_accepted(document_with_uri(q("https://[::1]:9000/k")), kIdp, "https://[::1]:9000/k");
    assert_accepted(document_with_uri(q("https://idp.example.com?x=1")), kIdp, "https://idp.example.com?x=1");
    assert_accepted(document_with_uri(q("https://idp.example.com/a%20b")), kIdp, "https://idp.example.com/a%20b");
    // Schemes are case-insensitive; the URL is returned as written.
    assert_accepted(document_with_uri(q("HTTPS://IdP.example.com/K")), kIdp, "HTTPS://IdP.example.com/K");
    assert_accepted(document_with_uri(q("Http://idp/k")), kIdp, "Http://idp/k");
    // JSON escapes are decoded before anything is compared or returned.
    assert_accepted(document({{"issuer", q("https:\\/\\/idp.example.com\\/")},
                              {"jwks_uri", q("https:\\/\\/idp.example.com\\/k\\u0073")}}),
                    kIdp, "https://idp.example.com/ks");
}
END_TEST

START_TEST(test_output_replaced)
{
    std::string uri = "https://old.example/jwks";
    ck_assert_status(m2m::parse_discovery(document_with_uri(q(kJwks)), kIdp, &uri), Reason::ok);
    ck_assert_std_str_eq(uri, kJwks);
}
END_TEST

START_TEST(test_issuer_mismatch)
{
    const std::string json = document({{"issuer", q(kIdp)}, {"jwks_uri", q(kJwks)}});
    // Byte for byte: no normalisation of slash, case, port or scheme.
    assert_refused(json, "https://idp.example.com", Reason::discovery_issuer_mismatch);
    assert_refused(json, "https://IDP.example.com/", Reason::discovery_issuer_mismatch);
    assert_refused(json, "https://idp.example.com:443/", Reason::discovery_issuer_mismatch);
    assert_refused(json, "http://idp.example.com/", Reason::discovery_issuer_mismatch);
    assert_refused(json, "https://idp.example.com/tenant", Reason::discovery_issuer_mismatch);
    assert_refused(json, "https://idp.example.com/ ", Reason::discovery_issuer_mismatch);
    assert_refused(json, "", Reason::discovery_issuer_mismatch);
    assert_refused(document({{"issuer", q("https://evil.example/")}, {"jwks_uri", q(kJwks)}}), kIdp,
                   Reason::discovery_issuer_mismatch);
    assert_refused(document({{"issuer", q("")}, {"jwks_uri", q(kJwks)}}), kIdp, Reason::discovery_issuer_mismatch);
    // The expected issuer as a prefix of the document's, and the reverse.
    assert_refused(document({{"issuer", q("https://idp.example.com/x")}, {"jwks_uri", q(kJwks)}}), kIdp,
                   Reason::discovery_issuer_mismatch);
}
END_TEST

START_TEST(test_mismatch_reported_over_bad_jwks_uri)
{
    // A foreign document is named as such even if the rest is also wrong.
    assert_refused(document({{"issuer", q("https://evil.example/")}}), kIdp, Reason::discovery_issuer_mismatch);
    assert_refused(document({{"issuer", q("https://evil.example/")}, {"jwks_uri", "42"}}), kIdp,
                   Reason::discovery_issuer_mismatch);
}
END_TEST

START_TEST(test_not_a_json_object)
{
    for (const char *bad : {"", "null", "[]", "[{\"issuer\":\"x\"}]", "\"https://idp.example.com/\"", "42", "{",
                            "{\"issuer\":\"https://idp.example.com/\",\"jwks_uri\":\"https://idp/k\"",
                            "<html><body>Not Found</body></html>", "{} {}"}) {
        assert_refused(bad, kIdp, Reason::discovery_malformed);
    }
    // Duplicate members: which "issuer" would count is exactly the ambiguity
    // an attacker wants.
    assert_refused("{\"issuer\":\"https://idp.example.com/\",\"issuer\":\"https://evil/\",\"jwks_uri\":\"https://i/k\"}",
                   kIdp, Reason::discovery_malformed);
}
END_TEST

START_TEST(test_missing_or_wrong_type_members)
{
    assert_refused(document({{"jwks_uri", q(kJwks)}}), kIdp, Reason::discovery_malformed);
    assert_refused(document({{"issuer", "null"}, {"jwks_uri", q(kJwks)}}), kIdp, Reason::discovery_malformed);
    assert_refused(document({{"issuer", "42"}, {"jwks_uri", q(kJwks)}}), kIdp, Reason::discovery_malformed);
    assert_refused(document({{"issuer", "[\"https://idp.example.com/\"]"}, {"jwks_uri", q(kJwks)}}), kIdp,
                   Reason::discovery_malformed);
    assert_refused(document({{"issuer", q(kIdp)}}), kIdp, Reason::discovery_malformed);
    assert_uri_refused("null");
    assert_uri_refused("42");
    assert_uri_refused("true");
    assert_uri_refused("[\"https://idp.example.com/k\"]");
    assert_uri_refused("{\"href\":\"https://idp.example.com/k\"}");
    assert_refused(document({{"Issuer", q(kIdp)}, {"jwks_uri", q(kJwks)}}), kIdp, Reason::discovery_malformed);
    assert_refused(document({{"issuer", q(kIdp)}, {"jwksUri", q(kJwks)}}), kIdp, Reason::discovery_malformed);
}
END_TEST

START_TEST(test_jwks_uri_not_http)
{
    assert_uri_refused(q(""));
    assert_uri_refused(q("/.well-known/jwks.json"));
    assert_uri_refused(q("jwks.json"));
    assert_uri_refused(q("//idp.example.com/jwks"));
    assert_uri_refused(q("ftp://idp.example.com/jwks"));
    assert_uri_refused(q("file:///etc/passwd"));
    assert_uri_refused(q("javascript:alert(1)"));
    assert_uri_refused(q("https:idp.example.com/jwks"));
    assert_uri_refused(q("https:/idp.example.com/jwks"));
    assert_uri_refused(q("httpx://idp.example.com/jwks"));
    assert_uri_refused(q("https//idp.example.com/jwks"));
    assert_uri_refused(q(" https://idp.example.com/jwks"));
}
END_TEST

START_TEST(test_jwks_uri_unsafe)
{
    // No host.
    assert_uri_refused(q("https://"));
    assert_uri_refused(q("http://"));
    assert_uri_refused(q("https:///jwks"));
    assert_uri_refused(q("https://?x=1"));
    assert_uri_refused(q("https://:443/jwks"));
    // User info hides the real host from a human reader.
    assert_uri_refused(q("https://idp.example.com@evil.example/jwks"));
    assert_uri_refused(q("https://user:pass@idp.example.com/jwks"));
    // Whitespace and control characters would split or extend our request.
    assert_uri_refused(q("https://idp.example.com/jwks\\r\\nX-Injected: 1"));
    assert_uri_refused(q("https://idp.example.com/jwks\\nHost: evil"));
    assert_uri_refused(q("https://idp.example.com/a b"));
    assert_uri_refused(q("https://idp.example.com/a\\tb"));
    assert_uri_refused(q("https://idp.example.com/jwks\\u007f"));
    assert_uri_refused(q("https://idp.example.com/jwks\\u0000"));
    // Non-ASCII must arrive percent-encoded.
    assert_uri_refused(q("https://id\xc3\xa9.example.com/jwks"));
    assert_uri_refused(q("https://idp.example.com/cl\\u00e9s"));
    // A fragment is never sent; a key URL has no use for one.
    assert_uri_refused(q("https://idp.example.com/jwks#frag"));
    assert_uri_refused(q("https://idp.example.com#"));
    // '@' past the authority is an ordinary path character.
    assert_accepted(document_with_uri(q("https://idp.example.com/keys@v2")), kIdp, "https://idp.example.com/keys@v2");
}
END_TEST

Suite *discovery_suite()
{
    Suite *s = suite_create("discovery");
    TCase *tc = tcase_create("metadata");
    tcase_add_test(tc, test_happy_path);
    tcase_add_test(tc, test_accepted_uri_shapes);
    tcase_add_test(tc, test_output_replaced);
    tcase_add_test(tc, test_issuer_mismatch);
    tcase_add_test(tc, test_mismatch_reported_over_bad_jwks_uri);
    tcase_add_test(tc, test_not_a_json_object);
    tcase_add_test(tc, test_missing_or_wrong_type_members);
    tcase_add_test(tc, test_jwks_uri_not_http);
    tcase_add_test(tc, test_jwks_uri_unsafe);
    suite_add_tcase(s, tc);
    return s;
}
