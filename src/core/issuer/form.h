// What a client sends to the token endpoint: an
// application/x-www-form-urlencoded body (RFC 6749 appendix B, parsed as the
// WHATWG URL standard says, but strictly) and HTTP Basic credentials whose id
// and secret are themselves form-encoded (RFC 6749 §2.3.1).
//
// Strict where lenient parsers disagree, so that this endpoint and a proxy in
// front of it cannot read one body two ways:
// - raw bytes must be printable ASCII or space (an encoder percent-encodes
//   everything else, and a raw control character is never an accident);
// - '%' must start two hex digits (WHATWG would keep a bad escape as it is);
// - decoded names and values must hold no control character, NUL included;
//   bytes of 0x80 and above decode as they are (UTF-8 in parameters that the
//   endpoint does not read); the endpoint checks the ones it reads itself;
// - a name given twice is an error (RFC 6749 §3.2: parameters MUST NOT be
//   included more than once), whatever the values;
// - empty segments ("a=1&&b=2", a trailing '&') are skipped, as WHATWG does,
//   and so are parameters with an empty name ("=x"): RFC 6749 §3.2 says
//   unrecognized parameters are ignored, and no parameter has an empty name.
//
// Values decoded here may be secrets: the containers wipe them when they go.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace m2m {

// The token endpoint's whole body: a client-credentials request is a few
// hundred bytes.
constexpr size_t kMaxFormSize = 8192;
// Parameters, empty segments not counted: a client-credentials request has
// at most seven (grant_type, client_id, client_secret, scope, audience,
// resource and one extension), and the limit keeps the duplicate check small.
constexpr size_t kMaxFormParams = 32;
// The whole Authorization header value.
constexpr size_t kMaxBasicSize = 1024;

enum class FormError : uint8_t {
    ok,
    too_large,          // over kMaxFormSize (kMaxBasicSize for Basic)
    too_many,           // over kMaxFormParams parameters
    bad_character,      // a raw byte that is not printable ASCII or space
    bad_escape,         // '%' not followed by two hex digits
    control_character,  // a decoded control character (U+0000..U+001F, U+007F)
    repeated,           // a name given twice
    out_of_memory,
};

// A lower-case phrase for error_description and logs, in the characters
// RFC 6749 §5.2 allows there (no quote, no backslash).
const char *form_error_text(FormError error) noexcept;

struct FormParam {
    std::string name;
    std::string value;
};

class FormParams {
public:
    FormParams() = default;
    FormParams(const FormParams &) = delete;
    FormParams &operator=(const FormParams &) = delete;
    ~FormParams();

    // The value, or nullptr if the name is absent. An empty value is
    // returned as it is: RFC 6749 §3.2's "sent without a value" is the
    // caller's rule.
    const std::string *get(std::string_view name) const noexcept;
    const std::vector<FormParam> &all() const noexcept { return params_; }

private:
    friend FormError parse_form(std::string_view, FormParams *, std::string *) noexcept;
    void clear() noexcept;
    std::vector<FormParam> params_;
};

// Parses a whole body into *out (emptied first, and emptied again on error).
// On FormError::repeated, *repeated (if not null) is the repeated name.
FormError parse_form(std::string_view body, FormParams *out, std::string *repeated = nullptr) noexcept;

// One form-encoded component: '+' is a space, %XX a byte; the raw and
// decoded checks above. *out is emptied first.
FormError form_decode(std::string_view in, std::string *out) noexcept;

enum class BasicError : uint8_t {
    ok,
    not_basic,       // another scheme (Bearer, Digest, ...), or no credentials after "Basic"
    too_large,       // over kMaxBasicSize
    bad_base64,      // not strict base64 (RFC 4648 §4: standard alphabet, padded, zero pad bits)
    no_colon,        // the decoded text has no ':' between id and secret
    bad_encoding,    // the id or the secret is not form-encoded (as FormError says)
    out_of_memory,
};

const char *basic_error_text(BasicError error) noexcept;

struct BasicCredentials {
    BasicCredentials() = default;
    BasicCredentials(const BasicCredentials &) = delete;
    BasicCredentials &operator=(const BasicCredentials &) = delete;
    ~BasicCredentials();

    std::string client_id;
    std::string secret;
};

// An Authorization header value: "Basic" (any case), one or more spaces, the
// token68 and nothing after it (nginx has trimmed the line's trailing
// whitespace). The decoded text is split at its first ':' (RFC 7617 §2: the
// user-id cannot contain one), then each half is form-decoded (RFC 6749
// §2.3.1), so a ':' in an id arrives as %3A. An empty id or secret is
// returned as it is: the caller refuses it.
BasicError parse_basic(std::string_view header, BasicCredentials *out) noexcept;

}  // namespace m2m
