/*
 * STAND-IN (drop at merge): the two functions of ngx_http_auth_m2m_local.h
 * that ngx_http_auth_m2m_registry.cpp defines, so that the local issuer's
 * keys and endpoints build and run before the registry lands. No registry
 * is ever read: a local issuer has no clients here.
 */

#include "ngx_http_auth_m2m_local.h"


ngx_int_t
ngx_http_auth_m2m_registry_init(ngx_conf_t *cf,
    ngx_http_auth_m2m_issuer_t *issuer)
{
    return NGX_OK;
}


const m2m::Registry *
ngx_http_auth_m2m_registry(ngx_http_auth_m2m_issuer_t *issuer, ngx_log_t *log)
{
    return NULL;
}
