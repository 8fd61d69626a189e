#include "fuzz_claims.h"

#include <algorithm>
#include <optional>
#include <string_view>

#include "token/claims.h"
#include "fuzz_support.h"
#include "json.h"
#include "verify/scope.h"

namespace fuzz {

namespace {

// Written here rather than taken from the module, so that a bug in its own
// classifier cannot hide itself: C0, DEL, C1 (UTF-8 C2 80..C2 9F), U+2028
// and U+2029 (E2 80 A8/A9).
bool breaks_lines(std::string_view s)
{
    for (size_t i = 0; i < s.size(); i++) {
        const auto c = static_cast<unsigned char>(s[i]);
        const auto next = [&](size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0; };
        if (c < 0x20 || c == 0x7f || (c == 0xc2 && next(1) >= 0x80 && next(1) <= 0x9f) ||
            (c == 0xe2 && next(1) == 0x80 && (next(2) == 0xa8 || next(2) == 0xa9))) {
            return true;
        }
    }
    return false;
}

std::string_view string_of(const json_t *value)
{
    return std::string_view(json_string_value(value), json_string_length(value));
}

bool is_plain(const json_t *value)
{
    return json_is_string(value) && !breaks_lines(string_of(value));
}

// The rendering is plain text for plain strings and arrays of them, else
// JSON that reads back as the same value.
void check_rendering(const json_t *value)
{
    const std::optional<std::string> rendered = m2m::render_claim(value);
    if (!rendered) {
        fail("render_claim ran out of memory");
    }
    const std::string &text = *rendered;
    if (breaks_lines(text)) {
        fail("render_claim produced a line-breaking character");
    }
    if (is_plain(value)) {
        if (text != string_of(value)) {
            fail("render_claim changed a plain string");
        }
        return;
    }
    if (json_is_array(value)) {
        std::string joined;
        bool plain = true;
        size_t i;
        const json_t *item;
        json_array_foreach(value, i, item)
        {
            plain = plain && is_plain(item);
            if (plain) {
                joined += (i ? " " : "") + std::string(string_of(item));
            }
        }
        if (plain) {
            if (text != joined) {
                fail("render_claim did not join a plain string array");
            }
            return;
        }
    }
    json_error_t error;
    m2m::JsonPtr back(json_loadb(text.data(), text.size(), JSON_DECODE_ANY, &error));
    if (!back || !json_equal(back.get(), value)) {
        fail("render_claim's JSON does not read back as the claim");
    }
}

std::string ascii_lower(const char *s)
{
    std::string out(s);
    for (char &c : out) {
        c = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    }
    return out;
}

void check_lookups(const json_t *claims, const char *name, const json_t *value)
{
    if (m2m::find_claim(claims, name) != value) {
        fail("find_claim missed an exact name");
    }
    if (!m2m::find_claim(claims, ascii_lower(name))) {
        fail("find_claim missed a name that differs in case only");
    }
    if (m2m::find_claim_path(claims, {name}) != value) {
        fail("find_claim_path missed a top-level member");
    }
    if (json_is_object(value) && json_object_size(value) > 0) {
        const char *inner = json_object_iter_key(json_object_iter(const_cast<json_t *>(value)));
        if (m2m::find_claim_path(claims, {name, inner}) != json_object_get(value, inner)) {
            fail("find_claim_path missed a nested member");
        }
    }
    if (json_is_array(value) && json_array_size(value) > 0) {
        const std::string last = std::to_string(json_array_size(value) - 1);
        if (m2m::find_claim_path(claims, {name, last}) != json_array_get(value, json_array_size(value) - 1) ||
            m2m::find_claim_path(claims, {name, std::to_string(json_array_size(value))}) != nullptr) {
            fail("find_claim_path indexed an array wrongly");
        }
    }
}

}  // namespace

void check_client_id(std::string_view client_id)
{
    if (breaks_lines(client_id)) {
        fail("client id with a line-breaking character");
    }
}

void check_scopes(const std::vector<std::string> &scopes, const std::string &joined)
{
    std::string expect;
    for (size_t i = 0; i < scopes.size(); i++) {
        if (!m2m::is_scope_token(scopes[i]) ||
            std::find(scopes.begin(), scopes.begin() + static_cast<long>(i), scopes[i]) != scopes.begin() + static_cast<long>(i)) {
            fail("a scope that is no scope-token, or twice");
        }
        for (unsigned char c : scopes[i]) {
            if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') {
                fail("is_scope_token let a byte through");
            }
        }
        expect += (i ? " " : "") + scopes[i];
    }
    if (joined != expect) {
        fail("join_scopes");
    }
}

void exercise_claims(const json_t *claims)
{
    const char *name;
    json_t *value;
    json_object_foreach(const_cast<json_t *>(claims), name, value)
    {
        check_rendering(value);
        check_lookups(claims, name, value);
    }
    const auto scopes = m2m::collect_scopes(claims, {"scope", "scp", "scopes"});
    const auto joined = scopes ? m2m::join_scopes(*scopes) : std::nullopt;
    if (!joined) {
        fail("collect_scopes or join_scopes ran out of memory");
    }
    check_scopes(*scopes, *joined);
    check_client_id(m2m::find_client_id(claims, {"client_id", "azp", "appid", "cid", "sub"}));
}

}  // namespace fuzz
