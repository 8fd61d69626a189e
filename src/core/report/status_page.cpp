#include "report/status_page.h"

#include <cstdlib>
#include <limits>
#include <new>
#include <string_view>
#include <utility>

#include "json.h"

namespace m2m {

namespace {

const char *curve_name(Curve crv)
{
    switch (crv) {
    case Curve::P256: return "EC P-256";
    case Curve::P384: return "EC P-384";
    case Curve::P521: return "EC P-521";
    case Curve::none: break;
    }
    return "EC";
}

// Both formats require UTF-8, and names, paths and URLs come from the
// configuration or the network. A string that is not valid UTF-8 is shown
// with '?' for each non-ASCII byte rather than dropped or emitted broken.
bool valid_utf8(std::string_view s)
{
    size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        size_t extra;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            extra = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            extra = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            extra = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + extra >= s.size()) {
            return false;
        }
        for (size_t k = 1; k <= extra; k++) {
            const auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xc0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (cc & 0x3f);
        }
        // Overlong forms, UTF-16 surrogates and code points past U+10FFFF.
        if ((extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff)) {
            return false;
        }
        i += extra + 1;
    }
    return true;
}

std::string ascii_only(std::string s)
{
    for (char &c : s) {
        if (static_cast<unsigned char>(c) >= 0x80) {
            c = '?';
        }
    }
    return s;
}

std::string printable(std::string_view s) { return valid_utf8(s) ? std::string(s) : ascii_only(std::string(s)); }

// --- JSON ---------------------------------------------------------------

json_t *checked(json_t *value)
{
    if (!value) {
        throw std::bad_alloc();
    }
    return value;
}

// Takes ownership of value, as json_object_set_new does. Should jansson's
// idea of UTF-8 ever differ from ours, the key goes out as plain ASCII
// rather than the status page failing.
void set(json_t *object, std::string_view key, json_t *value)
{
    const JsonPtr owned(checked(value));
    std::string k = printable(key);
    if (json_object_setn(object, k.data(), k.size(), value) != 0) {
        k = ascii_only(std::move(k));
        if (json_object_setn(object, k.data(), k.size(), value) != 0) {
            throw std::bad_alloc();
        }
    }
}

json_t *string_value(std::string_view s)
{
    const std::string p = printable(s);
    if (json_t *value = json_stringn(p.data(), p.size())) {
        return value;
    }
    const std::string ascii = ascii_only(p);
    return checked(json_stringn(ascii.data(), ascii.size()));
}

json_t *string_or_null(std::string_view s) { return s.empty() ? checked(json_null()) : string_value(s); }

json_t *count(uint64_t n)
{
    constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<json_int_t>::max());
    return checked(json_integer(static_cast<json_int_t>(n > kMax ? kMax : n)));
}

json_t *time_or_null(int64_t t) { return t == 0 ? checked(json_null()) : checked(json_integer(t)); }

JsonPtr issuer_json(const IssuerReport &issuer)
{
    JsonPtr object(checked(json_object()));
    json_t *o = object.get();
    set(o, "issuer", string_value(issuer.issuer));
    set(o, "source", string_value(issuer.source));
    set(o, "location", string_value(issuer.location));
    set(o, "jwks_uri", string_or_null(issuer.jwks_uri));

    JsonPtr keys(checked(json_array()));
    for (const KeyInfo &key : issuer.keys) {
        JsonPtr k(checked(json_object()));
        set(k.get(), "kid", string_value(key.kid));
        set(k.get(), "alg", string_value(key.alg));
        if (json_array_append_new(keys.get(), k.release()) != 0) {
            throw std::bad_alloc();
        }
    }
    set(o, "keys", keys.release());

    set(o, "generation", count(issuer.generation));
    set(o, "last_attempt", time_or_null(issuer.last_attempt));
    set(o, "last_success", time_or_null(issuer.last_success));
    set(o, "last_error", string_or_null(issuer.last_error));
    set(o, "last_error_time", time_or_null(issuer.last_error_time));
    set(o, "next_refresh", time_or_null(issuer.next_refresh));

    JsonPtr fetches(checked(json_object()));
    set(fetches.get(), "ok", count(issuer.fetch_ok));
    set(fetches.get(), "failed", count(issuer.fetch_failed));
    set(fetches.get(), "not_modified", count(issuer.fetch_not_modified));
    set(fetches.get(), "kid_triggered", count(issuer.fetch_kid_triggered));
    set(o, "fetches", fetches.release());
    return object;
}

// --- Prometheus -----------------------------------------------------------

constexpr const char *kPrefix = "nginx_auth_m2m_";

using Labels = std::vector<std::pair<const char *, std::string_view>>;

void escape_label(std::string *out, std::string_view value)
{
    for (char c : printable(value)) {
        switch (c) {
        case '\\': *out += "\\\\"; break;
        case '"': *out += "\\\""; break;
        case '\n': *out += "\\n"; break;
        default: *out += c;
        }
    }
}

void family(std::string *out, const char *name, const char *type, const char *help)
{
    *out += "# HELP ";
    *out += kPrefix;
    *out += name;
    *out += ' ';
    *out += help;
    *out += "\n# TYPE ";
    *out += kPrefix;
    *out += name;
    *out += ' ';
    *out += type;
    *out += '\n';
}

void sample(std::string *out, const char *name, const Labels &labels, const std::string &value)
{
    *out += kPrefix;
    *out += name;
    if (!labels.empty()) {
        *out += '{';
        for (size_t i = 0; i < labels.size(); i++) {
            if (i > 0) {
                *out += ',';
            }
            *out += labels[i].first;
            *out += "=\"";
            escape_label(out, labels[i].second);
            *out += '"';
        }
        *out += '}';
    }
    *out += ' ';
    *out += value;
    *out += '\n';
}

// One gauge or counter family with one sample per issuer.
template <typename Value>
void per_issuer(std::string *out, const ModuleReport &report, const char *name, const char *type,
                const char *help, Value value)
{
    family(out, name, type, help);
    for (const IssuerReport &issuer : report.issuers) {
        sample(out, name, {{"issuer", issuer.name}}, std::to_string(value(issuer)));
    }
}

std::vector<KeyInfo> key_infos(const KeySet &keys)
{
    std::vector<KeyInfo> out;
    out.reserve(keys.keys().size());
    for (const Key &key : keys.keys()) {
        KeyInfo info;
        info.kid = key.kid.value_or("");
        if (key.alg) {
            info.alg = algorithm_name(*key.alg);
        } else {
            info.alg = key.kty == KeyType::RSA ? "RSA" : curve_name(key.crv);
        }
        out.push_back(std::move(info));
    }
    return out;
}

std::string json_text(const ModuleReport &report)
{
    JsonPtr root(checked(json_object()));

    JsonPtr requests(checked(json_object()));
    set(requests.get(), "allowed", count(report.allowed));
    JsonPtr refused(checked(json_object()));
    for (const auto &r : report.refused) {
        set(refused.get(), r.first, count(r.second));
    }
    set(requests.get(), "refused", refused.release());
    set(root.get(), "requests", requests.release());

    JsonPtr cache(checked(json_object()));
    set(cache.get(), "size", count(report.token_cache.size));
    set(cache.get(), "hits", count(report.token_cache.hits));
    set(cache.get(), "misses", count(report.token_cache.misses));
    set(cache.get(), "evictions", count(report.token_cache.evictions));
    set(root.get(), "token_cache", cache.release());

    JsonPtr endpoint(checked(json_object()));
    set(endpoint.get(), "issued", count(report.token_endpoint.issued));
    set(endpoint.get(), "refused", count(report.token_endpoint.refused));
    set(endpoint.get(), "client_authentication_failed", count(report.token_endpoint.client_auth_failed));
    set(root.get(), "token_endpoint", endpoint.release());

    JsonPtr issuers(checked(json_object()));
    for (const IssuerReport &issuer : report.issuers) {
        set(issuers.get(), issuer.name, issuer_json(issuer).release());
    }
    set(root.get(), "issuers", issuers.release());

    std::string out = dump_json(root.get(), JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (out.empty()) {
        throw std::bad_alloc();
    }
    return out + '\n';
}

std::string prometheus_text(const ModuleReport &report)
{
    std::string out;

    family(&out, "requests_allowed_total", "counter", "Requests whose token was accepted.");
    sample(&out, "requests_allowed_total", {}, std::to_string(report.allowed));

    family(&out, "requests_refused_total", "counter", "Requests refused, by reason code.");
    for (const auto &r : report.refused) {
        sample(&out, "requests_refused_total", {{"reason", r.first}}, std::to_string(r.second));
    }

    family(&out, "token_cache_size_bytes", "gauge", "Verified-token cache size per worker; 0: off.");
    sample(&out, "token_cache_size_bytes", {}, std::to_string(report.token_cache.size));
    family(&out, "token_cache_hits_total", "counter", "Tokens found verified in a worker's cache.");
    sample(&out, "token_cache_hits_total", {}, std::to_string(report.token_cache.hits));
    family(&out, "token_cache_misses_total", "counter", "Tokens looked up and verified anew.");
    sample(&out, "token_cache_misses_total", {}, std::to_string(report.token_cache.misses));
    family(&out, "token_cache_evictions_total", "counter", "Cached tokens pushed out for room.");
    sample(&out, "token_cache_evictions_total", {}, std::to_string(report.token_cache.evictions));

    family(&out, "tokens_issued_total", "counter", "Access tokens issued by the token endpoints.");
    sample(&out, "tokens_issued_total", {}, std::to_string(report.token_endpoint.issued));
    family(&out, "token_requests_refused_total", "counter", "Token requests refused, for any reason.");
    sample(&out, "token_requests_refused_total", {}, std::to_string(report.token_endpoint.refused));
    family(&out, "client_authentication_failures_total", "counter",
           "Token requests refused because client authentication failed.");
    sample(&out, "client_authentication_failures_total", {}, std::to_string(report.token_endpoint.client_auth_failed));

    family(&out, "issuer_info", "gauge", "Configured issuers and where their keys come from.");
    for (const IssuerReport &issuer : report.issuers) {
        sample(&out, "issuer_info",
               {{"issuer", issuer.name},
                {"iss", issuer.issuer},
                {"source", issuer.source},
                {"location", issuer.location},
                {"jwks_uri", issuer.jwks_uri}},
               "1");
    }

    per_issuer(&out, report, "keys", "gauge", "Usable keys currently loaded.",
               [](const IssuerReport &i) { return i.keys.size(); });
    per_issuer(&out, report, "key_generation", "gauge", "Generation of the loaded key set; bumps on every change.",
               [](const IssuerReport &i) { return i.generation; });
    // 0 rather than no sample for "never", so that an alert on
    // time() - last_success also fires for an issuer that never succeeded.
    per_issuer(&out, report, "last_attempt_timestamp_seconds", "gauge",
               "Unix time of the last key fetch attempt, 0 if never.",
               [](const IssuerReport &i) { return i.last_attempt; });
    per_issuer(&out, report, "last_success_timestamp_seconds", "gauge",
               "Unix time of the last successful key fetch, 0 if never.",
               [](const IssuerReport &i) { return i.last_success; });
    per_issuer(&out, report, "next_refresh_timestamp_seconds", "gauge",
               "Unix time of the next scheduled key fetch, 0 if none.",
               [](const IssuerReport &i) { return i.next_refresh; });

    family(&out, "fetches_total", "counter", "Key fetches, by result.");
    for (const IssuerReport &issuer : report.issuers) {
        sample(&out, "fetches_total", {{"issuer", issuer.name}, {"result", "ok"}}, std::to_string(issuer.fetch_ok));
        sample(&out, "fetches_total", {{"issuer", issuer.name}, {"result", "failed"}},
               std::to_string(issuer.fetch_failed));
        sample(&out, "fetches_total", {{"issuer", issuer.name}, {"result", "not_modified"}},
               std::to_string(issuer.fetch_not_modified));
    }

    per_issuer(&out, report, "kid_refetches_total", "counter", "Key fetches triggered by an unknown kid.",
               [](const IssuerReport &i) { return i.fetch_kid_triggered; });

    family(&out, "last_error_info", "gauge", "The reason of the last failed key fetch, if one is recorded.");
    for (const IssuerReport &issuer : report.issuers) {
        if (!issuer.last_error.empty()) {
            sample(&out, "last_error_info", {{"issuer", issuer.name}, {"reason", issuer.last_error}}, "1");
        }
    }
    per_issuer(&out, report, "last_error_timestamp_seconds", "gauge",
               "Unix time of the last failed key fetch, 0 if none.",
               [](const IssuerReport &i) { return i.last_error_time; });
    return out;
}

}  // namespace

// Everything above throws std::bad_alloc when memory runs out (jansson's
// NULLs included, through checked()); this is where that becomes an empty
// optional.

std::optional<std::vector<KeyInfo>> describe_keys(const KeySet &keys) noexcept
{
    try {
        return key_infos(keys);
    } catch (...) {
        return std::nullopt;
    }
}

std::optional<std::string> report_json(const ModuleReport &report) noexcept
{
    try {
        return json_text(report);
    } catch (...) {
        return std::nullopt;
    }
}

std::optional<std::string> report_prometheus(const ModuleReport &report) noexcept
{
    try {
        return prometheus_text(report);
    } catch (...) {
        return std::nullopt;
    }
}

}  // namespace m2m
