// The two steps apart: authenticate() once, authorize() per request. A
// verified token depends on neither the clock nor the location, records the
// issuer and the key generation it was verified under, and keeps the order
// in which failures were always reported (alg ... signature, exp, nbf, iat,
// iss, aud, then scope), although aud is read in the first step and the
// times are judged in the second.
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "verify/authenticate.h"
#include "verify/authorize.h"
#include "test_keys.h"
#include "test_suites.h"
#include "test_support.h"

using m2m::Reason;
using m2m::VerifiedToken;
using testkeys::KeyName;
using namespace testsupport;

namespace {

// Only authenticate() makes one, and what it hands out is const.
static_assert(!std::is_default_constructible<VerifiedToken>::value, "a verified token comes from authenticate()");

std::string rs256(const Members &overrides = {})
{
    return testkeys::make_token("RS256", KeyName::rsa, "rsa-1", claims_json(overrides));
}

// authenticate() alone, which must succeed.
std::shared_ptr<const VerifiedToken> authenticated(const std::string &compact, const TestIssuer &issuer)
{
    m2m::Token token;
    ck_assert_status(m2m::Token::parse(compact, &token), Reason::ok);
    std::shared_ptr<const VerifiedToken> verified;
    ck_assert_status(m2m::authenticate(std::move(token), issuer, issuer.keys, &verified), Reason::ok);
    ck_assert_ptr_nonnull(verified.get());
    return verified;
}

Reason at(const VerifiedToken &token, int64_t now, const std::vector<std::string> *scopes = nullptr)
{
    return m2m::authorize(token, now, scopes);
}

// The module's path for the standard token with `overrides`, at kNow.
void expect_order(const Members &overrides, Reason want, const char *what)
{
    const TestIssuer issuer = make_policy();
    const Reason got = verify(rs256(overrides), {&issuer}).status;
    ck_assert_msg(got == want, "%s: got %s, want %s", what, status_name(got), status_name(want));
}

}  // namespace

START_TEST(test_one_token_at_two_times)
{
    const TestIssuer issuer = make_policy();
    auto token = authenticated(rs256({{"exp", testsupport::at(600)}}), issuer);
    // Valid now, expired once exp + leeway has passed, valid again if the
    // clock is asked earlier: the token keeps no trace of an earlier answer.
    ck_assert_status(at(*token, kNow), Reason::ok);
    ck_assert_status(at(*token, kNow + 659), Reason::ok);
    ck_assert_status(at(*token, kNow + 660), Reason::expired);
    ck_assert_status(at(*token, kNow + 86400), Reason::expired);
    ck_assert_status(at(*token, kNow), Reason::ok);

    // nbf and iat the other way round: refused early, accepted later.
    auto early = authenticated(rs256({{"nbf", testsupport::at(3600)}, {"exp", testsupport::at(7200)}}), issuer);
    ck_assert_status(at(*early, kNow), Reason::not_yet_valid);
    ck_assert_status(at(*early, kNow + 3540), Reason::ok);
    auto future = authenticated(rs256({{"iat", testsupport::at(3600)}, {"exp", testsupport::at(7200)}}), issuer);
    ck_assert_status(at(*future, kNow), Reason::issued_in_future);
    ck_assert_status(at(*future, kNow + 3540), Reason::ok);
    ck_assert_status(at(*future, kNow + 7260), Reason::expired);
}
END_TEST

START_TEST(test_one_token_in_two_locations)
{
    const TestIssuer issuer = make_policy();
    auto token = authenticated(rs256(), issuer);  // scope "tasks:read tasks:write"
    const std::vector<std::string> reader = {"tasks:read"};
    const std::vector<std::string> writer = {"tasks:read", "tasks:write"};
    const std::vector<std::string> admin = {"admin:all"};
    const std::vector<std::string> none;
    // The same token, shared, judged by each location's auth_m2m_scope.
    std::shared_ptr<const VerifiedToken> shared = token;
    ck_assert_status(at(*token, kNow, &reader), Reason::ok);
    ck_assert_status(at(*shared, kNow, &admin), Reason::insufficient_scope);
    ck_assert_status(at(*token, kNow, &writer), Reason::ok);
    ck_assert_status(at(*shared, kNow, &none), Reason::ok);
    ck_assert_status(at(*token, kNow, nullptr), Reason::ok);
    ck_assert_status(at(*token, kNow, &admin), Reason::insufficient_scope);
    ck_assert_status(at(*token, kNow, &reader), Reason::ok);
    ck_assert_std_str_eq(token->scope_string(), "tasks:read tasks:write");
    // Scopes are judged after everything else.
    ck_assert_status(at(*token, kNow + 86400, &admin), Reason::expired);
}
END_TEST

START_TEST(test_verified_token_records_issuer_and_generation)
{
    TestIssuer issuer = make_policy();
    issuer.keys.replace(standard_keys(), 41);
    auto token = authenticated(rs256(), issuer);
    ck_assert(&token->issuer() == &issuer);
    ck_assert_uint_eq(token->generation(), 41);

    // New keys do not change a token verified before them: it names the
    // generation it was checked under, for whoever caches it to compare.
    issuer.keys.replace(load_keys(testkeys::jwk_set({testkeys::public_jwk(KeyName::rsa_other, "rsa-1")})), 42);
    ck_assert_uint_eq(token->generation(), 41);
    ck_assert_status(at(*token, kNow), Reason::ok);
    // ... while the same text under the new keys no longer verifies.
    ck_assert_status(check_token(rs256(), issuer), Reason::bad_signature);

    // Authenticating the same text twice gives equal tokens.
    issuer.keys.replace(standard_keys(), 43);
    auto again = authenticated(rs256(), issuer);
    ck_assert_uint_eq(again->generation(), 43);
    ck_assert_std_str_eq(again->token().compact(), token->token().compact());
    ck_assert_std_str_eq(again->client_id(), token->client_id());
    ck_assert_std_str_eq(again->scope_string(), token->scope_string());
    ck_assert_status(again->claims_status(), token->claims_status());
}
END_TEST

START_TEST(test_claim_failures_recorded_not_reported)
{
    // authenticate() succeeds for a signed token with a wrong audience and
    // records it; authorize() reports it when the times pass.
    const TestIssuer issuer = make_policy();
    auto token = authenticated(rs256({{"aud", q("api://other")}}), issuer);
    ck_assert_status(token->claims_status(), Reason::wrong_audience);
    ck_assert_status(at(*token, kNow), Reason::wrong_audience);
    ck_assert_status(at(*token, kNow + 86400), Reason::expired);

    auto malformed = authenticated(rs256({{"aud", "42"}, {"exp", q("soon")}}), issuer);
    ck_assert_status(malformed->claims_status(), Reason::malformed_claim);
    ck_assert_status(malformed->times().status, Reason::malformed_claim);

    auto no_exp = authenticated(rs256({{"exp", ""}}), issuer);
    ck_assert_status(no_exp->times().status, Reason::missing_exp);
    ck_assert_status(at(*no_exp, kNow), Reason::missing_exp);
}
END_TEST

// Every pair of failures split across the two steps, reported as before.
START_TEST(test_failure_order_across_the_steps)
{
    const std::string other_aud = q("api://other");
    // Times (second step) before aud (recorded in the first).
    const std::string past = testsupport::at(-3600), later = testsupport::at(3600);
    expect_order({{"exp", past}, {"aud", other_aud}}, Reason::expired, "expired, wrong aud");
    expect_order({{"nbf", later}, {"aud", other_aud}}, Reason::not_yet_valid, "nbf ahead, wrong aud");
    expect_order({{"iat", later}, {"aud", other_aud}}, Reason::issued_in_future, "iat ahead, wrong aud");
    expect_order({{"exp", ""}, {"aud", other_aud}}, Reason::missing_exp, "no exp, wrong aud");
    expect_order({{"exp", q("x")}, {"aud", other_aud}}, Reason::malformed_claim, "exp a string, wrong aud");
    expect_order({{"exp", past}, {"aud", "42"}}, Reason::expired, "expired, aud a number");
    expect_order({{"exp", past}, {"aud", "[\"api://tasks\",7]"}}, Reason::expired, "expired, aud array mixed");
    expect_order({{"exp", past}, {"aud", ""}}, Reason::expired, "expired, no aud");
    // Within the times: exp, nbf, iat.
    expect_order({{"exp", past}, {"nbf", later}, {"aud", other_aud}}, Reason::expired, "expired, nbf ahead");
    expect_order({{"nbf", later}, {"iat", later}, {"aud", other_aud}}, Reason::not_yet_valid, "nbf and iat ahead");
    // Each alone, for contrast.
    expect_order({{"aud", other_aud}}, Reason::wrong_audience, "wrong aud");
    expect_order({{"aud", "42"}}, Reason::malformed_claim, "aud a number");

    // iss (checked again by authenticate) after the times, before aud.
    const TestIssuer issuer = make_policy();
    ck_assert_status(check_token(rs256({{"iss", q("x")}, {"exp", testsupport::at(-3600)}}), issuer), Reason::expired);
    ck_assert_status(check_token(rs256({{"iss", q("x")}, {"aud", other_aud}}), issuer), Reason::wrong_issuer);
    ck_assert_status(check_token(rs256({{"iss", q("x")}, {"nbf", testsupport::at(3600)}}), issuer),
                     Reason::not_yet_valid);

    // Scope (second step, the location's) after everything else.
    const std::vector<std::string> admin = {"admin:all"};
    auto scoped = [&](const Members &overrides) { return verify(rs256(overrides), {&issuer}, kNow, &admin).status; };
    ck_assert_status(scoped({}), Reason::insufficient_scope);
    ck_assert_status(scoped({{"aud", other_aud}}), Reason::wrong_audience);
    ck_assert_status(scoped({{"exp", testsupport::at(-3600)}}), Reason::expired);
    ck_assert_status(scoped({{"scope", q("admin:all")}}), Reason::ok);

    // The first step's own failures end it: no token, nothing judged.
    const std::string forged = testkeys::make_token("RS256", KeyName::rsa_other, "rsa-1",
                                                    claims_json({{"aud", other_aud}}));
    Verdict v = verify(forged, {&issuer}, kNow, &admin);
    ck_assert_status(v.status, Reason::bad_signature);
    ck_assert_ptr_null(v.token.get());

    // The checks that need no key come before it (screen()): a forged
    // expired token is refused as expired, with no signature check and no
    // token.
    const std::string forged_expired = testkeys::make_token(
        "RS256", KeyName::rsa_other, "rsa-1", claims_json({{"exp", testsupport::at(-3600)}, {"aud", other_aud}}));
    v = verify(forged_expired, {&issuer}, kNow, &admin);
    ck_assert_status(v.status, Reason::expired);
    ck_assert_ptr_null(v.token.get());
}
END_TEST

// Before the first step's checks: parsing, then the issuer by "iss", then
// screen() (the alg, crit, typ, the times), then whether the issuer has keys
// at all: a token that cannot pass is refused at once, not kept waiting for
// keys.
START_TEST(test_order_before_the_signature)
{
    TestIssuer keyless = make_policy(nullptr);
    ck_assert_status(verify(rs256(), {&keyless}).status, Reason::keys_unavailable);
    ck_assert_status(verify(rs256({{"exp", testsupport::at(-3600)}}), {&keyless}).status, Reason::expired);
    keyless.algorithms = m2m::AlgorithmSet();
    keyless.algorithms.add(m2m::Algorithm::ES256);
    ck_assert_status(verify(rs256(), {&keyless}).status, Reason::alg_not_allowed);
    ck_assert_status(verify(rs256({{"iss", q("https://elsewhere.example/")}}), {&keyless}).status,
                     Reason::wrong_issuer);
    ck_assert_status(verify("a.b", {&keyless}).status, Reason::malformed);
    const TestIssuer issuer = make_policy();
    ck_assert_status(verify(rs256({{"iss", "42"}}), {&issuer}).status, Reason::malformed_claim);
}
END_TEST

Suite *authorize_suite()
{
    Suite *s = suite_create("authorize");
    TCase *steps = tcase_create("two steps");
    tcase_add_test(steps, test_one_token_at_two_times);
    tcase_add_test(steps, test_one_token_in_two_locations);
    tcase_add_test(steps, test_verified_token_records_issuer_and_generation);
    suite_add_tcase(s, steps);

    TCase *order = tcase_create("order");
    tcase_add_test(order, test_claim_failures_recorded_not_reported);
    tcase_add_test(order, test_failure_order_across_the_steps);
    tcase_add_test(order, test_order_before_the_signature);
    suite_add_tcase(s, order);
    return s;
}
