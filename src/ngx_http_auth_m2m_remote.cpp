/*
 * The remote key sources, jwks_uri and discovery, before the workers start:
 * the URL is parsed at its directive; once the http block is complete, the
 * key server's addresses are resolved (or the resolver that will find them
 * is bound) and a TLS client context is made. In the workers, the jwks_uri
 * that a discovery document names is held to the same rules.
 */

#include "ngx_http_auth_m2m.h"


namespace {

char *
ngx_http_auth_m2m_set_remote(ngx_conf_t *cf, ngx_http_auth_m2m_issuer_t *issuer,
    ngx_http_auth_m2m_source_e source)
{
    ngx_str_t  *value = static_cast<ngx_str_t *>(cf->args->elts);

    char  *rv = ngx_http_auth_m2m_set_source(cf, issuer, source);

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    /* resolved once the whole http block shows whether a resolver is set */
    if (ngx_http_auth_m2m_parse_target(cf->pool, cf->log, NGX_LOG_EMERG,
                                       &value[1], &issuer->target, 0)
        != NGX_OK)
    {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    issuer->url_file = cf->conf_file->file.name.data;
    issuer->url_line = cf->conf_file->line;

    return NGX_CONF_OK;
}


#if (NGX_SSL)

ngx_int_t
ngx_http_auth_m2m_create_ssl(ngx_conf_t *cf, ngx_http_auth_m2m_issuer_t *issuer)
{
    ngx_pool_cleanup_t  *cln;

    issuer->ssl = static_cast<ngx_ssl_t *>(ngx_pcalloc(cf->pool,
                                                       sizeof(ngx_ssl_t)));
    if (issuer->ssl == NULL) {
        return NGX_ERROR;
    }

    issuer->ssl->log = cf->log;

    if (ngx_ssl_create(issuer->ssl, NGX_SSL_TLSv1_2|NGX_SSL_TLSv1_3, NULL)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ngx_ssl_cleanup_ctx(issuer->ssl);
        return NGX_ERROR;
    }

    cln->handler = ngx_ssl_cleanup_ctx;
    cln->data = issuer->ssl;

    if (issuer->trusted_certificate.len == 0) {
        if (SSL_CTX_set_default_verify_paths(issuer->ssl->ctx) != 1) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "auth_m2m_issuer \"%V\": cannot load the system "
                          "CA bundle", &issuer->name);
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    return ngx_ssl_trusted_certificate(cf, issuer->ssl,
                                       &issuer->trusted_certificate, 10);
}

#endif

} /* namespace */


char *
ngx_http_auth_m2m_set_jwks_uri(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    return ngx_http_auth_m2m_set_remote(
               cf, static_cast<ngx_http_auth_m2m_issuer_t *>(conf),
               NGX_HTTP_AUTH_M2M_SOURCE_URI);
}


char *
ngx_http_auth_m2m_set_discovery(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    return ngx_http_auth_m2m_set_remote(
               cf, static_cast<ngx_http_auth_m2m_issuer_t *>(conf),
               NGX_HTTP_AUTH_M2M_SOURCE_DISCOVERY);
}


/* Called when an issuer block ends: only then is its key source known. */
void
ngx_http_auth_m2m_remote_warnings(ngx_conf_t *cf,
    ngx_http_auth_m2m_issuer_t *issuer)
{
    if (issuer->trusted_certificate.len
        && (issuer->source == NGX_HTTP_AUTH_M2M_SOURCE_FILE
            || (issuer->source == NGX_HTTP_AUTH_M2M_SOURCE_URI
                && !issuer->target.https)))
    {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "auth_m2m_issuer \"%V\": \"trusted_certificate\" "
                           "is ignored without an https key source",
                           &issuer->name);
    }

    if ((issuer->source == NGX_HTTP_AUTH_M2M_SOURCE_URI
         || issuer->source == NGX_HTTP_AUTH_M2M_SOURCE_DISCOVERY)
        && !issuer->target.https)
    {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "auth_m2m_issuer \"%V\": keys come over plain "
                           "http from \"%V\": anyone on the network path "
                           "can supply keys; use https",
                           &issuer->name, &issuer->target.display);
    }
}


/*
 * Runs once the whole http block is parsed: only then is it known whether a
 * "resolver" is configured. Without one, host names are resolved now, as
 * proxy_pass does.
 */
ngx_int_t
ngx_http_auth_m2m_prepare_remote(ngx_conf_t *cf,
    ngx_http_auth_m2m_issuer_t *issuer)
{
    ngx_http_core_loc_conf_t  *clcf;

    if (issuer->source != NGX_HTTP_AUTH_M2M_SOURCE_URI
        && issuer->source != NGX_HTTP_AUTH_M2M_SOURCE_DISCOVERY)
    {
        return NGX_OK;
    }

    clcf = static_cast<ngx_http_core_loc_conf_t *>(
               ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module));

    if (clcf->resolver && clcf->resolver->connections.nelts) {
        issuer->resolver = clcf->resolver;
        issuer->resolver_timeout = clcf->resolver_timeout
                                   == NGX_CONF_UNSET_MSEC
                                   ? 30000 : clcf->resolver_timeout;

    } else {
        ngx_str_t  url = issuer->target.url;

        if (ngx_http_auth_m2m_parse_target(cf->pool, cf->log, NGX_LOG_EMERG,
                                           &url, &issuer->target, 1)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "auth_m2m_issuer \"%V\": cannot resolve the key "
                          "server in %s:%ui", &issuer->name, issuer->url_file,
                          issuer->url_line);
            return NGX_ERROR;
        }
    }

    /* a discovery document on an internal http:// address may name an
     * https:// jwks_uri, so discovery always gets a TLS context */
    if (!issuer->target.https
        && issuer->source != NGX_HTTP_AUTH_M2M_SOURCE_DISCOVERY)
    {
        return NGX_OK;
    }

#if (NGX_SSL)
    return ngx_http_auth_m2m_create_ssl(cf, issuer);
#else
    return issuer->target.https ? NGX_ERROR : NGX_OK;
#endif
}


/* The jwks_uri a discovery document named: reused while it stays the same;
 * a new one gets a pool of its own and the previous pool goes, so a worker
 * does not grow with every refresh. */
const char *
ngx_http_auth_m2m_discovered_target(ngx_http_auth_m2m_issuer_t *issuer,
    const std::string &uri, ngx_http_auth_m2m_target_t **out)
{
    const char                  *error = NULL;
    ngx_str_t                    url;
    ngx_pool_t                  *pool;
    ngx_http_auth_m2m_target_t  *t, *d = issuer->discovered;

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

    if (issuer->discovered_pool) {
        ngx_destroy_pool(issuer->discovered_pool);
    }

    issuer->discovered_pool = pool;
    issuer->discovered = t;
    *out = t;

    return NULL;
}
