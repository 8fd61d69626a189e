/*
 * A one-shot, non-blocking HTTP/1.1 GET inside the worker's event loop, for
 * key sets and discovery documents: resolve, connect, TLS with peer and host
 * verification (ngx_http_auth_m2m_connection.cpp), send, read
 * (ngx_http_auth_m2m_fetch.cpp). The response is parsed by the core's
 * HttpResponseParser; the fetcher only moves bytes.
 */

#ifndef NGX_HTTP_AUTH_M2M_FETCH_H
#define NGX_HTTP_AUTH_M2M_FETCH_H

#include "ngx_http_auth_m2m.h"

#include "core/fetch/http_response.h"


typedef void (*ngx_http_auth_m2m_fetch_done_pt)(ngx_http_auth_m2m_fetch_t *f);
typedef void (*ngx_http_auth_m2m_connected_pt)(ngx_http_auth_m2m_fetch_t *f,
    const char *error);


struct ngx_http_auth_m2m_fetch_s {
    /* set by the caller before ngx_http_auth_m2m_fetch_start() */
    ngx_http_auth_m2m_target_t       *target;
    ngx_ssl_t                        *ssl;
    ngx_resolver_t                   *resolver;     /* NULL: use target addrs */
    ngx_msec_t                        resolver_timeout;
    ngx_msec_t                        timeout;      /* the whole exchange */
    ngx_str_t                         if_none_match;
    ngx_str_t                         if_modified_since;
    ngx_http_auth_m2m_fetch_done_pt   handler;      /* always called from the
                                                       event loop, never from
                                                       inside start() */
    void                             *data;

    /* results */
    const char                       *error;        /* NULL: response complete */
    m2m::HttpResponseParser          *response;

    /* private */
    ngx_pool_t                       *pool;
    ngx_log_t                        *log;
    ngx_resolver_ctx_t               *resolve;      /* a lookup in flight */
    ngx_peer_connection_t             peer;
    ngx_http_auth_m2m_connected_pt    connected;
    ngx_addr_t                       *addrs;
    ngx_uint_t                        naddrs;
    ngx_buf_t                        *request;
    ngx_event_t                       timer;
    ngx_event_t                       done;
    unsigned                          finished:1;
};


ngx_http_auth_m2m_fetch_t *ngx_http_auth_m2m_fetch_create(ngx_log_t *log,
    ngx_str_t *issuer_name, size_t max_body);
void ngx_http_auth_m2m_fetch_start(ngx_http_auth_m2m_fetch_t *f);
void ngx_http_auth_m2m_fetch_destroy(ngx_http_auth_m2m_fetch_t *f);


/* The connection half of a fetch (ngx_http_auth_m2m_connection.cpp), for
 * the exchange half only: open() calls connected() once, from the event
 * loop or from inside open(), with the connection ready (TLS verified) or
 * the reason there is none; close() may be called at any time. */
void ngx_http_auth_m2m_connection_open(ngx_http_auth_m2m_fetch_t *f,
    ngx_http_auth_m2m_connected_pt connected);
void ngx_http_auth_m2m_connection_close(ngx_http_auth_m2m_fetch_t *f);
void ngx_http_auth_m2m_connection_idle(ngx_event_t *ev);

#endif /* NGX_HTTP_AUTH_M2M_FETCH_H */
