/*
 * The local issuer's client registry as this worker sees it. It is read
 * while the configuration is parsed, so "nginx -t" reports a corrupt or
 * unreadable file (a missing one is no clients yet: a fresh install has
 * none until m2m-clients makes one), and then looked at again when a request
 * needs it, at most once a second: a stat, and a read only if the file is
 * another one than last time. Writers replace the file by rename
 * (registry.h), so a read sees a whole file, old or new.
 *
 * A file that is corrupt or cannot be read keeps the last good registry and
 * logs one error per change of the file; a file that is gone means no
 * clients, as at start. Never every client refused or every client let in
 * because of a bad write.
 *
 * The state lives in the cycle's pool: each worker has its own copy from
 * the fork, and a reload reads the file afresh for the new cycle.
 */

#include "ngx_http_auth_m2m_local.h"


/* What tells one version of the file from another: a rename gives a new
 * inode, an edit in place a new size or mtime, and ctime moves with both
 * and cannot be set back. */
typedef struct {
    ngx_file_uniq_t               uniq;
    off_t                         size;
    time_t                        mtime;
    time_t                        ctime;
} ngx_http_auth_m2m_registry_stamp_t;


struct ngx_http_auth_m2m_registry_s {
    m2m::Registry                 registry;    /* the last good one */
    ngx_str_t                    *path;
    time_t                        checked;     /* the last look */

    ngx_http_auth_m2m_registry_stamp_t  read;  /* the file of the last read,
                                                  good or bad */
    time_t                        read_at;
    bool                          have_read;
    bool                          missing;     /* at the last look */

    /* what was last logged as wrong, so that each error is logged once:
     * a failed read of that file, or a stat() that failed with that errno */
    ngx_http_auth_m2m_registry_stamp_t  failed;
    bool                          have_failed;
    ngx_err_t                     stat_err;
};


namespace {

void
ngx_http_auth_m2m_registry_stamp(ngx_file_info_t *fi,
    ngx_http_auth_m2m_registry_stamp_t *stamp)
{
    stamp->uniq = ngx_file_uniq(fi);
    stamp->size = ngx_file_size(fi);
    stamp->mtime = ngx_file_mtime(fi);
    stamp->ctime = fi->st_ctime;
}


bool
ngx_http_auth_m2m_registry_same(ngx_http_auth_m2m_registry_stamp_t *a,
    ngx_http_auth_m2m_registry_stamp_t *b)
{
    return a->uniq == b->uniq && a->size == b->size && a->mtime == b->mtime
           && a->ctime == b->ctime;
}


/* Why a read failed: a system call (with errno) or a reason of its own. */
typedef struct {
    const char                   *call;
    ngx_err_t                     err;
    const char                   *reason;
} ngx_http_auth_m2m_registry_failure_t;


/* The file's text and its stamp. NGX_DECLINED: there is no file. May
 * throw (the text). */
ngx_int_t
ngx_http_auth_m2m_registry_read(ngx_str_t *path, std::string *text,
    ngx_http_auth_m2m_registry_stamp_t *stamp,
    ngx_http_auth_m2m_registry_failure_t *failure)
{
    size_t           got;
    ssize_t          n;
    ngx_fd_t         fd;
    ngx_file_info_t  fi;

    ngx_memzero(failure, sizeof(ngx_http_auth_m2m_registry_failure_t));

    /* non-blocking: a FIFO put in the file's place must not hang the
     * worker in open(); it is refused below as not a regular file */
    fd = ngx_open_file(path->data, NGX_FILE_RDONLY|NGX_FILE_NONBLOCK,
                       NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        failure->err = ngx_errno;

        if (failure->err == NGX_ENOENT) {
            return NGX_DECLINED;
        }

        failure->call = ngx_open_file_n;
        return NGX_ERROR;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        failure->err = ngx_errno;
        failure->call = ngx_fd_info_n;
        ngx_close_file(fd);
        return NGX_ERROR;
    }

    ngx_http_auth_m2m_registry_stamp(&fi, stamp);

    if (!ngx_is_file(&fi)) {
        failure->reason = "is not a regular file";
        ngx_close_file(fd);
        return NGX_ERROR;
    }

    if (ngx_file_size(&fi) > static_cast<off_t>(m2m::kMaxRegistrySize)) {
        failure->reason = "is larger than 4 MiB";
        ngx_close_file(fd);
        return NGX_ERROR;
    }

    try {
        text->resize(ngx_file_size(&fi));

    } catch (...) {
        ngx_close_file(fd);
        throw;
    }

    for (got = 0; got < text->size(); got += n) {
        n = ngx_read_fd(fd, &(*text)[got], text->size() - got);

        if (n == -1) {
            failure->err = ngx_errno;
            failure->call = ngx_read_fd_n;
            ngx_close_file(fd);
            return NGX_ERROR;
        }

        if (n == 0) {
            /* written in place while we read: the next look reads it
             * whole (its mtime or size moved) */
            failure->reason = "was cut short while it was read";
            ngx_close_file(fd);
            return NGX_ERROR;
        }
    }

    ngx_close_file(fd);

    return NGX_OK;
}


/* The file is another one, or was changed in the second it was last read
 * (or in the second before: the kernel stamps files with a coarse clock),
 * so that a change within that second would leave the stamp as it was. */
bool
ngx_http_auth_m2m_registry_changed(ngx_http_auth_m2m_registry_t *reg,
    ngx_http_auth_m2m_registry_stamp_t *stamp)
{
    if (!reg->have_read || !ngx_http_auth_m2m_registry_same(stamp, &reg->read))
    {
        return true;
    }

    return ngx_max(stamp->mtime, stamp->ctime) + 1 >= reg->read_at;
}


/* Logs a failure to read or parse the file at use, once per version of the
 * file. */
void
ngx_http_auth_m2m_registry_failed(ngx_http_auth_m2m_issuer_t *issuer,
    ngx_http_auth_m2m_registry_t *reg, ngx_log_t *log,
    ngx_http_auth_m2m_registry_stamp_t *stamp,
    ngx_http_auth_m2m_registry_failure_t *failure, const char *parse_error)
{
    size_t  n = reg->registry.clients.size();

    if (reg->have_failed && ngx_http_auth_m2m_registry_same(stamp, &reg->failed))
    {
        return;
    }

    reg->failed = *stamp;
    reg->have_failed = true;

    if (parse_error) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "auth_m2m_issuer \"%V\": \"clients\" \"%V\" is not a "
                      "client registry: %s; keeping the last good one "
                      "(%uz clients)",
                      &issuer->name, reg->path, parse_error, n);

    } else if (failure->call) {
        ngx_log_error(NGX_LOG_ERR, log, failure->err,
                      "auth_m2m_issuer \"%V\": \"clients\" %s \"%V\" failed; "
                      "keeping the last good client registry (%uz clients)",
                      &issuer->name, failure->call, reg->path, n);

    } else {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "auth_m2m_issuer \"%V\": \"clients\" \"%V\" %s; "
                      "keeping the last good client registry (%uz clients)",
                      &issuer->name, reg->path, failure->reason, n);
    }
}


/* A look at the file at use. May throw (reading it). */
void
ngx_http_auth_m2m_registry_look(ngx_http_auth_m2m_issuer_t *issuer,
    ngx_http_auth_m2m_registry_t *reg, ngx_log_t *log)
{
    ngx_int_t                             rc;
    ngx_err_t                             err;
    std::string                           text, error;
    m2m::Registry                         fresh;
    ngx_file_info_t                       fi;
    ngx_http_auth_m2m_registry_stamp_t    stamp;
    ngx_http_auth_m2m_registry_failure_t  failure;

    if (ngx_file_info(reg->path->data, &fi) == NGX_FILE_ERROR) {
        err = ngx_errno;

        if (err == NGX_ENOENT) {
            goto missing;
        }

        /* a directory on the way became unreadable, say */
        if (err != reg->stat_err) {
            reg->stat_err = err;
            ngx_log_error(NGX_LOG_ERR, log, err,
                          "auth_m2m_issuer \"%V\": \"clients\" "
                          ngx_file_info_n " \"%V\" failed; keeping the last "
                          "good client registry (%uz clients)",
                          &issuer->name, reg->path,
                          reg->registry.clients.size());
        }

        return;
    }

    reg->stat_err = 0;

    ngx_http_auth_m2m_registry_stamp(&fi, &stamp);

    if (!reg->missing && !ngx_http_auth_m2m_registry_changed(reg, &stamp)) {
        return;
    }

    rc = ngx_http_auth_m2m_registry_read(reg->path, &text, &stamp, &failure);

    if (rc == NGX_DECLINED) {
        goto missing;
    }

    reg->missing = false;
    reg->read_at = ngx_time();

    if (rc == NGX_OK && m2m::parse_registry(text, &fresh, &error)) {
        if (!reg->have_read || reg->have_failed
            || !ngx_http_auth_m2m_registry_same(&stamp, &reg->read))
        {
            ngx_log_error(NGX_LOG_NOTICE, log, 0,
                          "auth_m2m_issuer \"%V\": client registry \"%V\" "
                          "read: %uz clients",
                          &issuer->name, reg->path, fresh.clients.size());
        }

        reg->registry = std::move(fresh);
        reg->have_failed = false;

    } else {
        ngx_http_auth_m2m_registry_failed(issuer, reg, log, &stamp, &failure,
                                          rc == NGX_OK ? error.c_str() : NULL);
    }

    reg->read = stamp;
    reg->have_read = true;

    return;

missing:

    if (!reg->missing) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "auth_m2m_issuer \"%V\": client registry \"%V\" is "
                      "gone: no clients until it is back",
                      &issuer->name, reg->path);
    }

    reg->missing = true;
    reg->have_read = false;
    reg->have_failed = false;
    reg->registry.clients.clear();
}

} /* namespace */


ngx_int_t
ngx_http_auth_m2m_registry_init(ngx_conf_t *cf,
    ngx_http_auth_m2m_issuer_t *issuer)
{
    ngx_int_t                             rc;
    std::string                           error;
    ngx_http_auth_m2m_local_t            *local;
    ngx_http_auth_m2m_registry_t         *reg;
    ngx_http_auth_m2m_registry_failure_t  failure;

    local = ngx_http_auth_m2m_local(issuer);

    reg = ngx_http_auth_m2m_pool_new<ngx_http_auth_m2m_registry_t>(cf->pool);
    if (reg == NULL) {
        return NGX_ERROR;
    }

    reg->path = &local->clients;
    reg->checked = ngx_time();
    reg->read_at = ngx_time();

    try {
        std::string  text;

        rc = ngx_http_auth_m2m_registry_read(reg->path, &text, &reg->read,
                                             &failure);

        if (rc == NGX_DECLINED) {
            ngx_conf_log_error(NGX_LOG_NOTICE, cf, 0,
                               "auth_m2m_issuer \"%V\": client registry "
                               "\"%V\" does not exist: no clients until "
                               "m2m-clients creates one",
                               &issuer->name, reg->path);
            reg->missing = true;
            local->registry = reg;
            return NGX_OK;
        }

        if (rc != NGX_OK) {
            if (failure.call) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, failure.err,
                                   "auth_m2m_issuer \"%V\": \"clients\" %s "
                                   "\"%V\" failed",
                                   &issuer->name, failure.call, reg->path);

            } else {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "auth_m2m_issuer \"%V\": \"clients\" "
                                   "\"%V\" %s",
                                   &issuer->name, reg->path, failure.reason);
            }

            return NGX_ERROR;
        }

        if (!m2m::parse_registry(text, &reg->registry, &error)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "auth_m2m_issuer \"%V\": \"clients\" \"%V\" "
                               "is not a client registry: %s",
                               &issuer->name, reg->path, error.c_str());
            return NGX_ERROR;
        }

    } catch (const std::exception &e) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "auth_m2m_issuer \"%V\": \"clients\" \"%V\": %s",
                           &issuer->name, reg->path, e.what());
        return NGX_ERROR;
    }

    reg->have_read = true;
    local->registry = reg;

    return NGX_OK;
}


const m2m::Registry *
ngx_http_auth_m2m_registry(ngx_http_auth_m2m_issuer_t *issuer, ngx_log_t *log)
{
    time_t                         now;
    ngx_http_auth_m2m_local_t     *local;
    ngx_http_auth_m2m_registry_t  *reg;

    local = ngx_http_auth_m2m_local(issuer);

    if (local == NULL || local->registry == NULL) {
        return NULL;
    }

    reg = local->registry;
    now = ngx_time();

    if (now != reg->checked) {
        reg->checked = now;

        try {
            ngx_http_auth_m2m_registry_look(issuer, reg, log);

        } catch (const std::exception &e) {
            /* out of memory: the last good one serves, the next look
             * tries again */
            reg->have_read = false;
            ngx_log_error(NGX_LOG_ALERT, log, 0,
                          "auth_m2m_issuer \"%V\": client registry \"%V\": "
                          "%s", &issuer->name, reg->path, e.what());
        }
    }

    return &reg->registry;
}
