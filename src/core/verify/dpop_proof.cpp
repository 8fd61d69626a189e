#include "verify/dpop_proof.h"

#include <cmath>
#include <vector>

#include <openssl/evp.h>

#include "base64url.h"
#include "encoding.h"
#include "json.h"
#include "keys/jwks.h"
#include "keys/signature.h"
#include "keys/thumbprint.h"
#include "token/token.h"
#include "verify/binding.h"

namespace m2m {

namespace {

// Token::parse reads at most this much; the proof's own limit is checked
// first and must not be the larger one.
static_assert(kMaxDpopProofSize <= kMaxTokenSize, "Token::parse would refuse a proof of allowed size");

bool is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

char to_lower(unsigned char c)
{
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
}

// RFC 3986 §2.3
bool is_unreserved(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

// RFC 3986 §2.2
bool is_sub_delim(unsigned char c)
{
    switch (c) {
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
        return true;
    default:
        return false;
    }
}

// A path-abempty (RFC 3986 §3.3) after percent-encoding normalization
// (§6.2.2.1-2): escapes of unreserved characters decoded, the others'
// hex digits upper case. False on any byte a path cannot hold or a '%'
// without two hex digits.
bool normalize_percent(std::string_view path, std::string *out)
{
    static const char kHex[] = "0123456789ABCDEF";
    out->clear();
    out->reserve(path.size());
    for (size_t i = 0; i < path.size(); i++) {
        const unsigned char c = static_cast<unsigned char>(path[i]);
        if (c == '%') {
            if (i + 2 >= path.size()) {
                return false;
            }
            const int high = hex_value(path[i + 1]);
            const int low = hex_value(path[i + 2]);
            if (high < 0 || low < 0) {
                return false;
            }
            const unsigned char decoded = static_cast<unsigned char>(high * 16 + low);
            if (is_unreserved(decoded)) {
                *out += static_cast<char>(decoded);
            } else {
                *out += '%';
                *out += kHex[high];
                *out += kHex[low];
            }
            i += 2;
        } else if (is_unreserved(c) || is_sub_delim(c) || c == ':' || c == '@' || c == '/') {
            *out += static_cast<char>(c);
        } else {
            return false;
        }
    }
    return true;
}

// RFC 3986 §5.2.4 on a path that is empty or starts with '/', one segment
// at a time: "." is dropped, ".." drops the segment before it, and either
// as the last segment leaves a trailing '/'.
std::string remove_dot_segments(std::string_view path)
{
    std::vector<std::string_view> kept;
    bool trailing_slash = false;
    size_t at = path.empty() ? std::string_view::npos : 1;
    while (at != std::string_view::npos) {
        const size_t slash = path.find('/', at);
        const std::string_view segment = path.substr(at, slash == std::string_view::npos ? slash : slash - at);
        const bool last = slash == std::string_view::npos;
        if (segment == ".") {
            trailing_slash = last;
        } else if (segment == "..") {
            if (!kept.empty()) {
                kept.pop_back();
            }
            trailing_slash = last;
        } else {
            kept.push_back(segment);
            trailing_slash = false;
        }
        at = last ? std::string_view::npos : slash + 1;
    }
    std::string out = "/";
    for (size_t i = 0; i < kept.size(); i++) {
        if (i > 0) {
            out += '/';
        }
        out += kept[i];
    }
    if (trailing_slash && !kept.empty()) {
        out += '/';
    }
    return out;
}

// The host of an authority, lower case (RFC 3986 §6.2.2.1): a reg-name or
// IPv4 address of unreserved and sub-delim characters, or an IPv6 literal
// in brackets. Percent-encoded hosts are refused: no HTTP client sends one.
bool normalize_host(std::string_view host, std::string *out)
{
    if (host.empty()) {
        return false;
    }
    out->clear();
    if (host.front() == '[') {
        if (host.size() < 3 || host.back() != ']') {
            return false;
        }
        for (size_t i = 1; i + 1 < host.size(); i++) {
            const unsigned char c = static_cast<unsigned char>(host[i]);
            if (hex_value(c) < 0 && c != ':' && c != '.') {
                return false;
            }
        }
    } else {
        for (unsigned char c : host) {
            if (!is_unreserved(c) && !is_sub_delim(c)) {
                return false;
            }
        }
    }
    for (unsigned char c : host) {
        *out += to_lower(c);
    }
    return true;
}

// An absolute http or https URI as RFC 9449 §4.3 compares it: query and
// fragment cut off, then RFC 3986 §6.2.2 syntax-based normalization (scheme
// and host lower case, percent-encoding normalized, dot segments removed)
// and §6.2.3 scheme-based normalization (an empty or default port dropped,
// an empty path as "/"). False for anything else, userinfo included.
bool normalize_htu(std::string_view uri, std::string *out)
{
    uri = uri.substr(0, uri.find_first_of("?#"));
    const size_t colon = uri.find(':');
    if (colon == std::string_view::npos) {
        return false;
    }
    std::string scheme;
    for (unsigned char c : uri.substr(0, colon)) {
        scheme += to_lower(c);
    }
    if (scheme != "http" && scheme != "https") {
        return false;
    }
    std::string_view rest = uri.substr(colon + 1);
    if (rest.substr(0, 2) != "//") {
        return false;
    }
    rest.remove_prefix(2);
    const size_t path_at = rest.find('/');
    const std::string_view authority = rest.substr(0, path_at);
    const std::string_view path = path_at == std::string_view::npos ? std::string_view() : rest.substr(path_at);
    if (authority.find('@') != std::string_view::npos) {
        return false;
    }
    // The port's ':' is the first one after an IPv6 literal's ']', if any.
    const size_t host_end = authority.empty() || authority.front() != '[' ? authority.find(':')
                            : authority.find(']') == std::string_view::npos
                                ? std::string_view::npos
                                : authority.find(':', authority.find(']'));
    std::string host;
    if (!normalize_host(authority.substr(0, host_end), &host)) {
        return false;
    }
    std::string_view port;
    if (host_end != std::string_view::npos) {
        port = authority.substr(host_end + 1);
    }
    unsigned long port_number = 0;
    for (unsigned char c : port) {
        if (!is_digit(c)) {
            return false;
        }
        port_number = port_number * 10 + (c - '0');
        if (port_number > 65535) {
            return false;
        }
    }
    if (!port.empty() && port_number == 0) {
        return false;
    }
    const unsigned long default_port = scheme == "http" ? 80 : 443;
    std::string normalized_path;
    if (!normalize_percent(path, &normalized_path)) {
        return false;
    }

    *out = scheme;
    *out += "://";
    *out += host;
    if (!port.empty() && port_number != default_port) {
        *out += ':';
        *out += std::to_string(port_number);
    }
    *out += remove_dot_segments(normalized_path);
    return true;
}

// RFC 9449 §4.3 items 2-5 on the header: dpop+jwt, an allowed asymmetric
// alg, no extension we would have to understand.
Reason check_header(const Token &token, const AlgorithmSet &algorithms, Algorithm *alg)
{
    std::string_view typ;
    if (!json_string_member(token.header(), "typ", &typ) || typ != "dpop+jwt") {
        return Reason::dpop_proof_malformed;
    }
    // RFC 7515 §4.1.11: we implement no extension, so any "crit" is refused.
    if (json_object_get(token.header(), "crit")) {
        return Reason::dpop_proof_malformed;
    }
    // Token::parse made sure alg is a string. "none" and HS* are no
    // Algorithm at all.
    const auto named = algorithm_from_name(token.alg());
    if (!named || !algorithms.contains(*named)) {
        return Reason::dpop_proof_alg_not_allowed;
    }
    *alg = *named;
    return Reason::ok;
}

// The claims every proof has (RFC 9449 §4.2), each of its type, as views
// into the claims object.
struct ProofClaims {
    std::string_view jti, htm, htu, ath;
    bool has_ath = false;
    double iat = 0;
};

// jti is remembered by the replay cache: a bound on its size bounds the
// cache's entries, and a client needs no more (RFC 9449 §4.2 suggests 96
// random bits).
constexpr size_t kMaxJtiSize = 256;

bool read_claims(const json_t *claims, ProofClaims *out)
{
    if (!json_string_member(claims, "jti", &out->jti) || out->jti.empty() || out->jti.size() > kMaxJtiSize ||
        has_line_breaking_chars(out->jti)) {
        return false;
    }
    if (!json_string_member(claims, "htm", &out->htm) || !json_string_member(claims, "htu", &out->htu)) {
        return false;
    }
    const json_t *iat = json_object_get(claims, "iat");
    if (!json_is_number(iat)) {
        return false;
    }
    out->iat = json_number_value(iat);
    if (!std::isfinite(out->iat)) {
        return false;
    }
    out->has_ath = json_object_get(claims, "ath") != nullptr;
    return !out->has_ath || json_string_member(claims, "ath", &out->ath);
}

// RFC 9449 §4.3 item 11: iat within [now - window - leeway, now + leeway].
// An iat beyond int64_t is outside any window (and could not be kept).
Reason check_iat(double iat, const DpopRequest &request)
{
    constexpr double kLimit = 9.0e18;
    if (iat < -kLimit) {
        return Reason::dpop_proof_stale;
    }
    if (iat > kLimit) {
        return Reason::dpop_proof_future;
    }
    const double now = static_cast<double>(request.now);
    if (iat < now - static_cast<double>(request.window) - static_cast<double>(request.leeway)) {
        return Reason::dpop_proof_stale;
    }
    if (iat > now + static_cast<double>(request.leeway)) {
        return Reason::dpop_proof_future;
    }
    return Reason::ok;
}

Reason verify(std::string_view proof, const DpopRequest &request, DpopProof *out)
{
    if (proof.size() > kMaxDpopProofSize) {
        return Reason::dpop_proof_malformed;
    }
    // Token::parse fits a proof: compact JWS of JSON objects, strict
    // base64url and JSON (no duplicate members), alg a string, the
    // signature decoded once. What it refuses beyond that (a five-part JWE,
    // a non-string "kid" or "iss") is a malformed proof here too.
    Token token;
    if (Token::parse(proof, &token) != Reason::ok) {
        return Reason::dpop_proof_malformed;
    }
    Algorithm alg{};
    Reason status = check_header(token, request.algorithms, &alg);
    if (status != Reason::ok) {
        return status;
    }
    ProofClaims claims;
    if (!read_claims(token.claims(), &claims)) {
        return Reason::dpop_proof_malformed;
    }

    // What needs no key first, as for access tokens: a proof for another
    // request, or a stale one, costs no public-key operation.
    // RFC 9110 §9.1: the method is case-sensitive.
    if (claims.htm != request.method) {
        return Reason::dpop_proof_wrong_method;
    }
    std::string htu, uri;
    if (!normalize_htu(claims.htu, &htu) || !normalize_htu(request.uri, &uri) || htu != uri) {
        return Reason::dpop_proof_wrong_uri;
    }
    status = check_iat(claims.iat, request);
    if (status != Reason::ok) {
        return status;
    }
    if (!request.access_token.empty()) {
        if (!claims.has_ath) {
            return Reason::dpop_proof_wrong_ath;
        }
        const std::string expected = access_token_hash(request.access_token);
        if (expected.empty()) {
            return Reason::internal_error;
        }
        if (!same_digest(claims.ath, expected)) {
            return Reason::dpop_proof_wrong_ath;
        }
    }
    Key key;
    status = import_public_jwk(json_object_get(token.header(), "jwk"), alg, &key);
    if (status != Reason::ok) {
        return status;
    }
    // Anyone can send a proof: a huge modulus would make every refusal cost
    // many times a 2048-bit check. RFC 9449 asks for no such key.
    if (key.kty == KeyType::RSA && key.signature_size > kMaxDpopRsaBits / 8) {
        return Reason::dpop_proof_bad_key;
    }
    status = verify_signature(key, alg, token.signing_input(), token.signature());
    if (status == Reason::bad_signature) {
        return Reason::dpop_proof_bad_signature;
    }
    if (status == Reason::key_alg_mismatch) {
        return Reason::dpop_proof_bad_key;  // import_public_jwk checked fits already
    }
    if (status != Reason::ok) {
        return Reason::internal_error;
    }

    DpopProof result;
    result.jkt = jwk_thumbprint(key.pkey.get());
    if (result.jkt.empty()) {
        return Reason::internal_error;
    }
    result.jti = std::string(claims.jti);
    // With a whole-second now, iat >= now - window - leeway holds exactly
    // when floor(iat) does: the replay cache may keep the floor.
    result.iat = static_cast<int64_t>(std::floor(claims.iat));
    *out = std::move(result);
    return Reason::ok;
}

}  // namespace

Reason verify_dpop_proof(std::string_view proof, const DpopRequest &request, DpopProof *out) noexcept
{
    try {
        return verify(proof, request, out);
    } catch (...) {
        return Reason::internal_error;
    }
}

std::string access_token_hash(std::string_view access_token) noexcept
{
    OpenSslErrorScope errors;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (EVP_Digest(access_token.data(), access_token.size(), digest, &size, EVP_sha256(), nullptr) != 1) {
        return std::string();
    }
    try {
        return base64url_encode(std::string_view(reinterpret_cast<const char *>(digest), size));
    } catch (...) {
        return std::string();
    }
}

}  // namespace m2m
