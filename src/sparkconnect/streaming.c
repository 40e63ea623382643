#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "spark/connect/commands.pb-c.h"
#include "spark/connect/relations.pb-c.h"
#include "sparkconnect/streaming.h"

struct sc_query_s {
    sc_session_t *s;
    char *id;
    char *run_id;
    char *name;
};

static sc_query_t *query_new(sc_session_t *s, const char *id, const char *run_id, const char *name)
{
    sc_query_t *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->s = s;
    q->id = strdup(id ? id : "");
    q->run_id = strdup(run_id ? run_id : "");
    q->name = strdup(name ? name : "");
    if (!q->id || !q->run_id || !q->name) {
        sc_query_destroy(q);
        return NULL;
    }
    return q;
}

void sc_query_destroy(sc_query_t *q)
{
    if (!q)
        return;
    free(q->id);
    free(q->run_id);
    free(q->name);
    free(q);
}

const char *sc_query_id(const sc_query_t *q)
{
    return q->id;
}

const char *sc_query_run_id(const sc_query_t *q)
{
    return q->run_id;
}

const char *sc_query_name(const sc_query_t *q)
{
    return q->name;
}

sc_code_t sc_stream_start(const sc_df_t *df, const sc_stream_opts_t *opts, sc_query_t **out,
                          sc_error_t *err)
{
    *out = NULL;
    if (!opts || !opts->format)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "a streaming sink needs a format");
    if (opts->trigger == SC_TRIGGER_PROCESSING_TIME && !opts->interval)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "a processing-time trigger needs an interval");
    if (opts->trigger == SC_TRIGGER_REAL_TIME && !opts->interval)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "a real-time trigger needs a batch duration");
    size_t nopt = opts->noptions + (opts->checkpoint ? 1 : 0);
    Spark__Connect__WriteStreamOperationStart__OptionsEntry *ents = NULL, **eptrs = NULL;
    if (nopt) {
        ents = calloc(nopt, sizeof *ents);
        eptrs = calloc(nopt, sizeof *eptrs);
        if (!ents || !eptrs) {
            free(ents);
            free(eptrs);
            return sc_error_set(err, SC_ERR_NOMEM, "out of memory");
        }
    }
    for (size_t i = 0; i < nopt; i++) {
        spark__connect__write_stream_operation_start__options_entry__init(&ents[i]);
        if (i < opts->noptions) {
            ents[i].key = (char *)opts->option_keys[i];
            ents[i].value = (char *)opts->option_values[i];
        } else {
            ents[i].key = (char *)"checkpointLocation";
            ents[i].value = (char *)opts->checkpoint;
        }
        eptrs[i] = &ents[i];
    }
    Spark__Connect__Relation *in = sc_df_relation(df, err);
    if (!in) {
        free(ents);
        free(eptrs);
        return SC_ERR_NOMEM;
    }
    Spark__Connect__WriteStreamOperationStart w =
        SPARK__CONNECT__WRITE_STREAM_OPERATION_START__INIT;
    w.input = in;
    w.format = (char *)opts->format;
    w.n_options = nopt;
    w.options = eptrs;
    w.output_mode = (char *)(opts->output_mode ? opts->output_mode : "append");
    w.query_name = (char *)(opts->query_name ? opts->query_name : "");
    switch (opts->trigger) {
    case SC_TRIGGER_PROCESSING_TIME:
        w.trigger_case =
            SPARK__CONNECT__WRITE_STREAM_OPERATION_START__TRIGGER_PROCESSING_TIME_INTERVAL;
        w.processing_time_interval = (char *)opts->interval;
        break;
    case SC_TRIGGER_AVAILABLE_NOW:
        w.trigger_case = SPARK__CONNECT__WRITE_STREAM_OPERATION_START__TRIGGER_AVAILABLE_NOW;
        w.available_now = true;
        break;
    case SC_TRIGGER_ONCE:
        w.trigger_case = SPARK__CONNECT__WRITE_STREAM_OPERATION_START__TRIGGER_ONCE;
        w.once = true;
        break;
    case SC_TRIGGER_REAL_TIME:
        w.trigger_case =
            SPARK__CONNECT__WRITE_STREAM_OPERATION_START__TRIGGER_REAL_TIME_BATCH_DURATION;
        w.real_time_batch_duration = (char *)opts->interval;
        break;
    case SC_TRIGGER_DEFAULT:
        break;
    }
    if (opts->path) {
        w.sink_destination_case =
            SPARK__CONNECT__WRITE_STREAM_OPERATION_START__SINK_DESTINATION_PATH;
        w.path = (char *)opts->path;
    }
    Spark__Connect__Command cmd = SPARK__CONNECT__COMMAND__INIT;
    cmd.command_type_case = SPARK__CONNECT__COMMAND__COMMAND_TYPE_WRITE_STREAM_OPERATION_START;
    cmd.write_stream_operation_start = &w;
    sc_exec_out_t eo = {0};
    sc_code_t rc = sc_execute_command(df->s, &cmd, &eo, err);
    spark__connect__relation__free_unpacked(in, NULL);
    free(ents);
    free(eptrs);
    if (rc != SC_OK)
        goto done;
    if (eo.payload_case !=
        SPARK__CONNECT__EXECUTE_PLAN_RESPONSE__RESPONSE_TYPE_WRITE_STREAM_OPERATION_START_RESULT) {
        rc = sc_error_set(err, SC_ERR_PROTOCOL, "stream start returned no query id");
        goto done;
    }
    Spark__Connect__WriteStreamOperationStartResult *r =
        spark__connect__write_stream_operation_start_result__unpack(NULL, eo.payload_len,
                                                                    eo.payload);
    if (!r || !r->query_id) {
        if (r)
            spark__connect__write_stream_operation_start_result__free_unpacked(r, NULL);
        rc = sc_error_set(err, SC_ERR_PROTOCOL, "malformed stream start result");
        goto done;
    }
    *out = query_new(df->s, r->query_id->id, r->query_id->run_id, r->name);
    spark__connect__write_stream_operation_start_result__free_unpacked(r, NULL);
    if (!*out)
        rc = sc_error_set(err, SC_ERR_NOMEM, "out of memory");
done:
    sc_exec_out_free(&eo);
    return rc;
}

/* Sends one StreamingQueryCommand; *res must be freed by the caller. */
static sc_code_t query_command(sc_query_t *q, Spark__Connect__StreamingQueryCommand *c,
                               Spark__Connect__StreamingQueryCommandResult **res, sc_error_t *err)
{
    Spark__Connect__StreamingQueryInstanceId qid =
        SPARK__CONNECT__STREAMING_QUERY_INSTANCE_ID__INIT;
    qid.id = q->id;
    qid.run_id = q->run_id;
    c->query_id = &qid;
    Spark__Connect__Command cmd = SPARK__CONNECT__COMMAND__INIT;
    cmd.command_type_case = SPARK__CONNECT__COMMAND__COMMAND_TYPE_STREAMING_QUERY_COMMAND;
    cmd.streaming_query_command = c;
    sc_exec_out_t eo = {0};
    sc_code_t rc = sc_execute_command(q->s, &cmd, &eo, err);
    if (rc == SC_OK) {
        if (eo.payload_case !=
            SPARK__CONNECT__EXECUTE_PLAN_RESPONSE__RESPONSE_TYPE_STREAMING_QUERY_COMMAND_RESULT) {
            rc = sc_error_set(err, SC_ERR_PROTOCOL, "streaming query command: no result");
        } else {
            *res = spark__connect__streaming_query_command_result__unpack(NULL, eo.payload_len,
                                                                          eo.payload);
            if (!*res)
                rc = sc_error_set(err, SC_ERR_PROTOCOL, "malformed streaming query result");
        }
    }
    sc_exec_out_free(&eo);
    return rc;
}

#define QC_INIT    SPARK__CONNECT__STREAMING_QUERY_COMMAND__INIT
#define QC_FREE(r) spark__connect__streaming_query_command_result__free_unpacked((r), NULL)

sc_code_t sc_query_status(sc_query_t *q, sc_query_status_t *st, sc_error_t *err)
{
    Spark__Connect__StreamingQueryCommand c = QC_INIT;
    c.command_case = SPARK__CONNECT__STREAMING_QUERY_COMMAND__COMMAND_STATUS;
    c.status = true;
    Spark__Connect__StreamingQueryCommandResult *r = NULL;
    sc_code_t rc = query_command(q, &c, &r, err);
    if (rc != SC_OK)
        return rc;
    if (r->result_type_case != SPARK__CONNECT__STREAMING_QUERY_COMMAND_RESULT__RESULT_TYPE_STATUS) {
        QC_FREE(r);
        return sc_error_set(err, SC_ERR_PROTOCOL, "status: unexpected result");
    }
    st->active = r->status->is_active;
    st->data_available = r->status->is_data_available;
    st->trigger_active = r->status->is_trigger_active;
    snprintf(st->message, sizeof st->message, "%s",
             r->status->status_message ? r->status->status_message : "");
    QC_FREE(r);
    return SC_OK;
}

static sc_code_t progress(sc_query_t *q, bool last, char **json, sc_error_t *err)
{
    *json = NULL;
    Spark__Connect__StreamingQueryCommand c = QC_INIT;
    if (last) {
        c.command_case = SPARK__CONNECT__STREAMING_QUERY_COMMAND__COMMAND_LAST_PROGRESS;
        c.last_progress = true;
    } else {
        c.command_case = SPARK__CONNECT__STREAMING_QUERY_COMMAND__COMMAND_RECENT_PROGRESS;
        c.recent_progress = true;
    }
    Spark__Connect__StreamingQueryCommandResult *r = NULL;
    sc_code_t rc = query_command(q, &c, &r, err);
    if (rc != SC_OK)
        return rc;
    if (r->result_type_case !=
        SPARK__CONNECT__STREAMING_QUERY_COMMAND_RESULT__RESULT_TYPE_RECENT_PROGRESS) {
        QC_FREE(r);
        return sc_error_set(err, SC_ERR_PROTOCOL, "progress: unexpected result");
    }
    size_t n = r->recent_progress->n_recent_progress_json, total = 1;
    for (size_t i = 0; i < n; i++)
        total += strlen(r->recent_progress->recent_progress_json[i]) + 1;
    if (n > 0) {
        char *p = malloc(total);
        if (!p) {
            QC_FREE(r);
            return sc_error_set(err, SC_ERR_NOMEM, "out of memory");
        }
        size_t off = 0;
        for (size_t i = last ? n - 1 : 0; i < n; i++) {
            size_t len = strlen(r->recent_progress->recent_progress_json[i]);
            memcpy(p + off, r->recent_progress->recent_progress_json[i], len);
            off += len;
            if (!last)
                p[off++] = '\n';
        }
        p[off] = '\0';
        *json = p;
    }
    QC_FREE(r);
    return SC_OK;
}

sc_code_t sc_query_last_progress(sc_query_t *q, char **json, sc_error_t *err)
{
    return progress(q, true, json, err);
}

sc_code_t sc_query_recent_progress(sc_query_t *q, char **json, sc_error_t *err)
{
    return progress(q, false, json, err);
}

static sc_code_t simple_command(sc_query_t *q, int which, sc_error_t *err)
{
    Spark__Connect__StreamingQueryCommand c = QC_INIT;
    c.command_case = which;
    if (which == SPARK__CONNECT__STREAMING_QUERY_COMMAND__COMMAND_STOP)
        c.stop = true;
    else
        c.process_all_available = true;
    Spark__Connect__StreamingQueryCommandResult *r = NULL;
    sc_code_t rc = query_command(q, &c, &r, err);
    if (r)
        QC_FREE(r);
    return rc;
}

sc_code_t sc_query_stop(sc_query_t *q, sc_error_t *err)
{
    return simple_command(q, SPARK__CONNECT__STREAMING_QUERY_COMMAND__COMMAND_STOP, err);
}

sc_code_t sc_query_process_all_available(sc_query_t *q, sc_error_t *err)
{
    return simple_command(q, SPARK__CONNECT__STREAMING_QUERY_COMMAND__COMMAND_PROCESS_ALL_AVAILABLE,
                          err);
}

sc_code_t sc_query_await(sc_query_t *q, long timeout_ms, bool *terminated, sc_error_t *err)
{
    Spark__Connect__StreamingQueryCommand__AwaitTerminationCommand a =
        SPARK__CONNECT__STREAMING_QUERY_COMMAND__AWAIT_TERMINATION_COMMAND__INIT;
    if (timeout_ms > 0) {
        a._timeout_ms_case =
            SPARK__CONNECT__STREAMING_QUERY_COMMAND__AWAIT_TERMINATION_COMMAND___TIMEOUT_MS_TIMEOUT_MS;
        a.timeout_ms = timeout_ms;
    }
    Spark__Connect__StreamingQueryCommand c = QC_INIT;
    c.command_case = SPARK__CONNECT__STREAMING_QUERY_COMMAND__COMMAND_AWAIT_TERMINATION;
    c.await_termination = &a;
    Spark__Connect__StreamingQueryCommandResult *r = NULL;
    sc_code_t rc = query_command(q, &c, &r, err);
    if (rc != SC_OK)
        return rc;
    if (r->result_type_case ==
        SPARK__CONNECT__STREAMING_QUERY_COMMAND_RESULT__RESULT_TYPE_AWAIT_TERMINATION)
        *terminated = r->await_termination->terminated;
    else
        rc = sc_error_set(err, SC_ERR_PROTOCOL, "await: unexpected result");
    QC_FREE(r);
    return rc;
}

sc_code_t sc_query_exception(sc_query_t *q, char **message, char **error_class, sc_error_t *err)
{
    *message = NULL;
    if (error_class)
        *error_class = NULL;
    Spark__Connect__StreamingQueryCommand c = QC_INIT;
    c.command_case = SPARK__CONNECT__STREAMING_QUERY_COMMAND__COMMAND_EXCEPTION;
    c.exception = true;
    Spark__Connect__StreamingQueryCommandResult *r = NULL;
    sc_code_t rc = query_command(q, &c, &r, err);
    if (rc != SC_OK)
        return rc;
    if (r->result_type_case ==
        SPARK__CONNECT__STREAMING_QUERY_COMMAND_RESULT__RESULT_TYPE_EXCEPTION) {
        Spark__Connect__StreamingQueryCommandResult__ExceptionResult *e = r->exception;
        if (e->_exception_message_case)
            *message = strdup(e->exception_message);
        if (error_class && e->_error_class_case)
            *error_class = strdup(e->error_class);
    }
    QC_FREE(r);
    return SC_OK;
}

/* ---- the session's query manager ---- */

static sc_code_t manager_command(sc_session_t *s, Spark__Connect__StreamingQueryManagerCommand *m,
                                 Spark__Connect__StreamingQueryManagerCommandResult **res,
                                 sc_error_t *err)
{
    Spark__Connect__Command cmd = SPARK__CONNECT__COMMAND__INIT;
    cmd.command_type_case = SPARK__CONNECT__COMMAND__COMMAND_TYPE_STREAMING_QUERY_MANAGER_COMMAND;
    cmd.streaming_query_manager_command = m;
    sc_exec_out_t eo = {0};
    sc_code_t rc = sc_execute_command(s, &cmd, &eo, err);
    if (rc == SC_OK) {
        if (eo.payload_case !=
            SPARK__CONNECT__EXECUTE_PLAN_RESPONSE__RESPONSE_TYPE_STREAMING_QUERY_MANAGER_COMMAND_RESULT) {
            rc = sc_error_set(err, SC_ERR_PROTOCOL, "query manager: no result");
        } else {
            *res = spark__connect__streaming_query_manager_command_result__unpack(
                NULL, eo.payload_len, eo.payload);
            if (!*res)
                rc = sc_error_set(err, SC_ERR_PROTOCOL, "malformed query manager result");
        }
    }
    sc_exec_out_free(&eo);
    return rc;
}

sc_code_t sc_query_list_active(sc_session_t *s, sc_query_t ***out, size_t *n, sc_error_t *err)
{
    *out = NULL;
    *n = 0;
    Spark__Connect__StreamingQueryManagerCommand m =
        SPARK__CONNECT__STREAMING_QUERY_MANAGER_COMMAND__INIT;
    m.command_case = SPARK__CONNECT__STREAMING_QUERY_MANAGER_COMMAND__COMMAND_ACTIVE;
    m.active = true;
    Spark__Connect__StreamingQueryManagerCommandResult *r = NULL;
    sc_code_t rc = manager_command(s, &m, &r, err);
    if (rc != SC_OK)
        return rc;
    if (r->result_type_case !=
        SPARK__CONNECT__STREAMING_QUERY_MANAGER_COMMAND_RESULT__RESULT_TYPE_ACTIVE) {
        spark__connect__streaming_query_manager_command_result__free_unpacked(r, NULL);
        return sc_error_set(err, SC_ERR_PROTOCOL, "active queries: unexpected result");
    }
    size_t cnt = r->active->n_active_queries;
    sc_query_t **arr = calloc(cnt ? cnt : 1, sizeof *arr);
    if (!arr)
        rc = sc_error_set(err, SC_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == SC_OK && i < cnt; i++) {
        Spark__Connect__StreamingQueryManagerCommandResult__StreamingQueryInstance *qi =
            r->active->active_queries[i];
        arr[i] = query_new(s, qi->id ? qi->id->id : "", qi->id ? qi->id->run_id : "",
                           qi->_name_case ? qi->name : "");
        if (!arr[i])
            rc = sc_error_set(err, SC_ERR_NOMEM, "out of memory");
    }
    spark__connect__streaming_query_manager_command_result__free_unpacked(r, NULL);
    if (rc != SC_OK) {
        for (size_t i = 0; arr && i < cnt; i++)
            sc_query_destroy(arr[i]);
        free(arr);
        return rc;
    }
    *out = arr;
    *n = cnt;
    return SC_OK;
}

sc_code_t sc_query_get(sc_session_t *s, const char *id, sc_query_t **out, sc_error_t *err)
{
    *out = NULL;
    sc_query_t **all = NULL;
    size_t n = 0;
    sc_code_t rc = sc_query_list_active(s, &all, &n, err);
    if (rc != SC_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (!*out && strcmp(all[i]->id, id) == 0)
            *out = all[i];
        else
            sc_query_destroy(all[i]);
    }
    free(all);
    return *out ? SC_OK : sc_error_set(err, SC_ERR_NOT_FOUND, "no active query with id %s", id);
}
