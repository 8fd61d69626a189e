/*
 * The request's verdict, shared by the access handler and the variables:
 * whichever asks first (a limit_req key in preaccess, a map, the access
 * phase) authenticates the token; everyone after reuses that. Authorizing
 * it (times, and in the access phase the location's scopes) is cheap and
 * runs again where the answer may differ.
 */

#include "ngx_http_auth_m2m.h"

#include <type_traits>

#include "core/verify/authorize.h"
#include "core/verify/scope.h"


namespace {

/* The verdict is created and replaced on the request path, where nothing may
 * throw (see ngx_http_auth_m2m.h). */
static_assert(std::is_nothrow_default_constructible<
                  ngx_http_auth_m2m_state_t>::value,
              "the request state is created without a try");
static_assert(std::is_nothrow_move_assignable<
                  std::shared_ptr<const m2m::VerifiedToken>>::value,
              "a verdict is replaced without a try");

void
ngx_http_auth_m2m_state_cleanup(void *data)
{
    ngx_http_auth_m2m_state_t  *state =
        static_cast<ngx_http_auth_m2m_state_t *>(data);

    /* a client that gave up while waiting for keys */
    ngx_http_auth_m2m_stop_waiting(state);

    state->~ngx_http_auth_m2m_state_t();
}


/*
 * An internal redirect (error_page, try_files, rewrite ... last) clears module
 * contexts but keeps the pool, so the verdict is found again through its
 * cleanup entry, as the realip module does. Subrequests share the pool,
 * hence the check on the owning request.
 */
ngx_http_auth_m2m_state_t *
ngx_http_auth_m2m_find_state(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t         *cln;
    ngx_http_auth_m2m_state_t  *state;

    state = static_cast<ngx_http_auth_m2m_state_t *>(
                ngx_http_get_module_ctx(r, ngx_http_auth_m2m_module));
    if (state) {
        return state;
    }

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler != ngx_http_auth_m2m_state_cleanup) {
            continue;
        }

        state = static_cast<ngx_http_auth_m2m_state_t *>(cln->data);

        if (state->request == r) {
            ngx_http_set_ctx(r, state, ngx_http_auth_m2m_module);
            return state;
        }
    }

    return NULL;
}


ngx_http_auth_m2m_state_t *
ngx_http_auth_m2m_create_state(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t         *cln;
    ngx_http_auth_m2m_state_t  *state;

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_auth_m2m_state_t));
    if (cln == NULL) {
        return NULL;
    }

    state = new (cln->data) ngx_http_auth_m2m_state_t();
    cln->handler = ngx_http_auth_m2m_state_cleanup;

    state->request = r;
    ngx_http_set_ctx(r, state, ngx_http_auth_m2m_module);

    return state;
}


/* The location's issuer that the token's "iss" names, or NULL. */
ngx_http_auth_m2m_issuer_t *
ngx_http_auth_m2m_pick_issuer(ngx_http_auth_m2m_loc_conf_t *alcf,
    const m2m::Token &token)
{
    ngx_uint_t                    i;
    ngx_http_auth_m2m_issuer_t  **issuers;

    issuers = static_cast<ngx_http_auth_m2m_issuer_t **>(alcf->issuers->elts);

    for (i = 0; i < alcf->issuers->nelts; i++) {
        if (issuers[i]->policy->issuer == token.issuer()) {
            return issuers[i];
        }
    }

    return NULL;
}


/* The token parsed once, its issuer, the checks that need no key, and what
 * it proves under that issuer's current keys. *times are the token's times
 * once it got as far as its signature, for the token cache. */
m2m::Reason
ngx_http_auth_m2m_verify(ngx_http_auth_m2m_loc_conf_t *alcf, ngx_str_t *token,
    ngx_http_auth_m2m_state_t *state, m2m::TimeClaims *times)
{
    m2m::Token   parsed;
    m2m::Reason  status;

    status = m2m::Token::parse(
                 std::string_view(reinterpret_cast<char *>(token->data),
                                  token->len),
                 &parsed);

    if (status != m2m::Reason::ok) {
        return status;
    }

    state->issuer = ngx_http_auth_m2m_pick_issuer(alcf, parsed);

    if (state->issuer == NULL) {
        return m2m::Reason::wrong_issuer;
    }

    status = m2m::screen(parsed, *state->issuer->policy, ngx_time(), times);

    if (status != m2m::Reason::ok) {
        return status;
    }

    return m2m::authenticate(std::move(parsed), *state->issuer->policy,
                             *state->issuer->keys, &state->token);
}


/* The verdict's first half: what the token proves under its issuer's
 * current keys, found in this worker's token cache or verified now. This is
 * the one place that chooses between the two. */
void
ngx_http_auth_m2m_authenticate(ngx_http_request_t *r,
    ngx_http_auth_m2m_loc_conf_t *alcf, ngx_http_auth_m2m_state_t *state)
{
    ngx_str_t                       token;
    m2m::Reason                     status;
    m2m::TimeClaims                 times;
    ngx_http_auth_m2m_main_conf_t  *amcf;

    amcf = static_cast<ngx_http_auth_m2m_main_conf_t *>(
               ngx_http_get_module_main_conf(r, ngx_http_auth_m2m_module));

    state->busy = true;

    /* another worker may have fetched new keys since our last request */
    ngx_http_auth_m2m_sync_all(amcf);

    state->issuer = NULL;
    state->token.reset();
    state->failed_rule = NULL;

    ngx_str_null(&token);
    status = ngx_http_auth_m2m_token(r, alcf, &token, &state->scheme);
    state->presented = token;

    if (status == m2m::Reason::ok
        && !ngx_http_auth_m2m_token_cache_find(r, alcf, &token, state,
                                               &status))
    {
        status = ngx_http_auth_m2m_verify(alcf, &token, state, &times);
        ngx_http_auth_m2m_token_cache_keep(r, &token, state, status, &times);
    }

    state->verdict = status;
    state->verified_against = alcf->issuers;
    state->busy = false;
}

/* Whether the token is the caller's to use, wherever it is judged: the
 * times and the issuer's claims, then who presents it (a certificate, a DPoP
 * proof). A variable read before the access phase (a limit_req key, a `set`)
 * gets this verdict too, so that a stolen bound token neither spends its
 * owner's limits nor steers a rewrite by its claims. */
m2m::Reason
ngx_http_auth_m2m_bind(ngx_http_request_t *r,
    ngx_http_auth_m2m_loc_conf_t *alcf, ngx_http_auth_m2m_state_t *state)
{
    m2m::Reason  status;

    status = m2m::authorize(*state->token, ngx_time(), NULL);

    if (status == m2m::Reason::ok) {
        status = ngx_http_auth_m2m_check_certificate(r, alcf, *state->token);
    }

    if (status == m2m::Reason::ok) {
        status = ngx_http_auth_m2m_check_dpop(r, alcf, state);
    }

    return status;
}


/* The access phase's verdict on a verified token, in this order: the
 * binding above, so that a stolen token learns nothing about its rights;
 * the location's scopes; then its auth_m2m_require rules. */
m2m::Reason
ngx_http_auth_m2m_judge(ngx_http_request_t *r,
    ngx_http_auth_m2m_loc_conf_t *alcf, ngx_http_auth_m2m_state_t *state)
{
    m2m::Reason  status;

    state->failed_rule = NULL;

    status = ngx_http_auth_m2m_bind(r, alcf, state);

    if (status == m2m::Reason::ok && alcf->scopes
        && !m2m::has_all_scopes(state->token->scopes(), *alcf->scopes))
    {
        status = m2m::Reason::insufficient_scope;
    }

    if (status == m2m::Reason::ok) {
        /* the rules read $m2m_* variables, which read this verdict: it may
         * still be a previous location's */
        state->verdict = status;
        status = ngx_http_auth_m2m_check_rules(r, alcf, state);
    }

    return status;
}

} /* namespace */


/* Drops the verdict so that the next look verifies again: after waiting for
 * keys, the token deserves a second chance with the new ones. */
void
ngx_http_auth_m2m_forget(ngx_http_auth_m2m_state_t *state)
{
    ngx_http_auth_m2m_stop_waiting(state);
    state->verified_against = NULL;
}


/*
 * The verdict for this request under the current location, or NULL when the
 * location is not protected and nothing was verified before (then every
 * variable is empty). The access phase (`access`) authorizes the token again,
 * now with the location's auth_m2m_scope, and so writes the final verdict;
 * a variable read earlier (a limit_req key, a map) gets the verdict with the
 * token's binding but without the scopes and rules, as the access phase has
 * not judged them yet.
 */
ngx_http_auth_m2m_state_t *
ngx_http_auth_m2m_state(ngx_http_request_t *r, bool access)
{
    bool                           fresh;
    ngx_http_auth_m2m_state_t     *state;
    ngx_http_auth_m2m_loc_conf_t  *alcf;

    alcf = static_cast<ngx_http_auth_m2m_loc_conf_t *>(
               ngx_http_get_module_loc_conf(r, ngx_http_auth_m2m_module));

    state = ngx_http_auth_m2m_find_state(r);

    if (state && state->busy) {
        /* auth_m2m_token refers to our own variables */
        return NULL;
    }

    if (alcf->issuers == NULL) {
        return state;
    }

    if (state == NULL) {
        state = ngx_http_auth_m2m_create_state(r);
        if (state == NULL) {
            return NULL;
        }
    }

    fresh = state->verified_against != alcf->issuers;

    if (fresh) {
        ngx_http_auth_m2m_authenticate(r, alcf, state);
    }

    /* authorized once per look that may judge differently: a fresh token,
     * or the access phase with the location's own rules */
    if (state->token && (fresh || access)) {
        state->verdict = access
                         ? ngx_http_auth_m2m_judge(r, alcf, state)
                         : ngx_http_auth_m2m_bind(r, alcf, state);
    }

    if (fresh) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "auth_m2m: token verified: %s",
                       m2m::reason_code(state->verdict));
    }

    return state;
}
