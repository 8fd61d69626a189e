#include "issuer/form.h"

#include <openssl/crypto.h>

#include "encoding.h"

namespace m2m {

namespace {

// Wipes the whole buffer, spare capacity included: a secret may have been
// longer before the string was reused.
void wipe(std::string *s) noexcept
{
    s->resize(s->capacity());  // never reallocates
    OPENSSL_cleanse(s->data(), s->size());
    s->clear();
}

bool is_control(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

// Decodes into *out, which has room (the decoded text is never longer), so
// nothing here allocates or leaves a copy behind.
FormError decode_into(std::string_view in, std::string *out)
{
    for (size_t i = 0; i < in.size(); i++) {
        const auto c = static_cast<unsigned char>(in[i]);
        if (c < 0x20 || c > 0x7e) {
            return FormError::bad_character;
        }
        unsigned char byte = c;
        if (c == '+') {
            byte = ' ';
        } else if (c == '%') {
            if (in.size() - i < 3) {
                return FormError::bad_escape;
            }
            const int hi = hex_value(in[i + 1]);
            const int lo = hex_value(in[i + 2]);
            if (hi < 0 || lo < 0) {
                return FormError::bad_escape;
            }
            byte = static_cast<unsigned char>(hi << 4 | lo);
            i += 2;
        }
        if (is_control(byte)) {
            return FormError::control_character;
        }
        out->push_back(static_cast<char>(byte));
    }
    return FormError::ok;
}

}  // namespace

const char *form_error_text(FormError error) noexcept
{
    switch (error) {
    case FormError::ok: return "ok";
    case FormError::too_large: return "too large";
    case FormError::too_many: return "too many parameters";
    case FormError::bad_character: return "a character that must be percent-encoded";
    case FormError::bad_escape: return "a percent sign not followed by two hex digits";
    case FormError::control_character: return "an encoded control character";
    case FormError::repeated: return "a repeated parameter";
    case FormError::out_of_memory: return "out of memory";
    }
    return "unknown error";
}

const char *basic_error_text(BasicError error) noexcept
{
    switch (error) {
    case BasicError::ok: return "ok";
    case BasicError::not_basic: return "not Basic credentials";
    case BasicError::too_large: return "Basic credentials too large";
    case BasicError::bad_base64: return "Basic credentials not in strict base64";
    case BasicError::no_colon: return "Basic credentials without a colon between id and secret";
    case BasicError::bad_encoding: return "Basic credentials whose id or secret is not form-encoded";
    case BasicError::out_of_memory: return "out of memory";
    }
    return "unknown error";
}

FormParams::~FormParams()
{
    clear();
}

void FormParams::clear() noexcept
{
    for (auto &param : params_) {
        wipe(&param.name);
        wipe(&param.value);
    }
    params_.clear();
}

const std::string *FormParams::get(std::string_view name) const noexcept
{
    for (const auto &param : params_) {
        if (param.name == name) {
            return &param.value;
        }
    }
    return nullptr;
}

FormError form_decode(std::string_view in, std::string *out) noexcept
{
    try {
        wipe(out);
        out->reserve(in.size());
    } catch (...) {
        return FormError::out_of_memory;
    }
    const FormError error = decode_into(in, out);
    if (error != FormError::ok) {
        wipe(out);
    }
    return error;
}

FormError parse_form(std::string_view body, FormParams *out, std::string *repeated) noexcept
{
    out->clear();
    if (body.size() > kMaxFormSize) {
        return FormError::too_large;
    }
    FormError error = FormError::ok;
    try {
        size_t start = 0;
        while (start <= body.size() && error == FormError::ok) {
            size_t end = body.find('&', start);
            if (end == std::string_view::npos) {
                end = body.size();
            }
            const std::string_view segment = body.substr(start, end - start);
            start = end + 1;
            if (segment.empty()) {
                continue;
            }
            const size_t eq = segment.find('=');
            const std::string_view name = segment.substr(0, eq);
            const std::string_view value = eq == std::string_view::npos ? std::string_view() : segment.substr(eq + 1);

            FormParam param;
            param.name.reserve(name.size());
            param.value.reserve(value.size());
            error = decode_into(name, &param.name);
            if (error == FormError::ok) {
                error = decode_into(value, &param.value);
            }
            if (error != FormError::ok || param.name.empty()) {
                wipe(&param.name);
                wipe(&param.value);
                continue;
            }
            if (out->get(param.name)) {
                if (repeated) {
                    *repeated = param.name;
                }
                error = FormError::repeated;
            } else if (out->params_.size() == kMaxFormParams) {
                error = FormError::too_many;
            } else {
                out->params_.push_back(std::move(param));
                continue;
            }
            wipe(&param.name);
            wipe(&param.value);
        }
    } catch (...) {
        error = FormError::out_of_memory;
    }
    if (error != FormError::ok) {
        out->clear();
    }
    return error;
}

BasicCredentials::~BasicCredentials()
{
    wipe(&client_id);
    wipe(&secret);
}

BasicError parse_basic(std::string_view header, BasicCredentials *out) noexcept
{
    wipe(&out->client_id);
    wipe(&out->secret);
    if (header.size() > kMaxBasicSize) {
        return BasicError::too_large;
    }
    constexpr std::string_view kScheme = "basic";
    if (header.size() <= kScheme.size() || header[kScheme.size()] != ' ') {
        return BasicError::not_basic;
    }
    for (size_t i = 0; i < kScheme.size(); i++) {
        const auto c = static_cast<unsigned char>(header[i]);
        if ((c | 0x20) != kScheme[i]) {
            return BasicError::not_basic;
        }
    }
    size_t pos = kScheme.size();
    while (pos < header.size() && header[pos] == ' ') {
        pos++;
    }
    const std::string_view token = header.substr(pos);
    if (token.empty()) {
        return BasicError::not_basic;
    }

    std::string decoded;
    BasicError error = BasicError::ok;
    try {
        decoded.reserve(token.size() / 4 * 3);
        out->client_id.reserve(token.size());
        out->secret.reserve(token.size());
    } catch (...) {
        wipe(&out->client_id);
        return BasicError::out_of_memory;
    }
    if (!base64_decode(token, &decoded)) {
        error = BasicError::bad_base64;
    } else {
        const size_t colon = decoded.find(':');
        if (colon == std::string::npos) {
            error = BasicError::no_colon;
        } else if (decode_into(std::string_view(decoded).substr(0, colon), &out->client_id) != FormError::ok ||
                   decode_into(std::string_view(decoded).substr(colon + 1), &out->secret) != FormError::ok) {
            error = BasicError::bad_encoding;
        }
    }
    wipe(&decoded);
    if (error != BasicError::ok) {
        wipe(&out->client_id);
        wipe(&out->secret);
    }
    return error;
}

}  // namespace m2m
