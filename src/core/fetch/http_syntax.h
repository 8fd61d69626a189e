// The small pieces of HTTP/1.1 syntax (RFC 9110, RFC 9112) that the key
// fetcher's response parser reads fields and lines with. ASCII only, no
// locale: a header's case never depends on the machine.
#pragma once

#include <cstdint>
#include <string_view>

namespace m2m::http_syntax {

char lower(char c) noexcept;
bool iequals(std::string_view a, std::string_view b) noexcept;
bool is_digit(char c) noexcept;
bool is_ows(char c) noexcept;
bool is_tchar(char c) noexcept;  // RFC 9110 §5.6.2
// Control characters other than HTAB: never legitimate in a field value or
// reason phrase, and NUL or a stray CR in one is a parser-confusion attempt.
bool is_ctl(char c) noexcept;
bool has_ctl(std::string_view s) noexcept;
std::string_view trim_ows(std::string_view s) noexcept;
// Decimal digits only, saturating at `cap`; false if empty or not all digits.
bool parse_decimal(std::string_view s, uint64_t cap, uint64_t *out) noexcept;
// Drops the line's CR (before the LF that ended it). Returns false if the
// line must end in CRLF and did not.
bool strip_cr(std::string_view *line, bool required) noexcept;

}  // namespace m2m::http_syntax
