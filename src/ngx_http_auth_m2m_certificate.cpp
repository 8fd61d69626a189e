/*
 * Certificate-bound tokens (RFC 8705 §3): a token whose cnf names a client
 * certificate's thumbprint is honoured only over a connection that showed
 * that certificate.
 */

#include "ngx_http_auth_m2m.h"


m2m::Reason
ngx_http_auth_m2m_check_certificate(ngx_http_request_t *r,
    ngx_http_auth_m2m_loc_conf_t *alcf, const m2m::VerifiedToken &token)
{
    /* no certificate is read yet: a bound token is refused */
    return m2m::check_certificate_binding(token.confirmation(),
                                          alcf->certificate_bound, NULL);
}
