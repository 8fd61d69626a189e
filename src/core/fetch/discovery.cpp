#include "fetch/discovery.h"

#include <algorithm>

#include "json.h"

namespace m2m {

namespace {

bool has_prefix_nocase(std::string_view s, std::string_view lower_prefix)
{
    if (s.size() < lower_prefix.size()) {
        return false;
    }
    for (size_t i = 0; i < lower_prefix.size(); i++) {
        const char c = s[i] >= 'A' && s[i] <= 'Z' ? static_cast<char>(s[i] - 'A' + 'a') : s[i];
        if (c != lower_prefix[i]) {
            return false;
        }
    }
    return true;
}

// The URL goes straight into our fetch request line and Host header, and it
// came from the network: anything beyond a plain absolute URL is refused.
bool acceptable_jwks_uri(std::string_view uri)
{
    // Bytes outside printable ASCII (a CR or LF would inject headers into
    // our request; a space would split its request line) must arrive
    // percent-encoded.
    if (std::any_of(uri.begin(), uri.end(), [](char c) {
            const auto u = static_cast<unsigned char>(c);
            return u <= 0x20 || u >= 0x7f;
        })) {
        return false;
    }
    // Schemes are case-insensitive (RFC 3986 §3.1), as the jwks_uri
    // directive takes them.
    std::string_view rest;
    if (has_prefix_nocase(uri, "https://")) {
        rest = uri.substr(8);
    } else if (has_prefix_nocase(uri, "http://")) {
        rest = uri.substr(7);
    } else {
        return false;
    }
    const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
    // No host, or user info: "https://idp.example@evil.example/" reads as
    // the IdP to a human and as evil.example to a URL parser.
    if (authority.empty() || authority.find('@') != std::string_view::npos || authority[0] == ':') {
        return false;
    }
    // A fragment is never sent to the server; one in a key URL is not a
    // plain resource location.
    return uri.find('#') == std::string_view::npos;
}

}  // namespace

Reason parse_discovery(std::string_view json, std::string_view expected_issuer, std::string *jwks_uri) noexcept
{
    try {
        JsonPtr root = parse_json_object(json);
        if (!root) {
            return Reason::discovery_malformed;
        }
        std::string_view issuer;
        if (!json_string_member(root.get(), "issuer", &issuer)) {
            return Reason::discovery_malformed;
        }
        // Checked before the rest of the document, so that a foreign issuer
        // is reported as such whatever else is wrong with it.
        if (issuer != expected_issuer) {
            return Reason::discovery_issuer_mismatch;
        }
        std::string_view uri;
        if (!json_string_member(root.get(), "jwks_uri", &uri) || !acceptable_jwks_uri(uri)) {
            return Reason::discovery_malformed;
        }
        jwks_uri->assign(uri);
        return Reason::ok;
    } catch (...) {
        return Reason::internal_error;
    }
}

}  // namespace m2m
