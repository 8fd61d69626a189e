// The auth_m2m_status page: key descriptions, the JSON rendering (parsed back
// with jansson, field by field) and the Prometheus text format (line by line).
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "report/status_page.h"
#include "test_keys.h"
#include "test_suites.h"
#include "test_support.h"

using m2m::IssuerReport;
using m2m::KeyInfo;
using m2m::ModuleReport;
using testkeys::KeyName;
using testkeys::public_jwk;
using namespace testsupport;

namespace {

// --- JSON helpers ---

m2m::JsonPtr parse_report(const std::string &text)
{
    ck_assert_msg(!text.empty() && text.back() == '\n', "report does not end in a newline");
    json_error_t error;
    m2m::JsonPtr root(json_loads(text.c_str(), JSON_REJECT_DUPLICATES, &error));
    ck_assert_msg(root != nullptr, "report is not JSON: %s\n%s", error.text, text.c_str());
    ck_assert(json_is_object(root.get()));
    return root;
}

const json_t *member(const json_t *object, const char *name)
{
    ck_assert_msg(json_is_object(object), "not an object looking for \"%s\"", name);
    const json_t *m = json_object_get(object, name);
    ck_assert_msg(m != nullptr, "no member \"%s\"", name);
    return m;
}

long long int_member(const json_t *object, const char *name)
{
    const json_t *m = member(object, name);
    ck_assert_msg(json_is_integer(m), "\"%s\" is not an integer", name);
    return json_integer_value(m);
}

std::string str_member(const json_t *object, const char *name)
{
    const json_t *m = member(object, name);
    ck_assert_msg(json_is_string(m), "\"%s\" is not a string", name);
    return std::string(json_string_value(m), json_string_length(m));
}

void assert_null_member(const json_t *object, const char *name)
{
    ck_assert_msg(json_is_null(member(object, name)), "\"%s\" is not null", name);
}

std::vector<std::string> member_names(const json_t *object)
{
    std::vector<std::string> names;
    const char *key;
    json_t *value;
    json_object_foreach(const_cast<json_t *>(object), key, value)
    {
        names.push_back(key);
    }
    return names;
}

void assert_names(const json_t *object, const std::vector<std::string> &want)
{
    const std::vector<std::string> got = member_names(object);
    std::string g, w;
    for (const auto &n : got) {
        g += n + " ";
    }
    for (const auto &n : want) {
        w += n + " ";
    }
    ck_assert_msg(got == want, "members [%s], want [%s]", g.c_str(), w.c_str());
}

const std::vector<std::string> kIssuerMembers = {
    "issuer",       "source",         "location",        "jwks_uri",     "keys",   "generation",
    "last_attempt", "last_success",   "last_error",      "last_error_time", "next_refresh", "fetches",
};

// --- Prometheus helpers ---

std::vector<std::string> lines_of(const std::string &text)
{
    ck_assert_msg(!text.empty() && text.back() == '\n', "exposition does not end in a newline");
    std::vector<std::string> lines;
    std::string line;
    std::istringstream in(text);
    while (std::getline(in, line)) {
        lines.push_back(line);
    }
    return lines;
}

struct Sample {
    std::string name;
    std::vector<std::pair<std::string, std::string>> labels;  // unescaped values
    std::string value;
};

// Parses one sample line strictly as the 0.0.4 text format defines it.
Sample parse_sample(const std::string &line)
{
    Sample s;
    size_t i = 0;
    while (i < line.size() && (isalnum(static_cast<unsigned char>(line[i])) || line[i] == '_' || line[i] == ':')) {
        s.name += line[i++];
    }
    ck_assert_msg(!s.name.empty(), "no metric name: %s", line.c_str());
    if (i < line.size() && line[i] == '{') {
        i++;
        while (i < line.size() && line[i] != '}') {
            std::string label;
            while (i < line.size() && (isalnum(static_cast<unsigned char>(line[i])) || line[i] == '_')) {
                label += line[i++];
            }
            ck_assert_msg(!label.empty() && line.compare(i, 2, "=\"") == 0, "bad label at %zu: %s", i, line.c_str());
            i += 2;
            std::string value;
            for (;;) {
                ck_assert_msg(i < line.size(), "unterminated label value: %s", line.c_str());
                const char c = line[i++];
                if (c == '"') {
                    break;
                }
                if (c == '\\') {
                    ck_assert_msg(i < line.size(), "dangling escape: %s", line.c_str());
                    const char e = line[i++];
                    ck_assert_msg(e == '\\' || e == '"' || e == 'n', "bad escape \\%c: %s", e, line.c_str());
                    value += e == 'n' ? '\n' : e;
                } else {
                    value += c;
                }
            }
            s.labels.emplace_back(label, value);
            if (i < line.size() && line[i] == ',') {
                i++;
            }
        }
        ck_assert_msg(i < line.size() && line[i] == '}', "unterminated labels: %s", line.c_str());
        i++;
    }
    ck_assert_msg(i < line.size() && line[i] == ' ', "no space before value: %s", line.c_str());
    s.value = line.substr(i + 1);
    ck_assert_msg(!s.value.empty() && s.value.find_first_not_of("-0123456789") == std::string::npos,
                  "value not an integer: %s", line.c_str());
    return s;
}

// Checks the whole exposition's structure: every family has # HELP then
// # TYPE, once, before its samples, and every sample belongs to the family
// announced last. Returns the samples.
std::vector<Sample> check_exposition(const std::string &text)
{
    std::vector<Sample> samples;
    std::set<std::string> families;
    std::string current, help_for;
    for (const std::string &line : lines_of(text)) {
        ck_assert_msg(!line.empty(), "empty line in exposition");
        if (line.rfind("# HELP ", 0) == 0) {
            const std::string rest = line.substr(7);
            help_for = rest.substr(0, rest.find(' '));
            ck_assert_msg(rest.size() > help_for.size() + 1, "empty HELP text: %s", line.c_str());
            ck_assert_msg(families.insert(help_for).second, "family %s announced twice", help_for.c_str());
            continue;
        }
        if (line.rfind("# TYPE ", 0) == 0) {
            const std::string rest = line.substr(7);
            const std::string name = rest.substr(0, rest.find(' '));
            const std::string type = rest.substr(name.size() + 1);
            ck_assert_msg(name == help_for, "TYPE %s not right after its HELP", name.c_str());
            ck_assert_msg(type == "counter" || type == "gauge", "type %s", type.c_str());
            if (type == "counter") {
                ck_assert_msg(name.size() > 6 && name.compare(name.size() - 6, 6, "_total") == 0,
                              "counter %s does not end in _total", name.c_str());
            }
            current = name;
            continue;
        }
        ck_assert_msg(line[0] != '#', "unexpected comment: %s", line.c_str());
        Sample s = parse_sample(line);
        ck_assert_msg(s.name == current, "sample %s outside its family (%s)", s.name.c_str(), current.c_str());
        ck_assert_msg(s.name.rfind("nginx_auth_m2m_", 0) == 0, "unprefixed metric %s", s.name.c_str());
        samples.push_back(std::move(s));
    }
    return samples;
}

// The sample lines (comments dropped) of the exposition, in order.
std::vector<std::string> sample_lines(const std::string &text)
{
    std::vector<std::string> out;
    for (const std::string &line : lines_of(text)) {
        if (line[0] != '#') {
            out.push_back(line);
        }
    }
    return out;
}

void assert_lines(const std::vector<std::string> &got, const std::vector<std::string> &want)
{
    for (size_t i = 0; i < std::min(got.size(), want.size()); i++) {
        ck_assert_msg(got[i] == want[i], "line %zu:\n  got  %s\n  want %s", i + 1, got[i].c_str(), want[i].c_str());
    }
    ck_assert_msg(got.size() == want.size(), "%zu lines, want %zu", got.size(), want.size());
}

}  // namespace

START_TEST(test_describe_keys)
{
    const std::vector<KeyInfo> keys = value_of(m2m::describe_keys(*standard_keys()));
    ck_assert_uint_eq(keys.size(), 4);
    ck_assert_std_str_eq(keys[0].kid, "rsa-1");
    ck_assert_std_str_eq(keys[0].alg, "RSA");
    ck_assert_std_str_eq(keys[1].kid, "ec-256");
    ck_assert_std_str_eq(keys[1].alg, "EC P-256");
    ck_assert_std_str_eq(keys[2].kid, "ec-384");
    ck_assert_std_str_eq(keys[2].alg, "EC P-384");
    ck_assert_std_str_eq(keys[3].kid, "ec-521");
    ck_assert_std_str_eq(keys[3].alg, "EC P-521");
}
END_TEST

START_TEST(test_describe_keys_alg_and_no_kid)
{
    auto set = load_keys(testkeys::jwk_set({
        public_jwk(KeyName::rsa, "ps", "\"alg\":\"PS384\""),
        public_jwk(KeyName::p384, "es", "\"alg\":\"ES384\""),
        public_jwk(KeyName::p256, ""),
    }));
    const std::vector<KeyInfo> keys = value_of(m2m::describe_keys(*set));
    ck_assert_uint_eq(keys.size(), 3);
    ck_assert_std_str_eq(keys[0].kid, "ps");
    ck_assert_std_str_eq(keys[0].alg, "PS384");
    ck_assert_std_str_eq(keys[1].kid, "es");
    ck_assert_std_str_eq(keys[1].alg, "ES384");
    ck_assert_std_str_eq(keys[2].kid, "");
    ck_assert_std_str_eq(keys[2].alg, "EC P-256");

    ck_assert_uint_eq(value_of(m2m::describe_keys(m2m::KeySet{})).size(), 0);
}
END_TEST

START_TEST(test_json_layout)
{
    const std::string text = value_of(m2m::report_json(sample_report()));
    // Indented by two, members in insertion order.
    ck_assert_msg(text.rfind("{\n  \"requests\": {\n    \"allowed\": 42,", 0) == 0, "layout:\n%s", text.c_str());
    ck_assert_msg(text.size() >= 3 && text.compare(text.size() - 3, 3, "\n}\n") == 0, "ending:\n%s", text.c_str());

    m2m::JsonPtr root = parse_report(text);
    assert_names(root.get(), {"requests", "token_cache", "token_endpoint", "issuers"});
    const json_t *requests = member(root.get(), "requests");
    assert_names(requests, {"allowed", "refused"});
    ck_assert_int_eq(int_member(requests, "allowed"), 42);
    const json_t *refused = member(requests, "refused");
    assert_names(refused, {"expired", "unknown_kid"});
    ck_assert_int_eq(int_member(refused, "expired"), 3);
    ck_assert_int_eq(int_member(refused, "unknown_kid"), 1);
    assert_names(member(root.get(), "issuers"), {"corp", "static"});
    const json_t *cache = member(root.get(), "token_cache");
    assert_names(cache, {"size", "hits", "misses", "evictions"});
    ck_assert_int_eq(int_member(cache, "size"), 4194304);
    ck_assert_int_eq(int_member(cache, "hits"), 1000);
    ck_assert_int_eq(int_member(cache, "misses"), 12);
    ck_assert_int_eq(int_member(cache, "evictions"), 2);
    const json_t *endpoint = member(root.get(), "token_endpoint");
    assert_names(endpoint, {"issued", "refused", "client_authentication_failed"});
    ck_assert_int_eq(int_member(endpoint, "issued"), 250);
    ck_assert_int_eq(int_member(endpoint, "refused"), 9);
    ck_assert_int_eq(int_member(endpoint, "client_authentication_failed"), 4);
}
END_TEST

START_TEST(test_json_remote_issuer)
{
    m2m::JsonPtr root = parse_report(value_of(m2m::report_json(sample_report())));
    const json_t *corp = member(member(root.get(), "issuers"), "corp");
    assert_names(corp, kIssuerMembers);
    ck_assert_std_str_eq(str_member(corp, "issuer"), "https://idp.example.com/");
    ck_assert_std_str_eq(str_member(corp, "source"), "discovery");
    ck_assert_std_str_eq(str_member(corp, "location"), "https://idp.example.com/.well-known/openid-configuration");
    ck_assert_std_str_eq(str_member(corp, "jwks_uri"), "https://idp.example.com/jwks");

    const json_t *keys = member(corp, "keys");
    ck_assert(json_is_array(keys));
    ck_assert_uint_eq(json_array_size(keys), 2);
    assert_names(json_array_get(keys, 0), {"kid", "alg"});
    ck_assert_std_str_eq(str_member(json_array_get(keys, 0), "kid"), "k1");
    ck_assert_std_str_eq(str_member(json_array_get(keys, 0), "alg"), "RS256");
    ck_assert_std_str_eq(str_member(json_array_get(keys, 1), "kid"), "k2");
    ck_assert_std_str_eq(str_member(json_array_get(keys, 1), "alg"), "EC P-256");

    ck_assert_int_eq(int_member(corp, "generation"), 7);
    ck_assert_int_eq(int_member(corp, "last_attempt"), kNow + 100);
    ck_assert_int_eq(int_member(corp, "last_success"), kNow);
    ck_assert_std_str_eq(str_member(corp, "last_error"), "timeout");
    ck_assert_int_eq(int_member(corp, "last_error_time"), kNow + 100);
    ck_assert_int_eq(int_member(corp, "next_refresh"), kNow + 700);

    const json_t *fetches = member(corp, "fetches");
    assert_names(fetches, {"ok", "failed", "not_modified", "kid_triggered"});
    ck_assert_int_eq(int_member(fetches, "ok"), 5);
    ck_assert_int_eq(int_member(fetches, "failed"), 2);
    ck_assert_int_eq(int_member(fetches, "not_modified"), 3);
    ck_assert_int_eq(int_member(fetches, "kid_triggered"), 1);
}
END_TEST

START_TEST(test_json_nulls_for_never)
{
    m2m::JsonPtr root = parse_report(value_of(m2m::report_json(sample_report())));
    const json_t *file = member(member(root.get(), "issuers"), "static");
    assert_names(file, kIssuerMembers);
    ck_assert_std_str_eq(str_member(file, "source"), "jwks_file");
    ck_assert_std_str_eq(str_member(file, "location"), "/etc/nginx/m2m/jwks.json");
    assert_null_member(file, "jwks_uri");
    assert_null_member(file, "last_attempt");
    assert_null_member(file, "last_success");
    assert_null_member(file, "last_error");
    assert_null_member(file, "last_error_time");
    assert_null_member(file, "next_refresh");
    ck_assert_int_eq(int_member(file, "generation"), 1);
    const json_t *keys = member(file, "keys");
    ck_assert_uint_eq(json_array_size(keys), 1);
    ck_assert_std_str_eq(str_member(json_array_get(keys, 0), "kid"), "");
    ck_assert_std_str_eq(str_member(json_array_get(keys, 0), "alg"), "RSA");
    const json_t *fetches = member(file, "fetches");
    ck_assert_int_eq(int_member(fetches, "ok"), 0);
    ck_assert_int_eq(int_member(fetches, "failed"), 0);
    ck_assert_int_eq(int_member(fetches, "not_modified"), 0);
    ck_assert_int_eq(int_member(fetches, "kid_triggered"), 0);

    // Negative times are real values, not "never".
    ModuleReport r;
    IssuerReport i = file_issuer();
    i.last_attempt = -1;
    r.issuers = {i};
    root = parse_report(value_of(m2m::report_json(r)));
    ck_assert_int_eq(int_member(member(member(root.get(), "issuers"), "static"), "last_attempt"), -1);
}
END_TEST

START_TEST(test_json_empty_report)
{
    const std::string text = value_of(m2m::report_json(ModuleReport{}));
    m2m::JsonPtr root = parse_report(text);
    const json_t *requests = member(root.get(), "requests");
    ck_assert_int_eq(int_member(requests, "allowed"), 0);
    ck_assert(json_is_object(member(requests, "refused")));
    ck_assert_uint_eq(json_object_size(member(requests, "refused")), 0);
    ck_assert(json_is_object(member(root.get(), "issuers")));
    ck_assert_uint_eq(json_object_size(member(root.get(), "issuers")), 0);
}
END_TEST

START_TEST(test_json_escaping_and_bad_utf8)
{
    ModuleReport r;
    IssuerReport i = file_issuer();
    i.name = "we\"ird\\name\n";
    i.location = "/etc/nginx/caf\xc3\xa9/\x01jwks.json";
    i.issuer = "https://bad\xff\xfe.example/";
    i.keys = {{"k\"1", "RSA"}};
    r.issuers = {i};
    r.refused = {{"wrong_\xc0issuer", 2}};
    m2m::JsonPtr root = parse_report(value_of(m2m::report_json(r)));
    const json_t *issuer = member(member(root.get(), "issuers"), "we\"ird\\name\n");
    ck_assert_std_str_eq(str_member(issuer, "location"), "/etc/nginx/caf\xc3\xa9/\x01jwks.json");
    // Not UTF-8: shown with '?', never dropped and never invalid JSON.
    ck_assert_std_str_eq(str_member(issuer, "issuer"), "https://bad??.example/");
    ck_assert_std_str_eq(str_member(json_array_get(member(issuer, "keys"), 0), "kid"), "k\"1");
    ck_assert_int_eq(int_member(member(member(root.get(), "requests"), "refused"), "wrong_?issuer"), 2);
}
END_TEST

START_TEST(test_invalid_utf8_forms)
{
    // Each string is judged on its own: one bad kid does not mask the others.
    ModuleReport r;
    IssuerReport i = file_issuer();
    i.keys = {
        {"ok-caf\xc3\xa9", "RSA"},         // valid 2-byte
        {"ok-\xf0\x9f\x94\x91", "RSA"},    // valid 4-byte
        {"trunc\xe2\x82", "RSA"},          // sequence cut short
        {"overlong\xc0\xaf", "RSA"},       // overlong '/'
        {"overlong3\xe0\x80\xaf", "RSA"},  // overlong, 3 bytes
        {"surrogate\xed\xa0\x80", "RSA"},  // UTF-16 surrogate
        {"big\xf4\x90\x80\x80", "RSA"},    // past U+10FFFF
        {"lone\x80" "cont", "RSA"},          // continuation byte alone
        {"lead\xc3" "(x", "RSA"},            // lead byte without its continuation
    };
    r.issuers = {i};
    m2m::JsonPtr root = parse_report(value_of(m2m::report_json(r)));
    const json_t *keys = member(member(member(root.get(), "issuers"), "static"), "keys");
    const std::vector<std::string> want = {
        "ok-caf\xc3\xa9", "ok-\xf0\x9f\x94\x91", "trunc??", "overlong??",
        "overlong3???", "surrogate???", "big????", "lone?cont", "lead?(x",
    };
    ck_assert_uint_eq(json_array_size(keys), want.size());
    for (size_t k = 0; k < want.size(); k++) {
        ck_assert_std_str_eq(str_member(json_array_get(keys, k), "kid"), want[k]);
    }
}
END_TEST

START_TEST(test_json_huge_counters)
{
    ModuleReport r;
    r.allowed = std::numeric_limits<uint64_t>::max();
    IssuerReport i = file_issuer();
    i.fetch_ok = uint64_t{1} << 63;
    i.generation = (uint64_t{1} << 63) - 1;
    r.issuers = {i};
    m2m::JsonPtr root = parse_report(value_of(m2m::report_json(r)));
    // Clamped to what JSON integers hold here rather than wrapped negative.
    ck_assert_int_eq(int_member(member(root.get(), "requests"), "allowed"), INT64_MAX);
    const json_t *issuer = member(member(root.get(), "issuers"), "static");
    ck_assert_int_eq(int_member(member(issuer, "fetches"), "ok"), INT64_MAX);
    ck_assert_int_eq(int_member(issuer, "generation"), INT64_MAX);
}
END_TEST

START_TEST(test_prometheus_samples)
{
    const std::string text = value_of(m2m::report_prometheus(sample_report()));
    check_exposition(text);
    const std::string corp = "issuer=\"corp\"";
    const std::string file = "issuer=\"static\"";
    assert_lines(sample_lines(text),
                 {
                     "nginx_auth_m2m_requests_allowed_total 42",
                     "nginx_auth_m2m_requests_refused_total{reason=\"expired\"} 3",
                     "nginx_auth_m2m_requests_refused_total{reason=\"unknown_kid\"} 1",
                     "nginx_auth_m2m_token_cache_size_bytes 4194304",
                     "nginx_auth_m2m_token_cache_hits_total 1000",
                     "nginx_auth_m2m_token_cache_misses_total 12",
                     "nginx_auth_m2m_token_cache_evictions_total 2",
                     "nginx_auth_m2m_tokens_issued_total 250",
                     "nginx_auth_m2m_token_requests_refused_total 9",
                     "nginx_auth_m2m_client_authentication_failures_total 4",
                     "nginx_auth_m2m_issuer_info{issuer=\"corp\",iss=\"https://idp.example.com/\",source=\"discovery\","
                     "location=\"https://idp.example.com/.well-known/openid-configuration\","
                     "jwks_uri=\"https://idp.example.com/jwks\"} 1",
                     "nginx_auth_m2m_issuer_info{issuer=\"static\",iss=\"https://static.example/\",source=\"jwks_file\","
                     "location=\"/etc/nginx/m2m/jwks.json\",jwks_uri=\"\"} 1",
                     "nginx_auth_m2m_keys{" + corp + "} 2",
                     "nginx_auth_m2m_keys{" + file + "} 1",
                     "nginx_auth_m2m_key_generation{" + corp + "} 7",
                     "nginx_auth_m2m_key_generation{" + file + "} 1",
                     "nginx_auth_m2m_last_attempt_timestamp_seconds{" + corp + "} 1700000100",
                     "nginx_auth_m2m_last_attempt_timestamp_seconds{" + file + "} 0",
                     "nginx_auth_m2m_last_success_timestamp_seconds{" + corp + "} 1700000000",
                     "nginx_auth_m2m_last_success_timestamp_seconds{" + file + "} 0",
                     "nginx_auth_m2m_next_refresh_timestamp_seconds{" + corp + "} 1700000700",
                     "nginx_auth_m2m_next_refresh_timestamp_seconds{" + file + "} 0",
                     "nginx_auth_m2m_fetches_total{" + corp + ",result=\"ok\"} 5",
                     "nginx_auth_m2m_fetches_total{" + corp + ",result=\"failed\"} 2",
                     "nginx_auth_m2m_fetches_total{" + corp + ",result=\"not_modified\"} 3",
                     "nginx_auth_m2m_fetches_total{" + file + ",result=\"ok\"} 0",
                     "nginx_auth_m2m_fetches_total{" + file + ",result=\"failed\"} 0",
                     "nginx_auth_m2m_fetches_total{" + file + ",result=\"not_modified\"} 0",
                     "nginx_auth_m2m_kid_refetches_total{" + corp + "} 1",
                     "nginx_auth_m2m_kid_refetches_total{" + file + "} 0",
                     // Only the issuer with a recorded error.
                     "nginx_auth_m2m_last_error_info{" + corp + ",reason=\"timeout\"} 1",
                     "nginx_auth_m2m_last_error_timestamp_seconds{" + corp + "} 1700000100",
                     "nginx_auth_m2m_last_error_timestamp_seconds{" + file + "} 0",
                 });
}
END_TEST

START_TEST(test_prometheus_help_and_type)
{
    const std::string text = value_of(m2m::report_prometheus(sample_report()));
    std::vector<std::string> comments;
    for (const std::string &line : lines_of(text)) {
        if (line[0] == '#') {
            comments.push_back(line.substr(0, line.find(' ', 7)) + (line.rfind("# TYPE", 0) == 0
                                                                         ? line.substr(line.find(' ', 7))
                                                                         : ""));
        }
    }
    const std::vector<std::pair<std::string, std::string>> families = {
        {"requests_allowed_total", "counter"},
        {"requests_refused_total", "counter"},
        {"token_cache_size_bytes", "gauge"},
        {"token_cache_hits_total", "counter"},
        {"token_cache_misses_total", "counter"},
        {"token_cache_evictions_total", "counter"},
        {"tokens_issued_total", "counter"},
        {"token_requests_refused_total", "counter"},
        {"client_authentication_failures_total", "counter"},
        {"issuer_info", "gauge"},
        {"keys", "gauge"},
        {"key_generation", "gauge"},
        {"last_attempt_timestamp_seconds", "gauge"},
        {"last_success_timestamp_seconds", "gauge"},
        {"next_refresh_timestamp_seconds", "gauge"},
        {"fetches_total", "counter"},
        {"kid_refetches_total", "counter"},
        {"last_error_info", "gauge"},
        {"last_error_timestamp_seconds", "gauge"},
    };
    std::vector<std::string> want;
    for (const auto &f : families) {
        want.push_back("# HELP nginx_auth_m2m_" + f.first);
        want.push_back("# TYPE nginx_auth_m2m_" + f.first + " " + f.second);
    }
    assert_lines(comments, want);
}
END_TEST

START_TEST(test_prometheus_empty_report)
{
    // Every family is still announced, so dashboards see the metric names.
    const std::string text = value_of(m2m::report_prometheus(ModuleReport{}));
    const std::vector<Sample> samples = check_exposition(text);
    ck_assert_uint_eq(samples.size(), 8);
    ck_assert_std_str_eq(samples[0].name, "nginx_auth_m2m_requests_allowed_total");
    ck_assert_std_str_eq(samples[1].name, "nginx_auth_m2m_token_cache_size_bytes");
    ck_assert_std_str_eq(samples[4].name, "nginx_auth_m2m_token_cache_evictions_total");
    ck_assert_std_str_eq(samples[7].name, "nginx_auth_m2m_client_authentication_failures_total");
    for (const Sample &s : samples) {
        ck_assert_std_str_eq(s.value, "0");
    }
    ck_assert_msg(text.find("# TYPE nginx_auth_m2m_fetches_total counter\n") != std::string::npos, "%s",
                  text.c_str());
}
END_TEST

START_TEST(test_prometheus_no_error_no_info)
{
    ModuleReport r;
    IssuerReport i = remote_issuer();
    i.last_error.clear();
    r.issuers = {i};
    const std::string text = value_of(m2m::report_prometheus(r));
    for (const Sample &s : check_exposition(text)) {
        ck_assert_msg(s.name != "nginx_auth_m2m_last_error_info", "error info without an error");
    }
    ck_assert_msg(text.find("# TYPE nginx_auth_m2m_last_error_info gauge\n") != std::string::npos, "family missing");
}
END_TEST

START_TEST(test_prometheus_label_escaping)
{
    ModuleReport r;
    r.refused = {{"odd\"reason", 9}};
    IssuerReport i = remote_issuer();
    i.name = "we\"ird\\name\nx";
    i.last_error = "HTTP \"500\"\nfrom C:\\idp";
    i.location = "https://bad\xff.example/";
    r.issuers = {i};
    const std::string text = value_of(m2m::report_prometheus(r));

    // Raw lines, escaped as the format says.
    const std::vector<std::string> lines = sample_lines(text);
    ck_assert_std_str_eq(lines[1], "nginx_auth_m2m_requests_refused_total{reason=\"odd\\\"reason\"} 9");
    const std::string name = "issuer=\"we\\\"ird\\\\name\\nx\"";
    bool saw_keys = false, saw_error = false;
    for (const std::string &line : lines) {
        saw_keys = saw_keys || line == "nginx_auth_m2m_keys{" + name + "} 2";
        saw_error = saw_error || line == "nginx_auth_m2m_last_error_info{" + name +
                                             ",reason=\"HTTP \\\"500\\\"\\nfrom C:\\\\idp\"} 1";
    }
    ck_assert_msg(saw_keys && saw_error, "escaped lines missing:\n%s", text.c_str());

    // And they parse back to the original values.
    int with_name = 0;
    for (const Sample &s : check_exposition(text)) {
        for (const auto &label : s.labels) {
            if (label.first == "issuer") {
                ck_assert_std_str_eq(label.second, "we\"ird\\name\nx");
                with_name++;
            }
            if (label.first == "reason" && s.name == "nginx_auth_m2m_last_error_info") {
                ck_assert_std_str_eq(label.second, "HTTP \"500\"\nfrom C:\\idp");
            }
            if (label.first == "location") {
                ck_assert_std_str_eq(label.second, "https://bad?.example/");
            }
        }
    }
    ck_assert_int_eq(with_name, 12);
}
END_TEST

START_TEST(test_prometheus_invalid_utf8)
{
    // Label values must be UTF-8 too; the same replacement applies.
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"caf\xc3\xa9", "caf\xc3\xa9"},
        {"key\xf0\x9f\x94\x91", "key\xf0\x9f\x94\x91"},
        {"trunc\xe2\x82", "trunc??"},
        {"overlong\xc0\xaf", "overlong??"},
        {"overlong3\xe0\x80\xaf", "overlong3???"},
        {"surrogate\xed\xa0\x80", "surrogate???"},
        {"big\xf4\x90\x80\x80", "big????"},
        {"lead\xc3" "(x", "lead?(x"},
        {"overlong4\xf0\x8f\xbf\xbf", "overlong4????"},
    };
    ModuleReport r;
    for (const auto &c : cases) {
        IssuerReport i = file_issuer();
        i.name = c.first;
        r.issuers.push_back(i);
    }
    std::vector<std::string> names;
    for (const Sample &s : check_exposition(value_of(m2m::report_prometheus(r)))) {
        if (s.name == "nginx_auth_m2m_keys") {
            names.push_back(s.labels.at(0).second);
        }
    }
    ck_assert_uint_eq(names.size(), cases.size());
    for (size_t k = 0; k < cases.size(); k++) {
        ck_assert_std_str_eq(names[k], cases[k].second);
    }
}
END_TEST

START_TEST(test_prometheus_large_values)
{
    ModuleReport r;
    r.allowed = std::numeric_limits<uint64_t>::max();
    IssuerReport i = file_issuer();
    i.last_success = -5;
    r.issuers = {i};
    const std::string text = value_of(m2m::report_prometheus(r));
    const std::vector<std::string> lines = sample_lines(text);
    ck_assert_std_str_eq(lines[0], "nginx_auth_m2m_requests_allowed_total 18446744073709551615");
    ck_assert_msg(text.find("nginx_auth_m2m_last_success_timestamp_seconds{issuer=\"static\"} -5\n") !=
                      std::string::npos,
                  "%s", text.c_str());
}
END_TEST

Suite *status_page_suite()
{
    Suite *s = suite_create("status_page");
    TCase *keys = tcase_create("keys");
    tcase_add_test(keys, test_describe_keys);
    tcase_add_test(keys, test_describe_keys_alg_and_no_kid);
    suite_add_tcase(s, keys);

    TCase *json = tcase_create("json");
    tcase_add_test(json, test_json_layout);
    tcase_add_test(json, test_json_remote_issuer);
    tcase_add_test(json, test_json_nulls_for_never);
    tcase_add_test(json, test_json_empty_report);
    tcase_add_test(json, test_json_escaping_and_bad_utf8);
    tcase_add_test(json, test_invalid_utf8_forms);
    tcase_add_test(json, test_json_huge_counters);
    suite_add_tcase(s, json);

    TCase *prom = tcase_create("prometheus");
    tcase_add_test(prom, test_prometheus_samples);
    tcase_add_test(prom, test_prometheus_help_and_type);
    tcase_add_test(prom, test_prometheus_empty_report);
    tcase_add_test(prom, test_prometheus_no_error_no_info);
    tcase_add_test(prom, test_prometheus_label_escaping);
    tcase_add_test(prom, test_prometheus_invalid_utf8);
    tcase_add_test(prom, test_prometheus_large_values);
    suite_add_tcase(s, prom);
    return s;
}
