/*
 * auth_m2m_zone: the shared memory behind remote key sets and the status
 * counters. Like limit_req's zones it survives a reload: init_zone() adopts
 * the old zone, so new workers start with the keys the old ones had.
 *
 * This file is the only one that locks the zone: the rest of the module
 * changes an issuer's entry through the operations below, which check that
 * the entry is still their configuration's and run nothing that can throw
 * while they hold the lock.
 *
 * Who fetches is a lease (owner pid and deadline) that any worker takes when
 * a refresh is due, not upstream_zone's fixed owner, because a worker that
 * dies or leaves on reload mid-fetch is then replaced by its deadline alone,
 * with no owner to elect again (t/16, t/17). It also lets a request waiting
 * for an unknown kid start the fetch in its own worker at once, where a
 * fixed owner would need a "refetch wanted" flag and a second hop.
 */

#include "ngx_http_auth_m2m_source.h"
#include "ngx_http_auth_m2m_zone.h"


namespace {

/* With the zone locked: whether the entry still holds this configuration's
 * key source (false in an old worker after a reload changed the URL). */
bool
ngx_http_auth_m2m_sh_current_locked(ngx_http_auth_m2m_issuer_t *issuer)
{
    return issuer->sh->source_version == issuer->sh_version;
}


/* Copies s into a fixed field, cut to fit (only ever display data). */
void
ngx_http_auth_m2m_sh_set(u_char *field, size_t cap, size_t *len,
    const u_char *s, size_t n)
{
    *len = ngx_min(n, cap);
    ngx_memcpy(field, s, *len);
}


/* A validator is kept whole or not at all: a cut one would never match. */
void
ngx_http_auth_m2m_sh_set_validator(u_char *field, size_t cap, size_t *len,
    ngx_str_t *value)
{
    *len = 0;

    if (value->len <= cap) {
        ngx_http_auth_m2m_sh_set(field, cap, len, value->data, value->len);
    }
}


/* With the zone locked: an attempt ended, whatever its outcome. Bumping
 * "attempts" is what wakes the waiting requests of every worker. */
void
ngx_http_auth_m2m_attempt_done_locked(ngx_http_auth_m2m_issuer_sh_t *sh)
{
    sh->attempts++;

    if (sh->owner == ngx_pid) {
        sh->owner = 0;
    }
}


/* With the zone locked: the server answered with keys, new or unchanged. */
void
ngx_http_auth_m2m_success_locked(ngx_http_auth_m2m_issuer_sh_t *sh,
    time_t refresh_in)
{
    time_t  now = ngx_time();

    sh->failures = 0;
    sh->last_success = now;
    sh->next_refresh = now + refresh_in;

    ngx_http_auth_m2m_attempt_done_locked(sh);
}


ngx_int_t
ngx_http_auth_m2m_sh_dup(ngx_slab_pool_t *shpool, ngx_str_t *dst, ngx_str_t *src)
{
    dst->data = static_cast<u_char *>(ngx_slab_alloc_locked(shpool,
                                                            src->len ? src->len
                                                                     : 1));
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(dst->data, src->data, src->len);
    dst->len = src->len;

    return NGX_OK;
}


/*
 * A reload gave the issuer another key URL: keys from the old one must not be
 * used. The entry is reset in place rather than replaced, so that any number
 * of such reloads costs no more zone memory than one retired key set; the
 * old workers, which may still be fetching from the old URL, see the new
 * source_version and from then on only read that retired set.
 */
ngx_int_t
ngx_http_auth_m2m_sh_new_source_locked(ngx_slab_pool_t *shpool,
    ngx_http_auth_m2m_issuer_sh_t *sh, ngx_str_t *source)
{
    ngx_str_t   copy;
    ngx_uint_t  version = sh->source_version + 1;
    ngx_uint_t  attempts = sh->attempts + 1;  /* wakes the old waiters */

    if (ngx_http_auth_m2m_sh_dup(shpool, &copy, source) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_slab_free_locked(shpool, sh->source.data);

    if (sh->retired_jwks) {
        ngx_slab_free_locked(shpool, sh->retired_jwks);
    }

    /* an old worker that has not synced yet (it had no request since the
     * last fetch) would otherwise have no keys at all until it exits */
    sh->retired_jwks = sh->jwks;
    sh->retired_jwks_len = sh->jwks_len;
    sh->retired_version = sh->source_version;
    sh->retired_generation = sh->generation;

    ngx_memzero(&sh->source_version,
                sizeof(ngx_http_auth_m2m_issuer_sh_t)
                - offsetof(ngx_http_auth_m2m_issuer_sh_t, source_version));

    sh->source = copy;
    sh->source_version = version;
    sh->attempts = attempts;

    return NGX_OK;
}


ngx_int_t
ngx_http_auth_m2m_attach_issuer(ngx_http_auth_m2m_main_conf_t *amcf,
    ngx_http_auth_m2m_issuer_t *issuer)
{
    ngx_str_t                      *key = issuer->source->zone_key(issuer);
    ngx_queue_t                    *q;
    ngx_slab_pool_t                *shpool = amcf->shpool;
    ngx_http_auth_m2m_issuer_sh_t  *sh;

    issuer->shpool = shpool;

    for (q = ngx_queue_head(&amcf->sh->issuers);
         q != ngx_queue_sentinel(&amcf->sh->issuers);
         q = ngx_queue_next(q))
    {
        sh = ngx_queue_data(q, ngx_http_auth_m2m_issuer_sh_t, queue);

        if (sh->name.len != issuer->name.len
            || ngx_strncmp(sh->name.data, issuer->name.data, sh->name.len) != 0)
        {
            continue;
        }

        if (sh->source.len != key->len
            || ngx_strncmp(sh->source.data, key->data, key->len) != 0)
        {
            if (ngx_http_auth_m2m_sh_new_source_locked(shpool, sh, key)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        issuer->sh = sh;
        issuer->sh_version = sh->source_version;
        return NGX_OK;
    }

    sh = static_cast<ngx_http_auth_m2m_issuer_sh_t *>(
             ngx_slab_calloc_locked(shpool,
                                    sizeof(ngx_http_auth_m2m_issuer_sh_t)));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_auth_m2m_sh_dup(shpool, &sh->name, &issuer->name) != NGX_OK
        || ngx_http_auth_m2m_sh_dup(shpool, &sh->source, key) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_queue_insert_tail(&amcf->sh->issuers, &sh->queue);
    issuer->sh = sh;
    issuer->sh_version = sh->source_version;

    return NGX_OK;
}

} /* namespace */


ngx_int_t
ngx_http_auth_m2m_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_auth_m2m_main_conf_t  *oamcf =
        static_cast<ngx_http_auth_m2m_main_conf_t *>(data);
    ngx_http_auth_m2m_main_conf_t  *amcf =
        static_cast<ngx_http_auth_m2m_main_conf_t *>(shm_zone->data);

    size_t                        len;
    ngx_int_t                     rc;
    ngx_uint_t                    i;
    ngx_slab_pool_t              *shpool;
    ngx_http_auth_m2m_issuer_t  **issuers;

    shpool = reinterpret_cast<ngx_slab_pool_t *>(shm_zone->shm.addr);
    amcf->shpool = shpool;

    if (oamcf) {
        amcf->sh = oamcf->sh;

    } else if (shm_zone->shm.exists) {
        amcf->sh = static_cast<ngx_http_auth_m2m_shctx_t *>(shpool->data);

    } else {
        amcf->sh = static_cast<ngx_http_auth_m2m_shctx_t *>(
                       ngx_slab_calloc(shpool,
                                       sizeof(ngx_http_auth_m2m_shctx_t)));
        if (amcf->sh == NULL) {
            return NGX_ERROR;
        }

        shpool->data = amcf->sh;
        ngx_queue_init(&amcf->sh->issuers);

        len = sizeof(" in auth_m2m zone \"\"") + shm_zone->shm.name.len;

        shpool->log_ctx = static_cast<u_char *>(ngx_slab_alloc(shpool, len));
        if (shpool->log_ctx == NULL) {
            return NGX_ERROR;
        }

        ngx_sprintf(shpool->log_ctx, " in auth_m2m zone \"%V\"%Z",
                    &shm_zone->shm.name);

        /* a full zone fails a refresh, which we log once with the issuer */
        shpool->log_nomem = 0;
    }

    issuers = static_cast<ngx_http_auth_m2m_issuer_t **>(amcf->issuers.elts);
    rc = NGX_OK;

    /* old workers may still be fetching into this zone during a reload */
    ngx_shmtx_lock(&shpool->mutex);

    for (i = 0; i < amcf->issuers.nelts && rc == NGX_OK; i++) {
        if (issuers[i]->source->zone_key) {
            rc = ngx_http_auth_m2m_attach_issuer(amcf, issuers[i]);
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "auth_m2m zone \"%V\" is too small for its issuers",
                      &shm_zone->shm.name);
    }

    return rc;
}


/* Takes the fetch lease when a refresh is due (or was asked for) and nobody
 * holds it, or its holder let the deadline pass and is presumed dead. */
bool
ngx_http_auth_m2m_zone_lease(ngx_http_auth_m2m_issuer_t *issuer)
{
    bool                            leased = false;
    time_t                          now = ngx_time();
    ngx_pid_t                       previous = 0;
    ngx_http_auth_m2m_issuer_sh_t  *sh = issuer->sh;

    ngx_shmtx_lock(&issuer->shpool->mutex);

    if (ngx_http_auth_m2m_sh_current_locked(issuer)
        && (sh->refetch_requested || now >= sh->next_refresh)
        && (sh->owner == 0 || now >= sh->deadline))
    {
        previous = sh->owner;

        sh->owner = ngx_pid;
        sh->deadline = now + static_cast<time_t>(issuer->fetch_timeout / 1000)
                       + 2;
        sh->last_attempt = now;
        sh->refetch_requested = 0;
        leased = true;
    }

    ngx_shmtx_unlock(&issuer->shpool->mutex);

    if (previous && previous != ngx_pid) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "auth_m2m_issuer \"%V\": worker %P did not finish "
                      "its key fetch, taking over", &issuer->name, previous);
    }

    return leased;
}


/*
 * A new key set: NGX_OK with its *generation, NGX_ERROR when the zone has no
 * room for it, NGX_DECLINED when the fetch came from the URL of an old
 * configuration (nothing is recorded then).
 */
ngx_int_t
ngx_http_auth_m2m_zone_store(ngx_http_auth_m2m_issuer_t *issuer,
    ngx_http_auth_m2m_fetched_t *fetched, ngx_uint_t *generation)
{
    u_char                         *copy;
    ngx_http_auth_m2m_issuer_sh_t  *sh = issuer->sh;

    ngx_shmtx_lock(&issuer->shpool->mutex);

    if (!ngx_http_auth_m2m_sh_current_locked(issuer)) {
        ngx_shmtx_unlock(&issuer->shpool->mutex);
        return NGX_DECLINED;
    }

    copy = static_cast<u_char *>(ngx_slab_alloc_locked(issuer->shpool,
                                                       fetched->jwks.len));
    if (copy == NULL) {
        ngx_shmtx_unlock(&issuer->shpool->mutex);
        return NGX_ERROR;
    }

    ngx_memcpy(copy, fetched->jwks.data, fetched->jwks.len);

    if (sh->jwks) {
        ngx_slab_free_locked(issuer->shpool, sh->jwks);
    }

    sh->jwks = copy;
    sh->jwks_len = fetched->jwks.len;

    ngx_http_auth_m2m_sh_set_validator(sh->etag, NGX_HTTP_AUTH_M2M_ETAG_LEN,
                                       &sh->etag_len, &fetched->etag);
    ngx_http_auth_m2m_sh_set_validator(sh->last_modified,
                                       NGX_HTTP_AUTH_M2M_DATE_LEN,
                                       &sh->last_modified_len,
                                       &fetched->last_modified);

    sh->fetch_ok++;
    *generation = sh->generation + 1;
    sh->generation = *generation;
    ngx_http_auth_m2m_success_locked(sh, fetched->refresh_in);

    ngx_shmtx_unlock(&issuer->shpool->mutex);

    return NGX_OK;
}


void
ngx_http_auth_m2m_zone_not_modified(ngx_http_auth_m2m_issuer_t *issuer,
    time_t refresh_in)
{
    ngx_shmtx_lock(&issuer->shpool->mutex);

    if (ngx_http_auth_m2m_sh_current_locked(issuer)) {
        issuer->sh->fetch_not_modified++;
        ngx_http_auth_m2m_success_locked(issuer->sh, refresh_in);
    }

    ngx_shmtx_unlock(&issuer->shpool->mutex);
}


/* NGX_OK: the failure is recorded and the next attempt is *delay away;
 * NGX_DECLINED: another configuration's entry now, its waiters not ours. */
ngx_int_t
ngx_http_auth_m2m_zone_failed(ngx_http_auth_m2m_issuer_t *issuer,
    const m2m::RefreshPolicy &policy, const char *reason, time_t *delay)
{
    time_t                          now = ngx_time();
    ngx_http_auth_m2m_issuer_sh_t  *sh = issuer->sh;

    ngx_shmtx_lock(&issuer->shpool->mutex);

    if (!ngx_http_auth_m2m_sh_current_locked(issuer)) {
        ngx_shmtx_unlock(&issuer->shpool->mutex);
        return NGX_DECLINED;
    }

    sh->failures++;
    *delay = m2m::backoff_after_failure(policy,
                                        static_cast<unsigned>(sh->failures));
    sh->next_refresh = now + *delay;
    sh->last_error_time = now;
    ngx_http_auth_m2m_sh_set(sh->last_error, NGX_HTTP_AUTH_M2M_ERROR_LEN,
                             &sh->last_error_len,
                             reinterpret_cast<const u_char *>(reason),
                             ngx_strlen(reason));
    sh->fetch_failed++;
    ngx_http_auth_m2m_attempt_done_locked(sh);

    ngx_shmtx_unlock(&issuer->shpool->mutex);

    return NGX_OK;
}


/* The jwks_uri that discovery named, for the status page. */
void
ngx_http_auth_m2m_zone_set_jwks_uri(ngx_http_auth_m2m_issuer_t *issuer,
    ngx_str_t *uri)
{
    ngx_shmtx_lock(&issuer->shpool->mutex);

    if (ngx_http_auth_m2m_sh_current_locked(issuer)) {
        ngx_http_auth_m2m_sh_set(issuer->sh->jwks_uri,
                                 NGX_HTTP_AUTH_M2M_URI_LEN,
                                 &issuer->sh->jwks_uri_len,
                                 uri->data, uri->len);
    }

    ngx_shmtx_unlock(&issuer->shpool->mutex);
}


/* The stored set's validators, copied into pool for a conditional request;
 * a failed copy only costs the condition. */
void
ngx_http_auth_m2m_zone_validators(ngx_http_auth_m2m_issuer_t *issuer,
    ngx_pool_t *pool, ngx_str_t *etag, ngx_str_t *last_modified)
{
    ngx_str_t                       value;
    ngx_http_auth_m2m_issuer_sh_t  *sh = issuer->sh;

    ngx_shmtx_lock(&issuer->shpool->mutex);

    value.len = sh->etag_len;
    value.data = sh->etag;
    etag->data = ngx_pstrdup(pool, &value);
    etag->len = etag->data ? value.len : 0;

    value.len = sh->last_modified_len;
    value.data = sh->last_modified;
    last_modified->data = ngx_pstrdup(pool, &value);
    last_modified->len = last_modified->data ? value.len : 0;

    ngx_shmtx_unlock(&issuer->shpool->mutex);
}


/*
 * The stored set, for a worker to import: NGX_OK with a copy in *jwks that
 * the caller ngx_free()s; NGX_DECLINED when there is nothing to import for
 * *generation (no set yet, or another configuration's entry: an old worker
 * keeps the keys it has until it exits, or takes the old URL's retired set
 * if it had none); NGX_ERROR without memory.
 */
ngx_int_t
ngx_http_auth_m2m_zone_keys(ngx_http_auth_m2m_issuer_t *issuer,
    ngx_uint_t *generation, ngx_str_t *jwks)
{
    size_t                          len = 0;
    u_char                         *src = NULL;
    ngx_int_t                       rc = NGX_DECLINED;
    ngx_http_auth_m2m_issuer_sh_t  *sh = issuer->sh;

    ngx_shmtx_lock(&issuer->shpool->mutex);

    if (ngx_http_auth_m2m_sh_current_locked(issuer)) {
        *generation = sh->generation;
        src = sh->jwks;
        len = sh->jwks_len;

    } else if (issuer->sh_version == sh->retired_version) {
        /* an old worker after a reload changed the key URL, which had not
         * imported the old URL's last set yet */
        *generation = sh->retired_generation;
        src = *generation == issuer->keys->generation ? NULL : sh->retired_jwks;
        len = sh->retired_jwks_len;

    } else {
        *generation = sh->generation;
    }

    if (src) {
        jwks->data = static_cast<u_char *>(ngx_alloc(len, ngx_cycle->log));
        if (jwks->data == NULL) {
            rc = NGX_ERROR;

        } else {
            ngx_memcpy(jwks->data, src, len);
            jwks->len = len;
            rc = NGX_OK;
        }
    }

    ngx_shmtx_unlock(&issuer->shpool->mutex);

    return rc;
}


/*
 * A request lacks keys: whether a fetch is to be had for it to wait on, the
 * one in flight or a new one; a new one is asked for at most once per
 * kid_refetch_cooldown, whichever worker asks. *attempts is the count that
 * the end of that fetch will move.
 */
bool
ngx_http_auth_m2m_zone_want_keys(ngx_http_auth_m2m_issuer_t *issuer,
    bool unknown_kid, ngx_atomic_uint_t *attempts)
{
    bool                            join = false;
    time_t                          now = ngx_time();
    ngx_http_auth_m2m_issuer_sh_t  *sh = issuer->sh;

    ngx_shmtx_lock(&issuer->shpool->mutex);

    if (!ngx_http_auth_m2m_sh_current_locked(issuer)) {
        join = false;

    } else if (sh->owner != 0 && now < sh->deadline) {
        join = true;

    } else if (now - sh->last_kid_refetch >= issuer->kid_refetch_cooldown) {
        sh->refetch_requested = 1;
        sh->last_kid_refetch = now;

        if (unknown_kid) {
            sh->fetch_kid_triggered++;
        }

        join = true;
    }

    *attempts = sh->attempts;

    ngx_shmtx_unlock(&issuer->shpool->mutex);

    return join;
}


/* A worker leaving with a fetch in flight hands the lease back at once, so
 * that the next generation of workers need not wait for its deadline. */
void
ngx_http_auth_m2m_zone_release(ngx_http_auth_m2m_issuer_t *issuer)
{
    ngx_shmtx_lock(&issuer->shpool->mutex);

    if (issuer->sh->owner == ngx_pid) {
        issuer->sh->owner = 0;
        issuer->sh->refetch_requested = 1;
    }

    ngx_shmtx_unlock(&issuer->shpool->mutex);
}


/* A plain copy of the entry, for the status page to format unlocked. */
void
ngx_http_auth_m2m_zone_snapshot(ngx_http_auth_m2m_issuer_t *issuer,
    ngx_http_auth_m2m_issuer_sh_t *copy)
{
    ngx_shmtx_lock(&issuer->shpool->mutex);
    ngx_memcpy(copy, issuer->sh, sizeof(ngx_http_auth_m2m_issuer_sh_t));
    ngx_shmtx_unlock(&issuer->shpool->mutex);
}
