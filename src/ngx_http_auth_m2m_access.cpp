/*
 * The access phase: allow, or refuse the way RFC 6750 §3 says, so that
 * clients (and their OAuth libraries) can tell "get a new token" from
 * "ask for more scope" from "fix your request".
 */

#include "ngx_http_auth_m2m.h"


namespace {

/* A response header whose value the caller writes into `size` bytes. */
ngx_table_elt_t *
ngx_http_auth_m2m_add_header(ngx_http_request_t *r, const char *key,
    size_t size)
{
    ngx_table_elt_t  *h;

    h = static_cast<ngx_table_elt_t *>(ngx_list_push(&r->headers_out.headers));
    if (h == NULL) {
        return NULL;
    }

    h->value.data = static_cast<u_char *>(ngx_pnalloc(r->pool, size));
    if (h->value.data == NULL) {
        h->hash = 0;    /* an unused slot: nginx skips it */
        return NULL;
    }

    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    h->key.len = ngx_strlen(key);
    h->key.data = reinterpret_cast<u_char *>(const_cast<char *>(key));
    h->value.len = 0;

    return h;
}


/* An error_page that leads to another protected location refuses twice:
 * only the last refusal's challenges may reach the client. */
void
ngx_http_auth_m2m_clear_challenges(ngx_http_request_t *r)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    if (r->headers_out.www_authenticate == NULL) {
        return;
    }

    for (part = &r->headers_out.headers.part; part; part = part->next) {
        h = static_cast<ngx_table_elt_t *>(part->elts);

        for (i = 0; i < part->nelts; i++) {
            if (h[i].hash != 0
                && h[i].key.len == sizeof("WWW-Authenticate") - 1
                && ngx_strncasecmp(h[i].key.data,
                                   (u_char *) "WWW-Authenticate",
                                   h[i].key.len) == 0)
            {
                h[i].hash = 0;
            }
        }
    }

    r->headers_out.www_authenticate = NULL;
}


ngx_int_t
ngx_http_auth_m2m_challenge(ngx_http_request_t *r,
    ngx_http_auth_m2m_loc_conf_t *alcf, const char *error,
    const char *description, ngx_str_t *scope)
{
    size_t            len;
    u_char           *p;
    ngx_table_elt_t  *h;

    len = sizeof("Bearer realm=\"\"") - 1 + alcf->realm.len;

    if (error) {
        len += sizeof(", error=\"\"") - 1 + ngx_strlen(error);
    }

    if (description) {
        len += sizeof(", error_description=\"\"") - 1 + ngx_strlen(description);
    }

    if (scope) {
        len += sizeof(", scope=\"\"") - 1 + scope->len;
    }

    h = ngx_http_auth_m2m_add_header(r, "WWW-Authenticate", len);
    if (h == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(h->value.data, "Bearer realm=\"%V\"", &alcf->realm);

    if (error) {
        p = ngx_sprintf(p, ", error=\"%s\"", error);
    }

    if (description) {
        p = ngx_sprintf(p, ", error_description=\"%s\"", description);
    }

    if (scope) {
        p = ngx_sprintf(p, ", scope=\"%V\"", scope);
    }

    h->value.len = p - h->value.data;
    r->headers_out.www_authenticate = h;

    return NGX_OK;
}


void
ngx_http_auth_m2m_log_refusal(ngx_http_request_t *r,
    ngx_http_auth_m2m_state_t *state)
{
    const char                    *code = m2m::reason_code(state->verdict);
    ngx_uint_t                     level;
    std::string_view               client_id;
    ngx_http_auth_m2m_loc_conf_t  *alcf;

    alcf = static_cast<ngx_http_auth_m2m_loc_conf_t *>(
               ngx_http_get_module_loc_conf(r, ngx_http_auth_m2m_module));
    level = alcf->log_level;

    /* the client id comes from claims only once their signature held */
    if (state->failed_rule) {
        client_id = state->token->client_id();

        ngx_log_error(level, r->connection->log, 0,
                      "auth_m2m: access refused: %s, client_id \"%*s\", "
                      "issuer \"%V\", rule \"%V\"", code, client_id.size(),
                      client_id.data(), &state->issuer->name,
                      state->failed_rule);

    } else if (state->token) {
        client_id = state->token->client_id();

        ngx_log_error(level, r->connection->log, 0,
                      "auth_m2m: access refused: %s, client_id \"%*s\", "
                      "issuer \"%V\"", code, client_id.size(),
                      client_id.data(), &state->issuer->name);

    } else if (state->issuer) {
        ngx_log_error(level, r->connection->log, 0,
                      "auth_m2m: access refused: %s, issuer \"%V\"", code,
                      &state->issuer->name);

    } else {
        ngx_log_error(level, r->connection->log, 0,
                      "auth_m2m: access refused: %s", code);
    }
}


ngx_int_t
ngx_http_auth_m2m_unavailable(ngx_http_request_t *r,
    ngx_http_auth_m2m_state_t *state)
{
    ngx_table_elt_t  *h;

    h = ngx_http_auth_m2m_add_header(r, "Retry-After", NGX_TIME_T_LEN);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->value.len = ngx_sprintf(h->value.data, "%T",
                               ngx_http_auth_m2m_retry_after(state->issuer))
                   - h->value.data;

    return NGX_HTTP_SERVICE_UNAVAILABLE;
}


ngx_int_t
ngx_http_auth_m2m_refuse(ngx_http_request_t *r,
    ngx_http_auth_m2m_loc_conf_t *alcf, ngx_http_auth_m2m_state_t *state)
{
    ngx_int_t    status;
    ngx_str_t   *scope = NULL;
    const char  *error, *description = m2m::reason_code(state->verdict);

    ngx_http_auth_m2m_log_refusal(r, state);
    ngx_http_auth_m2m_clear_challenges(r);

    switch (state->verdict) {

    case m2m::Reason::missing_token:
        /* RFC 6750 §3.1: no error code when no credentials were sent */
        status = NGX_HTTP_UNAUTHORIZED;
        error = NULL;
        description = NULL;
        break;

    case m2m::Reason::bad_authorization:
        status = NGX_HTTP_BAD_REQUEST;
        error = "invalid_request";
        break;

    case m2m::Reason::insufficient_scope:
        status = NGX_HTTP_FORBIDDEN;
        error = "insufficient_scope";
        description = NULL;
        scope = &alcf->scope_attr;
        break;

    case m2m::Reason::claim_rule_failed:
        /* RFC 6750 §3.1: a valid token without the rights asked for is
         * insufficient_scope, unless the rule asked to look invalid */
        if (state->rule_status == NGX_HTTP_UNAUTHORIZED) {
            status = NGX_HTTP_UNAUTHORIZED;
            error = "invalid_token";

        } else {
            status = NGX_HTTP_FORBIDDEN;
            error = "insufficient_scope";
        }

        break;

    case m2m::Reason::keys_unavailable:
        /* the token may be fine: a 401 would make clients discard it */
        return ngx_http_auth_m2m_unavailable(r, state);

    case m2m::Reason::internal_error:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;

    default:
        status = NGX_HTTP_UNAUTHORIZED;
        error = "invalid_token";
        break;
    }

    if (ngx_http_auth_m2m_challenge(r, alcf, error, description, scope)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return status;
}

} /* namespace */


ngx_int_t
ngx_http_auth_m2m_access_handler(ngx_http_request_t *r)
{
    ngx_http_auth_m2m_state_t     *state;
    ngx_http_auth_m2m_loc_conf_t  *alcf;

    alcf = static_cast<ngx_http_auth_m2m_loc_conf_t *>(
               ngx_http_get_module_loc_conf(r, ngx_http_auth_m2m_module));

    if (alcf->issuers == NULL) {
        return NGX_DECLINED;
    }

    state = ngx_http_auth_m2m_state(r, true);
    if (state == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (state->verdict == m2m::Reason::ok) {
        ngx_http_auth_m2m_count(r, state->verdict);
        return NGX_OK;
    }

    if ((state->verdict == m2m::Reason::unknown_kid
         || state->verdict == m2m::Reason::keys_unavailable)
        && state->issuer
        && ngx_http_auth_m2m_wait_for_keys(r, state, state->issuer)
           == NGX_AGAIN)
    {
        /* a rotated key or a cold start: wait for fresh keys, once */
        return NGX_AGAIN;
    }

    ngx_http_auth_m2m_count(r, state->verdict);

    return ngx_http_auth_m2m_refuse(r, alcf, state);
}
