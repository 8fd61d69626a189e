// The token endpoint's readers on arbitrary input: parse_form() on the input
// as a body, parse_basic() on it as an Authorization header value and again
// behind "Basic ". Besides crashes, each accepted input must satisfy what
// form.h promises, and must come back the same after a round trip through an
// encoder written here (percent-encode every byte but unreserved ones,
// standard padded base64): two readings of one request would be a finding.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "issuer/form.h"

namespace {

bool has_control(std::string_view s)
{
    for (unsigned char c : s) {
        if (c < 0x20 || c == 0x7f) {
            return true;
        }
    }
    return false;
}

// Every byte percent-encoded except ALPHA / DIGIT / "-._~", spaces as '+'.
std::string form_encode(std::string_view s)
{
    static const char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
            c == '_' || c == '~') {
            out += static_cast<char>(c);
        } else if (c == ' ') {
            out += '+';
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    return out;
}

void check_form(std::string_view body)
{
    m2m::FormParams params;
    std::string repeated;
    const m2m::FormError error = m2m::parse_form(body, &params, &repeated);
    if (error != m2m::FormError::ok) {
        if (!params.all().empty()) {
            fuzz::fail("parameters kept after an error");
        }
        if (error == m2m::FormError::repeated && repeated.empty()) {
            fuzz::fail("a repeated parameter without its name");
        }
        if (error == m2m::FormError::out_of_memory) {
            fuzz::fail("out of memory on a small input");
        }
        return;
    }
    if (body.size() > m2m::kMaxFormSize || params.all().size() > m2m::kMaxFormParams) {
        fuzz::fail("over a limit, yet accepted");
    }
    std::string again;
    for (size_t i = 0; i < params.all().size(); i++) {
        const m2m::FormParam &p = params.all()[i];
        if (p.name.empty() || has_control(p.name) || has_control(p.value)) {
            fuzz::fail("an empty name or a control character accepted");
        }
        for (size_t j = 0; j < i; j++) {
            if (params.all()[j].name == p.name) {
                fuzz::fail("a repeated name accepted");
            }
        }
        if (params.get(p.name) != &p.value) {
            fuzz::fail("get() does not find a parameter");
        }
        if (p.value.size() > body.size() || p.name.size() > body.size()) {
            fuzz::fail("decoded longer than encoded");
        }
        again += (i ? "&" : "") + form_encode(p.name) + "=" + form_encode(p.value);
    }
    if (again.size() > m2m::kMaxFormSize) {
        return;  // encoding every byte can triple the size
    }
    m2m::FormParams reparsed;
    if (m2m::parse_form(again, &reparsed) != m2m::FormError::ok || reparsed.all().size() != params.all().size()) {
        fuzz::fail("re-encoded parameters do not parse back");
    }
    for (size_t i = 0; i < params.all().size(); i++) {
        if (reparsed.all()[i].name != params.all()[i].name || reparsed.all()[i].value != params.all()[i].value) {
            fuzz::fail("re-encoded parameters differ");
        }
    }
}

void check_basic(std::string_view header)
{
    m2m::BasicCredentials creds;
    const m2m::BasicError error = m2m::parse_basic(header, &creds);
    if (error != m2m::BasicError::ok) {
        if (!creds.client_id.empty() || !creds.secret.empty()) {
            fuzz::fail("credentials kept after an error");
        }
        return;
    }
    if (header.size() > m2m::kMaxBasicSize || has_control(creds.client_id) || has_control(creds.secret)) {
        fuzz::fail("Basic credentials over the limit or with a control character");
    }
    // Strict base64 has one encoding per byte string: the token68 must be
    // exactly what an encoder makes of the text it decoded to. The text is
    // not known here, but the credentials re-encoded must read back the same.
    const std::string again = "Basic " + fuzz::base64_encode(form_encode(creds.client_id) + ":" + form_encode(creds.secret));
    if (again.size() > m2m::kMaxBasicSize) {
        return;
    }
    m2m::BasicCredentials reparsed;
    if (m2m::parse_basic(again, &reparsed) != m2m::BasicError::ok || reparsed.client_id != creds.client_id ||
        reparsed.secret != creds.secret) {
        fuzz::fail("re-encoded Basic credentials differ");
    }
}

// Loose on purpose: alphabet characters up to the first '=', any padding,
// stray bits dropped. check_canonical_base64 compares with it.
std::string loose_base64_decode(std::string_view in)
{
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    for (unsigned char c : in) {
        int v;
        if (c >= 'A' && c <= 'Z') {
            v = c - 'A';
        } else if (c >= 'a' && c <= 'z') {
            v = c - 'a' + 26;
        } else if (c >= '0' && c <= '9') {
            v = c - '0' + 52;
        } else if (c == '+') {
            v = 62;
        } else if (c == '/') {
            v = 63;
        } else {
            break;
        }
        acc = acc << 6 | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>(acc >> bits & 0xff);
        }
    }
    return out;
}

// A token68 the reader accepts must be exactly what an encoder makes of its
// bytes: no second spelling of the same credentials (loose padding, stray
// bits, trailing junk) gets in.
void check_canonical_base64(std::string_view token)
{
    m2m::BasicCredentials creds;
    if (m2m::parse_basic("Basic " + std::string(token), &creds) != m2m::BasicError::ok) {
        return;
    }
    while (!token.empty() && token.front() == ' ') {
        token.remove_prefix(1);  // more spaces after the scheme are allowed
    }
    if (fuzz::base64_encode(loose_base64_decode(token)) != token) {
        fuzz::fail("a non-canonical base64 token accepted");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const std::string_view input(reinterpret_cast<const char *>(data), size);
    check_form(input);
    check_basic(input);
    check_basic("Basic " + std::string(input));
    check_canonical_base64(input);
    return 0;
}
