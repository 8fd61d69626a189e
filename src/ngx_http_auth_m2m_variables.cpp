/*
 * $m2m_* variables. Each one asks for the request's verdict, which verifies
 * the token on first use in whatever phase that is, so the variables work in
 * limit_req_zone keys, map and log_format alike. Nothing is ever read from a
 * token that did not verify.
 */

#include "ngx_http_auth_m2m.h"

#include <cmath>
#include <cstdio>

#include "core/token/claims.h"


namespace {

enum ngx_http_auth_m2m_field_e {
    NGX_HTTP_AUTH_M2M_CLIENT_ID,
    NGX_HTTP_AUTH_M2M_SCOPE,
    NGX_HTTP_AUTH_M2M_SUBJECT,
    NGX_HTTP_AUTH_M2M_ISSUER,
    NGX_HTTP_AUTH_M2M_TOKEN_ID,
    NGX_HTTP_AUTH_M2M_EXPIRES,
    NGX_HTTP_AUTH_M2M_ERROR,
    NGX_HTTP_AUTH_M2M_CNF_X5T,
    NGX_HTTP_AUTH_M2M_TOKEN_TYPE,
    NGX_HTTP_AUTH_M2M_DPOP_JKT
};


ngx_str_t  ngx_http_auth_m2m_claim_prefix = ngx_string("m2m_claim_");
ngx_str_t  ngx_http_auth_m2m_header_prefix = ngx_string("m2m_header_");


ngx_int_t
ngx_http_auth_m2m_set_value(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, std::string_view s)
{
    ngx_str_t  copy;

    if (s.empty()) {
        v->not_found = 1;
        return NGX_OK;
    }

    if (ngx_http_auth_m2m_copy_str(r->pool, s, &copy) != NGX_OK) {
        return NGX_ERROR;
    }

    v->data = copy.data;
    v->len = copy.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/* A claim or header value as render_claim() shows it. */
ngx_int_t
ngx_http_auth_m2m_set_json(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, const json_t *value)
{
    std::optional<std::string>  s = m2m::render_claim(value);

    if (!s) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "auth_m2m: variable failed: out of memory");
        return NGX_ERROR;
    }

    return ngx_http_auth_m2m_set_value(r, v, *s);
}


/* The verified token, or NULL when there is none to read from: one that
 * passed every check, the location's scopes and rules perhaps excepted;
 * with its request state in *verdict if asked. A token refused for who
 * presented it (a certificate or a DPoP proof) is not read from: it was not
 * the caller's to show. */
const m2m::VerifiedToken *
ngx_http_auth_m2m_verified(ngx_http_request_t *r,
    ngx_http_auth_m2m_state_t **verdict)
{
    ngx_http_auth_m2m_state_t  *state;

    state = ngx_http_auth_m2m_state(r, false);

    if (state == NULL
        || (state->verdict != m2m::Reason::ok
            && state->verdict != m2m::Reason::insufficient_scope
            && state->verdict != m2m::Reason::claim_rule_failed))
    {
        return NULL;
    }

    if (verdict) {
        *verdict = state;
    }

    return state->token.get();
}


ngx_int_t
ngx_http_auth_m2m_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    char                        buf[32];
    const json_t               *claims;
    const m2m::VerifiedToken   *verified;
    ngx_http_auth_m2m_state_t  *state;

    if (data == NGX_HTTP_AUTH_M2M_ERROR) {
        state = ngx_http_auth_m2m_state(r, false);
        return ngx_http_auth_m2m_set_value(r, v,
                   state ? m2m::reason_code(state->verdict) : "");
    }

    verified = ngx_http_auth_m2m_verified(r, &state);
    if (verified == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    claims = verified->token().claims();

    switch (data) {

    case NGX_HTTP_AUTH_M2M_CLIENT_ID:
        return ngx_http_auth_m2m_set_value(r, v, verified->client_id());

    case NGX_HTTP_AUTH_M2M_SCOPE:
        return ngx_http_auth_m2m_set_value(r, v, verified->scope_string());

    case NGX_HTTP_AUTH_M2M_SUBJECT:
        return ngx_http_auth_m2m_set_json(r, v, json_object_get(claims, "sub"));

    case NGX_HTTP_AUTH_M2M_ISSUER:
        return ngx_http_auth_m2m_set_value(r, v, verified->token().issuer());

    case NGX_HTTP_AUTH_M2M_TOKEN_ID:
        return ngx_http_auth_m2m_set_json(r, v, json_object_get(claims, "jti"));

    case NGX_HTTP_AUTH_M2M_EXPIRES:
        /* whole seconds even when an issuer sends a fractional NumericDate */
        std::snprintf(buf, sizeof(buf), "%.0f",
                      std::floor(json_number_value(json_object_get(claims,
                                                                   "exp"))));
        return ngx_http_auth_m2m_set_value(r, v, buf);

    case NGX_HTTP_AUTH_M2M_CNF_X5T:
        return ngx_http_auth_m2m_set_value(r, v,
                                           verified->confirmation().x5t_s256);
    case NGX_HTTP_AUTH_M2M_TOKEN_TYPE:
        /* as token_type names them (RFC 9449 §5) */
        return ngx_http_auth_m2m_set_value(r, v,
                   state->scheme == m2m::Scheme::dpop ? "DPoP" : "Bearer");

    case NGX_HTTP_AUTH_M2M_DPOP_JKT:
        return ngx_http_auth_m2m_set_value(r, v,
                                           verified->confirmation().jkt);

    default:
        v->not_found = 1;
        return NGX_OK;
    }
}


/* Renders the JSON value `pick` finds in a verified token; empty when the
 * token did not verify or the value is absent. */
template <typename Pick>
ngx_int_t
ngx_http_auth_m2m_json_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, Pick pick)
{
    const m2m::VerifiedToken  *verified;

    verified = ngx_http_auth_m2m_verified(r, NULL);
    if (verified == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    return ngx_http_auth_m2m_set_json(r, v, pick(*verified));
}


/* $m2m_claim_NAME and $m2m_header_NAME: data is the variable's full name. */
std::string_view
ngx_http_auth_m2m_suffix(uintptr_t data, ngx_str_t *prefix)
{
    ngx_str_t  *name = reinterpret_cast<ngx_str_t *>(data);

    return std::string_view(reinterpret_cast<char *>(name->data) + prefix->len,
                            name->len - prefix->len);
}


ngx_int_t
ngx_http_auth_m2m_claim_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    return ngx_http_auth_m2m_json_variable(r, v,
        [data](const m2m::VerifiedToken &verified) {
            return m2m::find_claim(verified.token().claims(),
                                   ngx_http_auth_m2m_suffix(data,
                                       &ngx_http_auth_m2m_claim_prefix));
        });
}


ngx_int_t
ngx_http_auth_m2m_header_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    return ngx_http_auth_m2m_json_variable(r, v,
        [data](const m2m::VerifiedToken &verified) {
            return m2m::find_claim(verified.token().header(),
                                   ngx_http_auth_m2m_suffix(data,
                                       &ngx_http_auth_m2m_header_prefix));
        });
}


/* auth_m2m_claim_set: data is the claim path, owned by the config pool. */
ngx_int_t
ngx_http_auth_m2m_claim_path_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    const ngx_http_auth_m2m_strings_t  *path =
        reinterpret_cast<const ngx_http_auth_m2m_strings_t *>(data);

    return ngx_http_auth_m2m_json_variable(r, v,
        [path](const m2m::VerifiedToken &verified) {
            return m2m::find_claim_path(verified.token().claims(), *path);
        });
}


/*
 * The verdict can change within a request (an internal redirect to a location
 * trusting other issuers, the access phase adding insufficient_scope), so no
 * value is cached.
 */
ngx_http_variable_t  ngx_http_auth_m2m_vars[] = {

    { ngx_string("m2m_client_id"), NULL, ngx_http_auth_m2m_variable,
      NGX_HTTP_AUTH_M2M_CLIENT_ID, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("m2m_scope"), NULL, ngx_http_auth_m2m_variable,
      NGX_HTTP_AUTH_M2M_SCOPE, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("m2m_subject"), NULL, ngx_http_auth_m2m_variable,
      NGX_HTTP_AUTH_M2M_SUBJECT, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("m2m_issuer"), NULL, ngx_http_auth_m2m_variable,
      NGX_HTTP_AUTH_M2M_ISSUER, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("m2m_token_id"), NULL, ngx_http_auth_m2m_variable,
      NGX_HTTP_AUTH_M2M_TOKEN_ID, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("m2m_expires"), NULL, ngx_http_auth_m2m_variable,
      NGX_HTTP_AUTH_M2M_EXPIRES, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("m2m_error"), NULL, ngx_http_auth_m2m_variable,
      NGX_HTTP_AUTH_M2M_ERROR, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("m2m_cnf_x5t"), NULL, ngx_http_auth_m2m_variable,
      NGX_HTTP_AUTH_M2M_CNF_X5T, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("m2m_token_type"), NULL, ngx_http_auth_m2m_variable,
      NGX_HTTP_AUTH_M2M_TOKEN_TYPE, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("m2m_dpop_jkt"), NULL, ngx_http_auth_m2m_variable,
      NGX_HTTP_AUTH_M2M_DPOP_JKT, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("m2m_claim_"), NULL, ngx_http_auth_m2m_claim_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_PREFIX, 0 },

    { ngx_string("m2m_header_"), NULL, ngx_http_auth_m2m_header_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_PREFIX, 0 },

      ngx_http_null_variable
};

} /* namespace */


ngx_int_t
ngx_http_auth_m2m_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_auth_m2m_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


char *
ngx_http_auth_m2m_claim_set(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t                    *value, name;
    ngx_uint_t                    i;
    ngx_http_variable_t          *var;
    ngx_http_auth_m2m_strings_t  *path;

    value = static_cast<ngx_str_t *>(cf->args->elts);

    name = value[1];

    if (name.len < 2 || name.data[0] != '$') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid variable name \"%V\"", &name);
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    name.len--;
    name.data++;

    try {
        path = ngx_http_auth_m2m_pool_new<ngx_http_auth_m2m_strings_t>(
                   cf->pool);
        if (path == NULL) {
            return static_cast<char *>(NGX_CONF_ERROR);
        }

        for (i = 2; i < cf->args->nelts; i++) {
            path->push_back(ngx_http_auth_m2m_string(value[i].data, value[i].len));
        }

    } catch (const std::exception &e) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "auth_m2m_claim_set: %s",
                           e.what());
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    var = ngx_http_add_variable(cf, &name, NGX_HTTP_VAR_NOCACHEABLE);
    if (var == NULL) {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    if (var->get_handler != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "variable \"%V\" is already defined", &value[1]);
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    var->get_handler = ngx_http_auth_m2m_claim_path_variable;
    var->data = reinterpret_cast<uintptr_t>(path);

    return NGX_CONF_OK;
}
