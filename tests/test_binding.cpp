// cnf as RFC 8705 §3.1 and RFC 9449 §6.1 use it, and the two binding rules.
#include <string>
#include <string_view>

#include "verify/binding.h"
#include "test_suites.h"
#include "test_support.h"

using m2m::check_certificate_binding;
using m2m::check_dpop_binding;
using m2m::Confirmation;
using m2m::DpopMode;
using m2m::read_confirmation;
using m2m::Reason;
using m2m::Scheme;
using testsupport::json;

namespace {

// base64url(SHA-256("certificate")), and RFC 7638 §3.1's thumbprint.
constexpr std::string_view kX5t = "A9Zt0Ig1wco_EozOrNHzGslBYwlrIPRFroQoW8CDLXI";
constexpr std::string_view kJkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";

Confirmation confirmation_of(const std::string &claims)
{
    return read_confirmation(json(claims.c_str()).get());
}

}  // namespace

START_TEST(test_no_cnf_binds_nothing)
{
    auto cnf = confirmation_of("{\"sub\":\"x\"}");
    ck_assert(cnf.status == Reason::ok);
    ck_assert(cnf.x5t_s256.empty() && cnf.jkt.empty());
    // other confirmation methods are not ours to check
    cnf = confirmation_of("{\"cnf\":{\"kid\":\"k1\"}}");
    ck_assert(cnf.status == Reason::ok && cnf.x5t_s256.empty() && cnf.jkt.empty());
}
END_TEST

START_TEST(test_cnf_members_read)
{
    auto claims = json(("{\"cnf\":{\"x5t#S256\":\"" + std::string(kX5t) + "\",\"jkt\":\"" + std::string(kJkt)
                        + "\"}}").c_str());
    auto cnf = read_confirmation(claims.get());
    ck_assert(cnf.status == Reason::ok);
    ck_assert(cnf.x5t_s256 == kX5t);
    ck_assert(cnf.jkt == kJkt);
}
END_TEST

START_TEST(test_malformed_cnf_refused)
{
    const char *bad[] = {
        "{\"cnf\":\"x\"}",
        "{\"cnf\":[]}",
        "{\"cnf\":{\"jkt\":1}}",
        "{\"cnf\":{\"jkt\":\"\"}}",
        "{\"cnf\":{\"x5t#S256\":null}}",
        // 42 and 44 characters
        "{\"cnf\":{\"jkt\":\"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4\"}}",
        "{\"cnf\":{\"jkt\":\"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4II\"}}",
        // padding, standard base64, a last character with bits beyond 256
        "{\"cnf\":{\"jkt\":\"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4=\"}}",
        "{\"cnf\":{\"jkt\":\"0ZcOCORZNYy+DWpqq30jZyJGHTN0d2HglBV3uiguA4I\"}}",
        "{\"cnf\":{\"jkt\":\"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4J\"}}",
        // RFC 8705 §3.1's example: its last character carries bits no
        // SHA-256 digest has, so no certificate could ever match it
        "{\"cnf\":{\"x5t#S256\":\"bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2\"}}",
    };
    for (const char *claims : bad) {
        auto cnf = confirmation_of(claims);
        ck_assert_msg(cnf.status == Reason::malformed_claim, "%s", claims);
        ck_assert(cnf.x5t_s256.empty() && cnf.jkt.empty());
    }
}
END_TEST

START_TEST(test_certificate_binding)
{
    Confirmation bound{Reason::ok, kX5t, {}};
    Confirmation unbound;
    std::string_view same = kX5t, other = kJkt;
    std::string_view shorter = kX5t.substr(0, 42);

    ck_assert(check_certificate_binding(bound, false, &same) == Reason::ok);
    ck_assert(check_certificate_binding(bound, true, &same) == Reason::ok);
    ck_assert(check_certificate_binding(bound, false, &other) == Reason::certificate_mismatch);
    ck_assert(check_certificate_binding(bound, false, &shorter) == Reason::certificate_mismatch);
    ck_assert(check_certificate_binding(bound, false, nullptr) == Reason::certificate_mismatch);
    ck_assert(check_certificate_binding(unbound, false, nullptr) == Reason::ok);
    ck_assert(check_certificate_binding(unbound, false, &same) == Reason::ok);
    ck_assert(check_certificate_binding(unbound, true, &same) == Reason::unbound_token);
    // bound to a DPoP key only is not bound to a certificate
    Confirmation dpop{Reason::ok, {}, kJkt};
    ck_assert(check_certificate_binding(dpop, true, &same) == Reason::unbound_token);
}
END_TEST

START_TEST(test_dpop_binding)
{
    Confirmation bound{Reason::ok, {}, kJkt};
    Confirmation unbound;

    for (DpopMode mode : {DpopMode::off, DpopMode::allowed, DpopMode::required}) {
        ck_assert(check_dpop_binding(bound, mode, Scheme::bearer, {}) == Reason::dpop_bound_bearer);
    }
    ck_assert(check_dpop_binding(unbound, DpopMode::off, Scheme::bearer, {}) == Reason::ok);
    ck_assert(check_dpop_binding(unbound, DpopMode::allowed, Scheme::bearer, {}) == Reason::ok);
    ck_assert(check_dpop_binding(unbound, DpopMode::required, Scheme::bearer, {}) == Reason::dpop_required);

    ck_assert(check_dpop_binding(bound, DpopMode::allowed, Scheme::dpop, kJkt) == Reason::ok);
    ck_assert(check_dpop_binding(bound, DpopMode::required, Scheme::dpop, kJkt) == Reason::ok);
    ck_assert(check_dpop_binding(bound, DpopMode::allowed, Scheme::dpop, kX5t) == Reason::dpop_key_mismatch);
    ck_assert(check_dpop_binding(bound, DpopMode::allowed, Scheme::dpop, {}) == Reason::dpop_key_mismatch);
    ck_assert(check_dpop_binding(unbound, DpopMode::allowed, Scheme::dpop, kJkt) == Reason::dpop_unbound_token);
}
END_TEST

START_TEST(test_same_digest)
{
    ck_assert(m2m::same_digest(kJkt, std::string(kJkt)));
    ck_assert(!m2m::same_digest(kJkt, kX5t));
    ck_assert(!m2m::same_digest(kJkt, kJkt.substr(1)));
    ck_assert(m2m::same_digest({}, {}));
}
END_TEST

Suite *binding_suite()
{
    Suite *s = suite_create("binding");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_no_cnf_binds_nothing);
    tcase_add_test(tc, test_cnf_members_read);
    tcase_add_test(tc, test_malformed_cnf_refused);
    tcase_add_test(tc, test_certificate_binding);
    tcase_add_test(tc, test_dpop_binding);
    tcase_add_test(tc, test_same_digest);
    suite_add_tcase(s, tc);
    return s;
}
