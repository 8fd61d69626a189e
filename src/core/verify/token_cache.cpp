#include "verify/token_cache.h"

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <utility>

#include <openssl/crypto.h>
#include <openssl/rand.h>

namespace m2m {

namespace {

size_t default_hash(std::string_view s) noexcept { return std::hash<std::string_view>()(s); }

// The first second at which authorize() (and screen()) refuse the token as
// expired: now >= exp + leeway (authorize.cpp), so the ceiling of that sum.
bool death_time(const TimeClaims &times, int64_t leeway, int64_t *dies_at)
{
    if (times.status != Reason::ok) {
        return false;  // refused on every look: not worth a place
    }
    const double end = std::ceil(times.exp + static_cast<double>(leeway));
    constexpr double kLast = 9.0e18;  // below INT64_MAX, exactly representable
    *dies_at = end >= kLast ? static_cast<int64_t>(kLast) : end <= 0 ? 0 : static_cast<int64_t>(end);
    return true;
}

// A malloc'd block of n bytes as glibc holds it: 8 bytes of header, 16-byte
// alignment, 32 bytes at least.
constexpr size_t chunk(size_t n) { return n + 8 + 15 < 32 ? 32 : (n + 8 + 15) & ~size_t(15); }

size_t capacity_cost(size_t capacity) { return capacity > 15 ? chunk(capacity + 1) : 0; }

size_t string_cost(const std::string &s) { return capacity_cost(s.capacity()); }

// jansson 2.14's nodes: a json_t header {type, refcount} in every value;
// objects are a hashtable (buckets of two pointers, 8 at first, doubled
// when full) with one pair {hash, two list links, value, key length, key}
// per member; arrays a table of pointers (8 at first, doubled); strings a
// node and their bytes; numbers one node; true, false and null are shared.
size_t json_cost(const json_t *value)
{
    constexpr size_t kHeader = 16;
    switch (json_typeof(value)) {
    case JSON_OBJECT: {
        size_t buckets = 8;
        while (buckets < json_object_size(value)) {
            buckets *= 2;
        }
        size_t cost = chunk(kHeader + 56) + chunk(buckets * 16);
        const char *key;
        size_t key_len;
        json_t *member;
        json_object_keylen_foreach(const_cast<json_t *>(value), key, key_len, member)
        {
            cost += chunk(56 + key_len + 1) + json_cost(member);
        }
        (void)key;
        return cost;
    }
    case JSON_ARRAY: {
        size_t slots = 8;
        while (slots < json_array_size(value)) {
            slots *= 2;
        }
        size_t cost = chunk(kHeader + 24) + chunk(slots * sizeof(json_t *));
        for (size_t i = 0; i < json_array_size(value); i++) {
            cost += json_cost(json_array_get(value, i));
        }
        return cost;
    }
    case JSON_STRING: return chunk(kHeader + 16) + chunk(json_string_length(value) + 1);
    case JSON_INTEGER:
    case JSON_REAL: return chunk(kHeader + 8);
    case JSON_TRUE:
    case JSON_FALSE:
    case JSON_NULL: return 0;
    }
    return 0;
}

}  // namespace

size_t TokenCache::entry_cost(const VerifiedToken &token) noexcept
{
    // the VerifiedToken with its shared_ptr control block (make_shared), the
    // LRU list node, the index node and its share of the buckets (at most
    // one per entry)
    constexpr size_t kNodes = chunk(sizeof(VerifiedToken) + 16) + chunk(sizeof(Entry) + 16) +
                              chunk(sizeof(std::string_view) + sizeof(Lru::iterator) + 16) + 2 * sizeof(void *) +
                              32;  // slack: what the tests measure sits within a few bytes
    size_t cost = kNodes + capacity_cost(token.token().bytes_capacity()) + json_cost(token.token().header()) +
                  json_cost(token.token().claims()) +
                  string_cost(token.scope_string()) + chunk(token.scopes().capacity() * sizeof(std::string));
    for (const std::string &scope : token.scopes()) {
        cost += string_cost(scope);
    }
    return cost;
}

// the list node and the index node of one refusal, with its share of the
// buckets
const size_t TokenCache::kRefusalCost = chunk(sizeof(Refusal) + 16) +
                                        chunk(sizeof(Digest) + sizeof(RefusalLru::iterator) + 16) +
                                        2 * sizeof(void *);

TokenCache::TokenCache(size_t capacity, HashFunction hash) noexcept
    : capacity_(capacity),
      entry_capacity_(capacity - capacity / kRefusalShare),
      refusal_capacity_(capacity / kRefusalShare / kRefusalCost),
      index_(0, Hash{hash ? hash : default_hash})
{
    // Without SHA-256 or a salt, refusals are just not remembered.
    if (refusal_capacity_ > 0 && RAND_bytes(salt_, sizeof(salt_)) == 1) {
        sha256_ = EVP_MD_fetch(nullptr, "SHA256", nullptr);
        md_ = sha256_ ? EVP_MD_CTX_new() : nullptr;
    }
    if (!md_) {
        refusal_capacity_ = 0;
    }
}

TokenCache::~TokenCache()
{
    EVP_MD_CTX_free(md_);
    EVP_MD_free(sha256_);
    OPENSSL_cleanse(salt_, sizeof(salt_));
}

size_t TokenCache::DigestHash::operator()(const Digest &d) const noexcept
{
    size_t h;
    std::memcpy(&h, d.data(), sizeof(h));
    return h;
}

bool TokenCache::digest(std::string_view compact, Digest *out) noexcept
{
    unsigned int len = 0;
    return md_ && EVP_DigestInit_ex(md_, sha256_, nullptr) == 1 &&
           EVP_DigestUpdate(md_, salt_, sizeof(salt_)) == 1 &&
           EVP_DigestUpdate(md_, compact.data(), compact.size()) == 1 &&
           EVP_DigestFinal_ex(md_, out->data(), &len) == 1 && len == out->size();
}

Reason TokenCache::find_refusal(std::string_view compact, int64_t now, KeysOf keys_of, void *ctx) noexcept
{
    Digest d;
    if (refusal_capacity_ == 0 || refusal_index_.empty() || compact.size() > kMaxTokenSize ||
        !digest(compact, &d)) {
        return Reason::ok;
    }
    const auto at = refusal_index_.find(d);
    if (at == refusal_index_.end()) {
        return Reason::ok;
    }
    const Refusal &refusal = *at->second;
    const IssuerKeys *keys = nullptr;
    if (now < refusal.dies_at) {
        keys = keys_of(*refusal.issuer, ctx);
        if (!keys) {
            return Reason::ok;  // another location's issuer
        }
    }
    if (!keys || keys->generation != refusal.generation) {
        const RefusalLru::iterator entry = at->second;
        refusal_index_.erase(at);
        refusal_lru_.erase(entry);
        return Reason::ok;
    }
    refusal_lru_.splice(refusal_lru_.begin(), refusal_lru_, at->second);
    return Reason::bad_signature;
}

size_t TokenCache::insert_refusal(std::string_view compact, Reason reason, const TimeClaims &times,
                                  const IssuerPolicy &issuer, uint64_t generation, int64_t now) noexcept
{
    Digest d;
    int64_t dies_at;
    if (reason != Reason::bad_signature || refusal_capacity_ == 0 || !death_time(times, issuer.leeway, &dies_at) ||
        now >= dies_at || !digest(compact, &d)) {
        return 0;
    }
    const auto same = refusal_index_.find(d);
    if (same != refusal_index_.end()) {
        same->second->issuer = &issuer;
        same->second->generation = generation;
        same->second->dies_at = dies_at;
        refusal_lru_.splice(refusal_lru_.begin(), refusal_lru_, same->second);
        return 0;
    }
    size_t evicted = 0;
    while (refusal_index_.size() >= refusal_capacity_) {
        refusal_index_.erase(refusal_lru_.back().digest);
        refusal_lru_.pop_back();
        evicted++;
    }
    try {
        refusal_lru_.push_front(Refusal{d, &issuer, generation, dies_at});
    } catch (...) {
        return evicted;
    }
    try {
        refusal_index_.emplace(d, refusal_lru_.begin());
    } catch (...) {
        refusal_lru_.pop_front();
    }
    return evicted;
}

void TokenCache::erase(std::unordered_map<std::string_view, Lru::iterator, Hash>::iterator at) noexcept
{
    const Lru::iterator entry = at->second;
    bytes_ -= entry->cost;
    index_.erase(at);  // first: its key views the entry's bytes
    lru_.erase(entry);
}

std::shared_ptr<const VerifiedToken> TokenCache::find(std::string_view compact, int64_t now, KeysOf keys_of,
                                                      void *ctx) noexcept
{
    if (capacity_ == 0 || compact.size() > kMaxTokenSize) {
        return nullptr;  // one that large was never kept: parse refuses it
    }
    const auto at = index_.find(compact);
    if (at == index_.end()) {
        return nullptr;
    }
    const Entry &entry = *at->second;
    if (now >= entry.dies_at) {
        erase(at);
        return nullptr;
    }
    const IssuerKeys *keys = keys_of(entry.token->issuer(), ctx);
    if (!keys) {
        return nullptr;  // another location's issuer: still good there
    }
    if (keys->generation != entry.token->generation()) {
        erase(at);  // the key that verified it may be gone
        return nullptr;
    }
    lru_.splice(lru_.begin(), lru_, at->second);
    return entry.token;
}

size_t TokenCache::insert(std::shared_ptr<const VerifiedToken> token, int64_t now) noexcept
{
    int64_t dies_at;
    if (capacity_ == 0 || !token || !death_time(token->times(), token->issuer().leeway, &dies_at) || now >= dies_at) {
        return 0;
    }
    const size_t cost = entry_cost(*token);
    if (cost > entry_capacity_) {
        return 0;
    }
    const std::string_view key = token->token().compact();
    const auto same = index_.find(key);
    if (same != index_.end()) {
        erase(same);
    }

    size_t evicted = 0;
    while (bytes_ + cost > entry_capacity_) {
        const Lru::iterator last = std::prev(lru_.end());
        erase(index_.find(last->token->token().compact()));
        evicted++;
    }

    try {
        lru_.push_front(Entry{std::move(token), dies_at, cost});
    } catch (...) {
        return evicted;
    }
    try {
        index_.emplace(lru_.front().token->token().compact(), lru_.begin());
    } catch (...) {
        lru_.pop_front();
        return evicted;
    }
    bytes_ += cost;
    return evicted;
}

}  // namespace m2m
