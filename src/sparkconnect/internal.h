/* Private: session and plan internals shared by the library's sources. */
#ifndef SPARKCONNECT_INTERNAL_H
#define SPARKCONNECT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "rpc.h"
#include "sparkconnect/dataframe.h"
#include "sparkconnect/session.h"
#include "spark/connect/base.pb-c.h"

#define SC_SERVICE "/spark.connect.SparkConnectService/"

struct sc_session_s {
    sc_conninfo_t ci;
    sc_channel_t *ch;
    sc_session_options_t opts;
    pthread_mutex_t lock; /* guards the ids and the progress callback */
    char session_id[40];
    char server_side_id[64];
    atomic_llong next_plan_id;
    sc_progress_fn progress;
    void *progress_opaque;
    pthread_t keepalive_thread;
    bool keepalive_running;
    pthread_mutex_t ka_lock;
    pthread_cond_t ka_cond;
    long ka_interval_ms;
    bool ka_stop;
};

/* A DataFrame is its session plus the packed bytes of its Relation message:
 * immutable, cheap to copy, and composed by unpacking the child into the new
 * parent message before packing that. */
struct sc_df_s {
    sc_session_t *s;
    uint8_t *rel;
    size_t len;
};

/* What one ExecutePlan produced besides Arrow batches: the last result
 * message of another kind, kept packed for the caller to unpack as its type. */
typedef struct {
    sc_result_t *result; /* if non-NULL, Arrow batches are appended here */
    int payload_case;    /* Spark__Connect__ExecutePlanResponse__ResponseTypeCase */
    uint8_t *payload;    /* packed sub-message (malloc'd) */
    size_t payload_len;
} sc_exec_out_t;

void sc_exec_out_free(sc_exec_out_t *o);

/* Fills the user context and session id every request carries, and copies
 * the server-side session id last seen into observed_buf; returns whether
 * there is one to echo (so the server can tell us it restarted). */
bool sc_req_fill(sc_session_t *s, Spark__Connect__UserContext *uc, char **session_id,
                 char observed_buf[64]);

/* Fills a request struct `req` whose optional observed-id field's case
 * constant is CASE. */
#define SC_REQ_FILL(s, req, uc, buf, CASE)                                                         \
    do {                                                                                           \
        if (sc_req_fill((s), &(uc), &(req).session_id, (buf))) {                                   \
            (req)._client_observed_server_side_session_id_case = (CASE);                           \
            (req).client_observed_server_side_session_id = (buf);                                  \
        }                                                                                          \
        (req).user_context = &(uc);                                                                \
    } while (0)

/* Executes a plan (a relation or a command) and gathers its responses. */
sc_code_t sc_execute(sc_session_t *s, Spark__Connect__Plan *plan, sc_exec_out_t *out,
                     sc_error_t *err);

/* Executes a command plan whose result the caller does not need. */
sc_code_t sc_execute_command(sc_session_t *s, Spark__Connect__Command *cmd, sc_exec_out_t *out,
                             sc_error_t *err);

/* Sends one AnalyzePlan request; *resp must be freed with
 * spark__connect__analyze_plan_response__free_unpacked. */
sc_code_t sc_analyze(sc_session_t *s, Spark__Connect__AnalyzePlanRequest *req,
                     Spark__Connect__AnalyzePlanResponse **resp, sc_error_t *err);

/* Makes a DataFrame from a relation: assigns a fresh plan id and packs it. */
sc_code_t sc_df_from_relation(sc_session_t *s, Spark__Connect__Relation *rel, sc_df_t **out,
                              sc_error_t *err);

/* Unpacks a DataFrame's relation; free with spark__connect__relation__free_unpacked. */
Spark__Connect__Relation *sc_df_relation(const sc_df_t *df, sc_error_t *err);

#endif
