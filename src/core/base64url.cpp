#include "base64url.h"

#include <array>
#include <cstdint>

namespace m2m {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr uint8_t kInvalid = 0xff;

constexpr std::array<uint8_t, 256> make_table()
{
    std::array<uint8_t, 256> t{};
    for (auto &v : t) {
        v = kInvalid;
    }
    for (int i = 0; i < 64; i++) {
        t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<uint8_t>(i);
    }
    return t;
}

constexpr auto kTable = make_table();

// Four characters to three bytes per step: a token's segments are hundreds
// of characters, and a bit-at-a-time loop was the module's costliest
// function after the signature. `out` has room for
// base64url_decoded_size(in.size()) bytes; in.size() % 4 != 1. Every
// character is looked up whatever comes before it, and the quads' invalid
// marks are gathered and tested once at the end: a refusal costs one pass
// like an acceptance, and bytes may have been written by then.
bool decode_into(std::string_view in, unsigned char *out)
{
    const auto *p = reinterpret_cast<const unsigned char *>(in.data());
    const unsigned char *const quads_end = p + in.size() / 4 * 4;
    // An invalid character's entry has the top bit set; a valid one's
    // (0..63) never does.
    uint32_t marks = 0;
    uint32_t leftover = 0;
    for (; p < quads_end; p += 4, out += 3) {
        const uint32_t a = kTable[p[0]], b = kTable[p[1]], c = kTable[p[2]], d = kTable[p[3]];
        marks |= a | b | c | d;
        const uint32_t v = a << 18 | b << 12 | c << 6 | d;
        out[0] = static_cast<unsigned char>(v >> 16);
        out[1] = static_cast<unsigned char>(v >> 8);
        out[2] = static_cast<unsigned char>(v);
    }
    // The last 2 or 3 characters carry 1 or 2 bytes; the bits left over (4
    // or 2) must be zero, or two encodings map to one value.
    switch (in.size() % 4) {
    case 2: {
        const uint32_t a = kTable[p[0]], b = kTable[p[1]];
        marks |= a | b;
        leftover = b & 0x0f;
        out[0] = static_cast<unsigned char>(a << 2 | b >> 4);
        break;
    }
    case 3: {
        const uint32_t a = kTable[p[0]], b = kTable[p[1]], c = kTable[p[2]];
        marks |= a | b | c;
        leftover = c & 0x03;
        const uint32_t v = a << 10 | b << 4 | c >> 2;
        out[0] = static_cast<unsigned char>(v >> 8);
        out[1] = static_cast<unsigned char>(v);
        break;
    }
    default:
        break;
    }
    return (marks & 0x80) == 0 && leftover == 0;
}

}  // namespace

std::string base64url_encode(std::string_view in)
{
    std::string out(base64url_encoded_size(in.size()), '\0');
    base64url_encode(in, &out[0]);
    return out;
}

void base64url_encode(std::string_view in, char *out) noexcept
{
    uint32_t acc = 0;
    int bits = 0;
    for (unsigned char c : in) {
        acc = ((acc << 8) | c) & 0xffff;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            *out++ = kAlphabet[(acc >> bits) & 63];
        }
    }
    if (bits > 0) {
        *out = kAlphabet[(acc << (6 - bits)) & 63];
    }
}

bool base64url_decode(std::string_view in, std::string *out) noexcept
{
    if (in.size() % 4 == 1) {
        return false;
    }
    try {
        out->resize(base64url_decoded_size(in.size()));
    } catch (...) {
        return false;
    }
    return decode_into(in, reinterpret_cast<unsigned char *>(&(*out)[0]));
}

bool base64url_decode(std::string_view in, unsigned char *out, size_t capacity, size_t *size) noexcept
{
    *size = 0;
    if (in.size() % 4 == 1 || base64url_decoded_size(in.size()) > capacity) {
        return false;
    }
    if (!decode_into(in, out)) {
        return false;
    }
    *size = base64url_decoded_size(in.size());
    return true;
}

}  // namespace m2m
