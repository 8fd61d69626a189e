// The client certificate a certificate-bound token names (RFC 8705 §3.1):
// its x5t#S256 thumbprint, from the TLS connection's own certificate or from
// the URL-escaped PEM that a TLS-terminating proxy forwards (nginx's
// $ssl_client_escaped_cert). The PEM comes from the network, so every layer
// of it (escapes, armor, base64) is decoded here, and OpenSSL sees only a
// length-bounded DER.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <openssl/x509.h>

namespace m2m {

// A certificate's DER over this is refused: real client certificates are a
// few KiB at most, and a header-sized PEM cannot carry more anyway.
constexpr size_t kMaxCertificateDer = 16 * 1024;
// The escaped PEM's limit: 16 KiB of DER is under 23 KiB of PEM (base64,
// line breaks, armor), and escaping ("%2B") at most triples each character.
constexpr size_t kMaxEscapedCertificate = 3 * 24 * 1024;

enum class CertificateStatus {
    ok,
    too_large,      // over kMaxEscapedCertificate or kMaxCertificateDer
    bad_escape,     // '%' not followed by two hex digits
    not_pem,        // not "-----BEGIN CERTIFICATE-----" ... "-----END CERTIFICATE-----",
                    // only whitespace around it
    bad_base64,     // the body is not padded base64 with zero trailing bits
    several,        // a second PEM block follows the first
    not_x509,       // the DER is not exactly one X.509 certificate
    out_of_memory,
};

// Why, for the error log.
const char *certificate_status_text(CertificateStatus status) noexcept;

// base64url without padding of a SHA-256 digest.
struct CertificateThumbprint {
    static constexpr size_t kSize = 43;
    char text[kSize];
    std::string_view view() const noexcept { return std::string_view(text, kSize); }
};

// x5t#S256 of a certificate's DER (hashed as given). False only if OpenSSL
// fails to digest.
bool certificate_thumbprint(std::string_view der, CertificateThumbprint *out) noexcept;

// x5t#S256 of a certificate OpenSSL already holds (a TLS peer's).
bool certificate_thumbprint(X509 *certificate, CertificateThumbprint *out) noexcept;

// The DER of the single certificate in a URL-escaped PEM, checked to be one
// X.509 certificate and nothing more. *der is cleared on any error.
CertificateStatus decode_escaped_certificate(std::string_view escaped, std::string *der) noexcept;

// decode_escaped_certificate() then certificate_thumbprint().
CertificateStatus escaped_certificate_thumbprint(std::string_view escaped, CertificateThumbprint *out) noexcept;

}  // namespace m2m
