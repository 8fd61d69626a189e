#include "json.h"

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
