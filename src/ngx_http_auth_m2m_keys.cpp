/*
 * Each worker's own copy of a remote issuer's keys: parsed from the zone's
 * set whenever the zone's generation moves past the one this worker has,
 * so that every worker verifies with what any of them fetched.
 */

#include "ngx_http_auth_m2m_zone.h"

#include "core/jwks.h"


void
ngx_http_auth_m2m_sync_keys(ngx_http_auth_m2m_issuer_t *issuer)
{
    ngx_int_t         rc;
    ngx_str_t         jwks;
    ngx_uint_t        generation;
    std::string_view  text;

    if (issuer->sh == NULL
        || ngx_http_auth_m2m_zone_generation(issuer)
           == issuer->keys->generation)
    {
        return;
    }

    rc = ngx_http_auth_m2m_zone_keys(issuer, &generation, &jwks);

    if (rc == NGX_ERROR) {
        /* out of memory: the next look tries again */
        return;
    }

    if (rc == NGX_DECLINED) {
        issuer->keys->generation = generation;
        return;
    }

    text = std::string_view(reinterpret_cast<char *>(jwks.data), jwks.len);

    m2m::JwksParseResult  parsed = m2m::parse_jwks(text);

    ngx_free(jwks.data);

    /* the fetching worker validated this set; a failure here is a bug */
    if (parsed.status != m2m::Status::ok) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "auth_m2m_issuer \"%V\": stored key set is invalid: %s",
                      &issuer->name, m2m::reason_code(parsed.status));
        issuer->keys->generation = generation;
        return;
    }

    std::shared_ptr<const m2m::KeySet>  keys =
        m2m::share_keys(std::move(parsed.keys));

    if (!keys) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "auth_m2m_issuer \"%V\": keys of generation %ui not "
                      "imported: out of memory", &issuer->name, generation);
        return;
    }

    issuer->keys->replace(std::move(keys), generation);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "auth_m2m_issuer \"%V\": keys of generation %ui imported",
                   &issuer->name, generation);
}


void
ngx_http_auth_m2m_sync_all(ngx_http_auth_m2m_main_conf_t *amcf)
{
    ngx_uint_t                    i;
    ngx_http_auth_m2m_issuer_t  **issuers;

    issuers = static_cast<ngx_http_auth_m2m_issuer_t **>(amcf->issuers.elts);

    for (i = 0; i < amcf->issuers.nelts; i++) {
        ngx_http_auth_m2m_sync_keys(issuers[i]);
    }
}
