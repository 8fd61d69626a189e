// OAuth scopes (RFC 6749 §3.3): case-sensitive tokens separated by spaces.
// Issuers disagree on the claim's shape (a string for Auth0, an array for
// Okta and Scalekit), so both are read and merged.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "json.h"

namespace m2m {

// RFC 6749 §3.3 scope-token: printable ASCII except space, '"' and '\'.
// Such a token is also safe to quote in WWW-Authenticate and to pass in a
// header or a log line as it is.
bool is_scope_token(std::string_view scope) noexcept;

// The union, in first-seen order and without duplicates, of every scope in
// any of the named claims. Tokens that are not RFC 6749 scope-tokens (control
// characters, non-ASCII, quotes) are dropped. An empty optional means
// memory ran out.
std::optional<std::vector<std::string>> collect_scopes(const json_t *claims,
                                                       const std::vector<std::string> &claim_names) noexcept;

// Every one of `required` appears in `granted`.
bool has_all_scopes(const std::vector<std::string> &granted, const std::vector<std::string> &required) noexcept;

// Separated by single spaces; an empty optional means memory ran out.
std::optional<std::string> join_scopes(const std::vector<std::string> &scopes) noexcept;

}  // namespace m2m
