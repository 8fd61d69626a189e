// Refresh scheduling: server max-age clamped, configured refresh as-is,
// jitter within bounds, and failure backoff that doubles to a cap.
#include <climits>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>

#include "fetch/refresh_policy.h"
#include "test_suites.h"
#include "test_support.h"

using m2m::backoff_after_failure;
using m2m::next_refresh_after_success;
using m2m::RefreshPolicy;

namespace {

// jitter_unit 0.5 means "no jitter": 1 + j * (2 * 0.5 - 1) == 1.
constexpr double kMid = 0.5;
constexpr double kLow = 0.0;
constexpr double kHigh = 0.999999;

int64_t after_success(std::optional<int64_t> max_age, double unit = kMid, const RefreshPolicy &policy = {})
{
    return next_refresh_after_success(policy, max_age, unit);
}

}  // namespace

START_TEST(test_defaults)
{
    const RefreshPolicy p;
    ck_assert_int_eq(p.refresh, 600);
    ck_assert_int_eq(p.min_refresh, 60);
    ck_assert_int_eq(p.max_refresh, 86400);
    ck_assert(p.jitter == 0.10);
    ck_assert_int_eq(p.backoff_initial, 1);
    ck_assert_int_eq(p.backoff_max, 300);
}
END_TEST

START_TEST(test_configured_refresh_without_max_age)
{
    ck_assert_int_eq(after_success(std::nullopt), 600);
    RefreshPolicy p;
    p.refresh = 3600;
    ck_assert_int_eq(after_success(std::nullopt, kMid, p), 3600);
}
END_TEST

START_TEST(test_configured_refresh_not_clamped)
{
    // The operator's own value is used as-is, even outside [min, max].
    RefreshPolicy p;
    p.refresh = 10;
    ck_assert_int_eq(after_success(std::nullopt, kMid, p), 10);
    p.refresh = 200000;
    ck_assert_int_eq(after_success(std::nullopt, kMid, p), 200000);
}
END_TEST

START_TEST(test_max_age_wins_over_refresh)
{
    ck_assert_int_eq(after_success(300), 300);
    ck_assert_int_eq(after_success(3600), 3600);
    RefreshPolicy p;
    p.refresh = 60;
    ck_assert_int_eq(after_success(7200, kMid, p), 7200);
}
END_TEST

START_TEST(test_max_age_clamped_low)
{
    ck_assert_int_eq(after_success(0), 60);
    ck_assert_int_eq(after_success(1), 60);
    ck_assert_int_eq(after_success(59), 60);
    ck_assert_int_eq(after_success(60), 60);
    ck_assert_int_eq(after_success(61), 61);
    ck_assert_int_eq(after_success(-5), 60);
    ck_assert_int_eq(after_success(INT64_MIN), 60);
}
END_TEST

START_TEST(test_max_age_clamped_high)
{
    ck_assert_int_eq(after_success(86399), 86399);
    ck_assert_int_eq(after_success(86400), 86400);
    ck_assert_int_eq(after_success(86401), 86400);
    ck_assert_int_eq(after_success(2147483648), 86400);
    ck_assert_int_eq(after_success(INT64_MAX), 86400);
}
END_TEST

START_TEST(test_custom_clamp_bounds)
{
    RefreshPolicy p;
    p.min_refresh = 120;
    p.max_refresh = 900;
    ck_assert_int_eq(after_success(30, kMid, p), 120);
    ck_assert_int_eq(after_success(500, kMid, p), 500);
    ck_assert_int_eq(after_success(5000, kMid, p), 900);
    // Bounds configured the wrong way round: the floor protects the IdP.
    p.min_refresh = 900;
    p.max_refresh = 120;
    ck_assert_int_eq(after_success(500, kMid, p), 900);
}
END_TEST

START_TEST(test_jitter_bounds)
{
    // 600 +-10%: [540, 660].
    ck_assert_int_eq(after_success(std::nullopt, kLow), 540);
    ck_assert_int_eq(after_success(std::nullopt, kHigh), 660);
    // Clamped max-age is jittered too: 60 +-10%.
    ck_assert_int_eq(after_success(0, kLow), 54);
    ck_assert_int_eq(after_success(0, kHigh), 66);
    ck_assert_int_eq(after_success(86400 * 2, kLow), 77760);
    ck_assert_int_eq(after_success(86400 * 2, kHigh), 95040);

    // Monotonic in jitter_unit and always within the bounds.
    int64_t previous = 0;
    for (int i = 0; i < 1000; i++) {
        const int64_t s = after_success(std::nullopt, i / 1000.0);
        ck_assert_msg(s >= 540 && s <= 660, "unit %f gave %lld", i / 1000.0, static_cast<long long>(s));
        ck_assert_msg(s >= previous, "not monotonic at unit %f", i / 1000.0);
        previous = s;
    }
    ck_assert_int_eq(after_success(std::nullopt, 0.25), 570);
    ck_assert_int_eq(after_success(std::nullopt, 0.75), 630);
}
END_TEST

START_TEST(test_custom_jitter)
{
    RefreshPolicy p;
    p.jitter = 0.0;
    ck_assert_int_eq(after_success(std::nullopt, kLow, p), 600);
    ck_assert_int_eq(after_success(std::nullopt, kHigh, p), 600);
    p.jitter = 0.5;
    ck_assert_int_eq(after_success(std::nullopt, kLow, p), 300);
    ck_assert_int_eq(after_success(std::nullopt, kHigh, p), 900);
}
END_TEST

START_TEST(test_bad_jitter_inputs)
{
    // Out-of-range units act as their bounds; NaN as no jitter.
    ck_assert_int_eq(after_success(std::nullopt, -3.0), 540);
    ck_assert_int_eq(after_success(std::nullopt, 7.0), 660);
    ck_assert_int_eq(after_success(std::nullopt, std::nan("")), 600);
    RefreshPolicy p;
    p.jitter = std::nan("");
    ck_assert_int_eq(after_success(std::nullopt, kLow, p), 600);
    p.jitter = -0.5;
    ck_assert_int_eq(after_success(std::nullopt, kLow, p), 600);
}
END_TEST

START_TEST(test_never_below_one)
{
    RefreshPolicy p;
    p.refresh = 1;
    ck_assert_int_eq(after_success(std::nullopt, kLow, p), 1);
    p.refresh = 0;
    ck_assert_int_eq(after_success(std::nullopt, kMid, p), 1);
    p.refresh = -100;
    ck_assert_int_eq(after_success(std::nullopt, kHigh, p), 1);
    p.refresh = 10;
    p.jitter = 1.0;
    ck_assert_int_eq(after_success(std::nullopt, kLow, p), 1);
    p.min_refresh = 0;
    ck_assert_int_eq(after_success(0, kMid, p), 1);
}
END_TEST

START_TEST(test_no_overflow)
{
    RefreshPolicy p;
    p.refresh = INT64_MAX;
    ck_assert_int_eq(after_success(std::nullopt, kHigh, p), INT64_MAX);
    ck_assert_int_eq(after_success(std::nullopt, kMid, p), INT64_MAX);
    const int64_t low = after_success(std::nullopt, kLow, p);
    ck_assert_msg(low > INT64_MAX / 10 * 8 && low < INT64_MAX, "%lld", static_cast<long long>(low));
    p.max_refresh = INT64_MAX;
    ck_assert_int_eq(after_success(INT64_MAX, kHigh, p), INT64_MAX);
}
END_TEST

START_TEST(test_backoff_sequence)
{
    const RefreshPolicy p;
    const int64_t want[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300};
    for (unsigned n = 1; n <= sizeof want / sizeof want[0]; n++) {
        ck_assert_msg(backoff_after_failure(p, n) == want[n - 1], "failure %u: %lld, want %lld", n,
                      static_cast<long long>(backoff_after_failure(p, n)), static_cast<long long>(want[n - 1]));
    }
}
END_TEST

START_TEST(test_backoff_zero_is_one)
{
    ck_assert_int_eq(backoff_after_failure(RefreshPolicy{}, 0), 1);
    RefreshPolicy p;
    p.backoff_initial = 5;
    ck_assert_int_eq(backoff_after_failure(p, 0), 5);
}
END_TEST

START_TEST(test_backoff_huge_n)
{
    const RefreshPolicy p;
    for (unsigned n : {32u, 63u, 64u, 65u, 1000u, 1000000u, UINT_MAX - 1, UINT_MAX}) {
        ck_assert_msg(backoff_after_failure(p, n) == 300, "failure %u: %lld", n,
                      static_cast<long long>(backoff_after_failure(p, n)));
    }
    // With no practical cap, doubling stops at INT64_MAX instead of wrapping.
    RefreshPolicy big;
    big.backoff_max = INT64_MAX;
    ck_assert_int_eq(backoff_after_failure(big, 63), INT64_C(1) << 62);
    ck_assert_int_eq(backoff_after_failure(big, 64), INT64_MAX);
    ck_assert_int_eq(backoff_after_failure(big, UINT_MAX), INT64_MAX);
    big.backoff_initial = INT64_MAX - 1;
    ck_assert_int_eq(backoff_after_failure(big, 2), INT64_MAX);
}
END_TEST

START_TEST(test_backoff_custom)
{
    RefreshPolicy p;
    p.backoff_initial = 5;
    p.backoff_max = 60;
    const int64_t want[] = {5, 10, 20, 40, 60, 60};
    for (unsigned n = 1; n <= 6; n++) {
        ck_assert_int_eq(backoff_after_failure(p, n), want[n - 1]);
    }
    // A cap below the initial delay wins.
    p.backoff_initial = 10;
    p.backoff_max = 3;
    ck_assert_int_eq(backoff_after_failure(p, 1), 3);
    ck_assert_int_eq(backoff_after_failure(p, 5), 3);
    // Nonsense values still give a positive delay.
    p.backoff_initial = 0;
    p.backoff_max = 0;
    ck_assert_int_eq(backoff_after_failure(p, 1), 1);
    ck_assert_int_eq(backoff_after_failure(p, 9), 1);
    p.backoff_initial = -7;
    p.backoff_max = 8;
    ck_assert_int_eq(backoff_after_failure(p, 1), 1);
    ck_assert_int_eq(backoff_after_failure(p, 4), 8);
}
END_TEST

Suite *refresh_policy_suite()
{
    Suite *s = suite_create("refresh_policy");
    TCase *tc = tcase_create("schedule");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_configured_refresh_without_max_age);
    tcase_add_test(tc, test_configured_refresh_not_clamped);
    tcase_add_test(tc, test_max_age_wins_over_refresh);
    tcase_add_test(tc, test_max_age_clamped_low);
    tcase_add_test(tc, test_max_age_clamped_high);
    tcase_add_test(tc, test_custom_clamp_bounds);
    tcase_add_test(tc, test_jitter_bounds);
    tcase_add_test(tc, test_custom_jitter);
    tcase_add_test(tc, test_bad_jitter_inputs);
    tcase_add_test(tc, test_never_below_one);
    tcase_add_test(tc, test_no_overflow);
    tcase_add_test(tc, test_backoff_sequence);
    tcase_add_test(tc, test_backoff_zero_is_one);
    tcase_add_test(tc, test_backoff_huge_n);
    tcase_add_test(tc, test_backoff_custom);
    suite_add_tcase(s, tc);
    return s;
}
