// The verified-token cache (verify/token_cache.h): hit and miss by the exact
// bytes, the issuer and its key generation; expiry; LRU eviction within the
// byte bound; off; and the per-entry charge checked against malloc itself.
#include <malloc.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "test_keys.h"
#include "test_suites.h"
#include "test_support.h"
#include "verify/authorize.h"
#include "verify/token_cache.h"

using m2m::IssuerKeys;
using m2m::IssuerPolicy;
using m2m::TokenCache;
using m2m::VerifiedToken;
using testkeys::KeyName;
using namespace testsupport;

namespace {

using TokenPtr = std::shared_ptr<const VerifiedToken>;

// The location asking: the issuers it trusts, as the glue's lookup does.
struct Location {
    std::vector<const TestIssuer *> issuers;
};

const IssuerKeys *keys_of(const IssuerPolicy &issuer, void *ctx) noexcept
{
    for (const TestIssuer *trusted : static_cast<Location *>(ctx)->issuers) {
        if (trusted == &issuer) {
            return &trusted->keys;
        }
    }
    return nullptr;
}

std::string token_text(const std::string &jti, const Members &more = {})
{
    Members claims{{"jti", q(jti)}};
    claims.insert(claims.end(), more.begin(), more.end());
    return testkeys::make_token("RS256", KeyName::rsa, "rsa-1", claims_json(claims));
}

// authenticate() alone, without screen(): tokens whose times screen()
// refuses can still be offered to the cache, which must leave them out.
TokenPtr verified(const std::string &compact, const TestIssuer &issuer)
{
    m2m::Token token;
    TokenPtr out;
    m2m::Reason status = m2m::Token::parse(compact, &token);
    if (status == m2m::Reason::ok) {
        status = m2m::authenticate(std::move(token), issuer, issuer.keys, &out);
    }
    ck_assert_msg(out != nullptr, "authenticate: %s", status_name(status));
    return out;
}

TokenPtr find(TokenCache &cache, const std::string &compact, Location &where, int64_t now = kNow)
{
    return cache.find(compact, now, keys_of, &where);
}

size_t same_bucket(std::string_view) noexcept { return 7; }

// The times a forged token claims, as screen() reads them: exp kNow + offset.
m2m::TimeClaims times(int64_t exp_offset = 600)
{
    m2m::TimeClaims t;
    t.exp = static_cast<double>(kNow + exp_offset);
    return t;
}

}  // namespace

START_TEST(test_hit_is_the_same_verified_token)
{
    TestIssuer issuer = make_policy();
    Location here{{&issuer}};
    TokenCache cache(1 << 20);
    const std::string a = token_text("a");
    TokenPtr token = verified(a, issuer);

    ck_assert_uint_eq(cache.insert(token, kNow), 0);
    ck_assert_uint_eq(cache.size(), 1);
    TokenPtr hit = find(cache, a, here);
    ck_assert_ptr_eq(hit.get(), token.get());
    // a copy of the bytes elsewhere in memory finds it too
    ck_assert_ptr_eq(find(cache, std::string(a), here).get(), token.get());
}
END_TEST

START_TEST(test_other_bytes_miss)
{
    TestIssuer issuer = make_policy();
    Location here{{&issuer}};
    TokenCache cache(1 << 20);
    const std::string a = token_text("a");
    cache.insert(verified(a, issuer), kNow);

    ck_assert(!find(cache, token_text("b"), here));
    ck_assert(!find(cache, a.substr(0, a.size() - 1), here));
    ck_assert(!find(cache, a + "A", here));
    std::string flipped = a;
    flipped[flipped.size() / 2] ^= 1;
    ck_assert(!find(cache, flipped, here));
    ck_assert(!find(cache, "", here));
    ck_assert(!find(cache, std::string(m2m::kMaxTokenSize + 1, 'a'), here));
    ck_assert_uint_eq(cache.size(), 1);  // misses drop nothing
}
END_TEST

// Every token in one bucket: only the exact bytes find an entry.
START_TEST(test_colliding_hashes_stay_apart)
{
    TestIssuer issuer = make_policy();
    Location here{{&issuer}};
    TokenCache cache(1 << 20, same_bucket);
    const std::string a = token_text("a"), b = token_text("b"), c = token_text("c");
    TokenPtr ta = verified(a, issuer), tb = verified(b, issuer);
    cache.insert(ta, kNow);
    cache.insert(tb, kNow);

    ck_assert_uint_eq(cache.size(), 2);
    ck_assert_ptr_eq(find(cache, a, here).get(), ta.get());
    ck_assert_ptr_eq(find(cache, b, here).get(), tb.get());
    ck_assert(!find(cache, c, here));
}
END_TEST

START_TEST(test_new_generation_misses_and_drops)
{
    TestIssuer issuer = make_policy();
    Location here{{&issuer}};
    TokenCache cache(1 << 20);
    const std::string a = token_text("a");
    cache.insert(verified(a, issuer), kNow);

    issuer.keys.replace(issuer.keys.set, issuer.keys.generation + 1);  // same keys, new generation
    ck_assert(!find(cache, a, here));
    ck_assert_uint_eq(cache.size(), 0);
    ck_assert_uint_eq(cache.bytes(), 0);
}
END_TEST

// A location that does not trust the issuer (or trusts another block with
// the same "iss") misses, and the entry stays for the locations that do.
START_TEST(test_other_location_misses_and_keeps)
{
    TestIssuer issuer = make_policy(), twin = make_policy();
    Location here{{&issuer}}, elsewhere{{&twin}}, nowhere{{}};
    TokenCache cache(1 << 20);
    const std::string a = token_text("a");
    TokenPtr token = verified(a, issuer);
    cache.insert(token, kNow);

    ck_assert(!find(cache, a, elsewhere));
    ck_assert(!find(cache, a, nowhere));
    ck_assert_uint_eq(cache.size(), 1);
    ck_assert_ptr_eq(find(cache, a, here).get(), token.get());
}
END_TEST

// The entry lives exactly as long as authorize() accepts the token's times:
// until exp + leeway.
START_TEST(test_expiry_misses_and_frees)
{
    TestIssuer issuer = make_policy();
    issuer.leeway = 5;
    Location here{{&issuer}};
    TokenCache cache(1 << 20);
    const std::string a = token_text("a", {{"exp", at(100)}});
    TokenPtr token = verified(a, issuer);
    cache.insert(token, kNow);

    const int64_t last = kNow + 104, first_expired = kNow + 105;
    ck_assert_status(m2m::authorize(*token, last, nullptr), m2m::Reason::ok);
    ck_assert_status(m2m::authorize(*token, first_expired, nullptr), m2m::Reason::expired);
    ck_assert_ptr_eq(find(cache, a, here, last).get(), token.get());
    ck_assert(!find(cache, a, here, first_expired));
    ck_assert_uint_eq(cache.size(), 0);
    ck_assert_uint_eq(cache.bytes(), 0);
    ck_assert(token.use_count() == 1);  // the cache let go of it
}
END_TEST

START_TEST(test_fractional_exp_dies_with_authorize)
{
    TestIssuer issuer = make_policy();
    issuer.leeway = 0;
    Location here{{&issuer}};
    TokenCache cache(1 << 20);
    const std::string a = token_text("a", {{"exp", std::to_string(kNow + 10) + ".5"}});
    TokenPtr token = verified(a, issuer);
    cache.insert(token, kNow);

    ck_assert_status(m2m::authorize(*token, kNow + 10, nullptr), m2m::Reason::ok);
    ck_assert(find(cache, a, here, kNow + 10));
    ck_assert_status(m2m::authorize(*token, kNow + 11, nullptr), m2m::Reason::expired);
    ck_assert(!find(cache, a, here, kNow + 11));
}
END_TEST

// Tokens authorize() refuses on every look are not kept.
START_TEST(test_unkeepable_tokens_are_left_out)
{
    TestIssuer issuer = make_policy();
    issuer.leeway = 0;
    TokenCache cache(1 << 20);

    ck_assert_uint_eq(cache.insert(verified(token_text("exp", {{"exp", at(-1)}}), issuer), kNow), 0);
    ck_assert_uint_eq(cache.insert(verified(token_text("now", {{"exp", at(0)}}), issuer), kNow), 0);
    ck_assert_uint_eq(cache.insert(verified(token_text("none", {{"exp", ""}}), issuer), kNow), 0);
    ck_assert_uint_eq(cache.insert(verified(token_text("odd", {{"exp", q("soon")}}), issuer), kNow), 0);
    ck_assert_uint_eq(cache.insert(nullptr, kNow), 0);
    ck_assert_uint_eq(cache.size(), 0);
    ck_assert_uint_eq(cache.bytes(), 0);
}
END_TEST

START_TEST(test_same_bytes_replace)
{
    TestIssuer issuer = make_policy();
    Location here{{&issuer}};
    TokenCache cache(1 << 20);
    const std::string a = token_text("a");
    TokenPtr first = verified(a, issuer), second = verified(a, issuer);
    cache.insert(first, kNow);
    const size_t one = cache.bytes();
    cache.insert(second, kNow);

    ck_assert_uint_eq(cache.size(), 1);
    ck_assert_uint_eq(cache.bytes(), one);
    ck_assert_ptr_eq(find(cache, a, here).get(), second.get());
}
END_TEST

// Room for three: the least recently used (inserted or found) goes first.
START_TEST(test_lru_eviction_order)
{
    TestIssuer issuer = make_policy();
    Location here{{&issuer}};
    std::vector<std::string> text;
    std::vector<TokenPtr> token;
    for (const char *jti : {"t1", "t2", "t3", "t4", "t5"}) {
        text.push_back(token_text(jti));
        token.push_back(verified(text.back(), issuer));
    }
    const size_t cost = TokenCache::entry_cost(*token[0]);
    for (const TokenPtr &t : token) {
        ck_assert_uint_eq(TokenCache::entry_cost(*t), cost);  // same shape
    }
    TokenCache cache(3 * cost + cost / 2);

    for (int i = 0; i < 3; i++) {
        ck_assert_uint_eq(cache.insert(token[i], kNow), 0);
    }
    ck_assert_uint_eq(cache.bytes(), 3 * cost);
    ck_assert(find(cache, text[0], here));       // t1 used again: t2 is now the oldest
    ck_assert_uint_eq(cache.insert(token[3], kNow), 1);
    ck_assert(!find(cache, text[1], here));
    ck_assert(find(cache, text[0], here));
    ck_assert(find(cache, text[2], here));
    ck_assert(find(cache, text[3], here));
    ck_assert_uint_eq(cache.size(), 3);
    ck_assert_uint_eq(cache.insert(token[4], kNow), 1);  // t1 now the oldest
    ck_assert(!find(cache, text[0], here));
    ck_assert_uint_eq(cache.bytes(), 3 * cost);
    ck_assert(cache.bytes() <= cache.capacity());
}
END_TEST

// The charge grows with what the entry holds, and one entry larger than the
// whole cache is not kept (nor does it empty the cache trying).
START_TEST(test_byte_accounting)
{
    TestIssuer issuer = make_policy();
    const std::string small = token_text("s");
    const std::string big = token_text("b", {{"blob", q(std::string(3000, 'x'))}});
    TokenPtr ts = verified(small, issuer), tb = verified(big, issuer);
    const size_t cs = TokenCache::entry_cost(*ts), cb = TokenCache::entry_cost(*tb);

    ck_assert(cs >= 2 * small.size());
    ck_assert(cb >= cs + 3000 + 3000 * 4 / 3);  // the token's bytes and the decoded claim

    TokenCache cache(cb - 1);
    cache.insert(ts, kNow);
    ck_assert_uint_eq(cache.bytes(), cs);
    ck_assert_uint_eq(cache.insert(tb, kNow), 0);
    ck_assert_uint_eq(cache.size(), 1);
    ck_assert_uint_eq(cache.bytes(), cs);
}
END_TEST

START_TEST(test_off_keeps_nothing)
{
    TestIssuer issuer = make_policy();
    Location here{{&issuer}};
    TokenCache cache(0);
    const std::string a = token_text("a");

    ck_assert_uint_eq(cache.insert(verified(a, issuer), kNow), 0);
    ck_assert_uint_eq(cache.size(), 0);
    ck_assert(!find(cache, a, here));
}
END_TEST

// What malloc really holds for N entries (the tokens authenticated and kept,
// everything else freed) must not exceed what the cache charges for them.
// Skipped under ASan, whose allocator mallinfo2() does not see.
START_TEST(test_entry_cost_covers_malloc)
{
#if defined(__SANITIZE_ADDRESS__)
    return;
#else
    TestIssuer issuer = make_policy();
    struct Shape {
        const char *name;
        Members claims;
    };
    const Shape shapes[] = {
        {"standard", {}},
        {"many claims",
         {{"roles", "[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\"]"},
          {"tenant", q("tenant-0123456789")},
          {"ext", "{\"x\":1,\"y\":2,\"z\":[1,2,3],\"w\":{\"k\":\"v\"}}"}}},
        {"small values", {{"n", "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30]"},
                          {"o", "{\"a\":{\"b\":{\"c\":{\"d\":[true,false,null,1.5,\"\"]}}}}"}}},
        {"long scopes", {{"scope", q("a:read a:write b:read b:write c:read c:write d:read d:write e:admin")}}},
    };
    constexpr int kCount = 200;
    for (const Shape &shape : shapes) {
        std::vector<std::string> texts;
        for (int i = 0; i < kCount; i++) {
            texts.push_back(token_text("jti-" + std::to_string(i), shape.claims));
        }
        TokenCache cache(size_t(1) << 30);
        cache.insert(verified(texts[0], issuer), kNow);  // the index's first buckets
        const size_t before = mallinfo2().uordblks;
        for (int i = 1; i < kCount; i++) {
            cache.insert(verified(texts[i], issuer), kNow);
        }
        const size_t held = mallinfo2().uordblks - before;
        const size_t charged = cache.bytes() * (kCount - 1) / kCount;
        std::fprintf(stderr, "token cache, %s token (%zu bytes): malloc %zu, charged %zu per entry\n", shape.name,
                     texts[1].size(), held / (kCount - 1), charged / (kCount - 1));
        ck_assert_msg(charged >= held, "%s: malloc holds %zu bytes for %d entries, charged %zu", shape.name, held,
                      kCount - 1, charged);
    }
    {
        TestIssuer other = make_policy();
        TokenCache cache(size_t(1) << 30);
        cache.insert_refusal("forged-0", m2m::Reason::bad_signature, times(), other, 1, kNow);
        const size_t before = mallinfo2().uordblks;
        for (int i = 1; i < 1000; i++) {
            cache.insert_refusal("forged-" + std::to_string(i), m2m::Reason::bad_signature, times(), other, 1, kNow);
        }
        const size_t held = mallinfo2().uordblks - before;
        std::fprintf(stderr, "token cache, refusal: malloc %zu, charged %zu per entry\n", held / 999,
                     TokenCache::kRefusalCost);
        ck_assert_msg(999 * TokenCache::kRefusalCost >= held, "refusals: malloc holds %zu for 999", held);
    }
#endif
}
END_TEST

// bad_signature, remembered by a salted SHA-256 of the exact bytes, under
// the issuer and generation it failed with; nothing else is remembered.
START_TEST(test_refusal_remembered)
{
    TestIssuer issuer = make_policy(), twin = make_policy();
    Location here{{&issuer}}, elsewhere{{&twin}};
    TokenCache cache(1 << 20);
    const std::string forged = testkeys::make_token("RS256", KeyName::rsa_other, "rsa-1", claims_json());
    m2m::Token parsed;
    TokenPtr none;
    ck_assert_status(m2m::Token::parse(forged, &parsed), m2m::Reason::ok);
    ck_assert_status(m2m::authenticate(std::move(parsed), issuer, issuer.keys, &none), m2m::Reason::bad_signature);

    ck_assert_status(cache.find_refusal(forged, kNow, keys_of, &here), m2m::Reason::ok);
    ck_assert_uint_eq(cache.insert_refusal(forged, m2m::Reason::bad_signature, times(), issuer, issuer.keys.generation, kNow), 0);
    ck_assert_uint_eq(cache.refusals(), 1);
    ck_assert_status(cache.find_refusal(forged, kNow, keys_of, &here), m2m::Reason::bad_signature);
    ck_assert_status(cache.find_refusal(std::string(forged), kNow, keys_of, &here), m2m::Reason::bad_signature);
    ck_assert_status(cache.find_refusal(forged + "A", kNow, keys_of, &here), m2m::Reason::ok);
    ck_assert_status(cache.find_refusal(forged.substr(1), kNow, keys_of, &here), m2m::Reason::ok);
    ck_assert_status(cache.find_refusal(forged, kNow, keys_of, &elsewhere), m2m::Reason::ok);
    ck_assert_uint_eq(cache.refusals(), 1);
    ck_assert(!find(cache, forged, here));  // never a verified token
    ck_assert_uint_eq(cache.bytes(), 0);

    issuer.keys.replace(issuer.keys.set, issuer.keys.generation + 1);
    ck_assert_status(cache.find_refusal(forged, kNow, keys_of, &here), m2m::Reason::ok);
    ck_assert_uint_eq(cache.refusals(), 0);
}
END_TEST

// A forgery is remembered only while the exp it claims (plus leeway) holds:
// after that screen() refuses it as expired, and so must the cache's answer.
START_TEST(test_refusal_dies_with_its_claimed_exp)
{
    TestIssuer issuer = make_policy();
    issuer.leeway = 5;
    Location here{{&issuer}};
    TokenCache cache(1 << 20);
    const std::string forged = "forged";
    cache.insert_refusal(forged, m2m::Reason::bad_signature, times(100), issuer, issuer.keys.generation, kNow);
    ck_assert_status(cache.find_refusal(forged, kNow + 104, keys_of, &here), m2m::Reason::bad_signature);
    ck_assert_status(cache.find_refusal(forged, kNow + 105, keys_of, &here), m2m::Reason::ok);
    ck_assert_uint_eq(cache.refusals(), 0);

    // unreadable or past times: not remembered at all
    m2m::TimeClaims odd = times();
    odd.status = m2m::Reason::missing_exp;
    cache.insert_refusal(forged, m2m::Reason::bad_signature, odd, issuer, issuer.keys.generation, kNow);
    cache.insert_refusal(forged, m2m::Reason::bad_signature, times(-5), issuer, issuer.keys.generation, kNow);
    ck_assert_uint_eq(cache.refusals(), 0);
}
END_TEST

START_TEST(test_only_bad_signature_is_remembered)
{
    TestIssuer issuer = make_policy();
    Location here{{&issuer}};
    TokenCache cache(1 << 20);
    const std::string a = token_text("a");
    for (m2m::Reason reason : {m2m::Reason::ok, m2m::Reason::unknown_kid, m2m::Reason::keys_unavailable,
                               m2m::Reason::malformed, m2m::Reason::expired, m2m::Reason::alg_not_allowed}) {
        cache.insert_refusal(a, reason, times(), issuer, issuer.keys.generation, kNow);
        ck_assert_status(cache.find_refusal(a, kNow, keys_of, &here), m2m::Reason::ok);
    }
    ck_assert_uint_eq(cache.refusals(), 0);

    TokenCache off(0);
    off.insert_refusal(a, m2m::Reason::bad_signature, times(), issuer, issuer.keys.generation, kNow);
    ck_assert_uint_eq(off.refusals(), 0);
    ck_assert_status(off.find_refusal(a, kNow, keys_of, &here), m2m::Reason::ok);
}
END_TEST

// Refusals have their own share of the capacity: a flood of forgeries
// evicts older forgeries, never verified tokens.
START_TEST(test_refusals_bounded_apart)
{
    TestIssuer issuer = make_policy();
    Location here{{&issuer}};
    const size_t capacity = 64 * 1024;
    TokenCache cache(capacity);
    const size_t room = capacity / TokenCache::kRefusalShare / TokenCache::kRefusalCost;
    ck_assert(room >= 8);
    const std::string a = token_text("a");
    TokenPtr token = verified(a, issuer);
    cache.insert(token, kNow);

    size_t evicted = 0;
    for (size_t i = 0; i < room + 5; i++) {
        evicted += cache.insert_refusal("forged-" + std::to_string(i), m2m::Reason::bad_signature, times(), issuer,
                                        issuer.keys.generation, kNow);
    }
    ck_assert_uint_eq(evicted, 5);
    ck_assert_uint_eq(cache.refusals(), room);
    ck_assert_status(cache.find_refusal("forged-0", kNow, keys_of, &here), m2m::Reason::ok);
    ck_assert_status(cache.find_refusal("forged-5", kNow, keys_of, &here), m2m::Reason::bad_signature);
    ck_assert_ptr_eq(find(cache, a, here).get(), token.get());
    ck_assert(cache.bytes() + room * TokenCache::kRefusalCost <= capacity);
}
END_TEST

Suite *token_cache_suite()
{
    Suite *s = suite_create("token_cache");
    TCase *tc = tcase_create("token_cache");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_hit_is_the_same_verified_token);
    tcase_add_test(tc, test_other_bytes_miss);
    tcase_add_test(tc, test_colliding_hashes_stay_apart);
    tcase_add_test(tc, test_new_generation_misses_and_drops);
    tcase_add_test(tc, test_other_location_misses_and_keeps);
    tcase_add_test(tc, test_expiry_misses_and_frees);
    tcase_add_test(tc, test_fractional_exp_dies_with_authorize);
    tcase_add_test(tc, test_unkeepable_tokens_are_left_out);
    tcase_add_test(tc, test_same_bytes_replace);
    tcase_add_test(tc, test_lru_eviction_order);
    tcase_add_test(tc, test_byte_accounting);
    tcase_add_test(tc, test_off_keeps_nothing);
    tcase_add_test(tc, test_entry_cost_covers_malloc);
    tcase_add_test(tc, test_refusal_remembered);
    tcase_add_test(tc, test_refusal_dies_with_its_claimed_exp);
    tcase_add_test(tc, test_only_bad_signature_is_remembered);
    tcase_add_test(tc, test_refusals_bounded_apart);
    suite_add_tcase(s, tc);
    return s;
}
