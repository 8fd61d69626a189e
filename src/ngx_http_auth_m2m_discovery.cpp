/*
 * The discovery key source: an attempt has two stages, the issuer's metadata
 * document (OpenID Connect discovery or RFC 8414), which names the jwks_uri,
 * then the key set from there, as jwks_uri fetches it. The jwks_uri a
 * document names is held to the rules of the configured URL.
 */

#include "ngx_http_auth_m2m_fetch.h"
#include "ngx_http_auth_m2m_source.h"
#include "ngx_http_auth_m2m_zone.h"

#include "core/fetch/discovery.h"


namespace {

typedef enum {
    NGX_HTTP_AUTH_M2M_DISCOVERY_DOCUMENT = 0,
    NGX_HTTP_AUTH_M2M_DISCOVERY_KEYS
} ngx_http_auth_m2m_discovery_stage_e;


typedef struct {
    ngx_http_auth_m2m_discovery_stage_e   stage;    /* of this worker's
                                                       attempt */
    ngx_http_auth_m2m_target_t           *jwks_uri; /* the one named last, */
    ngx_pool_t                           *pool;     /* allocated here */
} ngx_http_auth_m2m_discovery_t;


ngx_command_t  ngx_http_auth_m2m_discovery_commands[] = {

    { ngx_string("discovery"),
      NGX_CONF_TAKE1,
      ngx_http_auth_m2m_set_remote,
      0,
      0,
      &ngx_http_auth_m2m_source_discovery },

      ngx_null_command
};


ngx_int_t
ngx_http_auth_m2m_discovery_finish(ngx_conf_t *cf,
    ngx_http_auth_m2m_issuer_t *issuer)
{
    issuer->source_data = ngx_pcalloc(cf->pool,
                                      sizeof(ngx_http_auth_m2m_discovery_t));
    if (issuer->source_data == NULL) {
        return NGX_ERROR;
    }

    ngx_http_auth_m2m_remote_warnings(cf, issuer);

    return NGX_OK;
}


/* A document on an internal http:// address may name an https:// jwks_uri,
 * so discovery always gets a TLS context. */
ngx_int_t
ngx_http_auth_m2m_discovery_prepare(ngx_conf_t *cf,
    ngx_http_auth_m2m_issuer_t *issuer)
{
    return ngx_http_auth_m2m_prepare_remote(cf, issuer, true);
}


/* The jwks_uri a document named: reused while it stays the same; a new one
 * gets a pool of its own and the previous pool goes, so a worker does not
 * grow with every refresh. */
const char *
ngx_http_auth_m2m_discovered_target(ngx_http_auth_m2m_issuer_t *issuer,
    ngx_http_auth_m2m_discovery_t *ctx, const std::string &uri,
    ngx_http_auth_m2m_target_t **out)
{
    const char                  *error = NULL;
    ngx_str_t                    url;
    ngx_pool_t                  *pool;
    ngx_http_auth_m2m_target_t  *t, *d = ctx->jwks_uri;

    if (d && d->url.len == uri.size()
        && ngx_strncmp(d->url.data, uri.data(), uri.size()) == 0)
    {
        *out = d;
        return NULL;
    }

    pool = ngx_create_pool(1024, ngx_cycle->log);
    if (pool == NULL) {
        return "out_of_memory";
    }

    t = static_cast<ngx_http_auth_m2m_target_t *>(
            ngx_pcalloc(pool, sizeof(ngx_http_auth_m2m_target_t)));

    if (t == NULL || ngx_http_auth_m2m_copy_str(pool, uri, &url) != NGX_OK) {
        error = "out_of_memory";

    } else if (ngx_http_auth_m2m_parse_target(pool, ngx_cycle->log,
                                              NGX_LOG_INFO, &url, t, 0)
               != NGX_OK)
    {
        error = "discovery_bad_jwks_uri";

    } else if (issuer->target.https && !t->https) {
        /* keys must not travel with less protection than their metadata */
        error = "discovery_jwks_uri_not_https";

    } else if (issuer->resolver == NULL) {
        /* without a resolver only the discovery host's addresses are known */
        if (t->host.len != issuer->target.host.len
            || ngx_strncasecmp(t->host.data, issuer->target.host.data,
                               t->host.len) != 0
            || t->port != issuer->target.port)
        {
            error = "jwks_uri_host_needs_resolver";

        } else {
            t->addrs = issuer->target.addrs;
            t->naddrs = issuer->target.naddrs;
        }
    }

    if (error) {
        ngx_destroy_pool(pool);
        return error;
    }

    if (ctx->pool) {
        ngx_destroy_pool(ctx->pool);
    }

    ctx->pool = pool;
    ctx->jwks_uri = t;
    *out = t;

    return NULL;
}


/* The document: the jwks_uri it names in *next, or the reason there is
 * none. May throw. */
const char *
ngx_http_auth_m2m_document_fetched(ngx_http_auth_m2m_issuer_t *issuer,
    ngx_http_auth_m2m_discovery_t *ctx, ngx_http_auth_m2m_fetch_t *f,
    ngx_http_auth_m2m_target_t **next)
{
    const char   *error = f->error;
    std::string   uri;
    m2m::Reason   status;

    if (error == NULL && f->response->status() != 200) {
        error = ngx_http_auth_m2m_http_status(f);
    }

    if (error == NULL) {
        status = m2m::parse_discovery(f->response->body(),
                                      issuer->policy->issuer, &uri);
        if (status != m2m::Reason::ok) {
            error = m2m::reason_code(status);
        }
    }

    if (error == NULL) {
        error = ngx_http_auth_m2m_discovered_target(issuer, ctx, uri, next);
    }

    if (error == NULL) {
        ngx_http_auth_m2m_zone_set_jwks_uri(issuer, &(*next)->display);
    }

    return error;
}


/* The document is fetched afresh each time: the validators kept are the
 * key set's. */
ngx_http_auth_m2m_target_t *
ngx_http_auth_m2m_discovery_begin(ngx_http_auth_m2m_issuer_t *issuer,
    bool *conditional)
{
    ngx_http_auth_m2m_discovery_t  *ctx =
        static_cast<ngx_http_auth_m2m_discovery_t *>(issuer->source_data);

    ctx->stage = NGX_HTTP_AUTH_M2M_DISCOVERY_DOCUMENT;
    *conditional = false;

    return &issuer->target;
}


const char *
ngx_http_auth_m2m_discovery_complete(ngx_http_auth_m2m_issuer_t *issuer,
    ngx_http_auth_m2m_fetch_t *f, ngx_http_auth_m2m_target_t **next)
{
    const char                     *error;
    ngx_http_auth_m2m_discovery_t  *ctx =
        static_cast<ngx_http_auth_m2m_discovery_t *>(issuer->source_data);

    if (ctx->stage == NGX_HTTP_AUTH_M2M_DISCOVERY_KEYS) {
        return ngx_http_auth_m2m_keys_fetched(issuer, f, next);
    }

    error = ngx_http_auth_m2m_document_fetched(issuer, ctx, f, next);

    if (error == NULL) {
        ctx->stage = NGX_HTTP_AUTH_M2M_DISCOVERY_KEYS;
    }

    return error;
}

} /* namespace */


ngx_http_auth_m2m_source_t  ngx_http_auth_m2m_source_discovery = {
    "discovery",
    ngx_http_auth_m2m_discovery_commands,
    ngx_http_auth_m2m_discovery_finish,
    ngx_http_auth_m2m_discovery_prepare,
    ngx_http_auth_m2m_remote_zone_key,
    ngx_http_auth_m2m_discovery_begin,
    ngx_http_auth_m2m_discovery_complete,
    ngx_http_auth_m2m_describe_remote
};
