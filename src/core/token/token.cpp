#include "token/token.h"

#include <algorithm>

#include "base64url.h"

namespace m2m {

namespace {

Reason decode_object(std::string_view part, JsonPtr *out)
{
    std::string raw;
    if (part.empty() || !base64url_decode(part, &raw)) {
        return Reason::malformed;
    }
    *out = parse_json_object(raw);
    return *out ? Reason::ok : Reason::malformed;
}

// A member that, when present, must be a string.
bool optional_string(const json_t *object, const char *name, std::string_view *out, bool *present)
{
    const json_t *member = json_object_get(object, name);
    *present = member != nullptr;
    return !member || json_string_member(object, name, out);
}

}  // namespace

Reason Token::parse(std::string_view compact, Token *out) noexcept
{
    if (compact.size() > kMaxTokenSize) {
        return Reason::token_too_large;
    }
    auto dots = std::count(compact.begin(), compact.end(), '.');
    if (dots == 4) {
        return Reason::jwe_not_supported;
    }
    if (dots != 2) {
        return Reason::malformed;
    }
    try {
        size_t first = compact.find('.');
        size_t second = compact.find('.', first + 1);
        std::string_view header_part = compact.substr(0, first);
        std::string_view payload_part = compact.substr(first + 1, second - first - 1);
        std::string_view signature_part = compact.substr(second + 1);

        Token token;
        if (decode_object(header_part, &token.header_) != Reason::ok ||
            decode_object(payload_part, &token.claims_) != Reason::ok) {
            return Reason::malformed;
        }
        // An empty signature is well-formed (RFC 7515 unsecured JWS);
        // authenticate() refuses it as alg_not_allowed or bad_signature,
        // which says more.
        std::string signature;
        if (!base64url_decode(signature_part, &signature)) {
            return Reason::malformed;
        }
        if (!json_string_member(token.header_.get(), "alg", &token.alg_)) {
            return Reason::malformed;
        }
        bool present;
        if (!optional_string(token.header_.get(), "kid", &token.kid_, &present)) {
            return Reason::malformed;
        }
        token.has_kid_ = present;
        token.signature_size_ = signature.size();
        if (!optional_string(token.claims_.get(), "iss", &token.issuer_, &present)) {
            return Reason::malformed_claim;
        }
        token.compact_.assign(compact.data(), compact.size());
        *out = std::move(token);
        return Reason::ok;
    } catch (...) {
        return Reason::internal_error;
    }
}

}  // namespace m2m
