// Strict base64url (RFC 4648 §5) as JWS uses it: no padding, no whitespace,
// and the unused low bits of the last character must be zero so that each
// byte string has exactly one encoding.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace m2m {

// RFC 4648 §5 without padding. Throws std::bad_alloc only.
std::string base64url_encode(std::string_view in);

// The same into a caller's buffer of base64url_encoded_size(in.size())
// characters (no allocation, no terminating NUL).
void base64url_encode(std::string_view in, char *out) noexcept;

bool base64url_decode(std::string_view in, std::string *out) noexcept;

// The same into a caller's buffer of `capacity` bytes (a stack array on the
// request path: no allocation); *size is the decoded length. False if `in` is
// not strict base64url or its bytes do not fit (then nothing is written);
// the buffer's contents are unspecified after any other refusal.
bool base64url_decode(std::string_view in, unsigned char *out, size_t capacity, size_t *size) noexcept;

// How many characters strict base64url takes for `bytes` bytes: each byte
// length has exactly one encoded length, so a length check can stand in for
// decoding.
constexpr size_t base64url_encoded_size(size_t bytes) noexcept
{
    return (bytes * 4 + 2) / 3;
}

// How many bytes `chars` characters of strict base64url decode to (a length
// of 4n+1, which nothing decodes to, counts as 4n).
constexpr size_t base64url_decoded_size(size_t chars) noexcept
{
    return chars / 4 * 3 + (chars % 4 > 1 ? chars % 4 - 1 : 0);
}

}  // namespace m2m
