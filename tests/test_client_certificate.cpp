// The x5t#S256 thumbprint of a client certificate (RFC 8705 §3.1), and the
// URL-escaped PEM a TLS-terminating proxy forwards it in.
#include <string>

#include <openssl/x509.h>

#include "openssl_handles.h"
#include "test_keys.h"
#include "test_suites.h"
#include "test_support.h"
#include "verify/client_certificate.h"

namespace {

// Made with `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256`;
// its thumbprint by `openssl x509 -outform DER | openssl dgst -sha256
// -binary | basenc --base64url`, padding removed.
const std::string kPem =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBjTCCATOgAwIBAgIUbR1pEoGFwuLT1H5NvmX4fexWe3swCgYIKoZIzj0EAwIw\n"
    "GzEZMBcGA1UEAwwQbTJtIGNoZWNrIHZlY3RvcjAgFw0yNjExMzAyMDA4MTJaGA8y\n"
    "MTI2MTEwNjIwMDgxMlowGzEZMBcGA1UEAwwQbTJtIGNoZWNrIHZlY3RvcjBZMBMG\n"
    "ByqGSM49AgEGCCqGSM49AwEHA0IABPtNv5zh0EdjEI9WBJyn6HQWL4U97xEhGbSg\n"
    "gfvNPeaLSirdjUGFd0YhcTRhSWroFxX1/PVITqi2Te0yuh8HQAKjUzBRMB0GA1Ud\n"
    "DgQWBBR3DGQjNi4y3PD21V4oSYe9X3dDAjAfBgNVHSMEGDAWgBR3DGQjNi4y3PD2\n"
    "1V4oSYe9X3dDAjAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIFXn\n"
    "mATDiQpCEG2R/FwExDQWvTW6n98PzPDtUXySx6ByAiEAxglk2W7TbSz2SWbPPbCi\n"
    "bJrloTjb4CVwy4D4N3mP4uI=\n"
    "-----END CERTIFICATE-----\n";
const std::string kThumbprint = "u2GTMi-w-4JOniztl_gMxHuGwj_-6lHM8R5HiNMhQDs";
constexpr size_t kDerSize = 401;

// As nginx's $ssl_client_escaped_cert: everything but ALPHA, DIGIT and
// "-._~" escaped, upper-case hex unless told otherwise.
std::string escape(const std::string &s, bool lower = false)
{
    const char *hex = lower ? "0123456789abcdef" : "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
            c == '_' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

std::string replace_all(std::string s, const std::string &from, const std::string &to)
{
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
        s.replace(at, from.size(), to);
    }
    return s;
}

// Padded standard base64, from the test keys' independent base64url.
std::string base64(const std::string &bytes)
{
    std::string s = replace_all(replace_all(testkeys::b64url_encode(bytes), "-", "+"), "_", "/");
    while (s.size() % 4) {
        s += '=';
    }
    return s;
}

std::string pem_of(const std::string &der)
{
    return "-----BEGIN CERTIFICATE-----\n" + base64(der) + "\n-----END CERTIFICATE-----\n";
}

std::string thumbprint_of(const std::string &escaped, m2m::CertificateStatus *status)
{
    m2m::CertificateThumbprint tp;
    *status = m2m::escaped_certificate_thumbprint(escaped, &tp);
    return *status == m2m::CertificateStatus::ok ? std::string(tp.view()) : std::string();
}

void assert_thumbprint(const std::string &escaped, const char *what)
{
    m2m::CertificateStatus status;
    const std::string got = thumbprint_of(escaped, &status);
    ck_assert_msg(status == m2m::CertificateStatus::ok, "%s: refused (%s)", what,
                  m2m::certificate_status_text(status));
    ck_assert_msg(got == kThumbprint, "%s: thumbprint %s", what, got.c_str());
}

void assert_refused(const std::string &escaped, m2m::CertificateStatus want, const char *what)
{
    std::string der = "left over";
    const m2m::CertificateStatus got = m2m::decode_escaped_certificate(escaped, &der);
    ck_assert_msg(got == want, "%s: got \"%s\", want \"%s\"", what, m2m::certificate_status_text(got),
                  m2m::certificate_status_text(want));
    ck_assert_msg(der.empty(), "%s: DER kept after a refusal", what);
}

std::string vector_der()
{
    std::string der;
    ck_assert(m2m::decode_escaped_certificate(kPem, &der) == m2m::CertificateStatus::ok);
    return der;
}

}  // namespace

START_TEST(test_known_thumbprint)
{
    assert_thumbprint(escape(kPem), "escaped as nginx does");
    assert_thumbprint(escape(kPem, true), "lower-case escapes");
    assert_thumbprint(kPem, "not escaped at all");
    // some proxies leave base64's own characters alone
    assert_thumbprint(replace_all(kPem, "\n", "%0A"), "only line breaks escaped");
}
END_TEST

START_TEST(test_der)
{
    const std::string der = vector_der();
    ck_assert_uint_eq(der.size(), kDerSize);
    m2m::CertificateThumbprint tp;
    ck_assert(m2m::certificate_thumbprint(der, &tp));
    ck_assert_std_str_eq(std::string(tp.view()), kThumbprint);

    // the X509 a TLS connection holds: the same DER, the same thumbprint
    const auto *p = reinterpret_cast<const unsigned char *>(der.data());
    m2m::X509Ptr x509(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    ck_assert_ptr_nonnull(x509.get());
    m2m::CertificateThumbprint from_x509;
    ck_assert(m2m::certificate_thumbprint(x509.get(), &from_x509));
    ck_assert_std_str_eq(std::string(from_x509.view()), kThumbprint);

    // one bit of the DER changes it
    std::string flipped = der;
    flipped[200] ^= 1;
    ck_assert(m2m::certificate_thumbprint(flipped, &tp));
    ck_assert_msg(std::string(tp.view()) != kThumbprint, "a changed DER, the same thumbprint");
}
END_TEST

START_TEST(test_whitespace_and_line_breaks)
{
    assert_thumbprint(replace_all(kPem, "\n", "\r\n"), "CRLF");
    std::string one_line = replace_all(kPem, "\n", "");
    assert_thumbprint(one_line, "no line breaks at all");
    assert_thumbprint(escape("\n  " + kPem + "\n\n"), "whitespace around the block");
    assert_thumbprint(replace_all(kPem, "\n", "\n\t"), "lines folded with a tab ($ssl_client_cert)");
    assert_thumbprint(replace_all(kPem, "\n", " "), "lines joined by spaces");
    assert_thumbprint(pem_of(vector_der()), "one long base64 line");
}
END_TEST

START_TEST(test_bad_escapes)
{
    using m2m::CertificateStatus;
    const std::string escaped = escape(kPem);
    assert_refused(escaped + "%", CertificateStatus::bad_escape, "a lone % at the end");
    assert_refused(escaped + "%0", CertificateStatus::bad_escape, "one hex digit at the end");
    assert_refused("%G0" + escaped, CertificateStatus::bad_escape, "not hex");
    assert_refused(replace_all(escaped, "%0A", "%0 "), CertificateStatus::bad_escape, "a space in an escape");
    assert_refused(replace_all(escaped, "%2F", "%+2F"), CertificateStatus::bad_escape, "a sign in an escape");
}
END_TEST

START_TEST(test_not_one_pem_block)
{
    using m2m::CertificateStatus;
    assert_refused("", CertificateStatus::not_pem, "empty");
    assert_refused("garbage", CertificateStatus::not_pem, "garbage");
    assert_refused(kPem.substr(0, kPem.find("-----END")), CertificateStatus::not_pem, "no END line");
    assert_refused("text\n" + kPem, CertificateStatus::not_pem, "explanatory text before");
    assert_refused(kPem + "text\n", CertificateStatus::not_pem, "text after");
    assert_refused(replace_all(kPem, "CERTIFICATE", "X509 CRL"), CertificateStatus::not_pem, "another label");
    assert_refused(replace_all(kPem, "-----BEGIN CERTIFICATE-----", "-----BEGIN CERTIFICATE----"),
                   CertificateStatus::not_pem, "a short BEGIN line");
    assert_refused(kPem + kPem, CertificateStatus::several, "two certificates");
    assert_refused(escape(kPem + "\n" + kPem), CertificateStatus::several, "two certificates, escaped");
    assert_refused(kPem + "-----BEGIN PRIVATE KEY-----\n", CertificateStatus::several, "a key after it");
}
END_TEST

START_TEST(test_bad_base64)
{
    using m2m::CertificateStatus;
    assert_refused(replace_all(kPem, "4uI=", "4uI"), CertificateStatus::bad_base64, "padding missing");
    assert_refused(replace_all(kPem, "4uI=", "4uI=="), CertificateStatus::bad_base64, "too much padding");
    assert_refused(replace_all(kPem, "4uI=", "4uJ="), CertificateStatus::bad_base64, "non-zero unused bits");
    assert_refused(replace_all(kPem, "4uI=", "4u=I"), CertificateStatus::bad_base64, "data after padding");
    assert_refused(replace_all(kPem, "MIIB", "MI-B"), CertificateStatus::bad_base64, "a base64url character");
    assert_refused(replace_all(kPem, "MIIB", "MI.B"), CertificateStatus::bad_base64, "a stray character");
    assert_refused(replace_all(kPem, "MIIB", std::string("MI\0B", 4)), CertificateStatus::bad_base64,
                   "a NUL");
    assert_refused(replace_all(escape(kPem), "MIIB", "MI%00B"), CertificateStatus::bad_base64,
                   "an escaped NUL");
}
END_TEST

START_TEST(test_not_one_certificate)
{
    using m2m::CertificateStatus;
    const std::string der = vector_der();
    assert_refused("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----", CertificateStatus::not_x509, "empty body");
    assert_refused(pem_of("hello"), CertificateStatus::not_x509, "not DER");
    assert_refused(pem_of(der + std::string(1, '\0')), CertificateStatus::not_x509, "a byte after the DER");
    assert_refused(pem_of(der + der), CertificateStatus::not_x509, "two DER certificates in one block");
    assert_refused(pem_of(der.substr(0, der.size() - 1)), CertificateStatus::not_x509, "truncated DER");
    std::string tag = der;
    tag[0] = 0x31;  // a SET, not a SEQUENCE
    assert_refused(pem_of(tag), CertificateStatus::not_x509, "another outer tag");
}
END_TEST

// Every prefix of the escaped PEM is refused, and never crashes.
START_TEST(test_every_truncation)
{
    const std::string escaped = escape(kPem);
    const size_t end = escaped.rfind("-----");  // "%0A" after END is optional
    for (size_t len = 0; len < end + 5; len++) {
        std::string der;
        ck_assert_msg(m2m::decode_escaped_certificate(escaped.substr(0, len), &der) != m2m::CertificateStatus::ok,
                      "a prefix of %zu bytes accepted", len);
    }
    assert_thumbprint(escaped.substr(0, end + 5), "without the last line break");
}
END_TEST

START_TEST(test_size_limits)
{
    using m2m::CertificateStatus;
    assert_refused(std::string(m2m::kMaxEscapedCertificate + 1, ' ') + kPem, CertificateStatus::too_large,
                   "escaped text over the limit");
    // leading whitespace within the limit is only whitespace
    assert_thumbprint(std::string(m2m::kMaxEscapedCertificate - kPem.size(), ' ') + kPem, "at the limit");
    assert_refused(pem_of(std::string(m2m::kMaxCertificateDer + 1, '\x30')), CertificateStatus::too_large,
                   "DER over the limit");
    assert_refused(pem_of(std::string(m2m::kMaxCertificateDer, '\x30')), CertificateStatus::not_x509,
                   "DER at the limit reaches the X.509 check");
}
END_TEST

Suite *client_certificate_suite()
{
    Suite *s = suite_create("client_certificate");
    TCase *tc = tcase_create("thumbprint");
    tcase_add_test(tc, test_known_thumbprint);
    tcase_add_test(tc, test_der);
    tcase_add_test(tc, test_whitespace_and_line_breaks);
    tcase_add_test(tc, test_bad_escapes);
    tcase_add_test(tc, test_not_one_pem_block);
    tcase_add_test(tc, test_bad_base64);
    tcase_add_test(tc, test_not_one_certificate);
    tcase_add_test(tc, test_every_truncation);
    tcase_add_test(tc, test_size_limits);
    suite_add_tcase(s, tc);
    return s;
}
