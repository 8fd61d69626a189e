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


/* What a challenge says beyond its scheme (RFC 6750 §3, RFC 9449 §7.1). */
typedef struct {
    ngx_str_t                    *realm;
    const char                   *error;
    const char                   *description;
    ngx_str_t                    *scope;
    ngx_str_t                    *algs;
} ngx_http_auth_m2m_challenge_t;


/* One WWW-Authenticate header; a second one follows the first. */
ngx_int_t
ngx_http_auth_m2m_challenge(ngx_http_request_t *r, const char *scheme,
    ngx_http_auth_m2m_challenge_t *c)
{
    size_t            len;
    u_char           *p;
    const char       *sep;
    ngx_table_elt_t  *h;
#if (nginx_version >= 1023000)
    ngx_table_elt_t **last;
#endif

    /* each parameter costs at most ", " plus its name, '=' and quotes */
    len = ngx_strlen(scheme) + 5 * sizeof(", error_description=\"\"");

    len += (c->realm ? c->realm->len : 0)
           + (c->error ? ngx_strlen(c->error) : 0)
           + (c->description ? ngx_strlen(c->description) : 0)
           + (c->scope ? c->scope->len : 0)
           + (c->algs ? c->algs->len : 0);

    h = ngx_http_auth_m2m_add_header(r, "WWW-Authenticate", len);
    if (h == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(h->value.data, "%s", scheme);
    sep = " ";

    if (c->realm) {
        p = ngx_sprintf(p, "%srealm=\"%V\"", sep, c->realm);
        sep = ", ";
    }

    if (c->error) {
        p = ngx_sprintf(p, "%serror=\"%s\"", sep, c->error);
        sep = ", ";
    }

    if (c->description) {
        p = ngx_sprintf(p, "%serror_description=\"%s\"", sep,
                        c->description);
        sep = ", ";
    }

    if (c->scope) {
        p = ngx_sprintf(p, "%sscope=\"%V\"", sep, c->scope);
        sep = ", ";
    }

    if (c->algs) {
        p = ngx_sprintf(p, "%salgs=\"%V\"", sep, c->algs);
    }

    h->value.len = p - h->value.data;

#if (nginx_version >= 1023000)
    /* nginx 1.23 links a response's headers of one name */
    for (last = &r->headers_out.www_authenticate; *last;
         last = &(*last)->next)
    {
        /* void */
    }

    *last = h;
#else
    r->headers_out.www_authenticate = h;
#endif

    return NGX_OK;
}


/*
 * The challenges of a refusal: Bearer unless auth_m2m_dpop is required, and
 * DPoP with its algs unless it is off. The error goes with the scheme the
 * request used (or the only one offered); a 401 offers the other scheme too,
 * a 400 or 403 only answers the scheme used.
 */
ngx_int_t
ngx_http_auth_m2m_challenges(ngx_http_request_t *r,
    ngx_http_auth_m2m_loc_conf_t *alcf, ngx_http_auth_m2m_state_t *state,
    ngx_uint_t status, ngx_http_auth_m2m_challenge_t *error)
{
    bool                            dpop_error;
    m2m::DpopMode                   mode;
    ngx_http_auth_m2m_challenge_t   c;
    ngx_http_auth_m2m_main_conf_t  *amcf;

    amcf = static_cast<ngx_http_auth_m2m_main_conf_t *>(
               ngx_http_get_module_main_conf(r, ngx_http_auth_m2m_module));

    mode = static_cast<m2m::DpopMode>(alcf->dpop);
    dpop_error = mode == m2m::DpopMode::required
                 || (mode == m2m::DpopMode::allowed
                     && state->scheme == m2m::Scheme::dpop);

    if (mode != m2m::DpopMode::required
        && (status == NGX_HTTP_UNAUTHORIZED || !dpop_error))
    {
        c = dpop_error ? ngx_http_auth_m2m_challenge_t() : *error;
        c.realm = &alcf->realm;
        c.algs = NULL;

        if (ngx_http_auth_m2m_challenge(r, "Bearer", &c) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (mode != m2m::DpopMode::off
        && (status == NGX_HTTP_UNAUTHORIZED || dpop_error))
    {
        c = dpop_error ? *error : ngx_http_auth_m2m_challenge_t();
        c.realm = NULL;
        c.algs = &amcf->dpop_algs;

        if (ngx_http_auth_m2m_challenge(r, "DPoP", &c) != NGX_OK) {
            return NGX_ERROR;
        }
    }

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

    /* the client id comes from claims only once their signature held; a
     * rule failed only for a token that did (failed_rule may be a previous
     * location's, before an error_page to another issuer's location) */
    if (state->verdict == m2m::Reason::claim_rule_failed) {
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
    ngx_uint_t                     status;
    ngx_http_auth_m2m_challenge_t  error;

    ngx_http_auth_m2m_log_refusal(r, state);
    ngx_http_auth_m2m_clear_challenges(r);

    error = ngx_http_auth_m2m_challenge_t();
    error.description = m2m::reason_code(state->verdict);

    switch (state->verdict) {

    case m2m::Reason::missing_token:
        /* RFC 6750 §3.1: no error code when no credentials were sent */
        status = NGX_HTTP_UNAUTHORIZED;
        error.description = NULL;
        break;

    case m2m::Reason::bad_authorization:
    case m2m::Reason::dpop_proof_multiple:
        status = NGX_HTTP_BAD_REQUEST;
        error.error = "invalid_request";
        break;

    /* RFC 9449 §7.1: the proof, not the token, is at fault */
    case m2m::Reason::dpop_proof_missing:
    case m2m::Reason::dpop_proof_malformed:
    case m2m::Reason::dpop_proof_alg_not_allowed:
    case m2m::Reason::dpop_proof_bad_key:
    case m2m::Reason::dpop_proof_private_key:
    case m2m::Reason::dpop_proof_bad_signature:
    case m2m::Reason::dpop_proof_wrong_method:
    case m2m::Reason::dpop_proof_wrong_uri:
    case m2m::Reason::dpop_proof_stale:
    case m2m::Reason::dpop_proof_future:
    case m2m::Reason::dpop_proof_replayed:
    case m2m::Reason::dpop_proof_wrong_ath:
        status = NGX_HTTP_UNAUTHORIZED;
        error.error = "invalid_dpop_proof";
        break;

    case m2m::Reason::insufficient_scope:
        status = NGX_HTTP_FORBIDDEN;
        error.error = "insufficient_scope";
        error.description = NULL;
        error.scope = &alcf->scope_attr;
        break;

    case m2m::Reason::claim_rule_failed:
        /* RFC 6750 §3.1: a valid token without the rights asked for is
         * insufficient_scope, unless the rule asked to look invalid */
        if (state->rule_status == NGX_HTTP_UNAUTHORIZED) {
            status = NGX_HTTP_UNAUTHORIZED;
            error.error = "invalid_token";

        } else {
            status = NGX_HTTP_FORBIDDEN;
            error.error = "insufficient_scope";
        }

        break;

    case m2m::Reason::keys_unavailable:
        /* the token may be fine: a 401 would make clients discard it */
        return ngx_http_auth_m2m_unavailable(r, state);

    case m2m::Reason::internal_error:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;

    default:
        status = NGX_HTTP_UNAUTHORIZED;
        error.error = "invalid_token";
        break;
    }

    if (ngx_http_auth_m2m_challenges(r, alcf, state, status, &error)
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
