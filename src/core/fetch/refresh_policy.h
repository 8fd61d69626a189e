// When to fetch an issuer's keys again. Pure arithmetic, with the random
// jitter supplied by the caller, so every schedule is testable.
#pragma once

#include <cstdint>
#include <optional>

namespace m2m {

struct RefreshPolicy {
    int64_t refresh = 600;        // configured refresh, seconds
    int64_t min_refresh = 60;     // clamp for server max-age
    int64_t max_refresh = 86400;
    double jitter = 0.10;         // +-10%
    int64_t backoff_initial = 1;
    int64_t backoff_max = 300;
};

// Seconds until the next refresh after a successful (or 304) fetch. The
// server's max_age, when given, wins over `refresh` but is clamped to
// [min_refresh, max_refresh]: "max-age=0" must not make every worker hammer
// the IdP, nor a year-long max-age pin a key past its rotation. The
// configured refresh is the operator's own choice and is used as-is. Then
// jitter, result * (1 + jitter * (2 * jitter_unit - 1)) with jitter_unit in
// [0, 1), so that many gateways started together do not fetch in lockstep.
// Never below 1.
int64_t next_refresh_after_success(const RefreshPolicy &policy, std::optional<int64_t> max_age,
                                   double jitter_unit) noexcept;

// Delay after the n-th consecutive failure (n >= 1): backoff_initial doubling
// each time (1, 2, 4, ...), capped at backoff_max; n == 0 counts as 1. Never
// below 1 and never overflows, however many failures.
int64_t backoff_after_failure(const RefreshPolicy &policy, unsigned failures) noexcept;

}  // namespace m2m
