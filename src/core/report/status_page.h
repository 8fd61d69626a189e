// The data behind the auth_m2m_status page and its two renderings. The glue
// copies counters and times out of the shared zone into a ModuleReport; this
// file only formats, so both formats are tested without nginx. Every
// function here returns an empty optional if memory runs out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "keys/jwks.h"

namespace m2m {

struct KeyInfo {
    std::string kid;  // empty if the JWK has none
    std::string alg;  // the JWK's alg if set, else "RSA" or "EC P-256"/"EC P-384"/"EC P-521"
};
std::optional<std::vector<KeyInfo>> describe_keys(const KeySet &keys) noexcept;

struct IssuerReport {
    std::string name;          // block name
    std::string issuer;        // iss URL
    std::string source;        // "jwks_file", "jwks_uri" or "discovery"
    std::string location;      // file path or URL
    std::string jwks_uri;      // for discovery: the discovered jwks_uri (may be empty)
    std::vector<KeyInfo> keys;
    uint64_t generation = 0;
    int64_t last_attempt = 0, last_success = 0, last_error_time = 0, next_refresh = 0;  // Unix seconds; 0 = never/none
    std::string last_error;    // reason string, empty if none
    uint64_t fetch_ok = 0, fetch_failed = 0, fetch_not_modified = 0, fetch_kid_triggered = 0;
};

// The verified-token cache, all workers together.
struct TokenCacheReport {
    uint64_t size = 0;  // bytes per worker (auth_m2m_token_cache); 0: off
    uint64_t hits = 0, misses = 0, evictions = 0;
};

// The local issuers' token endpoints, all together.
struct TokenEndpointReport {
    uint64_t issued = 0;                // access tokens sent
    uint64_t refused = 0;               // token requests refused, for any reason
    uint64_t client_auth_failed = 0;    // of those, failed client authentication
};

struct ModuleReport {
    uint64_t allowed = 0;
    std::vector<std::pair<std::string, uint64_t>> refused;  // reason code -> count (only non-zero ones are passed in)
    TokenCacheReport token_cache;
    TokenEndpointReport token_endpoint;
    std::vector<IssuerReport> issuers;
};

// One JSON object (2-space indent, members in the order below), ending in a
// newline; times of 0 and empty strings that mean "none" are null:
//   {"requests": {"allowed": N, "refused": {"expired": N, ...}},
//    "token_cache": {"size", "hits", "misses", "evictions"},
//    "token_endpoint": {"issued", "refused", "client_authentication_failed"},
//    "issuers": {"<name>": {"issuer", "source", "location", "jwks_uri",
//                "keys": [{"kid", "alg"}], "generation", "last_attempt",
//                "last_success", "last_error", "last_error_time",
//                "next_refresh", "fetches": {"ok", "failed", "not_modified",
//                "kid_triggered"}}}}
std::optional<std::string> report_json(const ModuleReport &report) noexcept;

// Prometheus text exposition format 0.0.4 (serve as
// "text/plain; version=0.0.4"): metric names prefixed nginx_auth_m2m_,
// issuers labelled by block name, timestamps 0 when never.
std::optional<std::string> report_prometheus(const ModuleReport &report) noexcept;

}  // namespace m2m
