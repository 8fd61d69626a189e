/*
 * Key sources: where an issuer's keys come from. Each source is an
 * operations struct, as nginx's upstream balancers are (init, get, free):
 * the issuer block, the zone, the refresh and the status page call through
 * issuer->source and never ask which source it is.
 *
 * To add a source, say the local issuer's own signing keys: write
 * ngx_http_auth_m2m_NAME.cpp with its directives and its
 * ngx_http_auth_m2m_source_t, declare that below, list it in
 * ngx_http_auth_m2m_sources[] (ngx_http_auth_m2m_source.cpp) and the file
 * in config. Its first directive calls ngx_http_auth_m2m_set_source(); its
 * own state hangs on issuer->source_data.
 *
 * - Keys known at configuration (jwks_file; keys the module loads or makes
 *   itself): its directive or finish installs them with
 *   ngx_http_auth_m2m_install_keys(); zone_key, begin and complete are
 *   NULL: no zone entry, no refresh, no request ever waits for keys.
 * - Keys the workers fetch (jwks_uri, discovery): zone_key, begin and
 *   complete; ngx_http_auth_m2m_refresh.cpp does the rest (the lease, the
 *   schedule, failures and retries, waking the requests that wait).
 */

#ifndef NGX_HTTP_AUTH_M2M_SOURCE_H
#define NGX_HTTP_AUTH_M2M_SOURCE_H

#include "ngx_http_auth_m2m.h"

#include "core/report/status_page.h"


struct ngx_http_auth_m2m_source_s {
    /* "source" on the status page */
    const char                   *name;

    /* its directives in auth_m2m_issuer, which get the issuer as conf; the
     * first chooses the source, and messages about a missing or a second
     * source name it */
    ngx_command_t                *commands;

    /* the issuer block ends, its policy built: checks, warnings; may be
     * NULL */
    ngx_int_t                   (*finish)(ngx_conf_t *cf,
                                          ngx_http_auth_m2m_issuer_t *issuer);

    /* the http block ends, so the resolver is known; may be NULL */
    ngx_int_t                   (*prepare)(ngx_conf_t *cf,
                                           ngx_http_auth_m2m_issuer_t *issuer);

    /* fetched keys: what the issuer's zone entry holds keys for (a reload
     * that changes it drops them); NULL: no zone entry, no fetch */
    ngx_str_t                  *(*zone_key)(
                                    ngx_http_auth_m2m_issuer_t *issuer);

    /* this worker took the fetch lease: the attempt's first fetch, and
     * whether it may be conditional (carry the stored set's validators) */
    ngx_http_auth_m2m_target_t *(*begin)(ngx_http_auth_m2m_issuer_t *issuer,
                                         bool *conditional);

    /* a fetch of the attempt ended: the next one, conditional, in *next; or
     * the attempt is over: NULL when the keys are installed or unchanged,
     * else why not (which may live in f's pool: f goes after the attempt
     * has been recorded). May throw. */
    const char                 *(*complete)(ngx_http_auth_m2m_issuer_t *issuer,
                                            ngx_http_auth_m2m_fetch_t *f,
                                            ngx_http_auth_m2m_target_t **next);

    /* the status page: location, generation, times, counters. May throw. */
    void                        (*describe)(ngx_http_auth_m2m_issuer_t *issuer,
                                            m2m::IssuerReport *report);
};


extern ngx_http_auth_m2m_source_t  ngx_http_auth_m2m_source_file;
extern ngx_http_auth_m2m_source_t  ngx_http_auth_m2m_source_jwks_uri;
extern ngx_http_auth_m2m_source_t  ngx_http_auth_m2m_source_discovery;


/* ngx_http_auth_m2m_source.cpp */
ngx_command_t **ngx_http_auth_m2m_source_commands(ngx_command_t *own);
char *ngx_http_auth_m2m_set_source(ngx_conf_t *cf,
    ngx_http_auth_m2m_issuer_t *issuer, ngx_http_auth_m2m_source_t *source);
ngx_int_t ngx_http_auth_m2m_finish_source(ngx_conf_t *cf,
    ngx_http_auth_m2m_issuer_t *issuer);
void ngx_http_auth_m2m_tls_unused(ngx_conf_t *cf,
    ngx_http_auth_m2m_issuer_t *issuer);
ngx_int_t ngx_http_auth_m2m_read_conf_file(ngx_conf_t *cf,
    ngx_http_auth_m2m_issuer_t *issuer, const char *directive, ngx_str_t *path,
    size_t max, std::string *out);


/* JWK Set text for ngx_http_auth_m2m_install_keys(), and where it is from. */
typedef struct {
    std::string_view              text;
    ngx_str_t                    *from;        /* its file or URL, for logs;
                                                  NULL: read back from the
                                                  zone, logged when fetched */
    ngx_conf_t                   *cf;          /* read at this directive,
                                                  which the warnings name */
    ngx_http_auth_m2m_fetched_t  *fetched;     /* fetched now: to the zone
                                                  first, for its generation */
    ngx_uint_t                    generation;  /* otherwise */
} ngx_http_auth_m2m_jwks_t;

/* ngx_http_auth_m2m_keys.cpp */
ngx_int_t ngx_http_auth_m2m_install_keys(ngx_http_auth_m2m_issuer_t *issuer,
    ngx_http_auth_m2m_jwks_t *jwks, const char **reason);
ngx_int_t ngx_http_auth_m2m_install_conf_keys(ngx_conf_t *cf,
    ngx_http_auth_m2m_issuer_t *issuer, std::string_view text, ngx_str_t *from,
    const char **reason);


/* ngx_http_auth_m2m_remote.cpp: what jwks_uri and discovery share */
char *ngx_http_auth_m2m_set_remote(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
void ngx_http_auth_m2m_remote_warnings(ngx_conf_t *cf,
    ngx_http_auth_m2m_issuer_t *issuer);
ngx_int_t ngx_http_auth_m2m_prepare_remote(ngx_conf_t *cf,
    ngx_http_auth_m2m_issuer_t *issuer, bool tls);
ngx_str_t *ngx_http_auth_m2m_remote_zone_key(
    ngx_http_auth_m2m_issuer_t *issuer);
const char *ngx_http_auth_m2m_http_status(ngx_http_auth_m2m_fetch_t *f);
const char *ngx_http_auth_m2m_keys_fetched(ngx_http_auth_m2m_issuer_t *issuer,
    ngx_http_auth_m2m_fetch_t *f, ngx_http_auth_m2m_target_t **next);
void ngx_http_auth_m2m_describe_remote(ngx_http_auth_m2m_issuer_t *issuer,
    m2m::IssuerReport *report);

/* ngx_http_auth_m2m_refresh.cpp */
time_t ngx_http_auth_m2m_refresh_in(ngx_http_auth_m2m_issuer_t *issuer,
    ngx_http_auth_m2m_fetch_t *f);

#endif /* NGX_HTTP_AUTH_M2M_SOURCE_H */
