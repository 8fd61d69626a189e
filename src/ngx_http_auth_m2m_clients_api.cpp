/*
 * auth_m2m_clients_api: the local issuer's client registry over HTTP,
 * shaped as OAuth 2.0 Dynamic Client Registration (RFC 7591) and its
 * management protocol (RFC 7592), so that existing tooling fits:
 *
 *     POST   LOCATION          register: the client and its secret, once
 *     GET    LOCATION          every client (an extension), never a secret
 *     GET    LOCATION/ID       one client
 *     PUT    LOCATION/ID       replace its metadata (RFC 7592 §2.2)
 *     DELETE LOCATION/ID       remove it
 *
 * The location guards itself with this same module (auth_m2m NAME;
 * auth_m2m_scope clients:admin;): this handler runs only after the access
 * phase let the request through. Every request reads the file itself, not
 * the worker's copy (which may be a second old), and every write goes
 * through registry_file.h's protocol, so writes from several workers and
 * from m2m-clients are serialised and reach the file whole.
 */

#include "ngx_http_auth_m2m_local.h"

#include "core/issuer/client_metadata.h"
#include "core/issuer/registry_file.h"


namespace {

/* A registration request is JSON metadata; its claims may be larger than a
 * token request, but not much. */
constexpr size_t  kMaxRegistrationBody = 16384;


/* What the request addresses: the collection (id empty) or one client. */
struct ngx_http_auth_m2m_clients_target_t {
    std::string  collection;   /* the location's URL, for registration_client_uri */
    std::string  id;
    bool         found;        /* the URI is the collection or one segment below */
};


/* A reply: status and body; always Cache-Control: no-store, for the body
 * may carry a secret (RFC 7591 §3.2.1). */
struct ngx_http_auth_m2m_clients_reply_t {
    ngx_uint_t   status = NGX_HTTP_INTERNAL_SERVER_ERROR;
    std::string  body;
    std::string  location;     /* 201's Location */
};


ngx_http_auth_m2m_clients_reply_t
ngx_http_auth_m2m_clients_error(ngx_uint_t status, std::string_view error,
    std::string_view description)
{
    return { status, m2m::render_registration_error(error, description), "" };
}


/* May throw. */
ngx_int_t
ngx_http_auth_m2m_clients_target(ngx_http_request_t *r,
    ngx_http_auth_m2m_loc_conf_t *alcf,
    ngx_http_auth_m2m_clients_target_t *target)
{
    ngx_int_t                  rc;
    std::string                base;
    std::string_view           uri, name, rest;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = static_cast<ngx_http_core_loc_conf_t *>(
               ngx_http_get_module_loc_conf(r, ngx_http_core_module));

    rc = ngx_http_auth_m2m_endpoint_base(r, alcf, &base);
    if (rc != NGX_OK) {
        return rc;
    }

    uri = ngx_http_auth_m2m_view(r->uri);
    name = ngx_http_auth_m2m_view(clcf->name);

    while (!name.empty() && name.back() == '/') {
        name.remove_suffix(1);
    }

    target->collection = base + std::string(name);
    target->found = false;

    /* a prefix location, checked at configuration */
    if (uri.substr(0, name.size()) != name) {
        return NGX_OK;
    }

    rest = uri.substr(name.size());

    if (!rest.empty() && rest.front() == '/') {
        rest.remove_prefix(1);
    }

    if (rest.find('/') != std::string_view::npos) {
        return NGX_OK;
    }

    target->id = std::string(rest);
    target->found = true;

    return NGX_OK;
}


std::string
ngx_http_auth_m2m_clients_path(ngx_http_auth_m2m_issuer_t *issuer)
{
    ngx_http_auth_m2m_local_t  *local = ngx_http_auth_m2m_local(issuer);

    return ngx_http_auth_m2m_string(local->clients.data, local->clients.len);
}


/* The answer to the request whose body (if any) is `body`. May throw;
 * m2m::RegistryFileError is the file's fault, not the request's. */
ngx_http_auth_m2m_clients_reply_t
ngx_http_auth_m2m_clients_answer(ngx_http_request_t *r,
    const ngx_http_auth_m2m_clients_target_t &target, std::string_view body)
{
    m2m::Client                        *client;
    m2m::Registry                       registry;
    std::string                         why, path;
    m2m::IssuedSecret                   secret;
    m2m::ClientMetadata                 metadata;
    ngx_http_auth_m2m_loc_conf_t       *alcf;
    ngx_http_auth_m2m_clients_reply_t   reply;

    alcf = static_cast<ngx_http_auth_m2m_loc_conf_t *>(
               ngx_http_get_module_loc_conf(r, ngx_http_auth_m2m_module));

    path = ngx_http_auth_m2m_clients_path(alcf->endpoint->issuer);

    const auto warn = [r](const std::string &warning) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "auth_m2m_clients_api: %s", warning.c_str());
    };

    const std::string  uri = target.collection + "/" + target.id;

    if (r->method & (NGX_HTTP_POST|NGX_HTTP_PUT)) {
        if (!m2m::parse_client_metadata(body, &metadata, &why)) {
            return ngx_http_auth_m2m_clients_error(NGX_HTTP_BAD_REQUEST,
                                                   "invalid_client_metadata",
                                                   why);
        }
    }

    if (target.id.empty()) {

        if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {
            registry = m2m::read_registry_file(path, true);
            return { NGX_HTTP_OK,
                     m2m::render_client_list(registry, target.collection),
                     "" };
        }

        /* POST: register */
        if (metadata.client_id || metadata.client_secret) {
            return ngx_http_auth_m2m_clients_error(NGX_HTTP_BAD_REQUEST,
                       "invalid_client_metadata",
                       "client_id and client_secret are issued, not chosen");
        }

        m2m::modify_registry_file(path, [&](m2m::Registry &registry) {
            m2m::Client  created = m2m::new_client(metadata.name,
                                                   metadata.scopes,
                                                   std::move(metadata.claims),
                                                   ngx_time(), &secret);

            created.enabled = metadata.enabled.value_or(true);
            created.certificate_bound =
                metadata.certificate_bound.value_or(false);

            std::string  at = target.collection + "/" + created.client_id;

            reply = { NGX_HTTP_CREATED,
                      m2m::render_client(created, &secret, at), at };

            registry.clients.push_back(std::move(created));
        }, false, warn);

        ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                      "auth_m2m_clients_api: client \"%s\" registered",
                      reply.location.substr(target.collection.size() + 1)
                          .c_str());

        return reply;
    }

    if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {
        registry = m2m::read_registry_file(path, true);

        client = registry.find(target.id);
        if (client == NULL) {
            return ngx_http_auth_m2m_clients_error(NGX_HTTP_NOT_FOUND,
                                                   "invalid_client_id",
                                                   "no such client");
        }

        return { NGX_HTTP_OK, m2m::render_client(*client, NULL, uri), "" };
    }

    if (r->method & NGX_HTTP_PUT
        && metadata.client_id && *metadata.client_id != target.id)
    {
        return ngx_http_auth_m2m_clients_error(NGX_HTTP_BAD_REQUEST,
                   "invalid_client_metadata",
                   "client_id does not name the client of this URL");
    }

    reply = ngx_http_auth_m2m_clients_error(NGX_HTTP_NOT_FOUND,
                                            "invalid_client_id",
                                            "no such client");

    /* the change throws out_of_range to leave the file as it was, with
     * reply saying why */
    try {
        m2m::modify_registry_file(path, [&](m2m::Registry &registry) {
            client = registry.find(target.id);
            if (client == NULL) {
                throw std::out_of_range("no such client");
            }

            if (r->method & NGX_HTTP_DELETE) {
                registry.clients.erase(registry.clients.begin()
                                       + (client - registry.clients.data()));
                reply = { NGX_HTTP_NO_CONTENT, "", "" };
                return;
            }

            /* RFC 7592 §2.2: a secret in the request must be the client's */
            if (metadata.client_secret
                && m2m::authenticate_client(registry, target.id,
                                            *metadata.client_secret, ngx_time())
                   == NULL)
            {
                reply = ngx_http_auth_m2m_clients_error(NGX_HTTP_BAD_REQUEST,
                            "invalid_client_metadata",
                            "client_secret is not this client's");
                throw std::out_of_range("wrong secret");
            }

            /* RFC 7592 §2.2: the request replaces the metadata; what it
             * leaves out takes its default */
            client->name = std::move(metadata.name);
            client->scopes = std::move(metadata.scopes);
            client->claims = std::move(metadata.claims);
            client->enabled = metadata.enabled.value_or(true);
            client->certificate_bound =
                metadata.certificate_bound.value_or(false);

            reply = { NGX_HTTP_OK, m2m::render_client(*client, NULL, uri), "" };
        }, false, warn);

    } catch (const std::out_of_range &) {
        return reply;
    }

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "auth_m2m_clients_api: client \"%s\" %s", target.id.c_str(),
                  (r->method & NGX_HTTP_DELETE) ? "deleted" : "updated");

    return reply;
}


ngx_int_t
ngx_http_auth_m2m_clients_reply(ngx_http_request_t *r,
    ngx_http_auth_m2m_clients_reply_t *reply)
{
    ngx_str_t  body, location;

    body.len = reply->body.size();
    body.data = static_cast<u_char *>(ngx_pnalloc(r->pool, body.len));
    if (body.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(body.data, reply->body.data(), body.len);

    if (!reply->location.empty()) {
        location.len = reply->location.size();
        location.data = static_cast<u_char *>(
                            ngx_pnalloc(r->pool, location.len));
        if (location.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(location.data, reply->location.data(), location.len);

        if (ngx_http_auth_m2m_endpoint_header(r, "Location", &location)
            == NULL)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_auth_m2m_send_private_json(r, reply->status, &body);
}


/* Everything after the body is read; no exception leaves. */
ngx_int_t
ngx_http_auth_m2m_clients_respond(ngx_http_request_t *r, ngx_str_t *body)
{
    ngx_http_auth_m2m_loc_conf_t        *alcf;
    ngx_http_auth_m2m_clients_reply_t    reply;
    ngx_http_auth_m2m_clients_target_t   target;

    alcf = static_cast<ngx_http_auth_m2m_loc_conf_t *>(
               ngx_http_get_module_loc_conf(r, ngx_http_auth_m2m_module));

    try {
        ngx_int_t  rc = ngx_http_auth_m2m_clients_target(r, alcf, &target);
        if (rc != NGX_OK) {
            return rc;
        }

        if (!target.found) {
            reply = ngx_http_auth_m2m_clients_error(NGX_HTTP_NOT_FOUND,
                        "invalid_request", "not a client's URL");

        } else if (body == NULL) {
            reply = ngx_http_auth_m2m_clients_error(
                        NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "invalid_request",
                        "the body is larger than 16384 bytes");

        } else {
            try {
                reply = ngx_http_auth_m2m_clients_answer(
                            r, target, ngx_http_auth_m2m_view(*body));

            } catch (const std::invalid_argument &e) {
                reply = ngx_http_auth_m2m_clients_error(NGX_HTTP_BAD_REQUEST,
                            "invalid_client_metadata", e.what());

            } catch (const std::length_error &e) {
                reply = ngx_http_auth_m2m_clients_error(NGX_HTTP_BAD_REQUEST,
                            "invalid_client_metadata", e.what());

            } catch (const m2m::RegistryBusy &e) {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              "auth_m2m_clients_api: %s", e.what());
                reply = ngx_http_auth_m2m_clients_error(
                            NGX_HTTP_SERVICE_UNAVAILABLE,
                            "temporarily_unavailable",
                            "the registry is being changed; try again");
            }
        }

        return ngx_http_auth_m2m_clients_reply(r, &reply);

    } catch (const std::exception &e) {
        /* the file's own errors name the file, never its content */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "auth_m2m_clients_api: %s", e.what());
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
}


void
ngx_http_auth_m2m_clients_body(ngx_http_request_t *r)
{
    ngx_int_t  rc;
    ngx_str_t  body;

    try {
        rc = ngx_http_auth_m2m_clients_respond(r,
                 ngx_http_auth_m2m_endpoint_body(r, kMaxRegistrationBody,
                                                 &body)
                 ? &body : NULL);

    } catch (const std::exception &e) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "auth_m2m_clients_api: %s", e.what());
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_finalize_request(r, rc);
}


ngx_int_t
ngx_http_auth_m2m_clients_handler(ngx_http_request_t *r)
{
    ngx_int_t   rc;
    ngx_str_t   empty = ngx_null_string;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_POST|NGX_HTTP_PUT
                       |NGX_HTTP_DELETE)))
    {
        return ngx_http_auth_m2m_endpoint_allow(r,
                                                "GET, POST, PUT, DELETE");
    }

    if (!(r->method & (NGX_HTTP_POST|NGX_HTTP_PUT))) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_auth_m2m_clients_respond(r, &empty);
    }

    if (r->headers_in.content_length_n > (off_t) kMaxRegistrationBody) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_auth_m2m_clients_respond(r, NULL);
    }

    rc = ngx_http_read_client_request_body(r, ngx_http_auth_m2m_clients_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}

} /* namespace */


char *
ngx_http_auth_m2m_clients_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t      *clcf;
    ngx_http_auth_m2m_loc_conf_t  *alcf;
    ngx_http_auth_m2m_endpoint_t  *endpoint;

    alcf = static_cast<ngx_http_auth_m2m_loc_conf_t *>(conf);

    clcf = static_cast<ngx_http_core_loc_conf_t *>(
               ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module));

    /* client URLs are the location's own followed by an id */
#if (NGX_PCRE)
    if (clcf->regex) {
        return const_cast<char *>("must be in a prefix location, "
                                  "not a regular expression one");
    }
#endif

    if (clcf->exact_match) {
        return const_cast<char *>("must be in a prefix location, not an "
                                  "exact one (\"location =\"): client URLs "
                                  "are the location's followed by an id");
    }

    endpoint = ngx_http_auth_m2m_add_endpoint(cf, alcf,
                                              ngx_http_auth_m2m_clients_handler);
    if (endpoint == NULL) {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    endpoint->clients_api = 1;

    return NGX_CONF_OK;
}
