// Shared fixtures for the core's Check suites: a fixed clock, a standard
// issuer, claim sets and a readable status assertion.
#pragma once

#include <check.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "verify/authenticate.h"
#include "keys/issuer_keys.h"
#include "verify/issuer_policy.h"
#include "keys/jwks.h"
#include "json.h"
#include "reason.h"
#include "report/status_page.h"
#include "test_keys.h"
#include "token/token.h"

namespace testsupport {

// Every algorithm with the default key set's key and kid for it.
struct AlgCase {
    const char *alg;
    testkeys::KeyName key;
    const char *kid;
};

inline const AlgCase kAlgCases[] = {
    {"RS256", testkeys::KeyName::rsa, "rsa-1"},   {"RS384", testkeys::KeyName::rsa, "rsa-1"},
    {"RS512", testkeys::KeyName::rsa, "rsa-1"},   {"PS256", testkeys::KeyName::rsa, "rsa-1"},
    {"PS384", testkeys::KeyName::rsa, "rsa-1"},   {"PS512", testkeys::KeyName::rsa, "rsa-1"},
    {"ES256", testkeys::KeyName::p256, "ec-256"}, {"ES384", testkeys::KeyName::p384, "ec-384"},
    {"ES512", testkeys::KeyName::p521, "ec-521"},
};
constexpr int kAlgCaseCount = sizeof(kAlgCases) / sizeof(kAlgCases[0]);

// Every test passes time explicitly; this is "now" unless a test says otherwise.
constexpr int64_t kNow = 1700000000;
constexpr const char *kIssuer = "https://issuer.example.com/";
constexpr const char *kAudience = "api://tasks";

// "ok" for Reason::ok, else the reason code.
const char *status_name(m2m::Reason status);

// A JSON object text built from (name, raw JSON value) pairs.
using Members = std::vector<std::pair<std::string, std::string>>;
std::string object_json(const Members &members);

// The standard claims, in this order:
//   iss=kIssuer sub="svc-1" aud=kAudience exp=kNow+600 iat=kNow-30
//   client_id="svc-1" scope="tasks:read tasks:write" jti="jti-1"
// An override with the same name replaces the value in place, an empty value
// removes the member, and a new name is appended.
std::string claims_json(const Members &overrides = {});

// A quoted JSON string (no escaping: test values are plain ASCII).
std::string q(const std::string &s);
// A JSON number relative to kNow.
std::string at(int64_t offset);

// rsa as "rsa-1", p256 as "ec-256", p384 as "ec-384", p521 as "ec-521".
std::string standard_jwks();

// parse_jwks() that must succeed (fails the test otherwise).
std::shared_ptr<const m2m::KeySet> load_keys(const std::string &jwks);
std::shared_ptr<const m2m::KeySet> standard_keys();

// An issuer as the module holds one: its policy, which is configuration,
// and its keys, which are not.
struct TestIssuer : m2m::IssuerPolicy {
    m2m::IssuerKeys keys;
};

// issuer kIssuer, audiences {kAudience}, default everything else; the keys
// in generation 1 (none at all for a null set).
TestIssuer make_policy(std::shared_ptr<const m2m::KeySet> keys = standard_keys());

// What a request comes to along the module's path: the token parsed, its
// issuer picked among `issuers` by "iss" (else wrong_issuer), authenticated
// with that issuer's keys, then authorized at `now` against `scopes`.
struct Verdict {
    m2m::Reason status = m2m::Reason::missing_token;
    const TestIssuer *issuer = nullptr;               // the one "iss" named
    std::shared_ptr<const m2m::VerifiedToken> token;  // once the signature held
};
Verdict verify(const std::string &compact, const std::vector<const TestIssuer *> &issuers, int64_t now = kNow,
               const std::vector<std::string> *scopes = nullptr);

// Token::parse, then authenticate and authorize against `issuer` whatever
// the token's "iss": the first non-ok status.
m2m::Reason check_token(const std::string &compact, const TestIssuer &issuer, int64_t now = kNow,
                        bool *signature_verified = nullptr);

// Reason page data: issuer "corp" (discovery, two keys, a last error) and
// issuer "static" (jwks_file, one key without kid); sample_report() has both,
// 42 allowed requests, two refusal counters, a 4 MiB token cache with
// 1000 hits, 12 misses and 2 evictions, and token endpoints that issued 250
// tokens and refused 9 requests, 4 of them for failed client authentication.
m2m::IssuerReport remote_issuer();
m2m::IssuerReport file_issuer();
m2m::ModuleReport sample_report();

// A JSON value parsed by jansson directly (any type); fails the test if invalid.
m2m::JsonPtr json(const char *text);

// What a core function that fails only when memory runs out returned; fails
// the test on an empty optional.
template <typename T>
T value_of(std::optional<T> result)
{
    ck_assert_msg(result.has_value(), "empty optional: out of memory");
    return std::move(*result);
}

}  // namespace testsupport

#define ck_assert_status(got, want)                                                                   \
    do {                                                                                              \
        const m2m::Reason got_ = (got);                                                               \
        const m2m::Reason want_ = (want);                                                             \
        ck_assert_msg(got_ == want_, "%s: got %s, want %s", #got, testsupport::status_name(got_),   \
                      testsupport::status_name(want_));                                               \
    } while (0)

// Compares as std::string (embedded NULs included) and keeps both values
// alive for the message.
#define ck_assert_std_str_eq(got, want)                                                                    \
    do {                                                                                                   \
        const std::string got_s_(got);                                                                     \
        const std::string want_s_(want);                                                                   \
        ck_assert_msg(got_s_ == want_s_, "%s: got \"%s\", want \"%s\"", #got, got_s_.c_str(), want_s_.c_str()); \
    } while (0)
