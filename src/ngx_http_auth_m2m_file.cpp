/*
 * The jwks_file key source: the file is read and its keys installed while
 * the configuration is parsed, so "nginx -t" reports a bad key file, and
 * again on every reload. The workers inherit the keys; nothing is fetched.
 */

#include "ngx_http_auth_m2m_source.h"


namespace {

typedef struct {
    ngx_str_t                     path;
    time_t                        loaded;
} ngx_http_auth_m2m_file_t;


char *ngx_http_auth_m2m_set_jwks_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


ngx_command_t  ngx_http_auth_m2m_file_commands[] = {

    { ngx_string("jwks_file"),
      NGX_CONF_TAKE1,
      ngx_http_auth_m2m_set_jwks_file,
      0,
      offsetof(ngx_http_auth_m2m_file_t, path),
      NULL },

      ngx_null_command
};


/* May throw. */
ngx_int_t
ngx_http_auth_m2m_load_jwks_file(ngx_conf_t *cf,
    ngx_http_auth_m2m_issuer_t *issuer, ngx_http_auth_m2m_file_t *file)
{
    std::string   text;
    const char   *reason;

    if (ngx_http_auth_m2m_read_conf_file(cf, issuer, "jwks_file",
                                         &file->path, 0, &text)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_auth_m2m_install_conf_keys(cf, issuer, text, &file->path,
                                            &reason)
        != NGX_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "auth_m2m_issuer \"%V\": \"jwks_file\" \"%V\" "
                           "is not a usable JWK Set: %s",
                           &issuer->name, &file->path, reason);
        return NGX_ERROR;
    }

    file->loaded = ngx_time();

    return NGX_OK;
}


/* May throw. */
char *
ngx_http_auth_m2m_set_jwks_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_auth_m2m_issuer_t  *issuer =
        static_cast<ngx_http_auth_m2m_issuer_t *>(conf);

    char                      *rv;
    ngx_http_auth_m2m_file_t  *file;

    rv = ngx_http_auth_m2m_set_source(cf, issuer,
                                      &ngx_http_auth_m2m_source_file);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    file = static_cast<ngx_http_auth_m2m_file_t *>(
               ngx_pcalloc(cf->pool, sizeof(ngx_http_auth_m2m_file_t)));
    if (file == NULL) {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    issuer->source_data = file;

    rv = ngx_conf_set_str_slot(cf, cmd, file);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (ngx_conf_full_name(cf->cycle, &file->path, 1) != NGX_OK
        || ngx_http_auth_m2m_load_jwks_file(cf, issuer, file) != NGX_OK)
    {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_auth_m2m_file_finish(ngx_conf_t *cf,
    ngx_http_auth_m2m_issuer_t *issuer)
{
    ngx_http_auth_m2m_tls_unused(cf, issuer);

    return NGX_OK;
}


void
ngx_http_auth_m2m_file_describe(ngx_http_auth_m2m_issuer_t *issuer,
    m2m::IssuerReport *report)
{
    ngx_http_auth_m2m_file_t  *file =
        static_cast<ngx_http_auth_m2m_file_t *>(issuer->source_data);

    report->location = ngx_http_auth_m2m_string(file->path.data,
                                                file->path.len);
    report->generation = 1;
    report->last_attempt = file->loaded;
    report->last_success = file->loaded;
}

} /* namespace */


ngx_http_auth_m2m_source_t  ngx_http_auth_m2m_source_file = {
    "jwks_file",
    ngx_http_auth_m2m_file_commands,
    ngx_http_auth_m2m_file_finish,
    NULL,                                  /* prepare */
    NULL,                                  /* zone_key: not shared */
    NULL,                                  /* begin */
    NULL,                                  /* complete */
    ngx_http_auth_m2m_file_describe
};
