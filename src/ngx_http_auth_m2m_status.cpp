/*
 * auth_m2m_status: what the module knows, for humans (JSON) and for
 * Prometheus (?format=prometheus). Counters come from the shared zone, so
 * every worker answers the same; key ids are this worker's current view.
 */

#include "ngx_http_auth_m2m_source.h"
#include "ngx_http_auth_m2m_zone.h"


namespace {

/* NGX_ERROR if the core ran out of memory; the glue's own allocations
 * throw, for the handler to catch. */
ngx_int_t
ngx_http_auth_m2m_issuer_report(ngx_http_auth_m2m_issuer_t *issuer,
    m2m::IssuerReport *report)
{
    std::optional<std::vector<m2m::KeyInfo>>  keys;

    ngx_http_auth_m2m_sync_keys(issuer);

    report->name = ngx_http_auth_m2m_string(issuer->name.data,
                                            issuer->name.len);
    report->issuer = issuer->policy->issuer;
    report->source = issuer->source->name;

    if (issuer->keys->set) {
        keys = m2m::describe_keys(*issuer->keys->set);
        if (!keys) {
            return NGX_ERROR;
        }

        report->keys = std::move(*keys);
    }

    issuer->source->describe(issuer, report);

    return NGX_OK;
}


/* An empty optional if the core ran out of memory; the glue's own
 * allocations throw, for the handler to catch. */
std::optional<std::string>
ngx_http_auth_m2m_render(ngx_http_request_t *r, bool prometheus)
{
    ngx_uint_t                      i;
    m2m::ModuleReport               report;
    ngx_http_auth_m2m_issuer_t    **issuers;
    ngx_http_auth_m2m_main_conf_t  *amcf;

    amcf = static_cast<ngx_http_auth_m2m_main_conf_t *>(
               ngx_http_get_module_main_conf(r, ngx_http_auth_m2m_module));

    report.token_cache.size = amcf->token_cache;

    if (amcf->sh) {
        report.allowed = amcf->sh->allowed;
        report.token_cache.hits = amcf->sh->token_cache_hits;
        report.token_cache.misses = amcf->sh->token_cache_misses;
        report.token_cache.evictions = amcf->sh->token_cache_evictions;
        report.token_endpoint.issued = amcf->sh->tokens_issued;
        report.token_endpoint.refused = amcf->sh->token_requests_refused;
        report.token_endpoint.client_auth_failed =
            amcf->sh->client_auth_failed;

        for (i = 0; i < m2m::kStatusCount; i++) {
            if (amcf->sh->refused[i]) {
                report.refused.emplace_back(
                    m2m::reason_code(static_cast<m2m::Reason>(i)),
                    amcf->sh->refused[i]);
            }
        }
    }

    issuers = static_cast<ngx_http_auth_m2m_issuer_t **>(amcf->issuers.elts);

    for (i = 0; i < amcf->issuers.nelts; i++) {
        report.issuers.emplace_back();

        if (ngx_http_auth_m2m_issuer_report(issuers[i], &report.issuers.back())
            != NGX_OK)
        {
            return std::nullopt;
        }
    }

    return prometheus ? m2m::report_prometheus(report)
                      : m2m::report_json(report);
}


ngx_int_t
ngx_http_auth_m2m_status_handler(ngx_http_request_t *r)
{
    bool                         prometheus;
    ngx_int_t                    rc;
    ngx_str_t                    format, body;
    ngx_buf_t                   *b;
    ngx_chain_t                  out;
    std::optional<std::string>   text;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    prometheus = ngx_http_arg(r, (u_char *) "format", sizeof("format") - 1,
                              &format) == NGX_OK
                 && format.len == sizeof("prometheus") - 1
                 && ngx_strncmp(format.data, "prometheus", format.len) == 0;

    try {
        text = ngx_http_auth_m2m_render(r, prometheus);

    } catch (const std::exception &e) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "auth_m2m_status: %s", e.what());
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!text) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "auth_m2m_status: out of memory");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_auth_m2m_copy_str(r->pool, *text, &body) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (prometheus) {
        ngx_str_set(&r->headers_out.content_type,
                    "text/plain; version=0.0.4; charset=utf-8");
    } else {
        ngx_str_set(&r->headers_out.content_type, "application/json");
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = body.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = static_cast<ngx_buf_t *>(ngx_calloc_buf(r->pool));
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = body.data;
    b->last = body.data + body.len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}

} /* namespace */


/* The request counters behind the page, kept in the zone so that every
 * worker reports the same; atomic, so the zone's lock is not taken. */
void
ngx_http_auth_m2m_count(ngx_http_request_t *r, m2m::Reason status)
{
    ngx_http_auth_m2m_main_conf_t  *amcf;

    amcf = static_cast<ngx_http_auth_m2m_main_conf_t *>(
               ngx_http_get_module_main_conf(r, ngx_http_auth_m2m_module));

    if (amcf->sh == NULL) {
        return;
    }

    if (status == m2m::Reason::ok) {
        (void) ngx_atomic_fetch_add(&amcf->sh->allowed, 1);

    } else {
        (void) ngx_atomic_fetch_add(
                   &amcf->sh->refused[static_cast<unsigned>(status)], 1);
    }
}


char *
ngx_http_auth_m2m_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = static_cast<ngx_http_core_loc_conf_t *>(
               ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module));

    clcf->handler = ngx_http_auth_m2m_status_handler;

    return NGX_CONF_OK;
}
