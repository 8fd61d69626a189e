// Strict base64url (RFC 4648 §5) as JWS uses it.
#include <string>

#include "base64url.h"
#include "test_keys.h"
#include "test_suites.h"
#include "test_support.h"

namespace {

bool decode(const std::string &in, std::string *out) { return m2m::base64url_decode(in, out); }

std::string decoded(const std::string &in)
{
    std::string out;
    ck_assert_msg(decode(in, &out), "\"%s\" should decode", in.c_str());
    return out;
}

void assert_rejected(const std::string &in)
{
    std::string out;
    ck_assert_msg(!decode(in, &out), "\"%s\" should be rejected", in.c_str());
}

}  // namespace

START_TEST(test_rfc4648_vectors)
{
    // RFC 4648 §10 test vectors, padding removed.
    ck_assert_std_str_eq(decoded(""), "");
    ck_assert_std_str_eq(decoded("Zg"), "f");
    ck_assert_std_str_eq(decoded("Zm8"), "fo");
    ck_assert_std_str_eq(decoded("Zm9v"), "foo");
    ck_assert_std_str_eq(decoded("Zm9vYg"), "foob");
    ck_assert_std_str_eq(decoded("Zm9vYmE"), "fooba");
    ck_assert_std_str_eq(decoded("Zm9vYmFy"), "foobar");
}
END_TEST

START_TEST(test_url_safe_alphabet)
{
    // 0xfb 0xff encodes as "-_8" in base64url ("+/8" in base64).
    ck_assert_std_str_eq(decoded("-_8"), std::string("\xfb\xff"));
    ck_assert_std_str_eq(decoded("__8"), std::string("\xff\xff"));
    ck_assert_std_str_eq(decoded("AAA"), std::string("\0\0", 2));
    assert_rejected("+_8");
    assert_rejected("-/8");
}
END_TEST

START_TEST(test_padding_rejected)
{
    assert_rejected("Zg==");
    assert_rejected("Zm8=");
    assert_rejected("Zg=");
    assert_rejected("====");
    assert_rejected("Zm9v====");
}
END_TEST

START_TEST(test_bad_characters_rejected)
{
    assert_rejected("Zm9v Yg");
    assert_rejected(" Zm9v");
    assert_rejected("Zm9v\n");
    assert_rejected("Zm9v\tYg");
    assert_rejected("Zm9*");
    assert_rejected("Zm9.");
    assert_rejected(std::string("Zm\0v", 4));
    assert_rejected("Zm9\xc3\xa9");
    assert_rejected("Zm9\x80");
}
END_TEST

START_TEST(test_impossible_length_rejected)
{
    // 4n+1 characters carry 6 bits that cannot form a byte.
    assert_rejected("Z");
    assert_rejected("Zm9vY");
    assert_rejected("AAAAAAAAA");
}
END_TEST

START_TEST(test_nonzero_trailing_bits_rejected)
{
    // "Zg" is 'f' with four zero bits left over; "Zh".."Zv" set them.
    for (char c : std::string("hijklmnopqrstuv")) {
        assert_rejected(std::string("Z") + c);
    }
    // "Zm8" is "fo" with two zero bits left; "Zm9", "Zm-", "Zm_" set them.
    assert_rejected("Zm9");
    assert_rejected("Zm-");
    assert_rejected("Zm_");
    // The canonical neighbours decode.
    ck_assert_std_str_eq(decoded("Zw"), "g");
    ck_assert_std_str_eq(decoded("Zm4"), "fn");
}
END_TEST

START_TEST(test_round_trip_all_lengths)
{
    // Every byte value, at every length mod 3, against our own encoder.
    std::string bytes;
    for (int i = 0; i < 300; i++) {
        bytes.push_back(static_cast<char>((i * 151 + 7) & 0xff));
    }
    for (size_t len = 0; len <= bytes.size(); len++) {
        std::string in = bytes.substr(0, len);
        std::string encoded = testkeys::b64url_encode(in);
        std::string out;
        ck_assert_msg(decode(encoded, &out), "length %zu did not decode", len);
        ck_assert_msg(out == in, "length %zu decoded to other bytes", len);
    }
}
END_TEST

START_TEST(test_output_replaced_not_appended)
{
    std::string out = "stale";
    ck_assert(decode("Zm9v", &out));
    ck_assert_std_str_eq(out, "foo");
}
END_TEST

// The buffer form (the request path's: no allocation) decodes exactly what
// the string form does, refuses what it refuses, and never writes past the
// capacity it is given.
START_TEST(test_buffer_form_matches_string_form)
{
    std::string bytes;
    for (int i = 0; i < 300; i++) {
        bytes.push_back(static_cast<char>((i * 151 + 7) & 0xff));
    }
    unsigned char buffer[310];
    for (size_t len = 0; len <= bytes.size(); len++) {
        const std::string encoded = testkeys::b64url_encode(bytes.substr(0, len));
        ck_assert_uint_eq(encoded.size(), m2m::base64url_encoded_size(len));
        size_t size = 999;
        ck_assert_msg(m2m::base64url_decode(encoded, buffer, sizeof buffer, &size), "length %zu", len);
        ck_assert_uint_eq(size, len);
        ck_assert_msg(std::string(reinterpret_cast<char *>(buffer), size) == bytes.substr(0, len), "length %zu", len);
        // One byte short of room: refused, and nothing written past it.
        if (len > 0) {
            buffer[len - 1] = 0xa5;
            ck_assert(!m2m::base64url_decode(encoded, buffer, len - 1, &size));
            ck_assert_uint_eq(buffer[len - 1], 0xa5);
        }
    }
    for (const char *bad : {"Zg=", "Zm9v=", "Z", "Zh", "Zm9+", "Zm9/", "Zm 9v", "Zm9v\n", "Zm9vY"}) {
        std::string out;
        size_t size = 0;
        ck_assert_msg(!m2m::base64url_decode(bad, buffer, sizeof buffer, &size), "\"%s\" should be rejected", bad);
        ck_assert_msg(!decode(bad, &out), "\"%s\" should be rejected", bad);
    }
}
END_TEST

// The module's encoder (it signs the local issuer's tokens): RFC 4648 §10
// vectors without padding, the URL-safe alphabet, and the same text as the
// tests' own encoder at every length.
START_TEST(test_encoder)
{
    ck_assert_std_str_eq(m2m::base64url_encode(""), "");
    ck_assert_std_str_eq(m2m::base64url_encode("f"), "Zg");
    ck_assert_std_str_eq(m2m::base64url_encode("fo"), "Zm8");
    ck_assert_std_str_eq(m2m::base64url_encode("foo"), "Zm9v");
    ck_assert_std_str_eq(m2m::base64url_encode("foob"), "Zm9vYg");
    ck_assert_std_str_eq(m2m::base64url_encode("fooba"), "Zm9vYmE");
    ck_assert_std_str_eq(m2m::base64url_encode("foobar"), "Zm9vYmFy");
    ck_assert_std_str_eq(m2m::base64url_encode(std::string("\xfb\xff")), "-_8");
    std::string bytes;
    for (int i = 0; i < 300; i++) {
        bytes.push_back(static_cast<char>((i * 151 + 7) & 0xff));
    }
    for (size_t len = 0; len <= bytes.size(); len++) {
        const std::string in = bytes.substr(0, len);
        const std::string encoded = m2m::base64url_encode(in);
        ck_assert_msg(encoded == testkeys::b64url_encode(in), "length %zu encodes otherwise", len);
        std::string buffer(m2m::base64url_encoded_size(len) + 1, '#');
        m2m::base64url_encode(in, &buffer[0]);
        ck_assert_msg(buffer == encoded + "#", "length %zu: the buffer form writes otherwise", len);
        std::string out;
        ck_assert_msg(decode(encoded, &out) && out == in, "length %zu does not round-trip", len);
    }
}
END_TEST

// The decoder works a quad of characters at a time and finishes a tail of
// two or three: at every length from 0 to 12 (each tail after 0 to 2 whole
// quads), every byte value at every position is accepted exactly when it is
// in the alphabet (and, in the last place, leaves zero bits over), by both
// forms alike; what is accepted decodes to the bytes that encode to it.
START_TEST(test_every_byte_at_every_position)
{
    static const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (size_t len = 0; len <= 12; len++) {
        std::string bytes;
        for (size_t i = 0; i < m2m::base64url_decoded_size(len); i++) {
            bytes.push_back(static_cast<char>(0x9d * (i + 1)));
        }
        const std::string valid = testkeys::b64url_encode(bytes);
        if (len % 4 == 1) {
            assert_rejected(std::string(len, 'A'));
            continue;
        }
        ck_assert_uint_eq(valid.size(), len);
        ck_assert_std_str_eq(decoded(valid), bytes);
        for (size_t pos = 0; pos < len; pos++) {
            for (int c = 0; c < 256; c++) {
                std::string in = valid;
                in[pos] = static_cast<char>(c);
                const size_t index = alphabet.find(static_cast<char>(c));
                const unsigned spare = pos + 1 < len ? 0 : len % 4 == 2 ? 0x0f : len % 4 == 3 ? 0x03 : 0;
                const bool want = index != std::string::npos && (index & spare) == 0;
                std::string out;
                unsigned char buffer[12];
                size_t size = 99;
                const bool as_string = decode(in, &out);
                const bool as_buffer = m2m::base64url_decode(in, buffer, sizeof buffer, &size);
                ck_assert_msg(as_string == want && as_buffer == want, "length %zu, byte 0x%02x at %zu: %d/%d", len,
                              c, pos, as_string, as_buffer);
                if (want) {
                    ck_assert_std_str_eq(testkeys::b64url_encode(out), in);
                    ck_assert_uint_eq(size, out.size());
                    ck_assert(std::string(reinterpret_cast<char *>(buffer), size) == out);
                } else {
                    ck_assert_uint_eq(size, 0);
                }
            }
        }
    }
}
END_TEST

// The decoded length of each encoded length: exactly base64url_encoded_size's
// inverse.
START_TEST(test_decoded_size)
{
    for (size_t bytes = 0; bytes < 100; bytes++) {
        ck_assert_uint_eq(m2m::base64url_decoded_size(m2m::base64url_encoded_size(bytes)), bytes);
    }
}
END_TEST

Suite *base64url_suite()
{
    Suite *s = suite_create("base64url");
    TCase *tc = tcase_create("decode");
    tcase_add_test(tc, test_rfc4648_vectors);
    tcase_add_test(tc, test_url_safe_alphabet);
    tcase_add_test(tc, test_padding_rejected);
    tcase_add_test(tc, test_bad_characters_rejected);
    tcase_add_test(tc, test_impossible_length_rejected);
    tcase_add_test(tc, test_nonzero_trailing_bits_rejected);
    tcase_add_test(tc, test_round_trip_all_lengths);
    tcase_add_test(tc, test_output_replaced_not_appended);
    tcase_add_test(tc, test_buffer_form_matches_string_form);
    tcase_add_test(tc, test_encoder);
    tcase_add_test(tc, test_every_byte_at_every_position);
    tcase_add_test(tc, test_decoded_size);
    suite_add_tcase(s, tc);
    return s;
}
