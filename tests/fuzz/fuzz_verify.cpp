#include "fuzz_verify.h"

#include <string>
#include <utility>

#include "verify/authorize.h"
#include "fuzz_support.h"

namespace fuzz {

namespace {

// authorize() on one verified token: the same answer every time, the
// location's scopes judged last, and the issuer's own claim rules after the
// times.
m2m::Reason check_authorize(const m2m::VerifiedToken &token, int64_t now)
{
    const m2m::Reason status = m2m::authorize(token, now, nullptr);
    if (m2m::authorize(token, now, nullptr) != status) {
        fail("authorize() changed its mind");
    }
    const std::vector<std::string> none;
    const std::vector<std::string> never = {"never granted\x01"};  // not a scope-token: dropped from any claim
    const m2m::Reason with_own = m2m::authorize(token, now, &token.scopes());
    const m2m::Reason with_none = m2m::authorize(token, now, &none);
    const m2m::Reason with_never = m2m::authorize(token, now, &never);
    if (with_own != status || with_none != status) {
        fail("scopes the token has changed the verdict");
    }
    if (with_never != (status == m2m::Reason::ok ? m2m::Reason::insufficient_scope : status)) {
        fail("a missing scope was not reported last");
    }
    const bool time_failure = status == m2m::Reason::expired || status == m2m::Reason::not_yet_valid ||
                              status == m2m::Reason::issued_in_future;
    if (token.times().status != m2m::Reason::ok) {
        if (status != token.times().status) {
            fail("a malformed or missing time claim was not reported first");
        }
    } else if (!time_failure && status != token.claims_status()) {
        fail("the issuer's own claim rules were not reported right after the times");
    }
    return status;
}

}  // namespace

Verdict verify(std::string_view compact, const std::vector<const Issuer *> &issuers, int64_t now,
               void (*parsed)(const m2m::Token &))
{
    Verdict v;
    m2m::Token token;
    v.status = m2m::Token::parse(compact, &token);
    if (v.status != m2m::Reason::ok) {
        return v;
    }
    if (parsed) {
        parsed(token);
    }
    for (const Issuer *issuer : issuers) {
        if (issuer->policy.issuer == token.issuer()) {
            v.issuer = issuer;
            break;
        }
    }
    if (!v.issuer) {
        v.status = m2m::Reason::wrong_issuer;
        return v;
    }
    v.status = m2m::screen(token, v.issuer->policy, now);
    if (v.status != m2m::Reason::ok) {
        return v;
    }
    v.status = m2m::authenticate(std::move(token), v.issuer->policy, v.issuer->keys, &v.token);
    if ((v.status == m2m::Reason::ok) != (v.token != nullptr)) {
        fail("authenticate() returned a token with a failure, or none with ok");
    }
    if (!v.token) {
        return v;
    }
    if (&v.token->issuer() != &v.issuer->policy || v.token->generation() != v.issuer->keys.generation) {
        fail("a verified token that does not record its issuer and key generation");
    }
    v.status = check_authorize(*v.token, now);
    return v;
}

}  // namespace fuzz
