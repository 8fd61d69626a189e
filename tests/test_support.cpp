#include "test_support.h"

#include "verify/authorize.h"

namespace testsupport {

const char *status_name(m2m::Reason status)
{
    return status == m2m::Reason::ok ? "ok" : m2m::reason_code(status);
}

std::string object_json(const Members &members)
{
    std::string out = "{";
    for (size_t i = 0; i < members.size(); i++) {
        if (i > 0) {
            out += ",";
        }
        out += q(members[i].first) + ":" + members[i].second;
    }
    return out + "}";
}

std::string claims_json(const Members &overrides)
{
    Members members = {
        {"iss", q(kIssuer)},
        {"sub", q("svc-1")},
        {"aud", q(kAudience)},
        {"exp", at(600)},
        {"iat", at(-30)},
        {"client_id", q("svc-1")},
        {"scope", q("tasks:read tasks:write")},
        {"jti", q("jti-1")},
    };
    for (const auto &o : overrides) {
        bool found = false;
        for (auto it = members.begin(); it != members.end(); ++it) {
            if (it->first == o.first) {
                found = true;
                if (o.second.empty()) {
                    members.erase(it);
                } else {
                    it->second = o.second;
                }
                break;
            }
        }
        if (!found && !o.second.empty()) {
            members.push_back(o);
        }
    }
    return object_json(members);
}

std::string q(const std::string &s) { return "\"" + s + "\""; }

std::string at(int64_t offset) { return std::to_string(kNow + offset); }

std::string standard_jwks()
{
    using testkeys::KeyName;
    using testkeys::public_jwk;
    return testkeys::jwk_set({
        public_jwk(KeyName::rsa, "rsa-1"),
        public_jwk(KeyName::p256, "ec-256"),
        public_jwk(KeyName::p384, "ec-384"),
        public_jwk(KeyName::p521, "ec-521"),
    });
}

std::shared_ptr<const m2m::KeySet> load_keys(const std::string &jwks)
{
    m2m::JwksParseResult result = m2m::parse_jwks(jwks);
    ck_assert_status(result.status, m2m::Reason::ok);
    std::shared_ptr<const m2m::KeySet> keys = m2m::share_keys(std::move(result.keys));
    ck_assert_ptr_nonnull(keys.get());
    return keys;
}

std::shared_ptr<const m2m::KeySet> standard_keys()
{
    static std::shared_ptr<const m2m::KeySet> keys;
    if (!keys) {
        keys = load_keys(standard_jwks());
        ck_assert_uint_eq(keys->keys().size(), 4);
    }
    return keys;
}

TestIssuer make_policy(std::shared_ptr<const m2m::KeySet> keys)
{
    TestIssuer issuer;
    issuer.name = "test";
    issuer.issuer = kIssuer;
    issuer.audiences = {kAudience};
    if (keys) {
        issuer.keys.replace(std::move(keys), 1);
    }
    return issuer;
}

Verdict verify(const std::string &compact, const std::vector<const TestIssuer *> &issuers, int64_t now,
               const std::vector<std::string> *scopes)
{
    Verdict v;
    m2m::Token token;
    v.status = m2m::Token::parse(compact, &token);
    if (v.status != m2m::Reason::ok) {
        return v;
    }
    for (const TestIssuer *issuer : issuers) {
        if (issuer->issuer == token.issuer()) {
            v.issuer = issuer;
            break;
        }
    }
    if (!v.issuer) {
        v.status = m2m::Reason::wrong_issuer;
        return v;
    }
    v.status = m2m::screen(token, *v.issuer, now);
    if (v.status != m2m::Reason::ok) {
        return v;
    }
    v.status = m2m::authenticate(std::move(token), *v.issuer, v.issuer->keys, &v.token);
    ck_assert_msg((v.status == m2m::Reason::ok) == (v.token != nullptr), "authenticate: %s with%s a token",
                  status_name(v.status), v.token ? "" : "out");
    if (v.token) {
        v.status = m2m::authorize(*v.token, now, scopes);
    }
    return v;
}

m2m::Reason check_token(const std::string &compact, const TestIssuer &issuer, int64_t now, bool *signature_verified)
{
    if (signature_verified) {
        *signature_verified = false;
    }
    m2m::Token token;
    m2m::Reason status = m2m::Token::parse(compact, &token);
    if (status != m2m::Reason::ok) {
        return status;
    }
    ck_assert_ptr_nonnull(issuer.keys.set.get());
    status = m2m::screen(token, issuer, now);
    if (status != m2m::Reason::ok) {
        return status;
    }
    std::shared_ptr<const m2m::VerifiedToken> verified;
    status = m2m::authenticate(std::move(token), issuer, issuer.keys, &verified);
    if (!verified) {
        return status;
    }
    if (signature_verified) {
        *signature_verified = true;
    }
    ck_assert(&verified->issuer() == &issuer);
    ck_assert_uint_eq(verified->generation(), issuer.keys.generation);
    return m2m::authorize(*verified, now, nullptr);
}

m2m::IssuerReport remote_issuer()
{
    m2m::IssuerReport i;
    i.name = "corp";
    i.issuer = "https://idp.example.com/";
    i.source = "discovery";
    i.location = "https://idp.example.com/.well-known/openid-configuration";
    i.jwks_uri = "https://idp.example.com/jwks";
    i.keys = {{"k1", "RS256"}, {"k2", "EC P-256"}};
    i.generation = 7;
    i.last_attempt = kNow + 100;
    i.last_success = kNow;
    i.last_error_time = kNow + 100;
    i.next_refresh = kNow + 700;
    i.last_error = "timeout";
    i.fetch_ok = 5;
    i.fetch_failed = 2;
    i.fetch_not_modified = 3;
    i.fetch_kid_triggered = 1;
    return i;
}

m2m::IssuerReport file_issuer()
{
    m2m::IssuerReport i;
    i.name = "static";
    i.issuer = "https://static.example/";
    i.source = "jwks_file";
    i.location = "/etc/nginx/m2m/jwks.json";
    i.keys = {{"", "RSA"}};
    i.generation = 1;
    return i;
}

m2m::ModuleReport sample_report()
{
    m2m::ModuleReport r;
    r.allowed = 42;
    r.refused = {{"expired", 3}, {"unknown_kid", 1}};
    r.token_cache = {4194304, 1000, 12, 2};
    r.token_endpoint = {250, 9, 4};
    r.issuers = {remote_issuer(), file_issuer()};
    return r;
}

m2m::JsonPtr json(const char *text)
{
    json_error_t error;
    m2m::JsonPtr value(json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &error));
    ck_assert_msg(value != nullptr, "bad test JSON %s: %s", text, error.text);
    return value;
}

}  // namespace testsupport
