#include "json.h"

#include <cstdlib>

namespace m2m {

JsonPtr parse_json_object(std::string_view text) noexcept
{
    json_error_t error;
    JsonPtr value(json_loadb(text.data(), text.size(), JSON_REJECT_DUPLICATES, &error));
    if (!value || !json_is_object(value.get())) {
        return nullptr;
    }
    return value;
}

namespace {

// The length of a line-breaking character starting at text[i] (1 for C0 and
// DEL, 2 for C1, 3 for U+2028/2029), or 0. Input is valid UTF-8 (jansson
// output or a jansson string), so lead bytes tell the sequence.
size_t line_breaking_char_at(std::string_view text, size_t i, unsigned *code_point)
{
    const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char c = byte(i);
    if (c < 0x20 || c == 0x7f) {
        *code_point = c;
        return 1;
    }
    if (c == 0xc2 && i + 1 < text.size() && byte(i + 1) >= 0x80 && byte(i + 1) <= 0x9f) {
        *code_point = byte(i + 1);
        return 2;
    }
    if (c == 0xe2 && i + 2 < text.size() && byte(i + 1) == 0x80 && (byte(i + 2) == 0xa8 || byte(i + 2) == 0xa9)) {
        *code_point = 0x2000u | (byte(i + 2) - 0x80u);
        return 3;
    }
    return 0;
}

}  // namespace

size_t line_breaking_char_length(std::string_view text, size_t i) noexcept
{
    unsigned unused;
    return line_breaking_char_at(text, i, &unused);
}

bool has_line_breaking_chars(std::string_view text) noexcept
{
    for (size_t i = 0; i < text.size(); i++) {
        if (line_breaking_char_length(text, i)) {
            return true;
        }
    }
    return false;
}

std::string dump_json(const json_t *value, size_t flags) noexcept
{
    char *text = json_dumps(value, flags | JSON_ENCODE_ANY);
    if (!text) {
        return {};
    }
    // jansson escapes C0 controls itself; the others only occur inside
    // strings, where \uXXXX means the same character.
    std::string out;
    try {
        std::string_view raw(text);
        out.reserve(raw.size());
        for (size_t i = 0; i < raw.size();) {
            unsigned code_point = 0;
            size_t len = raw[i] == '\n' ? 0 : line_breaking_char_at(raw, i, &code_point);
            if (len == 0) {
                out += raw[i++];
                continue;
            }
            static const char kHex[] = "0123456789abcdef";
            out += "\\u";
            for (int shift = 12; shift >= 0; shift -= 4) {
                out += kHex[(code_point >> shift) & 15];
            }
            i += len;
        }
    } catch (...) {
        out.clear();
    }
    free(text);
    return out;
}

bool json_string_member(const json_t *object, const char *name, std::string_view *out) noexcept
{
    const json_t *member = json_object_get(object, name);
    if (!json_is_string(member)) {
        return false;
    }
    *out = std::string_view(json_string_value(member), json_string_length(member));
    return true;
}

}  // namespace m2m
