/* A minimal HTTP/1.x server for health and metrics endpoints: one thread,
 * poll(), 127.0.0.1 only, GET and HEAD, one request per connection
 * (Connection: close). Requests are bounded (8 KiB of request line and
 * headers, 5 s to send them); malformed ones get 400, other methods 405. */
#ifndef CARPRICE_SERVE_HTTPD_H
#define CARPRICE_SERVE_HTTPD_H

#include <stddef.h>

#include "carprice/buf.h"

#define CP_HTTPD_MAX_REQUEST 8192

typedef struct cp_httpd_s cp_httpd_t;

/* Answers one GET (HEAD is answered with the same status and headers): fills
 * body (capped) and *content_type (a static string; NULL for text/plain) and
 * returns the HTTP status. path has no query string. Called on the server
 * thread. */
typedef int (*cp_httpd_handler_fn)(const char *path, cp_buf_t *body, const char **content_type,
                                   void *opaque);

/* Binds 127.0.0.1:port (0: a free port) and starts the server thread.
 * Returns 0, or -1 with one line in errbuf. */
int cp_httpd_start(int port, cp_httpd_handler_fn fn, void *opaque, cp_httpd_t **out, char *errbuf,
                   size_t errlen);

/* The bound port. */
int cp_httpd_port(const cp_httpd_t *h);

/* Stops the thread, closes every connection, frees h. Accepts NULL. */
void cp_httpd_stop(cp_httpd_t *h);

/* Parses the head of a request in buf[0..len). Returns 1 when the head is
 * complete and well formed (method and path copied, path without its query
 * string), 0 when more bytes are needed, -1 when it is malformed. */
int cp_httpd_parse(const char *buf, size_t len, char *method, size_t method_len, char *path,
                   size_t path_len);

#endif
