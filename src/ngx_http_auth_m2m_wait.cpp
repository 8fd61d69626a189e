/*
 * Requests that need keys we do not have (cold start, a new kid) wait here
 * for the next completed fetch of their issuer, whichever worker runs it,
 * instead of failing; then they run the access phase again with the keys
 * that fetch brought.
 */

#include "ngx_http_auth_m2m_zone.h"


namespace {

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
ngx_http_auth_m2m_wait_init(ngx_http_auth_m2m_issuer_t *issuer)
{
    ngx_queue_init(&issuer->waiters);
}


bool
ngx_http_auth_m2m_waiting(ngx_http_auth_m2m_issuer_t *issuer)
{
    return !ngx_queue_empty(&issuer->waiters);
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
    ngx_event_t  *wev;

    if (issuer->sh == NULL || state->waited) {
        return NGX_DECLINED;
    }

    if (!ngx_http_auth_m2m_zone_want_keys(issuer,
                                          state->verdict
                                          == m2m::Reason::unknown_kid,
                                          &state->wait_attempts))
    {
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
    ngx_add_timer(wev, issuer->fetch_timeout + NGX_HTTP_AUTH_M2M_WAIT_TICK * 5);

    ngx_http_auth_m2m_refresh_soon(issuer);

    return NGX_AGAIN;
}


/* Resumes the requests whose fetch has ended since they began to wait (all
 * of them: when a fetch of this worker's own has just ended). */
void
ngx_http_auth_m2m_wake(ngx_http_auth_m2m_issuer_t *issuer, bool all)
{
    ngx_queue_t                *q, *next;
    ngx_event_t                *wev;
    ngx_http_auth_m2m_state_t  *state;
    ngx_atomic_uint_t           attempts;

    attempts = ngx_http_auth_m2m_zone_attempts(issuer);

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
ngx_http_auth_m2m_stop_waiting(ngx_http_auth_m2m_state_t *state)
{
    if (state->waiting_on) {
        ngx_queue_remove(&state->queue);
        state->waiting_on = NULL;
    }
}
