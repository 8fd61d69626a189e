// Turning verified claims into the strings that nginx variables carry.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "json.h"

namespace m2m {

// Strings as they are, numbers and booleans as JSON text, arrays of strings
// joined by single spaces, anything else (objects, mixed arrays, null) as
// compact JSON. A string with a control character (CR, LF, DEL, C1, U+2028
// or U+2029) is also rendered as JSON, quoted and escaped, so that no claim
// can split a header line or a log line. Absent (null pointer) renders as
// empty; an empty optional means memory ran out.
std::optional<std::string> render_claim(const json_t *value) noexcept;

// nginx lower-cases variable names, so $m2m_claim_tenantId arrives as
// "tenantid": an exact match wins, else the first member that matches
// ignoring ASCII case.
const json_t *find_claim(const json_t *object, std::string_view name) noexcept;

// Walks nested objects member by member (exact names); a numeric step indexes
// an array. Null when any step is missing.
const json_t *find_claim_path(const json_t *object, const std::vector<std::string> &path) noexcept;

// The first of `names` present as a non-empty string without control
// characters; empty if none is. A view into `claims`, valid while they live:
// nothing is copied, so nothing can fail.
std::string_view find_client_id(const json_t *claims, const std::vector<std::string> &names) noexcept;

}  // namespace m2m
