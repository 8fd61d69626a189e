/*
 * What the local issuer's public endpoints share (auth_m2m_jwks_endpoint,
 * auth_m2m_metadata_endpoint): the location's issuer, checked to be local
 * once every issuer block is complete; GET and HEAD only; a JSON answer
 * that caches may keep.
 */

#include "ngx_http_auth_m2m_local.h"


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

    return NGX_OK;
}


/* NGX_OK for GET and HEAD, else 405 with Allow (RFC 9110 §15.5.6), which
 * nginx's own 405 leaves out. */
ngx_int_t
ngx_http_auth_m2m_endpoint_method(ngx_http_request_t *r)
{
    ngx_table_elt_t  *h;

    if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {
        return NGX_OK;
    }

    h = static_cast<ngx_table_elt_t *>(ngx_list_push(&r->headers_out.headers));
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    ngx_str_set(&h->key, "Allow");
    ngx_str_set(&h->value, "GET, HEAD");

    return NGX_HTTP_NOT_ALLOWED;
}


/* 200 with a JSON body that lives at least as long as the request, with
 * Cache-Control: max-age and, if given, an ETag (an If-None-Match that
 * names it gets 304 from nginx's not_modified filter). */
ngx_int_t
ngx_http_auth_m2m_send_json(ngx_http_request_t *r, ngx_str_t *body,
    time_t max_age, ngx_str_t *etag)
{
    u_char           *p;
    ngx_int_t         rc;
    ngx_buf_t        *b;
    ngx_chain_t       out;
    ngx_table_elt_t  *h;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    h = static_cast<ngx_table_elt_t *>(ngx_list_push(&r->headers_out.headers));
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = static_cast<u_char *>(ngx_pnalloc(r->pool,
                                          sizeof("max-age=") - 1
                                          + NGX_TIME_T_LEN));
    if (p == NULL) {
        h->hash = 0;
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    ngx_str_set(&h->key, "Cache-Control");
    h->value.data = p;
    h->value.len = ngx_sprintf(p, "max-age=%T", max_age) - p;

    if (etag) {
        h = static_cast<ngx_table_elt_t *>(
                ngx_list_push(&r->headers_out.headers));
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
#if (nginx_version >= 1023000)
        h->next = NULL;
#endif
        ngx_str_set(&h->key, "ETag");
        h->value = *etag;

        r->headers_out.etag = h;
    }

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = body->len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
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
