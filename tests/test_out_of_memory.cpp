// The core's functions report running out of memory in what they return:
// here every allocation from the n-th on fails (operator new throws,
// jansson's malloc returns NULL), for n = 0, 1, ... until a call needs fewer.
// Each call must return its failure value or its normal result. An exception
// escaping one of them would end the test process: they are noexcept.
#include <cstdlib>
#include <functional>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "keys/algorithm.h"
#include "token/claims.h"
#include "verify/scope.h"
#include "report/status_page.h"
#include "test_suites.h"
#include "test_support.h"

namespace {

long allocations_left = -1;  // negative: no allocation fails
bool allocation_refused = false;

bool refuse_allocation()
{
    if (allocations_left < 0) {
        return false;
    }
    if (allocations_left == 0) {
        allocation_refused = true;
        return true;
    }
    allocations_left--;
    return false;
}

void *counted_malloc(size_t size) { return refuse_allocation() ? nullptr : std::malloc(size); }

}  // namespace

// For this test binary only; with allocations_left negative these are plain
// malloc and free.
void *operator new(std::size_t size)
{
    void *p = refuse_allocation() ? nullptr : std::malloc(size ? size : 1);
    if (!p) {
        throw std::bad_alloc();
    }
    return p;
}

void operator delete(void *p) noexcept { std::free(p); }
void operator delete(void *p, std::size_t) noexcept { std::free(p); }

namespace {

template <typename T, typename Call, typename Same = std::equal_to<T>>
void assert_fails_cleanly(const char *what, Call call, Same same = Same())
{
    json_set_alloc_funcs(counted_malloc, std::free);
    const std::optional<T> want = call();
    ck_assert_msg(want.has_value(), "%s failed with memory to spare", what);
    bool reported = false;
    for (long n = 0; n < 100000; n++) {
        allocation_refused = false;
        allocations_left = n;
        std::optional<T> got = call();
        allocations_left = -1;
        ck_assert_msg(!got || same(*got, *want), "%s: wrong result when allocation %ld on failed", what, n);
        reported = reported || !got;
        if (!allocation_refused) {
            // A refused allocation the call could do without may leave its
            // result intact, but some refusal must have been reported.
            ck_assert_msg(n == 0 || reported, "%s never reported a failed allocation", what);
            return;
        }
    }
    ck_abort_msg("%s: allocations did not end", what);
}

}  // namespace

START_TEST(test_render_claim_out_of_memory)
{
    m2m::JsonPtr claims = testsupport::json(
        "{\"sub\":\"a subject long enough not to fit a short string buffer\","
        "\"roles\":[\"first-role-of-several\",\"second-role-of-several\"],"
        "\"nested\":{\"a\":[1,2,{\"b\":\"line\\u2028break\"}]}}");
    for (const char *name : {"sub", "roles", "nested"}) {
        const json_t *value = json_object_get(claims.get(), name);
        assert_fails_cleanly<std::string>(name, [&] { return m2m::render_claim(value); });
    }
}
END_TEST

START_TEST(test_scopes_out_of_memory)
{
    m2m::JsonPtr claims = testsupport::json(
        "{\"scope\":\"tasks:read tasks:write reports:read\",\"scp\":[\"admin:all\",\"tasks:read\"]}");
    const std::vector<std::string> names = {"scope", "scp", "scopes"};
    assert_fails_cleanly<std::vector<std::string>>("collect_scopes",
                                                   [&] { return m2m::collect_scopes(claims.get(), names); });
    const std::vector<std::string> scopes = {"tasks:read", "tasks:write", "reports:read", "admin:all"};
    assert_fails_cleanly<std::string>("join_scopes", [&] { return m2m::join_scopes(scopes); });
}
END_TEST

START_TEST(test_algorithm_names_out_of_memory)
{
    assert_fails_cleanly<std::string>("names", [] { return m2m::AlgorithmSet::all_asymmetric().names(); });
}
END_TEST

START_TEST(test_reports_out_of_memory)
{
    m2m::ModuleReport report = testsupport::sample_report();
    report.issuers.push_back(testsupport::remote_issuer());
    report.issuers.back().name = "caf\xc3\xa9 \xff";  // not UTF-8: shown with '?'
    assert_fails_cleanly<std::string>("report_json", [&] { return m2m::report_json(report); });
    assert_fails_cleanly<std::string>("report_prometheus", [&] { return m2m::report_prometheus(report); });
    auto keys = testsupport::standard_keys();
    assert_fails_cleanly<std::vector<m2m::KeyInfo>>(
        "describe_keys", [&] { return m2m::describe_keys(*keys); },
        [](const std::vector<m2m::KeyInfo> &a, const std::vector<m2m::KeyInfo> &b) {
            if (a.size() != b.size()) {
                return false;
            }
            for (size_t i = 0; i < a.size(); i++) {
                if (a[i].kid != b[i].kid || a[i].alg != b[i].alg) {
                    return false;
                }
            }
            return true;
        });
}
END_TEST

START_TEST(test_share_keys_out_of_memory)
{
    allocations_left = 0;
    allocation_refused = false;
    std::shared_ptr<const m2m::KeySet> keys = m2m::share_keys(m2m::KeySet{});
    allocations_left = -1;
    ck_assert(allocation_refused);
    ck_assert_ptr_null(keys.get());
}
END_TEST

Suite *out_of_memory_suite()
{
    Suite *s = suite_create("out_of_memory");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_render_claim_out_of_memory);
    tcase_add_test(tc, test_scopes_out_of_memory);
    tcase_add_test(tc, test_algorithm_names_out_of_memory);
    tcase_add_test(tc, test_reports_out_of_memory);
    tcase_add_test(tc, test_share_keys_out_of_memory);
    suite_add_tcase(s, tc);
    return s;
}
