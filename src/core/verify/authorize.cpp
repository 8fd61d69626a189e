#include "verify/authorize.h"

#include "verify/scope.h"

namespace m2m {

namespace {

Reason check_times(const TimeClaims &times, int64_t now, int64_t leeway)
{
    if (times.status != Reason::ok) {
        return times.status;
    }
    const double t = static_cast<double>(now);
    const double skew = static_cast<double>(leeway);
    // RFC 7519 §4.1.4: the current time must be before exp.
    if (t >= times.exp + skew) {
        return Reason::expired;
    }
    if (times.has_nbf && times.nbf > t + skew) {
        return Reason::not_yet_valid;
    }
    if (times.has_iat && times.iat > t + skew) {
        return Reason::issued_in_future;
    }
    return Reason::ok;
}

}  // namespace

Reason authorize(const VerifiedToken &token, int64_t now, const std::vector<std::string> *required_scopes) noexcept
{
    Reason status = check_times(token.times(), now, token.issuer().leeway);
    if (status != Reason::ok) {
        return status;
    }
    if (token.claims_status() != Reason::ok) {
        return token.claims_status();
    }
    if (required_scopes && !has_all_scopes(token.scopes(), *required_scopes)) {
        return Reason::insufficient_scope;
    }
    return Reason::ok;
}

Reason screen(const Token &token, const IssuerPolicy &issuer, int64_t now, TimeClaims *times) noexcept
{
    Reason status = check_header(token, issuer);
    if (status != Reason::ok) {
        return status;
    }
    const TimeClaims read = read_times(token.claims());
    if (times) {
        *times = read;
    }
    return check_times(read, now, issuer.leeway);
}

}  // namespace m2m
