/*
 * The auth_m2m_issuer block: one trusted token issuer, its key source and
 * the rules its tokens must meet. Keys from jwks_file are read while the
 * configuration is parsed, so "nginx -t" reports a bad key file.
 */

#include "ngx_http_auth_m2m.h"

#include <string_view>

#include "core/jwks.h"


namespace {

typedef char *(*ngx_http_auth_m2m_issuer_setter_pt)(ngx_conf_t *cf,
    ngx_http_auth_m2m_issuer_t *issuer, ngx_str_t *args, ngx_uint_t nargs);

typedef std::vector<std::string> m2m::IssuerPolicy::*ngx_http_auth_m2m_list_t;

typedef struct {
    const char                           *name;
    ngx_uint_t                            min_args;
    ngx_uint_t                            max_args;   /* 0: unbounded */
    ngx_http_auth_m2m_issuer_setter_pt    set;        /* NULL: a plain list */
    ngx_http_auth_m2m_list_t              list;       /* ... stored here */
} ngx_http_auth_m2m_issuer_directive_t;


/* Per-block parse state: which directives were seen, to report duplicates. */
typedef struct {
    ngx_http_auth_m2m_issuer_t           *issuer;
    ngx_uint_t                            seen;       /* bit per directive */
} ngx_http_auth_m2m_issuer_ctx_t;


char *set_source(ngx_conf_t *cf, ngx_http_auth_m2m_issuer_t *issuer,
    ngx_http_auth_m2m_source_e source);


std::vector<std::string>
to_strings(ngx_str_t *args, ngx_uint_t nargs)
{
    std::vector<std::string>  out;

    for (ngx_uint_t i = 0; i < nargs; i++) {
        out.push_back(ngx_http_auth_m2m_string(args[i].data, args[i].len));
    }

    return out;
}


ngx_int_t
ngx_http_auth_m2m_read_file(ngx_conf_t *cf, ngx_http_auth_m2m_issuer_t *issuer,
    ngx_str_t *path, std::string *out)
{
    ngx_fd_t         fd;
    ngx_file_info_t  fi;
    ssize_t          n;

    fd = ngx_open_file(path->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "auth_m2m_issuer \"%V\": \"jwks_file\" "
                           ngx_open_file_n " \"%V\" failed",
                           &issuer->name, path);
        return NGX_ERROR;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "auth_m2m_issuer \"%V\": \"jwks_file\" "
                           ngx_fd_info_n " \"%V\" failed",
                           &issuer->name, path);
        ngx_close_file(fd);
        return NGX_ERROR;
    }

    out->resize(ngx_file_size(&fi));

    n = ngx_read_fd(fd, &(*out)[0], out->size());

    ngx_close_file(fd);

    if (n != static_cast<ssize_t>(out->size())) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "auth_m2m_issuer \"%V\": \"jwks_file\" "
                           ngx_read_fd_n " \"%V\" failed",
                           &issuer->name, path);
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_auth_m2m_load_jwks_file(ngx_conf_t *cf,
    ngx_http_auth_m2m_issuer_t *issuer)
{
    std::string  text;

    if (ngx_http_auth_m2m_read_file(cf, issuer, &issuer->jwks_file, &text)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    m2m::JwksParseResult  parsed = m2m::parse_jwks(text);

    for (const auto &skipped : parsed.skipped) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "auth_m2m_issuer \"%V\": \"jwks_file\" \"%V\": "
                           "key ignored: %s",
                           &issuer->name, &issuer->jwks_file, skipped.c_str());
    }

    if (parsed.status != m2m::Status::ok) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "auth_m2m_issuer \"%V\": \"jwks_file\" \"%V\" "
                           "is not a usable JWK Set: %s",
                           &issuer->name, &issuer->jwks_file,
                           m2m::reason_code(parsed.status));
        return NGX_ERROR;
    }

    issuer->policy->keys =
        std::make_shared<const m2m::KeySet>(std::move(parsed.keys));
    issuer->jwks_file_loaded = ngx_time();

    return NGX_OK;
}


char *
set_issuer(ngx_conf_t *cf, ngx_http_auth_m2m_issuer_t *issuer, ngx_str_t *args,
    ngx_uint_t nargs)
{
    if (args[0].len == 0) {
        return const_cast<char *>("must not be empty");
    }

    issuer->policy->issuer = ngx_http_auth_m2m_string(args[0].data,
                                                      args[0].len);
    return NGX_CONF_OK;
}


char *
set_jwks_file(ngx_conf_t *cf, ngx_http_auth_m2m_issuer_t *issuer,
    ngx_str_t *args, ngx_uint_t nargs)
{
    char  *rv = set_source(cf, issuer, NGX_HTTP_AUTH_M2M_SOURCE_FILE);

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    issuer->jwks_file = args[0];

    if (ngx_conf_full_name(cf->cycle, &issuer->jwks_file, 1) != NGX_OK) {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    if (ngx_http_auth_m2m_load_jwks_file(cf, issuer) != NGX_OK) {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    return NGX_CONF_OK;
}


char *
set_algorithms(ngx_conf_t *cf, ngx_http_auth_m2m_issuer_t *issuer,
    ngx_str_t *args, ngx_uint_t nargs)
{
    m2m::AlgorithmSet  set;

    for (ngx_uint_t i = 0; i < nargs; i++) {
        std::string_view  name(reinterpret_cast<char *>(args[i].data),
                               args[i].len);

        if (m2m::algorithm_is_forbidden(name)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "auth_m2m_issuer \"%V\": \"algorithms\": "
                               "\"%V\" is not allowed: only asymmetric "
                               "signatures can be verified without sharing "
                               "a secret", &issuer->name, &args[i]);
            return static_cast<char *>(NGX_CONF_ERROR);
        }

        auto alg = m2m::algorithm_from_name(name);
        if (!alg) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "auth_m2m_issuer \"%V\": \"algorithms\": "
                               "unknown algorithm \"%V\"",
                               &issuer->name, &args[i]);
            return static_cast<char *>(NGX_CONF_ERROR);
        }

        set.add(*alg);
    }

    issuer->policy->algorithms = set;
    return NGX_CONF_OK;
}


char *
set_leeway(ngx_conf_t *cf, ngx_http_auth_m2m_issuer_t *issuer,
    ngx_str_t *args, ngx_uint_t nargs)
{
    time_t  leeway;

    leeway = ngx_parse_time(&args[0], 1);
    if (leeway == (time_t) NGX_ERROR) {
        return const_cast<char *>("invalid value");
    }

    issuer->policy->leeway = leeway;
    return NGX_CONF_OK;
}


char *
set_source(ngx_conf_t *cf, ngx_http_auth_m2m_issuer_t *issuer,
    ngx_http_auth_m2m_source_e source)
{
    if (issuer->source != NGX_HTTP_AUTH_M2M_SOURCE_NONE) {
        return const_cast<char *>("conflicts with another key source: use "
                                  "exactly one of jwks_file, jwks_uri and "
                                  "discovery");
    }

    issuer->source = source;
    return NGX_CONF_OK;
}


char *
set_remote(ngx_conf_t *cf, ngx_http_auth_m2m_issuer_t *issuer, ngx_str_t *url,
    ngx_http_auth_m2m_source_e source)
{
    char  *rv = set_source(cf, issuer, source);

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    /* resolved once the whole http block shows whether a resolver is set */
    if (ngx_http_auth_m2m_parse_target(cf->pool, cf->log, NGX_LOG_EMERG, url,
                                       &issuer->target, 0)
        != NGX_OK)
    {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    issuer->url_file = cf->conf_file->file.name.data;
    issuer->url_line = cf->conf_file->line;

    return NGX_CONF_OK;
}


char *
set_jwks_uri(ngx_conf_t *cf, ngx_http_auth_m2m_issuer_t *issuer,
    ngx_str_t *args, ngx_uint_t nargs)
{
    return set_remote(cf, issuer, &args[0], NGX_HTTP_AUTH_M2M_SOURCE_URI);
}


char *
set_discovery(ngx_conf_t *cf, ngx_http_auth_m2m_issuer_t *issuer,
    ngx_str_t *args, ngx_uint_t nargs)
{
    return set_remote(cf, issuer, &args[0],
                      NGX_HTTP_AUTH_M2M_SOURCE_DISCOVERY);
}


char *
set_seconds(ngx_str_t *arg, time_t *out)
{
    time_t  t = ngx_parse_time(arg, 1);

    if (t == (time_t) NGX_ERROR) {
        return const_cast<char *>("has an invalid time");
    }

    *out = t;
    return NGX_CONF_OK;
}


char *
set_refresh(ngx_conf_t *cf, ngx_http_auth_m2m_issuer_t *issuer,
    ngx_str_t *args, ngx_uint_t nargs)
{
    char  *rv = set_seconds(&args[0], &issuer->refresh);

    if (rv == NGX_CONF_OK && issuer->refresh < 1) {
        return const_cast<char *>("must be at least 1s");
    }

    return rv;
}


char *
set_kid_refetch_cooldown(ngx_conf_t *cf, ngx_http_auth_m2m_issuer_t *issuer,
    ngx_str_t *args, ngx_uint_t nargs)
{
    char  *rv = set_seconds(&args[0], &issuer->kid_refetch_cooldown);

    /* every request with a made-up kid would otherwise be a fetch */
    if (rv == NGX_CONF_OK && issuer->kid_refetch_cooldown < 1) {
        return const_cast<char *>("must be at least 1s");
    }

    return rv;
}


char *
set_fetch_timeout(ngx_conf_t *cf, ngx_http_auth_m2m_issuer_t *issuer,
    ngx_str_t *args, ngx_uint_t nargs)
{
    ngx_msec_t  t = ngx_parse_time(&args[0], 0);

    if (t == (ngx_msec_t) NGX_ERROR || t == 0) {
        return const_cast<char *>("has an invalid time");
    }

    issuer->fetch_timeout = t;
    return NGX_CONF_OK;
}


char *
set_jwks_max_size(ngx_conf_t *cf, ngx_http_auth_m2m_issuer_t *issuer,
    ngx_str_t *args, ngx_uint_t nargs)
{
    ssize_t  size = ngx_parse_size(&args[0]);

    if (size == NGX_ERROR || size == 0) {
        return const_cast<char *>("has an invalid size");
    }

    issuer->jwks_max_size = size;
    return NGX_CONF_OK;
}


char *
set_trusted_certificate(ngx_conf_t *cf, ngx_http_auth_m2m_issuer_t *issuer,
    ngx_str_t *args, ngx_uint_t nargs)
{
    issuer->trusted_certificate = args[0];
    return NGX_CONF_OK;
}


const ngx_http_auth_m2m_issuer_directive_t  ngx_http_auth_m2m_issuer_directives[]
= {
    { "issuer",               1, 1, set_issuer, NULL },
    { "jwks_file",            1, 1, set_jwks_file, NULL },
    { "audience",             1, 0, NULL, &m2m::IssuerPolicy::audiences },
    { "algorithms",           1, 0, set_algorithms, NULL },
    { "leeway",               1, 1, set_leeway, NULL },
    { "client_id_claim",      1, 0, NULL,
      &m2m::IssuerPolicy::client_id_claims },
    { "scope_claim",          1, 0, NULL, &m2m::IssuerPolicy::scope_claims },
    { "require_typ",          1, 0, NULL, &m2m::IssuerPolicy::require_typ },
    { "jwks_uri",             1, 1, set_jwks_uri, NULL },
    { "discovery",            1, 1, set_discovery, NULL },
    { "refresh",              1, 1, set_refresh, NULL },
    { "fetch_timeout",        1, 1, set_fetch_timeout, NULL },
    { "jwks_max_size",        1, 1, set_jwks_max_size, NULL },
    { "kid_refetch_cooldown", 1, 1, set_kid_refetch_cooldown, NULL },
    { "trusted_certificate",  1, 1, set_trusted_certificate, NULL },
};


/* ngx_conf_parse() hands each line of the block here. */
char *
ngx_http_auth_m2m_issuer_line(ngx_conf_t *cf, ngx_command_t *dummy, void *conf)
{
    ngx_http_auth_m2m_issuer_ctx_t  *ctx =
        static_cast<ngx_http_auth_m2m_issuer_ctx_t *>(conf);

    char        *rv;
    ngx_str_t   *value;
    ngx_uint_t   i, nargs;

    value = static_cast<ngx_str_t *>(cf->args->elts);
    nargs = cf->args->nelts - 1;

    for (i = 0; i < sizeof(ngx_http_auth_m2m_issuer_directives)
                    / sizeof(ngx_http_auth_m2m_issuer_directives[0]); i++)
    {
        const ngx_http_auth_m2m_issuer_directive_t  &d =
            ngx_http_auth_m2m_issuer_directives[i];

        if (ngx_strcmp(value[0].data, d.name) != 0) {
            continue;
        }

        if (ctx->seen & (1u << i)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\" directive is duplicate in "
                               "auth_m2m_issuer \"%V\"",
                               &value[0], &ctx->issuer->name);
            return static_cast<char *>(NGX_CONF_ERROR);
        }

        if (nargs < d.min_args || (d.max_args && nargs > d.max_args)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid number of arguments in \"%V\" "
                               "directive of auth_m2m_issuer", &value[0]);
            return static_cast<char *>(NGX_CONF_ERROR);
        }

        ctx->seen |= 1u << i;

        try {
            if (d.set) {
                rv = d.set(cf, ctx->issuer, &value[1], nargs);

            } else {
                ctx->issuer->policy->*d.list = to_strings(&value[1], nargs);
                rv = NGX_CONF_OK;
            }

        } catch (const std::exception &e) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\": %s",
                               &value[0], e.what());
            return static_cast<char *>(NGX_CONF_ERROR);
        }

        if (rv != NGX_CONF_OK && rv != NGX_CONF_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "auth_m2m_issuer \"%V\": \"%V\" %s",
                               &ctx->issuer->name, &value[0], rv);
            return static_cast<char *>(NGX_CONF_ERROR);
        }

        return rv;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "unknown directive \"%V\" in auth_m2m_issuer",
                       &value[0]);
    return static_cast<char *>(NGX_CONF_ERROR);
}


ngx_int_t
ngx_http_auth_m2m_finish_issuer(ngx_conf_t *cf,
    ngx_http_auth_m2m_issuer_t *issuer)
{
    if (issuer->policy->issuer.empty()) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "auth_m2m_issuer \"%V\" has no \"issuer\"",
                           &issuer->name);
        return NGX_ERROR;
    }

    if (issuer->source == NGX_HTTP_AUTH_M2M_SOURCE_NONE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "auth_m2m_issuer \"%V\" has no key source: "
                           "set one of \"jwks_file\", \"jwks_uri\" or "
                           "\"discovery\"", &issuer->name);
        return NGX_ERROR;
    }

    if (issuer->trusted_certificate.len
        && (issuer->source == NGX_HTTP_AUTH_M2M_SOURCE_FILE
            || (issuer->source == NGX_HTTP_AUTH_M2M_SOURCE_URI
                && !issuer->target.https)))
    {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "auth_m2m_issuer \"%V\": \"trusted_certificate\" "
                           "is ignored without an https key source",
                           &issuer->name);
    }

    if ((issuer->source == NGX_HTTP_AUTH_M2M_SOURCE_URI
         || issuer->source == NGX_HTTP_AUTH_M2M_SOURCE_DISCOVERY)
        && !issuer->target.https)
    {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "auth_m2m_issuer \"%V\": keys come over plain "
                           "http from \"%V\": anyone on the network path "
                           "can supply keys; use https",
                           &issuer->name, &issuer->target.display);
    }

    if (issuer->policy->audiences.empty()) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "auth_m2m_issuer \"%V\" has no \"audience\": "
                           "tokens minted for any API of this issuer "
                           "will be accepted", &issuer->name);
    }

    return NGX_OK;
}

#if (NGX_SSL)

ngx_int_t
ngx_http_auth_m2m_create_ssl(ngx_conf_t *cf, ngx_http_auth_m2m_issuer_t *issuer)
{
    ngx_pool_cleanup_t  *cln;

    issuer->ssl = static_cast<ngx_ssl_t *>(ngx_pcalloc(cf->pool,
                                                       sizeof(ngx_ssl_t)));
    if (issuer->ssl == NULL) {
        return NGX_ERROR;
    }

    issuer->ssl->log = cf->log;

    if (ngx_ssl_create(issuer->ssl, NGX_SSL_TLSv1_2|NGX_SSL_TLSv1_3, NULL)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ngx_ssl_cleanup_ctx(issuer->ssl);
        return NGX_ERROR;
    }

    cln->handler = ngx_ssl_cleanup_ctx;
    cln->data = issuer->ssl;

    if (issuer->trusted_certificate.len == 0) {
        if (SSL_CTX_set_default_verify_paths(issuer->ssl->ctx) != 1) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "auth_m2m_issuer \"%V\": cannot load the system "
                          "CA bundle", &issuer->name);
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    return ngx_ssl_trusted_certificate(cf, issuer->ssl,
                                       &issuer->trusted_certificate, 10);
}

#endif


/*
 * Runs once the whole http block is parsed: only then is it known whether a
 * "resolver" is configured. Without one, host names are resolved now, as
 * proxy_pass does.
 */
ngx_int_t
ngx_http_auth_m2m_prepare_remote(ngx_conf_t *cf,
    ngx_http_auth_m2m_issuer_t *issuer)
{
    ngx_http_core_loc_conf_t  *clcf;

    if (issuer->source != NGX_HTTP_AUTH_M2M_SOURCE_URI
        && issuer->source != NGX_HTTP_AUTH_M2M_SOURCE_DISCOVERY)
    {
        return NGX_OK;
    }

    clcf = static_cast<ngx_http_core_loc_conf_t *>(
               ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module));

    if (clcf->resolver && clcf->resolver->connections.nelts) {
        issuer->resolver = clcf->resolver;
        issuer->resolver_timeout = clcf->resolver_timeout
                                   == NGX_CONF_UNSET_MSEC
                                   ? 30000 : clcf->resolver_timeout;

    } else {
        ngx_str_t  url = issuer->target.url;

        if (ngx_http_auth_m2m_parse_target(cf->pool, cf->log, NGX_LOG_EMERG,
                                           &url, &issuer->target, 1)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "auth_m2m_issuer \"%V\": cannot resolve the key "
                          "server in %s:%ui", &issuer->name, issuer->url_file,
                          issuer->url_line);
            return NGX_ERROR;
        }
    }

    /* a discovery document on an internal http:// address may name an
     * https:// jwks_uri, so discovery always gets a TLS context */
    if (!issuer->target.https
        && issuer->source != NGX_HTTP_AUTH_M2M_SOURCE_DISCOVERY)
    {
        return NGX_OK;
    }

#if (NGX_SSL)
    return ngx_http_auth_m2m_create_ssl(cf, issuer);
#else
    return issuer->target.https ? NGX_ERROR : NGX_OK;
#endif
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

    issuer->name = *name;
    issuer->refresh = 600;
    issuer->fetch_timeout = 5000;
    issuer->jwks_max_size = 1024 * 1024;
    issuer->kid_refetch_cooldown = 30;
    issuer->ref_file = cf->conf_file->file.name.data;
    issuer->ref_line = cf->conf_file->line;

    issuer->policy = ngx_http_auth_m2m_pool_new<m2m::IssuerPolicy>(cf->pool);
    if (issuer->policy == NULL) {
        return NULL;
    }

    issuer->policy->name = ngx_http_auth_m2m_string(name->data, name->len);

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
    char                            *rv;
    ngx_str_t                       *value;
    ngx_conf_t                       save;
    ngx_http_auth_m2m_issuer_ctx_t   ctx;

    value = static_cast<ngx_str_t *>(cf->args->elts);

    try {
        ctx.issuer = ngx_http_auth_m2m_issuer_ref(cf, &value[1]);

    } catch (const std::exception &e) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "auth_m2m_issuer: %s",
                           e.what());
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    if (ctx.issuer == NULL) {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    if (ctx.issuer->defined) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate auth_m2m_issuer \"%V\"", &value[1]);
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    ctx.issuer->defined = 1;
    ctx.seen = 0;

    save = *cf;
    cf->handler = ngx_http_auth_m2m_issuer_line;
    cf->handler_conf = reinterpret_cast<char *>(&ctx);

    rv = ngx_conf_parse(cf, NULL);

    *cf = save;

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    try {
        if (ngx_http_auth_m2m_finish_issuer(cf, ctx.issuer) != NGX_OK) {
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

        if (ngx_http_auth_m2m_prepare_remote(cf, issuers[i]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return ngx_http_auth_m2m_default_zone(cf, amcf);
}
