/*
 * ngx_http_auth_m2m_module: directives, configuration merging and module
 * registration. Verification lives in core/; the request's path through
 * the glue is _token, _verdict, _access and _variables (README, "How it
 * works inside").
 */

#include "ngx_http_auth_m2m.h"
#include "ngx_http_auth_m2m_local.h"


namespace {

void *ngx_http_auth_m2m_create_main_conf(ngx_conf_t *cf);
char *ngx_http_auth_m2m_init_main_conf(ngx_conf_t *cf, void *conf);
void *ngx_http_auth_m2m_create_loc_conf(ngx_conf_t *cf);
char *ngx_http_auth_m2m_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
ngx_int_t ngx_http_auth_m2m_preconfiguration(ngx_conf_t *cf);
ngx_int_t ngx_http_auth_m2m_postconfiguration(ngx_conf_t *cf);

char *ngx_http_auth_m2m(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_auth_m2m_realm(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);


/* As limit_req_log_level: refusals can be logged above "info", where nginx
 * itself logs a duplicate Authorization header with its token. */
ngx_conf_enum_t  ngx_http_auth_m2m_log_levels[] = {
    { ngx_string("info"), NGX_LOG_INFO },
    { ngx_string("notice"), NGX_LOG_NOTICE },
    { ngx_string("warn"), NGX_LOG_WARN },
    { ngx_string("error"), NGX_LOG_ERR },
    { ngx_null_string, 0 }
};


ngx_conf_enum_t  ngx_http_auth_m2m_dpop_modes[] = {
    { ngx_string("off"), static_cast<ngx_uint_t>(m2m::DpopMode::off) },
    { ngx_string("allowed"), static_cast<ngx_uint_t>(m2m::DpopMode::allowed) },
    { ngx_string("required"),
      static_cast<ngx_uint_t>(m2m::DpopMode::required) },
    { ngx_null_string, 0 }
};


ngx_command_t  ngx_http_auth_m2m_commands[] = {

    { ngx_string("auth_m2m_issuer"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_BLOCK|NGX_CONF_TAKE1,
      ngx_http_auth_m2m_issuer_block,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("auth_m2m"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_auth_m2m,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("auth_m2m_scope"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_auth_m2m_scope,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("auth_m2m_require"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_auth_m2m_require,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("auth_m2m_realm"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_auth_m2m_realm,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_auth_m2m_loc_conf_t, realm),
      NULL },

    { ngx_string("auth_m2m_token"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_auth_m2m_conf_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_auth_m2m_loc_conf_t, token),
      NULL },

    { ngx_string("auth_m2m_log_level"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_auth_m2m_loc_conf_t, log_level),
      &ngx_http_auth_m2m_log_levels },

    { ngx_string("auth_m2m_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_auth_m2m_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("auth_m2m_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_auth_m2m_status,
      0,
      0,
      NULL },

    { ngx_string("auth_m2m_token_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_auth_m2m_token_cache,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_auth_m2m_main_conf_t, token_cache),
      NULL },

    { ngx_string("auth_m2m_token_endpoint"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_auth_m2m_token_endpoint,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("auth_m2m_jwks_endpoint"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_auth_m2m_jwks_endpoint,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("auth_m2m_metadata_endpoint"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1234,
      ngx_http_auth_m2m_metadata_endpoint,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("auth_m2m_clients_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_auth_m2m_clients_api,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("auth_m2m_base_url"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_auth_m2m_base_url,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_auth_m2m_loc_conf_t, base_url),
      NULL },

    { ngx_string("auth_m2m_certificate_bound"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_auth_m2m_loc_conf_t, certificate_bound),
      NULL },

    { ngx_string("auth_m2m_client_certificate"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_auth_m2m_conf_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_auth_m2m_loc_conf_t, client_certificate),
      NULL },

    { ngx_string("auth_m2m_dpop"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_auth_m2m_loc_conf_t, dpop),
      &ngx_http_auth_m2m_dpop_modes },

    { ngx_string("auth_m2m_dpop_window"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_auth_m2m_loc_conf_t, dpop_window),
      NULL },

    { ngx_string("auth_m2m_dpop_replay_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_auth_m2m_dpop_replay_cache,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_auth_m2m_main_conf_t, dpop_replay_size),
      NULL },

    { ngx_string("auth_m2m_claim_set"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_auth_m2m_claim_set,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


ngx_http_module_t  ngx_http_auth_m2m_module_ctx = {
    ngx_http_auth_m2m_preconfiguration,    /* preconfiguration */
    ngx_http_auth_m2m_postconfiguration,   /* postconfiguration */

    ngx_http_auth_m2m_create_main_conf,    /* create main configuration */
    ngx_http_auth_m2m_init_main_conf,      /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_auth_m2m_create_loc_conf,     /* create location configuration */
    ngx_http_auth_m2m_merge_loc_conf       /* merge location configuration */
};

} /* namespace */


ngx_module_t  ngx_http_auth_m2m_module = {
    NGX_MODULE_V1,
    &ngx_http_auth_m2m_module_ctx,         /* module context */
    ngx_http_auth_m2m_commands,            /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_auth_m2m_init_process,        /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_auth_m2m_exit_process,        /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


ngx_int_t
ngx_http_auth_m2m_copy_str(ngx_pool_t *pool, std::string_view s,
    ngx_str_t *out)
{
    out->len = s.size();
    out->data = static_cast<u_char *>(ngx_pnalloc(pool, s.size() + 1));
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(out->data, s.data(), s.size());
    out->data[s.size()] = '\0';

    return NGX_OK;
}


namespace {

void *
ngx_http_auth_m2m_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_auth_m2m_main_conf_t  *amcf;

    amcf = static_cast<ngx_http_auth_m2m_main_conf_t *>(
               ngx_pcalloc(cf->pool, sizeof(ngx_http_auth_m2m_main_conf_t)));
    if (amcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&amcf->issuers, cf->pool, 4,
                       sizeof(ngx_http_auth_m2m_issuer_t *))
        != NGX_OK)
    {
        return NULL;
    }

    amcf->token_cache = NGX_CONF_UNSET_SIZE;
    amcf->dpop_replay_size = NGX_CONF_UNSET_SIZE;

    return amcf;
}


char *
ngx_http_auth_m2m_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_auth_m2m_main_conf_t  *amcf =
        static_cast<ngx_http_auth_m2m_main_conf_t *>(conf);

    std::optional<std::string>  algs;

    if (ngx_http_auth_m2m_check_issuers(cf) != NGX_OK
        || ngx_http_auth_m2m_default_zone(cf, amcf) != NGX_OK
        || ngx_http_auth_m2m_dpop_replay_zone(cf, amcf) != NGX_OK)
    {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    /* what DPoP challenges offer: the proof algorithms that
     * verify_dpop_proof() accepts */
    algs = m2m::DpopRequest().algorithms.names();

    if (!algs
        || ngx_http_auth_m2m_copy_str(cf->pool, *algs, &amcf->dpop_algs)
           != NGX_OK)
    {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    ngx_conf_init_size_value(amcf->token_cache,
                             NGX_HTTP_AUTH_M2M_TOKEN_CACHE_SIZE);

    return NGX_CONF_OK;
}


/* A token picks the first listed block whose "issuer" is its "iss": a later
 * block with the same "issuer" (say, another audience) would never be used.
 * Checked at merge time, when blocks named before their definition are
 * complete. */
ngx_int_t
ngx_http_auth_m2m_check_distinct(ngx_conf_t *cf, ngx_array_t *issuers)
{
    ngx_http_auth_m2m_issuer_t  **issuer =
        static_cast<ngx_http_auth_m2m_issuer_t **>(issuers->elts);

    for (ngx_uint_t i = 0; i < issuers->nelts; i++) {
        for (ngx_uint_t j = 0; j < i; j++) {
            const m2m::IssuerPolicy  &a = *issuer[j]->policy,
                                     &b = *issuer[i]->policy;

            if (a.issuer == b.issuer) {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "auth_m2m lists auth_m2m_issuer \"%s\" and "
                              "\"%s\", which have the same \"issuer\" "
                              "\"%s\": tokens would only ever be checked "
                              "against \"%s\"", a.name.c_str(),
                              b.name.c_str(), a.issuer.c_str(),
                              a.name.c_str());
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


void *
ngx_http_auth_m2m_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_auth_m2m_loc_conf_t  *alcf;

    alcf = static_cast<ngx_http_auth_m2m_loc_conf_t *>(
               ngx_pcalloc(cf->pool, sizeof(ngx_http_auth_m2m_loc_conf_t)));
    if (alcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     alcf->scope_attr = { 0, NULL };
     *     alcf->realm = { 0, NULL };
     *     alcf->endpoint = NULL;
     *     alcf->base_url = { 0, NULL };
     */

    alcf->issuers = static_cast<ngx_array_t *>(NGX_CONF_UNSET_PTR);
    alcf->scopes = static_cast<ngx_http_auth_m2m_strings_t *>(
                       NGX_CONF_UNSET_PTR);
    alcf->token = static_cast<ngx_http_complex_value_t *>(NGX_CONF_UNSET_PTR);
    alcf->log_level = NGX_CONF_UNSET_UINT;
    alcf->certificate_bound = NGX_CONF_UNSET;
    alcf->rules = static_cast<ngx_array_t *>(NGX_CONF_UNSET_PTR);
    alcf->client_certificate = static_cast<ngx_http_complex_value_t *>(
                                   NGX_CONF_UNSET_PTR);
    alcf->dpop = NGX_CONF_UNSET_UINT;
    alcf->dpop_window = NGX_CONF_UNSET;

    return alcf;
}


char *
ngx_http_auth_m2m_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_auth_m2m_loc_conf_t  *prev =
        static_cast<ngx_http_auth_m2m_loc_conf_t *>(parent);
    ngx_http_auth_m2m_loc_conf_t  *conf =
        static_cast<ngx_http_auth_m2m_loc_conf_t *>(child);

    ngx_http_auth_m2m_main_conf_t  *amcf;

    if (conf->endpoint) {
        if (ngx_http_auth_m2m_check_endpoint(cf, conf->endpoint) != NGX_OK
            || ngx_http_auth_m2m_check_token_endpoint(cf, conf) != NGX_OK)
        {
            return static_cast<char *>(NGX_CONF_ERROR);
        }

        /* public keys and metadata are for anyone, and clients come to the
         * token endpoint for a token: one required by an outer level does
         * not apply unless the location asks for one */
        if (conf->issuers == NGX_CONF_UNSET_PTR) {
            conf->issuers = NULL;
        }
    }

    ngx_conf_merge_ptr_value(conf->issuers, prev->issuers, NULL);

    /* whoever may call it may mint clients, and so tokens */
    if (conf->endpoint && conf->endpoint->clients_api
        && conf->issuers == NULL)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"%s\" in %s:%ui needs \"auth_m2m\" (and "
                      "\"auth_m2m_scope\", e.g. clients:admin) in its own "
                      "location: an open clients API would let anyone "
                      "register a client", conf->endpoint->directive,
                      conf->endpoint->file, conf->endpoint->line);
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    if (conf->issuers
        && ngx_http_auth_m2m_check_distinct(cf, conf->issuers) != NGX_OK)
    {
        return static_cast<char *>(NGX_CONF_ERROR);
    }
    ngx_conf_merge_ptr_value(conf->token, prev->token, NULL);
    ngx_conf_merge_str_value(conf->realm, prev->realm, "api");
    ngx_conf_merge_uint_value(conf->log_level, prev->log_level, NGX_LOG_INFO);
    ngx_conf_merge_str_value(conf->base_url, prev->base_url, "");
    ngx_conf_merge_value(conf->certificate_bound, prev->certificate_bound, 0);
    ngx_conf_merge_ptr_value(conf->rules, prev->rules, NULL);
    ngx_conf_merge_ptr_value(conf->client_certificate,
                             prev->client_certificate, NULL);
    ngx_conf_merge_uint_value(conf->dpop, prev->dpop,
                              static_cast<ngx_uint_t>(m2m::DpopMode::allowed));
    ngx_conf_merge_sec_value(conf->dpop_window, prev->dpop_window, 60);

    amcf = static_cast<ngx_http_auth_m2m_main_conf_t *>(
               ngx_http_conf_get_module_main_conf(cf,
                                                  ngx_http_auth_m2m_module));

    if (conf->dpop_window > amcf->dpop_window_max) {
        amcf->dpop_window_max = conf->dpop_window;
    }

    if (conf->scopes == NGX_CONF_UNSET_PTR) {
        conf->scopes = prev->scopes == NGX_CONF_UNSET_PTR ? NULL : prev->scopes;
        conf->scope_attr = prev->scope_attr;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_auth_m2m_preconfiguration(ngx_conf_t *cf)
{
    return ngx_http_auth_m2m_add_variables(cf);
}


ngx_int_t
ngx_http_auth_m2m_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = static_cast<ngx_http_core_main_conf_t *>(
               ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module));

    h = static_cast<ngx_http_handler_pt *>(
            ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers));
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_auth_m2m_access_handler;

    return NGX_OK;
}


char *
ngx_http_auth_m2m(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_auth_m2m_loc_conf_t  *alcf =
        static_cast<ngx_http_auth_m2m_loc_conf_t *>(conf);

    ngx_str_t                     *value;
    ngx_uint_t                     i, j;
    ngx_array_t                   *issuers;
    ngx_http_auth_m2m_issuer_t    *issuer, **slot;

    if (alcf->issuers != NGX_CONF_UNSET_PTR) {
        return const_cast<char *>("is duplicate");
    }

    value = static_cast<ngx_str_t *>(cf->args->elts);

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        alcf->issuers = NULL;
        return NGX_CONF_OK;
    }

    issuers = ngx_array_create(cf->pool, cf->args->nelts - 1,
                               sizeof(ngx_http_auth_m2m_issuer_t *));
    if (issuers == NULL) {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    try {
        for (i = 1; i < cf->args->nelts; i++) {
            if (ngx_strcmp(value[i].data, "off") == 0) {
                return const_cast<char *>("\"off\" cannot be combined with "
                                          "issuer names");
            }

            for (j = 1; j < i; j++) {
                if (value[j].len == value[i].len
                    && ngx_strncmp(value[j].data, value[i].data, value[i].len)
                       == 0)
                {
                    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                       "issuer \"%V\" is listed twice",
                                       &value[i]);
                    return static_cast<char *>(NGX_CONF_ERROR);
                }
            }

            issuer = ngx_http_auth_m2m_issuer_ref(cf, &value[i]);
            if (issuer == NULL) {
                return static_cast<char *>(NGX_CONF_ERROR);
            }

            slot = static_cast<ngx_http_auth_m2m_issuer_t **>(
                       ngx_array_push(issuers));
            if (slot == NULL) {
                return static_cast<char *>(NGX_CONF_ERROR);
            }

            *slot = issuer;
        }

    } catch (const std::exception &e) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "auth_m2m: %s", e.what());
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    alcf->issuers = issuers;

    return NGX_CONF_OK;
}


char *
ngx_http_auth_m2m_realm(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t  *value;

    value = static_cast<ngx_str_t *>(cf->args->elts);

    if (!ngx_http_auth_m2m_quotable(&value[1])) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "realm \"%V\" may not contain quotes, "
                           "backslashes or control characters", &value[1]);
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    return ngx_conf_set_str_slot(cf, cmd, conf);
}

} /* namespace */


/* Whether s can stand between the quotes of a quoted-string (a realm) as
 * it is, with no escaping. */
bool
ngx_http_auth_m2m_quotable(ngx_str_t *s)
{
    for (size_t i = 0; i < s->len; i++) {
        if (s->data[i] < 0x20 || s->data[i] == 0x7f || s->data[i] == '"'
            || s->data[i] == '\\')
        {
            return false;
        }
    }

    return true;
}
