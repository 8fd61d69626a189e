/*
 * auth_m2m_metadata_endpoint: a local issuer's RFC 8414 metadata, which
 * other gateways' discovery reads. "issuer" is the block's own, byte for
 * byte; the endpoint URLs are the conventional paths (or the ones the
 * directive's parameters give) under the request's scheme and Host, or
 * under auth_m2m_base_url behind a proxy that terminates TLS or rewrites
 * the host.
 */

#include "ngx_http_auth_m2m_local.h"

#include "core/issuer/metadata.h"


namespace {

/* The metadata text, or an HTTP status. May throw. */
ngx_int_t
ngx_http_auth_m2m_render_metadata(ngx_http_request_t *r,
    ngx_http_auth_m2m_loc_conf_t *alcf, std::string *out)
{
    ngx_int_t                          rc;
    std::string                        base;
    const m2m::Registry               *registry;
    m2m::MetadataEndpoints             where;
    std::vector<std::string>           scopes;
    ngx_http_auth_m2m_endpoint_t      *endpoint = alcf->endpoint;
    ngx_http_auth_m2m_local_t         *local;
    std::optional<std::string>         text;

    /* checked at configuration: the issuer is local */
    local = ngx_http_auth_m2m_local(endpoint->issuer);

    rc = ngx_http_auth_m2m_endpoint_base(r, alcf, &base);
    if (rc != NGX_OK) {
        return rc;
    }

    if (local->clients.len) {
        registry = ngx_http_auth_m2m_registry(endpoint->issuer,
                                              r->connection->log);

        if (registry) {
            for (const m2m::Client &client : registry->clients) {
                scopes.insert(scopes.end(), client.scopes.begin(),
                              client.scopes.end());
            }
        }
    }

    if (endpoint->token.len) {
        where.token = ngx_http_auth_m2m_view(endpoint->token);
    }

    if (endpoint->jwks.len) {
        where.jwks = ngx_http_auth_m2m_view(endpoint->jwks);
    }

    if (endpoint->no_registration) {
        where.registration = std::string_view();

    } else if (endpoint->registration.len) {
        where.registration = ngx_http_auth_m2m_view(endpoint->registration);
    }

    text = m2m::server_metadata(endpoint->issuer->policy->issuer, base, where,
                                scopes);
    if (!text) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "auth_m2m_metadata_endpoint: out of memory");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    *out = std::move(*text);

    return NGX_OK;
}


ngx_int_t
ngx_http_auth_m2m_metadata_handler(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_str_t                      body;
    std::string                    text;
    ngx_http_auth_m2m_loc_conf_t  *alcf;

    rc = ngx_http_auth_m2m_endpoint_method(r);
    if (rc != NGX_OK) {
        return rc;
    }

    alcf = static_cast<ngx_http_auth_m2m_loc_conf_t *>(
               ngx_http_get_module_loc_conf(r, ngx_http_auth_m2m_module));

    try {
        rc = ngx_http_auth_m2m_render_metadata(r, alcf, &text);

        if (rc == NGX_OK
            && ngx_http_auth_m2m_copy_str(r->pool, text, &body) != NGX_OK)
        {
            rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

    } catch (const std::exception &e) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "auth_m2m_metadata_endpoint: %s", e.what());
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_auth_m2m_send_json(r, &body,
                                       NGX_HTTP_AUTH_M2M_ENDPOINT_MAX_AGE,
                                       NULL);
}


/* token=, jwks= or registration= of auth_m2m_metadata_endpoint. */
char *
ngx_http_auth_m2m_metadata_param(ngx_conf_t *cf,
    ngx_http_auth_m2m_endpoint_t *endpoint, ngx_str_t *param)
{
    u_char     *eq;
    ngx_str_t   name, value, *slot;

    eq = static_cast<u_char *>(ngx_strlchr(param->data,
                                           param->data + param->len, '='));
    if (eq == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\": expected token=, "
                           "jwks= or registration=", param);
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    name.data = param->data;
    name.len = eq - param->data;
    value.data = eq + 1;
    value.len = param->data + param->len - value.data;

    if (name.len == 5 && ngx_strncmp(name.data, "token", 5) == 0) {
        slot = &endpoint->token;

    } else if (name.len == 4 && ngx_strncmp(name.data, "jwks", 4) == 0) {
        slot = &endpoint->jwks;

    } else if (name.len == 12
               && ngx_strncmp(name.data, "registration", 12) == 0)
    {
        slot = &endpoint->registration;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\": expected token=, "
                           "jwks= or registration=", param);
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    if (slot->data || (slot == &endpoint->registration
                       && endpoint->no_registration))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate parameter \"%V\"", &name);
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    if (slot == &endpoint->registration && value.len == 3
        && ngx_strncmp(value.data, "off", 3) == 0)
    {
        endpoint->no_registration = 1;
        return NGX_CONF_OK;
    }

    if (!m2m::is_endpoint_location(ngx_http_auth_m2m_view(value))) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\": not a path (\"/...\") "
                           "or an http:// or https:// URL without query, "
                           "fragment or characters to escape", param);
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    *slot = value;

    return NGX_CONF_OK;
}

} /* namespace */


char *
ngx_http_auth_m2m_metadata_endpoint(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_auth_m2m_loc_conf_t  *alcf =
        static_cast<ngx_http_auth_m2m_loc_conf_t *>(conf);

    char                          *rv;
    ngx_str_t                     *value;
    ngx_uint_t                     i;
    ngx_http_auth_m2m_endpoint_t  *endpoint;

    endpoint = ngx_http_auth_m2m_add_endpoint(
                   cf, alcf, ngx_http_auth_m2m_metadata_handler);
    if (endpoint == NULL) {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    value = static_cast<ngx_str_t *>(cf->args->elts);

    for (i = 2; i < cf->args->nelts; i++) {
        rv = ngx_http_auth_m2m_metadata_param(cf, endpoint, &value[i]);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    return NGX_CONF_OK;
}


char *
ngx_http_auth_m2m_base_url(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_auth_m2m_loc_conf_t  *alcf =
        static_cast<ngx_http_auth_m2m_loc_conf_t *>(conf);

    char       *rv;
    ngx_str_t  *url = &alcf->base_url;

    rv = ngx_conf_set_str_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    /* the endpoint paths start with '/' */
    while (url->len && url->data[url->len - 1] == '/') {
        url->len--;
    }

    if (!m2m::is_base_url(ngx_http_auth_m2m_view(*url))) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "auth_m2m_base_url \"%V\" is not an http:// or "
                           "https:// URL without query, fragment or "
                           "characters to escape",
                           &static_cast<ngx_str_t *>(cf->args->elts)[1]);
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    return NGX_CONF_OK;
}
