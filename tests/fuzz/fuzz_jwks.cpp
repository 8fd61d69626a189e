// parse_jwks on arbitrary bytes, down through cjose's key import: a JWK Set
// comes from the network, so nothing in it may reach a library assert, and
// every key it yields must be one authenticate() can use as it stands.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>

#include "fuzz_support.h"
#include "keys/jwks.h"
#include "report/status_page.h"

namespace {

size_t signature_size_for(m2m::Curve crv)
{
    switch (crv) {
    case m2m::Curve::P256: return 64;
    case m2m::Curve::P384: return 96;
    case m2m::Curve::P521: return 132;
    case m2m::Curve::none: break;
    }
    return 0;
}

void check_key(const m2m::Key &key)
{
    if (!key.jwk) {
        fuzz::fail("a usable key without a cjose key");
    }
    const cjose_jwk_kty_t kty = cjose_jwk_get_kty(key.jwk.get(), nullptr);
    if (key.kty == m2m::KeyType::RSA) {
        // RFC 7518 §3.3 and our own ceiling.
        if (kty != CJOSE_JWK_KTY_RSA || key.crv != m2m::Curve::none || key.signature_size < m2m::kMinRsaBits / 8 ||
            key.signature_size > m2m::kMaxRsaBits / 8) {
            fuzz::fail("RSA key with a wrong type, curve or size");
        }
    } else if (kty != CJOSE_JWK_KTY_EC || key.signature_size != signature_size_for(key.crv)) {
        fuzz::fail("EC key with a wrong type or signature size");
    }
    if (key.alg && !key.fits(*key.alg)) {
        fuzz::fail("a key kept although its own alg does not fit it");
    }
}

// Kids from the network end up on the status page: it must stay JSON, and
// show each kid as it was.
void check_status_page(const m2m::KeySet &keys)
{
    m2m::ModuleReport report;
    report.issuers.emplace_back();
    report.issuers[0].name = "fuzz";
    auto described = m2m::describe_keys(keys);
    if (!described) {
        fuzz::fail("describe_keys ran out of memory");
    }
    report.issuers[0].keys = std::move(*described);
    const std::optional<std::string> json = m2m::report_json(report);
    if (!json || !m2m::report_prometheus(report)) {
        fuzz::fail("a status page ran out of memory");
    }
    const std::string &page = *json;
    m2m::JsonPtr parsed(json_loadb(page.data(), page.size(), 0, nullptr));
    const json_t *shown = json_object_get(json_object_get(json_object_get(parsed.get(), "issuers"), "fuzz"), "keys");
    if (json_array_size(shown) != keys.keys().size()) {
        fuzz::fail("the status page lost keys or is not JSON");
    }
    for (size_t i = 0; i < keys.keys().size(); i++) {
        const json_t *kid = json_object_get(json_array_get(shown, i), "kid");
        const std::string want = keys.keys()[i].kid.value_or("");
        if (!json_is_string(kid) || want != std::string(json_string_value(kid), json_string_length(kid))) {
            fuzz::fail("the status page shows a kid other than the key's");
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    json_object_seed(1);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const std::string_view text(reinterpret_cast<const char *>(data), size);
    const m2m::JwksParseResult result = m2m::parse_jwks(text);
    switch (result.status) {
    case m2m::Reason::ok:
    case m2m::Reason::jwks_no_usable_key:
        if ((result.status == m2m::Reason::ok) == result.keys.empty()) {
            fuzz::fail("status disagrees with the key count");
        }
        break;
    case m2m::Reason::jwks_malformed:
        if (!result.keys.empty() || !result.skipped.empty()) {
            fuzz::fail("keys from a malformed set");
        }
        return 0;
    default:
        fuzz::fail("parse_jwks returned an unexpected status");
    }
    for (const m2m::Key &key : result.keys.keys()) {
        check_key(key);
    }
    // Every member of "keys" is either used or named in a skip line.
    m2m::JsonPtr root(json_loadb(text.data(), text.size(), JSON_REJECT_DUPLICATES, nullptr));
    if (json_array_size(json_object_get(root.get(), "keys")) != result.keys.keys().size() + result.skipped.size()) {
        fuzz::fail("a key neither used nor reported as skipped");
    }
    for (const std::string &line : result.skipped) {
        // For the error log: 128 bytes of text at most, each byte escaped
        // to at most 4, plus "...".
        if (line.size() > 128 * 4 + 3) {
            fuzz::fail("skip line too long");
        }
        for (unsigned char c : line) {
            if (c < 0x20 || c == 0x7f) {
                fuzz::fail("raw control byte in a skip line");
            }
        }
    }
    check_status_page(result.keys);
    return 0;
}
