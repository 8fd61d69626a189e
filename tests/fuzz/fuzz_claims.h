// Invariants of the claim helpers (claims.h, scope.h), checked on any parsed
// claim set: what reaches an nginx variable must never break a header or a
// log line, and the lookups must find what is there.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <jansson.h>

namespace fuzz {

// Every member rendered, looked up exactly, ignoring case and by path; the
// scopes and client id collected under the module's default claim names.
void exercise_claims(const json_t *claims);

void check_client_id(std::string_view client_id);
void check_scopes(const std::vector<std::string> &scopes, const std::string &joined);

}  // namespace fuzz
