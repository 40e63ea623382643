/* The HTTP layer of the carprice REST clients (MLflow, WebHDFS, and any other
 * JSON-over-HTTP service), built on libcurl.
 *
 * Every fallible call of the REST library returns a cp_rest_code_t (CP_REST_OK
 * = 0). A caller that wants the detail passes a cp_rest_error_t, which the
 * failing call fills with a message, the HTTP status, the service's own error
 * code (MLflow's error_code, or the class of Hadoop's RemoteException) and
 * message, and whether retrying may help. An error object is reused across
 * calls; each failing call overwrites it, successful calls leave it alone.
 *
 * Every response body is read into a bounded buffer (cp_buf_t) or streamed to
 * a file with a byte cap; no peer can make us allocate without bound.
 * Connection failures and 5xx answers are retried with exponential backoff
 * and jitter; nothing else is.
 *
 * Handles are not thread-safe: use one per thread (they are cheap). */
#ifndef CARPRICE_HTTP_H
#define CARPRICE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carprice/buf.h"

typedef enum {
    CP_REST_OK = 0,
    CP_REST_ERR_INVALID_ARG, /* the caller passed something unusable */
    CP_REST_ERR_NOMEM,       /* an allocation failed */
    CP_REST_ERR_CONNECT,     /* the server could not be reached (refused, DNS, reset) */
    CP_REST_ERR_TIMEOUT,     /* a connect or transfer deadline expired */
    CP_REST_ERR_TRANSPORT,   /* another transfer failure (TLS, broken connection) */
    CP_REST_ERR_SERVER,      /* the server answered 5xx (after all retries) */
    CP_REST_ERR_HTTP,        /* the server answered another unexpected status */
    CP_REST_ERR_AUTH,        /* 401/403: missing or refused credentials */
    CP_REST_ERR_NOT_FOUND,   /* the named resource does not exist */
    CP_REST_ERR_EXISTS,      /* the resource already exists */
    CP_REST_ERR_BAD_REQUEST, /* the server rejected a parameter (400) */
    CP_REST_ERR_PROTOCOL,    /* the response was malformed or not what the API promises */
    CP_REST_ERR_LIMIT,       /* a size limit was exceeded (response body, value length) */
    CP_REST_ERR_IO,          /* a local file could not be read or written */
    CP_REST_ERR_FAILED,      /* the server says the operation did not happen */
    CP_REST_ERR_UNSUPPORTED, /* a scheme or feature this library does not handle */
} cp_rest_code_t;

/* A static one-line description of a code, e.g. "resource not found". */
const char *cp_rest_strerror(cp_rest_code_t code);

/* A static name for a code, e.g. "CP_REST_ERR_NOT_FOUND". */
const char *cp_rest_code_name(cp_rest_code_t code);

typedef struct cp_rest_error_s cp_rest_error_t;

/* Allocates an empty error object; NULL when out of memory. */
cp_rest_error_t *cp_rest_error_new(void);

/* Frees an error object. Accepts NULL. */
void cp_rest_error_destroy(cp_rest_error_t *err);

/* Resets the error to CP_REST_OK. Accepts NULL. */
void cp_rest_error_clear(cp_rest_error_t *err);

/* Accessors. Strings are borrowed from err and valid until its next use; they
 * are "" (never NULL) when absent. */
cp_rest_code_t cp_rest_error_code(const cp_rest_error_t *err);
const char *cp_rest_error_message(const cp_rest_error_t *err);
long cp_rest_error_http_status(const cp_rest_error_t *err); /* 0 when no response arrived */
/* MLflow's error_code (e.g. "RESOURCE_DOES_NOT_EXIST") or the simple class name
 * of Hadoop's RemoteException (e.g. "FileNotFoundException"). */
const char *cp_rest_error_remote_code(const cp_rest_error_t *err);
const char *cp_rest_error_remote_message(const cp_rest_error_t *err);
bool cp_rest_error_retriable(const cp_rest_error_t *err); /* true when a later retry may work */

/* ---- transport options ---- */

typedef struct {
    long connect_timeout_ms;    /* per attempt; default 10000 */
    long timeout_ms;            /* per attempt: whole exchange for buffered bodies, longest
                                   stall for streamed files; default 120000 */
    int max_retries;            /* extra attempts after a connection error or 5xx; default 4 */
    long backoff_base_ms;       /* first retry waits about this long, doubling; default 250 */
    long backoff_max_ms;        /* cap of one wait; default 8000 */
    size_t max_body_bytes;      /* largest buffered response body; default 16 MiB */
    int64_t max_download_bytes; /* largest body streamed to a file; default 16 GiB */
    /* Credentials, copied and never logged. Basic auth when username is set,
     * else a bearer token when bearer_token is set. Sent only to the base
     * URL's host, never to a host we are redirected to. */
    const char *username;
    const char *password;
    const char *bearer_token;
    const char *ca_file;    /* PEM bundle for TLS, NULL for the system default */
    bool insecure_skip_tls; /* do not verify the server certificate (tests only) */
    const char *user_agent; /* NULL for "carprice/<version>" */
} cp_http_options_t;

/* Fills o with the defaults above. */
void cp_http_options_init(cp_http_options_t *o);

/* ---- a client bound to one base URL ---- */

typedef struct cp_http_s cp_http_t;

/* Creates a client for base_url ("http://host:port[/prefix]"). Credentials in
 * the URL's user-info part are moved into the options and removed from the
 * URL. opts may be NULL for the defaults; its strings are copied. */
cp_rest_code_t cp_http_new(const char *base_url, const cp_http_options_t *opts, cp_http_t **out,
                           cp_rest_error_t *err);

/* Frees the client and closes its connections. Accepts NULL. */
void cp_http_destroy(cp_http_t *h);

/* The base URL without credentials or trailing slash, borrowed from h. */
const char *cp_http_base_url(const cp_http_t *h);

/* The options in effect (strings borrowed from h). */
const cp_http_options_t *cp_http_options(const cp_http_t *h);

typedef struct {
    const char *method; /* "GET", "PUT", "POST", "DELETE", ...; NULL = "GET" */
    /* An absolute http(s) URL, or a path starting with '/' appended to the base
     * URL. The caller escapes it (cp_http_escape_path). */
    const char *url;
    const char *content_type; /* of the request body; NULL for none */
    const void *body;         /* request body in memory, or NULL */
    size_t body_len;
    const char *upload_path;   /* or: a local file streamed as the body */
    const char *download_path; /* on 2xx stream the body to this file: written under a
                                  temporary name beside it and renamed when complete */
    size_t max_body_bytes;     /* cap of a buffered body; 0: the client's max_body_bytes */
    bool no_retry;             /* never resend (the request is not idempotent) */
    bool no_auth;              /* do not send the credentials (e.g. to a redirect target) */
} cp_http_request_t;

typedef struct {
    long status;     /* HTTP status of the final attempt */
    cp_buf_t body;   /* the body (empty when streamed to download_path); always
                        NUL-terminated after cp_http_do returns */
    char *location;  /* the Location header, or NULL */
    int64_t bytes;   /* body bytes received */
    int attempts;    /* attempts made */
    double total_ms; /* time spent, including backoff waits */
} cp_http_response_t;

/* Sends one request, retrying connection errors and 5xx answers (unless
 * req->no_retry). Returns CP_REST_OK when a response arrived, whatever its
 * status: the caller judges resp->status and may call cp_http_status_error.
 * Fails with CP_REST_ERR_CONNECT/TIMEOUT/TRANSPORT when no response came,
 * CP_REST_ERR_LIMIT when the body exceeded its cap, CP_REST_ERR_IO for local
 * file trouble. resp is always initialised; free it with cp_http_response_free. */
cp_rest_code_t cp_http_do(cp_http_t *h, const cp_http_request_t *req, cp_http_response_t *resp,
                          cp_rest_error_t *err);

/* Frees the response's body and headers. Accepts a zeroed response. */
void cp_http_response_free(cp_http_response_t *resp);

/* Maps an HTTP status to a code (404 -> NOT_FOUND, 5xx -> SERVER, ...) and
 * fills err with "what: HTTP <status>" plus the start of the body. Returns the
 * code. Service clients refine this with their own error bodies. */
cp_rest_code_t cp_http_status_error(long status, const char *body, cp_rest_error_t *err,
                                    const char *what);

/* Percent-escapes a path for a URL: every byte except unreserved characters
 * and '/' is escaped. Returns a malloc'ed string, or NULL when out of memory. */
char *cp_http_escape_path(const char *path);

/* Percent-escapes a query-string value (escapes '/' too). malloc'ed or NULL. */
char *cp_http_escape_query(const char *value);

#endif
