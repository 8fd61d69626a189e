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


/* A location that serves one of a local issuer's endpoints. */
struct ngx_http_auth_m2m_endpoint_s {
    ngx_http_auth_m2m_issuer_t       *issuer;
    const char                       *directive;     /* for messages */
    u_char                           *file;          /* where it was set */
    ngx_uint_t                        line;

    /* auth_m2m_metadata_endpoint: where the endpoints it lists are, each a
     * path under the base URL or an absolute URL; empty: the default */
    ngx_str_t                         token;
    ngx_str_t                         jwks;
    ngx_str_t                         registration;
    unsigned                          no_registration:1;

    /* auth_m2m_clients_api: needs the issuer's clients file and a token
     * of its own location */
    unsigned                          clients_api:1;
};

/* How long caches may keep the JWK Set and the metadata: a gateway that
 * honours it sees a key added to signing_key within five minutes (and at
 * once for a token whose kid it does not know). */
#define NGX_HTTP_AUTH_M2M_ENDPOINT_MAX_AGE  300


/* ngx_http_auth_m2m_endpoint.cpp */
ngx_http_auth_m2m_endpoint_t *ngx_http_auth_m2m_add_endpoint(ngx_conf_t *cf,
    ngx_http_auth_m2m_loc_conf_t *alcf, ngx_http_handler_pt handler);
ngx_int_t ngx_http_auth_m2m_check_endpoint(ngx_conf_t *cf,
    ngx_http_auth_m2m_endpoint_t *endpoint);
ngx_table_elt_t *ngx_http_auth_m2m_endpoint_header(ngx_http_request_t *r,
    const char *key, ngx_str_t *value);
ngx_int_t ngx_http_auth_m2m_endpoint_allow(ngx_http_request_t *r,
    const char *methods);
ngx_int_t ngx_http_auth_m2m_endpoint_method(ngx_http_request_t *r);
bool ngx_http_auth_m2m_endpoint_body(ngx_http_request_t *r, size_t max,
    ngx_str_t *body);
ngx_int_t ngx_http_auth_m2m_endpoint_base(ngx_http_request_t *r,
    ngx_http_auth_m2m_loc_conf_t *alcf, std::string *base);
ngx_int_t ngx_http_auth_m2m_send_json(ngx_http_request_t *r, ngx_str_t *body,
    time_t max_age, ngx_str_t *etag);
ngx_int_t ngx_http_auth_m2m_send_private_json(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *body);

/* ngx_http_auth_m2m_jwks_endpoint.cpp, _metadata_endpoint.cpp */
char *ngx_http_auth_m2m_jwks_endpoint(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_auth_m2m_metadata_endpoint(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_auth_m2m_base_url(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* ngx_http_auth_m2m_clients_api.cpp */
char *ngx_http_auth_m2m_clients_api(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* ngx_http_auth_m2m_token_endpoint.cpp */
char *ngx_http_auth_m2m_token_endpoint(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_auth_m2m_check_token_endpoint(ngx_conf_t *cf,
    ngx_http_auth_m2m_loc_conf_t *conf);


/* ngx_http_auth_m2m_registry.cpp: the registry file as this worker last read
 * it. Read at configuration (a missing file: no clients; a corrupt one fails
 * nginx -t), then checked again at use, at most once a second (mtime, size,
 * inode), so a change made by m2m-clients or the clients API takes effect
 * within a second without a reload. A corrupt or unreadable file then keeps
 * the last good registry and logs an error; a file that is gone means no
 * clients. The registry and the clients in it are valid until the next call
 * for this issuer in this worker: use them, do not keep them across events.
 * NULL: the issuer has no "clients". */
ngx_int_t ngx_http_auth_m2m_registry_init(ngx_conf_t *cf,
    ngx_http_auth_m2m_issuer_t *issuer);
const m2m::Registry *ngx_http_auth_m2m_registry(
    ngx_http_auth_m2m_issuer_t *issuer, ngx_log_t *log);


#endif /* NGX_HTTP_AUTH_M2M_LOCAL_H */
