/*
 * The local issuer as a key source: "signing_key" reads PEM private keys
 * while the configuration is parsed (nginx -t names a bad file, never what
 * is in it), makes their public JWK Set and installs it as the issuer's
 * keys, as jwks_file does, so that auth_m2m accepts tokens signed with any
 * listed key and nothing is ever fetched. The workers inherit the keys.
 * "clients" and "token_lifetime" belong to the same source: whichever of
 * the three comes first makes the issuer local.
 */

#include "ngx_http_auth_m2m_local.h"
#include "ngx_http_auth_m2m_source.h"

#include "core/issuer/metadata.h"


namespace {

/* a token endpoint answers within a day's validity; under a second, a token
 * would expire on its way to the client */
#define NGX_HTTP_AUTH_M2M_MIN_LIFETIME  1
#define NGX_HTTP_AUTH_M2M_MAX_LIFETIME  86400


char *ngx_http_auth_m2m_set_signing_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_auth_m2m_set_clients(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_auth_m2m_set_token_lifetime(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);


/* The first names the source in messages about a missing or second one. */
ngx_command_t  ngx_http_auth_m2m_local_commands[] = {

    { ngx_string("signing_key"),
      NGX_CONF_1MORE,
      ngx_http_auth_m2m_set_signing_key,
      0,
      0,
      NULL },

    { ngx_string("clients"),
      NGX_CONF_TAKE1,
      ngx_http_auth_m2m_set_clients,
      0,
      offsetof(ngx_http_auth_m2m_local_t, clients),
      NULL },

    { ngx_string("token_lifetime"),
      NGX_CONF_TAKE1,
      ngx_http_auth_m2m_set_token_lifetime,
      0,
      offsetof(ngx_http_auth_m2m_local_t, token_lifetime),
      NULL },

      ngx_null_command
};


/* The issuer's local state, made by the first of its directives. NULL: the
 * issuer has another key source (logged). May throw. */
ngx_http_auth_m2m_local_t *
ngx_http_auth_m2m_local_conf(ngx_conf_t *cf,
    ngx_http_auth_m2m_issuer_t *issuer)
{
    ngx_http_auth_m2m_local_t  *local;

    if (issuer->source == &ngx_http_auth_m2m_source_local) {
        return static_cast<ngx_http_auth_m2m_local_t *>(issuer->source_data);
    }

    if (ngx_http_auth_m2m_set_source(cf, issuer,
                                     &ngx_http_auth_m2m_source_local)
        != NGX_CONF_OK)
    {
        return NULL;
    }

    local = static_cast<ngx_http_auth_m2m_local_t *>(
                ngx_pcalloc(cf->pool, sizeof(ngx_http_auth_m2m_local_t)));
    if (local == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     local->key_paths = NULL;
     *     local->keys = NULL;
     *     local->jwks = NULL;
     *     local->clients = { 0, NULL };
     *     local->registry = NULL;
     */

    local->token_lifetime = NGX_CONF_UNSET;

    issuer->source_data = local;

    return local;
}


/* One signing key from its file. May throw. */
ngx_int_t
ngx_http_auth_m2m_load_signing_key(ngx_conf_t *cf,
    ngx_http_auth_m2m_issuer_t *issuer, ngx_str_t *path, m2m::SigningKey *key)
{
    bool         loaded;
    ngx_int_t    rc;
    std::string  pem, error;

    rc = ngx_http_auth_m2m_read_conf_file(cf, issuer, "signing_key", path,
                                          m2m::kMaxPemSize, &pem);

    loaded = rc == NGX_OK && m2m::SigningKey::load(pem, key, &error);

    if (!pem.empty()) {
        ngx_explicit_memzero(&pem[0], pem.size());
    }

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    if (!loaded) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "auth_m2m_issuer \"%V\": \"signing_key\" \"%V\" %s",
                           &issuer->name, path, error.c_str());
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* May throw. */
char *
ngx_http_auth_m2m_set_signing_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_auth_m2m_issuer_t  *issuer =
        static_cast<ngx_http_auth_m2m_issuer_t *>(conf);

    ngx_str_t                  *value, *path, *paths;
    ngx_uint_t                  i, j;
    const char                 *reason;
    ngx_http_auth_m2m_local_t  *local;

    local = ngx_http_auth_m2m_local_conf(cf, issuer);
    if (local == NULL) {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    if (local->key_paths) {
        return const_cast<char *>("is duplicate: list every key in one "
                                  "\"signing_key\"");
    }

    value = static_cast<ngx_str_t *>(cf->args->elts);

    local->key_paths = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                        sizeof(ngx_str_t));
    if (local->key_paths == NULL) {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    local->keys = ngx_http_auth_m2m_pool_new<std::vector<m2m::SigningKey>>(
                      cf->pool);
    if (local->keys == NULL) {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    local->keys->reserve(cf->args->nelts - 1);

    for (i = 1; i < cf->args->nelts; i++) {
        path = static_cast<ngx_str_t *>(ngx_array_push(local->key_paths));
        if (path == NULL) {
            return static_cast<char *>(NGX_CONF_ERROR);
        }

        *path = value[i];

        if (ngx_conf_full_name(cf->cycle, path, 1) != NGX_OK) {
            return static_cast<char *>(NGX_CONF_ERROR);
        }

        local->keys->emplace_back();

        if (ngx_http_auth_m2m_load_signing_key(cf, issuer, path,
                                               &local->keys->back())
            != NGX_OK)
        {
            return static_cast<char *>(NGX_CONF_ERROR);
        }

        /* one kid would name two keys in the JWK Set */
        paths = static_cast<ngx_str_t *>(local->key_paths->elts);

        for (j = 0; j + 1 < local->keys->size(); j++) {
            if ((*local->keys)[j].kid() == local->keys->back().kid()) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "auth_m2m_issuer \"%V\": \"signing_key\" "
                                   "\"%V\" holds the same key as \"%V\"",
                                   &issuer->name, path, &paths[j]);
                return static_cast<char *>(NGX_CONF_ERROR);
            }
        }
    }

    local->jwks = ngx_http_auth_m2m_pool_new<std::string>(
                      cf->pool, m2m::jwks_json(local->keys->data(),
                                               local->keys->size()));
    if (local->jwks == NULL) {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    if (ngx_http_auth_m2m_install_conf_keys(cf, issuer, *local->jwks,
            &static_cast<ngx_str_t *>(local->key_paths->elts)[0], &reason)
        != NGX_OK)
    {
        /* SigningKey makes only keys the verifier takes: a bug */
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "auth_m2m_issuer \"%V\": the signing keys' JWK Set "
                           "cannot be installed: %s", &issuer->name, reason);
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    local->loaded = ngx_time();

    return NGX_CONF_OK;
}


/* May throw. */
char *
ngx_http_auth_m2m_set_clients(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_auth_m2m_issuer_t  *issuer =
        static_cast<ngx_http_auth_m2m_issuer_t *>(conf);

    char                       *rv;
    ngx_http_auth_m2m_local_t  *local;

    local = ngx_http_auth_m2m_local_conf(cf, issuer);
    if (local == NULL) {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    rv = ngx_conf_set_str_slot(cf, cmd, local);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (local->clients.len == 0) {
        return const_cast<char *>("must not be empty");
    }

    if (ngx_conf_full_name(cf->cycle, &local->clients, 1) != NGX_OK) {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    return NGX_CONF_OK;
}


/* May throw. */
char *
ngx_http_auth_m2m_set_token_lifetime(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_auth_m2m_issuer_t  *issuer =
        static_cast<ngx_http_auth_m2m_issuer_t *>(conf);

    char                       *rv;
    ngx_http_auth_m2m_local_t  *local;

    local = ngx_http_auth_m2m_local_conf(cf, issuer);
    if (local == NULL) {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    rv = ngx_conf_set_sec_slot(cf, cmd, local);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (local->token_lifetime < NGX_HTTP_AUTH_M2M_MIN_LIFETIME
        || local->token_lifetime > NGX_HTTP_AUTH_M2M_MAX_LIFETIME)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "auth_m2m_issuer \"%V\": \"token_lifetime\" must "
                           "be between 1s and 1d", &issuer->name);
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    return NGX_CONF_OK;
}


/* The block ends: what can only be judged with all of it. May throw. */
ngx_int_t
ngx_http_auth_m2m_local_finish(ngx_conf_t *cf,
    ngx_http_auth_m2m_issuer_t *issuer)
{
    ngx_str_t                  *paths;
    ngx_uint_t                  i;
    ngx_http_auth_m2m_local_t  *local =
        static_cast<ngx_http_auth_m2m_local_t *>(issuer->source_data);

    if (local->key_paths == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "auth_m2m_issuer \"%V\" has \"clients\" or "
                           "\"token_lifetime\" but no \"signing_key\"",
                           &issuer->name);
        return NGX_ERROR;
    }

    ngx_conf_init_value(local->token_lifetime, 3600);

    ngx_http_auth_m2m_tls_unused(cf, issuer);

    /* the tokens it signs must pass its own header checks ("algorithms",
     * "require_typ"): a probe token of each key through the core's */
    paths = static_cast<ngx_str_t *>(local->key_paths->elts);

    for (i = 0; i < local->keys->size(); i++) {
        m2m::Token   probe;
        m2m::Reason  status;

        status = m2m::Token::parse((*local->keys)[i].sign("{}"), &probe);

        if (status == m2m::Reason::ok) {
            status = m2m::check_header(probe, *issuer->policy);
        }

        if (status != m2m::Reason::ok) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "auth_m2m_issuer \"%V\": \"signing_key\" "
                               "\"%V\" signs tokens (alg %s, typ at+jwt) "
                               "that this block refuses: %s; check "
                               "\"algorithms\" and \"require_typ\"",
                               &issuer->name, &paths[i],
                               m2m::algorithm_name(
                                   (*local->keys)[i].algorithm()),
                               m2m::reason_code(status));
            return NGX_ERROR;
        }
    }

    /* the metadata endpoint publishes "issuer" as JSON */
    if (!m2m::server_metadata(issuer->policy->issuer, "", {}, {})) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "auth_m2m_issuer \"%V\": \"issuer\" of a local "
                           "issuer must be UTF-8", &issuer->name);
        return NGX_ERROR;
    }

    if (local->clients.len
        && ngx_http_auth_m2m_registry_init(cf, issuer) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* May throw. */
void
ngx_http_auth_m2m_local_describe(ngx_http_auth_m2m_issuer_t *issuer,
    m2m::IssuerReport *report)
{
    ngx_str_t                  *paths;
    ngx_uint_t                  i;
    ngx_http_auth_m2m_local_t  *local =
        static_cast<ngx_http_auth_m2m_local_t *>(issuer->source_data);

    paths = static_cast<ngx_str_t *>(local->key_paths->elts);

    for (i = 0; i < local->key_paths->nelts; i++) {
        if (i) {
            report->location += ' ';
        }

        report->location.append(reinterpret_cast<char *>(paths[i].data),
                                paths[i].len);
    }

    report->generation = 1;
    report->last_attempt = local->loaded;
    report->last_success = local->loaded;
}

} /* namespace */


ngx_http_auth_m2m_source_t  ngx_http_auth_m2m_source_local = {
    "local",
    ngx_http_auth_m2m_local_commands,
    ngx_http_auth_m2m_local_finish,
    NULL,                                  /* prepare */
    NULL,                                  /* zone_key: not shared */
    NULL,                                  /* begin */
    NULL,                                  /* complete */
    ngx_http_auth_m2m_local_describe
};


ngx_http_auth_m2m_local_t *
ngx_http_auth_m2m_local(ngx_http_auth_m2m_issuer_t *issuer)
{
    if (issuer->source != &ngx_http_auth_m2m_source_local) {
        return NULL;
    }

    return static_cast<ngx_http_auth_m2m_local_t *>(issuer->source_data);
}
