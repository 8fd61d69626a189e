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

}  // namespace m2m
