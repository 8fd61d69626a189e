// Token::parse, authenticate() and authorize() on arbitrary tokens, then the
// claim helpers on whatever parsed. Without signatures that verify, every claim rule after the
// signature check would be out of reach, so the harness can sign.
//
// Input, by its first byte:
//   bit 0 clear ('r'): the rest is the compact token, as a client sends it.
//   bit 0 set: the rest is header JSON, NUL, payload JSON, NUL, signature
//   bytes; the harness base64url-encodes them. With bit 1 also set ('s') the
//   signature bytes are ignored and the token is signed ES256 by "ec-1", the
//   key whose private half is below; without it ('u') they are used as is.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fuzz_claims.h"
#include "fuzz_support.h"
#include "fuzz_verify.h"
#include "keys/jwks.h"

namespace {

constexpr int64_t kNow = 1700000000;

struct Fixture {
    EVP_PKEY *ec1 = nullptr;
    fuzz::Issuer strict, loose;
    std::vector<const fuzz::Issuer *> issuers;
};

Fixture *fixture;

void set_up()
{
    fixture = new Fixture;
    fixture->ec1 = fuzz::load_private_pem(fuzz::kEc1Pem);
    EVP_PKEY *rsa = fuzz::generate_rsa(2048);
    EVP_PKEY *p384 = fuzz::generate_ec("P-384");
    // A kid-less key too, so that kid-less tokens have a key to find.
    const std::string jwks = "{\"keys\":[" + fuzz::public_jwk(fixture->ec1, "ec-1", "\"alg\":\"ES256\",\"use\":\"sig\"") +
                             "," + fuzz::public_jwk(rsa, "rsa-1") + "," + fuzz::public_jwk(p384, "") + "]}";
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(p384);
    m2m::JwksParseResult parsed = m2m::parse_jwks(jwks);
    if (parsed.status != m2m::Reason::ok || parsed.keys.keys().size() != 3) {
        fuzz::fail("the fixed key set does not load");
    }
    const std::shared_ptr<const m2m::KeySet> keys = m2m::share_keys(std::move(parsed.keys));

    m2m::IssuerPolicy &strict = fixture->strict.policy;
    strict.name = "strict";
    strict.issuer = "https://issuer.example/";
    strict.audiences = {"api://tasks", "api://other"};
    strict.require_typ = {"at+jwt"};
    fixture->strict.keys.replace(keys, 1);

    m2m::IssuerPolicy &loose = fixture->loose.policy;
    loose.name = "loose";
    loose.issuer = "https://b.example/";
    loose.algorithms = m2m::AlgorithmSet();
    loose.algorithms.add(m2m::Algorithm::ES256);
    loose.algorithms.add(m2m::Algorithm::RS256);
    loose.leeway = 0;
    loose.client_id_claims = {"cid", "sub"};
    loose.scope_claims = {"scp"};
    fixture->loose.keys.replace(keys, 7);

    fixture->issuers = {&fixture->strict, &fixture->loose};
}

std::string structured_token(unsigned char mode, std::string_view rest)
{
    const size_t a = rest.find('\0');
    const size_t b = a == std::string_view::npos ? a : rest.find('\0', a + 1);
    const std::string_view header = rest.substr(0, a);
    const std::string_view payload = a == std::string_view::npos ? std::string_view() : rest.substr(a + 1, b - a - 1);
    const std::string_view signature = b == std::string_view::npos ? std::string_view() : rest.substr(b + 1);
    const std::string input = fuzz::b64url_encode(header) + "." + fuzz::b64url_encode(payload);
    const std::string sig = (mode & 2) ? fuzz::sign(fixture->ec1, "ES256", input) : std::string(signature);
    return input + "." + fuzz::b64url_encode(sig);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    // jansson seeds its hash function randomly; a fixed seed makes each
    // input's run the same every time.
    json_object_seed(1);
    set_up();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    const std::string_view rest(reinterpret_cast<const char *>(data) + 1, size - 1);
    const std::string compact = (data[0] & 1) ? structured_token(data[0], rest) : std::string(rest);

    const fuzz::Verdict v =
        fuzz::verify(compact, fixture->issuers, kNow, [](const m2m::Token &token) {
            fuzz::exercise_claims(token.claims());
        });
    if (getenv("FUZZ_VERBOSE")) {
        // For checking what a seed reaches: fuzz_token -runs=0 seed...
        fprintf(stderr, "verify: %s\n", v.status == m2m::Reason::ok ? "ok" : m2m::reason_code(v.status));
    }
    if (v.status == m2m::Reason::internal_error) {
        fuzz::fail("verify() reported internal_error");
    }
    if (v.status == m2m::Reason::ok && !v.token) {
        fuzz::fail("ok without a verified signature");
    }
    if (v.token) {
        fuzz::check_client_id(v.token->client_id());
        fuzz::check_scopes(v.token->scopes(), v.token->scope_string());
        // cnf: a verified token is bound only by well-formed digests, and a
        // malformed cnf never lets the token through
        const m2m::Confirmation &cnf = v.token->confirmation();
        if (cnf.status != m2m::Reason::ok && (v.status == m2m::Reason::ok || !cnf.x5t_s256.empty() || !cnf.jkt.empty())) {
            fuzz::fail("a malformed cnf bound the token or let it through");
        }
        if ((!cnf.x5t_s256.empty() && cnf.x5t_s256.size() != 43) || (!cnf.jkt.empty() && cnf.jkt.size() != 43)) {
            fuzz::fail("cnf digest of the wrong length");
        }
        const std::string_view other = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        if (!cnf.x5t_s256.empty() && cnf.x5t_s256 != other
            && m2m::check_certificate_binding(cnf, false, &other) != m2m::Reason::certificate_mismatch) {
            fuzz::fail("a certificate-bound token accepted another certificate");
        }
        if (!cnf.jkt.empty() && m2m::check_dpop_binding(cnf, m2m::DpopMode::allowed, m2m::Scheme::bearer, {})
                                    != m2m::Reason::dpop_bound_bearer) {
            fuzz::fail("a DPoP-bound token accepted as Bearer");
        }
    }
    return 0;
}
