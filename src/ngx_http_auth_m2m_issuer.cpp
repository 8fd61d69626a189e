/*
 * The auth_m2m_issuer block: one trusted token issuer, its key source and
 * the rules its tokens must meet. Its directives are an inner ngx_command_t
 * table parsed with nginx's slots; when the block ends, the issuer gets its
 * defaults and the m2m::IssuerPolicy the core checks tokens against.
 */

#include "ngx_http_auth_m2m_source.h"

#include <string_view>


namespace {

char *ngx_http_auth_m2m_set_issuer(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_auth_m2m_set_algorithms(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_auth_m2m_set_at_least_1s(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


/* fetch_timeout 0 or jwks_max_size 0 could never succeed */
template <typename T>
char *
ngx_http_auth_m2m_not_zero(ngx_conf_t *cf, void *post, void *data)
{
    if (*static_cast<T *>(data) == 0) {
        return const_cast<char *>("invalid value");
    }

    return NGX_CONF_OK;
}


ngx_conf_post_t  ngx_http_auth_m2m_msec_not_zero =
    { ngx_http_auth_m2m_not_zero<ngx_msec_t> };
ngx_conf_post_t  ngx_http_auth_m2m_size_not_zero =
    { ngx_http_auth_m2m_not_zero<size_t> };


/* The conf each directive is given is the ngx_http_auth_m2m_issuer_t. The
 * key sources' directives are in their own tables. */
ngx_command_t  ngx_http_auth_m2m_issuer_commands[] = {

    { ngx_string("issuer"),
      NGX_CONF_TAKE1,
      ngx_http_auth_m2m_set_issuer,
      0,
      offsetof(ngx_http_auth_m2m_issuer_t, iss),
      NULL },

    { ngx_string("audience"),
      NGX_CONF_1MORE,
      ngx_http_auth_m2m_conf_set_list_slot,
      0,
      offsetof(ngx_http_auth_m2m_issuer_t, audiences),
      NULL },

    { ngx_string("algorithms"),
      NGX_CONF_1MORE,
      ngx_http_auth_m2m_set_algorithms,
      0,
      offsetof(ngx_http_auth_m2m_issuer_t, algorithms),
      NULL },

    { ngx_string("leeway"),
      NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      0,
      offsetof(ngx_http_auth_m2m_issuer_t, leeway),
      NULL },

    { ngx_string("client_id_claim"),
      NGX_CONF_1MORE,
      ngx_http_auth_m2m_conf_set_list_slot,
      0,
      offsetof(ngx_http_auth_m2m_issuer_t, client_id_claims),
      NULL },

    { ngx_string("scope_claim"),
      NGX_CONF_1MORE,
      ngx_http_auth_m2m_conf_set_list_slot,
      0,
      offsetof(ngx_http_auth_m2m_issuer_t, scope_claims),
      NULL },

    { ngx_string("require_typ"),
      NGX_CONF_1MORE,
      ngx_http_auth_m2m_conf_set_list_slot,
      0,
      offsetof(ngx_http_auth_m2m_issuer_t, require_typ),
      NULL },

    { ngx_string("refresh"),
      NGX_CONF_TAKE1,
      ngx_http_auth_m2m_set_at_least_1s,
      0,
      offsetof(ngx_http_auth_m2m_issuer_t, refresh),
      NULL },

    { ngx_string("fetch_timeout"),
      NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      0,
      offsetof(ngx_http_auth_m2m_issuer_t, fetch_timeout),
      &ngx_http_auth_m2m_msec_not_zero },

    { ngx_string("jwks_max_size"),
      NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      0,
      offsetof(ngx_http_auth_m2m_issuer_t, jwks_max_size),
      &ngx_http_auth_m2m_size_not_zero },

    /* with no cooldown, every made-up kid would be a fetch */
    { ngx_string("kid_refetch_cooldown"),
      NGX_CONF_TAKE1,
      ngx_http_auth_m2m_set_at_least_1s,
      0,
      offsetof(ngx_http_auth_m2m_issuer_t, kid_refetch_cooldown),
      NULL },

    { ngx_string("trusted_certificate"),
      NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      0,
      offsetof(ngx_http_auth_m2m_issuer_t, trusted_certificate),
      NULL },

      ngx_null_command
};


/* The block's own checks name the block, unlike nginx's "invalid value". */
char *
ngx_http_auth_m2m_issuer_refuse(ngx_conf_t *cf,
    ngx_http_auth_m2m_issuer_t *issuer, const char *text)
{
    ngx_str_t  *value = static_cast<ngx_str_t *>(cf->args->elts);

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "auth_m2m_issuer \"%V\": \"%V\" %s",
                       &issuer->name, &value[0], text);

    return static_cast<char *>(NGX_CONF_ERROR);
}


char *
ngx_http_auth_m2m_set_issuer(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_auth_m2m_issuer_t  *issuer =
        static_cast<ngx_http_auth_m2m_issuer_t *>(conf);

    char  *rv = ngx_conf_set_str_slot(cf, cmd, conf);

    if (rv == NGX_CONF_OK && issuer->iss.len == 0) {
        return ngx_http_auth_m2m_issuer_refuse(cf, issuer, "must not be empty");
    }

    return rv;
}


char *
ngx_http_auth_m2m_set_algorithms(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_auth_m2m_issuer_t  *issuer =
        static_cast<ngx_http_auth_m2m_issuer_t *>(conf);

    char        *rv;
    ngx_str_t   *names;
    ngx_uint_t   i;

    rv = ngx_http_auth_m2m_conf_set_list_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    names = static_cast<ngx_str_t *>(issuer->algorithms->elts);

    for (i = 0; i < issuer->algorithms->nelts; i++) {
        if (m2m::algorithm_is_forbidden(ngx_http_auth_m2m_view(names[i]))) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "auth_m2m_issuer \"%V\": \"algorithms\": "
                               "\"%V\" is not allowed: only asymmetric "
                               "signatures can be verified without sharing "
                               "a secret", &issuer->name, &names[i]);
            return static_cast<char *>(NGX_CONF_ERROR);
        }

        if (!m2m::algorithm_from_name(ngx_http_auth_m2m_view(names[i]))) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "auth_m2m_issuer \"%V\": \"algorithms\": "
                               "unknown algorithm \"%V\"",
                               &issuer->name, &names[i]);
            return static_cast<char *>(NGX_CONF_ERROR);
        }
    }

    return NGX_CONF_OK;
}


char *
ngx_http_auth_m2m_set_at_least_1s(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = static_cast<char *>(conf);

    char  *rv = ngx_conf_set_sec_slot(cf, cmd, conf);

    if (rv == NGX_CONF_OK && *reinterpret_cast<time_t *>(p + cmd->offset) < 1) {
        return ngx_http_auth_m2m_issuer_refuse(
                   cf, static_cast<ngx_http_auth_m2m_issuer_t *>(conf),
                   "must be at least 1s");
    }

    return rv;
}


void
ngx_http_auth_m2m_copy_list(std::vector<std::string> *out, ngx_array_t *list)
{
    ngx_str_t  *value;

    if (list == NGX_CONF_UNSET_PTR) {
        return;     /* the core's default stays */
    }

    value = static_cast<ngx_str_t *>(list->elts);

    out->clear();

    for (ngx_uint_t i = 0; i < list->nelts; i++) {
        out->push_back(ngx_http_auth_m2m_string(value[i].data, value[i].len));
    }
}


/* The block is complete: defaults for what it left unset, then the policy.
 * May throw. */
ngx_int_t
ngx_http_auth_m2m_finish_issuer(ngx_conf_t *cf,
    ngx_http_auth_m2m_issuer_t *issuer)
{
    ngx_str_t          *names;
    m2m::IssuerPolicy  *policy = issuer->policy;

    if (issuer->iss.data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "auth_m2m_issuer \"%V\" has no \"issuer\"",
                           &issuer->name);
        return NGX_ERROR;
    }

    ngx_conf_init_value(issuer->refresh, 600);
    ngx_conf_init_msec_value(issuer->fetch_timeout, 5000);
    ngx_conf_init_size_value(issuer->jwks_max_size, 1024 * 1024);
    ngx_conf_init_value(issuer->kid_refetch_cooldown, 30);

    policy->issuer = ngx_http_auth_m2m_string(issuer->iss.data,
                                              issuer->iss.len);

    if (issuer->leeway != NGX_CONF_UNSET) {
        policy->leeway = issuer->leeway;
    }

    if (issuer->algorithms != NGX_CONF_UNSET_PTR) {
        names = static_cast<ngx_str_t *>(issuer->algorithms->elts);
        policy->algorithms = m2m::AlgorithmSet();

        /* each name was checked by its directive */
        for (ngx_uint_t i = 0; i < issuer->algorithms->nelts; i++) {
            policy->algorithms.add(
                *m2m::algorithm_from_name(ngx_http_auth_m2m_view(names[i])));
        }
    }

    ngx_http_auth_m2m_copy_list(&policy->audiences, issuer->audiences);
    ngx_http_auth_m2m_copy_list(&policy->client_id_claims,
                                issuer->client_id_claims);
    ngx_http_auth_m2m_copy_list(&policy->scope_claims, issuer->scope_claims);
    ngx_http_auth_m2m_copy_list(&policy->require_typ, issuer->require_typ);

    if (ngx_http_auth_m2m_finish_source(cf, issuer) != NGX_OK) {
        return NGX_ERROR;
    }

    if (issuer->policy->audiences.empty()) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "auth_m2m_issuer \"%V\" has no \"audience\": "
                           "tokens minted for any API of this issuer "
                           "will be accepted", &issuer->name);
    }

    return NGX_OK;
}

} /* namespace */


ngx_http_auth_m2m_issuer_t *
ngx_http_auth_m2m_issuer_ref(ngx_conf_t *cf, ngx_str_t *name)
{
    ngx_uint_t                       i;
    ngx_http_auth_m2m_issuer_t      *issuer, **slot, **issuers;
    ngx_http_auth_m2m_main_conf_t   *amcf;

    amcf = static_cast<ngx_http_auth_m2m_main_conf_t *>(
               ngx_http_conf_get_module_main_conf(cf,
                                                  ngx_http_auth_m2m_module));

    issuers = static_cast<ngx_http_auth_m2m_issuer_t **>(amcf->issuers.elts);

    for (i = 0; i < amcf->issuers.nelts; i++) {
        if (issuers[i]->name.len == name->len
            && ngx_strncmp(issuers[i]->name.data, name->data, name->len) == 0)
        {
            return issuers[i];
        }
    }

    issuer = static_cast<ngx_http_auth_m2m_issuer_t *>(
                 ngx_pcalloc(cf->pool, sizeof(ngx_http_auth_m2m_issuer_t)));
    if (issuer == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     issuer->iss = { 0, NULL };
     *     issuer->source = NULL;
     *     issuer->source_data = NULL;
     *     issuer->trusted_certificate = { 0, NULL };
     */

    issuer->name = *name;
    issuer->audiences = static_cast<ngx_array_t *>(NGX_CONF_UNSET_PTR);
    issuer->algorithms = static_cast<ngx_array_t *>(NGX_CONF_UNSET_PTR);
    issuer->leeway = NGX_CONF_UNSET;
    issuer->client_id_claims = static_cast<ngx_array_t *>(NGX_CONF_UNSET_PTR);
    issuer->scope_claims = static_cast<ngx_array_t *>(NGX_CONF_UNSET_PTR);
    issuer->require_typ = static_cast<ngx_array_t *>(NGX_CONF_UNSET_PTR);
    issuer->refresh = NGX_CONF_UNSET;
    issuer->fetch_timeout = NGX_CONF_UNSET_MSEC;
    issuer->jwks_max_size = NGX_CONF_UNSET_SIZE;
    issuer->kid_refetch_cooldown = NGX_CONF_UNSET;
    issuer->ref_file = cf->conf_file->file.name.data;
    issuer->ref_line = cf->conf_file->line;

    issuer->policy = ngx_http_auth_m2m_pool_new<m2m::IssuerPolicy>(cf->pool);
    if (issuer->policy == NULL) {
        return NULL;
    }

    issuer->policy->name = ngx_http_auth_m2m_string(name->data, name->len);

    issuer->keys = ngx_http_auth_m2m_pool_new<m2m::IssuerKeys>(cf->pool);
    if (issuer->keys == NULL) {
        return NULL;
    }

    slot = static_cast<ngx_http_auth_m2m_issuer_t **>(
               ngx_array_push(&amcf->issuers));
    if (slot == NULL) {
        return NULL;
    }

    *slot = issuer;

    return issuer;
}


char *
ngx_http_auth_m2m_issuer_block(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char                        *rv;
    ngx_str_t                   *value;
    ngx_http_auth_m2m_issuer_t  *issuer;

    value = static_cast<ngx_str_t *>(cf->args->elts);

    try {
        issuer = ngx_http_auth_m2m_issuer_ref(cf, &value[1]);

    } catch (const std::exception &e) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "auth_m2m_issuer: %s",
                           e.what());
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    if (issuer == NULL) {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    if (issuer->defined) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate auth_m2m_issuer \"%V\"", &value[1]);
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    issuer->defined = 1;

    rv = ngx_http_auth_m2m_conf_block(
             cf, ngx_http_auth_m2m_source_commands(
                     ngx_http_auth_m2m_issuer_commands),
             issuer);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    try {
        if (ngx_http_auth_m2m_finish_issuer(cf, issuer) != NGX_OK) {
            return static_cast<char *>(NGX_CONF_ERROR);
        }

    } catch (const std::exception &e) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "auth_m2m_issuer \"%V\": %s",
                           &value[1], e.what());
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_auth_m2m_check_issuers(ngx_conf_t *cf)
{
    ngx_uint_t                       i;
    ngx_http_auth_m2m_issuer_t     **issuers;
    ngx_http_auth_m2m_main_conf_t   *amcf;

    amcf = static_cast<ngx_http_auth_m2m_main_conf_t *>(
               ngx_http_conf_get_module_main_conf(cf,
                                                  ngx_http_auth_m2m_module));

    issuers = static_cast<ngx_http_auth_m2m_issuer_t **>(amcf->issuers.elts);

    for (i = 0; i < amcf->issuers.nelts; i++) {
        if (!issuers[i]->defined) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"auth_m2m\" names unknown issuer \"%V\" in %s:%ui",
                          &issuers[i]->name, issuers[i]->ref_file,
                          issuers[i]->ref_line);
            return NGX_ERROR;
        }

        if (issuers[i]->source->prepare
            && issuers[i]->source->prepare(cf, issuers[i]) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}
