/*
 * auth_m2m_require: the location's own rules on a verified token. Each value
 * is evaluated in the access phase after the token, its binding and its
 * scopes passed; all must be non-empty and not "0", as auth_jwt_require and
 * nginx's own `if ($var)` read them. A map over $m2m_claim_* then expresses
 * any rule without a rule language of our own.
 */

#include "ngx_http_auth_m2m.h"


/* One directive: its values, and the status that refuses when one fails. */
struct ngx_http_auth_m2m_rule_s {
    ngx_array_t                  *values;   /* of ngx_http_complex_value_t */
    ngx_uint_t                    status;   /* 401 or 403 */
};


char *
ngx_http_auth_m2m_require(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_auth_m2m_loc_conf_t  *alcf =
        static_cast<ngx_http_auth_m2m_loc_conf_t *>(conf);

    ngx_str_t                          *value;
    ngx_uint_t                          i, n;
    ngx_http_auth_m2m_rule_t           *rule;
    ngx_http_complex_value_t           *cv;
    ngx_http_compile_complex_value_t    ccv;

    value = static_cast<ngx_str_t *>(cf->args->elts);

    if (alcf->rules == NGX_CONF_UNSET_PTR) {
        alcf->rules = ngx_array_create(cf->pool, 2,
                                       sizeof(ngx_http_auth_m2m_rule_t));
        if (alcf->rules == NULL) {
            return static_cast<char *>(NGX_CONF_ERROR);
        }
    }

    rule = static_cast<ngx_http_auth_m2m_rule_t *>(
               ngx_array_push(alcf->rules));
    if (rule == NULL) {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    rule->status = NGX_HTTP_FORBIDDEN;
    n = cf->args->nelts;

    if (ngx_strncmp(value[n - 1].data, "error=", 6) == 0) {
        if (value[n - 1].len == 9
            && ngx_strncmp(value[n - 1].data + 6, "401", 3) == 0)
        {
            rule->status = NGX_HTTP_UNAUTHORIZED;

        } else if (value[n - 1].len != 9
                   || ngx_strncmp(value[n - 1].data + 6, "403", 3) != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\": "
                               "error=401 or error=403", &value[n - 1]);
            return static_cast<char *>(NGX_CONF_ERROR);
        }

        n--;
    }

    if (n < 2) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"auth_m2m_require\" needs a value to check");
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    rule->values = ngx_array_create(cf->pool, n - 1,
                                    sizeof(ngx_http_complex_value_t));
    if (rule->values == NULL) {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    for (i = 1; i < n; i++) {
        cv = static_cast<ngx_http_complex_value_t *>(
                 ngx_array_push(rule->values));
        if (cv == NULL) {
            return static_cast<char *>(NGX_CONF_ERROR);
        }

        ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

        ccv.cf = cf;
        ccv.value = &value[i];
        ccv.complex_value = cv;

        if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
            return static_cast<char *>(NGX_CONF_ERROR);
        }
    }

    return NGX_CONF_OK;
}


/*
 * ok, or claim_rule_failed with the failing value's text (as configured, so
 * that the log names the rule, never a claim's value) and the status its
 * directive asked for.
 */
m2m::Reason
ngx_http_auth_m2m_check_rules(ngx_http_request_t *r,
    ngx_http_auth_m2m_loc_conf_t *alcf, ngx_http_auth_m2m_state_t *state)
{
    ngx_str_t                  result;
    ngx_uint_t                 i, j;
    ngx_http_auth_m2m_rule_t  *rules;
    ngx_http_complex_value_t  *values;

    if (alcf->rules == NULL) {
        return m2m::Reason::ok;
    }

    rules = static_cast<ngx_http_auth_m2m_rule_t *>(alcf->rules->elts);

    for (i = 0; i < alcf->rules->nelts; i++) {
        values = static_cast<ngx_http_complex_value_t *>(
                     rules[i].values->elts);

        for (j = 0; j < rules[i].values->nelts; j++) {
            if (ngx_http_complex_value(r, &values[j], &result) != NGX_OK) {
                return m2m::Reason::internal_error;
            }

            if (result.len == 0
                || (result.len == 1 && result.data[0] == '0'))
            {
                state->failed_rule = &values[j].value;
                state->rule_status = rules[i].status;
                return m2m::Reason::claim_rule_failed;
            }
        }
    }

    return m2m::Reason::ok;
}
