/*
 * Shared declarations of the module's nginx glue. Always include this first:
 * nginx's headers fix off_t to 64 bits and must be seen before any C++
 * standard header.
 */

#ifndef NGX_HTTP_AUTH_M2M_H
#define NGX_HTTP_AUTH_M2M_H

extern "C" {
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
}

#include <new>
#include <string>
#include <utility>
#include <vector>

#include "core/issuer_policy.h"
#include "core/verify.h"


extern "C" ngx_module_t  ngx_http_auth_m2m_module;


/* One auth_m2m_issuer block; created by its first mention, so that auth_m2m
 * may name an issuer defined further down, as limit_req names zones. */
typedef struct {
    ngx_str_t                     name;
    m2m::IssuerPolicy            *policy;
    ngx_str_t                     jwks_file;
    u_char                       *ref_file;     /* first auth_m2m naming it */
    ngx_uint_t                    ref_line;
    unsigned                      defined:1;
} ngx_http_auth_m2m_issuer_t;


typedef std::vector<const m2m::IssuerPolicy *>  ngx_http_auth_m2m_policies_t;
typedef std::vector<std::string>                ngx_http_auth_m2m_strings_t;


typedef struct {
    ngx_array_t                   issuers;      /* of ngx_http_auth_m2m_issuer_t * */
} ngx_http_auth_m2m_main_conf_t;


typedef struct {
    /* NGX_CONF_UNSET_PTR: inherit; NULL: "off" */
    ngx_http_auth_m2m_policies_t *policies;
    ngx_http_auth_m2m_strings_t  *scopes;
    ngx_str_t                     scope_attr;   /* scopes joined, for 403s */
    ngx_str_t                     realm;
    ngx_http_complex_value_t     *token;
} ngx_http_auth_m2m_loc_conf_t;


/* What one request's token turned out to be. Lives in a pool cleanup so that
 * it is destroyed with the request and can be found again after an internal
 * redirect, which wipes module contexts. */
struct ngx_http_auth_m2m_state_t {
    ngx_http_request_t                  *request;
    const ngx_http_auth_m2m_policies_t  *verified_against;
    m2m::Verification                    verification;
    m2m::Status                          status;  /* may become insufficient_scope */
    bool                                 busy;    /* guards auth_m2m_token recursion */
};


/* Placement-constructs a T whose destructor runs when the pool is destroyed. */
template <typename T, typename... Args>
T *
ngx_http_auth_m2m_pool_new(ngx_pool_t *pool, Args &&...args)
{
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(pool, sizeof(T));
    if (cln == NULL) {
        return NULL;
    }

    T *object = new (cln->data) T(std::forward<Args>(args)...);
    cln->handler = [](void *data) { static_cast<T *>(data)->~T(); };

    return object;
}


ngx_int_t ngx_http_auth_m2m_add_variables(ngx_conf_t *cf);
char *ngx_http_auth_m2m_claim_set(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

char *ngx_http_auth_m2m_issuer_block(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_http_auth_m2m_issuer_t *ngx_http_auth_m2m_issuer_ref(ngx_conf_t *cf,
    ngx_str_t *name);
ngx_int_t ngx_http_auth_m2m_check_issuers(ngx_conf_t *cf);

ngx_http_auth_m2m_state_t *ngx_http_auth_m2m_state(ngx_http_request_t *r);

ngx_int_t ngx_http_auth_m2m_access_handler(ngx_http_request_t *r);

ngx_int_t ngx_http_auth_m2m_copy_str(ngx_pool_t *pool, const std::string &s,
    ngx_str_t *out);

#endif /* NGX_HTTP_AUTH_M2M_H */
