/*
 * The key fetcher's connection, the first half of a fetch: resolve the key
 * server (or take the addresses found at start), connect to the first
 * address, and for https run the TLS handshake and verify the peer and its
 * name, with the steps of ngx_http_upstream_ssl_init_connection(). It knows
 * nothing of HTTP: f->connected hears of a ready connection (error NULL) or
 * of the reason there is none, as ngx_peer_connection_t's users do.
 */

#include "ngx_http_auth_m2m_fetch.h"


namespace {

#if (NGX_SSL)

void
ngx_http_auth_m2m_connection_handshaked(ngx_connection_t *c)
{
    long                        rc;
    ngx_http_auth_m2m_fetch_t  *f =
        static_cast<ngx_http_auth_m2m_fetch_t *>(c->data);

    if (!c->ssl->handshaked) {
        f->connected(f, "tls_handshake_failed");
        return;
    }

    rc = SSL_get_verify_result(c->ssl->connection);

    if (rc != X509_V_OK) {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "key server certificate verify error: (%l:%s)",
                      rc, X509_verify_cert_error_string(rc));
        f->connected(f, "tls_verify_failed");
        return;
    }

    if (ngx_ssl_check_host(c, &f->target->host) != NGX_OK) {
        f->connected(f, "tls_host_mismatch");
        return;
    }

    f->connected(f, NULL);
}


void
ngx_http_auth_m2m_connection_tls(ngx_http_auth_m2m_fetch_t *f)
{
    ngx_int_t          rc;
    ngx_connection_t  *c = f->peer.connection;

    if (f->ssl == NULL) {
        f->connected(f, "tls_not_configured");
        return;
    }

    if (ngx_ssl_create_connection(f->ssl, c, NGX_SSL_BUFFER|NGX_SSL_CLIENT)
        != NGX_OK)
    {
        f->connected(f, "tls_handshake_failed");
        return;
    }

    /* SNI only for names: RFC 6066 forbids IP literals in server_name */
    if (ngx_inet_addr(f->target->host.data, f->target->host.len) == INADDR_NONE
        && SSL_set_tlsext_host_name(c->ssl->connection,
                                    reinterpret_cast<char *>(
                                        f->target->host.data))
           == 0)
    {
        f->connected(f, "tls_handshake_failed");
        return;
    }

    c->log->action = const_cast<char *>("TLS handshaking with key server");

    rc = ngx_ssl_handshake(c);

    if (rc == NGX_AGAIN) {
        c->ssl->handler = ngx_http_auth_m2m_connection_handshaked;
        return;
    }

    ngx_http_auth_m2m_connection_handshaked(c);
}

#endif


void
ngx_http_auth_m2m_connection_connected(ngx_event_t *wev)
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
        f->connected(f, "connect_failed");
        return;
    }

    c->read->handler = ngx_http_auth_m2m_connection_idle;
    c->write->handler = ngx_http_auth_m2m_connection_idle;

#if (NGX_SSL)
    if (f->target->https) {
        ngx_http_auth_m2m_connection_tls(f);
        return;
    }
#endif

    f->connected(f, NULL);
}


void
ngx_http_auth_m2m_connection_connect(ngx_http_auth_m2m_fetch_t *f)
{
    ngx_int_t  rc;

    if (f->naddrs == 0) {
        f->connected(f, "resolve_failed");
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
        f->connected(f, "connect_failed");
        return;
    }

    f->peer.connection->data = f;
    f->peer.connection->pool = f->pool;
    f->peer.connection->log_error = NGX_ERROR_INFO;

    f->peer.connection->read->handler = ngx_http_auth_m2m_connection_idle;
    f->peer.connection->write->handler = ngx_http_auth_m2m_connection_connected;

    if (rc == NGX_OK) {
        ngx_http_auth_m2m_connection_connected(f->peer.connection->write);
    }
}


void
ngx_http_auth_m2m_connection_resolved(ngx_resolver_ctx_t *resolve)
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
        f->connected(f, "resolve_failed");
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
        f->connected(f, "out_of_memory");
        return;
    }

    ngx_http_auth_m2m_connection_connect(f);
}

} /* namespace */


void
ngx_http_auth_m2m_connection_open(ngx_http_auth_m2m_fetch_t *f,
    ngx_http_auth_m2m_connected_pt connected)
{
    ngx_resolver_ctx_t  *resolve, temp;

    f->connected = connected;

    if (f->resolver == NULL) {
        f->addrs = f->target->addrs;
        f->naddrs = f->target->naddrs;
        ngx_http_auth_m2m_connection_connect(f);
        return;
    }

    f->log->action = const_cast<char *>("resolving key server");

    temp.name = f->target->host;

    resolve = ngx_resolve_start(f->resolver, &temp);
    if (resolve == NULL) {
        f->connected(f, "resolve_failed");
        return;
    }

    if (resolve == NGX_NO_RESOLVER) {
        /* an IP literal, or no resolver after all: addresses from start */
        f->addrs = f->target->addrs;
        f->naddrs = f->target->naddrs;
        ngx_http_auth_m2m_connection_connect(f);
        return;
    }

    resolve->name = f->target->host;
    resolve->handler = ngx_http_auth_m2m_connection_resolved;
    resolve->data = f;
    resolve->timeout = f->resolver_timeout;
    resolve->cancelable = 1;

    /* an IP literal is answered at once, from a context on our stack */
    if (!resolve->quick) {
        f->resolve = resolve;
    }

    if (ngx_resolve_name(resolve) != NGX_OK) {
        f->resolve = NULL;
        f->connected(f, "resolve_failed");
    }
}


void
ngx_http_auth_m2m_connection_close(ngx_http_auth_m2m_fetch_t *f)
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


/* For the side of a connection that has nothing to do yet, or any more. */
void
ngx_http_auth_m2m_connection_idle(ngx_event_t *ev)
{
}
