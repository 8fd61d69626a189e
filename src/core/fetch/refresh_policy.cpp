#include "fetch/refresh_policy.h"

#include <algorithm>
#include <cmath>

namespace m2m {

int64_t next_refresh_after_success(const RefreshPolicy &policy, std::optional<int64_t> max_age,
                                   double jitter_unit) noexcept
{
    int64_t base = policy.refresh;
    if (max_age) {
        // min wins over max if the two were configured the wrong way round:
        // the floor is what protects the IdP.
        base = std::max(std::min(*max_age, policy.max_refresh), policy.min_refresh);
    }

    // Out-of-range or NaN inputs degrade to "no jitter" or its bounds rather
    // than to a negative or absurd delay.
    const double unit = std::isnan(jitter_unit) ? 0.5 : std::clamp(jitter_unit, 0.0, 1.0);
    const double jitter = std::isnan(policy.jitter) ? 0.0 : std::clamp(policy.jitter, 0.0, 1.0);
    const double seconds = std::round(static_cast<double>(base) * (1.0 + jitter * (2.0 * unit - 1.0)));

    // 2^63 as a double; anything at or past it does not fit an int64_t.
    if (seconds >= 9223372036854775808.0) {
        return INT64_MAX;
    }
    return std::max<int64_t>(1, static_cast<int64_t>(seconds));
}

int64_t backoff_after_failure(const RefreshPolicy &policy, unsigned failures) noexcept
{
    const int64_t cap = std::max<int64_t>(1, policy.backoff_max);
    int64_t delay = std::min(cap, std::max<int64_t>(1, policy.backoff_initial));
    // Doubling reaches any int64_t cap within 63 steps, so the loop is short
    // even for a failure count in the billions.
    for (unsigned n = 1; n < failures && delay < cap; n++) {
        delay = delay > cap / 2 ? cap : delay * 2;
    }
    return delay;
}

}  // namespace m2m
