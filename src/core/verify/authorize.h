// The second step from a token to a verdict, run on every request: an
// authenticated token (authenticate.h) judged here and now.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "verify/authenticate.h"
#include "reason.h"

namespace m2m {

// In this order: the times (malformed_claim, missing_exp, expired,
// not_yet_valid, issued_in_future against `now` with the issuer's leeway),
// then the issuer's own claim rules as authenticate() found them
// (wrong_issuer, wrong_audience, malformed_claim), then the location's
// `required_scopes` (null: none), all of which must be granted
// (insufficient_scope). Only the first failure is reported, so an expired
// token for another audience is expired.
Reason authorize(const VerifiedToken &token, int64_t now, const std::vector<std::string> *required_scopes) noexcept;

// Before authenticate(), what refuses a token without a key or a signature
// check, cheapest first: check_header(), then the times as authorize() checks
// them. A flood of expired or misdirected tokens then costs no public-key
// operation, and an expired token never makes a worker fetch keys for its
// unknown kid. The claims are not trusted yet: a token that passes is judged
// again by authorize() once its signature holds. The times it read go to
// *times when it got as far as reading them (times may be null).
Reason screen(const Token &token, const IssuerPolicy &issuer, int64_t now, TimeClaims *times = nullptr) noexcept;

}  // namespace m2m
