/*
 * What the fetched key sources, jwks_uri and discovery, share. Before the
 * workers start: the URL is parsed at its directive; once the http block is
 * complete, the key server's addresses are resolved (or the resolver that
 * will find them is bound) and a TLS client context is made. In the
 * workers: the fetch of the key set, which goes through the zone to every
 * worker, and the issuer's part of the status page.
 */

#include "ngx_http_auth_m2m_fetch.h"
#include "ngx_http_auth_m2m_source.h"
#include "ngx_http_auth_m2m_zone.h"


namespace {

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


/* A view of s for the zone, which only copies from it. */
void
ngx_http_auth_m2m_view(ngx_str_t *out, const std::string &s)
{
    out->data = reinterpret_cast<u_char *>(const_cast<char *>(s.data()));
    out->len = s.size();
}

} /* namespace */


/* The directive of jwks_uri or discovery; its post is the source. May
 * throw. */
char *
ngx_http_auth_m2m_set_remote(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_auth_m2m_issuer_t  *issuer =
        static_cast<ngx_http_auth_m2m_issuer_t *>(conf);

    ngx_str_t  *value = static_cast<ngx_str_t *>(cf->args->elts);

    char  *rv = ngx_http_auth_m2m_set_source(
                    cf, issuer,
                    static_cast<ngx_http_auth_m2m_source_t *>(cmd->post));

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


/* At the end of an issuer block: plain http is warned about. */
void
ngx_http_auth_m2m_remote_warnings(ngx_conf_t *cf,
    ngx_http_auth_m2m_issuer_t *issuer)
{
    if (!issuer->target.https) {
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
 * proxy_pass does. tls: the source needs a TLS client context.
 */
ngx_int_t
ngx_http_auth_m2m_prepare_remote(ngx_conf_t *cf,
    ngx_http_auth_m2m_issuer_t *issuer, bool tls)
{
    ngx_http_core_loc_conf_t  *clcf;

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

    if (!tls) {
        return NGX_OK;
    }

#if (NGX_SSL)
    return ngx_http_auth_m2m_create_ssl(cf, issuer);
#else
    return issuer->target.https ? NGX_ERROR : NGX_OK;
#endif
}


/* The zone entry holds the set fetched from the configured URL. */
ngx_str_t *
ngx_http_auth_m2m_remote_zone_key(ngx_http_auth_m2m_issuer_t *issuer)
{
    return &issuer->target.url;
}


/* The reason for an answer that is not the one a fetch expects:
 * "http_status_NNN", in the fetch's pool. */
const char *
ngx_http_auth_m2m_http_status(ngx_http_auth_m2m_fetch_t *f)
{
    u_char  *p;

    p = static_cast<u_char *>(ngx_pnalloc(f->pool, sizeof("http_status_")
                                                   + NGX_INT_T_LEN));
    if (p == NULL) {
        return "out_of_memory";
    }

    ngx_sprintf(p, "http_status_%d%Z", f->response->status());

    return reinterpret_cast<char *>(p);
}


/* The key set's fetch ended, the attempt's last: the set stored and
 * installed, or found unchanged; or the reason it was not. */
const char *
ngx_http_auth_m2m_keys_fetched(ngx_http_auth_m2m_issuer_t *issuer,
    ngx_http_auth_m2m_fetch_t *f, ngx_http_auth_m2m_target_t **next)
{
    int                          code;
    const char                  *reason;
    ngx_http_auth_m2m_jwks_t     jwks;
    ngx_http_auth_m2m_fetched_t  fetched;

    if (f->error) {
        return f->error;
    }

    code = f->response->status();

    if (code == 304) {
        if (issuer->keys->generation == 0) {
            return "unexpected_not_modified";
        }

        ngx_http_auth_m2m_zone_not_modified(issuer,
                                   ngx_http_auth_m2m_refresh_in(issuer, f));
        return NULL;
    }

    if (code != 200) {
        return ngx_http_auth_m2m_http_status(f);
    }

    ngx_http_auth_m2m_view(&fetched.jwks, f->response->body());
    ngx_http_auth_m2m_view(&fetched.etag, f->response->etag());
    ngx_http_auth_m2m_view(&fetched.last_modified,
                           f->response->last_modified());
    fetched.refresh_in = ngx_http_auth_m2m_refresh_in(issuer, f);

    jwks.text = f->response->body();
    jwks.from = &f->target->display;
    jwks.cf = NULL;
    jwks.fetched = &fetched;
    jwks.generation = 0;

    if (ngx_http_auth_m2m_install_keys(issuer, &jwks, &reason) != NGX_OK) {
        return reason;
    }

    return NULL;
}


/* The status page: the configured URL and the zone entry. May throw. */
void
ngx_http_auth_m2m_describe_remote(ngx_http_auth_m2m_issuer_t *issuer,
    m2m::IssuerReport *report)
{
    ngx_http_auth_m2m_issuer_sh_t  copy;

    report->location = ngx_http_auth_m2m_string(issuer->target.display.data,
                                                issuer->target.display.len);

    /* the strings below may throw: they are made from a copy, unlocked */
    ngx_http_auth_m2m_zone_snapshot(issuer, &copy);

    report->jwks_uri = ngx_http_auth_m2m_string(copy.jwks_uri,
                                                copy.jwks_uri_len);
    report->generation = copy.generation;
    report->last_attempt = copy.last_attempt;
    report->last_success = copy.last_success;
    report->last_error_time = copy.last_error_time;
    report->last_error = ngx_http_auth_m2m_string(copy.last_error,
                                                  copy.last_error_len);
    report->next_refresh = copy.next_refresh;
    report->fetch_ok = copy.fetch_ok;
    report->fetch_failed = copy.fetch_failed;
    report->fetch_not_modified = copy.fetch_not_modified;
    report->fetch_kid_triggered = copy.fetch_kid_triggered;
}
