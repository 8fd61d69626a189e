/*
 * Shared declarations of the module's nginx glue. Always include this first:
 * nginx's headers fix off_t to 64 bits and must be seen before any C++
 * standard header.
 *
 * Exceptions: an exception that reaches nginx aborts the worker. The core
 * never throws: it reports failure, running out of memory included, in what
 * it returns. Glue that builds C++ strings or containers can throw
 * std::bad_alloc, and the nginx callback that runs it catches it: directive
 * handlers, the status page, and the refresh timer's handlers (a key
 * source's complete() may build strings). The request path and the fetcher
 * build none, so they need no try.
 */

#ifndef NGX_HTTP_AUTH_M2M_H
#define NGX_HTTP_AUTH_M2M_H

extern "C" {
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
}

#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/verify/authenticate.h"
#include "core/verify/client_certificate.h"
#include "core/verify/dpop_proof.h"
#include "core/keys/issuer_keys.h"
#include "core/verify/issuer_policy.h"


extern "C" ngx_module_t  ngx_http_auth_m2m_module;


/* Where a fetch goes: parsed once, addresses resolved at start unless a
 * resolver is configured. */
typedef struct {
    ngx_str_t                     url;
    ngx_str_t                     display;      /* url without its query: logs */
    ngx_str_t                     host;         /* Host header, SNI, cert name */
    ngx_str_t                     host_header;  /* host[:port] */
    ngx_str_t                     uri;
    in_port_t                     port;
    unsigned                      https:1;
    ngx_addr_t                   *addrs;
    ngx_uint_t                    naddrs;
} ngx_http_auth_m2m_target_t;


#if !(NGX_SSL)
typedef void  ngx_ssl_t;
#endif

typedef struct ngx_http_auth_m2m_issuer_sh_s  ngx_http_auth_m2m_issuer_sh_t;
typedef struct ngx_http_auth_m2m_fetch_s      ngx_http_auth_m2m_fetch_t;
typedef struct ngx_http_auth_m2m_source_s     ngx_http_auth_m2m_source_t;
typedef struct ngx_http_auth_m2m_fetched_s    ngx_http_auth_m2m_fetched_t;
typedef struct ngx_http_auth_m2m_endpoint_s   ngx_http_auth_m2m_endpoint_t;
typedef struct ngx_http_auth_m2m_rule_s       ngx_http_auth_m2m_rule_t;


/* One auth_m2m_issuer block; created by its first mention, so that auth_m2m
 * may name an issuer defined further down, as limit_req names zones. */
typedef struct {
    ngx_str_t                     name;
    m2m::IssuerPolicy            *policy;       /* built when the block ends */

    /* Directive values start NGX_CONF_UNSET*, so that nginx's slots report
     * a repeated directive; when the block ends these first ones are copied
     * into *policy (unset ones leave its defaults) and the others below get
     * their defaults. */
    ngx_str_t                     iss;
    ngx_array_t                  *audiences;    /* of ngx_str_t */
    ngx_array_t                  *algorithms;
    time_t                        leeway;
    ngx_array_t                  *client_id_claims;
    ngx_array_t                  *scope_claims;
    ngx_array_t                  *require_typ;

    ngx_http_auth_m2m_source_t   *source;       /* ngx_http_auth_m2m_source.h */
    void                         *source_data;  /* the source's own */
    ngx_http_auth_m2m_target_t    target;       /* jwks_uri or discovery */
    u_char                       *url_file;     /* where the URL was set */
    ngx_uint_t                    url_line;
    time_t                        refresh;
    ngx_msec_t                    fetch_timeout;
    size_t                        jwks_max_size;
    time_t                        kid_refetch_cooldown;
    ngx_str_t                     trusted_certificate;
    ngx_ssl_t                    *ssl;
    ngx_resolver_t               *resolver;
    ngx_msec_t                    resolver_timeout;
    u_char                       *ref_file;     /* first auth_m2m naming it */
    ngx_uint_t                    ref_line;
    unsigned                      defined:1;

    /* shared by all workers, in the auth_m2m zone */
    ngx_http_auth_m2m_issuer_sh_t  *sh;
    ngx_slab_pool_t               *shpool;
    ngx_uint_t                    sh_version;   /* sh->source_version seen */

    /* this worker's own view */
    m2m::IssuerKeys              *keys;         /* changed by replace() only */
    ngx_queue_t                   waiters;      /* requests awaiting keys */
    ngx_event_t                   tick;
    ngx_http_auth_m2m_fetch_t    *fetch;        /* in flight from here */
    ngx_msec_t                    fetch_deadline;
} ngx_http_auth_m2m_issuer_t;


typedef std::vector<std::string>  ngx_http_auth_m2m_strings_t;


typedef struct ngx_http_auth_m2m_shctx_s  ngx_http_auth_m2m_shctx_t;


typedef struct {
    ngx_array_t                   issuers;      /* of ngx_http_auth_m2m_issuer_t * */
    ngx_shm_zone_t               *shm_zone;
    ngx_http_auth_m2m_shctx_t    *sh;
    ngx_slab_pool_t              *shpool;
    size_t                        token_cache;  /* per worker; 0: off */

    /* DPoP: the jti replay cache's zone (ngx_http_auth_m2m_dpop_replay.cpp)
     * and the algs="..." of DPoP challenges */
    size_t                        dpop_replay_size;
    ngx_shm_zone_t               *dpop_replay;
    /* the largest auth_m2m_dpop_window of any location: a jti is kept as
     * long as some location would still accept its proof */
    time_t                        dpop_window_max;
    ngx_str_t                     dpop_algs;
} ngx_http_auth_m2m_main_conf_t;


/* auth_m2m_dpop_replay_cache's default: at 128 bytes a proof, about 32,000
 * proofs, all the DPoP requests of 65 s (the default window and leeway) at
 * 500 requests a second. */
#define NGX_HTTP_AUTH_M2M_DPOP_REPLAY_SIZE  (4 * 1024 * 1024)


/* auth_m2m_token_cache's default: about 1,150 entries of a typical 630-byte
 * access token (3.3 KiB each with its claims), one live token apiece for a
 * fleet of a thousand clients with room for their renewals. */
#define NGX_HTTP_AUTH_M2M_TOKEN_CACHE_SIZE  (4 * 1024 * 1024)


typedef struct {
    /* of ngx_http_auth_m2m_issuer_t *; NGX_CONF_UNSET_PTR: inherit;
     * NULL: "off" */
    ngx_array_t                  *issuers;
    ngx_http_auth_m2m_strings_t  *scopes;
    ngx_str_t                     scope_attr;   /* scopes joined, for 403s */
    /* of ngx_http_auth_m2m_rule_t; NGX_CONF_UNSET_PTR: inherit */
    ngx_array_t                  *rules;
    ngx_str_t                     realm;
    ngx_http_complex_value_t     *token;
    ngx_uint_t                    log_level;    /* of "access refused" */

    /* a local issuer's endpoint served here (ngx_http_auth_m2m_local.h);
     * not inherited, as the content handler is not */
    ngx_http_auth_m2m_endpoint_t *endpoint;
    ngx_str_t                     base_url;     /* for metadata URLs; empty:
                                                   the request's scheme and
                                                   Host */

    /* sender-constrained tokens (core/verify/binding.h) */
    ngx_flag_t                    certificate_bound;
    ngx_http_complex_value_t     *client_certificate;  /* NULL: the
                                                          connection's */
    ngx_uint_t                    dpop;         /* m2m::DpopMode */
    time_t                        dpop_window;  /* how old a proof's iat may
                                                   be */
} ngx_http_auth_m2m_loc_conf_t;


/* An RFC 7638 thumbprint: base64url of a SHA-256, no padding. */
#define NGX_HTTP_AUTH_M2M_JKT_LEN  43


/* What one request's token turned out to be. Lives in a pool cleanup so that
 * it is destroyed with the request and can be found again after an internal
 * redirect, which wipes module contexts. */
struct ngx_http_auth_m2m_state_t {
    ngx_http_request_t                         *request;
    const ngx_array_t                          *verified_against;

    /* the verdict, written by ngx_http_auth_m2m_state() alone */
    ngx_http_auth_m2m_issuer_t                 *issuer;   /* "iss" named it */
    std::shared_ptr<const m2m::VerifiedToken>   token;    /* signature held */
    m2m::Reason                                 verdict;
    m2m::Scheme                                 scheme;   /* the token's */
    const ngx_str_t                            *failed_rule;
    ngx_uint_t                                  rule_status;
    ngx_str_t                                   presented; /* the token as
                                                              sent: DPoP's
                                                              ath */

    /* the DPoP proof, checked once per request: a second look (an internal
     * redirect, a key refetch) must not take its jti for a replay */
    bool                                        dpop_checked;
    m2m::Reason                                 dpop_status;
    u_char                                      dpop_jkt[NGX_HTTP_AUTH_M2M_JKT_LEN];
    size_t                                      dpop_jkt_len;

    bool                                        busy;     /* auth_m2m_token */
    bool                                        waited;   /* for keys, once */
    ngx_queue_t                                 queue;    /* issuer->waiters */
    ngx_atomic_uint_t                           wait_attempts;
    ngx_http_auth_m2m_issuer_t                 *waiting_on;
};


/* An nginx string (or a field of the shared zone) as a C++ string, for the
 * core's API. */
inline std::string
ngx_http_auth_m2m_string(const u_char *data, size_t len)
{
    return std::string(reinterpret_cast<const char *>(data), len);
}


/* ngx_http_auth_m2m_module.cpp */
bool ngx_http_auth_m2m_quotable(ngx_str_t *s);


/* An nginx string as a view, for the core's API; lives as long as s. */
inline std::string_view
ngx_http_auth_m2m_view(const ngx_str_t &s)
{
    return std::string_view(reinterpret_cast<const char *>(s.data), s.len);
}


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

/* ngx_http_auth_m2m_conf.cpp */
char *ngx_http_auth_m2m_conf_block(ngx_conf_t *cf, ngx_command_t **tables,
    void *conf);
char *ngx_http_auth_m2m_conf_set_list_slot(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_auth_m2m_conf_set_complex_value_slot(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
char *ngx_http_auth_m2m_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_int_t ngx_http_auth_m2m_default_zone(ngx_conf_t *cf,
    ngx_http_auth_m2m_main_conf_t *amcf);

/* ngx_http_auth_m2m_issuer.cpp */
char *ngx_http_auth_m2m_issuer_block(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_http_auth_m2m_issuer_t *ngx_http_auth_m2m_issuer_ref(ngx_conf_t *cf,
    ngx_str_t *name);
ngx_int_t ngx_http_auth_m2m_check_issuers(ngx_conf_t *cf);

/* ngx_http_auth_m2m_token.cpp */
m2m::Reason ngx_http_auth_m2m_token(ngx_http_request_t *r,
    ngx_http_auth_m2m_loc_conf_t *alcf, ngx_str_t *token,
    m2m::Scheme *scheme);

/* ngx_http_auth_m2m_verdict.cpp */
ngx_http_auth_m2m_state_t *ngx_http_auth_m2m_state(ngx_http_request_t *r,
    bool access);
void ngx_http_auth_m2m_forget(ngx_http_auth_m2m_state_t *state);

/* ngx_http_auth_m2m_certificate.cpp: RFC 8705 §3 for a verified token */
m2m::Reason ngx_http_auth_m2m_check_certificate(ngx_http_request_t *r,
    ngx_http_auth_m2m_loc_conf_t *alcf, const m2m::VerifiedToken &token);

/* The x5t#S256 of the request's client certificate, the connection's or
 * auth_m2m_client_certificate's. NGX_DECLINED: none, or a malformed one
 * (logged); NGX_ERROR: out of memory. Also for the token endpoint. */
ngx_int_t ngx_http_auth_m2m_client_thumbprint(ngx_http_request_t *r,
    ngx_http_auth_m2m_loc_conf_t *alcf, m2m::CertificateThumbprint *thumbprint);

/* ngx_http_auth_m2m_dpop.cpp: RFC 9449 for a verified token, the proof
 * checked once per request */
m2m::Reason ngx_http_auth_m2m_check_dpop(ngx_http_request_t *r,
    ngx_http_auth_m2m_loc_conf_t *alcf, ngx_http_auth_m2m_state_t *state);

/* The request's one DPoP proof, checked against this request (method, URI,
 * time, for `access_token` when not NULL) and its jti recorded in the zone
 * so that it is never accepted again. Also for the token endpoint. */
m2m::Reason ngx_http_auth_m2m_dpop_proof(ngx_http_request_t *r,
    ngx_http_auth_m2m_loc_conf_t *alcf, ngx_str_t *access_token,
    m2m::DpopProof *proof);

/* ngx_http_auth_m2m_scope.cpp */
char *ngx_http_auth_m2m_scope(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* ngx_http_auth_m2m_require.cpp */
char *ngx_http_auth_m2m_require(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
m2m::Reason ngx_http_auth_m2m_check_rules(ngx_http_request_t *r,
    ngx_http_auth_m2m_loc_conf_t *alcf, ngx_http_auth_m2m_state_t *state);
/* ngx_http_auth_m2m_dpop_replay.cpp: whether a proof's jti is new (NGX_OK,
 * now recorded until `expires`), seen before (NGX_DECLINED), or NGX_ERROR */
char *ngx_http_auth_m2m_dpop_replay_cache(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_auth_m2m_dpop_replay_zone(ngx_conf_t *cf,
    ngx_http_auth_m2m_main_conf_t *amcf);
ngx_int_t ngx_http_auth_m2m_dpop_replay_seen(ngx_http_request_t *r,
    std::string_view jkt, std::string_view jti, time_t expires);

/* ngx_http_auth_m2m_token_cache.cpp */
char *ngx_http_auth_m2m_token_cache(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_auth_m2m_token_cache_init(ngx_cycle_t *cycle);
void ngx_http_auth_m2m_token_cache_exit(ngx_cycle_t *cycle);
bool ngx_http_auth_m2m_token_cache_find(ngx_http_request_t *r,
    ngx_http_auth_m2m_loc_conf_t *alcf, ngx_str_t *token,
    ngx_http_auth_m2m_state_t *state, m2m::Reason *status);
void ngx_http_auth_m2m_token_cache_keep(ngx_http_request_t *r,
    ngx_str_t *token, ngx_http_auth_m2m_state_t *state, m2m::Reason status,
    const m2m::TimeClaims *times);

/* ngx_http_auth_m2m_zone.cpp (its operations: ngx_http_auth_m2m_zone.h) */
ngx_int_t ngx_http_auth_m2m_init_zone(ngx_shm_zone_t *shm_zone, void *data);

/* ngx_http_auth_m2m_refresh.cpp */
ngx_int_t ngx_http_auth_m2m_init_process(ngx_cycle_t *cycle);
void ngx_http_auth_m2m_exit_process(ngx_cycle_t *cycle);
void ngx_http_auth_m2m_refresh_soon(ngx_http_auth_m2m_issuer_t *issuer);
time_t ngx_http_auth_m2m_retry_after(ngx_http_auth_m2m_issuer_t *issuer);

/* ngx_http_auth_m2m_keys.cpp */
void ngx_http_auth_m2m_sync_keys(ngx_http_auth_m2m_issuer_t *issuer);
void ngx_http_auth_m2m_sync_all(ngx_http_auth_m2m_main_conf_t *amcf);

/* ngx_http_auth_m2m_wait.cpp */

/* How often a worker looks at the zone while requests of its own wait on a
 * fetch, which may run in another worker. */
#define NGX_HTTP_AUTH_M2M_WAIT_TICK  20

void ngx_http_auth_m2m_wait_init(ngx_http_auth_m2m_issuer_t *issuer);
bool ngx_http_auth_m2m_waiting(ngx_http_auth_m2m_issuer_t *issuer);
ngx_int_t ngx_http_auth_m2m_wait_for_keys(ngx_http_request_t *r,
    ngx_http_auth_m2m_state_t *state, ngx_http_auth_m2m_issuer_t *issuer);
void ngx_http_auth_m2m_wake(ngx_http_auth_m2m_issuer_t *issuer, bool all);
void ngx_http_auth_m2m_stop_waiting(ngx_http_auth_m2m_state_t *state);

/* ngx_http_auth_m2m_target.cpp */
ngx_int_t ngx_http_auth_m2m_parse_target(ngx_pool_t *pool, ngx_log_t *log,
    ngx_uint_t level, ngx_str_t *url, ngx_http_auth_m2m_target_t *target,
    ngx_uint_t resolve);

/* ngx_http_auth_m2m_status.cpp */
char *ngx_http_auth_m2m_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
void ngx_http_auth_m2m_count(ngx_http_request_t *r, m2m::Reason status);

ngx_int_t ngx_http_auth_m2m_access_handler(ngx_http_request_t *r);

ngx_int_t ngx_http_auth_m2m_copy_str(ngx_pool_t *pool, std::string_view s,
    ngx_str_t *out);

#endif /* NGX_HTTP_AUTH_M2M_H */
