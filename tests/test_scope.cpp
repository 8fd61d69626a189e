// OAuth scopes from string and array claims, merged in order.
#include <string>
#include <vector>

#include "verify/scope.h"
#include "test_suites.h"
#include "test_support.h"

using m2m::collect_scopes;
using m2m::has_all_scopes;
using m2m::join_scopes;
using testsupport::json;
using testsupport::value_of;
using Scopes = std::vector<std::string>;

namespace {

const Scopes kDefaultClaims = {"scope", "scp", "scopes"};

Scopes collect(const char *claims_json, const Scopes &names = kDefaultClaims)
{
    return value_of(collect_scopes(json(claims_json).get(), names));
}

void assert_scopes(const Scopes &got, const Scopes &want)
{
    ck_assert_msg(got == want, "got \"%s\", want \"%s\"", value_of(join_scopes(got)).c_str(),
                  value_of(join_scopes(want)).c_str());
}

}  // namespace

START_TEST(test_string_split_on_spaces)
{
    assert_scopes(collect("{\"scope\":\"tasks:read tasks:write\"}"), {"tasks:read", "tasks:write"});
    assert_scopes(collect("{\"scope\":\"one\"}"), {"one"});
    assert_scopes(collect("{\"scope\":\"a   b\"}"), {"a", "b"});
    assert_scopes(collect("{\"scope\":\"  leading trailing  \"}"), {"leading", "trailing"});
    assert_scopes(collect("{\"scope\":\" \"}"), {});
    assert_scopes(collect("{\"scope\":\"\"}"), {});
    assert_scopes(collect("{\"scope\":\"dup dup other dup\"}"), {"dup", "other"});
    assert_scopes(collect("{\"scope\":\"https://graph.example/.default openid\"}"),
                  {"https://graph.example/.default", "openid"});
}
END_TEST

START_TEST(test_array)
{
    assert_scopes(collect("{\"scp\":[\"tasks:read\",\"tasks:write\"]}"), {"tasks:read", "tasks:write"});
    assert_scopes(collect("{\"scopes\":[]}"), {});
    assert_scopes(collect("{\"scp\":[\"a\",\"a\",\"b\"]}"), {"a", "b"});
    assert_scopes(collect("{\"scp\":[\"\",\"a\"]}"), {"a"});
}
END_TEST

START_TEST(test_non_string_items_ignored)
{
    assert_scopes(collect("{\"scp\":[\"a\",1,null,true,[\"b\"],{\"c\":\"d\"},\"e\"]}"), {"a", "e"});
    assert_scopes(collect("{\"scope\":42,\"scp\":[\"x\"]}"), {"x"});
    assert_scopes(collect("{\"scope\":{\"read\":true}}"), {});
    assert_scopes(collect("{\"scope\":null}"), {});
}
END_TEST

START_TEST(test_union_in_claim_order)
{
    const char *claims = "{\"scopes\":[\"c\",\"a\"],\"scp\":[\"b\",\"a\"],\"scope\":\"a d\"}";
    // Claim list order decides, not the order of members in the token.
    assert_scopes(collect(claims), {"a", "d", "b", "c"});
    assert_scopes(collect(claims, {"scopes", "scp", "scope"}), {"c", "a", "b", "d"});
    assert_scopes(collect(claims, {"scp"}), {"b", "a"});
    assert_scopes(collect(claims, {"roles"}), {});
    assert_scopes(collect(claims, {}), {});
    // A claim listed twice adds nothing new.
    assert_scopes(collect(claims, {"scope", "scope"}), {"a", "d"});
}
END_TEST

START_TEST(test_case_sensitive)
{
    assert_scopes(collect("{\"scope\":\"Read read READ\"}"), {"Read", "read", "READ"});
    Scopes granted = {"tasks:read"};
    ck_assert(!has_all_scopes(granted, {"Tasks:Read"}));
    ck_assert(has_all_scopes(granted, {"tasks:read"}));
    // Claim names are exact too.
    assert_scopes(collect("{\"Scope\":\"a\"}"), {});
}
END_TEST

START_TEST(test_has_all_scopes)
{
    Scopes granted = {"tasks:read", "tasks:write", "admin"};
    ck_assert(has_all_scopes(granted, {}));
    ck_assert(has_all_scopes(granted, {"tasks:read"}));
    ck_assert(has_all_scopes(granted, {"admin", "tasks:read"}));
    ck_assert(has_all_scopes(granted, {"tasks:read", "tasks:write", "admin"}));
    ck_assert(!has_all_scopes(granted, {"tasks:read", "tasks:delete"}));
    ck_assert(!has_all_scopes(granted, {"tasks"}));
    ck_assert(!has_all_scopes(granted, {"tasks:read tasks:write"}));
    ck_assert(!has_all_scopes({}, {"tasks:read"}));
    ck_assert(has_all_scopes({}, {}));
}
END_TEST

START_TEST(test_non_scope_tokens_dropped)
{
    // A CR/LF in a scope would split the header $m2m_scope is passed in.
    assert_scopes(collect("{\"scope\":\"ok read\\r\\nX-Injected:yes\"}"), {"ok"});
    // Only the piece with the control characters goes; "y" is a valid token.
    assert_scopes(collect("{\"scp\":[\"read\\r\\nX: y\", \"write\"]}"), {"y", "write"});
    assert_scopes(collect("{\"scope\":\"tab\\tbed quo\\\"te back\\\\slash caf\\u00e9 fine\"}"), {"fine"});
    assert_scopes(collect("{\"scope\":\"a\\u007fb c\"}"), {"c"});
}
END_TEST

START_TEST(test_join)
{
    ck_assert_std_str_eq(value_of(join_scopes({})), "");
    ck_assert_std_str_eq(value_of(join_scopes({"a"})), "a");
    ck_assert_std_str_eq(value_of(join_scopes({"a", "b", "c"})), "a b c");
}
END_TEST

Suite *scope_suite()
{
    Suite *s = suite_create("scope");
    TCase *tc = tcase_create("scopes");
    tcase_add_test(tc, test_string_split_on_spaces);
    tcase_add_test(tc, test_array);
    tcase_add_test(tc, test_non_string_items_ignored);
    tcase_add_test(tc, test_union_in_claim_order);
    tcase_add_test(tc, test_case_sensitive);
    tcase_add_test(tc, test_has_all_scopes);
    tcase_add_test(tc, test_non_scope_tokens_dropped);
    tcase_add_test(tc, test_join);
    suite_add_tcase(s, tc);
    return s;
}
