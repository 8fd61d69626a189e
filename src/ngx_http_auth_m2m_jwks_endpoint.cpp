/*
 * auth_m2m_jwks_endpoint: a local issuer's public JWK Set, the public half of
 * every signing_key (kty, kid, use, alg and the public members only), which
 * other gateways' jwks_uri or discovery read. Made once at configuration;
 * served with Cache-Control: max-age and an ETag, so that a refresh by a
 * gateway that keeps validators (this module's does) costs a 304.
 */

#include "ngx_http_auth_m2m_local.h"

#include <openssl/evp.h>


namespace {

ngx_int_t
ngx_http_auth_m2m_jwks_handler(ngx_http_request_t *r)
{
    u_char                        *p;
    ngx_int_t                      rc;
    ngx_str_t                      body, etag;
    unsigned int                   size;
    unsigned char                  digest[EVP_MAX_MD_SIZE];
    ngx_http_auth_m2m_local_t     *local;
    ngx_http_auth_m2m_loc_conf_t  *alcf;

    rc = ngx_http_auth_m2m_endpoint_method(r);
    if (rc != NGX_OK) {
        return rc;
    }

    alcf = static_cast<ngx_http_auth_m2m_loc_conf_t *>(
               ngx_http_get_module_loc_conf(r, ngx_http_auth_m2m_module));

    /* checked at configuration: the issuer is local */
    local = ngx_http_auth_m2m_local(alcf->endpoint->issuer);

    body.data = reinterpret_cast<u_char *>(&(*local->jwks)[0]);
    body.len = local->jwks->size();

    /* the set's own hash: it changes exactly when the set does, whatever
     * reload made it */
    if (EVP_Digest(body.data, body.len, digest, &size, EVP_sha256(), NULL)
        != 1)
    {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "auth_m2m_jwks_endpoint: SHA-256 failed");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = static_cast<u_char *>(ngx_pnalloc(r->pool, 2 + 2 * 16));
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    etag.data = p;
    *p++ = '"';
    p = ngx_hex_dump(p, digest, 16);
    *p++ = '"';
    etag.len = p - etag.data;

    return ngx_http_auth_m2m_send_json(r, &body,
                                       NGX_HTTP_AUTH_M2M_ENDPOINT_MAX_AGE,
                                       &etag);
}

} /* namespace */


char *
ngx_http_auth_m2m_jwks_endpoint(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_auth_m2m_loc_conf_t  *alcf =
        static_cast<ngx_http_auth_m2m_loc_conf_t *>(conf);

    if (ngx_http_auth_m2m_add_endpoint(cf, alcf,
                                       ngx_http_auth_m2m_jwks_handler)
        == NULL)
    {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    return NGX_CONF_OK;
}
