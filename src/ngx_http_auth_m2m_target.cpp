/*
 * Key server URLs: jwks_uri and discovery from the configuration, and the
 * jwks_uri a discovery document names at run time.
 */

#include "ngx_http_auth_m2m.h"


/* level: NGX_LOG_EMERG for the configuration; NGX_LOG_INFO for a URL that a
 * discovery document supplied at run time, whose failure the refresh logs
 * once, at error, with the issuer. */
ngx_int_t
ngx_http_auth_m2m_parse_target(ngx_pool_t *pool, ngx_log_t *log,
    ngx_uint_t level, ngx_str_t *url, ngx_http_auth_m2m_target_t *target,
    ngx_uint_t resolve)
{
    size_t     skip;
    u_char    *p;
    ngx_url_t  u;

    ngx_memzero(target, sizeof(ngx_http_auth_m2m_target_t));
    ngx_memzero(&u, sizeof(ngx_url_t));

    if (url->len > 8 && ngx_strncasecmp(url->data, (u_char *) "https://", 8)
                        == 0)
    {
        skip = 8;
        u.default_port = 443;
        target->https = 1;

    } else if (url->len > 7
               && ngx_strncasecmp(url->data, (u_char *) "http://", 7) == 0)
    {
        skip = 7;
        u.default_port = 80;

    } else {
        ngx_log_error(level, log, 0,
                      "invalid URL \"%V\": only http:// and https:// are "
                      "supported", url);
        return NGX_ERROR;
    }

#if !(NGX_SSL)
    if (target->https) {
        ngx_log_error(level, log, 0,
                      "https URL \"%V\" needs nginx built with OpenSSL", url);
        return NGX_ERROR;
    }
#endif

    u.url.len = url->len - skip;
    u.url.data = url->data + skip;
    u.uri_part = 1;
    u.no_resolve = resolve ? 0 : 1;

    if (ngx_parse_url(pool, &u) != NGX_OK) {
        ngx_log_error(level, log, 0, "%s in URL \"%V\"",
                      u.err ? u.err : "invalid host", url);
        return NGX_ERROR;
    }

    if (u.host.len == 0) {
        ngx_log_error(level, log, 0, "no host in URL \"%V\"", url);
        return NGX_ERROR;
    }

    target->url = *url;

    /* a query may carry an API key of the key server: never shown */
    target->display = *url;
    p = static_cast<u_char *>(ngx_strlchr(url->data, url->data + url->len,
                                          '?'));
    if (p) {
        target->display.len = p - url->data;
    }
    target->port = u.port;
    target->addrs = u.addrs;
    target->naddrs = u.naddrs;

    /* NUL-terminated: SSL_set_tlsext_host_name() takes a C string */
    target->host.len = u.host.len;
    target->host.data = static_cast<u_char *>(ngx_pnalloc(pool,
                                                          u.host.len + 1));
    if (target->host.data == NULL) {
        return NGX_ERROR;
    }
    *ngx_cpymem(target->host.data, u.host.data, u.host.len) = '\0';

    target->host_header.data = static_cast<u_char *>(
        ngx_pnalloc(pool, u.host.len + sizeof(":65535") - 1));
    if (target->host_header.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(target->host_header.data, u.host.data, u.host.len);
    if (u.port != u.default_port) {
        p = ngx_sprintf(p, ":%d", (int) u.port);
    }
    target->host_header.len = p - target->host_header.data;

    if (u.uri.len) {
        target->uri = u.uri;
    } else {
        ngx_str_set(&target->uri, "/");
    }

    return NGX_OK;
}
