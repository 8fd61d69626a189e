// The token endpoint's readers: form-encoded bodies and HTTP Basic
// credentials with form-encoded id and secret.
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "issuer/form.h"
#include "test_suites.h"
#include "test_support.h"

using m2m::BasicCredentials;
using m2m::BasicError;
using m2m::FormError;
using m2m::FormParams;
using m2m::parse_basic;
using m2m::parse_form;
using Pairs = std::vector<std::pair<std::string, std::string>>;

namespace {

const char *form_name(FormError e)
{
    return m2m::form_error_text(e);
}

void assert_form(const std::string &body, const Pairs &want)
{
    FormParams params;
    const FormError error = parse_form(body, &params);
    ck_assert_msg(error == FormError::ok, "\"%s\": %s", body.c_str(), form_name(error));
    Pairs got;
    for (const auto &p : params.all()) {
        got.emplace_back(p.name, p.value);
    }
    ck_assert_msg(got == want, "\"%s\": %zu parameters, want %zu", body.c_str(), got.size(), want.size());
}

void assert_form_error(const std::string &body, FormError want)
{
    FormParams params;
    const FormError error = parse_form(body, &params);
    ck_assert_msg(error == want, "\"%s\": got %s, want %s", body.c_str(), form_name(error), form_name(want));
    ck_assert_msg(params.all().empty(), "\"%s\": parameters kept after an error", body.c_str());
}

// RFC 4648 §4 base64 with padding, written out here so the test does not
// lean on the code it checks.
std::string b64(const std::string &in)
{
    static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const unsigned n = static_cast<unsigned char>(in[i]) << 16 | static_cast<unsigned char>(in[i + 1]) << 8 |
                           static_cast<unsigned char>(in[i + 2]);
        out += kAlphabet[n >> 18 & 63];
        out += kAlphabet[n >> 12 & 63];
        out += kAlphabet[n >> 6 & 63];
        out += kAlphabet[n & 63];
    }
    if (in.size() - i == 1) {
        const unsigned n = static_cast<unsigned char>(in[i]) << 16;
        out += kAlphabet[n >> 18 & 63];
        out += kAlphabet[n >> 12 & 63];
        out += "==";
    } else if (in.size() - i == 2) {
        const unsigned n = static_cast<unsigned char>(in[i]) << 16 | static_cast<unsigned char>(in[i + 1]) << 8;
        out += kAlphabet[n >> 18 & 63];
        out += kAlphabet[n >> 12 & 63];
        out += kAlphabet[n >> 6 & 63];
        out += '=';
    }
    return out;
}

void assert_basic(const std::string &header, const std::string &id, const std::string &secret)
{
    BasicCredentials creds;
    const BasicError error = parse_basic(header, &creds);
    ck_assert_msg(error == BasicError::ok, "\"%s\": %s", header.c_str(), m2m::basic_error_text(error));
    ck_assert_std_str_eq(creds.client_id, id);
    ck_assert_std_str_eq(creds.secret, secret);
}

void assert_basic_error(const std::string &header, BasicError want)
{
    BasicCredentials creds;
    const BasicError error = parse_basic(header, &creds);
    ck_assert_msg(error == want, "\"%s\": got %s, want %s", header.c_str(), m2m::basic_error_text(error),
                  m2m::basic_error_text(want));
    ck_assert_msg(creds.client_id.empty() && creds.secret.empty(), "\"%s\": credentials kept after an error",
                  header.c_str());
}

}  // namespace

START_TEST(test_form_plain)
{
    assert_form("", {});
    assert_form("grant_type=client_credentials", {{"grant_type", "client_credentials"}});
    assert_form("grant_type=client_credentials&scope=tasks%3Aread+tasks%3Awrite&client_id=m2m_1",
                {{"grant_type", "client_credentials"}, {"scope", "tasks:read tasks:write"}, {"client_id", "m2m_1"}});
    // What curl -d sends unencoded: a raw space is itself.
    assert_form("scope=a b", {{"scope", "a b"}});
    // The first '=' splits; later ones are part of the value.
    assert_form("a=b=c", {{"a", "b=c"}});
    // No '=': an empty value (RFC 6749 §3.2 makes it "omitted"; the decision's rule).
    assert_form("flag&x=", {{"flag", ""}, {"x", ""}});
}
END_TEST

START_TEST(test_form_decoding)
{
    assert_form("k=%41%62%2b%2B%25%26%3D", {{"k", "Ab++%&="}});
    assert_form("k=a+b%20c", {{"k", "a b c"}});
    assert_form("%6e%61me=v", {{"name", "v"}});
    // Decoded bytes of 0x80 and above are kept (UTF-8 of an extension parameter).
    assert_form("k=caf%C3%A9", {{"k", "caf\xc3\xa9"}});
    // Encoded '&' and '=' do not split.
    assert_form("a%26b=c%3Dd&e=f", {{"a&b", "c=d"}, {"e", "f"}});
}
END_TEST

START_TEST(test_form_empty_segments_and_names)
{
    assert_form("a=1&&b=2&", {{"a", "1"}, {"b", "2"}});
    assert_form("&", {});
    assert_form("&&&a=1", {{"a", "1"}});
    // Empty names are skipped like any unrecognized parameter, even twice...
    assert_form("=x&a=1&=y", {{"a", "1"}});
    assert_form("=", {});
    // ...but must still be well-formed.
    assert_form_error("=%zz&a=1", FormError::bad_escape);
}
END_TEST

START_TEST(test_form_bad_escapes)
{
    assert_form_error("a=%", FormError::bad_escape);
    assert_form_error("a=%4", FormError::bad_escape);
    assert_form_error("a=%4g", FormError::bad_escape);
    assert_form_error("a=%g4", FormError::bad_escape);
    assert_form_error("a=%%41", FormError::bad_escape);
    assert_form_error("a%=1", FormError::bad_escape);
    assert_form_error("a=1&b=x%", FormError::bad_escape);
    assert_form_error("a=%+1", FormError::bad_escape);
}
END_TEST

START_TEST(test_form_control_characters)
{
    for (int c = 0; c < 0x20; c++) {
        char escaped[8];
        snprintf(escaped, sizeof(escaped), "%%%02X", c);
        assert_form_error(std::string("a=x") + escaped, FormError::control_character);
        assert_form_error(std::string("n") + escaped + "=x", FormError::control_character);
        assert_form_error(std::string("a=x") + static_cast<char>(c), FormError::bad_character);
    }
    assert_form_error("a=%7f", FormError::control_character);
    assert_form_error("a=%00", FormError::control_character);
    assert_form_error(std::string("a=\0", 3), FormError::bad_character);
    assert_form_error("a=\x7f", FormError::bad_character);
    assert_form_error("a=caf\xc3\xa9", FormError::bad_character);
    assert_form_error("a=1\r\n", FormError::bad_character);
}
END_TEST

START_TEST(test_form_repeated)
{
    std::string name;
    FormParams params;
    ck_assert(parse_form("grant_type=client_credentials&grant_type=client_credentials", &params, &name) ==
              FormError::repeated);
    ck_assert_std_str_eq(name, "grant_type");
    ck_assert(params.all().empty());
    // Whatever the values, empty ones included, and however it is encoded.
    assert_form_error("a=&a=", FormError::repeated);
    assert_form_error("a&a", FormError::repeated);
    assert_form_error("scope=x&%73cope=y", FormError::repeated);
    assert_form_error("client_id=a&x=1&client_id=b", FormError::repeated);
    // Names are case-sensitive.
    assert_form("a=1&A=2", {{"a", "1"}, {"A", "2"}});
}
END_TEST

START_TEST(test_form_limits)
{
    std::string body = "a=" + std::string(m2m::kMaxFormSize - 2, 'x');
    FormParams params;
    ck_assert(parse_form(body, &params) == FormError::ok);
    ck_assert_uint_eq(params.get("a")->size(), m2m::kMaxFormSize - 2);
    assert_form_error(body + "x", FormError::too_large);

    std::string many;
    for (size_t i = 0; i < m2m::kMaxFormParams; i++) {
        many += "p" + std::to_string(i) + "=v&";
    }
    ck_assert(parse_form(many, &params) == FormError::ok);
    ck_assert_uint_eq(params.all().size(), m2m::kMaxFormParams);
    // Empty segments and names do not count.
    ck_assert(parse_form(many + "&&=x&", &params) == FormError::ok);
    assert_form_error(many + "one=more", FormError::too_many);
}
END_TEST

START_TEST(test_form_get)
{
    FormParams params;
    ck_assert(parse_form("a=1&b=&c", &params) == FormError::ok);
    ck_assert_std_str_eq(*params.get("a"), "1");
    ck_assert_std_str_eq(*params.get("b"), "");
    ck_assert_std_str_eq(*params.get("c"), "");
    ck_assert_ptr_null(params.get("d"));
    ck_assert_ptr_null(params.get("A"));
    // A second parse replaces the first.
    ck_assert(parse_form("d=4", &params) == FormError::ok);
    ck_assert_ptr_null(params.get("a"));
    ck_assert_std_str_eq(*params.get("d"), "4");
}
END_TEST

START_TEST(test_form_decode_component)
{
    std::string out = "old";
    ck_assert(m2m::form_decode("a+b%3A", &out) == FormError::ok);
    ck_assert_std_str_eq(out, "a b:");
    ck_assert(m2m::form_decode("%0a", &out) == FormError::control_character);
    ck_assert_std_str_eq(out, "");
    ck_assert(m2m::form_decode("", &out) == FormError::ok);
    ck_assert_std_str_eq(out, "");
}
END_TEST

START_TEST(test_basic_plain)
{
    assert_basic("Basic " + b64("m2m_abc:s3cret"), "m2m_abc", "s3cret");
    assert_basic("basic " + b64("id:secret"), "id", "secret");
    assert_basic("BASIC " + b64("id:secret"), "id", "secret");
    assert_basic("Basic    " + b64("id:secret"), "id", "secret");
    // Split at the first colon: the secret may hold more.
    assert_basic("Basic " + b64("id:se:cr:et"), "id", "se:cr:et");
    // Empty halves are returned for the caller to refuse.
    assert_basic("Basic " + b64(":secret"), "", "secret");
    assert_basic("Basic " + b64("id:"), "id", "");
    // Every padding length.
    assert_basic("Basic " + b64("i:s"), "i", "s");
    assert_basic("Basic " + b64("i:ss"), "i", "ss");
    assert_basic("Basic " + b64("i:sss"), "i", "sss");
}
END_TEST

START_TEST(test_basic_form_encoded)
{
    // RFC 6749 §2.3.1: id and secret are form-encoded before base64.
    assert_basic("Basic " + b64("my%3Aclient:a%2Bb+c%25"), "my:client", "a+b c%");
    assert_basic("Basic " + b64("caf%C3%A9:x"), "caf\xc3\xa9", "x");
    assert_basic_error("Basic " + b64("id:50%"), BasicError::bad_encoding);
    assert_basic_error("Basic " + b64("id%zz:secret"), BasicError::bad_encoding);
    assert_basic_error("Basic " + b64("id:sec%00ret"), BasicError::bad_encoding);
    assert_basic_error("Basic " + b64("id:sec\nret"), BasicError::bad_encoding);
    assert_basic_error("Basic " + b64("id:caf\xc3\xa9"), BasicError::bad_encoding);
    assert_basic_error("Basic " + b64(std::string("id:\0x", 4)), BasicError::bad_encoding);
}
END_TEST

START_TEST(test_basic_not_basic)
{
    assert_basic_error("Bearer abc.def.ghi", BasicError::not_basic);
    assert_basic_error("Basic", BasicError::not_basic);
    assert_basic_error("Basic ", BasicError::not_basic);
    assert_basic_error("Basic  ", BasicError::not_basic);
    assert_basic_error("Basicx " + b64("a:b"), BasicError::not_basic);
    assert_basic_error("Basic\t" + b64("a:b"), BasicError::not_basic);
    assert_basic_error(" Basic " + b64("a:b"), BasicError::not_basic);
    assert_basic_error("", BasicError::not_basic);
    assert_basic_error("Digest username=\"a\"", BasicError::not_basic);
}
END_TEST

START_TEST(test_basic_strict_base64)
{
    assert_basic_error("Basic " + b64("id:secret") + " ", BasicError::bad_base64);
    assert_basic_error("Basic " + b64("id:secret") + "x", BasicError::bad_base64);
    assert_basic("Basic aWQ6c2VjcmV0", "id", "secret");
    assert_basic_error("Basic aWQ6c2VjcmV0\t", BasicError::bad_base64);
    assert_basic_error("Basic aWQ6c2VjcmV0,", BasicError::bad_base64);
}
END_TEST

START_TEST(test_basic_base64_edge_cases)
{
    // "i:s" is aTpz; "i:ss" is aTpzcw==; "i:sss" is aTpzc3M=.
    assert_basic("Basic aTpz", "i", "s");
    assert_basic_error("Basic aTpzcw", BasicError::bad_base64);       // padding left out
    assert_basic_error("Basic aTpzcw=", BasicError::bad_base64);      // half the padding
    assert_basic_error("Basic aTpzcw===", BasicError::bad_base64);    // too much
    assert_basic_error("Basic aTpzcx==", BasicError::bad_base64);     // non-zero pad bits
    assert_basic_error("Basic aTpzc3N=", BasicError::bad_base64);     // non-zero pad bits
    assert_basic_error("Basic aT=zcw==", BasicError::bad_base64);     // '=' inside
    assert_basic_error("Basic aTpz-w==", BasicError::bad_base64);     // base64url alphabet
    assert_basic_error("Basic aTpz_w==", BasicError::bad_base64);
    assert_basic_error("Basic aTpz cw==", BasicError::bad_base64);
    assert_basic_error("Basic ====", BasicError::bad_base64);
    assert_basic_error("Basic =", BasicError::bad_base64);
    assert_basic_error("Basic " + b64("no colon here"), BasicError::no_colon);
    assert_basic_error("Basic " + b64(""), BasicError::not_basic);
}
END_TEST

START_TEST(test_basic_size_limit)
{
    const std::string id(300, 'i');
    std::string secret(m2m::kMaxBasicSize, 's');
    // The largest header that fits: "Basic " plus the base64 of id:secret.
    while (("Basic " + b64(id + ":" + secret)).size() > m2m::kMaxBasicSize) {
        secret.pop_back();
    }
    assert_basic("Basic " + b64(id + ":" + secret), id, secret);
    assert_basic_error("Basic " + b64(id + ":" + secret + "sss"), BasicError::too_large);
}
END_TEST

Suite *form_suite()
{
    Suite *s = suite_create("form");
    TCase *tc = tcase_create("form");
    tcase_add_test(tc, test_form_plain);
    tcase_add_test(tc, test_form_decoding);
    tcase_add_test(tc, test_form_empty_segments_and_names);
    tcase_add_test(tc, test_form_bad_escapes);
    tcase_add_test(tc, test_form_control_characters);
    tcase_add_test(tc, test_form_repeated);
    tcase_add_test(tc, test_form_limits);
    tcase_add_test(tc, test_form_get);
    tcase_add_test(tc, test_form_decode_component);
    suite_add_tcase(s, tc);
    TCase *basic = tcase_create("basic");
    tcase_add_test(basic, test_basic_plain);
    tcase_add_test(basic, test_basic_form_encoded);
    tcase_add_test(basic, test_basic_not_basic);
    tcase_add_test(basic, test_basic_strict_base64);
    tcase_add_test(basic, test_basic_base64_edge_cases);
    tcase_add_test(basic, test_basic_size_limit);
    suite_add_tcase(s, basic);
    return s;
}
