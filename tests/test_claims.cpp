// Claims as nginx variables: render_claim, find_claim, find_claim_path and
// find_client_id over JSON parsed by jansson directly.
#include <string>
#include <vector>

#include "token/claims.h"
#include "test_suites.h"
#include "test_support.h"

using m2m::find_claim;
using m2m::find_claim_path;
using m2m::find_client_id;
using m2m::render_claim;
using testsupport::json;
using testsupport::value_of;

namespace {

std::string rendered(const json_t *value) { return value_of(render_claim(value)); }
std::string rendered(const char *json_text) { return rendered(json(json_text).get()); }

}  // namespace

START_TEST(test_render_string_as_is)
{
    ck_assert_std_str_eq(rendered("\"svc-1\""), "svc-1");
    ck_assert_std_str_eq(rendered("\"\""), "");
    ck_assert_std_str_eq(rendered("\"with \\\"quotes\\\" and \\\\\""), "with \"quotes\" and \\");
    ck_assert_std_str_eq(rendered("\"caf\\u00e9\""), "caf\xc3\xa9");
    ck_assert_std_str_eq(rendered("\"a b  c\""), "a b  c");
}
END_TEST

START_TEST(test_render_numbers)
{
    ck_assert_std_str_eq(rendered("1700000000"), "1700000000");
    ck_assert_std_str_eq(rendered("0"), "0");
    ck_assert_std_str_eq(rendered("-42"), "-42");
    ck_assert_std_str_eq(rendered("9007199254740993"), "9007199254740993");
    ck_assert_std_str_eq(rendered("1.5"), "1.5");
    ck_assert_std_str_eq(rendered("-0.25"), "-0.25");
    ck_assert_std_str_eq(rendered("2.0"), "2.0");
}
END_TEST

START_TEST(test_render_literals)
{
    ck_assert_std_str_eq(rendered("true"), "true");
    ck_assert_std_str_eq(rendered("false"), "false");
    ck_assert_std_str_eq(rendered("null"), "null");
    ck_assert_std_str_eq(value_of(render_claim(nullptr)), "");
}
END_TEST

START_TEST(test_render_string_arrays_joined)
{
    ck_assert_std_str_eq(rendered("[\"tasks:read\",\"tasks:write\"]"), "tasks:read tasks:write");
    ck_assert_std_str_eq(rendered("[\"one\"]"), "one");
    ck_assert_std_str_eq(rendered("[\"a\",\"\",\"b\"]"), "a  b");
    ck_assert_std_str_eq(rendered("[\"x y\",\"z\"]"), "x y z");
}
END_TEST

START_TEST(test_render_other_values_as_compact_json)
{
    ck_assert_std_str_eq(rendered("[\"a\", 1, true, null]"), "[\"a\",1,true,null]");
    ck_assert_std_str_eq(rendered("[1, 2, 3]"), "[1,2,3]");
    ck_assert_std_str_eq(rendered("[[\"a\"], \"b\"]"), "[[\"a\"],\"b\"]");
    ck_assert_std_str_eq(rendered("{ \"roles\" : [ \"admin\" , \"user\" ] }"), "{\"roles\":[\"admin\",\"user\"]}");
    ck_assert_std_str_eq(rendered("{}"), "{}");
    ck_assert_std_str_eq(rendered("{\"a\":{\"b\":\"c\\\"d\"}}"), "{\"a\":{\"b\":\"c\\\"d\"}}");
}
END_TEST

START_TEST(test_render_control_characters_as_json)
{
    // A raw CR/LF would split a proxied header or a log line: such strings
    // are rendered quoted and escaped.
    ck_assert_std_str_eq(rendered("\"a\\r\\nX-Injected: 1\""), "\"a\\r\\nX-Injected: 1\"");
    ck_assert_std_str_eq(rendered("\"tab\\there\""), "\"tab\\there\"");
    // Issue 6, item 4: DEL, C1 controls and the Unicode line and paragraph
    // separators break lines in log viewers; JSON needs no escape for them
    // and jansson writes them raw, so we escape them ourselves.
    ck_assert_std_str_eq(rendered("\"del\\u007f\""), "\"del\\u007f\"");
    ck_assert_std_str_eq(rendered("\"nel\\u0085x\""), "\"nel\\u0085x\"");
    ck_assert_std_str_eq(rendered("\"c1\\u0080\\u009f\""), "\"c1\\u0080\\u009f\"");
    ck_assert_std_str_eq(rendered("\"ls\\u2028ps\\u2029\""), "\"ls\\u2028ps\\u2029\"");
    ck_assert_std_str_eq(rendered("{\"k\\u2028\":[\"\\u0085\"]}"), "{\"k\\u2028\":[\"\\u0085\"]}");
    ck_assert_std_str_eq(rendered("[\"ok\",\"x\\u2029\"]"), "[\"ok\",\"x\\u2029\"]");
    ck_assert_std_str_eq(rendered("\"bell\\u0007\""), "\"bell\\u0007\"");
    // The same inside an array of strings: the whole array is JSON.
    ck_assert_std_str_eq(rendered("[\"ok\",\"bad\\n\"]"), "[\"ok\",\"bad\\n\"]");
    // Other non-ASCII text, neighbours of those included, stays as it is.
    ck_assert_std_str_eq(rendered("\"\\u00e9\\u00a0\\u2027\\u202a\\u0100\""),
                         "\xc3\xa9\xc2\xa0\xe2\x80\xa7\xe2\x80\xaa\xc4\x80");
}
END_TEST

START_TEST(test_find_claim_exact_then_case_insensitive)
{
    m2m::JsonPtr claims = json("{\"tenantId\":\"t-1\",\"tenantid\":\"t-exact\",\"Region\":\"eu\",\"ORG\":7}");
    // Exact wins even when a case-insensitive match comes first.
    ck_assert_std_str_eq(rendered(find_claim(claims.get(), "tenantid")), "t-exact");
    ck_assert_std_str_eq(rendered(find_claim(claims.get(), "tenantId")), "t-1");
    // nginx lower-cases variable names: the case-insensitive fallback finds them.
    ck_assert_std_str_eq(rendered(find_claim(claims.get(), "region")), "eu");
    ck_assert_std_str_eq(rendered(find_claim(claims.get(), "REGION")), "eu");
    ck_assert_std_str_eq(rendered(find_claim(claims.get(), "org")), "7");
    ck_assert_ptr_null(find_claim(claims.get(), "missing"));
    ck_assert_ptr_null(find_claim(claims.get(), "regio"));
    ck_assert_ptr_null(find_claim(claims.get(), "regions"));
    ck_assert_ptr_null(find_claim(claims.get(), ""));

    m2m::JsonPtr only_mixed = json("{\"tenantId\":\"t-1\"}");
    ck_assert_std_str_eq(rendered(find_claim(only_mixed.get(), "tenantid")), "t-1");
}
END_TEST

START_TEST(test_find_claim_path)
{
    m2m::JsonPtr claims = json(
        "{\"realm_access\":{\"roles\":[\"offline_access\",\"uma_authorization\"]},"
        "\"resource_access\":{\"tasks-api\":{\"roles\":[\"reader\"]}},"
        "\"groups\":[{\"name\":\"ops\"},{\"name\":\"dev\"}],"
        "\"flat\":\"v\"}");
    const json_t *root = claims.get();
    ck_assert_std_str_eq(rendered(find_claim_path(root, {"realm_access", "roles"})),
                         "offline_access uma_authorization");
    ck_assert_std_str_eq(rendered(find_claim_path(root, {"resource_access", "tasks-api", "roles"})), "reader");
    ck_assert_std_str_eq(rendered(find_claim_path(root, {"realm_access", "roles", "1"})), "uma_authorization");
    ck_assert_std_str_eq(rendered(find_claim_path(root, {"groups", "1", "name"})), "dev");
    ck_assert_std_str_eq(rendered(find_claim_path(root, {"groups", "0"})), "{\"name\":\"ops\"}");
    ck_assert_std_str_eq(rendered(find_claim_path(root, {"flat"})), "v");
    // Missing steps.
    ck_assert_ptr_null(find_claim_path(root, {"realm_access", "groups"}));
    ck_assert_ptr_null(find_claim_path(root, {"nope", "roles"}));
    ck_assert_ptr_null(find_claim_path(root, {"realm_access", "roles", "2"}));
    ck_assert_ptr_null(find_claim_path(root, {"realm_access", "roles", "-1"}));
    ck_assert_ptr_null(find_claim_path(root, {"realm_access", "roles", "x"}));
    ck_assert_ptr_null(find_claim_path(root, {"flat", "deeper"}));
    ck_assert_ptr_null(find_claim_path(root, {"Realm_Access", "roles"}));  // exact names only
    ck_assert_ptr_null(find_claim_path(root, {}));
}
END_TEST

START_TEST(test_client_id_with_control_characters_skipped)
{
    // Such a value would split an upstream header: the next claim is used.
    auto claims = json("{\"client_id\":\"svc\\r\\nX-Injected: yes\",\"azp\":\"clean\"}");
    ck_assert_std_str_eq(find_client_id(claims.get(), {"client_id", "azp"}), "clean");
    auto only = json("{\"client_id\":\"a\\u0001b\"}");
    ck_assert_std_str_eq(find_client_id(only.get(), {"client_id"}), "");
    for (const char *id : {"a\\u007fb", "a\\u0085b", "a\\u2028b", "a\\u2029b"}) {
        auto separated = json(("{\"client_id\":\"" + std::string(id) + "\",\"azp\":\"clean\"}").c_str());
        ck_assert_std_str_eq(find_client_id(separated.get(), {"client_id", "azp"}), "clean");
    }
}
END_TEST

START_TEST(test_find_client_id)
{
    const std::vector<std::string> defaults = {"client_id", "azp", "appid", "cid", "sub"};
    m2m::JsonPtr all = json("{\"sub\":\"s\",\"cid\":\"c\",\"appid\":\"a\",\"azp\":\"z\",\"client_id\":\"id\"}");
    ck_assert_std_str_eq(find_client_id(all.get(), defaults), "id");
    ck_assert_std_str_eq(find_client_id(all.get(), {"cid", "client_id"}), "c");
    m2m::JsonPtr no_client_id = json("{\"sub\":\"s\",\"cid\":\"c\",\"azp\":\"z\"}");
    ck_assert_std_str_eq(find_client_id(no_client_id.get(), defaults), "z");
    // Non-strings and empty strings are skipped.
    m2m::JsonPtr odd = json("{\"client_id\":42,\"azp\":\"\",\"appid\":null,\"cid\":[\"c\"],\"sub\":\"s\"}");
    ck_assert_std_str_eq(find_client_id(odd.get(), defaults), "s");
    m2m::JsonPtr none = json("{\"client_id\":42,\"aud\":\"x\"}");
    ck_assert_std_str_eq(find_client_id(none.get(), defaults), "");
    ck_assert_std_str_eq(find_client_id(all.get(), {}), "");
    // Claim names are exact.
    m2m::JsonPtr cased = json("{\"Client_ID\":\"x\"}");
    ck_assert_std_str_eq(find_client_id(cased.get(), {"client_id"}), "");
}
END_TEST

Suite *claims_suite()
{
    Suite *s = suite_create("claims");
    TCase *render = tcase_create("render");
    tcase_add_test(render, test_render_string_as_is);
    tcase_add_test(render, test_render_numbers);
    tcase_add_test(render, test_render_literals);
    tcase_add_test(render, test_render_string_arrays_joined);
    tcase_add_test(render, test_render_other_values_as_compact_json);
    tcase_add_test(render, test_render_control_characters_as_json);
    suite_add_tcase(s, render);
    TCase *find = tcase_create("find");
    tcase_add_test(find, test_find_claim_exact_then_case_insensitive);
    tcase_add_test(find, test_find_claim_path);
    tcase_add_test(find, test_find_client_id);
    tcase_add_test(find, test_client_id_with_control_characters_skipped);
    suite_add_tcase(s, find);
    return s;
}
