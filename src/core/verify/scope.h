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

// Calls each(piece) for every piece of text between single spaces, empty
// pieces included (two spaces in a row, or one at either end, make one), in
// order; stops as soon as each returns false, and returns whether it never
// did. RFC 6749 §3.3 separates scope-tokens by one space: whether an empty
// piece is an error or nothing is the caller's to say.
template <typename Each>
bool for_each_space_separated(std::string_view text, Each each)
{
    size_t start = 0;
    while (start <= text.size()) {
        size_t end = text.find(' ', start);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        if (!each(text.substr(start, end - start))) {
            return false;
        }
        start = end + 1;
    }
    return true;
}

// Every one of `required` appears in `granted`.
bool has_all_scopes(const std::vector<std::string> &granted, const std::vector<std::string> &required) noexcept;

// Separated by single spaces; an empty optional means memory ran out.
std::optional<std::string> join_scopes(const std::vector<std::string> &scopes) noexcept;

}  // namespace m2m
