// What the micro-benchmarks share. Their tokens are encoded here, not with
// the module's base64url, so that what they measure is fed the way an
// independent issuer would feed it.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

#include <openssl/err.h>

namespace bench {

[[noreturn]] inline void die(const char *program, const char *what)
{
    std::fprintf(stderr, "%s: %s failed\n", program, what);
    ERR_print_errors_fp(stderr);
    std::exit(1);
}

inline std::string b64url(const std::string &bytes)
{
    static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    unsigned acc = 0;
    int bits = 0;
    for (unsigned char c : bytes) {
        acc = (acc << 8) | c;
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

}  // namespace bench
