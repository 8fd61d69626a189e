/*
 * auth_m2m_token_cache: each worker keeps the tokens it has authenticated
 * (core/verify/token_cache.h), so that the next request with the same token
 * skips base64url, JSON and the signature; and the tokens whose signature
 * failed, so that a forgery sent again and again costs one check. _verdict
 * asks here before it parses a token and tells here what it found.
 *
 * Per worker, not in the shared zone: a hit hands out the worker's own
 * shared_ptr<const VerifiedToken> with no lock and nothing parsed, where an
 * entry in the zone would be serialized claims to copy out under the lock
 * and parse again on every hit (README, "Verified-token cache", has the
 * figures). The price is one miss per worker per token.
 */

#include "ngx_http_auth_m2m.h"
#include "ngx_http_auth_m2m_zone.h"

#include "core/verify/token_cache.h"


namespace {

/* This worker's; created at init_process, destroyed at exit_process. */
m2m::TokenCache  *ngx_http_auth_m2m_tokens;


typedef struct {
    ngx_http_auth_m2m_loc_conf_t  *alcf;
    ngx_http_auth_m2m_issuer_t    *issuer;       /* the one found */
} ngx_http_auth_m2m_cache_lookup_t;


/* The location's issuer block that verified a cached token, if the location
 * lists it: its keys now, for the generation check. A block with the same
 * "issuer" but other keys or rules is another policy, so it misses. */
const m2m::IssuerKeys *
ngx_http_auth_m2m_cache_keys_of(const m2m::IssuerPolicy &policy,
    void *data) noexcept
{
    ngx_uint_t                         i;
    ngx_http_auth_m2m_issuer_t       **issuers;
    ngx_http_auth_m2m_cache_lookup_t  *lookup =
        static_cast<ngx_http_auth_m2m_cache_lookup_t *>(data);

    issuers = static_cast<ngx_http_auth_m2m_issuer_t **>(
                  lookup->alcf->issuers->elts);

    for (i = 0; i < lookup->alcf->issuers->nelts; i++) {
        if (issuers[i]->policy == &policy) {
            lookup->issuer = issuers[i];
            return issuers[i]->keys;
        }
    }

    return NULL;
}


/* The counters live in the zone, as the request counters do; atomic, so the
 * zone's lock is not taken. */
ngx_http_auth_m2m_shctx_t *
ngx_http_auth_m2m_cache_counters(ngx_http_request_t *r)
{
    ngx_http_auth_m2m_main_conf_t  *amcf;

    amcf = static_cast<ngx_http_auth_m2m_main_conf_t *>(
               ngx_http_get_module_main_conf(r, ngx_http_auth_m2m_module));

    return amcf->sh;
}

} /* namespace */


/* auth_m2m_token_cache SIZE | off; */
char *
ngx_http_auth_m2m_token_cache(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t                      *value;
    ngx_http_auth_m2m_main_conf_t  *amcf =
        static_cast<ngx_http_auth_m2m_main_conf_t *>(conf);

    value = static_cast<ngx_str_t *>(cf->args->elts);

    if (ngx_strcmp(value[1].data, "off") == 0) {
        if (amcf->token_cache != NGX_CONF_UNSET_SIZE) {
            return const_cast<char *>("is duplicate");
        }

        amcf->token_cache = 0;
        return NGX_CONF_OK;
    }

    return ngx_conf_set_size_slot(cf, cmd, conf);
}


ngx_int_t
ngx_http_auth_m2m_token_cache_init(ngx_cycle_t *cycle)
{
    ngx_http_auth_m2m_main_conf_t  *amcf;

    amcf = static_cast<ngx_http_auth_m2m_main_conf_t *>(
               ngx_http_cycle_get_module_main_conf(cycle,
                                                   ngx_http_auth_m2m_module));

    if (amcf == NULL || amcf->token_cache == 0 || amcf->issuers.nelts == 0) {
        return NGX_OK;
    }

    ngx_http_auth_m2m_tokens = new (std::nothrow) m2m::TokenCache(
                                   amcf->token_cache);

    if (ngx_http_auth_m2m_tokens == NULL) {
        /* no cache is slower, not wrong */
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "auth_m2m_token_cache: out of memory, running without");
    }

    return NGX_OK;
}


void
ngx_http_auth_m2m_token_cache_exit(ngx_cycle_t *cycle)
{
    delete ngx_http_auth_m2m_tokens;
    ngx_http_auth_m2m_tokens = NULL;
}


/*
 * What authenticating these exact bytes gave in this worker before, under an
 * issuer this location lists whose keys are still in that generation: then
 * *status, state->issuer and state->token are what authenticating it again
 * would give (ok with the verified token, or bad_signature without one),
 * and the caller goes on to authorize.
 */
bool
ngx_http_auth_m2m_token_cache_find(ngx_http_request_t *r,
    ngx_http_auth_m2m_loc_conf_t *alcf, ngx_str_t *token,
    ngx_http_auth_m2m_state_t *state, m2m::Reason *status)
{
    std::string_view                            bytes;
    ngx_http_auth_m2m_shctx_t                  *sh;
    ngx_http_auth_m2m_cache_lookup_t            lookup;
    std::shared_ptr<const m2m::VerifiedToken>   found;

    if (ngx_http_auth_m2m_tokens == NULL) {
        return false;
    }

    lookup.alcf = alcf;
    lookup.issuer = NULL;

    bytes = std::string_view(reinterpret_cast<char *>(token->data),
                             token->len);

    found = ngx_http_auth_m2m_tokens->find(bytes, ngx_time(),
                                           ngx_http_auth_m2m_cache_keys_of,
                                           &lookup);
    *status = m2m::Reason::ok;

    if (!found) {
        lookup.issuer = NULL;
        *status = ngx_http_auth_m2m_tokens->find_refusal(
                      bytes, ngx_time(), ngx_http_auth_m2m_cache_keys_of,
                      &lookup);
    }

    sh = ngx_http_auth_m2m_cache_counters(r);

    if (!found && *status == m2m::Reason::ok) {
        if (sh) {
            (void) ngx_atomic_fetch_add(&sh->token_cache_misses, 1);
        }

        return false;
    }

    if (sh) {
        (void) ngx_atomic_fetch_add(&sh->token_cache_hits, 1);
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "auth_m2m: token cache hit: %s",
                   m2m::reason_code(*status));

    state->issuer = lookup.issuer;
    state->token = std::move(found);

    return true;
}


/* What authenticate just said of a token looked up in vain: a verified
 * token, or a signature that failed (with the token's times, as screen()
 * read them), for the next request with those bytes. */
void
ngx_http_auth_m2m_token_cache_keep(ngx_http_request_t *r, ngx_str_t *token,
    ngx_http_auth_m2m_state_t *state, m2m::Reason status,
    const m2m::TimeClaims *times)
{
    size_t                      evicted;
    ngx_http_auth_m2m_shctx_t  *sh;

    if (ngx_http_auth_m2m_tokens == NULL) {
        return;
    }

    if (status == m2m::Reason::ok) {
        evicted = ngx_http_auth_m2m_tokens->insert(state->token, ngx_time());

    } else if (state->issuer) {
        evicted = ngx_http_auth_m2m_tokens->insert_refusal(
                      std::string_view(reinterpret_cast<char *>(token->data),
                                       token->len),
                      status, *times, *state->issuer->policy,
                      state->issuer->keys->generation, ngx_time());

    } else {
        return;
    }

    sh = ngx_http_auth_m2m_cache_counters(r);

    if (evicted && sh) {
        (void) ngx_atomic_fetch_add(&sh->token_cache_evictions, evicted);
    }
}
