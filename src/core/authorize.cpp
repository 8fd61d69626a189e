#include "authorize.h"

#include "scope.h"

namespace m2m {

namespace {

Status check_times(const TimeClaims &times, int64_t now, int64_t leeway)
{
    if (times.status != Status::ok) {
        return times.status;
    }
    const double t = static_cast<double>(now);
    const double skew = static_cast<double>(leeway);
    // RFC 7519 §4.1.4: the current time must be before exp.
    if (t >= times.exp + skew) {
        return Status::expired;
    }
    if (times.has_nbf && times.nbf > t + skew) {
        return Status::not_yet_valid;
    }
    if (times.has_iat && times.iat > t + skew) {
        return Status::issued_in_future;
    }
    return Status::ok;
}

}  // namespace

Status authorize(const VerifiedToken &token, int64_t now, const std::vector<std::string> *required_scopes) noexcept
{
    Status status = check_times(token.times(), now, token.issuer().leeway);
    if (status != Status::ok) {
        return status;
    }
    if (token.claims_status() != Status::ok) {
        return token.claims_status();
    }
    if (required_scopes && !has_all_scopes(token.scopes(), *required_scopes)) {
        return Status::insufficient_scope;
    }
    return Status::ok;
}

}  // namespace m2m
