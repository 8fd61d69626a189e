// Owning handles for the C libraries' objects, so no path through the core
// can leak a jansson value or a cjose key.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <cjose/jwk.h>
#include <cjose/jws.h>
#include <jansson.h>

namespace m2m {

struct JsonDeleter {
    void operator()(json_t *j) const noexcept { json_decref(j); }
};
using JsonPtr = std::unique_ptr<json_t, JsonDeleter>;

struct JwkDeleter {
    void operator()(cjose_jwk_t *k) const noexcept { cjose_jwk_release(k); }
};
using JwkPtr = std::unique_ptr<cjose_jwk_t, JwkDeleter>;

struct JwsDeleter {
    void operator()(cjose_jws_t *j) const noexcept { cjose_jws_release(j); }
};
using JwsPtr = std::unique_ptr<cjose_jws_t, JwsDeleter>;

// Parses a JSON object strictly: valid UTF-8, no duplicate member names
// (RFC 7515 §5.2 lets us refuse them, and two parsers disagreeing on which
// duplicate wins is a classic bypass), no NUL in strings. Null if not an object.
JsonPtr parse_json_object(std::string_view text) noexcept;

// json_dumps, then every DEL, C1 control (U+0080..U+009F) and line or
// paragraph separator (U+2028, U+2029) escaped as \uXXXX: jansson leaves them
// raw, and log viewers and some HTTP stacks treat them as line breaks. Empty
// on allocation failure.
std::string dump_json(const json_t *value, size_t flags) noexcept;

// Whether a UTF-8 string holds a byte or code point that can break a header
// or log line: C0 and C1 controls, DEL, U+2028 and U+2029.
bool has_line_breaking_chars(std::string_view text) noexcept;

// The length in bytes of such a character starting at text[i], or 0.
size_t line_breaking_char_length(std::string_view text, size_t i) noexcept;

// The member as a string view, or empty optional-like null data if absent or
// not a string.
bool json_string_member(const json_t *object, const char *name, std::string_view *out) noexcept;

}  // namespace m2m
