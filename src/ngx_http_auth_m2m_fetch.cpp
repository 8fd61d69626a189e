/*
 * The key fetcher's I/O, modelled on nginx's OCSP client
 * (ngx_event_openssl_stapling.c) with the TLS steps of
 * ngx_http_upstream_ssl_init_connection(): private pool and log, resolve,
 * connect, handshake, verify the peer and its name, write, read until the
 * parser says done. Failures end in one reason string for the caller to log.
 */

#include "ngx_http_auth_m2m_fetch.h"

#include <type_traits>


namespace {

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
ngx_http_auth_m2m_fetch_close(ngx_http_auth_m2m_fetch_t *f)
{
    ngx_connection_t  *c = f->peer.connection;

    /* the resolver would otherwise call back into a destroyed fetch */
    if (f->resolve) {
        ngx_resolve_name_done(f->resolve);
        f->resolve = NULL;
    }

    if (c == NULL) {
        return;
    }

#if (NGX_SSL)
    if (c->ssl) {
        c->ssl->no_wait_shutdown = 1;
        c->ssl->no_send_shutdown = 1;
        (void) ngx_ssl_shutdown(c);
    }
#endif

    ngx_close_connection(c);
    f->peer.connection = NULL;
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

    ngx_http_auth_m2m_fetch_close(f);

    ngx_post_event(&f->done, &ngx_posted_events);
}


void
ngx_http_auth_m2m_fetch_timeout(ngx_event_t *ev)
{
    ngx_http_auth_m2m_fetch_finish(
        static_cast<ngx_http_auth_m2m_fetch_t *>(ev->data), "timeout");
}


void
ngx_http_auth_m2m_fetch_dummy(ngx_event_t *ev)
{
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
            wev->handler = ngx_http_auth_m2m_fetch_dummy;

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


void
ngx_http_auth_m2m_fetch_send(ngx_http_auth_m2m_fetch_t *f)
{
    ngx_connection_t  *c = f->peer.connection;

    c->read->handler = ngx_http_auth_m2m_fetch_read_handler;
    c->write->handler = ngx_http_auth_m2m_fetch_write_handler;

    ngx_http_auth_m2m_fetch_write_handler(c->write);
}


#if (NGX_SSL)

void
ngx_http_auth_m2m_fetch_handshake_done(ngx_connection_t *c)
{
    long                        rc;
    ngx_http_auth_m2m_fetch_t  *f =
        static_cast<ngx_http_auth_m2m_fetch_t *>(c->data);

    if (!c->ssl->handshaked) {
        ngx_http_auth_m2m_fetch_finish(f, "tls_handshake_failed");
        return;
    }

    rc = SSL_get_verify_result(c->ssl->connection);

    if (rc != X509_V_OK) {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "key server certificate verify error: (%l:%s)",
                      rc, X509_verify_cert_error_string(rc));
        ngx_http_auth_m2m_fetch_finish(f, "tls_verify_failed");
        return;
    }

    if (ngx_ssl_check_host(c, &f->target->host) != NGX_OK) {
        ngx_http_auth_m2m_fetch_finish(f, "tls_host_mismatch");
        return;
    }

    ngx_http_auth_m2m_fetch_send(f);
}


void
ngx_http_auth_m2m_fetch_tls(ngx_http_auth_m2m_fetch_t *f)
{
    ngx_int_t          rc;
    ngx_connection_t  *c = f->peer.connection;

    if (f->ssl == NULL) {
        ngx_http_auth_m2m_fetch_finish(f, "tls_not_configured");
        return;
    }

    if (ngx_ssl_create_connection(f->ssl, c, NGX_SSL_BUFFER|NGX_SSL_CLIENT)
        != NGX_OK)
    {
        ngx_http_auth_m2m_fetch_finish(f, "tls_handshake_failed");
        return;
    }

    /* SNI only for names: RFC 6066 forbids IP literals in server_name */
    if (ngx_inet_addr(f->target->host.data, f->target->host.len) == INADDR_NONE
        && SSL_set_tlsext_host_name(c->ssl->connection,
                                    reinterpret_cast<char *>(
                                        f->target->host.data))
           == 0)
    {
        ngx_http_auth_m2m_fetch_finish(f, "tls_handshake_failed");
        return;
    }

    c->log->action = const_cast<char *>("TLS handshaking with key server");

    rc = ngx_ssl_handshake(c);

    if (rc == NGX_AGAIN) {
        c->ssl->handler = ngx_http_auth_m2m_fetch_handshake_done;
        return;
    }

    ngx_http_auth_m2m_fetch_handshake_done(c);
}

#endif


void
ngx_http_auth_m2m_fetch_connected(ngx_event_t *wev)
{
    ngx_connection_t           *c = static_cast<ngx_connection_t *>(wev->data);
    ngx_http_auth_m2m_fetch_t  *f =
        static_cast<ngx_http_auth_m2m_fetch_t *>(c->data);

    int        err = 0;
    socklen_t  len = sizeof(int);

    /* a refused connect shows up as a ready socket with SO_ERROR set */
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, reinterpret_cast<void *>(&err),
                   &len)
        == -1)
    {
        err = ngx_socket_errno;
    }

    if (err) {
        ngx_log_error(NGX_LOG_INFO, c->log, err, "connect() failed");
        ngx_http_auth_m2m_fetch_finish(f, "connect_failed");
        return;
    }

    c->read->handler = ngx_http_auth_m2m_fetch_dummy;
    c->write->handler = ngx_http_auth_m2m_fetch_dummy;

#if (NGX_SSL)
    if (f->target->https) {
        ngx_http_auth_m2m_fetch_tls(f);
        return;
    }
#endif

    ngx_http_auth_m2m_fetch_send(f);
}


void
ngx_http_auth_m2m_fetch_connect(ngx_http_auth_m2m_fetch_t *f)
{
    ngx_int_t  rc;

    if (f->naddrs == 0) {
        ngx_http_auth_m2m_fetch_finish(f, "resolve_failed");
        return;
    }

    /* like the OCSP client: the first address; a refresh retries anyway */
    f->peer.sockaddr = f->addrs[0].sockaddr;
    f->peer.socklen = f->addrs[0].socklen;
    f->peer.name = &f->addrs[0].name;
    f->peer.get = ngx_event_get_peer;
    f->peer.log = f->log;
    f->peer.log_error = NGX_ERROR_INFO;

    f->log->action = const_cast<char *>("connecting to key server");

    rc = ngx_event_connect_peer(&f->peer);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        ngx_http_auth_m2m_fetch_finish(f, "connect_failed");
        return;
    }

    f->peer.connection->data = f;
    f->peer.connection->pool = f->pool;
    f->peer.connection->log_error = NGX_ERROR_INFO;

    f->peer.connection->read->handler = ngx_http_auth_m2m_fetch_dummy;
    f->peer.connection->write->handler = ngx_http_auth_m2m_fetch_connected;

    if (rc == NGX_OK) {
        ngx_http_auth_m2m_fetch_connected(f->peer.connection->write);
    }
}


void
ngx_http_auth_m2m_fetch_resolved(ngx_resolver_ctx_t *resolve)
{
    ngx_uint_t                  i;
    ngx_http_auth_m2m_fetch_t  *f =
        static_cast<ngx_http_auth_m2m_fetch_t *>(resolve->data);

    f->resolve = NULL;

    if (resolve->state) {
        ngx_log_error(NGX_LOG_INFO, f->log, 0,
                      "%V could not be resolved (%i: %s)", &resolve->name,
                      resolve->state, ngx_resolver_strerror(resolve->state));
        ngx_resolve_name_done(resolve);
        ngx_http_auth_m2m_fetch_finish(f, "resolve_failed");
        return;
    }

    f->naddrs = resolve->naddrs;
    f->addrs = static_cast<ngx_addr_t *>(
                   ngx_pcalloc(f->pool, f->naddrs * sizeof(ngx_addr_t)));

    for (i = 0; f->addrs && i < resolve->naddrs; i++) {
        socklen_t         socklen = resolve->addrs[i].socklen;
        struct sockaddr  *sa = static_cast<struct sockaddr *>(
                                   ngx_palloc(f->pool, socklen));
        u_char           *name = static_cast<u_char *>(
                                     ngx_pnalloc(f->pool, NGX_SOCKADDR_STRLEN));

        if (sa == NULL || name == NULL) {
            f->addrs = NULL;
            break;
        }

        ngx_memcpy(sa, resolve->addrs[i].sockaddr, socklen);
        ngx_inet_set_port(sa, f->target->port);

        f->addrs[i].sockaddr = sa;
        f->addrs[i].socklen = socklen;
        f->addrs[i].name.data = name;
        f->addrs[i].name.len = ngx_sock_ntop(sa, socklen, name,
                                             NGX_SOCKADDR_STRLEN, 1);
    }

    ngx_resolve_name_done(resolve);

    if (f->addrs == NULL) {
        ngx_http_auth_m2m_fetch_finish(f, "out_of_memory");
        return;
    }

    ngx_http_auth_m2m_fetch_connect(f);
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
    ngx_resolver_ctx_t                 *resolve, temp;
    ngx_http_auth_m2m_fetch_log_ctx_t  *lctx =
        static_cast<ngx_http_auth_m2m_fetch_log_ctx_t *>(f->log->data);

    lctx->url = &f->target->display;

    ngx_add_timer(&f->timer, f->timeout);

    if (ngx_http_auth_m2m_fetch_create_request(f) != NGX_OK) {
        ngx_http_auth_m2m_fetch_finish(f, "out_of_memory");
        return;
    }

    if (f->resolver == NULL) {
        f->addrs = f->target->addrs;
        f->naddrs = f->target->naddrs;
        ngx_http_auth_m2m_fetch_connect(f);
        return;
    }

    f->log->action = const_cast<char *>("resolving key server");

    temp.name = f->target->host;

    resolve = ngx_resolve_start(f->resolver, &temp);
    if (resolve == NULL) {
        ngx_http_auth_m2m_fetch_finish(f, "resolve_failed");
        return;
    }

    if (resolve == NGX_NO_RESOLVER) {
        /* an IP literal, or no resolver after all: addresses from start */
        f->addrs = f->target->addrs;
        f->naddrs = f->target->naddrs;
        ngx_http_auth_m2m_fetch_connect(f);
        return;
    }

    resolve->name = f->target->host;
    resolve->handler = ngx_http_auth_m2m_fetch_resolved;
    resolve->data = f;
    resolve->timeout = f->resolver_timeout;
    resolve->cancelable = 1;

    /* an IP literal is answered at once, from a context on our stack */
    if (!resolve->quick) {
        f->resolve = resolve;
    }

    if (ngx_resolve_name(resolve) != NGX_OK) {
        f->resolve = NULL;
        ngx_http_auth_m2m_fetch_finish(f, "resolve_failed");
    }
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

    ngx_http_auth_m2m_fetch_close(f);
    ngx_destroy_pool(f->pool);
}
