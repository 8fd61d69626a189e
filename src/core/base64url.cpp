#include "base64url.h"

#include <array>
#include <cstdint>

namespace m2m {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::array<int8_t, 256> make_table()
{
    std::array<int8_t, 256> t{};
    for (auto &v : t) {
        v = -1;
    }
    for (int i = 0; i < 64; i++) {
        t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int8_t>(i);
    }
    return t;
}

constexpr auto kTable = make_table();

// One decoder for both outputs; emit(byte) returns false to stop.
template <typename Emit>
bool decode(std::string_view in, Emit emit)
{
    if (in.size() % 4 == 1) {
        return false;
    }
    uint32_t acc = 0;
    int bits = 0;
    for (unsigned char c : in) {
        int8_t v = kTable[c];
        if (v < 0) {
            return false;
        }
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (!emit(static_cast<unsigned char>((acc >> bits) & 0xff))) {
                return false;
            }
        }
    }
    // Leftover bits must be zero padding, or two encodings map to one value.
    return (acc & ((1u << bits) - 1)) == 0;
}

}  // namespace

std::string base64url_encode(std::string_view in)
{
    std::string out;
    out.reserve(base64url_encoded_size(in.size()));
    uint32_t acc = 0;
    int bits = 0;
    for (unsigned char c : in) {
        acc = ((acc << 8) | c) & 0xffff;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += kAlphabet[(acc >> bits) & 63];
        }
    }
    if (bits > 0) {
        out += kAlphabet[(acc << (6 - bits)) & 63];
    }
    return out;
}

bool base64url_decode(std::string_view in, std::string *out) noexcept
{
    if (in.size() % 4 == 1) {
        return false;
    }
    try {
        out->clear();
        out->reserve(in.size() / 4 * 3 + 2);
    } catch (...) {
        return false;
    }
    // push_back cannot throw: reserve made room for every decoded byte.
    return decode(in, [out](unsigned char byte) {
        out->push_back(static_cast<char>(byte));
        return true;
    });
}

bool base64url_decode(std::string_view in, unsigned char *out, size_t capacity, size_t *size) noexcept
{
    size_t n = 0;
    const bool ok = decode(in, [&](unsigned char byte) {
        if (n == capacity) {
            return false;
        }
        out[n++] = byte;
        return true;
    });
    *size = n;
    return ok;
}

}  // namespace m2m
