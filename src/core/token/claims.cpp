#include "token/claims.h"

#include <cstdlib>
#include <strings.h>

namespace m2m {

namespace {

// A raw CR or LF in a variable passed upstream with proxy_set_header would
// split the header, and DEL, C1 controls or U+2028 break log lines in many
// viewers; such strings are rendered as JSON, every one of them escaped.
bool is_plain_string(const json_t *value)
{
    return json_is_string(value) &&
           !has_line_breaking_chars(std::string_view(json_string_value(value), json_string_length(value)));
}

bool is_plain_string_array(const json_t *value)
{
    if (!json_is_array(value)) {
        return false;
    }
    size_t i;
    const json_t *item;
    json_array_foreach(value, i, item)
    {
        if (!is_plain_string(item)) {
            return false;
        }
    }
    return true;
}

bool parse_index(const std::string &step, size_t *index)
{
    if (step.empty() || step.size() > 9 || step.find_first_not_of("0123456789") != std::string::npos) {
        return false;
    }
    *index = static_cast<size_t>(std::strtoul(step.c_str(), nullptr, 10));
    return true;
}

}  // namespace

std::optional<std::string> render_claim(const json_t *value) noexcept
{
    try {
        if (is_plain_string(value)) {
            return std::string(json_string_value(value), json_string_length(value));
        }
        if (is_plain_string_array(value)) {
            std::string out;
            size_t i;
            const json_t *item;
            json_array_foreach(value, i, item)
            {
                if (i > 0) {
                    out += ' ';
                }
                out.append(json_string_value(item), json_string_length(item));
            }
            return out;
        }
        if (!value) {
            return std::string();
        }
        // Any JSON value is at least one character ("0", "{}"): empty is
        // dump_json running out of memory.
        std::string json = dump_json(value, JSON_COMPACT);
        if (json.empty()) {
            return std::nullopt;
        }
        return json;
    } catch (...) {
        return std::nullopt;
    }
}

const json_t *find_claim(const json_t *object, std::string_view name) noexcept
{
    // By length, so the name needs no NUL-terminated copy (jansson's strings
    // hold no NUL: parse_json_object refuses them).
    if (const json_t *exact = json_object_getn(object, name.data(), name.size())) {
        return exact;
    }
    const char *member;
    size_t member_size;
    const json_t *value;
    json_object_keylen_foreach(const_cast<json_t *>(object), member, member_size, value)
    {
        if (member_size == name.size() && strncasecmp(member, name.data(), name.size()) == 0) {
            return value;
        }
    }
    return nullptr;
}

const json_t *find_claim_path(const json_t *object, const std::vector<std::string> &path) noexcept
{
    const json_t *node = object;
    for (const auto &step : path) {
        size_t index;
        if (json_is_object(node)) {
            node = json_object_get(node, step.c_str());
        } else if (json_is_array(node) && parse_index(step, &index)) {
            node = json_array_get(node, index);
        } else {
            return nullptr;
        }
        if (!node) {
            return nullptr;
        }
    }
    return node == object ? nullptr : node;
}

std::string_view find_client_id(const json_t *claims, const std::vector<std::string> &names) noexcept
{
    for (const auto &name : names) {
        const json_t *value = json_object_get(claims, name.c_str());
        // Passed upstream in headers and written to logs raw: a value with a
        // control character is no usable client id.
        if (is_plain_string(value) && json_string_length(value) > 0) {
            return std::string_view(json_string_value(value), json_string_length(value));
        }
    }
    return {};
}

}  // namespace m2m
