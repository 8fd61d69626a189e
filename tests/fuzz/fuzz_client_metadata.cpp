// parse_client_metadata on arbitrary request bodies of the clients API, and
// render_client on whatever it accepts: what it accepts goes into the
// registry file and into issued tokens, so every accepted value is checked
// here against the rules of client_metadata.h.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "issuer/client_metadata.h"
#include "json.h"
#include "verify/scope.h"

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    json_object_seed(1);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const std::string_view body(reinterpret_cast<const char *>(data), size);
    m2m::ClientMetadata metadata;
    std::string why;
    if (!m2m::parse_client_metadata(body, &metadata, &why)) {
        if (why.empty()) {
            fuzz::fail("refused without a description");
        }
        return 0;
    }
    if (metadata.name.size() > 200 || m2m::has_line_breaking_chars(metadata.name)) {
        fuzz::fail("a client_name that breaks lines, or too long");
    }
    for (size_t i = 0; i < metadata.scopes.size(); i++) {
        if (!m2m::is_scope_token(metadata.scopes[i])
            || std::count(metadata.scopes.begin(), metadata.scopes.end(), metadata.scopes[i]) != 1) {
            fuzz::fail("a scope that is not a scope-token, or a repeated one");
        }
    }
    if (metadata.claims) {
        if (!json_is_object(metadata.claims.get())) {
            fuzz::fail("claims that are not an object");
        }
        for (const char *name : {"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id", "scope"}) {
            if (json_object_get(metadata.claims.get(), name)) {
                fuzz::fail("claims that override a registered claim");
            }
        }
    }
    m2m::Client client;
    client.client_id = "m2m_fuzz";
    client.name = metadata.name;
    client.scopes = metadata.scopes;
    client.claims = std::move(metadata.claims);
    const std::string rendered = m2m::render_client(client, nullptr, "https://fuzz.test/c/m2m_fuzz");
    m2m::JsonPtr back = m2m::parse_json_object(rendered);
    if (!back) {
        fuzz::fail("render_client wrote something that is not a JSON object");
    }
    const json_t *name = json_object_get(back.get(), "client_name");
    if (!json_is_string(name) || std::string_view(json_string_value(name), json_string_length(name)) != client.name) {
        fuzz::fail("client_name did not survive rendering");
    }
    return 0;
}
