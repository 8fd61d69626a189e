/*
 * A worker's keys. JWK Set text becomes an issuer's keys in one place,
 * ngx_http_auth_m2m_install_keys(), whatever the source: a file at
 * configuration, a fetch, or the set another worker fetched, which each
 * worker imports from the zone when its generation moves past the one it
 * has, so that every worker verifies with what any of them fetched.
 */

#include "ngx_http_auth_m2m_source.h"
#include "ngx_http_auth_m2m_zone.h"


/*
 * Parses and checks the text and logs the keys it skips (a set read back
 * from the zone was logged by the worker that fetched it); a fetched set is
 * stored in the zone first, which gives its generation. NGX_OK: the keys
 * are the worker's, or a fetched set is stored for the worker to import
 * later (short of memory; nothing is stored for an old configuration's
 * fetch); NGX_DECLINED: the set is unusable, *reason says why; NGX_ERROR:
 * out of memory or the zone is full, *reason.
 */
ngx_int_t
ngx_http_auth_m2m_install_keys(ngx_http_auth_m2m_issuer_t *issuer,
    ngx_http_auth_m2m_jwks_t *jwks, const char **reason)
{
    ngx_int_t                           rc;
    ngx_str_t                          *directive;
    ngx_uint_t                          generation = jwks->generation;
    std::shared_ptr<const m2m::KeySet>  keys;

    m2m::JwksParseResult  parsed = m2m::parse_jwks(jwks->text);

    if (parsed.status != m2m::Reason::ok) {
        *reason = m2m::reason_code(parsed.status);
        return NGX_DECLINED;
    }

    for (const auto &skipped : parsed.skipped) {
        if (jwks->cf) {
            directive = static_cast<ngx_str_t *>(jwks->cf->args->elts);
            ngx_conf_log_error(NGX_LOG_WARN, jwks->cf, 0,
                               "auth_m2m_issuer \"%V\": \"%V\" \"%V\": "
                               "key ignored: %s", &issuer->name, directive,
                               jwks->from, skipped.c_str());

        } else if (jwks->from) {
            ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                          "auth_m2m_issuer \"%V\": key from \"%V\" ignored: %s",
                          &issuer->name, jwks->from, skipped.c_str());
        }
    }

    if (jwks->fetched) {
        rc = ngx_http_auth_m2m_zone_store(issuer, jwks->fetched, &generation);

        if (rc == NGX_ERROR) {
            *reason = "zone_full";
            return NGX_ERROR;
        }

        if (rc == NGX_DECLINED) {
            /* an old worker's fetch from the URL of its own configuration */
            return NGX_OK;
        }
    }

    keys = m2m::share_keys(std::move(parsed.keys));

    if (!keys) {
        if (jwks->fetched) {
            /* stored: imported later, as the other workers do */
            return NGX_OK;
        }

        *reason = "out_of_memory";
        return NGX_ERROR;
    }

    /* the one place where a worker's keys change */
    issuer->keys->replace(std::move(keys), generation);

    return NGX_OK;
}


/* Keys known at configuration (jwks_file, signing_key), read at the
 * directive cf names. NGX_OK, or NGX_DECLINED with *reason; throws
 * bad_alloc when memory ran out (the block's catch reports it). */
ngx_int_t
ngx_http_auth_m2m_install_conf_keys(ngx_conf_t *cf,
    ngx_http_auth_m2m_issuer_t *issuer, std::string_view text, ngx_str_t *from,
    const char **reason)
{
    ngx_int_t                 rc;
    ngx_http_auth_m2m_jwks_t  jwks;

    jwks.text = text;
    jwks.from = from;
    jwks.cf = cf;
    jwks.fetched = NULL;
    jwks.generation = 1;

    rc = ngx_http_auth_m2m_install_keys(issuer, &jwks, reason);

    if (rc == NGX_ERROR) {
        throw std::bad_alloc();
    }

    return rc;
}


void
ngx_http_auth_m2m_sync_keys(ngx_http_auth_m2m_issuer_t *issuer)
{
    ngx_int_t                 rc;
    ngx_str_t                 text;
    ngx_uint_t                generation;
    const char               *reason;
    ngx_http_auth_m2m_jwks_t  jwks;

    if (issuer->sh == NULL) {
        return;
    }

    /*
     * The cheap look holds only for the configuration that owns the entry. A
     * reload that changes the key URL starts the entry's generations again
     * at 0, which is also the generation of an old worker that had not
     * imported its last set yet: that worker would see "nothing new", serve
     * 503 keys_unavailable until it exits (it may not wait for the new URL's
     * fetch) and never read the retired set kept for it. So an old worker
     * always asks the zone, for the few requests it has left.
     */
    if (ngx_http_auth_m2m_zone_current(issuer)
        && ngx_http_auth_m2m_zone_generation(issuer)
           == issuer->keys->generation)
    {
        return;
    }

    rc = ngx_http_auth_m2m_zone_keys(issuer, &generation, &text);

    if (rc == NGX_ERROR) {
        /* out of memory: the next look tries again */
        return;
    }

    if (rc == NGX_DECLINED) {
        issuer->keys->generation = generation;
        return;
    }

    jwks.text = std::string_view(reinterpret_cast<char *>(text.data),
                                 text.len);
    jwks.from = NULL;
    jwks.cf = NULL;
    jwks.fetched = NULL;
    jwks.generation = generation;

    rc = ngx_http_auth_m2m_install_keys(issuer, &jwks, &reason);

    ngx_free(text.data);

    /* the fetching worker validated this set; a failure here is a bug */
    if (rc == NGX_DECLINED) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "auth_m2m_issuer \"%V\": stored key set is invalid: %s",
                      &issuer->name, reason);
        issuer->keys->generation = generation;
        return;
    }

    if (rc == NGX_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "auth_m2m_issuer \"%V\": keys of generation %ui not "
                      "imported: out of memory", &issuer->name, generation);
        return;
    }

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
