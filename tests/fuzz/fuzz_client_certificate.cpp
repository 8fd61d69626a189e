// The client certificate a proxy forwards (URL-escaped PEM) on arbitrary
// input, read two ways: as the escaped text itself, and as DER wrapped here
// in a well-formed PEM, so that the fuzzer reaches the X.509 check with bytes
// of its own. Besides crashes: an accepted certificate must be exactly one
// X.509 structure as OpenSSL reads it directly, within the size limit, must
// come back the same after re-encoding with an encoder written here, and its
// thumbprint must be SHA-256 as OpenSSL computes it, in base64url.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "fuzz_support.h"
#include "verify/client_certificate.h"

namespace {

// 64-character lines, every byte but unreserved ones escaped, as nginx's
// $ssl_client_escaped_cert.
std::string escaped_pem(std::string_view der)
{
    static const char kHex[] = "0123456789ABCDEF";
    const std::string b64 = fuzz::base64_encode(der);
    std::string pem = "-----BEGIN CERTIFICATE-----\n";
    for (size_t i = 0; i < b64.size(); i += 64) {
        pem += b64.substr(i, 64) + "\n";
    }
    pem += "-----END CERTIFICATE-----\n";
    std::string out;
    for (unsigned char c : pem) {
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
            c == '_' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    return out;
}

bool openssl_reads_one_x509(std::string_view der)
{
    const auto *start = reinterpret_cast<const unsigned char *>(der.data());
    const unsigned char *p = start;
    X509 *x509 = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
    const bool whole = x509 != nullptr && p == start + der.size();
    X509_free(x509);
    return whole;
}

std::string sha256_b64url(std::string_view der)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (EVP_Digest(der.data(), der.size(), digest, &size, EVP_sha256(), nullptr) != 1) {
        fuzz::fail("SHA-256 failed in the oracle");
    }
    return fuzz::b64url_encode(std::string_view(reinterpret_cast<char *>(digest), size));
}

// What an accepted certificate must satisfy; returns its DER.
void check_accepted(std::string_view escaped, const std::string &der)
{
    if (der.empty() || der.size() > m2m::kMaxCertificateDer || escaped.size() > m2m::kMaxEscapedCertificate) {
        fuzz::fail("accepted empty or over a limit");
    }
    if (!openssl_reads_one_x509(der)) {
        fuzz::fail("accepted DER that is not exactly one X.509 certificate");
    }
    m2m::CertificateThumbprint tp;
    if (m2m::escaped_certificate_thumbprint(escaped, &tp) != m2m::CertificateStatus::ok ||
        tp.view() != sha256_b64url(der)) {
        fuzz::fail("the thumbprint is not base64url(SHA-256(DER))");
    }
    std::string again;
    if (m2m::decode_escaped_certificate(escaped_pem(der), &again) != m2m::CertificateStatus::ok || again != der) {
        fuzz::fail("re-encoded certificate does not decode back");
    }
}

void check_escaped(std::string_view input)
{
    std::string der = "junk";
    const m2m::CertificateStatus status = m2m::decode_escaped_certificate(input, &der);
    if (status != m2m::CertificateStatus::ok) {
        if (!der.empty()) {
            fuzz::fail("DER kept after a refusal");
        }
        if (status == m2m::CertificateStatus::out_of_memory) {
            fuzz::fail("out of memory on a small input");
        }
        return;
    }
    check_accepted(input, der);
}

// The input as DER in a well-formed PEM: accepted exactly when OpenSSL reads
// it as one certificate.
void check_der(std::string_view input)
{
    const std::string escaped = escaped_pem(input);
    std::string der;
    const m2m::CertificateStatus status = m2m::decode_escaped_certificate(escaped, &der);
    const bool one = !input.empty() && input.size() <= m2m::kMaxCertificateDer && openssl_reads_one_x509(input);
    if ((status == m2m::CertificateStatus::ok) != one) {
        fuzz::fail(one ? "one X.509 certificate refused" : "not one X.509 certificate, yet accepted");
    }
    if (status == m2m::CertificateStatus::ok) {
        if (der != input) {
            fuzz::fail("a well-formed PEM decodes to other bytes");
        }
        check_accepted(escaped, der);
    } else if (input.size() <= m2m::kMaxCertificateDer && status != m2m::CertificateStatus::not_x509) {
        fuzz::fail("a well-formed PEM refused for its form");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const std::string_view input(reinterpret_cast<const char *>(data), size);
    check_escaped(input);
    check_der(input);
    return 0;
}
