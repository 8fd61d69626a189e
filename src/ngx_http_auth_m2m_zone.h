/*
 * The auth_m2m shared zone: per remote issuer, the last good JWK Set as
 * fetched, with everything the workers need to agree on who fetches next;
 * and the module's request counters for the status page.
 */

#ifndef NGX_HTTP_AUTH_M2M_ZONE_H
#define NGX_HTTP_AUTH_M2M_ZONE_H

#include "ngx_http_auth_m2m.h"


#define NGX_HTTP_AUTH_M2M_ETAG_LEN       256
#define NGX_HTTP_AUTH_M2M_DATE_LEN       64
#define NGX_HTTP_AUTH_M2M_URI_LEN        2048
#define NGX_HTTP_AUTH_M2M_ERROR_LEN      64


struct ngx_http_auth_m2m_shctx_s {
    ngx_atomic_t                  allowed;
    ngx_atomic_t                  refused[m2m::kStatusCount];
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

    /* the fetch lock: a dead owner loses it at the deadline */
    ngx_pid_t                     owner;
    time_t                        deadline;
    ngx_uint_t                    refetch_requested;
    ngx_uint_t                    failures;     /* consecutive, for backoff */

    uint64_t                      fetch_ok;
    uint64_t                      fetch_failed;
    uint64_t                      fetch_not_modified;
    uint64_t                      fetch_kid_triggered;
};


/* With the zone locked: whether the entry still holds this configuration's
 * key source (false in an old worker after a reload changed the URL). */
bool ngx_http_auth_m2m_sh_current_locked(ngx_http_auth_m2m_issuer_t *issuer);

/* Copies s into a fixed field, cut to fit (only ever display data or
 * validators, where a cut value merely costs a full refetch). */
void ngx_http_auth_m2m_sh_set(u_char *field, size_t cap, size_t *len,
    const u_char *s, size_t n);

#endif /* NGX_HTTP_AUTH_M2M_ZONE_H */
