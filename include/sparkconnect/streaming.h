/* Structured Streaming over Spark Connect: start a query from a streaming
 * DataFrame, watch it, stop it.
 *
 * A query runs inside the server-side session that started it. It keeps
 * running while that session lives: use sc_session_detach (not destroy) to
 * leave it running after the client exits, and a server configured so idle
 * sessions do not expire (or sc_session_keepalive). */
#ifndef SPARKCONNECT_STREAMING_H
#define SPARKCONNECT_STREAMING_H

#include <stdbool.h>
#include <stddef.h>

#include "sparkconnect/dataframe.h"

typedef struct sc_query_s sc_query_t;

typedef enum {
    SC_TRIGGER_DEFAULT = 0,         /* micro-batches back to back */
    SC_TRIGGER_PROCESSING_TIME = 1, /* a micro-batch every interval */
    SC_TRIGGER_AVAILABLE_NOW = 2,   /* process what is there, in batches, then stop */
    SC_TRIGGER_ONCE = 3,            /* one batch, then stop */
    SC_TRIGGER_REAL_TIME = 4,       /* Spark 4.1+: long-running batches of `interval`,
                                     * records processed as they arrive; stateless
                                     * queries, "update" output mode */
} sc_trigger_kind_t;

typedef struct {
    const char *format;      /* sink: "kafka", "parquet", "console", "memory", ... */
    const char *output_mode; /* "append" (default), "update", "complete" */
    const char *query_name;  /* optional; unique among active queries */
    const char *checkpoint;  /* checkpointLocation; required by most sinks */
    const char *path;        /* file sinks' path, or NULL */
    sc_trigger_kind_t trigger;
    const char *interval; /* PROCESSING_TIME: e.g. "500 milliseconds"; REAL_TIME: the batch
                           * (checkpoint) duration, e.g. "5 seconds" */
    const char *const *option_keys;
    const char *const *option_values;
    size_t noptions;
} sc_stream_opts_t;

/* Starts a streaming query writing df (a streaming DataFrame) to a sink.
 * *out is the caller's (sc_query_destroy). */
sc_code_t sc_stream_start(const sc_df_t *df, const sc_stream_opts_t *opts, sc_query_t **out,
                          sc_error_t *err);

/* Ids and name, borrowed for the query handle's lifetime ("" when unnamed). */
const char *sc_query_id(const sc_query_t *q);
const char *sc_query_run_id(const sc_query_t *q);
const char *sc_query_name(const sc_query_t *q);

typedef struct {
    bool active;
    bool data_available;
    bool trigger_active;
    char message[256];
} sc_query_status_t;

sc_code_t sc_query_status(sc_query_t *q, sc_query_status_t *st, sc_error_t *err);

/* The last progress report as Spark's JSON; *json is malloc'd, NULL if none yet. */
sc_code_t sc_query_last_progress(sc_query_t *q, char **json, sc_error_t *err);

/* Every retained progress report as JSON lines; *json is malloc'd. */
sc_code_t sc_query_recent_progress(sc_query_t *q, char **json, sc_error_t *err);

/* Blocks until all data available now has been processed (tests use this). */
sc_code_t sc_query_process_all_available(sc_query_t *q, sc_error_t *err);

/* Waits up to timeout_ms (<= 0: forever) for the query to end. */
sc_code_t sc_query_await(sc_query_t *q, long timeout_ms, bool *terminated, sc_error_t *err);

/* The exception that ended the query: *message malloc'd, NULL if none;
 * error_class may be NULL when not wanted. */
sc_code_t sc_query_exception(sc_query_t *q, char **message, char **error_class, sc_error_t *err);

/* Stops the query; waits for the current batch to finish. */
sc_code_t sc_query_stop(sc_query_t *q, sc_error_t *err);

/* Frees the handle; the query itself keeps running. Accepts NULL. */
void sc_query_destroy(sc_query_t *q);

/* Finds an active query of this session by id (or NULL out when none). */
sc_code_t sc_query_get(sc_session_t *s, const char *id, sc_query_t **out, sc_error_t *err);

/* Lists active queries of the session: *out is an array of *n handles; free
 * each with sc_query_destroy and the array with free(). */
sc_code_t sc_query_list_active(sc_session_t *s, sc_query_t ***out, size_t *n, sc_error_t *err);

#endif
