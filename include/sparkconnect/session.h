/* Sessions with a Spark Connect server.
 *
 * A session is one gRPC channel plus a Spark session id. It is thread-safe:
 * several threads may run queries and ML fits on one session at once (each
 * call has its own completion queue); the server runs them as parallel jobs. */
#ifndef SPARKCONNECT_SESSION_H
#define SPARKCONNECT_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "sparkconnect/error.h"

typedef struct sc_session_s sc_session_t;

typedef struct {
    long rpc_timeout_ms;      /* deadline of short calls (config, analyze); default 60 s */
    long execute_timeout_ms;  /* deadline of query execution; default 0 = none */
    size_t max_message_bytes; /* largest gRPC message accepted; default 128 MiB */
    size_t max_result_bytes;  /* largest collected result; default 1 GiB */
} sc_session_options_t;

/* Fills opts with the defaults above. */
void sc_session_options_init(sc_session_options_t *opts);

/* Progress of a running query, from the server's ExecutionProgress messages. */
typedef struct {
    int64_t stages; /* stages seen so far */
    int64_t stages_done;
    int64_t tasks; /* tasks in those stages */
    int64_t tasks_done;
    int64_t inflight_tasks;
    int64_t input_bytes_read;
} sc_progress_t;

/* Called on the thread that runs the query, for every progress message. */
typedef void (*sc_progress_fn)(const sc_progress_t *progress, void *opaque);

/* Connects to `url`, a Spark Connect connection string
 * "sc://host[:port][/;token=T;user_id=U;use_ssl=true;session_id=UUID]"
 * (port defaults to 15002), with a new session id unless one is given.
 * opts may be NULL for the defaults. The connection is lazy: an unreachable
 * server shows up as SC_ERR_TRANSPORT on the first call (see sc_session_ping). */
sc_code_t sc_session_new(const char *url, const sc_session_options_t *opts, sc_session_t **out,
                         sc_error_t *err);

/* Stops the keep-alive thread, releases the server-side session (best effort,
 * which also stops its streaming queries) and frees s. Accepts NULL. */
void sc_session_destroy(sc_session_t *s);

/* Frees s without releasing the server-side session, so that its streaming
 * queries keep running after this process exits. Accepts NULL. */
void sc_session_detach(sc_session_t *s);

/* The client-side session id (a UUID), borrowed for the session's lifetime. */
const char *sc_session_id(const sc_session_t *s);

/* Asks the server for its Spark version; the cheapest real round trip.
 * *version is malloc'd; free it. */
sc_code_t sc_session_version(sc_session_t *s, char **version, sc_error_t *err);

/* Same as sc_session_version but discards the answer. */
sc_code_t sc_session_ping(sc_session_t *s, sc_error_t *err);

/* After SC_ERR_SESSION_LOST (the server restarted and forgot us), starts a
 * fresh server-side session under a new id. Server-side state (temp views,
 * cached models) is gone; callers recreate what they need. */
sc_code_t sc_session_reset(sc_session_t *s, sc_error_t *err);

/* Sets a runtime SQL configuration value. */
sc_code_t sc_session_conf_set(sc_session_t *s, const char *key, const char *value, sc_error_t *err);

/* Gets a configuration value; *value is malloc'd (free it), NULL if unset. */
sc_code_t sc_session_conf_get(sc_session_t *s, const char *key, char **value, sc_error_t *err);

/* Interrupts every running operation of the session. */
sc_code_t sc_session_interrupt_all(sc_session_t *s, sc_error_t *err);

/* Sends a cheap request every interval_ms from a background thread, so that a
 * server with an idle-session timeout keeps this session (and its streaming
 * queries) alive. 0 stops it. */
sc_code_t sc_session_keepalive(sc_session_t *s, long interval_ms, sc_error_t *err);

/* Installs a progress callback for queries run from now on (NULL removes it). */
void sc_session_set_progress(sc_session_t *s, sc_progress_fn fn, void *opaque);

#endif
