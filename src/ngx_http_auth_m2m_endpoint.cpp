/*
 * What the local issuer's endpoints share (auth_m2m_jwks_endpoint,
 * auth_m2m_metadata_endpoint, auth_m2m_token_endpoint,
 * auth_m2m_clients_api): the location's issuer, checked to be local once
 * every issuer block is complete; methods and 405s; a small request body
 * in one piece; the base of the URLs they hand out; JSON answers that
 * caches may keep, or must not.
 */

#include "ngx_http_auth_m2m_local.h"

#include "core/issuer/metadata.h"


/* The location's endpoint, or NULL (logged). The issuer may be defined
 * further down: ngx_http_auth_m2m_check_endpoint() judges it later. */
ngx_http_auth_m2m_endpoint_t *
ngx_http_auth_m2m_add_endpoint(ngx_conf_t *cf,
    ngx_http_auth_m2m_loc_conf_t *alcf, ngx_http_handler_pt handler)
{
    ngx_str_t                     *value;
    ngx_http_core_loc_conf_t      *clcf;
    ngx_http_auth_m2m_endpoint_t  *endpoint;

    value = static_cast<ngx_str_t *>(cf->args->elts);

    if (alcf->endpoint) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": this location already serves \"%s\"",
                           &value[0], alcf->endpoint->directive);
        return NULL;
    }

    endpoint = static_cast<ngx_http_auth_m2m_endpoint_t *>(
                   ngx_pcalloc(cf->pool,
                               sizeof(ngx_http_auth_m2m_endpoint_t)));
    if (endpoint == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     endpoint->token = { 0, NULL };
     *     endpoint->jwks = { 0, NULL };
     *     endpoint->registration = { 0, NULL };
     *     endpoint->no_registration = 0;
     */

    try {
        endpoint->issuer = ngx_http_auth_m2m_issuer_ref(cf, &value[1]);

    } catch (const std::exception &e) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\": %s", &value[0],
                           e.what());
        return NULL;
    }

    if (endpoint->issuer == NULL) {
        return NULL;
    }

    endpoint->directive = reinterpret_cast<char *>(value[0].data);
    endpoint->file = cf->conf_file->file.name.data;
    endpoint->line = cf->conf_file->line;

    clcf = static_cast<ngx_http_core_loc_conf_t *>(
               ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module));

    clcf->handler = handler;

    alcf->endpoint = endpoint;

    return endpoint;
}


/* At merge time, when every issuer block is complete. */
ngx_int_t
ngx_http_auth_m2m_check_endpoint(ngx_conf_t *cf,
    ngx_http_auth_m2m_endpoint_t *endpoint)
{
    if (ngx_http_auth_m2m_local(endpoint->issuer) == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"%s\" in %s:%ui names auth_m2m_issuer \"%V\", "
                      "which has no \"signing_key\": only a local issuer "
                      "has these endpoints", endpoint->directive,
                      endpoint->file, endpoint->line, &endpoint->issuer->name);
        return NGX_ERROR;
    }

    if (endpoint->clients_api
        && ngx_http_auth_m2m_local(endpoint->issuer)->clients.len == 0)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"%s\" in %s:%ui names auth_m2m_issuer \"%V\", "
                      "which has no \"clients\" file to manage",
                      endpoint->directive, endpoint->file, endpoint->line,
                      &endpoint->issuer->name);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* Adds a response header; NULL if memory ran out. key and value must live
 * as long as the request. */
ngx_table_elt_t *
ngx_http_auth_m2m_endpoint_header(ngx_http_request_t *r, const char *key,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = static_cast<ngx_table_elt_t *>(ngx_list_push(&r->headers_out.headers));
    if (h == NULL) {
        return NULL;
    }

    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    h->key.len = ngx_strlen(key);
    h->key.data = reinterpret_cast<u_char *>(const_cast<char *>(key));
    h->value = *value;

    return h;
}


/* 405 with Allow (RFC 9110 §15.5.6), which nginx's own 405 leaves out. */
ngx_int_t
ngx_http_auth_m2m_endpoint_allow(ngx_http_request_t *r, const char *methods)
{
    ngx_str_t  *value;

    value = static_cast<ngx_str_t *>(ngx_palloc(r->pool, sizeof(ngx_str_t)));
    if (value == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    value->data = reinterpret_cast<u_char *>(const_cast<char *>(methods));
    value->len = ngx_strlen(methods);

    if (ngx_http_auth_m2m_endpoint_header(r, "Allow", value) == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_HTTP_NOT_ALLOWED;
}


/* NGX_OK for GET and HEAD, else 405. */
ngx_int_t
ngx_http_auth_m2m_endpoint_method(ngx_http_request_t *r)
{
    if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {
        return NGX_OK;
    }

    return ngx_http_auth_m2m_endpoint_allow(r, "GET, HEAD");
}


/* The body read by ngx_http_read_client_request_body() in one piece, if it
 * is in memory and within max bytes; false if it is not (a chunked body has
 * no Content-Length to refuse it by). A chunked body ends in a buffer with
 * no data, only last_buf set. Throws on allocation failure. */
bool
ngx_http_auth_m2m_endpoint_body(ngx_http_request_t *r, size_t max,
    ngx_str_t *body)
{
    u_char                   *p;
    size_t                    len;
    ngx_buf_t                *b, *data;
    ngx_uint_t                n;
    ngx_chain_t              *cl;
    ngx_http_request_body_t  *rb = r->request_body;

    ngx_str_null(body);

    if (rb == NULL || rb->bufs == NULL) {
        return true;
    }

    if (rb->temp_file) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "auth_m2m: request body in a temporary file, "
                      "refused: client_body_buffer_size is smaller than "
                      "the body");
        return false;
    }

    len = 0;
    n = 0;
    data = NULL;

    for (cl = rb->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            return false;
        }

        if (ngx_buf_special(b)) {
            continue;
        }

        if (!ngx_buf_in_memory(b)) {
            return false;
        }

        len += b->last - b->pos;

        if (len > max) {
            return false;
        }

        if (b->last != b->pos) {
            data = b;
            n++;
        }
    }

    if (n == 0) {
        return true;
    }

    if (n == 1) {
        body->data = data->pos;
        body->len = len;
        return true;
    }

    body->data = static_cast<u_char *>(ngx_pnalloc(r->pool, len));
    if (body->data == NULL) {
        throw std::bad_alloc();
    }

    p = body->data;

    for (cl = rb->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (!ngx_buf_special(b) && b->last != b->pos) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
        }
    }

    body->len = len;

    return true;
}



/* scheme://host[:port] that the endpoints' URLs start with:
 * auth_m2m_base_url, else the request's scheme and Host. 400 if the Host
 * cannot be part of a URL. May throw. */
ngx_int_t
ngx_http_auth_m2m_endpoint_base(ngx_http_request_t *r,
    ngx_http_auth_m2m_loc_conf_t *alcf, std::string *base)
{
    bool              https = false;
    ngx_table_elt_t  *host = r->headers_in.host;

    if (alcf->base_url.len) {
        *base = ngx_http_auth_m2m_string(alcf->base_url.data,
                                         alcf->base_url.len);
        return NGX_OK;
    }

#if (NGX_HTTP_SSL)
    https = r->connection->ssl != NULL;
#endif

    if (host == NULL
        || !m2m::is_url_authority(ngx_http_auth_m2m_view(host->value)))
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "auth_m2m: the request has no Host that can be part "
                      "of a URL; auth_m2m_base_url would give one");
        return NGX_HTTP_BAD_REQUEST;
    }

    *base = (https ? "https://" : "http://")
            + ngx_http_auth_m2m_string(host->value.data, host->value.len);

    return NGX_OK;
}


/* A JSON body that lives at least as long as the request, with the status
 * and headers already set. */
static ngx_int_t
ngx_http_auth_m2m_send_body(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *body)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.status = status;
    r->headers_out.content_length_n = body->len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only || body->len == 0) {
        return rc;
    }

    b = static_cast<ngx_buf_t *>(ngx_calloc_buf(r->pool));
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = body->data;
    b->last = body->data + body->len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* 200 with a JSON body, with Cache-Control: max-age and, if given, an ETag
 * (an If-None-Match that names it gets 304 from nginx's not_modified
 * filter). */
ngx_int_t
ngx_http_auth_m2m_send_json(ngx_http_request_t *r, ngx_str_t *body,
    time_t max_age, ngx_str_t *etag)
{
    ngx_int_t   rc;
    ngx_str_t  *value;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    value = static_cast<ngx_str_t *>(ngx_palloc(r->pool, sizeof(ngx_str_t)));
    if (value == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    value->data = static_cast<u_char *>(
                      ngx_pnalloc(r->pool,
                                  sizeof("max-age=") - 1 + NGX_TIME_T_LEN));
    if (value->data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    value->len = ngx_sprintf(value->data, "max-age=%T", max_age) - value->data;

    if (ngx_http_auth_m2m_endpoint_header(r, "Cache-Control", value) == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (etag) {
        r->headers_out.etag = ngx_http_auth_m2m_endpoint_header(r, "ETag",
                                                                etag);
        if (r->headers_out.etag == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_auth_m2m_send_body(r, NGX_HTTP_OK, body);
}


/* A JSON answer no cache may keep: it may carry a token or a secret (RFC
 * 6749 §5.1, RFC 7591 §3.2.1). */
ngx_int_t
ngx_http_auth_m2m_send_private_json(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *body)
{
    static ngx_str_t  no_store = ngx_string("no-store");
    static ngx_str_t  no_cache = ngx_string("no-cache");

    if (ngx_http_auth_m2m_endpoint_header(r, "Cache-Control", &no_store)
        == NULL
        || ngx_http_auth_m2m_endpoint_header(r, "Pragma", &no_cache) == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_auth_m2m_send_body(r, status, body);
}
