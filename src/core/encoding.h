// The small decoders the parsers share: hex digits (%XX escapes, chunk
// sizes, IPv6 literals) and standard base64 (Basic credentials, PEM
// bodies). base64url, the JWS alphabet, has base64url.h.
#pragma once

#include <string>
#include <string_view>

namespace m2m {

// 0-15 for 0-9, a-f, A-F; -1 for anything else.
int hex_value(char c) noexcept;

// RFC 4648 §4, strictly: not empty, a length that is a multiple of four,
// '=' only as the last one or two characters, and the bits the padding
// hides zero, so each byte string has exactly one encoding. Appends to
// *out. Throws std::bad_alloc only.
bool base64_decode(std::string_view in, std::string *out);

}  // namespace m2m
