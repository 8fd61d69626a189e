/*
 * The jwks_uri key source: the workers fetch the JWK Set from the configured
 * URL, conditionally once they have keys, and share it through the zone.
 */

#include "ngx_http_auth_m2m_source.h"


namespace {

ngx_command_t  ngx_http_auth_m2m_jwks_uri_commands[] = {

    { ngx_string("jwks_uri"),
      NGX_CONF_TAKE1,
      ngx_http_auth_m2m_set_remote,
      0,
      0,
      &ngx_http_auth_m2m_source_jwks_uri },

      ngx_null_command
};


ngx_int_t
ngx_http_auth_m2m_jwks_uri_finish(ngx_conf_t *cf,
    ngx_http_auth_m2m_issuer_t *issuer)
{
    if (!issuer->target.https) {
        ngx_http_auth_m2m_tls_unused(cf, issuer);
    }

    ngx_http_auth_m2m_remote_warnings(cf, issuer);

    return NGX_OK;
}


ngx_int_t
ngx_http_auth_m2m_jwks_uri_prepare(ngx_conf_t *cf,
    ngx_http_auth_m2m_issuer_t *issuer)
{
    return ngx_http_auth_m2m_prepare_remote(cf, issuer, issuer->target.https);
}


ngx_http_auth_m2m_target_t *
ngx_http_auth_m2m_jwks_uri_begin(ngx_http_auth_m2m_issuer_t *issuer,
    bool *conditional)
{
    *conditional = true;

    return &issuer->target;
}
} /* namespace */


ngx_http_auth_m2m_source_t  ngx_http_auth_m2m_source_jwks_uri = {
    "jwks_uri",
    ngx_http_auth_m2m_jwks_uri_commands,
    ngx_http_auth_m2m_jwks_uri_finish,
    ngx_http_auth_m2m_jwks_uri_prepare,
    ngx_http_auth_m2m_remote_zone_key,
    ngx_http_auth_m2m_jwks_uri_begin,
    ngx_http_auth_m2m_keys_fetched,        /* the only fetch: the key set */
    ngx_http_auth_m2m_describe_remote
};
