#include "fetch/http_syntax.h"

#include <algorithm>

namespace m2m::http_syntax {

char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) noexcept
{
    if (a.size() != b.size()) {
        return false;
    }
    for (size_t i = 0; i < a.size(); i++) {
        if (lower(a[i]) != lower(b[i])) {
            return false;
        }
    }
    return true;
}

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

// RFC 9110 §5.6.2 tchar.
bool is_tchar(char c) noexcept
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c)) {
        return true;
    }
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Control characters other than HTAB: never legitimate in a field value or
// reason phrase, and NUL or a stray CR in one is a parser-confusion attempt.
bool is_ctl(char c) noexcept
{
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t') || u == 0x7f;
}

bool has_ctl(std::string_view s) noexcept { return std::any_of(s.begin(), s.end(), is_ctl); }

std::string_view trim_ows(std::string_view s) noexcept
{
    while (!s.empty() && is_ows(s.front())) {
        s.remove_prefix(1);
    }
    while (!s.empty() && is_ows(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

// Decimal digits only, saturating at `cap`; false if empty or not all digits.
bool parse_decimal(std::string_view s, uint64_t cap, uint64_t *out) noexcept
{
    if (s.empty()) {
        return false;
    }
    uint64_t v = 0;
    for (char c : s) {
        if (!is_digit(c)) {
            return false;
        }
        const auto d = static_cast<uint64_t>(c - '0');
        v = v > (cap - d) / 10 ? cap : v * 10 + d;
    }
    *out = v;
    return true;
}

// Drops the line's CR (before the LF that ended it). Returns false if the
// line must end in CRLF and did not.
bool strip_cr(std::string_view *line, bool required) noexcept
{
    if (!line->empty() && line->back() == '\r') {
        line->remove_suffix(1);
        return true;
    }
    return !required;
}

}  // namespace m2m::http_syntax
