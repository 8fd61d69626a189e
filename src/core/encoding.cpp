#include "encoding.h"

#include <cstdint>

namespace m2m {

namespace {

int base64_value(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}

}  // namespace

int hex_value(char c) noexcept
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

bool base64_decode(std::string_view in, std::string *out)
{
    if (in.empty() || in.size() % 4 != 0) {
        return false;
    }
    size_t padding = 0;
    if (in.back() == '=') {
        padding = in[in.size() - 2] == '=' ? 2 : 1;
    }
    uint32_t acc = 0;
    int bits = 0;
    for (char c : in.substr(0, in.size() - padding)) {
        const int v = base64_value(c);
        if (v < 0) {
            return false;  // '=' inside included
        }
        acc = (acc << 6 | static_cast<uint32_t>(v)) & 0xfff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out->push_back(static_cast<char>(acc >> bits & 0xff));
        }
    }
    return (acc & ((1u << bits) - 1)) == 0;
}

}  // namespace m2m
