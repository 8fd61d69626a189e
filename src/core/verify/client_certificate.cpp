#include "verify/client_certificate.h"

#include <cstdint>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "base64url.h"
#include "encoding.h"
#include "openssl_handles.h"

namespace m2m {

namespace {

constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----";
constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
constexpr std::string_view kAnyBegin = "-----BEGIN ";

// Every %XX becomes its byte, everything else stays as it is: nginx escapes
// the PEM as a URI component, other proxies leave '+', '/' and '=' or even
// the whole PEM unescaped. '+' is base64's, never a space. `out` has room
// for in.size() bytes.
bool percent_decode(std::string_view in, std::string *out)
{
    for (size_t i = 0; i < in.size(); i++) {
        if (in[i] != '%') {
            out->push_back(in[i]);
            continue;
        }
        if (in.size() - i < 3) {
            return false;
        }
        const int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
        if (hi < 0 || lo < 0) {
            return false;
        }
        out->push_back(static_cast<char>(hi << 4 | lo));
        i += 2;
    }
    return true;
}

bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string_view skip_space(std::string_view s)
{
    while (!s.empty() && is_space(s.front())) {
        s.remove_prefix(1);
    }
    return s;
}

bool starts_with(std::string_view s, std::string_view prefix)
{
    return s.substr(0, prefix.size()) == prefix;
}

// RFC 7468 §3's textual encoding of one certificate, whitespace allowed
// around it and within the body as its lax parsers do (proxies fold lines
// differently); explanatory text and other labels are not.
CertificateStatus read_pem(std::string_view pem, std::string_view *body)
{
    pem = skip_space(pem);
    if (!starts_with(pem, kBegin)) {
        return CertificateStatus::not_pem;
    }
    pem.remove_prefix(kBegin.size());
    const size_t end = pem.find(kEnd);
    if (end == std::string_view::npos) {
        return CertificateStatus::not_pem;
    }
    *body = pem.substr(0, end);
    const std::string_view rest = skip_space(pem.substr(end + kEnd.size()));
    if (rest.empty()) {
        return CertificateStatus::ok;
    }
    // a chain: which of them would the token be bound to?
    return starts_with(rest, kAnyBegin) ? CertificateStatus::several : CertificateStatus::not_pem;
}

// A PEM body's lines joined: base64_decode reads one unbroken run.
std::string without_space(std::string_view body)
{
    std::string joined;
    joined.reserve(body.size());
    for (char c : body) {
        if (!is_space(c)) {
            joined += c;
        }
    }
    return joined;
}

// d2i_X509 reads any bytes safely within the length it is given; one
// certificate and nothing after it, or a second reading of the bytes could
// bind the token to something else.
bool is_one_x509(std::string_view der)
{
    OpenSslErrorScope errors;
    const auto *start = reinterpret_cast<const unsigned char *>(der.data());
    const unsigned char *p = start;
    X509Ptr x509(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    return x509 && p == start + der.size();
}

}  // namespace

const char *certificate_status_text(CertificateStatus status) noexcept
{
    switch (status) {
    case CertificateStatus::ok:
        return "ok";
    case CertificateStatus::too_large:
        return "too large";
    case CertificateStatus::bad_escape:
        return "a bad %-escape";
    case CertificateStatus::not_pem:
        return "not one PEM \"CERTIFICATE\" block";
    case CertificateStatus::bad_base64:
        return "bad base64 in the PEM body";
    case CertificateStatus::several:
        return "more than one PEM block";
    case CertificateStatus::not_x509:
        return "not an X.509 certificate";
    case CertificateStatus::out_of_memory:
        return "out of memory";
    }
    return "unknown";
}

bool certificate_thumbprint(std::string_view der, CertificateThumbprint *out) noexcept
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    OpenSslErrorScope errors;
    if (EVP_Digest(der.data(), der.size(), digest, &size, EVP_sha256(), nullptr) != 1 || size != 32) {
        return false;
    }
    static_assert(base64url_encoded_size(32) == CertificateThumbprint::kSize, "a SHA-256 in base64url");
    base64url_encode(std::string_view(reinterpret_cast<char *>(digest), size), out->text);
    return true;
}

bool certificate_thumbprint(X509 *certificate, CertificateThumbprint *out) noexcept
{
    OpenSslErrorScope errors;
    unsigned char *der = nullptr;
    const int size = i2d_X509(certificate, &der);
    if (size <= 0) {
        return false;
    }
    const bool ok = certificate_thumbprint(std::string_view(reinterpret_cast<char *>(der), size), out);
    OPENSSL_free(der);
    return ok;
}

CertificateStatus decode_escaped_certificate(std::string_view escaped, std::string *der) noexcept
{
    der->clear();
    if (escaped.size() > kMaxEscapedCertificate) {
        return CertificateStatus::too_large;
    }
    CertificateStatus status = CertificateStatus::ok;
    try {
        // every step's output is shorter than its input
        std::string pem;
        pem.reserve(escaped.size());
        der->reserve(escaped.size());
        std::string_view body;
        if (!percent_decode(escaped, &pem)) {
            status = CertificateStatus::bad_escape;
        } else {
            status = read_pem(pem, &body);
        }
        if (status == CertificateStatus::ok) {
            // an empty body is well-formed base64 of no DER, refused below
            // as no certificate
            const std::string joined = without_space(body);
            if (!joined.empty() && !base64_decode(joined, der)) {
                status = CertificateStatus::bad_base64;
            }
        }
    } catch (...) {
        status = CertificateStatus::out_of_memory;
    }
    if (status == CertificateStatus::ok && der->size() > kMaxCertificateDer) {
        status = CertificateStatus::too_large;
    }
    if (status == CertificateStatus::ok && !is_one_x509(*der)) {
        status = CertificateStatus::not_x509;
    }
    if (status != CertificateStatus::ok) {
        der->clear();
    }
    return status;
}

CertificateStatus escaped_certificate_thumbprint(std::string_view escaped, CertificateThumbprint *out) noexcept
{
    std::string der;
    const CertificateStatus status = decode_escaped_certificate(escaped, &der);
    if (status != CertificateStatus::ok) {
        return status;
    }
    return certificate_thumbprint(der, out) ? CertificateStatus::ok : CertificateStatus::out_of_memory;
}

}  // namespace m2m
