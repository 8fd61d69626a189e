/*
 * auth_m2m_scope: the scopes a location requires, all of them (RFC 6749
 * §3.3 scope-tokens, checked here once), and their joined form for the 403's
 * challenge. The check itself is core/verify/scope.h's, in the access phase.
 */

#include "ngx_http_auth_m2m.h"

#include "core/verify/scope.h"


char *
ngx_http_auth_m2m_scope(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_auth_m2m_loc_conf_t  *alcf =
        static_cast<ngx_http_auth_m2m_loc_conf_t *>(conf);

    ngx_str_t                    *value;
    ngx_uint_t                    i;
    std::optional<std::string>    joined;
    ngx_http_auth_m2m_strings_t  *scopes;

    if (alcf->scopes != NGX_CONF_UNSET_PTR) {
        return const_cast<char *>("is duplicate");
    }

    value = static_cast<ngx_str_t *>(cf->args->elts);

    try {
        scopes = ngx_http_auth_m2m_pool_new<ngx_http_auth_m2m_strings_t>(
                     cf->pool);
        if (scopes == NULL) {
            return static_cast<char *>(NGX_CONF_ERROR);
        }

        for (i = 1; i < cf->args->nelts; i++) {
            std::string  scope = ngx_http_auth_m2m_string(value[i].data,
                                                          value[i].len);

            if (!m2m::is_scope_token(scope)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid scope \"%V\"", &value[i]);
                return static_cast<char *>(NGX_CONF_ERROR);
            }

            scopes->push_back(std::move(scope));
        }

        joined = m2m::join_scopes(*scopes);

        if (!joined) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "auth_m2m_scope: out of memory");
            return static_cast<char *>(NGX_CONF_ERROR);
        }

        if (ngx_http_auth_m2m_copy_str(cf->pool, *joined, &alcf->scope_attr)
            != NGX_OK)
        {
            return static_cast<char *>(NGX_CONF_ERROR);
        }

    } catch (const std::exception &e) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "auth_m2m_scope: %s",
                           e.what());
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    alcf->scopes = scopes;

    return NGX_CONF_OK;
}
