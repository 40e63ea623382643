/* A tiny HTTP server on 127.0.0.1 (ephemeral port) for fault tests: each
 * request is handed to a test-supplied handler in the server's thread. */
#ifndef CARPRICE_TEST_FAKE_SERVER_H
#define CARPRICE_TEST_FAKE_SERVER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *method;
    const char *path; /* without the query string */
    const char *body; /* NUL-terminated */
    size_t body_len;
    void *conn; /* for fake_arg / fake_header */
} fake_req_t;

typedef struct {
    int status;
    const char *content_type;
    char *body; /* malloc'ed by the handler, freed by the server; may be NULL */
    size_t body_len;
    char location[1024];
    long delay_ms; /* sleep before answering */
} fake_resp_t;

typedef void (*fake_handler_t)(void *ud, const fake_req_t *req, fake_resp_t *resp);

typedef struct fake_server_s fake_server_t;

/* Starts a server; NULL on failure. */
fake_server_t *fake_start(fake_handler_t handler, void *ud);
void fake_stop(fake_server_t *s);
int fake_port(const fake_server_t *s);
/* "http://127.0.0.1:<port>" (static per server). */
const char *fake_url(const fake_server_t *s);

/* A query argument or request header of the current request, or NULL. */
const char *fake_arg(const fake_req_t *req, const char *key);
const char *fake_header(const fake_req_t *req, const char *name);

/* Sets a JSON (or any text) body. */
void fake_reply(fake_resp_t *resp, int status, const char *text);

/* A port on 127.0.0.1 where nothing listens (bound, then closed). */
int fake_closed_port(void);

#endif
