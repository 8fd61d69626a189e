/*
 * The key sources there are, and the rule that an issuer has exactly one.
 * What a source is and how to add one: ngx_http_auth_m2m_source.h.
 */

#include "ngx_http_auth_m2m_source.h"
#include "ngx_http_auth_m2m_local.h"


namespace {

ngx_http_auth_m2m_source_t  *ngx_http_auth_m2m_sources[] = {
    &ngx_http_auth_m2m_source_file,
    &ngx_http_auth_m2m_source_jwks_uri,
    &ngx_http_auth_m2m_source_discovery,
    &ngx_http_auth_m2m_source_local,
    NULL
};


/* The directives that choose a source, for messages: "a, b and c", or
 * quoted, "\"a\", \"b\" or \"c\"". May throw. */
std::string
ngx_http_auth_m2m_source_names(const char *quote, const char *last)
{
    std::string                   list;
    ngx_str_t                    *name;
    ngx_http_auth_m2m_source_t  **source;

    for (source = ngx_http_auth_m2m_sources; *source; source++) {
        if (source != ngx_http_auth_m2m_sources) {
            list += source[1] ? ", " : last;
        }

        name = &(*source)->commands[0].name;
        list.append(quote)
            .append(reinterpret_cast<char *>(name->data), name->len)
            .append(quote);
    }

    return list;
}

} /* namespace */


/* The issuer block's directive tables: its own, then each source's. */
ngx_command_t **
ngx_http_auth_m2m_source_commands(ngx_command_t *own)
{
    static ngx_command_t  *tables[sizeof(ngx_http_auth_m2m_sources)
                                  / sizeof(ngx_http_auth_m2m_sources[0]) + 1];

    ngx_uint_t  i;

    tables[0] = own;

    for (i = 0; ngx_http_auth_m2m_sources[i]; i++) {
        tables[i + 1] = ngx_http_auth_m2m_sources[i]->commands;
    }

    tables[i + 1] = NULL;

    return tables;
}


/* A source's first directive: a second source is refused, not silently
 * ignored. May throw. */
char *
ngx_http_auth_m2m_set_source(ngx_conf_t *cf,
    ngx_http_auth_m2m_issuer_t *issuer, ngx_http_auth_m2m_source_t *source)
{
    ngx_str_t  *value = static_cast<ngx_str_t *>(cf->args->elts);

    if (issuer->source == source) {
        return const_cast<char *>("is duplicate");
    }

    if (issuer->source) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "auth_m2m_issuer \"%V\": \"%V\" conflicts with "
                           "another key source: use exactly one of %s",
                           &issuer->name, &value[0],
                           ngx_http_auth_m2m_source_names("", " and ")
                           .c_str());
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    issuer->source = source;

    return NGX_CONF_OK;
}


/* The issuer block ends, its policy built. May throw. */
ngx_int_t
ngx_http_auth_m2m_finish_source(ngx_conf_t *cf,
    ngx_http_auth_m2m_issuer_t *issuer)
{
    if (issuer->source == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "auth_m2m_issuer \"%V\" has no key source: "
                           "set one of %s", &issuer->name,
                           ngx_http_auth_m2m_source_names("\"", " or ")
                           .c_str());
        return NGX_ERROR;
    }

    if (issuer->source->finish == NULL) {
        return NGX_OK;
    }

    return issuer->source->finish(cf, issuer);
}


/* For the finish of a source that makes no TLS connection. */
void
ngx_http_auth_m2m_tls_unused(ngx_conf_t *cf, ngx_http_auth_m2m_issuer_t *issuer)
{
    if (issuer->trusted_certificate.len) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "auth_m2m_issuer \"%V\": \"trusted_certificate\" "
                           "is ignored without an https key source",
                           &issuer->name);
    }
}


/* A file a source reads whole at configuration (jwks_file, signing_key);
 * errors name the issuer, the directive and the file, never its content.
 * max: its largest size in bytes, 0 for any. May throw. */
ngx_int_t
ngx_http_auth_m2m_read_conf_file(ngx_conf_t *cf,
    ngx_http_auth_m2m_issuer_t *issuer, const char *directive, ngx_str_t *path,
    size_t max, std::string *out)
{
    ssize_t          n;
    ngx_fd_t         fd;
    ngx_file_info_t  fi;

    fd = ngx_open_file(path->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "auth_m2m_issuer \"%V\": \"%s\" "
                           ngx_open_file_n " \"%V\" failed",
                           &issuer->name, directive, path);
        return NGX_ERROR;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "auth_m2m_issuer \"%V\": \"%s\" "
                           ngx_fd_info_n " \"%V\" failed",
                           &issuer->name, directive, path);
        ngx_close_file(fd);
        return NGX_ERROR;
    }

    if (max && ngx_file_size(&fi) > static_cast<off_t>(max)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "auth_m2m_issuer \"%V\": \"%s\" \"%V\" is "
                           "larger than %uz KiB",
                           &issuer->name, directive, path, max / 1024);
        ngx_close_file(fd);
        return NGX_ERROR;
    }

    out->resize(ngx_file_size(&fi));

    n = out->empty() ? 0 : ngx_read_fd(fd, &(*out)[0], out->size());

    ngx_close_file(fd);

    if (n != static_cast<ssize_t>(out->size())) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "auth_m2m_issuer \"%V\": \"%s\" "
                           ngx_read_fd_n " \"%V\" failed",
                           &issuer->name, directive, path);
        return NGX_ERROR;
    }

    return NGX_OK;
}
