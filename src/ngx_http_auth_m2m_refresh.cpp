/*
 * Keeping remote key sets fresh. Every worker ticks once a second per remote
 * issuer; whichever finds a refresh due and the zone's fetch lock free takes
 * the lock and fetches; everyone re-imports when the zone's generation moves.
 * Requests that need keys we do not have (cold start, a new kid) wait here
 * for the next completed fetch instead of failing.
 */

#include "ngx_http_auth_m2m_fetch.h"
#include "ngx_http_auth_m2m_zone.h"

#include "core/discovery.h"
#include "core/jwks.h"
#include "core/refresh_policy.h"

#include <type_traits>


namespace {

/* Timers and fetch completions are entered from nginx without a try (see
 * ngx_http_auth_m2m.h). */
static_assert(std::is_nothrow_default_constructible<
                  m2m::JwksParseResult>::value
              && std::is_nothrow_move_assignable<m2m::JwksParseResult>::value,
              "a parsed key set is taken over without a try");

/* How often idle workers look at the zone, and how often while requests of
 * theirs wait on a fetch that another worker is running. */
const ngx_msec_t  kIdleTick = 1000;
const ngx_msec_t  kWaitTick = 20;

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


bool
ngx_http_auth_m2m_stage_is_discovery(ngx_http_auth_m2m_issuer_t *issuer,
    ngx_http_auth_m2m_fetch_t *f)
{
    return issuer->source == NGX_HTTP_AUTH_M2M_SOURCE_DISCOVERY
           && f->target == &issuer->target;
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
ngx_http_auth_m2m_wake(ngx_http_auth_m2m_issuer_t *issuer, bool all)
{
    ngx_queue_t                *q, *next;
    ngx_event_t                *wev;
    ngx_http_auth_m2m_state_t  *state;
    ngx_atomic_uint_t           attempts;

    attempts = issuer->sh->attempts;

    for (q = ngx_queue_head(&issuer->waiters);
         q != ngx_queue_sentinel(&issuer->waiters);
         q = next)
    {
        next = ngx_queue_next(q);
        state = ngx_queue_data(q, ngx_http_auth_m2m_state_t, queue);

        if (!all && state->wait_attempts == attempts) {
            continue;
        }

        ngx_http_auth_m2m_stop_waiting(state);

        wev = state->request->connection->write;
        wev->delayed = 0;

        if (wev->timer_set) {
            ngx_del_timer(wev);
        }

        ngx_post_event(wev, &ngx_posted_events);
    }
}


void
ngx_http_auth_m2m_rearm(ngx_http_auth_m2m_issuer_t *issuer)
{
    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    ngx_add_timer(&issuer->tick, ngx_queue_empty(&issuer->waiters)
                                 ? kIdleTick : kWaitTick);
}


/* With the zone locked: an attempt ended, whatever its outcome. Bumping
 * "attempts" is what wakes the waiting requests of every worker. */
void
ngx_http_auth_m2m_attempt_done_locked(ngx_http_auth_m2m_issuer_sh_t *sh)
{
    sh->attempts++;

    if (sh->owner == ngx_pid) {
        sh->owner = 0;
    }
}


/* With the zone locked: the server answered with keys, new or unchanged. */
void
ngx_http_auth_m2m_success_locked(ngx_http_auth_m2m_issuer_t *issuer,
    ngx_http_auth_m2m_fetch_t *f)
{
    time_t                          now = ngx_time();
    ngx_http_auth_m2m_issuer_sh_t  *sh = issuer->sh;

    sh->failures = 0;
    sh->last_success = now;
    sh->next_refresh = now + m2m::next_refresh_after_success(
                                 ngx_http_auth_m2m_refresh_policy(issuer),
                                 f->response->max_age(),
                                 ngx_http_auth_m2m_jitter_unit());

    ngx_http_auth_m2m_attempt_done_locked(sh);
}


void
ngx_http_auth_m2m_fetch_failed(ngx_http_auth_m2m_issuer_t *issuer,
    ngx_str_t *url, const char *reason)
{
    time_t                          now = ngx_time(), delay;
    size_t                          nkeys;
    ngx_http_auth_m2m_issuer_sh_t  *sh = issuer->sh;

    ngx_shmtx_lock(&issuer->shpool->mutex);

    if (!ngx_http_auth_m2m_sh_current_locked(issuer)) {
        /* another configuration's entry now: its waiters are not ours */
        ngx_shmtx_unlock(&issuer->shpool->mutex);
        return;
    }

    sh->failures++;
    delay = m2m::backoff_after_failure(ngx_http_auth_m2m_refresh_policy(issuer),
                                       static_cast<unsigned>(sh->failures));
    sh->next_refresh = now + delay;
    sh->last_error_time = now;
    ngx_http_auth_m2m_sh_set(sh->last_error, NGX_HTTP_AUTH_M2M_ERROR_LEN,
                             &sh->last_error_len,
                             reinterpret_cast<const u_char *>(reason),
                             ngx_strlen(reason));
    sh->fetch_failed++;
    ngx_http_auth_m2m_attempt_done_locked(sh);

    ngx_shmtx_unlock(&issuer->shpool->mutex);

    nkeys = issuer->policy->keys ? issuer->policy->keys->keys().size() : 0;

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "auth_m2m_issuer \"%V\": key refresh from \"%V\" failed: "
                  "%s; keeping %uz keys, next attempt in %T s",
                  &issuer->name, url, reason, nkeys, delay);
}


void
ngx_http_auth_m2m_fetch_not_modified(ngx_http_auth_m2m_issuer_t *issuer,
    ngx_http_auth_m2m_fetch_t *f)
{
    ngx_shmtx_lock(&issuer->shpool->mutex);

    if (ngx_http_auth_m2m_sh_current_locked(issuer)) {
        issuer->sh->fetch_not_modified++;
        ngx_http_auth_m2m_success_locked(issuer, f);
    }

    ngx_shmtx_unlock(&issuer->shpool->mutex);
}


/* A validator is kept whole or not at all: a cut one would never match. */
void
ngx_http_auth_m2m_set_validator(u_char *field, size_t cap, size_t *len,
    const std::string &value)
{
    *len = 0;

    if (value.size() <= cap) {
        ngx_http_auth_m2m_sh_set(field, cap, len,
                                 reinterpret_cast<const u_char *>(value.data()),
                                 value.size());
    }
}


/* Returns the reason the set could not be stored, or NULL. */
const char *
ngx_http_auth_m2m_store_keys(ngx_http_auth_m2m_issuer_t *issuer,
    ngx_http_auth_m2m_fetch_t *f, m2m::JwksParseResult *parsed)
{
    u_char                              *copy;
    ngx_uint_t                           generation;
    const std::string                   &body = f->response->body();
    std::shared_ptr<const m2m::KeySet>   keys;
    ngx_http_auth_m2m_issuer_sh_t       *sh = issuer->sh;

    ngx_shmtx_lock(&issuer->shpool->mutex);

    if (!ngx_http_auth_m2m_sh_current_locked(issuer)) {
        /* an old worker's fetch from the URL of its own configuration */
        ngx_shmtx_unlock(&issuer->shpool->mutex);
        return NULL;
    }

    copy = static_cast<u_char *>(ngx_slab_alloc_locked(issuer->shpool,
                                                       body.size()));
    if (copy == NULL) {
        ngx_shmtx_unlock(&issuer->shpool->mutex);
        return "zone_full";
    }

    ngx_memcpy(copy, body.data(), body.size());

    if (sh->jwks) {
        ngx_slab_free_locked(issuer->shpool, sh->jwks);
    }

    sh->jwks = copy;
    sh->jwks_len = body.size();

    ngx_http_auth_m2m_set_validator(sh->etag, NGX_HTTP_AUTH_M2M_ETAG_LEN,
                                    &sh->etag_len, f->response->etag());
    ngx_http_auth_m2m_set_validator(sh->last_modified,
                                    NGX_HTTP_AUTH_M2M_DATE_LEN,
                                    &sh->last_modified_len,
                                    f->response->last_modified());

    sh->fetch_ok++;
    generation = sh->generation + 1;
    sh->generation = generation;
    ngx_http_auth_m2m_success_locked(issuer, f);

    ngx_shmtx_unlock(&issuer->shpool->mutex);

    /* this worker has parsed the set already; short of memory, it imports
     * the stored set later, as the other workers do */
    keys = m2m::share_keys(std::move(parsed->keys));

    if (keys) {
        issuer->policy->keys = std::move(keys);
        issuer->generation = generation;
    }

    return NULL;
}


void
ngx_http_auth_m2m_start_stage(ngx_http_auth_m2m_issuer_t *issuer,
    ngx_http_auth_m2m_target_t *target, bool conditional)
{
    ngx_str_t                       value;
    ngx_http_auth_m2m_fetch_t      *f;
    ngx_http_auth_m2m_issuer_sh_t  *sh = issuer->sh;

    f = ngx_http_auth_m2m_fetch_create(ngx_cycle->log, &issuer->name,
                                       issuer->jwks_max_size);
    if (f == NULL) {
        ngx_http_auth_m2m_fetch_failed(issuer, &target->display,
                                       "out_of_memory");
        ngx_http_auth_m2m_wake(issuer, true);
        return;
    }

    f->target = target;
    f->ssl = issuer->ssl;
    f->resolver = issuer->resolver;
    f->resolver_timeout = issuer->resolver_timeout;
    f->timeout = ngx_http_auth_m2m_fetch_budget(issuer);
    f->handler = ngx_http_auth_m2m_fetch_done;
    f->data = issuer;

    if (conditional && issuer->generation != 0) {
        ngx_shmtx_lock(&issuer->shpool->mutex);

        /* a failed copy only costs the conditional request */
        value.len = sh->etag_len;
        value.data = sh->etag;
        f->if_none_match.data = ngx_pstrdup(f->pool, &value);
        f->if_none_match.len = f->if_none_match.data ? value.len : 0;

        value.len = sh->last_modified_len;
        value.data = sh->last_modified;
        f->if_modified_since.data = ngx_pstrdup(f->pool, &value);
        f->if_modified_since.len = f->if_modified_since.data ? value.len : 0;

        ngx_shmtx_unlock(&issuer->shpool->mutex);
    }

    issuer->fetch = f;

    ngx_http_auth_m2m_fetch_start(f);
}


/* The jwks_uri a discovery document named: reused while it stays the same;
 * a new one gets a pool of its own and the previous pool goes, so a worker
 * does not grow with every refresh. */
const char *
ngx_http_auth_m2m_discovered_target(ngx_http_auth_m2m_issuer_t *issuer,
    const std::string &uri, ngx_http_auth_m2m_target_t **out)
{
    const char                  *error = NULL;
    ngx_str_t                    url;
    ngx_pool_t                  *pool;
    ngx_http_auth_m2m_target_t  *t, *d = issuer->discovered;

    if (d && d->url.len == uri.size()
        && ngx_strncmp(d->url.data, uri.data(), uri.size()) == 0)
    {
        *out = d;
        return NULL;
    }

    pool = ngx_create_pool(1024, ngx_cycle->log);
    if (pool == NULL) {
        return "out_of_memory";
    }

    t = static_cast<ngx_http_auth_m2m_target_t *>(
            ngx_pcalloc(pool, sizeof(ngx_http_auth_m2m_target_t)));

    if (t == NULL || ngx_http_auth_m2m_copy_str(pool, uri, &url) != NGX_OK) {
        error = "out_of_memory";

    } else if (ngx_http_auth_m2m_parse_target(pool, ngx_cycle->log,
                                              NGX_LOG_INFO, &url, t, 0)
               != NGX_OK)
    {
        error = "discovery_bad_jwks_uri";

    } else if (issuer->target.https && !t->https) {
        /* keys must not travel with less protection than their metadata */
        error = "discovery_jwks_uri_not_https";

    } else if (issuer->resolver == NULL) {
        /* without a resolver only the discovery host's addresses are known */
        if (t->host.len != issuer->target.host.len
            || ngx_strncasecmp(t->host.data, issuer->target.host.data,
                               t->host.len) != 0
            || t->port != issuer->target.port)
        {
            error = "jwks_uri_host_needs_resolver";

        } else {
            t->addrs = issuer->target.addrs;
            t->naddrs = issuer->target.naddrs;
        }
    }

    if (error) {
        ngx_destroy_pool(pool);
        return error;
    }

    if (issuer->discovered_pool) {
        ngx_destroy_pool(issuer->discovered_pool);
    }

    issuer->discovered_pool = pool;
    issuer->discovered = t;
    *out = t;

    return NULL;
}


void
ngx_http_auth_m2m_discovery_done(ngx_http_auth_m2m_issuer_t *issuer,
    ngx_http_auth_m2m_fetch_t *f)
{
    const char                  *error = f->error;
    std::string                  uri;
    m2m::Status                  status;
    ngx_http_auth_m2m_target_t  *target = NULL;

    char  buf[32];

    if (error == NULL && f->response->status() != 200) {
        ngx_snprintf(reinterpret_cast<u_char *>(buf), sizeof(buf),
                     "http_status_%d%Z", f->response->status());
        error = buf;
    }

    if (error == NULL) {
        status = m2m::parse_discovery(f->response->body(),
                                      issuer->policy->issuer, &uri);
        if (status != m2m::Status::ok) {
            error = m2m::reason_code(status);
        }
    }

    if (error == NULL) {
        error = ngx_http_auth_m2m_discovered_target(issuer, uri, &target);
    }

    if (error) {
        ngx_http_auth_m2m_fetch_failed(issuer, &issuer->target.display, error);
        ngx_http_auth_m2m_fetch_destroy(f);
        issuer->fetch = NULL;
        ngx_http_auth_m2m_wake(issuer, true);
        return;
    }

    ngx_shmtx_lock(&issuer->shpool->mutex);

    if (ngx_http_auth_m2m_sh_current_locked(issuer)) {
        ngx_http_auth_m2m_sh_set(issuer->sh->jwks_uri,
                                 NGX_HTTP_AUTH_M2M_URI_LEN,
                                 &issuer->sh->jwks_uri_len,
                                 target->display.data, target->display.len);
    }

    ngx_shmtx_unlock(&issuer->shpool->mutex);

    ngx_http_auth_m2m_fetch_destroy(f);
    issuer->fetch = NULL;

    ngx_http_auth_m2m_start_stage(issuer, target, true);
}


void
ngx_http_auth_m2m_jwks_done(ngx_http_auth_m2m_issuer_t *issuer,
    ngx_http_auth_m2m_fetch_t *f)
{
    int                   code;
    const char           *error = f->error;
    m2m::JwksParseResult  parsed;

    char  buf[32];

    code = error ? 0 : f->response->status();

    if (error == NULL && code == 304) {
        if (issuer->generation == 0) {
            error = "unexpected_not_modified";
        } else {
            ngx_http_auth_m2m_fetch_not_modified(issuer, f);
            return;
        }
    }

    if (error == NULL && code != 200) {
        ngx_snprintf(reinterpret_cast<u_char *>(buf), sizeof(buf),
                     "http_status_%d%Z", code);
        error = buf;
    }

    if (error == NULL) {
        parsed = m2m::parse_jwks(f->response->body());

        if (parsed.status != m2m::Status::ok) {
            error = m2m::reason_code(parsed.status);
        }
    }

    if (error == NULL) {
        for (const auto &skipped : parsed.skipped) {
            ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                          "auth_m2m_issuer \"%V\": key from \"%V\" ignored: %s",
                          &issuer->name, &f->target->display, skipped.c_str());
        }

        error = ngx_http_auth_m2m_store_keys(issuer, f, &parsed);
    }

    if (error) {
        ngx_http_auth_m2m_fetch_failed(issuer, &f->target->display, error);
    }
}


void
ngx_http_auth_m2m_fetch_done(ngx_http_auth_m2m_fetch_t *f)
{
    ngx_http_auth_m2m_issuer_t  *issuer =
        static_cast<ngx_http_auth_m2m_issuer_t *>(f->data);

    if (ngx_http_auth_m2m_stage_is_discovery(issuer, f)) {
        ngx_http_auth_m2m_discovery_done(issuer, f);
        return;
    }

    ngx_http_auth_m2m_jwks_done(issuer, f);

    ngx_http_auth_m2m_fetch_destroy(f);
    issuer->fetch = NULL;

    ngx_http_auth_m2m_wake(issuer, true);
    ngx_http_auth_m2m_rearm(issuer);
}


/* Takes the zone's fetch lock when a refresh is due and nobody (alive)
 * holds it. */
void
ngx_http_auth_m2m_maybe_fetch(ngx_http_auth_m2m_issuer_t *issuer)
{
    bool                            start = false;
    time_t                          now = ngx_time();
    ngx_http_auth_m2m_issuer_sh_t  *sh = issuer->sh;

    if (issuer->fetch || ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    ngx_shmtx_lock(&issuer->shpool->mutex);

    if (ngx_http_auth_m2m_sh_current_locked(issuer)
        && (sh->refetch_requested || now >= sh->next_refresh)
        && (sh->owner == 0 || now >= sh->deadline))
    {
        if (sh->owner && sh->owner != ngx_pid) {
            ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                          "auth_m2m_issuer \"%V\": worker %P did not finish "
                          "its key fetch, taking over", &issuer->name,
                          sh->owner);
        }

        sh->owner = ngx_pid;
        sh->deadline = now + static_cast<time_t>(issuer->fetch_timeout / 1000)
                       + 2;
        sh->last_attempt = now;
        sh->refetch_requested = 0;
        start = true;
    }

    ngx_shmtx_unlock(&issuer->shpool->mutex);

    if (!start) {
        return;
    }

    issuer->fetch_deadline = ngx_current_msec + issuer->fetch_timeout;

    ngx_http_auth_m2m_start_stage(issuer, &issuer->target,
                                  issuer->source
                                  == NGX_HTTP_AUTH_M2M_SOURCE_URI);
}


void
ngx_http_auth_m2m_tick(ngx_event_t *ev)
{
    ngx_http_auth_m2m_issuer_t  *issuer =
        static_cast<ngx_http_auth_m2m_issuer_t *>(ev->data);

    ngx_http_auth_m2m_maybe_fetch(issuer);
    ngx_http_auth_m2m_sync_keys(issuer);
    ngx_http_auth_m2m_wake(issuer, false);

    ngx_http_auth_m2m_rearm(issuer);
}


void
ngx_http_auth_m2m_wait_handler(ngx_http_request_t *r)
{
    ngx_event_t                *wev = r->connection->write;
    ngx_http_auth_m2m_state_t  *state;

    if (wev->delayed) {
        /* the socket became writable while we still wait for keys */
        if (ngx_handle_write_event(wev, 0) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        }
        return;
    }

    state = static_cast<ngx_http_auth_m2m_state_t *>(
                ngx_http_get_module_ctx(r, ngx_http_auth_m2m_module));

    if (state) {
        ngx_http_auth_m2m_forget(state);
    }

    /* as limit_req does after its delay: level-triggered methods need the
     * read event re-armed before reading is blocked */
    if (ngx_handle_read_event(r->connection->read, 0) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    r->read_event_handler = ngx_http_block_reading;
    r->write_event_handler = ngx_http_core_run_phases;

    ngx_http_core_run_phases(r);
}

} /* namespace */


void
ngx_http_auth_m2m_sync_keys(ngx_http_auth_m2m_issuer_t *issuer)
{
    bool                                 stored;
    char                                *text;
    u_char                              *src;
    size_t                               len;
    ngx_uint_t                           generation;
    m2m::JwksParseResult                 parsed;
    std::shared_ptr<const m2m::KeySet>   keys;
    ngx_http_auth_m2m_issuer_sh_t       *sh = issuer->sh;

    if (sh == NULL || sh->generation == issuer->generation) {
        return;
    }

    text = NULL;
    len = 0;

    ngx_shmtx_lock(&issuer->shpool->mutex);

    if (ngx_http_auth_m2m_sh_current_locked(issuer)) {
        generation = sh->generation;
        src = sh->jwks;
        len = sh->jwks_len;

    } else if (issuer->sh_version == sh->retired_version) {
        /* an old worker after a reload changed the key URL */
        generation = sh->retired_generation;
        src = generation == issuer->generation ? NULL : sh->retired_jwks;
        len = sh->retired_jwks_len;

    } else {
        generation = sh->generation;
        src = NULL;
    }

    stored = src != NULL;

    if (stored) {
        /* plain memory, not a std::string: nothing may throw under the lock */
        text = static_cast<char *>(ngx_alloc(len, ngx_cycle->log));

        if (text) {
            ngx_memcpy(text, src, len);
        }
    }

    ngx_shmtx_unlock(&issuer->shpool->mutex);

    if (!stored) {
        issuer->generation = generation;
        return;
    }

    if (text == NULL) {
        /* ngx_alloc() has logged; the generation stays, so the next look
         * tries again */
        return;
    }

    parsed = m2m::parse_jwks(std::string_view(text, len));

    ngx_free(text);

    /* the fetching worker validated this set; a failure here is a bug */
    if (parsed.status != m2m::Status::ok) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "auth_m2m_issuer \"%V\": stored key set is invalid: %s",
                      &issuer->name, m2m::reason_code(parsed.status));
        issuer->generation = generation;
        return;
    }

    keys = m2m::share_keys(std::move(parsed.keys));

    if (!keys) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "auth_m2m_issuer \"%V\": keys of generation %ui not "
                      "imported: out of memory", &issuer->name, generation);
        return;
    }

    issuer->policy->keys = std::move(keys);
    issuer->generation = generation;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "auth_m2m_issuer \"%V\": keys of generation %ui imported",
                   &issuer->name, generation);
}


void
ngx_http_auth_m2m_sync_all(ngx_http_auth_m2m_main_conf_t *amcf)
{
    ngx_uint_t                    i;
    ngx_http_auth_m2m_issuer_t  **issuers;

    issuers = static_cast<ngx_http_auth_m2m_issuer_t **>(amcf->issuers.elts);

    for (i = 0; i < amcf->issuers.nelts; i++) {
        ngx_http_auth_m2m_sync_keys(issuers[i]);
    }
}


ngx_http_auth_m2m_issuer_t *
ngx_http_auth_m2m_issuer_of(ngx_http_auth_m2m_main_conf_t *amcf,
    const m2m::IssuerPolicy *policy)
{
    ngx_uint_t                    i;
    ngx_http_auth_m2m_issuer_t  **issuers;

    issuers = static_cast<ngx_http_auth_m2m_issuer_t **>(amcf->issuers.elts);

    for (i = 0; i < amcf->issuers.nelts; i++) {
        if (issuers[i]->policy == policy) {
            return issuers[i];
        }
    }

    return NULL;
}


/*
 * NGX_AGAIN: the request now waits for the in-flight or a new fetch and
 * resumes the access phase when it completes (or fetch_timeout passes).
 * NGX_DECLINED: no fetch is to be had (the unknown-kid cooldown is running),
 * decide with the keys we have.
 */
ngx_int_t
ngx_http_auth_m2m_wait_for_keys(ngx_http_request_t *r,
    ngx_http_auth_m2m_state_t *state, ngx_http_auth_m2m_issuer_t *issuer)
{
    bool                            join = false;
    time_t                          now = ngx_time();
    ngx_event_t                    *wev;
    ngx_http_auth_m2m_issuer_sh_t  *sh = issuer->sh;

    if (sh == NULL || state->waited) {
        return NGX_DECLINED;
    }

    ngx_shmtx_lock(&issuer->shpool->mutex);

    if (!ngx_http_auth_m2m_sh_current_locked(issuer)) {
        join = false;

    } else if (sh->owner != 0 && now < sh->deadline) {
        join = true;

    } else if (now - sh->last_kid_refetch >= issuer->kid_refetch_cooldown) {
        sh->refetch_requested = 1;
        sh->last_kid_refetch = now;

        if (state->status == m2m::Status::unknown_kid) {
            sh->fetch_kid_triggered++;
        }

        join = true;
    }

    state->wait_attempts = sh->attempts;

    ngx_shmtx_unlock(&issuer->shpool->mutex);

    if (!join) {
        return NGX_DECLINED;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "auth_m2m: waiting for keys of \"%V\"", &issuer->name);

    state->waited = true;
    state->waiting_on = issuer;
    ngx_queue_insert_tail(&issuer->waiters, &state->queue);

    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_auth_m2m_wait_handler;

    /* past fetch_timeout the fetch has failed anyway: do not wait longer */
    wev = r->connection->write;
    wev->delayed = 1;
    ngx_add_timer(wev, issuer->fetch_timeout + kWaitTick * 5);

    ngx_http_auth_m2m_maybe_fetch(issuer);
    ngx_http_auth_m2m_rearm(issuer);

    return NGX_AGAIN;
}


time_t
ngx_http_auth_m2m_retry_after(ngx_http_auth_m2m_issuer_t *issuer)
{
    time_t  delay;

    if (issuer == NULL || issuer->sh == NULL) {
        return 1;
    }

    delay = issuer->sh->next_refresh - ngx_time();

    return ngx_max(1, ngx_min(delay, kMaxRetryAfter));
}


/*
 * A worker leaving (reload, quit) with a fetch in flight: close it and hand
 * the lock back at once, so the next generation of workers need not wait
 * for the lock's deadline.
 */
void
ngx_http_auth_m2m_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                      i;
    ngx_http_auth_m2m_issuer_t    **issuers;
    ngx_http_auth_m2m_main_conf_t  *amcf;

    amcf = static_cast<ngx_http_auth_m2m_main_conf_t *>(
               ngx_http_cycle_get_module_main_conf(cycle,
                                                   ngx_http_auth_m2m_module));
    if (amcf == NULL) {
        return;
    }

    issuers = static_cast<ngx_http_auth_m2m_issuer_t **>(amcf->issuers.elts);

    for (i = 0; i < amcf->issuers.nelts; i++) {
        ngx_http_auth_m2m_issuer_t  *issuer = issuers[i];

        if (issuer->fetch == NULL) {
            continue;
        }

        ngx_http_auth_m2m_fetch_destroy(issuer->fetch);
        issuer->fetch = NULL;

        ngx_shmtx_lock(&issuer->shpool->mutex);

        if (issuer->sh->owner == ngx_pid) {
            issuer->sh->owner = 0;
            issuer->sh->refetch_requested = 1;
        }

        ngx_shmtx_unlock(&issuer->shpool->mutex);
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

    issuers = static_cast<ngx_http_auth_m2m_issuer_t **>(amcf->issuers.elts);

    for (i = 0; i < amcf->issuers.nelts; i++) {
        ngx_http_auth_m2m_issuer_t  *issuer = issuers[i];

        if (issuer->sh == NULL) {
            continue;
        }

        ngx_queue_init(&issuer->waiters);

        issuer->tick.handler = ngx_http_auth_m2m_tick;
        issuer->tick.data = issuer;
        issuer->tick.log = cycle->log;
        issuer->tick.cancelable = 1;

        /* after a reload the zone has keys: serve them at once */
        ngx_http_auth_m2m_sync_keys(issuer);

        ngx_add_timer(&issuer->tick, 0);
    }

    return NGX_OK;
}
