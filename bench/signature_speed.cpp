// Micro-benchmark of one JWS signature check, on one core: the cjose path
// that authenticate.cpp took before the EVP path of src/core/keys/signature.h,
// for RS256 (RSA-2048), PS256 and ES256 (P-256), next to OpenSSL's own
// verify rate. Figures, not a test: nothing runs it but a person. Build and
// run it from the top directory (bench/README.md):
//
//   g++ -std=c++17 -O2 -Isrc/core bench/signature_speed.cpp src/core/*.cpp src/core/*/*.cpp
//       $(pkg-config --cflags --libs cjose jansson openssl) -o build/signature_speed
//   build/signature_speed [ROUNDS]        (default 7; about 3 s per round)
//
// On a shared machine the times move by tens of percent from one minute to
// the next. Instruction counts do not: under callgrind, --instructions runs
// each path 200 times between two client requests and leaves one dump per
// path (bench/README.md shows how to read them).
//
// Keys and tokens are made here with OpenSSL's EVP API (never with the
// module's code); the module only imports the public JWKs, as it would a
// key set. Each case runs in rounds interleaved with the others, for about
// 0.15 s of this thread's CPU time each (CLOCK_THREAD_CPUTIME_ID, so time
// spent descheduled on a busy machine is not counted); the table shows the
// median and the best round in microseconds per check.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "bench_support.h"
#include "keys/jwks.h"
#include "keys/signature.h"

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define HAVE_CALLGRIND 1
#endif

namespace {

using bench::b64url;
using bench::bn_param;
using bench::die;
using bench::rs_to_der;
using bench::sign;

// bench/run.sh's realistic client-credentials token body, ~900 bytes.
const char kClaims[] =
    "{\"iss\":\"https://issuer.test\",\"aud\":\"api\",\"sub\":\"svc-reminder-agent@clients.issuer.test\","
    "\"client_id\":\"reminder-agent\",\"azp\":\"reminder-agent\",\"scope\":\"tasks:read tasks:write\","
    "\"iat\":1700000000,\"nbf\":1700000000,\"exp\":1700003600,\"jti\":\"0b7c9a52-3f1e-4d2a-9c8b-5e6f7a8b9c0d\","
    "\"typ\":\"Bearer\",\"gty\":\"client-credentials\",\"acr\":\"1\",\"sid\":\"7d2e4f60-1a3b-4c5d-8e9f-0a1b2c3d4e5f\","
    "\"tenant_id\":\"6f1c2a4e-91d3-4b8a-a0de-3c5b7e9f2d14\",\"org_id\":\"org_8Hq2LxTz4WmN0pVr\","
    "\"preferred_username\":\"service-account-reminder-agent\",\"clientHost\":\"10.42.17.203\","
    "\"clientAddress\":\"10.42.17.203\",\"allowed-origins\":[\"https://tasks.internal.example\"],"
    "\"realm_access\":{\"roles\":[\"default-roles-services\",\"offline_access\",\"uma_authorization\"]},"
    "\"resource_access\":{\"api\":{\"roles\":[\"tasks.reader\",\"tasks.writer\",\"reminders.scheduler\"]},"
    "\"account\":{\"roles\":[\"manage-account\",\"view-profile\"]}},\"permissions\":[\"tasks:read\",\"tasks:write\"],"
    "\"ver\":\"2.0\"}";

struct Case {
    const char *name;
    m2m::Algorithm alg;
    EVP_PKEY *pkey;
    const m2m::Key *key;
    std::string token, input, signature;
};

struct Runner {
    std::string name;
    std::function<bool()> check;
    std::vector<double> us;  // per round
};

// The verify rates `openssl speed` reports on this machine, in checks/s.
void openssl_speed(double *rsa, double *ecdsa)
{
    *rsa = *ecdsa = 0;
    FILE *p = popen("openssl speed -seconds 1 rsa2048 ecdsap256 2>/dev/null", "r");
    if (!p) {
        return;
    }
    char line[512];
    while (std::fgets(line, sizeof line, p)) {
        double a, b, c, d;
        if (std::sscanf(line, "rsa 2048 bits %lfs %lfs %lf %lf", &a, &b, &c, &d) == 4) {
            *rsa = d;
            std::printf("openssl speed: %s", line);
        } else if (std::strstr(line, "ecdsa (nistp256)") &&
                   std::sscanf(std::strstr(line, ")") + 1, " %lfs %lfs %lf %lf", &a, &b, &c, &d) == 4) {
            *ecdsa = d;
            std::printf("openssl speed: %s", line);
        }
    }
    pclose(p);
}

}  // namespace

int main(int argc, char **argv)
{
    const bool instructions = argc > 1 && std::strcmp(argv[1], "--instructions") == 0;
    const int rounds = argc > 1 && !instructions ? std::max(1, std::atoi(argv[1])) : 7;

    EVP_PKEY *rsa = EVP_RSA_gen(2048);
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    if (!rsa || !ec) {
        die("key generation");
    }
    const std::string jwks =
        "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"rsa1\",\"n\":\"" + b64url(bn_param(rsa, OSSL_PKEY_PARAM_RSA_N, 0)) +
        "\",\"e\":\"" + b64url(bn_param(rsa, OSSL_PKEY_PARAM_RSA_E, 0)) +
        "\"},{\"kty\":\"EC\",\"kid\":\"ec1\",\"crv\":\"P-256\",\"x\":\"" +
        b64url(bn_param(ec, OSSL_PKEY_PARAM_EC_PUB_X, 32)) + "\",\"y\":\"" +
        b64url(bn_param(ec, OSSL_PKEY_PARAM_EC_PUB_Y, 32)) + "\"}]}";
    const m2m::JwksParseResult parsed = m2m::parse_jwks(jwks);
    if (parsed.status != m2m::Reason::ok || parsed.keys.keys().size() != 2) {
        die("parse_jwks");
    }

    std::vector<Case> cases = {
        {"RS256", m2m::Algorithm::RS256, rsa, &parsed.keys.keys()[0], {}, {}, {}},
        {"PS256", m2m::Algorithm::PS256, rsa, &parsed.keys.keys()[0], {}, {}, {}},
        {"ES256", m2m::Algorithm::ES256, ec, &parsed.keys.keys()[1], {}, {}, {}},
    };
    for (Case &c : cases) {
        const bool ecdsa = c.alg == m2m::Algorithm::ES256;
        const std::string header = std::string("{\"alg\":\"") + c.name + "\",\"typ\":\"at+jwt\",\"kid\":\"" +
                                   (ecdsa ? "ec1" : "rsa1") + "\"}";
        c.input = b64url(header) + "." + b64url(kClaims);
        c.signature = sign(c.pkey, c.alg == m2m::Algorithm::PS256, ecdsa, c.input);
        c.token = c.input + "." + b64url(c.signature);
    }
    std::printf("token sizes: RS256 %zu, PS256 %zu, ES256 %zu bytes; %d rounds\n\n", cases[0].token.size(),
                cases[1].token.size(), cases[2].token.size(), rounds);

    EVP_MD *sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    std::vector<std::vector<Runner>> runners(cases.size());
    for (size_t i = 0; i < cases.size(); i++) {
        const Case &c = cases[i];
        std::vector<Runner> &r = runners[i];
        // (a) today: verify.cpp's check_signature, exact length then cjose.
        r.push_back({"a cjose import+verify (today)", [&c] {
                         if (c.signature.size() != c.key->signature_size) {
                             return false;
                         }
                         cjose_err err;
                         m2m::JwsPtr jws(cjose_jws_import(c.token.data(), c.token.size(), &err));
                         return jws && cjose_jws_verify(jws.get(), c.key->jwk.get(), &err);
                     }, {}});
        // (b) the new path, as authenticate() calls it: on the signing input
        // and the signature Token::parse decoded.
        r.push_back({"b verify_signature (new)", [&c] {
                         return m2m::verify_signature(*c.key, c.alg, c.input, c.signature) == m2m::Reason::ok;
                     }, {}});
        // (c) the alternative to (b)'s copy per call: the key's prepared
        // context used in place (a Key then is not safe for two threads).
        const EVP_PKEY_CTX *prepared = c.key->verifiers[static_cast<size_t>(c.alg)].get();
        r.push_back({"c same, prepared ctx reused, no copy", [&c, prepared, sha256] {
                         unsigned char md[EVP_MAX_MD_SIZE];
                         unsigned int md_len = 0;
                         EVP_MD_CTX *h = EVP_MD_CTX_new();
                         bool ok = EVP_DigestInit_ex2(h, sha256, nullptr) == 1 &&
                                   EVP_DigestUpdate(h, c.input.data(), c.input.size()) == 1 &&
                                   EVP_DigestFinal_ex(h, md, &md_len) == 1;
                         EVP_MD_CTX_free(h);
                         std::string der;
                         const auto *sig = reinterpret_cast<const unsigned char *>(c.signature.data());
                         size_t sig_len = c.signature.size();
                         if (c.alg == m2m::Algorithm::ES256) {
                             der = rs_to_der(c.signature);
                             sig = reinterpret_cast<const unsigned char *>(der.data());
                             sig_len = der.size();
                         }
                         return ok && EVP_PKEY_verify(const_cast<EVP_PKEY_CTX *>(prepared), sig, sig_len, md,
                                                      md_len) == 1;
                     }, {}});
        // (d) a plain EVP port with nothing prepared: EVP_DigestVerifyInit
        // per call with EVP_sha256() (an implicit fetch), padding set each
        // time.
        r.push_back({"d EVP_DigestVerifyInit per call", [&c] {
                         const std::string der =
                             c.alg == m2m::Algorithm::ES256 ? rs_to_der(c.signature) : c.signature;
                         EVP_MD_CTX *ctx = EVP_MD_CTX_new();
                         EVP_PKEY_CTX *pctx = nullptr;
                         bool ok = EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), nullptr, c.pkey) == 1;
                         if (ok && c.alg == m2m::Algorithm::PS256) {
                             ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
                                  EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
                         }
                         ok = ok && EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char *>(der.data()),
                                                     der.size(),
                                                     reinterpret_cast<const unsigned char *>(c.input.data()),
                                                     c.input.size()) == 1;
                         EVP_MD_CTX_free(ctx);
                         return ok;
                     }, {}});
        // (e) the floor: only the public-key operation on a digest computed
        // beforehand, with one context reused (what `openssl speed` times).
        auto digest = std::make_shared<std::string>(32, '\0');
        auto der = std::make_shared<std::string>(c.signature);
        {
            unsigned int md_len = 0;
            EVP_Digest(c.input.data(), c.input.size(), reinterpret_cast<unsigned char *>(&(*digest)[0]), &md_len,
                       sha256, nullptr);
            if (c.alg == m2m::Algorithm::ES256) {
                *der = rs_to_der(c.signature);
            }
        }
        r.push_back({"e EVP_PKEY_verify only (the floor)", [prepared, digest, der] {
                         return EVP_PKEY_verify(const_cast<EVP_PKEY_CTX *>(prepared),
                                                reinterpret_cast<const unsigned char *>(der->data()), der->size(),
                                                reinterpret_cast<const unsigned char *>(digest->data()),
                                                digest->size()) == 1;
                     }, {}});
        for (const Runner &run : r) {
            if (!run.check()) {
                std::fprintf(stderr, "%s %s: the valid token does not verify\n", c.name, run.name.c_str());
                return 1;
            }
        }
    }

    if (instructions) {
#ifdef HAVE_CALLGRIND
        if (!RUNNING_ON_VALGRIND) {
            std::fprintf(stderr, "--instructions: run me under valgrind --tool=callgrind\n");
            return 2;
        }
        for (size_t i = 0; i < cases.size(); i++) {
            for (const Runner &run : runners[i]) {
                for (int k = 0; k < 20; k++) {
                    run.check();
                }
                const std::string label = std::string(cases[i].name) + " " + run.name + " x200";
                CALLGRIND_ZERO_STATS;
                for (int k = 0; k < 200; k++) {
                    run.check();
                }
                CALLGRIND_DUMP_STATS_AT(label.c_str());
            }
        }
        return 0;
#else
        std::fprintf(stderr, "--instructions: built without <valgrind/callgrind.h>\n");
        return 2;
#endif
    }

    for (int round = 0; round < rounds; round++) {
        for (auto &per_case : runners) {
            for (Runner &run : per_case) {
                long n = 0;
                const double start = bench::thread_cpu_ns() * 1e-9;
                double elapsed = 0;
                do {
                    for (int k = 0; k < 25; k++) {
                        run.check();
                    }
                    n += 25;
                    elapsed = bench::thread_cpu_ns() * 1e-9 - start;
                } while (elapsed < 0.15);
                run.us.push_back(elapsed / static_cast<double>(n) * 1e6);
            }
        }
    }

    double rsa_rate = 0, ecdsa_rate = 0;
    openssl_speed(&rsa_rate, &ecdsa_rate);
    std::printf("\n%-6s %-38s %9s %9s %7s %7s %7s\n", "alg", "path", "median us", "best us", "vs (a)", "vs (e)",
                "vs ssl");
    for (size_t i = 0; i < cases.size(); i++) {
        const double rate = cases[i].alg == m2m::Algorithm::ES256 ? ecdsa_rate : rsa_rate;
        const double speed_us = rate > 0 ? 1e6 / rate : 0;
        for (Runner &run : runners[i]) {
            std::sort(run.us.begin(), run.us.end());
        }
        const auto median = [](const Runner &run) { return run.us[run.us.size() / 2]; };
        const double today = median(runners[i].front());
        const double floor = median(runners[i].back());
        for (const Runner &run : runners[i]) {
            std::printf("%-6s %-38s %9.2f %9.2f %7.2f %7.2f %7.2f\n", cases[i].name, run.name.c_str(), median(run),
                        run.us[0], median(run) / today, median(run) / floor, speed_us > 0 ? median(run) / speed_us : 0.0);
        }
        if (speed_us > 0) {
            std::printf("%-6s %-38s %9.2f\n", cases[i].name, "openssl speed verify: 1e6 / (verify/s)", speed_us);
        }
    }
    EVP_MD_free(sha256);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
    return 0;
}
