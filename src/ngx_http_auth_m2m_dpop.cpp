/*
 * DPoP (RFC 9449): a token bound to a key is honoured only with a proof,
 * signed by that key, made for this request.
 */

#include "ngx_http_auth_m2m.h"


m2m::Reason
ngx_http_auth_m2m_check_dpop(ngx_http_request_t *r,
    ngx_http_auth_m2m_loc_conf_t *alcf, ngx_http_auth_m2m_state_t *state)
{
    /* no proof is read yet: only Bearer tokens arrive */
    return m2m::check_dpop_binding(state->token->confirmation(),
                                   static_cast<m2m::DpopMode>(alcf->dpop),
                                   state->scheme, std::string_view());
}
