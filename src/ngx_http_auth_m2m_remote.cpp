/*
 * The remote key sources, jwks_uri and discovery, before the workers start:
 * the URL is parsed at its directive; once the http block is complete, the
 * key server's addresses are resolved (or the resolver that will find them
 * is bound) and a TLS client context is made.
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
