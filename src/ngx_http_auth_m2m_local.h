/*
 * The local issuer: an auth_m2m_issuer block with signing_key instead of a
 * key source that fetches. It is a key source like the others
 * (ngx_http_auth_m2m_local.cpp: its keys are installed at configuration,
 * nothing is fetched) and, beside that, it issues tokens: the client
 * registry (ngx_http_auth_m2m_registry.cpp) and the endpoints
 * (_token_endpoint, _jwks_endpoint, _metadata_endpoint) read this state
 * through issuer->source_data.
 */

#ifndef NGX_HTTP_AUTH_M2M_LOCAL_H
#define NGX_HTTP_AUTH_M2M_LOCAL_H

#include "ngx_http_auth_m2m.h"

#include "core/issuer/registry.h"
#include "core/issuer/signing_key.h"


typedef struct ngx_http_auth_m2m_registry_s  ngx_http_auth_m2m_registry_t;

typedef struct {
    ngx_array_t                      *key_paths;     /* of ngx_str_t */
    std::vector<m2m::SigningKey>     *keys;          /* the first signs; freed
                                                        with the cycle */
    std::string                      *jwks;          /* their public JWK Set */
    ngx_str_t                         clients;       /* the registry's path */
    time_t                            token_lifetime;
    ngx_http_auth_m2m_registry_t     *registry;      /* this worker's view */
    time_t                            loaded;        /* the keys, for the
                                                        status page */
} ngx_http_auth_m2m_local_t;


extern ngx_http_auth_m2m_source_t  ngx_http_auth_m2m_source_local;


/* The local issuer's state, or NULL if the issuer is not local. */
ngx_http_auth_m2m_local_t *ngx_http_auth_m2m_local(
    ngx_http_auth_m2m_issuer_t *issuer);


/* ngx_http_auth_m2m_registry.cpp: the registry file as this worker last read
 * it. Read at configuration (a missing file: no clients; a corrupt one fails
 * nginx -t), then checked again at use, at most once a second (mtime, size,
 * inode), so a change made by m2m-clients or the clients API takes effect
 * within a second without a reload. A corrupt or unreadable file then keeps
 * the last good registry and logs an error. */
ngx_int_t ngx_http_auth_m2m_registry_init(ngx_conf_t *cf,
    ngx_http_auth_m2m_issuer_t *issuer);
const m2m::Registry *ngx_http_auth_m2m_registry(
    ngx_http_auth_m2m_issuer_t *issuer, ngx_log_t *log);


#endif /* NGX_HTTP_AUTH_M2M_LOCAL_H */
