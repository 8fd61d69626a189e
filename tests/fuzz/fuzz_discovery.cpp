// parse_discovery on arbitrary metadata documents. The jwks_uri it returns
// goes straight into our fetch's request line and Host header, so every
// accepted URI is checked here against the rules in discovery.h, by code
// that does not share the module's.
//
// Input: the expected issuer, a newline, then the document.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fetch/discovery.h"
#include "fuzz_support.h"
#include "json.h"

namespace {

const char kUntouched[] = "\x01untouched";

bool starts_with_nocase(std::string_view s, std::string_view lower)
{
    if (s.size() < lower.size()) {
        return false;
    }
    for (size_t i = 0; i < lower.size(); i++) {
        const char c = s[i] >= 'A' && s[i] <= 'Z' ? static_cast<char>(s[i] - 'A' + 'a') : s[i];
        if (c != lower[i]) {
            return false;
        }
    }
    return true;
}

std::string member(const json_t *doc, const char *name)
{
    const json_t *v = json_object_get(doc, name);
    return json_is_string(v) ? std::string(json_string_value(v), json_string_length(v)) : std::string(kUntouched);
}

void check_uri(std::string_view uri)
{
    for (unsigned char c : uri) {
        if (c <= 0x20 || c >= 0x7f) {
            fuzz::fail("jwks_uri with a byte that must be percent-encoded");
        }
    }
    size_t scheme;
    if (starts_with_nocase(uri, "https://")) {
        scheme = 8;
    } else if (starts_with_nocase(uri, "http://")) {
        scheme = 7;
    } else {
        fuzz::fail("jwks_uri that is not http(s)");
    }
    const std::string_view rest = uri.substr(scheme);
    const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
    if (authority.empty() || authority.front() == ':' || authority.find('@') != std::string_view::npos) {
        fuzz::fail("jwks_uri without a host, or with user info");
    }
    if (uri.find('#') != std::string_view::npos) {
        fuzz::fail("jwks_uri with a fragment");
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    json_object_seed(1);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const std::string_view input(reinterpret_cast<const char *>(data), size);
    const size_t newline = input.find('\n');
    if (newline == std::string_view::npos) {
        return 0;
    }
    const std::string_view expected = input.substr(0, newline);
    const std::string_view document = input.substr(newline + 1);

    std::string uri = kUntouched;
    const m2m::Reason status = m2m::parse_discovery(document, expected, &uri);
    if (status != m2m::Reason::ok) {
        if (status != m2m::Reason::discovery_malformed && status != m2m::Reason::discovery_issuer_mismatch) {
            fuzz::fail("parse_discovery returned an unexpected status");
        }
        if (uri != kUntouched) {
            fuzz::fail("jwks_uri written on failure");
        }
    }
    m2m::JsonPtr doc(json_loadb(document.data(), document.size(), JSON_REJECT_DUPLICATES, nullptr));
    const std::string issuer = member(doc.get(), "issuer");
    if (status == m2m::Reason::discovery_issuer_mismatch && (issuer == kUntouched || issuer == expected)) {
        fuzz::fail("issuer mismatch reported for a matching issuer");
    }
    if (status == m2m::Reason::ok) {
        if (issuer != expected || uri != member(doc.get(), "jwks_uri")) {
            fuzz::fail("ok, but not for this issuer or not with the document's jwks_uri");
        }
        check_uri(uri);
    }
    return 0;
}
