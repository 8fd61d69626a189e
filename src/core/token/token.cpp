#include "token/token.h"

#include "base64url.h"

namespace m2m {

namespace {

Reason decode_object(std::string_view part, JsonPtr *out)
{
    // On the stack: no segment of a token parse accepts decodes to more.
    unsigned char raw[base64url_decoded_size(kMaxTokenSize)];
    size_t size = 0;
    if (part.empty() || !base64url_decode(part, raw, sizeof raw, &size)) {
        return Reason::malformed;
    }
    *out = parse_json_object(std::string_view(reinterpret_cast<const char *>(raw), size));
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
    // A JWS has two '.', a JWE four: where the first five are is all the
    // shape needs.
    size_t dots[5];
    size_t count = 0;
    for (size_t at = compact.find('.'); at != std::string_view::npos && count < 5; at = compact.find('.', at + 1)) {
        dots[count++] = at;
    }
    if (count == 4) {
        return Reason::jwe_not_supported;
    }
    if (count != 2) {
        return Reason::malformed;
    }
    try {
        std::string_view header_part = compact.substr(0, dots[0]);
        std::string_view payload_part = compact.substr(dots[0] + 1, dots[1] - dots[0] - 1);
        std::string_view signature_part = compact.substr(dots[1] + 1);

        Token token;
        if (decode_object(header_part, &token.header_) != Reason::ok ||
            decode_object(payload_part, &token.claims_) != Reason::ok) {
            return Reason::malformed;
        }
        // An empty signature is well-formed (RFC 7515 unsecured JWS);
        // authenticate() refuses it as alg_not_allowed or bad_signature,
        // which says more. Decoded here once, after a copy of the token:
        // the signature check reads it from there.
        const size_t signature_size = base64url_decoded_size(signature_part.size());
        token.bytes_.reserve(compact.size() + signature_size);
        token.bytes_.assign(compact.data(), compact.size());
        token.bytes_.resize(compact.size() + signature_size);
        size_t decoded = 0;
        if (!base64url_decode(signature_part, reinterpret_cast<unsigned char *>(&token.bytes_[compact.size()]),
                              signature_size, &decoded)) {
            return Reason::malformed;
        }
        token.compact_size_ = compact.size();
        token.signing_input_size_ = dots[1];
        if (!json_string_member(token.header_.get(), "alg", &token.alg_)) {
            return Reason::malformed;
        }
        bool present;
        if (!optional_string(token.header_.get(), "kid", &token.kid_, &present)) {
            return Reason::malformed;
        }
        token.has_kid_ = present;
        if (!optional_string(token.claims_.get(), "iss", &token.issuer_, &present)) {
            return Reason::malformed_claim;
        }
        *out = std::move(token);
        return Reason::ok;
    } catch (...) {
        return Reason::internal_error;
    }
}

}  // namespace m2m
