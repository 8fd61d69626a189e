/*
 * The DPoP replay cache (RFC 9449 §11.1): the jti of every accepted proof,
 * per key, until the proof's iat falls out of the window, in shared memory
 * so that no worker accepts a proof that another one accepted.
 *
 * A zone of its own rather than the auth_m2m zone's slab: it holds one entry
 * per DPoP request of the last minute or so, megabytes at a few thousand
 * requests a second, and in the auth_m2m zone a burst of them would leave no
 * room for an issuer's next key set. Here a full zone only makes the oldest
 * proofs forgotten early (logged).
 *
 * An entry keeps a SHA-256 of the key's thumbprint and the jti, not the jti:
 * every entry is one 128-byte slab chunk whatever the client sends, and one
 * client's jti never collides with another's. As in limit_req, an rbtree
 * finds entries and a queue in arrival order expires and evicts them. Each
 * entry lives until its own iat + window + leeway (the largest window of any
 * location, see ngx_http_auth_m2m_dpop_proof()); arrival order follows
 * that closely (iat is within the window of arrival), so the oldest arrival
 * is the one to evict.
 *
 * This file is the only one that locks this zone.
 */

#include "ngx_http_auth_m2m.h"

#include "core/openssl_handles.h"


namespace {

#define NGX_HTTP_AUTH_M2M_REPLAY_DIGEST  32     /* SHA-256 */

/* How often a full cache may say so, across workers. */
#define NGX_HTTP_AUTH_M2M_REPLAY_WARN    60


typedef struct {
    ngx_rbtree_node_t             node;     /* key: the digest's first word */
    ngx_queue_t                   queue;
    time_t                        expires;  /* last second iat can pass */
    u_char                        digest[NGX_HTTP_AUTH_M2M_REPLAY_DIGEST];
} ngx_http_auth_m2m_replay_node_t;


typedef struct {
    ngx_rbtree_t                  rbtree;
    ngx_rbtree_node_t             sentinel;
    ngx_queue_t                   queue;    /* newest first */
    time_t                        warned;   /* the last "full" warning */
} ngx_http_auth_m2m_replay_sh_t;


typedef struct {
    ngx_http_auth_m2m_replay_sh_t  *sh;
    ngx_slab_pool_t                *shpool;
} ngx_http_auth_m2m_replay_t;


ngx_http_auth_m2m_replay_node_t *
ngx_http_auth_m2m_replay_entry(ngx_rbtree_node_t *node)
{
    return reinterpret_cast<ngx_http_auth_m2m_replay_node_t *>(node);
}


void
ngx_http_auth_m2m_replay_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t  **p;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else {
            p = ngx_memcmp(ngx_http_auth_m2m_replay_entry(node)->digest,
                           ngx_http_auth_m2m_replay_entry(temp)->digest,
                           NGX_HTTP_AUTH_M2M_REPLAY_DIGEST) < 0
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


ngx_int_t
ngx_http_auth_m2m_replay_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_auth_m2m_replay_t  *octx =
        static_cast<ngx_http_auth_m2m_replay_t *>(data);
    ngx_http_auth_m2m_replay_t  *ctx =
        static_cast<ngx_http_auth_m2m_replay_t *>(shm_zone->data);

    size_t            len;
    ngx_slab_pool_t  *shpool;

    /* a reload keeps the proofs seen so far */
    if (octx) {
        ctx->sh = octx->sh;
        ctx->shpool = octx->shpool;
        return NGX_OK;
    }

    shpool = reinterpret_cast<ngx_slab_pool_t *>(shm_zone->shm.addr);
    ctx->shpool = shpool;

    if (shm_zone->shm.exists) {
        ctx->sh = static_cast<ngx_http_auth_m2m_replay_sh_t *>(shpool->data);
        return NGX_OK;
    }

    ctx->sh = static_cast<ngx_http_auth_m2m_replay_sh_t *>(
                  ngx_slab_calloc(shpool,
                                  sizeof(ngx_http_auth_m2m_replay_sh_t)));
    if (ctx->sh == NULL) {
        return NGX_ERROR;
    }

    shpool->data = ctx->sh;

    ngx_rbtree_init(&ctx->sh->rbtree, &ctx->sh->sentinel,
                    ngx_http_auth_m2m_replay_insert_value);
    ngx_queue_init(&ctx->sh->queue);

    len = sizeof(" in auth_m2m DPoP replay cache \"\"") + shm_zone->shm.name.len;

    shpool->log_ctx = static_cast<u_char *>(ngx_slab_alloc(shpool, len));
    if (shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(shpool->log_ctx, " in auth_m2m DPoP replay cache \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full cache evicts, which is logged here, once a minute */
    shpool->log_nomem = 0;

    return NGX_OK;
}


/* SHA-256 of the thumbprint, a NUL and the jti: false if OpenSSL failed. */
bool
ngx_http_auth_m2m_replay_digest(std::string_view jkt, std::string_view jti,
    u_char *digest)
{
    unsigned int      len;
    m2m::EvpMdCtxPtr  md(EVP_MD_CTX_new());

    return md
           && EVP_DigestInit_ex(md.get(), EVP_sha256(), NULL) == 1
           && EVP_DigestUpdate(md.get(), jkt.data(), jkt.size()) == 1
           && EVP_DigestUpdate(md.get(), "", 1) == 1
           && EVP_DigestUpdate(md.get(), jti.data(), jti.size()) == 1
           && EVP_DigestFinal_ex(md.get(), digest, &len) == 1
           && len == NGX_HTTP_AUTH_M2M_REPLAY_DIGEST;
}


ngx_http_auth_m2m_replay_node_t *
ngx_http_auth_m2m_replay_lookup_locked(ngx_http_auth_m2m_replay_t *ctx,
    ngx_rbtree_key_t key, u_char *digest)
{
    ngx_int_t                         rc;
    ngx_rbtree_node_t                *node, *sentinel;
    ngx_http_auth_m2m_replay_node_t  *entry;

    node = ctx->sh->rbtree.root;
    sentinel = ctx->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (key < node->key) {
            node = node->left;
            continue;
        }

        if (key > node->key) {
            node = node->right;
            continue;
        }

        entry = ngx_http_auth_m2m_replay_entry(node);

        rc = ngx_memcmp(digest, entry->digest,
                        NGX_HTTP_AUTH_M2M_REPLAY_DIGEST);
        if (rc == 0) {
            return entry;
        }

        node = rc < 0 ? node->left : node->right;
    }

    return NULL;
}


void
ngx_http_auth_m2m_replay_delete_locked(ngx_http_auth_m2m_replay_t *ctx,
    ngx_http_auth_m2m_replay_node_t *entry)
{
    ngx_queue_remove(&entry->queue);
    ngx_rbtree_delete(&ctx->sh->rbtree, &entry->node);
    ngx_slab_free_locked(ctx->shpool, entry);
}


/* The oldest arrival; NULL when the cache is empty. */
ngx_http_auth_m2m_replay_node_t *
ngx_http_auth_m2m_replay_oldest_locked(ngx_http_auth_m2m_replay_t *ctx)
{
    if (ngx_queue_empty(&ctx->sh->queue)) {
        return NULL;
    }

    return ngx_queue_data(ngx_queue_last(&ctx->sh->queue),
                          ngx_http_auth_m2m_replay_node_t, queue);
}


/* Drops up to two expired entries per new one, as limit_req does, so that
 * the cache shrinks with the traffic without a timer. */
void
ngx_http_auth_m2m_replay_expire_locked(ngx_http_auth_m2m_replay_t *ctx,
    time_t now)
{
    ngx_uint_t                        n;
    ngx_http_auth_m2m_replay_node_t  *entry;

    for (n = 0; n < 2; n++) {
        entry = ngx_http_auth_m2m_replay_oldest_locked(ctx);

        if (entry == NULL || entry->expires >= now) {
            return;
        }

        ngx_http_auth_m2m_replay_delete_locked(ctx, entry);
    }
}

} /* namespace */


ngx_int_t
ngx_http_auth_m2m_dpop_replay_seen(ngx_http_request_t *r, std::string_view jkt,
    std::string_view jti, time_t expires)
{
    bool                              warn;
    time_t                            now = ngx_time();
    ngx_uint_t                        evicted;
    ngx_rbtree_key_t                  key;
    ngx_http_auth_m2m_replay_t       *ctx;
    ngx_http_auth_m2m_replay_node_t  *entry, *oldest;
    ngx_http_auth_m2m_main_conf_t    *amcf;
    u_char                            digest[NGX_HTTP_AUTH_M2M_REPLAY_DIGEST];

    amcf = static_cast<ngx_http_auth_m2m_main_conf_t *>(
               ngx_http_get_module_main_conf(r, ngx_http_auth_m2m_module));

    if (amcf->dpop_replay == NULL) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "auth_m2m: no DPoP replay cache");
        return NGX_ERROR;
    }

    ctx = static_cast<ngx_http_auth_m2m_replay_t *>(amcf->dpop_replay->data);

    if (!ngx_http_auth_m2m_replay_digest(jkt, jti, digest)) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "auth_m2m: SHA-256 of a DPoP proof's jti failed");
        return NGX_ERROR;
    }

    ngx_memcpy(&key, digest, sizeof(ngx_rbtree_key_t));

    evicted = 0;
    warn = false;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    ngx_http_auth_m2m_replay_expire_locked(ctx, now);

    entry = ngx_http_auth_m2m_replay_lookup_locked(ctx, key, digest);

    if (entry) {
        if (entry->expires >= now) {
            ngx_shmtx_unlock(&ctx->shpool->mutex);
            return NGX_DECLINED;
        }

        /* its time had passed, it was only not collected yet */
        ngx_http_auth_m2m_replay_delete_locked(ctx, entry);
    }

    for ( ;; ) {
        entry = static_cast<ngx_http_auth_m2m_replay_node_t *>(
                    ngx_slab_alloc_locked(ctx->shpool,
                        sizeof(ngx_http_auth_m2m_replay_node_t)));
        if (entry) {
            break;
        }

        oldest = ngx_http_auth_m2m_replay_oldest_locked(ctx);
        if (oldest == NULL) {
            break;
        }

        if (oldest->expires >= now) {
            evicted++;
        }

        ngx_http_auth_m2m_replay_delete_locked(ctx, oldest);
    }

    if (entry) {
        entry->node.key = key;
        entry->expires = expires;
        ngx_memcpy(entry->digest, digest, NGX_HTTP_AUTH_M2M_REPLAY_DIGEST);

        ngx_rbtree_insert(&ctx->sh->rbtree, &entry->node);
        ngx_queue_insert_head(&ctx->sh->queue, &entry->queue);
    }

    if (evicted && now - ctx->sh->warned >= NGX_HTTP_AUTH_M2M_REPLAY_WARN) {
        ctx->sh->warned = now;
        warn = true;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    if (warn) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "auth_m2m: DPoP replay cache \"%V\" is full: proofs "
                      "still in their window were forgotten, and could be "
                      "replayed; raise auth_m2m_dpop_replay_cache",
                      &amcf->dpop_replay->shm.name);
    }

    if (entry == NULL) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "auth_m2m: DPoP replay cache \"%V\" has no room for "
                      "a single proof", &amcf->dpop_replay->shm.name);
        return NGX_ERROR;
    }

    return NGX_OK;
}


char *
ngx_http_auth_m2m_dpop_replay_cache(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_auth_m2m_main_conf_t  *amcf =
        static_cast<ngx_http_auth_m2m_main_conf_t *>(conf);

    char  *rv;

    rv = ngx_conf_set_size_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (amcf->dpop_replay_size < 8 * ngx_pagesize) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "auth_m2m_dpop_replay_cache \"%V\" is too small: "
                           "at least %uzk",
                           &static_cast<ngx_str_t *>(cf->args->elts)[1],
                           8 * ngx_pagesize / 1024);
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    return NGX_CONF_OK;
}


/* The zone, when any issuer is defined (as the auth_m2m zone): a location
 * allows DPoP unless it says auth_m2m_dpop off. Its memory is only touched
 * as proofs arrive. */
ngx_int_t
ngx_http_auth_m2m_dpop_replay_zone(ngx_conf_t *cf,
    ngx_http_auth_m2m_main_conf_t *amcf)
{
    ngx_shm_zone_t              *zone;
    ngx_http_auth_m2m_replay_t  *ctx;

    static ngx_str_t  name = ngx_string("auth_m2m_dpop_replay");

    ngx_conf_init_size_value(amcf->dpop_replay_size,
                             NGX_HTTP_AUTH_M2M_DPOP_REPLAY_SIZE);

    if (amcf->issuers.nelts == 0) {
        return NGX_OK;
    }

    ctx = static_cast<ngx_http_auth_m2m_replay_t *>(
              ngx_pcalloc(cf->pool, sizeof(ngx_http_auth_m2m_replay_t)));
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    zone = ngx_shared_memory_add(cf, &name, amcf->dpop_replay_size,
                                 &ngx_http_auth_m2m_module);
    if (zone == NULL) {
        return NGX_ERROR;
    }

    if (zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is already used", &name);
        return NGX_ERROR;
    }

    zone->init = ngx_http_auth_m2m_replay_init_zone;
    zone->data = ctx;

    amcf->dpop_replay = zone;

    return NGX_OK;
}
