/*
 * The token a request presents: the Authorization header's Bearer
 * credentials (RFC 6750 §2.1) or, where auth_m2m_dpop allows it, its DPoP
 * credentials (RFC 9449 §7.1), or what auth_m2m_token names. Nothing here
 * reads the token; its bytes only have to be a b64token.
 */

#include "ngx_http_auth_m2m.h"


namespace {

/* RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" /
 * "+" / "/" ) *"=" ; 1 marks the characters before the "=" */
const u_char  ngx_http_auth_m2m_b64token_chars[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0x00 - 0x0f */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0x10 - 0x1f */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 1,  /*  !"#$%&'()*+,-./ */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,  /* 0123456789:;<=>? */
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,  /* @ABCDEFGHIJKLMNO */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1,  /* PQRSTUVWXYZ[\]^_ */
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,  /* `abcdefghijklmno */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0,  /* pqrstuvwxyz{|}~  */
    /* 0x80 - 0xff: 0 */
};


bool
ngx_http_auth_m2m_is_b64token(u_char *p, u_char *last)
{
    u_char        *start = p;
    const u_char  *t = ngx_http_auth_m2m_b64token_chars;

    /* a token is a kilobyte or more, checked on every request, cache hits
     * included: eight characters per step while all of them pass, then one
     * at a time to where the run ends */
    while (last - p >= 8
           && (t[p[0]] & t[p[1]] & t[p[2]] & t[p[3]]
               & t[p[4]] & t[p[5]] & t[p[6]] & t[p[7]]))
    {
        p += 8;
    }

    while (p < last && t[*p]) {
        p++;
    }

    if (p == start) {
        return false;
    }

    while (p < last && *p == '=') {
        p++;
    }

    return p == last;
}


/* Whether the Authorization header's value starts with the scheme `name`
 * (case-insensitive, RFC 9110 §11.1) followed by whitespace or its end. */
bool
ngx_http_auth_m2m_is_scheme(ngx_str_t *value, const ngx_str_t *name)
{
    return value->len >= name->len
           && ngx_strncasecmp(value->data, name->data, name->len) == 0
           && (value->len == name->len || value->data[name->len] == ' '
               || value->data[name->len] == '\t');
}


m2m::Reason
ngx_http_auth_m2m_authorization(ngx_http_request_t *r,
    ngx_http_auth_m2m_loc_conf_t *alcf, ngx_str_t *token,
    m2m::Scheme *scheme)
{
    u_char           *p, *last;
    ngx_table_elt_t  *h;

    static const ngx_str_t  bearer = ngx_string("Bearer");
    static const ngx_str_t  dpop = ngx_string("DPoP");

    h = r->headers_in.authorization;
    if (h == NULL) {
        return m2m::Reason::missing_token;
    }

    p = h->value.data;
    last = p + h->value.len;

    if (ngx_http_auth_m2m_is_scheme(&h->value, &bearer)) {
        p += bearer.len;

    } else if (alcf->dpop != static_cast<ngx_uint_t>(m2m::DpopMode::off)
               && ngx_http_auth_m2m_is_scheme(&h->value, &dpop))
    {
        /* RFC 9449 §7.1: the same token68, with a proof beside it */
        *scheme = m2m::Scheme::dpop;
        p += dpop.len;

    } else {
        /* another scheme (Basic, Digest, DPoP where it is off, ...) carries
         * no credentials of ours */
        return m2m::Reason::missing_token;
    }

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    while (last > p && (last[-1] == ' ' || last[-1] == '\t')) {
        last--;
    }

    if (!ngx_http_auth_m2m_is_b64token(p, last)) {
        return m2m::Reason::bad_authorization;
    }

    token->data = p;
    token->len = last - p;

    return m2m::Reason::ok;
}


} /* namespace */


/* The token and the scheme it came with, or why there is none
 * (missing_token, bad_authorization). A token that auth_m2m_token names is
 * a bearer token: it comes without a DPoP scheme to say otherwise. */
m2m::Reason
ngx_http_auth_m2m_token(ngx_http_request_t *r,
    ngx_http_auth_m2m_loc_conf_t *alcf, ngx_str_t *token,
    m2m::Scheme *scheme)
{
    *scheme = m2m::Scheme::bearer;

    if (alcf->token == NULL) {
        return ngx_http_auth_m2m_authorization(r, alcf, token, scheme);
    }

    if (ngx_http_complex_value(r, alcf->token, token) != NGX_OK) {
        return m2m::Reason::internal_error;
    }

    return token->len ? m2m::Reason::ok : m2m::Reason::missing_token;
}
