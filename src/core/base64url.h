// Strict base64url (RFC 4648 §5) as JWS uses it: no padding, no whitespace,
// and the unused low bits of the last character must be zero so that each
// byte string has exactly one encoding.
#pragma once

#include <string>
#include <string_view>

namespace m2m {

bool base64url_decode(std::string_view in, std::string *out) noexcept;

}  // namespace m2m
