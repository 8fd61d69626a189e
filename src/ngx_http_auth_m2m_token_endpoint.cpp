/*
 * auth_m2m_token_endpoint NAME: the local issuer NAME's token endpoint
 * (OAuth 2.0 client credentials, RFC 6749 §4.4), a content handler. The
 * decision is core/issuer/token_request.cpp, the token and the JSON replies
 * core/issuer/access_token.cpp; this file reads the request, with nginx's
 * non-blocking body reader, and sends what they say.
 *
 * The body must be in memory and at most m2m::kMaxFormSize bytes: a larger
 * Content-Length is refused before the body is read, and a body that nginx
 * put in a temporary file (over client_body_buffer_size, or with
 * client_body_in_file_only) is refused after, both as invalid_request 400,
 * as issue 9 and RFC 6749 §5.2 ("otherwise malformed") have it; a 413
 * would not be an OAuth error that a client library can show. nginx's
 * default client_body_buffer_size (8k or 16k) holds any body under the
 * limit.
 *
 * Every reply carries Cache-Control: no-store and Pragma: no-cache (RFC
 * 6749 §5.1; errors too, as they may name a client); a 401 carries
 * WWW-Authenticate: Basic realm="NAME", a 405 Allow: POST.
 */

#include "ngx_http_auth_m2m_local.h"
#include "ngx_http_auth_m2m_zone.h"

#include "core/issuer/access_token.h"
#include "core/issuer/form.h"
#include "core/issuer/token_request.h"


namespace {

ngx_int_t ngx_http_auth_m2m_token_handler(ngx_http_request_t *r);
void ngx_http_auth_m2m_token_body(ngx_http_request_t *r);


const m2m::Registry  ngx_http_auth_m2m_no_clients;


/* checked at configuration: the issuer is local */
ngx_http_auth_m2m_issuer_t *
ngx_http_auth_m2m_token_issuer(ngx_http_request_t *r)
{
    ngx_http_auth_m2m_loc_conf_t  *alcf;

    alcf = static_cast<ngx_http_auth_m2m_loc_conf_t *>(
               ngx_http_get_module_loc_conf(r, ngx_http_auth_m2m_module));

    return alcf->endpoint->issuer;
}


/* The request as the core reads it; the body is set by the caller. */
m2m::TokenRequest
ngx_http_auth_m2m_token_request(ngx_http_request_t *r)
{
    m2m::TokenRequest  request;

    request.method = ngx_http_auth_m2m_view(r->method_name);

    if (r->headers_in.content_type) {
        request.content_type =
            ngx_http_auth_m2m_view(r->headers_in.content_type->value);
    }

    if (r->headers_in.authorization) {
        request.authorization =
            ngx_http_auth_m2m_view(r->headers_in.authorization->value);
    }

    return request;
}


/* Counted in the zone, so that every worker's status page shows the same;
 * atomic, so the zone's lock is not taken. */
void
ngx_http_auth_m2m_token_count(ngx_http_request_t *r,
    const m2m::TokenRefusal *refusal)
{
    ngx_http_auth_m2m_main_conf_t  *amcf;

    amcf = static_cast<ngx_http_auth_m2m_main_conf_t *>(
               ngx_http_get_module_main_conf(r, ngx_http_auth_m2m_module));

    if (amcf->sh == NULL) {
        return;
    }

    if (refusal == NULL) {
        (void) ngx_atomic_fetch_add(&amcf->sh->tokens_issued, 1);
        return;
    }

    (void) ngx_atomic_fetch_add(&amcf->sh->token_requests_refused, 1);

    if (refusal->authentication_failed) {
        (void) ngx_atomic_fetch_add(&amcf->sh->client_auth_failed, 1);
    }
}


/* One line per refused request, at auth_m2m_log_level. The client id is
 * VSCHAR (the core checked it) and never the secret; the description
 * names no secret either. */
void
ngx_http_auth_m2m_token_log(ngx_http_request_t *r,
    ngx_http_auth_m2m_issuer_t *issuer, const m2m::TokenRefusal &refusal)
{
    ngx_uint_t                     level;
    ngx_http_auth_m2m_loc_conf_t  *alcf;

    alcf = static_cast<ngx_http_auth_m2m_loc_conf_t *>(
               ngx_http_get_module_loc_conf(r, ngx_http_auth_m2m_module));
    level = alcf->log_level;

    if (refusal.authentication_failed) {
        if (refusal.client_id.empty()) {
            ngx_log_error(level, r->connection->log, 0,
                          "auth_m2m: token request refused: client "
                          "authentication failed, client_id unusable, "
                          "issuer \"%V\"", &issuer->name);
            return;
        }

        ngx_log_error(level, r->connection->log, 0,
                      "auth_m2m: token request refused: client "
                      "authentication failed, client_id \"%s\", "
                      "issuer \"%V\"", refusal.client_id.c_str(),
                      &issuer->name);
        return;
    }

    if (refusal.status >= NGX_HTTP_INTERNAL_SERVER_ERROR) {
        level = NGX_LOG_ERR;
    }

    ngx_log_error(level, r->connection->log, 0,
                  "auth_m2m: token request refused: %s (%s), issuer \"%V\"",
                  m2m::oauth_error_code(refusal.error),
                  refusal.description.c_str(), &issuer->name);
}


ngx_int_t
ngx_http_auth_m2m_token_send(ngx_http_request_t *r,
    ngx_http_auth_m2m_issuer_t *issuer, ngx_uint_t status, ngx_str_t *body,
    bool challenge, bool allow_post)
{
    u_char     *p;
    ngx_str_t   value;

    static ngx_str_t  post = ngx_string("POST");

    if (allow_post
        && ngx_http_auth_m2m_endpoint_header(r, "Allow", &post) == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (challenge) {
        /* the name was checked for quotes and controls at configuration */
        value.len = sizeof("Basic realm=\"\"") - 1 + issuer->name.len;
        value.data = static_cast<u_char *>(ngx_pnalloc(r->pool, value.len));
        if (value.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        p = ngx_sprintf(value.data, "Basic realm=\"%V\"", &issuer->name);
        value.len = p - value.data;

        r->headers_out.www_authenticate =
            ngx_http_auth_m2m_endpoint_header(r, "WWW-Authenticate", &value);

        if (r->headers_out.www_authenticate == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_auth_m2m_send_private_json(r, status, body);
}


/*
 * RFC 9449 §5: a token request with a DPoP header gets a token bound to the
 * proof's key, or invalid_dpop_proof. Checked once the client authenticated,
 * so that only clients fill the replay cache; without the header (or with
 * auth_m2m_dpop off) the token is a bearer token.
 */
void
ngx_http_auth_m2m_token_dpop(ngx_http_request_t *r,
    ngx_http_auth_m2m_loc_conf_t *alcf, m2m::TokenDecision *decision)
{
    m2m::Reason      status;
    m2m::DpopProof   proof;

    if (static_cast<m2m::DpopMode>(alcf->dpop) == m2m::DpopMode::off) {
        return;
    }

    status = ngx_http_auth_m2m_dpop_proof(r, alcf, NULL, &proof);

    if (status == m2m::Reason::dpop_proof_missing) {
        return;
    }

    if (status == m2m::Reason::ok) {
        decision->grant.jkt = std::move(proof.jkt);
        return;
    }

    if (status == m2m::Reason::internal_error) {
        decision->refusal.emplace();    /* server_error 500 */
        return;
    }

    decision->refusal = m2m::token_refusal(m2m::OAuthError::invalid_dpop_proof,
                                           m2m::reason_code(status));
}


/* Decides, issues, replies. The core's functions do not throw; the glue's
 * strings may, and the caller catches. */
ngx_int_t
ngx_http_auth_m2m_token_respond(ngx_http_request_t *r,
    m2m::TokenRequest request)
{
    time_t                               now;
    ngx_int_t                            rc;
    ngx_str_t                            body;
    std::string                          error;
    const m2m::Registry                 *registry;
    m2m::CertificateThumbprint           thumbprint;
    ngx_http_auth_m2m_local_t           *local;
    ngx_http_auth_m2m_issuer_t          *issuer;
    ngx_http_auth_m2m_loc_conf_t        *alcf;
    std::optional<std::string>           token, text;

    issuer = ngx_http_auth_m2m_token_issuer(r);
    local = ngx_http_auth_m2m_local(issuer);
    now = ngx_time();

    alcf = static_cast<ngx_http_auth_m2m_loc_conf_t *>(
               ngx_http_get_module_loc_conf(r, ngx_http_auth_m2m_module));

    /* for clients whose tokens are bound to it (RFC 8705 §3) */
    rc = ngx_http_auth_m2m_client_thumbprint(r, alcf, &thumbprint);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_OK) {
        request.certificate_thumbprint = thumbprint.view();
    }

    registry = ngx_http_auth_m2m_registry(issuer, r->connection->log);
    if (registry == NULL) {
        registry = &ngx_http_auth_m2m_no_clients;
    }

    m2m::TokenDecision  decision = m2m::decide_token_request(
        request, *registry, issuer->policy->audiences, now);

    if (!decision.refusal) {
        ngx_http_auth_m2m_token_dpop(r, alcf, &decision);
    }

    if (!decision.refusal) {
        token = m2m::issue_access_token(local->keys->front(),
                                        issuer->policy->issuer,
                                        decision.grant, now,
                                        local->token_lifetime, &error);
        if (!token) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "auth_m2m: issuer \"%V\" cannot issue a token: %s",
                          &issuer->name, error.c_str());
            decision.refusal.emplace();      /* server_error 500 */

        } else {
            text = m2m::token_response_json(*token, local->token_lifetime,
                                            decision.grant.scopes,
                                            !decision.grant.jkt.empty());

            ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "auth_m2m: token issued, client_id \"%s\", "
                           "aud \"%s\", issuer \"%V\"",
                           decision.grant.client->client_id.c_str(),
                           decision.grant.audience.c_str(), &issuer->name);
        }
    }

    if (decision.refusal) {
        ngx_http_auth_m2m_token_log(r, issuer, *decision.refusal);
        text = m2m::error_response_json(*decision.refusal);
    }

    ngx_http_auth_m2m_token_count(r, decision.refusal
                                     ? &*decision.refusal : NULL);

    if (!text) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "auth_m2m: token endpoint: out of memory");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_auth_m2m_copy_str(r->pool, *text, &body) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (decision.refusal) {
        return ngx_http_auth_m2m_token_send(r, issuer,
                                            decision.refusal->status, &body,
                                            decision.refusal->challenge,
                                            decision.refusal->allow_post);
    }

    return ngx_http_auth_m2m_token_send(r, issuer, NGX_HTTP_OK, &body,
                                        false, false);
}


ngx_int_t
ngx_http_auth_m2m_token_handler(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    try {
        m2m::TokenRequest  request = ngx_http_auth_m2m_token_request(r);

        request.body_too_large =
            r->headers_in.content_length_n > (off_t) m2m::kMaxFormSize;

        if (request.body_too_large || m2m::check_request_line(request)) {
            /* refused whatever the body says: not worth reading */
            rc = ngx_http_discard_request_body(r);
            if (rc != NGX_OK) {
                return rc;
            }

            return ngx_http_auth_m2m_token_respond(r, request);
        }

    } catch (const std::exception &e) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "auth_m2m: token endpoint: %s", e.what());
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_read_client_request_body(r, ngx_http_auth_m2m_token_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


void
ngx_http_auth_m2m_token_body(ngx_http_request_t *r)
{
    ngx_int_t  rc;
    ngx_str_t  body;

    try {
        m2m::TokenRequest  request = ngx_http_auth_m2m_token_request(r);

        if (ngx_http_auth_m2m_endpoint_body(r, m2m::kMaxFormSize, &body)) {
            request.body = ngx_http_auth_m2m_view(body);

        } else {
            request.body_too_large = true;
        }

        rc = ngx_http_auth_m2m_token_respond(r, request);

    } catch (const std::exception &e) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "auth_m2m: token endpoint: %s", e.what());
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_finalize_request(r, rc);
}

} /* namespace */


char *
ngx_http_auth_m2m_token_endpoint(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_auth_m2m_loc_conf_t  *alcf =
        static_cast<ngx_http_auth_m2m_loc_conf_t *>(conf);

    ngx_str_t  *value;

    value = static_cast<ngx_str_t *>(cf->args->elts);

    /* the name is the realm of the Basic challenge */
    if (!ngx_http_auth_m2m_quotable(&value[1])) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "auth_m2m_token_endpoint: the issuer name \"%V\" "
                           "is the Basic realm and may not contain quotes, "
                           "backslashes or control characters", &value[1]);
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    if (ngx_http_auth_m2m_add_endpoint(cf, alcf,
                                       ngx_http_auth_m2m_token_handler)
        == NULL)
    {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    return NGX_CONF_OK;
}


/*
 * At merge time, after ngx_http_auth_m2m_check_endpoint() found the issuer
 * local. Its tokens need an audience (RFC 9068 §2.2: "aud" is required).
 * auth_m2m cannot protect the endpoint: clients come there for a token, and
 * their Authorization header holds Basic credentials.
 */
ngx_int_t
ngx_http_auth_m2m_check_token_endpoint(ngx_conf_t *cf,
    ngx_http_auth_m2m_loc_conf_t *conf)
{
    ngx_http_auth_m2m_endpoint_t  *endpoint = conf->endpoint;

    if (ngx_strcmp(endpoint->directive, "auth_m2m_token_endpoint") != 0) {
        return NGX_OK;
    }

    if (endpoint->issuer->policy->audiences.empty()) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"auth_m2m_token_endpoint\" in %s:%ui names "
                      "auth_m2m_issuer \"%V\", which has no \"audience\": "
                      "the tokens it issues need one (RFC 9068)",
                      endpoint->file, endpoint->line, &endpoint->issuer->name);
        return NGX_ERROR;
    }

    if (conf->issuers != NGX_CONF_UNSET_PTR && conf->issuers != NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"auth_m2m\" cannot protect the token endpoint in "
                      "%s:%ui: clients authenticate there with their id "
                      "and secret", endpoint->file, endpoint->line);
        return NGX_ERROR;
    }

    return NGX_OK;
}
