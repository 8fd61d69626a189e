#include "verify/scope.h"

#include <algorithm>
#include <string_view>

namespace m2m {

namespace {

void add_unique(std::vector<std::string> *scopes, std::string_view scope)
{
    if (!is_scope_token(scope)) {
        return;
    }
    if (std::find(scopes->begin(), scopes->end(), scope) == scopes->end()) {
        scopes->emplace_back(scope);
    }
}

void add_space_separated(std::vector<std::string> *scopes, std::string_view text)
{
    for_each_space_separated(text, [scopes](std::string_view scope) {
        add_unique(scopes, scope);
        return true;
    });
}

std::string_view string_of(const json_t *value)
{
    return std::string_view(json_string_value(value), json_string_length(value));
}

}  // namespace

bool is_scope_token(std::string_view scope) noexcept
{
    for (unsigned char c : scope) {
        if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') {
            return false;
        }
    }
    return !scope.empty();
}

std::optional<std::vector<std::string>> collect_scopes(const json_t *claims,
                                                       const std::vector<std::string> &claim_names) noexcept
{
    try {
        std::vector<std::string> scopes;
        for (const auto &name : claim_names) {
            const json_t *value = json_object_get(claims, name.c_str());
            if (json_is_string(value)) {
                add_space_separated(&scopes, string_of(value));
            } else if (json_is_array(value)) {
                size_t i;
                const json_t *item;
                json_array_foreach(value, i, item)
                {
                    if (json_is_string(item)) {
                        add_space_separated(&scopes, string_of(item));
                    }
                }
            }
        }
        return scopes;
    } catch (...) {
        return std::nullopt;
    }
}

bool has_all_scopes(const std::vector<std::string> &granted, const std::vector<std::string> &required) noexcept
{
    return std::all_of(required.begin(), required.end(), [&](const std::string &scope) {
        return std::find(granted.begin(), granted.end(), scope) != granted.end();
    });
}

std::optional<std::string> join_scopes(const std::vector<std::string> &scopes) noexcept
{
    try {
        std::string out;
        for (const auto &scope : scopes) {
            if (!out.empty()) {
                out += ' ';
            }
            out += scope;
        }
        return out;
    } catch (...) {
        return std::nullopt;
    }
}

}  // namespace m2m
