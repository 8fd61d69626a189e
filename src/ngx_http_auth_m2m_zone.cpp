/*
 * auth_m2m_zone: the shared memory behind remote key sets and the status
 * counters. Like limit_req's zones it survives a reload: init_zone() adopts
 * the old zone, so new workers start with the keys the old ones had.
 */

#include "ngx_http_auth_m2m_zone.h"


namespace {

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

        if (sh->source.len != issuer->target.url.len
            || ngx_strncmp(sh->source.data, issuer->target.url.data,
                           sh->source.len) != 0)
        {
            if (ngx_http_auth_m2m_sh_new_source_locked(shpool, sh,
                                                       &issuer->target.url)
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
        || ngx_http_auth_m2m_sh_dup(shpool, &sh->source, &issuer->target.url)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_queue_insert_tail(&amcf->sh->issuers, &sh->queue);
    issuer->sh = sh;
    issuer->sh_version = sh->source_version;

    return NGX_OK;
}


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
        if (issuers[i]->source == NGX_HTTP_AUTH_M2M_SOURCE_URI
            || issuers[i]->source == NGX_HTTP_AUTH_M2M_SOURCE_DISCOVERY)
        {
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


ngx_int_t
ngx_http_auth_m2m_add_zone(ngx_conf_t *cf, ngx_http_auth_m2m_main_conf_t *amcf,
    ngx_str_t *name, size_t size)
{
    amcf->shm_zone = ngx_shared_memory_add(cf, name, size,
                                           &ngx_http_auth_m2m_module);
    if (amcf->shm_zone == NULL) {
        return NGX_ERROR;
    }

    if (amcf->shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "auth_m2m zone \"%V\" is already used", name);
        return NGX_ERROR;
    }

    amcf->shm_zone->init = ngx_http_auth_m2m_init_zone;
    amcf->shm_zone->data = amcf;

    return NGX_OK;
}

} /* namespace */


bool
ngx_http_auth_m2m_sh_current_locked(ngx_http_auth_m2m_issuer_t *issuer)
{
    return issuer->sh->source_version == issuer->sh_version;
}


void
ngx_http_auth_m2m_sh_set(u_char *field, size_t cap, size_t *len,
    const u_char *s, size_t n)
{
    *len = ngx_min(n, cap);
    ngx_memcpy(field, s, *len);
}


char *
ngx_http_auth_m2m_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_auth_m2m_main_conf_t  *amcf =
        static_cast<ngx_http_auth_m2m_main_conf_t *>(conf);

    u_char     *p;
    ssize_t     size;
    ngx_str_t  *value, name, s;

    if (amcf->shm_zone) {
        return const_cast<char *>("is duplicate");
    }

    value = static_cast<ngx_str_t *>(cf->args->elts);

    p = static_cast<u_char *>(ngx_strlchr(value[1].data,
                                          value[1].data + value[1].len, ':'));
    if (p == NULL || p == value[1].data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone \"%V\", expected NAME:SIZE",
                           &value[1]);
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    name.data = value[1].data;
    name.len = p - value[1].data;

    s.data = p + 1;
    s.len = value[1].data + value[1].len - s.data;

    size = ngx_parse_size(&s);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\"", &value[1]);
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    if (size < static_cast<ssize_t>(8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is too small", &value[1]);
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    if (ngx_http_auth_m2m_add_zone(cf, amcf, &name, size) != NGX_OK) {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_auth_m2m_default_zone(ngx_conf_t *cf,
    ngx_http_auth_m2m_main_conf_t *amcf)
{
    static ngx_str_t  name = ngx_string("auth_m2m");

    if (amcf->shm_zone || amcf->issuers.nelts == 0) {
        return NGX_OK;
    }

    return ngx_http_auth_m2m_add_zone(cf, amcf, &name, 1024 * 1024);
}


void
ngx_http_auth_m2m_count(ngx_http_request_t *r, m2m::Status status)
{
    ngx_http_auth_m2m_main_conf_t  *amcf;

    amcf = static_cast<ngx_http_auth_m2m_main_conf_t *>(
               ngx_http_get_module_main_conf(r, ngx_http_auth_m2m_module));

    if (amcf->sh == NULL) {
        return;
    }

    if (status == m2m::Status::ok) {
        (void) ngx_atomic_fetch_add(&amcf->sh->allowed, 1);

    } else {
        (void) ngx_atomic_fetch_add(
                   &amcf->sh->refused[static_cast<unsigned>(status)], 1);
    }
}
