/*
 * The key fetcher: a fetch's life (private pool and log, the deadline, one
 * reason string at the end for the caller to log) and its HTTP exchange
 * (write the request, read until the parser says done), modelled on nginx's
 * OCSP client (ngx_event_openssl_stapling.c). Resolving, connecting and TLS
 * are in ngx_http_auth_m2m_connection.cpp.
 */

#include "ngx_http_auth_m2m_fetch.h"

#include <type_traits>


namespace {

void ngx_http_auth_m2m_fetch_finish(ngx_http_auth_m2m_fetch_t *f,
    const char *error);

/* The fetcher runs in event handlers, without a try (see
 * ngx_http_auth_m2m.h). */
static_assert(std::is_nothrow_constructible<m2m::HttpResponseParser,
                                            size_t>::value,
              "the response parser is created without a try");

typedef struct {
    ngx_str_t  *issuer;
    ngx_str_t  *url;
} ngx_http_auth_m2m_fetch_log_ctx_t;


u_char *
ngx_http_auth_m2m_fetch_log_error(ngx_log_t *log, u_char *buf, size_t len)
{
    u_char                             *p = buf;
    ngx_http_auth_m2m_fetch_log_ctx_t  *ctx;

    if (log->action) {
        p = ngx_snprintf(p, len, " while %s", log->action);
        len -= p - buf;
    }

    ctx = static_cast<ngx_http_auth_m2m_fetch_log_ctx_t *>(log->data);

    if (ctx) {
        p = ngx_snprintf(p, len, ", issuer: \"%V\", url: \"%V\"",
                         ctx->issuer, ctx->url);
    }

    return p;
}


void
ngx_http_auth_m2m_fetch_done_handler(ngx_event_t *ev)
{
    ngx_http_auth_m2m_fetch_t  *f =
        static_cast<ngx_http_auth_m2m_fetch_t *>(ev->data);

    f->handler(f);
}


void
ngx_http_auth_m2m_fetch_timeout(ngx_event_t *ev)
{
    ngx_http_auth_m2m_fetch_finish(
        static_cast<ngx_http_auth_m2m_fetch_t *>(ev->data), "timeout");
}


ngx_int_t
ngx_http_auth_m2m_fetch_create_request(ngx_http_auth_m2m_fetch_t *f)
{
    size_t                       len;
    u_char                      *p;
    ngx_http_auth_m2m_target_t  *t = f->target;

    static const char  agent[] = "User-Agent: nginx-auth-m2m" CRLF
                                 "Accept: application/json" CRLF
                                 "Connection: close" CRLF;

    len = sizeof("GET  HTTP/1.1" CRLF) - 1 + t->uri.len
          + sizeof("Host: " CRLF) - 1 + t->host_header.len
          + sizeof(agent) - 1
          + sizeof("If-None-Match: " CRLF) - 1 + f->if_none_match.len
          + sizeof("If-Modified-Since: " CRLF) - 1 + f->if_modified_since.len
          + sizeof(CRLF) - 1;

    f->request = ngx_create_temp_buf(f->pool, len);
    if (f->request == NULL) {
        return NGX_ERROR;
    }

    p = f->request->last;
    p = ngx_sprintf(p, "GET %V HTTP/1.1" CRLF "Host: %V" CRLF,
                    &t->uri, &t->host_header);
    p = ngx_cpymem(p, agent, sizeof(agent) - 1);

    if (f->if_none_match.len) {
        p = ngx_sprintf(p, "If-None-Match: %V" CRLF, &f->if_none_match);
    }

    if (f->if_modified_since.len) {
        p = ngx_sprintf(p, "If-Modified-Since: %V" CRLF,
                        &f->if_modified_since);
    }

    *p++ = CR; *p++ = LF;
    f->request->last = p;

    return NGX_OK;
}


void
ngx_http_auth_m2m_fetch_read_handler(ngx_event_t *rev)
{
    ssize_t                     n;
    ngx_connection_t           *c = static_cast<ngx_connection_t *>(rev->data);
    ngx_http_auth_m2m_fetch_t  *f =
        static_cast<ngx_http_auth_m2m_fetch_t *>(c->data);

    u_char  buf[16384];

    for ( ;; ) {
        n = c->recv(c, buf, sizeof(buf));

        if (n > 0) {
            switch (f->response->feed(reinterpret_cast<char *>(buf), n)) {
            case m2m::HttpResponseParser::Result::done:
                ngx_http_auth_m2m_fetch_finish(f, NULL);
                return;
            case m2m::HttpResponseParser::Result::error:
                ngx_http_auth_m2m_fetch_finish(f, f->response->error());
                return;
            case m2m::HttpResponseParser::Result::need_more:
                continue;
            }
        }

        if (n == NGX_AGAIN) {
            if (ngx_handle_read_event(rev, 0) != NGX_OK) {
                ngx_http_auth_m2m_fetch_finish(f, "recv_failed");
            }
            return;
        }

        if (n == 0) {
            ngx_http_auth_m2m_fetch_finish(f,
                f->response->finish() == m2m::HttpResponseParser::Result::done
                    ? NULL : f->response->error());
            return;
        }

        ngx_http_auth_m2m_fetch_finish(f, "recv_failed");
        return;
    }
}


void
ngx_http_auth_m2m_fetch_write_handler(ngx_event_t *wev)
{
    ssize_t                     n, size;
    ngx_connection_t           *c = static_cast<ngx_connection_t *>(wev->data);
    ngx_http_auth_m2m_fetch_t  *f =
        static_cast<ngx_http_auth_m2m_fetch_t *>(c->data);

    c->log->action = const_cast<char *>("sending request to key server");

    size = f->request->last - f->request->pos;

    n = c->send(c, f->request->pos, size);

    if (n == NGX_ERROR) {
        ngx_http_auth_m2m_fetch_finish(f, "send_failed");
        return;
    }

    if (n > 0) {
        f->request->pos += n;

        if (n == size) {
            c->log->action = const_cast<char *>("reading response from key server");
            wev->handler = ngx_http_auth_m2m_connection_idle;

            if (ngx_handle_write_event(wev, 0) != NGX_OK) {
                ngx_http_auth_m2m_fetch_finish(f, "send_failed");
                return;
            }

            /* the response may already be waiting */
            ngx_http_auth_m2m_fetch_read_handler(c->read);
            return;
        }
    }

    if (ngx_handle_write_event(wev, 0) != NGX_OK) {
        ngx_http_auth_m2m_fetch_finish(f, "send_failed");
    }
}

/* Ends the exchange exactly once; the caller hears of it from the event
 * loop, so start() never calls back into a half-built caller. */
void
ngx_http_auth_m2m_fetch_finish(ngx_http_auth_m2m_fetch_t *f, const char *error)
{
    if (f->finished) {
        return;
    }

    f->finished = 1;
    f->error = error;

    if (f->timer.timer_set) {
        ngx_del_timer(&f->timer);
    }

    ngx_http_auth_m2m_connection_close(f);

    ngx_post_event(&f->done, &ngx_posted_events);
}


/* The connection is ready, and the exchange takes its events over; or
 * there is none, and error says why. */
void
ngx_http_auth_m2m_fetch_connected(ngx_http_auth_m2m_fetch_t *f,
    const char *error)
{
    ngx_connection_t  *c;

    if (error) {
        ngx_http_auth_m2m_fetch_finish(f, error);
        return;
    }

    c = f->peer.connection;

    c->read->handler = ngx_http_auth_m2m_fetch_read_handler;
    c->write->handler = ngx_http_auth_m2m_fetch_write_handler;

    ngx_http_auth_m2m_fetch_write_handler(c->write);
}

} /* namespace */


ngx_http_auth_m2m_fetch_t *
ngx_http_auth_m2m_fetch_create(ngx_log_t *log, ngx_str_t *issuer_name,
    size_t max_body)
{
    ngx_pool_t                         *pool;
    ngx_http_auth_m2m_fetch_t          *f;
    ngx_http_auth_m2m_fetch_log_ctx_t  *lctx;

    pool = ngx_create_pool(4096, log);
    if (pool == NULL) {
        return NULL;
    }

    f = static_cast<ngx_http_auth_m2m_fetch_t *>(
            ngx_pcalloc(pool, sizeof(ngx_http_auth_m2m_fetch_t)));
    lctx = static_cast<ngx_http_auth_m2m_fetch_log_ctx_t *>(
               ngx_pcalloc(pool, sizeof(ngx_http_auth_m2m_fetch_log_ctx_t)));

    if (f == NULL || lctx == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    f->log = static_cast<ngx_log_t *>(ngx_palloc(pool, sizeof(ngx_log_t)));
    if (f->log == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    f->pool = pool;

    f->response = ngx_http_auth_m2m_pool_new<m2m::HttpResponseParser>(pool,
                                                                      max_body);
    if (f->response == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    *f->log = *log;
    lctx->issuer = issuer_name;
    f->log->handler = ngx_http_auth_m2m_fetch_log_error;
    f->log->data = lctx;
    f->log->action = const_cast<char *>("fetching keys");
    pool->log = f->log;

    f->timer.handler = ngx_http_auth_m2m_fetch_timeout;
    f->timer.data = f;
    f->timer.log = f->log;
    f->timer.cancelable = 1;

    f->done.handler = ngx_http_auth_m2m_fetch_done_handler;
    f->done.data = f;
    f->done.log = f->log;

    return f;
}


void
ngx_http_auth_m2m_fetch_start(ngx_http_auth_m2m_fetch_t *f)
{
    ngx_http_auth_m2m_fetch_log_ctx_t  *lctx =
        static_cast<ngx_http_auth_m2m_fetch_log_ctx_t *>(f->log->data);

    lctx->url = &f->target->display;

    ngx_add_timer(&f->timer, f->timeout);

    if (ngx_http_auth_m2m_fetch_create_request(f) != NGX_OK) {
        ngx_http_auth_m2m_fetch_finish(f, "out_of_memory");
        return;
    }

    ngx_http_auth_m2m_connection_open(f, ngx_http_auth_m2m_fetch_connected);
}


void
ngx_http_auth_m2m_fetch_destroy(ngx_http_auth_m2m_fetch_t *f)
{
    if (f->timer.timer_set) {
        ngx_del_timer(&f->timer);
    }

    if (f->done.posted) {
        ngx_delete_posted_event(&f->done);
    }

    ngx_http_auth_m2m_connection_close(f);
    ngx_destroy_pool(f->pool);
}

