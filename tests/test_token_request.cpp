// The token endpoint's decision: every RFC 6749 §5.2 error, both client
// authentication methods, scope down-selection, audience selection, and the
// order in which the checks run.
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "issuer/form.h"
#include "issuer/registry.h"
#include "issuer/token_request.h"
#include "test_suites.h"
#include "test_support.h"

using m2m::OAuthError;
using m2m::TokenDecision;
using m2m::TokenRequest;
using testsupport::kNow;
using Strings = std::vector<std::string>;

namespace {

const Strings kAudiences = {"api://tasks", "api://billing"};

// RFC 4648 §4 base64 with padding, independent of the code under test.
std::string b64(const std::string &in)
{
    static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    unsigned acc = 0;
    int bits = 0;
    for (unsigned char c : in) {
        acc = acc << 8 | c;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += kAlphabet[acc >> bits & 63];
        }
    }
    if (bits > 0) {
        out += kAlphabet[acc << (6 - bits) & 63];
    }
    while (out.size() % 4) {
        out += '=';
    }
    return out;
}

std::string basic(const std::string &id, const std::string &secret)
{
    return "Basic " + b64(id + ":" + secret);
}

struct Credentials {
    std::string id;
    std::string secret;
};

// A registry built in the test: clients made with new_client(), some then
// changed by hand.
struct Fixture {
    m2m::Registry registry;
    Credentials reader;    // tasks:read tasks:write
    Credentials noscope;   // no scope at all
    Credentials disabled;  // tasks:read, disabled
    Credentials expired;   // tasks:read, its only secret expired at kNow
    Credentials rotated;   // tasks:read, two secrets: one expired, one live
    std::string rotated_old_secret;
    Credentials special;   // id "my:client +x", secret as issued
    Credentials bound;     // tasks:read, certificate-bound (RFC 8705 §3.4)

    Fixture()
    {
        reader = add("reader", {"tasks:read", "tasks:write"});
        noscope = add("noscope", {});
        disabled = add("disabled", {"tasks:read"});
        registry.clients.back().enabled = false;
        expired = add("expired", {"tasks:read"}, kNow);
        rotated = add("rotated", {"tasks:read"}, kNow - 10);
        rotated_old_secret = rotated.secret;
        rotated.secret = m2m::add_secret(&registry.clients.back(), kNow - 20, std::nullopt).secret;
        special = add("special", {"tasks:read"});
        registry.clients.back().client_id = "my:client +x";
        special.id = "my:client +x";
        bound = add("bound", {"tasks:read"});
        registry.clients.back().certificate_bound = true;
    }

    Credentials add(const char *name, Strings scopes, std::optional<int64_t> expires_at = std::nullopt)
    {
        m2m::IssuedSecret issued;
        m2m::Client client = m2m::new_client(name, std::move(scopes), nullptr, kNow - 100, &issued);
        if (expires_at) {
            client.secrets.front().expires_at = expires_at;
        }
        Credentials creds{client.client_id, issued.secret};
        registry.clients.push_back(std::move(client));
        return creds;
    }
};

struct Request {
    std::string method = "POST";
    std::optional<std::string> content_type = std::string("application/x-www-form-urlencoded");
    std::optional<std::string> authorization;
    std::string body = "grant_type=client_credentials";
    bool body_too_large = false;
    std::optional<std::string> thumbprint;

    TokenRequest view() const
    {
        TokenRequest r;
        r.method = method;
        if (content_type) {
            r.content_type = *content_type;
        }
        if (authorization) {
            r.authorization = *authorization;
        }
        r.body = body;
        r.body_too_large = body_too_large;
        if (thumbprint) {
            r.certificate_thumbprint = *thumbprint;
        }
        return r;
    }
};

Request with_basic(const Credentials &c, const std::string &body = "grant_type=client_credentials")
{
    Request r;
    r.authorization = basic(c.id, c.secret);
    r.body = body;
    return r;
}

// client_secret_post; the id and secret form-encoded only as far as these
// tests need (ids with ':' '+' ' ' are sent by Basic).
Request with_post(const Credentials &c, const std::string &extra = "")
{
    Request r;
    r.body = "grant_type=client_credentials&client_id=" + c.id + "&client_secret=" + c.secret + extra;
    return r;
}

TokenDecision decide(const Fixture &f, const Request &r, const Strings &audiences = kAudiences, int64_t now = kNow)
{
    return m2m::decide_token_request(r.view(), f.registry, audiences, now);
}

// RFC 6749 §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E.
bool description_charset_ok(const std::string &d)
{
    for (unsigned char c : d) {
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
            return false;
        }
    }
    return true;
}

void assert_refused(const TokenDecision &d, OAuthError error, int status, const char *what)
{
    ck_assert_msg(d.refusal.has_value(), "%s: granted, want %s", what, m2m::oauth_error_code(error));
    ck_assert_msg(d.refusal->error == error, "%s: got %s (%s), want %s", what, m2m::oauth_error_code(d.refusal->error),
                  d.refusal->description.c_str(), m2m::oauth_error_code(error));
    ck_assert_msg(d.refusal->status == status, "%s: status %d, want %d", what, d.refusal->status, status);
    ck_assert_msg(d.refusal->challenge == (status == 401), "%s: WWW-Authenticate %d", what, d.refusal->challenge);
    ck_assert_msg(d.refusal->allow_post == (status == 405), "%s: Allow %d", what, d.refusal->allow_post);
    ck_assert_msg(!d.refusal->description.empty() && description_charset_ok(d.refusal->description),
                  "%s: description \"%s\"", what, d.refusal->description.c_str());
    ck_assert_msg(d.grant.client == nullptr, "%s: a refusal with a client", what);
}

void assert_granted(const TokenDecision &d, const std::string &client_id, const Strings &scopes,
                    const std::string &audience, const char *what)
{
    ck_assert_msg(!d.refusal, "%s: refused %s (%s)", what, d.refusal ? m2m::oauth_error_code(d.refusal->error) : "",
                  d.refusal ? d.refusal->description.c_str() : "");
    ck_assert_msg(d.grant.client != nullptr, "%s: no client", what);
    ck_assert_std_str_eq(d.grant.client->client_id, client_id);
    ck_assert_msg(d.grant.scopes == scopes, "%s: %zu scopes, want %zu", what, d.grant.scopes.size(), scopes.size());
    ck_assert_std_str_eq(d.grant.audience, audience);
}

void assert_auth_failed(const TokenDecision &d, const std::string &logged_id, const char *what)
{
    assert_refused(d, OAuthError::invalid_client, 401, what);
    ck_assert_msg(d.refusal->authentication_failed, "%s: not counted as failed authentication", what);
    ck_assert_std_str_eq(d.refusal->client_id, logged_id);
    // One description whichever of id and secret was wrong.
    ck_assert_std_str_eq(d.refusal->description, "client authentication failed");
}

}  // namespace

START_TEST(test_success_basic)
{
    const Fixture f;
    assert_granted(decide(f, with_basic(f.reader)), f.reader.id, {"tasks:read", "tasks:write"}, "api://tasks",
                   "Basic");
}
END_TEST

START_TEST(test_success_post)
{
    const Fixture f;
    assert_granted(decide(f, with_post(f.reader)), f.reader.id, {"tasks:read", "tasks:write"}, "api://tasks", "post");
    // Parameters in any order, unknown ones ignored, empty segments skipped.
    Request r;
    r.body = "foo=bar&client_secret=" + f.reader.secret + "&&grant_type=client_credentials&client_id=" + f.reader.id +
             "&=x&";
    assert_granted(decide(f, r), f.reader.id, {"tasks:read", "tasks:write"}, "api://tasks", "reordered");
}
END_TEST

START_TEST(test_form_encoded_credentials)
{
    const Fixture f;
    // RFC 6749 §2.3.1: id and secret form-encoded inside Basic.
    Request r;
    r.authorization = basic("my%3Aclient+%2Bx", f.special.secret);
    assert_granted(decide(f, r), f.special.id, {"tasks:read"}, "api://tasks", "encoded id");
    r.authorization = basic("my%3aclient%20%2bx", f.special.secret);
    assert_granted(decide(f, r), f.special.id, {"tasks:read"}, "api://tasks", "lower-case escapes");
    // Unencoded, the ':' would end the id and '+' would be a space.
    r.authorization = basic("my:client +x", f.special.secret);
    assert_auth_failed(decide(f, r), "my", "unencoded colon");
    // The same in the body.
    r.authorization.reset();
    r.body = "grant_type=client_credentials&client_id=my%3Aclient+%2Bx&client_secret=" + f.special.secret;
    assert_granted(decide(f, r), f.special.id, {"tasks:read"}, "api://tasks", "encoded id in body");
    // A secret's characters encoded one by one still match.
    std::string encoded;
    for (unsigned char c : f.reader.secret) {
        char hex[4];
        snprintf(hex, sizeof(hex), "%%%02X", c);
        encoded += hex;
    }
    r.authorization = basic(f.reader.id, encoded);
    r.body = "grant_type=client_credentials";
    assert_granted(decide(f, r), f.reader.id, {"tasks:read", "tasks:write"}, "api://tasks", "encoded secret");
}
END_TEST

START_TEST(test_method_and_content_type)
{
    const Fixture f;
    for (const char *method : {"GET", "HEAD", "PUT", "post", "DELETE", ""}) {
        Request r = with_basic(f.reader);
        r.method = method;
        assert_refused(decide(f, r), OAuthError::invalid_request, 405, method);
        ck_assert(m2m::check_request_line(r.view()).has_value());
    }
    for (const char *type : {"application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=UTF-8",
                             "Application/X-WWW-Form-Urlencoded", " application/x-www-form-urlencoded ;charset=utf-8",
                             "application/x-www-form-urlencoded;foo"}) {
        Request r = with_basic(f.reader);
        r.content_type = type;
        ck_assert_msg(!m2m::check_request_line(r.view()), "refused \"%s\"", type);
        assert_granted(decide(f, r), f.reader.id, {"tasks:read", "tasks:write"}, "api://tasks", type);
    }
    for (const char *type : {"application/json", "multipart/form-data; boundary=x", "text/plain", "",
                             "application/x-www-form-urlencodedx", "application/x-www-form-urlencoded/x"}) {
        Request r = with_basic(f.reader);
        r.content_type = type;
        assert_refused(decide(f, r), OAuthError::invalid_request, 400, type);
    }
    Request r = with_basic(f.reader);
    r.content_type.reset();
    assert_refused(decide(f, r), OAuthError::invalid_request, 400, "no Content-Type");
}
END_TEST

START_TEST(test_malformed_body)
{
    const Fixture f;
    for (const char *body : {"grant_type=client_credentials&x=%zz", "grant_type=client_credentials%00",
                             "grant_type=client_credentials\n", "grant_type=client%0Acredentials"}) {
        assert_refused(decide(f, with_basic(f.reader, body)), OAuthError::invalid_request, 400, body);
    }
    Request big = with_basic(f.reader, "grant_type=client_credentials&pad=" + std::string(m2m::kMaxFormSize, 'x'));
    assert_refused(decide(f, big), OAuthError::invalid_request, 400, "over kMaxFormSize");
    ck_assert_std_str_eq(decide(f, big).refusal->description, "request body over 8192 bytes");
    Request flagged = with_basic(f.reader);
    flagged.body_too_large = true;
    assert_refused(decide(f, flagged), OAuthError::invalid_request, 400, "body_too_large");
    ck_assert_std_str_eq(decide(f, flagged).refusal->description, "request body too large");
}
END_TEST

START_TEST(test_repeated_parameter)
{
    const Fixture f;
    TokenDecision d = decide(f, with_basic(f.reader, "grant_type=client_credentials&grant_type=client_credentials"));
    assert_refused(d, OAuthError::invalid_request, 400, "grant_type twice");
    ck_assert_std_str_eq(d.refusal->description, "parameter grant_type is repeated");
    d = decide(f, with_basic(f.reader, "grant_type=client_credentials&scope=tasks:read&scope=tasks:read"));
    ck_assert_std_str_eq(d.refusal->description, "parameter scope is repeated");
    d = decide(f, with_basic(f.reader, "grant_type=client_credentials&resource=a&resource=b"));
    assert_refused(d, OAuthError::invalid_request, 400, "resource twice (RFC 8707 allows it; one is supported)");
    // A name the endpoint does not read is not echoed.
    d = decide(f, with_basic(f.reader, "grant_type=client_credentials&x%22y=1&x%22y=2"));
    assert_refused(d, OAuthError::invalid_request, 400, "unknown twice");
    ck_assert_std_str_eq(d.refusal->description, "a parameter is repeated");
    // Empty values count.
    assert_refused(decide(f, with_post(f.reader, "&client_secret=")), OAuthError::invalid_request, 400,
                   "empty client_secret twice");
}
END_TEST

START_TEST(test_grant_type)
{
    const Fixture f;
    assert_refused(decide(f, with_basic(f.reader, "")), OAuthError::invalid_request, 400, "no grant_type");
    assert_refused(decide(f, with_basic(f.reader, "grant_type=")), OAuthError::invalid_request, 400,
                   "empty grant_type is omitted");
    for (const char *body : {"grant_type=password", "grant_type=authorization_code", "grant_type=Client_Credentials",
                             "grant_type=client_credentials+", "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"}) {
        assert_refused(decide(f, with_basic(f.reader, body)), OAuthError::unsupported_grant_type, 400, body);
    }
}
END_TEST

START_TEST(test_authentication_methods)
{
    const Fixture f;
    // Both methods at once.
    assert_refused(decide(f, with_basic(f.reader, "grant_type=client_credentials&client_secret=" + f.reader.secret)),
                   OAuthError::invalid_request, 400, "Basic and client_secret");
    assert_refused(decide(f, with_basic(f.reader, "grant_type=client_credentials&client_id=" + f.reader.id +
                                                      "&client_secret=" + f.reader.secret)),
                   OAuthError::invalid_request, 400, "Basic and client_id+client_secret");
    // client_id beside Basic: only the same id.
    assert_granted(decide(f, with_basic(f.reader, "grant_type=client_credentials&client_id=" + f.reader.id)),
                   f.reader.id, {"tasks:read", "tasks:write"}, "api://tasks", "Basic and the same client_id");
    assert_refused(decide(f, with_basic(f.reader, "grant_type=client_credentials&client_id=" + f.noscope.id)),
                   OAuthError::invalid_request, 400, "Basic and another client_id");
    // None at all.
    TokenDecision d = decide(f, Request());
    assert_refused(d, OAuthError::invalid_client, 401, "no authentication");
    ck_assert(!d.refusal->authentication_failed);
    // A secret without an id.
    Request r;
    r.body = "grant_type=client_credentials&client_secret=" + f.reader.secret;
    assert_refused(decide(f, r), OAuthError::invalid_request, 400, "client_secret alone");
    // An id without a secret: a public client, which this endpoint does not serve.
    r.body = "grant_type=client_credentials&client_id=" + f.reader.id;
    assert_auth_failed(decide(f, r), f.reader.id, "client_id alone");
    r.body = "grant_type=client_credentials&client_id=" + f.reader.id + "&client_secret=";
    assert_auth_failed(decide(f, r), f.reader.id, "empty client_secret");
}
END_TEST

START_TEST(test_other_schemes_and_bad_basic)
{
    const Fixture f;
    for (const char *header : {"Bearer abc", "Digest username=x", "Basic", "Basic  "}) {
        Request r;
        r.authorization = header;
        TokenDecision d = decide(f, r);
        assert_refused(d, OAuthError::invalid_client, 401, header);
        ck_assert(!d.refusal->authentication_failed);
    }
    for (const std::string &header : {std::string("Basic !!!!"), std::string("Basic ") + b64("no-colon"),
                                      std::string("Basic ") + b64("id%zz:x"), std::string("Basic ") + b64("a:b") + "x",
                                      std::string("Basic ") + std::string(m2m::kMaxBasicSize, 'A')}) {
        Request r;
        r.authorization = header;
        assert_refused(decide(f, r), OAuthError::invalid_client, 401, header.c_str());
    }
}
END_TEST

START_TEST(test_failed_authentication_says_nothing_more)
{
    const Fixture f;
    assert_auth_failed(decide(f, with_basic({f.reader.id, f.reader.secret + "x"})), f.reader.id, "wrong secret");
    assert_auth_failed(decide(f, with_basic({f.reader.id, f.noscope.secret})), f.reader.id, "another's secret");
    assert_auth_failed(decide(f, with_basic({"m2m_nobody", f.reader.secret})), "m2m_nobody", "unknown id");
    assert_auth_failed(decide(f, with_post({f.reader.id, "x"})), f.reader.id, "wrong secret, post");
    assert_auth_failed(decide(f, with_basic(f.disabled)), f.disabled.id, "disabled client");
    assert_auth_failed(decide(f, with_basic(f.expired)), f.expired.id, "expired secret");
    // The same secret a second earlier was still good.
    assert_granted(decide(f, with_basic(f.expired), kAudiences, kNow - 1), f.expired.id, {"tasks:read"},
                   "api://tasks", "before expiry");
    // Rotation: the live secret works, the expired one does not.
    assert_granted(decide(f, with_basic(f.rotated)), f.rotated.id, {"tasks:read"}, "api://tasks", "new secret");
    assert_auth_failed(decide(f, with_basic({f.rotated.id, f.rotated_old_secret})), f.rotated.id, "old secret");
    // A client deleted from the registry.
    Fixture g;
    g.registry.clients.erase(g.registry.clients.begin());
    assert_auth_failed(decide(g, with_basic(g.reader)), g.reader.id, "deleted client");
}
END_TEST

START_TEST(test_impossible_credentials)
{
    const Fixture f;
    // Ids no registry holds are refused before any lookup and never logged.
    Request r;
    r.authorization = basic("caf%C3%A9", "x");
    assert_auth_failed(decide(f, r), "", "non-ASCII id");
    r.authorization = basic(std::string(m2m::kMaxClientIdSize + 1, 'i'), "x");
    assert_auth_failed(decide(f, r), "", "id too long");
    r.authorization = basic(":", "x");
    assert_auth_failed(decide(f, r), "", "empty id");
    r.authorization = basic(f.reader.id, "");
    assert_auth_failed(decide(f, r), f.reader.id, "empty secret");
    r.authorization = basic(f.reader.id, std::string(m2m::kMaxClientSecretSize + 1, 's'));
    assert_auth_failed(decide(f, r), f.reader.id, "secret too long");
    r.authorization = basic(f.reader.id, f.reader.secret + "%C3%A9");
    assert_auth_failed(decide(f, r), f.reader.id, "non-ASCII secret");
    r.authorization = basic(std::string(m2m::kMaxClientIdSize, 'i'), "x");
    assert_auth_failed(decide(f, r), std::string(m2m::kMaxClientIdSize, 'i'), "longest id");
}
END_TEST

START_TEST(test_unauthorized_client)
{
    const Fixture f;
    assert_refused(decide(f, with_basic(f.noscope)), OAuthError::unauthorized_client, 400, "no scopes");
    assert_refused(decide(f, with_basic(f.noscope, "grant_type=client_credentials&scope=tasks:read")),
                   OAuthError::unauthorized_client, 400, "no scopes, one asked");
}
END_TEST

// RFC 8705 §3: a certificate-bound client's token carries its certificate's
// thumbprint; without a certificate it gets none. Other clients' tokens are
// never bound, certificate or not.
START_TEST(test_certificate_bound_client)
{
    const Fixture f;
    const std::string x5t = "u2GTMi-w-4JOniztl_gMxHuGwj_-6lHM8R5HiNMhQDs";
    Request r = with_basic(f.bound);
    r.thumbprint = x5t;
    TokenDecision d = decide(f, r);
    assert_granted(d, f.bound.id, {"tasks:read"}, "api://tasks", "bound, with a certificate");
    ck_assert_std_str_eq(d.grant.x5t_s256, x5t);

    assert_refused(decide(f, with_basic(f.bound)), OAuthError::unauthorized_client, 400, "bound, no certificate");
    assert_refused(decide(f, with_post(f.bound)), OAuthError::unauthorized_client, 400,
                   "bound, no certificate, client_secret_post");
    // authentication first: a wrong secret says nothing about the binding
    assert_auth_failed(decide(f, with_basic({f.bound.id, "wrong"})), f.bound.id, "bound, wrong secret");

    Request unbound = with_basic(f.reader);
    unbound.thumbprint = x5t;
    d = decide(f, unbound);
    assert_granted(d, f.reader.id, {"tasks:read", "tasks:write"}, "api://tasks", "unbound, with a certificate");
    ck_assert_msg(d.grant.x5t_s256.empty(), "an unbound client's token is bound");
}
END_TEST

START_TEST(test_scope_selection)
{
    const Fixture f;
    const auto ask = [&](const std::string &scope) {
        return decide(f, with_basic(f.reader, "grant_type=client_credentials&scope=" + scope));
    };
    assert_granted(ask("tasks:read"), f.reader.id, {"tasks:read"}, "api://tasks", "one of two");
    assert_granted(ask("tasks:write"), f.reader.id, {"tasks:write"}, "api://tasks", "the other");
    assert_granted(ask("tasks:write+tasks:read"), f.reader.id, {"tasks:write", "tasks:read"}, "api://tasks",
                   "both, in the order asked");
    assert_granted(ask("tasks:read%20tasks:read"), f.reader.id, {"tasks:read"}, "api://tasks", "a duplicate");
    assert_granted(ask(""), f.reader.id, {"tasks:read", "tasks:write"}, "api://tasks", "empty is omitted");

    TokenDecision d = ask("tasks:read+admin");
    assert_refused(d, OAuthError::invalid_scope, 400, "escalation");
    ck_assert_std_str_eq(d.refusal->description, "scope admin is not allowed for this client");
    assert_refused(ask("TASKS:READ"), OAuthError::invalid_scope, 400, "scopes are case-sensitive");
    assert_refused(ask("tasks"), OAuthError::invalid_scope, 400, "a prefix");
    for (const char *bad : {"tasks:read++tasks:write", "+tasks:read", "tasks:read+", "+", "a%22b", "a%5Cb",
                            "caf%C3%A9"}) {
        assert_refused(ask(bad), OAuthError::invalid_scope, 400, bad);
    }
    // A control character is the body's fault, before any scope is read.
    assert_refused(ask("a%09b"), OAuthError::invalid_request, 400, "a tab");
}
END_TEST

START_TEST(test_audience_selection)
{
    const Fixture f;
    const auto ask = [&](const std::string &extra, const Strings &audiences = kAudiences) {
        return decide(f, with_basic(f.reader, "grant_type=client_credentials" + extra), audiences);
    };
    const Strings all = {"tasks:read", "tasks:write"};
    assert_granted(ask(""), f.reader.id, all, "api://tasks", "default: the first");
    assert_granted(ask("&audience=api%3A%2F%2Fbilling"), f.reader.id, all, "api://billing", "audience");
    assert_granted(ask("&resource=api://billing"), f.reader.id, all, "api://billing", "resource");
    assert_granted(ask("&audience=api://tasks"), f.reader.id, all, "api://tasks", "the first, named");
    assert_granted(ask("&audience="), f.reader.id, all, "api://tasks", "empty is omitted");
    assert_refused(ask("&audience=api://other"), OAuthError::invalid_target, 400, "unknown audience");
    assert_refused(ask("&resource=api://tasks/"), OAuthError::invalid_target, 400, "compared byte for byte");
    assert_refused(ask("&audience=api://tasks&resource=api://tasks"), OAuthError::invalid_request, 400,
                   "both parameters");
    assert_refused(ask("", {}), OAuthError::server_error, 500, "an issuer without audience");
    assert_refused(ask("&audience=x", {}), OAuthError::invalid_target, 400, "no audience to pick");
}
END_TEST

START_TEST(test_check_order)
{
    const Fixture f;
    const Credentials wrong{f.reader.id, "wrong"};
    // What the request shows comes before the credentials...
    assert_refused(decide(f, with_basic(wrong, "grant_type=password")), OAuthError::unsupported_grant_type, 400,
                   "grant type before authentication");
    assert_refused(decide(f, with_basic(wrong, "grant_type=client_credentials&audience=a&resource=b")),
                   OAuthError::invalid_request, 400, "audience and resource before authentication");
    // ...and what the registration allows only after them.
    assert_auth_failed(decide(f, with_basic(wrong, "grant_type=client_credentials&scope=admin")), f.reader.id,
                       "scope after authentication");
    assert_auth_failed(decide(f, with_basic(wrong, "grant_type=client_credentials&audience=nope")), f.reader.id,
                       "audience after authentication");
    assert_auth_failed(decide(f, with_basic({f.noscope.id, "wrong"})), f.noscope.id,
                       "unauthorized_client after authentication");
}
END_TEST

Suite *token_request_suite()
{
    Suite *s = suite_create("token_request");
    TCase *tc = tcase_create("token_request");
    tcase_add_test(tc, test_success_basic);
    tcase_add_test(tc, test_success_post);
    tcase_add_test(tc, test_form_encoded_credentials);
    tcase_add_test(tc, test_method_and_content_type);
    tcase_add_test(tc, test_malformed_body);
    tcase_add_test(tc, test_repeated_parameter);
    tcase_add_test(tc, test_grant_type);
    tcase_add_test(tc, test_authentication_methods);
    tcase_add_test(tc, test_other_schemes_and_bad_basic);
    tcase_add_test(tc, test_failed_authentication_says_nothing_more);
    tcase_add_test(tc, test_impossible_credentials);
    tcase_add_test(tc, test_unauthorized_client);
    tcase_add_test(tc, test_certificate_bound_client);
    tcase_add_test(tc, test_scope_selection);
    tcase_add_test(tc, test_audience_selection);
    tcase_add_test(tc, test_check_order);
    suite_add_tcase(s, tc);
    return s;
}
