// What one request with an already-verified RS256 token costs the core, three
// ways: a hit in the per-worker TokenCache (find + authorize, what the module
// does); a hit as a cache in the shared zone would have to do it (lock, find
// the serialized token, copy it out, unlock, then parse it and read its claims
// again, as a shared_ptr cannot live in shared memory); and no cache at all
// (parse, authenticate with the signature, authorize); and a forgery sent
// again, refused from the cache. Figures, not a test.
// Build and run from the top directory:
//
//   g++ -std=c++17 -O2 -Isrc/core bench/token_cache_speed.cpp src/core/*.cpp src/core/*/*.cpp
//       $(pkg-config --cflags --libs cjose jansson openssl) -o build/token_cache_speed
//   build/token_cache_speed                 (nanoseconds per request, thread CPU time)
//   valgrind --tool=callgrind --callgrind-out-file=build/tc.out build/token_cache_speed --instructions
//       then callgrind_annotate build/tc.out: one dump per case, 1000 requests each
//
// The zone stand-in takes an uncontended std::mutex (ngx_shmtx_lock is one
// atomic compare-and-swap when uncontended, as is this) and keeps its entries
// in a std::unordered_map<std::string, std::string>: the lookup and the copy
// are the same work a slab-allocated table would do.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <ctime>
#include <mutex>
#include <string>
#include <unordered_map>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "bench_support.h"
#include "keys/jwks.h"
#include "token/claims.h"
#include "token/token.h"
#include "verify/authenticate.h"
#include "verify/authorize.h"
#include "verify/scope.h"
#include "verify/token_cache.h"

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define HAVE_CALLGRIND 1
#endif

namespace {

using bench::b64url;
using bench::die;

constexpr int64_t kNow = 1700000000;

}  // namespace

int main(int argc, char **argv)
{
    const bool instructions = argc > 1 && std::strcmp(argv[1], "--instructions") == 0;

    EVP_PKEY *pkey = nullptr;
    EVP_PKEY_CTX *gen = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr);
    if (!gen || EVP_PKEY_keygen_init(gen) != 1 || EVP_PKEY_CTX_set_rsa_keygen_bits(gen, 2048) != 1 ||
        EVP_PKEY_generate(gen, &pkey) != 1) {
        die("RSA key generation");
    }
    EVP_PKEY_CTX_free(gen);
    const std::string jwks = "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"k1\",\"n\":\"" +
                             b64url(bench::bn_param(pkey, OSSL_PKEY_PARAM_RSA_N)) + "\",\"e\":\"" +
                             b64url(bench::bn_param(pkey, OSSL_PKEY_PARAM_RSA_E)) + "\"}]}";
    m2m::IssuerPolicy issuer;
    issuer.issuer = "https://idp.example.com/";
    issuer.audiences = {"api://tasks"};
    m2m::IssuerKeys keys;
    m2m::JwksParseResult parsed = m2m::parse_jwks(jwks);
    if (parsed.status != m2m::Reason::ok) {
        die("parse_jwks");
    }
    keys.replace(std::make_shared<const m2m::KeySet>(std::move(parsed.keys)), 1);

    // a typical client-credentials access token (about 630 bytes); tokens
    // differ by their jti
    const std::string header = b64url("{\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":\"k1\"}");
    auto mint = [&](const std::string &jti) {
        const std::string payload = b64url(
            "{\"iss\":\"https://idp.example.com/\",\"sub\":\"svc-orders\",\"aud\":\"api://tasks\",\"exp\":" +
            std::to_string(kNow + 3600) + ",\"iat\":" + std::to_string(kNow) +
            ",\"client_id\":\"svc-orders\",\"scope\":\"tasks:read tasks:write\",\"jti\":\"" + jti + "\"}");
        return header + "." + payload + "." + b64url(bench::sign(pkey, false, false, header + "." + payload));
    };
    auto authenticate_token = [&](const std::string &token_bytes, std::shared_ptr<const m2m::VerifiedToken> *out) {
        m2m::Token token;
        if (m2m::Token::parse(token_bytes, &token) != m2m::Reason::ok ||
            m2m::authenticate(std::move(token), issuer, keys, out) != m2m::Reason::ok) {
            die("authenticate");
        }
    };
    const std::string compact = mint("0f3c9a7e-1b2d-4c5e-8f90-123456789abc");
    auto authenticate = [&](std::shared_ptr<const m2m::VerifiedToken> *out) { authenticate_token(compact, out); };

    std::shared_ptr<const m2m::VerifiedToken> verified;
    authenticate(&verified);

    m2m::TokenCache cache(4 << 20);
    cache.insert(verified, kNow);
    auto keys_of = [](const m2m::IssuerPolicy &, void *ctx) noexcept -> const m2m::IssuerKeys * {
        return static_cast<const m2m::IssuerKeys *>(ctx);
    };

    // the same token with its signature's last character changed: a forgery
    std::string forged = compact;
    forged.back() = forged.back() == 'A' ? 'Q' : 'A';
    cache.insert_refusal(forged, m2m::Reason::bad_signature, verified->times(), issuer, keys.generation, kNow);

    std::mutex zone_lock;
    std::unordered_map<std::string, std::string> zone;
    zone.emplace(compact, compact);

    volatile int sink = 0;
    const struct Case {
        const char *name;
        std::function<void()> run;
    } cases[] = {
        {"per-worker hit (find + authorize)",
         [&] {
             auto hit = cache.find(compact, kNow, keys_of, &keys);
             sink = sink + static_cast<int>(m2m::authorize(*hit, kNow, nullptr));
         }},
        {"remembered forgery (find, salted SHA-256, find)",
         [&] {
             if (cache.find(forged, kNow, keys_of, &keys)) {
                 die("forgery found verified");
             }
             sink = sink + static_cast<int>(cache.find_refusal(forged, kNow, keys_of, &keys));
         }},
        {"zone-style hit (lock, copy, parse, claims)",
         [&] {
             std::string copy;
             {
                 std::lock_guard<std::mutex> held(zone_lock);
                 copy = zone.find(compact)->second;
             }
             m2m::Token token;
             if (m2m::Token::parse(copy, &token) != m2m::Reason::ok) {
                 die("parse");
             }
             auto scopes = m2m::collect_scopes(token.claims(), issuer.scope_claims);
             auto joined = m2m::join_scopes(*scopes);
             sink = sink + static_cast<int>(m2m::find_client_id(token.claims(), issuer.client_id_claims).size() +
                                            joined->size());
         }},
        {"no cache (parse, authenticate, authorize)",
         [&] {
             std::shared_ptr<const m2m::VerifiedToken> out;
             authenticate(&out);
             sink = sink + static_cast<int>(m2m::authorize(*out, kNow, nullptr));
         }},
    };

    if (instructions) {
#ifdef HAVE_CALLGRIND
        for (const Case &c : cases) {
            CALLGRIND_ZERO_STATS;
            for (int i = 0; i < 1000; i++) {
                c.run();
            }
            CALLGRIND_DUMP_STATS_AT(c.name);
        }
        return 0;
#else
        die("valgrind/callgrind.h at build time");
#endif
    }

    std::printf("token of %zu bytes; ns per request (median of 7 rounds, thread CPU time)\n", compact.size());
    for (const Case &c : cases) {
        const int n = std::strncmp(c.name, "no cache", 8) == 0 ? 2000 : 200000;
        double best[7];
        for (double &b : best) {
            const double t0 = bench::thread_cpu_ns();
            for (int i = 0; i < n; i++) {
                c.run();
            }
            b = (bench::thread_cpu_ns() - t0) / n;
        }
        std::sort(best, best + 7);
        std::printf("  %-45s %10.0f\n", c.name, best[3]);
    }

    // A cold token's extra work with the cache on: a miss, then its insert
    // into a full cache, which evicts the least recently used. Distinct
    // tokens (their own jti), verified before the clock starts.
    const int n = 3000;
    std::vector<std::string> distinct(n);
    std::vector<std::shared_ptr<const m2m::VerifiedToken>> distinct_verified(n);
    for (int i = 0; i < n; i++) {
        distinct[i] = mint("cold-" + std::to_string(100000 + i));
        authenticate_token(distinct[i], &distinct_verified[i]);
    }
    m2m::TokenCache full(4 << 20);
    for (int i = 0; i < n / 2; i++) {
        full.insert(distinct_verified[i], kNow);
    }
    size_t evicted = 0;
    const double t0 = bench::thread_cpu_ns();
    for (int i = n / 2; i < n; i++) {
        if (full.find(distinct[i], kNow, keys_of, &keys)) {
            die("a distinct token found");
        }
        evicted += full.insert(distinct_verified[i], kNow);
    }
    std::printf("  %-45s %10.0f   (%d inserts into a full 4m cache, %zu evictions; one run)\n",
                "miss + insert, evicting (cold token)", (bench::thread_cpu_ns() - t0) / (n - n / 2), n - n / 2, evicted);
    EVP_PKEY_free(pkey);
    return 0;
}
