/*
 * The token a request presents: the Authorization header's Bearer
 * credentials (RFC 6750 §2.1), or what auth_m2m_token names. Nothing here
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


m2m::Reason
ngx_http_auth_m2m_bearer_token(ngx_http_request_t *r, ngx_str_t *token)
{
    u_char           *p, *last;
    ngx_table_elt_t  *h;

    static const ngx_str_t  scheme = ngx_string("Bearer");

    h = r->headers_in.authorization;
    if (h == NULL) {
        return m2m::Reason::missing_token;
    }

    p = h->value.data;
    last = p + h->value.len;

    /* another scheme (Basic, Digest, ...) carries no bearer credentials */
    if (h->value.len < scheme.len
        || ngx_strncasecmp(p, scheme.data, scheme.len) != 0
        || (h->value.len > scheme.len && p[scheme.len] != ' '
            && p[scheme.len] != '\t'))
    {
        return m2m::Reason::missing_token;
    }

    p += scheme.len;

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


/* The token, or why there is none (missing_token, bad_authorization). */
m2m::Reason
ngx_http_auth_m2m_token(ngx_http_request_t *r,
    ngx_http_auth_m2m_loc_conf_t *alcf, ngx_str_t *token)
{
    if (alcf->token == NULL) {
        return ngx_http_auth_m2m_bearer_token(r, token);
    }

    if (ngx_http_complex_value(r, alcf->token, token) != NGX_OK) {
        return m2m::Reason::internal_error;
    }

    return token->len ? m2m::Reason::ok : m2m::Reason::missing_token;
}
