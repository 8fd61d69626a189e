/*
 * Keeping fetched key sets fresh. Every worker ticks once a second per
 * issuer whose keys are fetched; whichever finds a refresh due takes the
 * zone's fetch lease and runs an attempt, whose fetches its key source
 * names (begin, then complete for each); everyone re-imports when the
 * zone's generation moves. Requests that wait for keys meanwhile are in
 * ngx_http_auth_m2m_wait.cpp.
 */

#include "ngx_http_auth_m2m_fetch.h"
#include "ngx_http_auth_m2m_source.h"
#include "ngx_http_auth_m2m_zone.h"

#include "core/fetch/refresh_policy.h"


namespace {

/* How often idle workers look at the zone. */
const ngx_msec_t  kIdleTick = 1000;

/* The most a 503 asks a client to wait before retrying. */
const time_t  kMaxRetryAfter = 300;


void ngx_http_auth_m2m_fetch_done(ngx_http_auth_m2m_fetch_t *f);


m2m::RefreshPolicy
ngx_http_auth_m2m_refresh_policy(ngx_http_auth_m2m_issuer_t *issuer)
{
    m2m::RefreshPolicy  policy;

    policy.refresh = issuer->refresh;

    return policy;
}


double
ngx_http_auth_m2m_jitter_unit()
{
    return static_cast<double>(ngx_random() % 1000000) / 1000000.0;
}


ngx_msec_t
ngx_http_auth_m2m_fetch_budget(ngx_http_auth_m2m_issuer_t *issuer)
{
    ngx_msec_int_t  left;

    left = static_cast<ngx_msec_int_t>(issuer->fetch_deadline
                                       - ngx_current_msec);

    return left > 0 ? static_cast<ngx_msec_t>(left) : 1;
}


void
ngx_http_auth_m2m_rearm(ngx_http_auth_m2m_issuer_t *issuer)
{
    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    ngx_add_timer(&issuer->tick, ngx_http_auth_m2m_waiting(issuer)
                                 ? NGX_HTTP_AUTH_M2M_WAIT_TICK : kIdleTick);
}


void
ngx_http_auth_m2m_drop_fetch(ngx_http_auth_m2m_issuer_t *issuer)
{
    if (issuer->fetch) {
        ngx_http_auth_m2m_fetch_destroy(issuer->fetch);
        issuer->fetch = NULL;
    }
}


void
ngx_http_auth_m2m_fetch_failed(ngx_http_auth_m2m_issuer_t *issuer,
    ngx_str_t *url, const char *reason)
{
    time_t  delay;
    size_t  nkeys;

    if (ngx_http_auth_m2m_zone_failed(issuer,
                                      ngx_http_auth_m2m_refresh_policy(issuer),
                                      reason, &delay)
        != NGX_OK)
    {
        /* another configuration's entry now: its waiters are not ours */
        return;
    }

    nkeys = issuer->keys->set ? issuer->keys->set->keys().size() : 0;

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "auth_m2m_issuer \"%V\": key refresh from \"%V\" failed: "
                  "%s; keeping %uz keys, next attempt in %T s",
                  &issuer->name, url, reason, nkeys, delay);
}


/*
 * The one way an attempt ends, whatever its outcome (error NULL: the zone
 * has its result already). Waking all of this worker's waiting requests,
 * not only those whose attempt count moved, covers a failure recorded in an
 * entry that another configuration has taken over since.
 */
void
ngx_http_auth_m2m_attempt_finished(ngx_http_auth_m2m_issuer_t *issuer,
    ngx_str_t *url, const char *error)
{
    if (error) {
        ngx_http_auth_m2m_fetch_failed(issuer, url, error);
    }

    ngx_http_auth_m2m_drop_fetch(issuer);
    ngx_http_auth_m2m_wake(issuer, true);
    ngx_http_auth_m2m_rearm(issuer);
}


/* Starts a stage of the attempt; the stage before it, if any, has been
 * read. */
void
ngx_http_auth_m2m_start_stage(ngx_http_auth_m2m_issuer_t *issuer,
    ngx_http_auth_m2m_target_t *target, bool conditional)
{
    ngx_http_auth_m2m_fetch_t  *f;

    ngx_http_auth_m2m_drop_fetch(issuer);

    f = ngx_http_auth_m2m_fetch_create(ngx_cycle->log, &issuer->name,
                                       issuer->jwks_max_size);
    if (f == NULL) {
        ngx_http_auth_m2m_attempt_finished(issuer, &target->display,
                                           "out_of_memory");
        return;
    }

    f->target = target;
    f->ssl = issuer->ssl;
    f->resolver = issuer->resolver;
    f->resolver_timeout = issuer->resolver_timeout;
    f->timeout = ngx_http_auth_m2m_fetch_budget(issuer);
    f->handler = ngx_http_auth_m2m_fetch_done;
    f->data = issuer;

    if (conditional && issuer->keys->generation != 0) {
        ngx_http_auth_m2m_zone_validators(issuer, f->pool, &f->if_none_match,
                                          &f->if_modified_since);
    }

    issuer->fetch = f;

    ngx_http_auth_m2m_fetch_start(f);
}


void
ngx_http_auth_m2m_fetch_done(ngx_http_auth_m2m_fetch_t *f)
{
    ngx_http_auth_m2m_issuer_t  *issuer =
        static_cast<ngx_http_auth_m2m_issuer_t *>(f->data);

    const char                  *error;
    ngx_str_t                   *url = &f->target->display;  /* outlives f */
    ngx_http_auth_m2m_target_t  *next = NULL;

    try {
        error = issuer->source->complete(issuer, f, &next);

    } catch (const std::exception &e) {
        ngx_http_auth_m2m_attempt_finished(issuer, url, "internal_error");
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "auth_m2m_issuer \"%V\": %s", &issuer->name, e.what());
        return;
    }

    if (next) {
        ngx_http_auth_m2m_start_stage(issuer, next, true);
        return;
    }

    ngx_http_auth_m2m_attempt_finished(issuer, url, error);
}


void
ngx_http_auth_m2m_maybe_fetch(ngx_http_auth_m2m_issuer_t *issuer)
{
    bool                         conditional;
    ngx_http_auth_m2m_target_t  *target;

    if (issuer->fetch || ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    if (!ngx_http_auth_m2m_zone_lease(issuer)) {
        return;
    }

    issuer->fetch_deadline = ngx_current_msec + issuer->fetch_timeout;

    target = issuer->source->begin(issuer, &conditional);

    ngx_http_auth_m2m_start_stage(issuer, target, conditional);
}


void
ngx_http_auth_m2m_tick(ngx_event_t *ev)
{
    ngx_http_auth_m2m_issuer_t  *issuer =
        static_cast<ngx_http_auth_m2m_issuer_t *>(ev->data);

    try {
        ngx_http_auth_m2m_maybe_fetch(issuer);
        ngx_http_auth_m2m_sync_keys(issuer);
        ngx_http_auth_m2m_wake(issuer, false);

    } catch (const std::exception &e) {
        ngx_log_error(NGX_LOG_ALERT, ev->log, 0,
                      "auth_m2m_issuer \"%V\": %s", &issuer->name, e.what());
    }

    ngx_http_auth_m2m_rearm(issuer);
}

} /* namespace */


/* After an answer with keys, new or unchanged: when to fetch again. */
time_t
ngx_http_auth_m2m_refresh_in(ngx_http_auth_m2m_issuer_t *issuer,
    ngx_http_auth_m2m_fetch_t *f)
{
    return m2m::next_refresh_after_success(
               ngx_http_auth_m2m_refresh_policy(issuer),
               f->response->max_age(), ngx_http_auth_m2m_jitter_unit());
}


/* A request is about to wait for keys: fetch now if the lease is to be had,
 * and look at the zone at the waiting pace from now on. */
void
ngx_http_auth_m2m_refresh_soon(ngx_http_auth_m2m_issuer_t *issuer)
{
    ngx_http_auth_m2m_maybe_fetch(issuer);
    ngx_http_auth_m2m_rearm(issuer);
}


time_t
ngx_http_auth_m2m_retry_after(ngx_http_auth_m2m_issuer_t *issuer)
{
    time_t  delay;

    if (issuer == NULL || issuer->sh == NULL) {
        return 1;
    }

    delay = ngx_http_auth_m2m_zone_next_refresh(issuer) - ngx_time();

    return ngx_max(1, ngx_min(delay, kMaxRetryAfter));
}


/*
 * A worker leaving (reload, quit) with a fetch in flight: close it and hand
 * the lease back at once, so the next generation of workers need not wait
 * for its deadline.
 */
void
ngx_http_auth_m2m_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                      i;
    ngx_http_auth_m2m_issuer_t    **issuers;
    ngx_http_auth_m2m_main_conf_t  *amcf;

    ngx_http_auth_m2m_token_cache_exit(cycle);

    amcf = static_cast<ngx_http_auth_m2m_main_conf_t *>(
               ngx_http_cycle_get_module_main_conf(cycle,
                                                   ngx_http_auth_m2m_module));
    if (amcf == NULL) {
        return;
    }

    issuers = static_cast<ngx_http_auth_m2m_issuer_t **>(amcf->issuers.elts);

    for (i = 0; i < amcf->issuers.nelts; i++) {
        if (issuers[i]->fetch == NULL) {
            continue;
        }

        ngx_http_auth_m2m_drop_fetch(issuers[i]);
        ngx_http_auth_m2m_zone_release(issuers[i]);
    }
}


ngx_int_t
ngx_http_auth_m2m_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                      i;
    ngx_http_auth_m2m_issuer_t    **issuers;
    ngx_http_auth_m2m_main_conf_t  *amcf;

    if (ngx_process != NGX_PROCESS_WORKER && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    amcf = static_cast<ngx_http_auth_m2m_main_conf_t *>(
               ngx_http_cycle_get_module_main_conf(cycle,
                                                   ngx_http_auth_m2m_module));
    if (amcf == NULL) {
        return NGX_OK;
    }

    (void) ngx_http_auth_m2m_token_cache_init(cycle);

    issuers = static_cast<ngx_http_auth_m2m_issuer_t **>(amcf->issuers.elts);

    for (i = 0; i < amcf->issuers.nelts; i++) {
        ngx_http_auth_m2m_issuer_t  *issuer = issuers[i];

        if (issuer->sh == NULL) {
            continue;
        }

        ngx_http_auth_m2m_wait_init(issuer);

        issuer->tick.handler = ngx_http_auth_m2m_tick;
        issuer->tick.data = issuer;
        issuer->tick.log = cycle->log;
        issuer->tick.cancelable = 1;

        try {
            /* after a reload the zone has keys: serve them at once */
            ngx_http_auth_m2m_sync_keys(issuer);

        } catch (const std::exception &e) {
            ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                          "auth_m2m_issuer \"%V\": %s", &issuer->name,
                          e.what());
        }

        ngx_add_timer(&issuer->tick, 0);
    }

    return NGX_OK;
}
