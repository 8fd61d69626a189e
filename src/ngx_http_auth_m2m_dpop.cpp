/*
 * DPoP (RFC 9449): a token bound to a key is honoured only with a proof,
 * signed by that key, made for this request, and never seen before. The
 * proof itself is core/verify/dpop_proof's; here is what the request says
 * it must match, and the replay cache (ngx_http_auth_m2m_dpop_replay.cpp).
 */

#include "ngx_http_auth_m2m.h"

#include "core/issuer/metadata.h"


namespace {

/* The request's DPoP header: one, or dpop_proof_missing, or
 * dpop_proof_multiple (RFC 9449 §4.3: "not more than one"). */
m2m::Reason
ngx_http_auth_m2m_dpop_header(ngx_http_request_t *r, ngx_str_t *proof)
{
    ngx_uint_t        i, n;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    n = 0;
    part = &r->headers_in.headers.part;
    h = static_cast<ngx_table_elt_t *>(part->elts);

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = static_cast<ngx_table_elt_t *>(part->elts);
            i = 0;
        }

        if (h[i].hash == 0 || h[i].key.len != sizeof("DPoP") - 1
            || ngx_strncasecmp(h[i].key.data,
                               reinterpret_cast<u_char *>(
                                   const_cast<char *>("DPoP")),
                               sizeof("DPoP") - 1) != 0)
        {
            continue;
        }

        if (++n > 1) {
            return m2m::Reason::dpop_proof_multiple;
        }

        *proof = h[i].value;
    }

    return n ? m2m::Reason::ok : m2m::Reason::dpop_proof_missing;
}


/*
 * The URI a proof's htu must name (RFC 9449 §4.3, step 9): auth_m2m_base_url,
 * else the request's scheme and Host, as the metadata endpoint builds its
 * URLs; then the path as the client sent it, without query or fragment. That
 * is r->unparsed_uri, not r->uri, which nginx has percent-decoded and
 * normalised (merged slashes, dot segments) and which a rewrite changes: the
 * client signed what it sent.
 */
m2m::Reason
ngx_http_auth_m2m_dpop_htu(ngx_http_request_t *r,
    ngx_http_auth_m2m_loc_conf_t *alcf, ngx_str_t *htu)
{
    bool              https = false;
    u_char           *p, *last;
    size_t            len;
    ngx_str_t         path;
    ngx_table_elt_t  *host = r->headers_in.host;

    path.data = r->unparsed_uri.data;
    last = path.data + r->unparsed_uri.len;

    for (p = path.data; p < last && *p != '?' && *p != '#'; p++) {
        /* void */
    }

    path.len = p - path.data;

    if (alcf->base_url.len) {
        len = alcf->base_url.len + path.len;

    } else {
        if (host == NULL
            || !m2m::is_url_authority(ngx_http_auth_m2m_view(host->value)))
        {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "auth_m2m: the request has no Host that can be "
                          "part of a URL, so no DPoP proof can name it; "
                          "auth_m2m_base_url would give one");
            return m2m::Reason::dpop_proof_wrong_uri;
        }

#if (NGX_HTTP_SSL)
        https = r->connection->ssl != NULL;
#endif

        len = sizeof("https://") - 1 + host->value.len + path.len;
    }

    htu->data = static_cast<u_char *>(ngx_pnalloc(r->pool, len));
    if (htu->data == NULL) {
        return m2m::Reason::internal_error;
    }

    if (alcf->base_url.len) {
        p = ngx_cpymem(htu->data, alcf->base_url.data, alcf->base_url.len);

    } else {
        p = ngx_sprintf(htu->data, "%s%V", https ? "https://" : "http://",
                        &host->value);
    }

    p = ngx_cpymem(p, path.data, path.len);
    htu->len = p - htu->data;

    return m2m::Reason::ok;
}


/* The proof of a request that came with the DPoP scheme, checked once: its
 * verdict and key are kept in the request's state. */
void
ngx_http_auth_m2m_check_proof(ngx_http_request_t *r,
    ngx_http_auth_m2m_loc_conf_t *alcf, ngx_http_auth_m2m_state_t *state)
{
    m2m::Reason     status;
    m2m::DpopProof  proof;

    status = ngx_http_auth_m2m_dpop_proof(r, alcf, &state->presented, &proof);

    if (status == m2m::Reason::ok) {
        if (proof.jkt.size() > sizeof(state->dpop_jkt)) {
            status = m2m::Reason::internal_error;

        } else {
            ngx_memcpy(state->dpop_jkt, proof.jkt.data(), proof.jkt.size());
            state->dpop_jkt_len = proof.jkt.size();
        }
    }

    state->dpop_status = status;
    state->dpop_checked = true;
}

} /* namespace */


/*
 * The token's binding to its presenter, for the access phase. As Bearer
 * only the binding rules apply (a DPoP-bound token, or auth_m2m_dpop
 * required, refuses it). As DPoP the proof comes first, then the token's
 * cnf.jkt must be the proof's key. The proof is judged once per request:
 * an internal redirect or a wait for keys looks again, and its jti is in
 * the replay cache by then. The first location's auth_m2m_base_url and
 * window judged it, for the request the client made.
 */
m2m::Reason
ngx_http_auth_m2m_check_dpop(ngx_http_request_t *r,
    ngx_http_auth_m2m_loc_conf_t *alcf, ngx_http_auth_m2m_state_t *state)
{
    m2m::DpopMode  mode = static_cast<m2m::DpopMode>(alcf->dpop);

    const m2m::Confirmation  &cnf = state->token->confirmation();

    if (state->scheme == m2m::Scheme::bearer) {
        return m2m::check_dpop_binding(cnf, mode, state->scheme,
                                       std::string_view());
    }

    if (!state->dpop_checked) {
        ngx_http_auth_m2m_check_proof(r, alcf, state);
    }

    if (state->dpop_status != m2m::Reason::ok) {
        return state->dpop_status;
    }

    return m2m::check_dpop_binding(cnf, mode, state->scheme,
                                   std::string_view(
                                       reinterpret_cast<char *>(
                                           state->dpop_jkt),
                                       state->dpop_jkt_len));
}


m2m::Reason
ngx_http_auth_m2m_dpop_proof(ngx_http_request_t *r,
    ngx_http_auth_m2m_loc_conf_t *alcf, ngx_str_t *access_token,
    m2m::DpopProof *proof)
{
    ngx_str_t                       header, htu;
    ngx_int_t                       rc;
    m2m::Reason                     status;
    m2m::DpopRequest                request;
    ngx_http_auth_m2m_main_conf_t  *amcf;

    status = ngx_http_auth_m2m_dpop_header(r, &header);
    if (status != m2m::Reason::ok) {
        return status;
    }

    status = ngx_http_auth_m2m_dpop_htu(r, alcf, &htu);
    if (status != m2m::Reason::ok) {
        return status;
    }

    request.method = ngx_http_auth_m2m_view(r->method_name);
    request.uri = ngx_http_auth_m2m_view(htu);
    request.now = ngx_time();
    request.window = alcf->dpop_window;

    if (access_token) {
        request.access_token = ngx_http_auth_m2m_view(*access_token);
    }

    status = m2m::verify_dpop_proof(ngx_http_auth_m2m_view(header), request,
                                    proof);
    if (status != m2m::Reason::ok) {
        return status;
    }

    /* only a proof that verified is remembered: anyone can send a jti.
     * It is kept while any location would take it, not only this one: the
     * same URI can reach a location with a longer window (a rewrite on the
     * query or a header, which htu does not name). */
    amcf = static_cast<ngx_http_auth_m2m_main_conf_t *>(
               ngx_http_get_module_main_conf(r, ngx_http_auth_m2m_module));

    rc = ngx_http_auth_m2m_dpop_replay_seen(r, proof->jkt, proof->jti,
                                            proof->iat
                                            + ngx_max(request.window,
                                                      amcf->dpop_window_max)
                                            + request.leeway);

    if (rc == NGX_DECLINED) {
        return m2m::Reason::dpop_proof_replayed;
    }

    return rc == NGX_OK ? m2m::Reason::ok : m2m::Reason::internal_error;
}
