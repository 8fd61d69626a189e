// The verified-token cache: tokens authenticate() accepted, kept so that the
// next request with the same token skips base64url, JSON and the signature.
// One per worker (never shared, so no lock); the glue holds it.
//
// An entry is found by the token's exact bytes (a hash only picks the
// bucket; the bytes are compared in full) and then counts only while the
// issuer that verified it is one the asking location trusts and that
// issuer's keys are still in the generation it was verified under. A hit is
// a VerifiedToken, never a verdict: the caller still runs authorize() with
// the time and the location's own rules.
//
// An entry dies when its token expires (exp plus the issuer's leeway, after
// which authorize() refuses it anyway), when its issuer's keys move to
// another generation (found at its next lookup), or when it is the least
// recently used and room is needed.
//
// Refusals: only bad_signature is remembered (the one refusal that costs a
// signature check), so that the same forged token sent again and again is
// refused without one. Such an entry is the salted SHA-256 of the token's
// bytes (a forger cannot aim at one bucket of a salted cryptographic hash,
// as he could with std::hash) with the issuer and generation it failed
// under, in an LRU of its own limited to kRefusalShare of the capacity, so
// that a flood of distinct forgeries cannot push out verified tokens.
// Forgeries are looked up only after a token was not found verified, and
// only while some are remembered: then a token seen for the first time (or
// garbage) pays one SHA-256 of its bytes, at most kMaxTokenSize of them.
#pragma once

#include <array>

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string_view>
#include <string>
#include <unordered_map>

#include <openssl/evp.h>

#include "keys/issuer_keys.h"
#include "reason.h"
#include "token/token.h"
#include "verify/authenticate.h"
#include "verify/issuer_policy.h"

namespace m2m {

class TokenCache {
public:
    // The bytes one entry holding `token` is charged: every block it keeps
    // allocated, sized as glibc's malloc holds them (8 bytes of header,
    // 16-byte steps): the token's bytes, its jansson trees for header and
    // claims node by node (jansson allocates per value and per member, so
    // a token of many small claims costs far more per byte than one of few),
    // the VerifiedToken's strings, its shared_ptr control block, the LRU and
    // index nodes. tests/test_token_cache.cpp checks it against mallinfo2():
    // about 3.3 KiB for a typical 630-byte RS256 access token.
    static size_t entry_cost(const VerifiedToken &token) noexcept;

    // How the index picks a bucket; the default is std::hash. Tests pass a
    // constant one to show that colliding tokens stay apart.
    using HashFunction = size_t (*)(std::string_view) noexcept;

    // At most `capacity` bytes of entries (entry_cost); 0: off, nothing is
    // kept and nothing is found.
    explicit TokenCache(size_t capacity, HashFunction hash = nullptr) noexcept;
    ~TokenCache();
    TokenCache(const TokenCache &) = delete;
    TokenCache &operator=(const TokenCache &) = delete;

    // The keys that `issuer` has now for the location asking, or null when
    // that location does not trust `issuer` (the entry then stays, unused).
    using KeysOf = const IssuerKeys *(*)(const IssuerPolicy &issuer, void *ctx) noexcept;

    // The token verified before with exactly the bytes `compact`, made the
    // most recently used; null on a miss. An entry found expired at `now`, or
    // whose issuer's keys are in another generation, is dropped.
    std::shared_ptr<const VerifiedToken> find(std::string_view compact, int64_t now, KeysOf keys_of,
                                              void *ctx) noexcept;

    // Keeps `token`, fresh from authenticate() (it replaces an entry with the
    // same bytes), unless the cache is off, its times are unreadable or
    // already past at `now`, or it alone is over the capacity; out of memory
    // just leaves it out. Returns how many entries were evicted for room.
    size_t insert(std::shared_ptr<const VerifiedToken> token, int64_t now) noexcept;

    // Refusals: 1/kRefusalShare of the capacity, kRefusalCost bytes each.
    static constexpr size_t kRefusalShare = 16;
    static const size_t kRefusalCost;

    // bad_signature if exactly these bytes failed their signature check
    // before under an issuer the location lists (keys_of, whose ctx then
    // names it) at its keys' current generation, and the times they claim
    // still hold at `now`; else ok. An entry of another generation or past
    // its time is dropped.
    Reason find_refusal(std::string_view compact, int64_t now, KeysOf keys_of, void *ctx) noexcept;

    // Remembers that `compact` was refused with `reason` under `issuer`'s keys
    // of `generation`; only bad_signature is kept, and only until the times
    // the token claims run out at `now` (after that, screen() refuses it as
    // expired without a signature check, and so must a remembered refusal).
    // Returns how many refusals were evicted for room.
    size_t insert_refusal(std::string_view compact, Reason reason, const TimeClaims &times,
                          const IssuerPolicy &issuer, uint64_t generation, int64_t now) noexcept;

    size_t capacity() const noexcept { return capacity_; }
    size_t size() const noexcept { return index_.size(); }
    size_t bytes() const noexcept { return bytes_; }  // charged, <= capacity() - refusal share
    size_t refusals() const noexcept { return refusal_index_.size(); }  // each kRefusalCost

private:
    struct Entry {
        std::shared_ptr<const VerifiedToken> token;
        int64_t dies_at;  // dropped at or after this time
        size_t cost;
    };
    using Lru = std::list<Entry>;  // front: most recently used

    struct Hash {
        HashFunction fn;
        size_t operator()(std::string_view s) const noexcept { return fn(s); }
    };

    void erase(std::unordered_map<std::string_view, Lru::iterator, Hash>::iterator at) noexcept;

    using Digest = std::array<unsigned char, 32>;
    struct Refusal {
        Digest digest;
        const IssuerPolicy *issuer;
        uint64_t generation;
        int64_t dies_at;
    };
    using RefusalLru = std::list<Refusal>;
    struct DigestHash {
        size_t operator()(const Digest &d) const noexcept;
    };
    bool digest(std::string_view compact, Digest *out) noexcept;

    size_t capacity_;
    size_t entry_capacity_;    // capacity_ less the refusals' share
    size_t refusal_capacity_;  // in entries
    RefusalLru refusal_lru_;
    std::unordered_map<Digest, RefusalLru::iterator, DigestHash> refusal_index_;
    EVP_MD *sha256_ = nullptr;  // fetched once
    EVP_MD_CTX *md_ = nullptr;
    unsigned char salt_[16];

    size_t bytes_ = 0;
    Lru lru_;
    // keyed by views of the entries' own token bytes
    std::unordered_map<std::string_view, Lru::iterator, Hash> index_;
};

}  // namespace m2m
