/*
 * Certificate-bound tokens (RFC 8705 §3): a token whose cnf names a client
 * certificate's thumbprint is honoured only from a caller that showed that
 * certificate, on this TLS connection or, with auth_m2m_client_certificate,
 * to the TLS-terminating proxy in front.
 */

#include "ngx_http_auth_m2m.h"


namespace {

/*
 * The thumbprint of the TLS connection's client certificate. NGX_DECLINED:
 * no TLS, or no certificate shown. With ssl_verify_client on or optional,
 * nginx has already answered 400 to a certificate that failed verification;
 * optional_no_ca lets self-signed ones through (RFC 8705 §2.2 clients).
 */
ngx_int_t
ngx_http_auth_m2m_connection_thumbprint(ngx_http_request_t *r,
    m2m::CertificateThumbprint *thumbprint)
{
#if (NGX_HTTP_SSL)
    X509  *cert;
    bool   ok;

    if (r->connection->ssl == NULL) {
        return NGX_DECLINED;
    }

#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    cert = SSL_get1_peer_certificate(r->connection->ssl->connection);
#else
    cert = SSL_get_peer_certificate(r->connection->ssl->connection);
#endif

    if (cert == NULL) {
        return NGX_DECLINED;
    }

    ok = m2m::certificate_thumbprint(cert, thumbprint);
    X509_free(cert);

    if (!ok) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "auth_m2m: client certificate thumbprint failed");
        return NGX_ERROR;
    }

    return NGX_OK;
#else
    return NGX_DECLINED;
#endif
}


/*
 * The thumbprint of the certificate that auth_m2m_client_certificate's value
 * holds, as $ssl_client_escaped_cert gives it. Empty: the proxy saw no
 * certificate. A malformed one is logged (why, never the certificate) and
 * counts as none.
 */
ngx_int_t
ngx_http_auth_m2m_forwarded_thumbprint(ngx_http_request_t *r,
    ngx_http_auth_m2m_loc_conf_t *alcf, m2m::CertificateThumbprint *thumbprint)
{
    ngx_str_t               value;
    m2m::CertificateStatus  status;

    if (ngx_http_complex_value(r, alcf->client_certificate, &value) != NGX_OK) {
        return NGX_ERROR;
    }

    if (value.len == 0) {
        return NGX_DECLINED;
    }

    status = m2m::escaped_certificate_thumbprint(ngx_http_auth_m2m_view(value),
                                                 thumbprint);

    switch (status) {

    case m2m::CertificateStatus::ok:
        return NGX_OK;

    case m2m::CertificateStatus::out_of_memory:
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "auth_m2m: auth_m2m_client_certificate: out of memory");
        return NGX_ERROR;

    default:
        ngx_log_error(alcf->log_level, r->connection->log, 0,
                      "auth_m2m: auth_m2m_client_certificate value of "
                      "%uz bytes refused: %s", value.len,
                      m2m::certificate_status_text(status));
        return NGX_DECLINED;
    }
}

} /* namespace */


ngx_int_t
ngx_http_auth_m2m_client_thumbprint(ngx_http_request_t *r,
    ngx_http_auth_m2m_loc_conf_t *alcf, m2m::CertificateThumbprint *thumbprint)
{
    return alcf->client_certificate
           ? ngx_http_auth_m2m_forwarded_thumbprint(r, alcf, thumbprint)
           : ngx_http_auth_m2m_connection_thumbprint(r, thumbprint);
}


m2m::Reason
ngx_http_auth_m2m_check_certificate(ngx_http_request_t *r,
    ngx_http_auth_m2m_loc_conf_t *alcf, const m2m::VerifiedToken &token)
{
    ngx_int_t                    rc;
    std::string_view             view, *shown;
    m2m::CertificateThumbprint   thumbprint;
    const m2m::Confirmation     &cnf = token.confirmation();

    shown = NULL;

    /* only a bound token pays for the certificate's digest */
    if (!cnf.x5t_s256.empty()) {
        rc = ngx_http_auth_m2m_client_thumbprint(r, alcf, &thumbprint);

        if (rc == NGX_ERROR) {
            return m2m::Reason::internal_error;
        }

        if (rc == NGX_OK) {
            view = thumbprint.view();
            shown = &view;
        }
    }

    return m2m::check_certificate_binding(cnf, alcf->certificate_bound, shown);
}
