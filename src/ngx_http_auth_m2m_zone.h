/*
 * The auth_m2m shared zone: per remote issuer, the last good JWK Set as
 * fetched, with everything the workers need to agree on who fetches next;
 * and the module's request counters for the status page.
 */

#ifndef NGX_HTTP_AUTH_M2M_ZONE_H
#define NGX_HTTP_AUTH_M2M_ZONE_H

#include "ngx_http_auth_m2m.h"

#include "core/fetch/refresh_policy.h"


#define NGX_HTTP_AUTH_M2M_ETAG_LEN       256
#define NGX_HTTP_AUTH_M2M_DATE_LEN       64
#define NGX_HTTP_AUTH_M2M_URI_LEN        2048
#define NGX_HTTP_AUTH_M2M_ERROR_LEN      64


struct ngx_http_auth_m2m_shctx_s {
    ngx_atomic_t                  allowed;
    ngx_atomic_t                  refused[m2m::kStatusCount];
    ngx_atomic_t                  token_cache_hits;     /* all workers' */
    ngx_atomic_t                  token_cache_misses;
    ngx_atomic_t                  token_cache_evictions;
    ngx_atomic_t                  tokens_issued;        /* token endpoints */
    ngx_atomic_t                  token_requests_refused;
    ngx_atomic_t                  client_auth_failed;   /* of those refused */
    ngx_queue_t                   issuers;      /* of issuer_sh */
};


struct ngx_http_auth_m2m_issuer_sh_s {
    ngx_queue_t                   queue;
    ngx_str_t                     name;         /* slab copy, the entry's key */
    ngx_str_t                     source;       /* slab copy of the key URL */

    /* the last set of the previous key URL, for the old workers that have
     * not imported it yet; freed when the URL changes again */
    u_char                       *retired_jwks;
    size_t                        retired_jwks_len;
    ngx_uint_t                    retired_version;
    ngx_uint_t                    retired_generation;

    /* bumped when a reload gives the issuer another key URL: the workers of
     * the old configuration stop writing and reading the entry */
    ngx_uint_t                    source_version;

    /* read without the lock to notice changes cheaply */
    ngx_atomic_t                  generation;   /* 0: no keys yet */
    ngx_atomic_t                  attempts;     /* completed fetch attempts */

    u_char                       *jwks;         /* slab, the last good set */
    size_t                        jwks_len;

    u_char                        etag[NGX_HTTP_AUTH_M2M_ETAG_LEN];
    size_t                        etag_len;
    u_char                        last_modified[NGX_HTTP_AUTH_M2M_DATE_LEN];
    size_t                        last_modified_len;
    u_char                        jwks_uri[NGX_HTTP_AUTH_M2M_URI_LEN];
    size_t                        jwks_uri_len;
    u_char                        last_error[NGX_HTTP_AUTH_M2M_ERROR_LEN];
    size_t                        last_error_len;

    time_t                        last_attempt;
    time_t                        last_success;
    time_t                        last_error_time;
    time_t                        next_refresh;
    time_t                        last_kid_refetch;

    /* the fetch lease: a dead owner loses it at the deadline */
    ngx_pid_t                     owner;
    time_t                        deadline;
    ngx_uint_t                    refetch_requested;
    ngx_uint_t                    failures;     /* consecutive, for backoff */

    uint64_t                      fetch_ok;
    uint64_t                      fetch_failed;
    uint64_t                      fetch_not_modified;
    uint64_t                      fetch_kid_triggered;
};


/* What a fetch brought back, to be stored. */
struct ngx_http_auth_m2m_fetched_s {
    ngx_str_t                     jwks;
    ngx_str_t                     etag;
    ngx_str_t                     last_modified;
    time_t                        refresh_in;   /* from now, jitter included */
};


/*
 * The operations on an issuer's entry. Each takes the zone's lock itself and
 * leaves the entry alone when it no longer holds this configuration's key
 * source (in an old worker after a reload changed the URL).
 */
bool ngx_http_auth_m2m_zone_lease(ngx_http_auth_m2m_issuer_t *issuer);
ngx_int_t ngx_http_auth_m2m_zone_store(ngx_http_auth_m2m_issuer_t *issuer,
    ngx_http_auth_m2m_fetched_t *fetched, ngx_uint_t *generation);
void ngx_http_auth_m2m_zone_not_modified(ngx_http_auth_m2m_issuer_t *issuer,
    time_t refresh_in);
ngx_int_t ngx_http_auth_m2m_zone_failed(ngx_http_auth_m2m_issuer_t *issuer,
    const m2m::RefreshPolicy &policy, const char *reason, time_t *delay);
void ngx_http_auth_m2m_zone_set_jwks_uri(ngx_http_auth_m2m_issuer_t *issuer,
    ngx_str_t *uri);
void ngx_http_auth_m2m_zone_validators(ngx_http_auth_m2m_issuer_t *issuer,
    ngx_pool_t *pool, ngx_str_t *etag, ngx_str_t *last_modified);
ngx_int_t ngx_http_auth_m2m_zone_keys(ngx_http_auth_m2m_issuer_t *issuer,
    ngx_uint_t *generation, ngx_str_t *jwks);
bool ngx_http_auth_m2m_zone_want_keys(ngx_http_auth_m2m_issuer_t *issuer,
    bool unknown_kid, ngx_atomic_uint_t *attempts);
void ngx_http_auth_m2m_zone_release(ngx_http_auth_m2m_issuer_t *issuer);
void ngx_http_auth_m2m_zone_snapshot(ngx_http_auth_m2m_issuer_t *issuer,
    ngx_http_auth_m2m_issuer_sh_t *copy);


/* Read without the lock, to notice changes cheaply: each is one word, and a
 * stale value only defers the reaction to the next look. */

inline ngx_uint_t
ngx_http_auth_m2m_zone_generation(ngx_http_auth_m2m_issuer_t *issuer)
{
    return issuer->sh->generation;
}


/* Whether the entry still holds this configuration's key source (false in
 * an old worker once a reload changed the URL; it never turns true again). */
inline bool
ngx_http_auth_m2m_zone_current(ngx_http_auth_m2m_issuer_t *issuer)
{
    return issuer->sh->source_version == issuer->sh_version;
}


inline ngx_atomic_uint_t
ngx_http_auth_m2m_zone_attempts(ngx_http_auth_m2m_issuer_t *issuer)
{
    return issuer->sh->attempts;
}


inline time_t
ngx_http_auth_m2m_zone_next_refresh(ngx_http_auth_m2m_issuer_t *issuer)
{
    return issuer->sh->next_refresh;
}

#endif /* NGX_HTTP_AUTH_M2M_ZONE_H */
