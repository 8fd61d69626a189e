/*
 * Blocks with directives of their own, such as auth_m2m_issuer { }: their
 * lines are parsed against inner ngx_command_t tables with nginx's slots,
 * as nginx-otel parses its otel_exporter block. nginx cannot look these
 * directives up itself: in the module's table, "issuer" or "refresh" would
 * be http-level directives.
 *
 * The module's own versions of two nginx slots: a list directive, and a
 * complex value that works the same on every nginx version.
 *
 * And auth_m2m_zone, which only declares the zone: what is in it and who
 * may touch it is ngx_http_auth_m2m_zone.cpp's.
 */

#include "ngx_http_auth_m2m.h"


namespace {

typedef struct {
    ngx_command_t               **tables;       /* NULL-terminated */
    void                         *conf;
} ngx_http_auth_m2m_block_t;


ngx_command_t *
ngx_http_auth_m2m_find_command(ngx_command_t **tables, ngx_str_t *name)
{
    ngx_command_t  *cmd;

    for ( /* void */ ; *tables; tables++) {
        for (cmd = *tables; cmd->name.len; cmd++) {
            if (cmd->name.len == name->len
                && ngx_strncmp(cmd->name.data, name->data, name->len) == 0)
            {
                return cmd;
            }
        }
    }

    return NULL;
}


/* What ngx_conf_handler() does for a module's table, with its messages. */
char *
ngx_http_auth_m2m_block_line(ngx_conf_t *cf, ngx_command_t *dummy, void *data)
{
    ngx_http_auth_m2m_block_t  *block =
        reinterpret_cast<ngx_http_auth_m2m_block_t *>(data);

    char           *rv;
    ngx_str_t      *name;
    ngx_uint_t      nargs;
    ngx_command_t  *cmd;

    name = static_cast<ngx_str_t *>(cf->args->elts);
    nargs = cf->args->nelts - 1;

    cmd = ngx_http_auth_m2m_find_command(block->tables, name);

    if (cmd == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "unknown directive \"%V\"",
                           name);
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    /* NGX_CONF_TAKEn is bit n, as in ngx_conf_file.c's argument_number[] */
    if ((cmd->type & NGX_CONF_1MORE)
        ? nargs == 0
        : nargs >= NGX_CONF_MAX_ARGS || !(cmd->type & (1u << nargs)))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid number of arguments in \"%V\" directive",
                           name);
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    try {
        rv = cmd->set(cf, cmd, block->conf);

    } catch (const std::exception &e) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\": %s", name, e.what());
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    if (rv != NGX_CONF_OK && rv != NGX_CONF_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" directive %s",
                           name, rv);
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    return rv;
}


ngx_int_t
ngx_http_auth_m2m_add_zone(ngx_conf_t *cf, ngx_http_auth_m2m_main_conf_t *amcf,
    ngx_str_t *name, size_t size)
{
    amcf->shm_zone = ngx_shared_memory_add(cf, name, size,
                                           &ngx_http_auth_m2m_module);
    if (amcf->shm_zone == NULL) {
        return NGX_ERROR;
    }

    if (amcf->shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "auth_m2m zone \"%V\" is already used", name);
        return NGX_ERROR;
    }

    amcf->shm_zone->init = ngx_http_auth_m2m_init_zone;
    amcf->shm_zone->data = amcf;

    return NGX_OK;
}

} /* namespace */


char *
ngx_http_auth_m2m_conf_block(ngx_conf_t *cf, ngx_command_t **tables,
    void *conf)
{
    char                       *rv;
    ngx_conf_t                  save;
    ngx_http_auth_m2m_block_t   block;

    block.tables = tables;
    block.conf = conf;

    save = *cf;
    cf->handler = ngx_http_auth_m2m_block_line;
    cf->handler_conf = reinterpret_cast<char *>(&block);

    rv = ngx_conf_parse(cf, NULL);

    *cf = save;

    return rv;
}


/* nginx's slots keep one argument; a list directive keeps all of its own */
char *
ngx_http_auth_m2m_conf_set_list_slot(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = static_cast<char *>(conf);

    ngx_str_t         *value, *elts;
    ngx_uint_t         n;
    ngx_array_t      **list;
    ngx_conf_post_t   *post;

    list = reinterpret_cast<ngx_array_t **>(p + cmd->offset);

    if (*list != NGX_CONF_UNSET_PTR) {
        return const_cast<char *>("is duplicate");
    }

    value = static_cast<ngx_str_t *>(cf->args->elts);
    n = cf->args->nelts - 1;

    /* cf->args is reused for the next line; the strings themselves stay */
    *list = ngx_array_create(cf->pool, n, sizeof(ngx_str_t));
    if (*list == NULL) {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    elts = static_cast<ngx_str_t *>(ngx_array_push_n(*list, n));
    if (elts == NULL) {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    ngx_memcpy(elts, &value[1], n * sizeof(ngx_str_t));

    if (cmd->post) {
        post = static_cast<ngx_conf_post_t *>(cmd->post);
        return post->post_handler(cf, post, list);
    }

    return NGX_CONF_OK;
}


/* Unset complex values are NGX_CONF_UNSET_PTR, merged with
 * ngx_conf_merge_ptr_value. Before 1.21.0, nginx's slot took any non-NULL
 * value for a duplicate: there the first directive starts from NULL. */
char *
ngx_http_auth_m2m_conf_set_complex_value_slot(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
#if (nginx_version < 1021000)
    auto **cv = reinterpret_cast<ngx_http_complex_value_t **>(
                    static_cast<char *>(conf) + cmd->offset);

    if (*cv == NGX_CONF_UNSET_PTR) {
        *cv = NULL;
    }
#endif

    return ngx_http_set_complex_value_slot(cf, cmd, conf);
}


char *
ngx_http_auth_m2m_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_auth_m2m_main_conf_t  *amcf =
        static_cast<ngx_http_auth_m2m_main_conf_t *>(conf);

    u_char     *p;
    ssize_t     size;
    ngx_str_t  *value, name, s;

    if (amcf->shm_zone) {
        return const_cast<char *>("is duplicate");
    }

    value = static_cast<ngx_str_t *>(cf->args->elts);

    p = static_cast<u_char *>(ngx_strlchr(value[1].data,
                                          value[1].data + value[1].len, ':'));
    if (p == NULL || p == value[1].data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone \"%V\", expected NAME:SIZE",
                           &value[1]);
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    name.data = value[1].data;
    name.len = p - value[1].data;

    s.data = p + 1;
    s.len = value[1].data + value[1].len - s.data;

    size = ngx_parse_size(&s);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\"", &value[1]);
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    if (size < static_cast<ssize_t>(8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is too small", &value[1]);
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    if (ngx_http_auth_m2m_add_zone(cf, amcf, &name, size) != NGX_OK) {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_auth_m2m_default_zone(ngx_conf_t *cf,
    ngx_http_auth_m2m_main_conf_t *amcf)
{
    static ngx_str_t  name = ngx_string("auth_m2m");

    if (amcf->shm_zone || amcf->issuers.nelts == 0) {
        return NGX_OK;
    }

    return ngx_http_auth_m2m_add_zone(cf, amcf, &name, 1024 * 1024);
}
