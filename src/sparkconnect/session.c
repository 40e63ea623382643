#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uuid/uuid.h>

#include "arrow_internal.h"
#include "internal.h"

#define CLIENT_TYPE "carprice-sparkconnect-c/0.1"

void sc_session_options_init(sc_session_options_t *o)
{
    o->rpc_timeout_ms = 60000;
    o->execute_timeout_ms = 0;
    o->max_message_bytes = 128u << 20;
    o->max_result_bytes = 1024u << 20;
}

static void new_session_id(char out[40])
{
    uuid_t u;
    uuid_generate_random(u);
    uuid_unparse_lower(u, out);
}

sc_code_t sc_session_new(const char *url, const sc_session_options_t *opts, sc_session_t **out,
                         sc_error_t *err)
{
    *out = NULL;
    sc_session_t *s = calloc(1, sizeof *s);
    if (!s)
        return sc_error_set(err, SC_ERR_NOMEM, "out of memory");
    if (opts)
        s->opts = *opts;
    else
        sc_session_options_init(&s->opts);
    sc_code_t rc = sc_conninfo_parse(url, &s->ci, err);
    if (rc != SC_OK) {
        free(s);
        return rc;
    }
    if (s->ci.session_id) {
        uuid_t u;
        if (uuid_parse(s->ci.session_id, u) != 0) {
            sc_conninfo_free(&s->ci);
            free(s);
            return sc_error_set(err, SC_ERR_INVALID_ARG, "session_id must be a UUID");
        }
        snprintf(s->session_id, sizeof s->session_id, "%s", s->ci.session_id);
    } else {
        new_session_id(s->session_id);
    }
    rc = sc_channel_open(&s->ci, s->opts.max_message_bytes, &s->ch, err);
    if (rc != SC_OK) {
        sc_conninfo_free(&s->ci);
        free(s);
        return rc;
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->ka_lock, NULL);
    pthread_cond_init(&s->ka_cond, NULL);
    atomic_init(&s->next_plan_id, 1);
    *out = s;
    return SC_OK;
}

const char *sc_session_id(const sc_session_t *s)
{
    return s->session_id;
}

bool sc_req_fill(sc_session_t *s, Spark__Connect__UserContext *uc, char **session_id,
                 char observed_buf[64])
{
    uc->user_id = s->ci.user_id;
    uc->user_name = s->ci.user_id;
    *session_id = s->session_id;
    pthread_mutex_lock(&s->lock);
    snprintf(observed_buf, 64, "%s", s->server_side_id);
    pthread_mutex_unlock(&s->lock);
    return observed_buf[0] != '\0';
}

static void note_server_side_id(sc_session_t *s, const char *id)
{
    if (!id || !*id)
        return;
    pthread_mutex_lock(&s->lock);
    if (strcmp(s->server_side_id, id) != 0)
        snprintf(s->server_side_id, sizeof s->server_side_id, "%s", id);
    pthread_mutex_unlock(&s->lock);
}

/* ---- ExecutePlan ---- */

void sc_exec_out_free(sc_exec_out_t *o)
{
    free(o->payload);
    o->payload = NULL;
    o->payload_len = 0;
    o->payload_case = 0;
}

typedef struct {
    sc_session_t *s;
    sc_exec_out_t *out;
    sc_progress_fn progress;
    void *progress_opaque;
    sc_progress_t prog;
} exec_ctx_t;

static sc_code_t keep_payload(sc_exec_out_t *out, int which, const ProtobufCMessage *m,
                              sc_error_t *err)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *p = malloc(n ? n : 1);
    if (!p)
        return sc_error_set(err, SC_ERR_NOMEM, "out of memory");
    protobuf_c_message_pack(m, p);
    free(out->payload);
    out->payload = p;
    out->payload_len = n;
    out->payload_case = which;
    return SC_OK;
}

static sc_code_t on_execute_response(const uint8_t *data, size_t len, void *opaque, sc_error_t *err)
{
    exec_ctx_t *ctx = opaque;
    Spark__Connect__ExecutePlanResponse *r =
        spark__connect__execute_plan_response__unpack(NULL, len, data);
    if (!r)
        return sc_error_set(err, SC_ERR_PROTOCOL, "malformed ExecutePlanResponse (%zu bytes)", len);
    note_server_side_id(ctx->s, r->server_side_session_id);
    sc_code_t rc = SC_OK;
    switch (r->response_type_case) {
    case SPARK__CONNECT__EXECUTE_PLAN_RESPONSE__RESPONSE_TYPE_ARROW_BATCH:
        if (ctx->out && ctx->out->result && r->arrow_batch->data.len > 0)
            rc = sc_result_append_ipc(ctx->out->result, r->arrow_batch->data.data,
                                      r->arrow_batch->data.len, err);
        break;
    case SPARK__CONNECT__EXECUTE_PLAN_RESPONSE__RESPONSE_TYPE_EXECUTION_PROGRESS: {
        Spark__Connect__ExecutePlanResponse__ExecutionProgress *p = r->execution_progress;
        if (ctx->progress) {
            sc_progress_t pr = {0};
            pr.stages = (int64_t)p->n_stages;
            for (size_t i = 0; i < p->n_stages; i++) {
                pr.tasks += p->stages[i]->num_tasks;
                pr.tasks_done += p->stages[i]->num_completed_tasks;
                pr.input_bytes_read += p->stages[i]->input_bytes_read;
                pr.stages_done += p->stages[i]->done ? 1 : 0;
            }
            pr.inflight_tasks = p->num_inflight_tasks;
            ctx->progress(&pr, ctx->progress_opaque);
        }
        break;
    }
    case SPARK__CONNECT__EXECUTE_PLAN_RESPONSE__RESPONSE_TYPE_RESULT_COMPLETE:
    case SPARK__CONNECT__EXECUTE_PLAN_RESPONSE__RESPONSE_TYPE__NOT_SET:
        break;
    case SPARK__CONNECT__EXECUTE_PLAN_RESPONSE__RESPONSE_TYPE_SQL_COMMAND_RESULT:
        if (ctx->out)
            rc = keep_payload(ctx->out, (int)r->response_type_case, &r->sql_command_result->base,
                              err);
        break;
    case SPARK__CONNECT__EXECUTE_PLAN_RESPONSE__RESPONSE_TYPE_WRITE_STREAM_OPERATION_START_RESULT:
        if (ctx->out)
            rc = keep_payload(ctx->out, (int)r->response_type_case,
                              &r->write_stream_operation_start_result->base, err);
        break;
    case SPARK__CONNECT__EXECUTE_PLAN_RESPONSE__RESPONSE_TYPE_STREAMING_QUERY_COMMAND_RESULT:
        if (ctx->out)
            rc = keep_payload(ctx->out, (int)r->response_type_case,
                              &r->streaming_query_command_result->base, err);
        break;
    case SPARK__CONNECT__EXECUTE_PLAN_RESPONSE__RESPONSE_TYPE_STREAMING_QUERY_MANAGER_COMMAND_RESULT:
        if (ctx->out)
            rc = keep_payload(ctx->out, (int)r->response_type_case,
                              &r->streaming_query_manager_command_result->base, err);
        break;
    case SPARK__CONNECT__EXECUTE_PLAN_RESPONSE__RESPONSE_TYPE_ML_COMMAND_RESULT:
        if (ctx->out)
            rc = keep_payload(ctx->out, (int)r->response_type_case, &r->ml_command_result->base,
                              err);
        break;
    default:
        break; /* metrics, observed metrics, schema, extensions: not needed */
    }
    spark__connect__execute_plan_response__free_unpacked(r, NULL);
    return rc;
}

sc_code_t sc_execute(sc_session_t *s, Spark__Connect__Plan *plan, sc_exec_out_t *out,
                     sc_error_t *err)
{
    Spark__Connect__ExecutePlanRequest req = SPARK__CONNECT__EXECUTE_PLAN_REQUEST__INIT;
    Spark__Connect__UserContext uc = SPARK__CONNECT__USER_CONTEXT__INIT;
    char observed[64];
    SC_REQ_FILL(
        s, req, uc, observed,
        SPARK__CONNECT__EXECUTE_PLAN_REQUEST___CLIENT_OBSERVED_SERVER_SIDE_SESSION_ID_CLIENT_OBSERVED_SERVER_SIDE_SESSION_ID);
    req.plan = plan;
    req._client_type_case = SPARK__CONNECT__EXECUTE_PLAN_REQUEST___CLIENT_TYPE_CLIENT_TYPE;
    req.client_type = (char *)CLIENT_TYPE;

    exec_ctx_t ctx = {.s = s, .out = out};
    pthread_mutex_lock(&s->lock);
    ctx.progress = s->progress;
    ctx.progress_opaque = s->progress_opaque;
    pthread_mutex_unlock(&s->lock);
    if (out && out->result)
        sc_result_set_limit(out->result, s->opts.max_result_bytes);
    return sc_rpc_call(s->ch, SC_SERVICE "ExecutePlan", &req.base, s->opts.execute_timeout_ms,
                       on_execute_response, &ctx, err);
}

sc_code_t sc_execute_command(sc_session_t *s, Spark__Connect__Command *cmd, sc_exec_out_t *out,
                             sc_error_t *err)
{
    Spark__Connect__Plan plan = SPARK__CONNECT__PLAN__INIT;
    plan.op_type_case = SPARK__CONNECT__PLAN__OP_TYPE_COMMAND;
    plan.command = cmd;
    return sc_execute(s, &plan, out, err);
}

/* ---- unary calls ---- */

typedef struct {
    const ProtobufCMessageDescriptor *desc;
    ProtobufCMessage *msg;
} unary_ctx_t;

static sc_code_t on_unary(const uint8_t *data, size_t len, void *opaque, sc_error_t *err)
{
    unary_ctx_t *u = opaque;
    if (u->msg)
        protobuf_c_message_free_unpacked(u->msg, NULL);
    u->msg = protobuf_c_message_unpack(u->desc, NULL, len, data);
    if (!u->msg)
        return sc_error_set(err, SC_ERR_PROTOCOL, "malformed %s (%zu bytes)", u->desc->name, len);
    return SC_OK;
}

static sc_code_t unary(sc_session_t *s, const char *method, const ProtobufCMessage *req,
                       const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
                       sc_error_t *err)
{
    unary_ctx_t u = {.desc = resp_desc};
    sc_code_t rc = sc_rpc_call(s->ch, method, req, s->opts.rpc_timeout_ms, on_unary, &u, err);
    if (rc == SC_OK && !u.msg)
        rc = sc_error_set(err, SC_ERR_PROTOCOL, "%s: the server sent no response", method);
    if (rc != SC_OK) {
        if (u.msg)
            protobuf_c_message_free_unpacked(u.msg, NULL);
        return rc;
    }
    *resp = u.msg;
    return SC_OK;
}

sc_code_t sc_analyze(sc_session_t *s, Spark__Connect__AnalyzePlanRequest *req,
                     Spark__Connect__AnalyzePlanResponse **resp, sc_error_t *err)
{
    Spark__Connect__UserContext uc = SPARK__CONNECT__USER_CONTEXT__INIT;
    char observed[64];
    SC_REQ_FILL(
        s, *req, uc, observed,
        SPARK__CONNECT__ANALYZE_PLAN_REQUEST___CLIENT_OBSERVED_SERVER_SIDE_SESSION_ID_CLIENT_OBSERVED_SERVER_SIDE_SESSION_ID);
    req->_client_type_case = SPARK__CONNECT__ANALYZE_PLAN_REQUEST___CLIENT_TYPE_CLIENT_TYPE;
    req->client_type = (char *)CLIENT_TYPE;
    ProtobufCMessage *m = NULL;
    sc_code_t rc = unary(s, SC_SERVICE "AnalyzePlan", &req->base,
                         &spark__connect__analyze_plan_response__descriptor, &m, err);
    req->user_context = NULL;
    if (rc != SC_OK)
        return rc;
    *resp = (Spark__Connect__AnalyzePlanResponse *)m;
    note_server_side_id(s, (*resp)->server_side_session_id);
    return SC_OK;
}

sc_code_t sc_session_version(sc_session_t *s, char **version, sc_error_t *err)
{
    Spark__Connect__AnalyzePlanRequest req = SPARK__CONNECT__ANALYZE_PLAN_REQUEST__INIT;
    Spark__Connect__AnalyzePlanRequest__SparkVersion sv =
        SPARK__CONNECT__ANALYZE_PLAN_REQUEST__SPARK_VERSION__INIT;
    req.analyze_case = SPARK__CONNECT__ANALYZE_PLAN_REQUEST__ANALYZE_SPARK_VERSION;
    req.spark_version = &sv;
    Spark__Connect__AnalyzePlanResponse *resp = NULL;
    sc_code_t rc = sc_analyze(s, &req, &resp, err);
    if (rc != SC_OK)
        return rc;
    if (resp->result_case != SPARK__CONNECT__ANALYZE_PLAN_RESPONSE__RESULT_SPARK_VERSION) {
        spark__connect__analyze_plan_response__free_unpacked(resp, NULL);
        return sc_error_set(err, SC_ERR_PROTOCOL, "SparkVersion: unexpected response");
    }
    if (version) {
        *version = strdup(resp->spark_version->version ? resp->spark_version->version : "");
        if (!*version)
            rc = sc_error_set(err, SC_ERR_NOMEM, "out of memory");
    }
    spark__connect__analyze_plan_response__free_unpacked(resp, NULL);
    return rc;
}

sc_code_t sc_session_ping(sc_session_t *s, sc_error_t *err)
{
    return sc_session_version(s, NULL, err);
}

sc_code_t sc_session_reset(sc_session_t *s, sc_error_t *err)
{
    (void)err;
    pthread_mutex_lock(&s->lock);
    new_session_id(s->session_id);
    s->server_side_id[0] = '\0';
    pthread_mutex_unlock(&s->lock);
    return SC_OK;
}

/* ---- config ---- */

static sc_code_t config_call(sc_session_t *s, Spark__Connect__ConfigRequest__Operation *op,
                             Spark__Connect__ConfigResponse **resp, sc_error_t *err)
{
    Spark__Connect__ConfigRequest req = SPARK__CONNECT__CONFIG_REQUEST__INIT;
    Spark__Connect__UserContext uc = SPARK__CONNECT__USER_CONTEXT__INIT;
    char observed[64];
    SC_REQ_FILL(
        s, req, uc, observed,
        SPARK__CONNECT__CONFIG_REQUEST___CLIENT_OBSERVED_SERVER_SIDE_SESSION_ID_CLIENT_OBSERVED_SERVER_SIDE_SESSION_ID);
    req.operation = op;
    req._client_type_case = SPARK__CONNECT__CONFIG_REQUEST___CLIENT_TYPE_CLIENT_TYPE;
    req.client_type = (char *)CLIENT_TYPE;
    ProtobufCMessage *m = NULL;
    sc_code_t rc = unary(s, SC_SERVICE "Config", &req.base,
                         &spark__connect__config_response__descriptor, &m, err);
    if (rc != SC_OK)
        return rc;
    *resp = (Spark__Connect__ConfigResponse *)m;
    note_server_side_id(s, (*resp)->server_side_session_id);
    return SC_OK;
}

sc_code_t sc_session_conf_set(sc_session_t *s, const char *key, const char *value, sc_error_t *err)
{
    if (!key || !value)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "conf_set needs a key and a value");
    Spark__Connect__KeyValue kv = SPARK__CONNECT__KEY_VALUE__INIT;
    kv.key = (char *)key;
    kv._value_case = SPARK__CONNECT__KEY_VALUE___VALUE_VALUE;
    kv.value = (char *)value;
    Spark__Connect__KeyValue *pairs[1] = {&kv};
    Spark__Connect__ConfigRequest__Set set = SPARK__CONNECT__CONFIG_REQUEST__SET__INIT;
    set.n_pairs = 1;
    set.pairs = pairs;
    Spark__Connect__ConfigRequest__Operation op = SPARK__CONNECT__CONFIG_REQUEST__OPERATION__INIT;
    op.op_type_case = SPARK__CONNECT__CONFIG_REQUEST__OPERATION__OP_TYPE_SET;
    op.set = &set;
    Spark__Connect__ConfigResponse *resp = NULL;
    sc_code_t rc = config_call(s, &op, &resp, err);
    if (rc == SC_OK)
        spark__connect__config_response__free_unpacked(resp, NULL);
    return rc;
}

sc_code_t sc_session_conf_get(sc_session_t *s, const char *key, char **value, sc_error_t *err)
{
    *value = NULL;
    if (!key)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "conf_get needs a key");
    char *keys[1] = {(char *)key};
    Spark__Connect__ConfigRequest__GetOption get = SPARK__CONNECT__CONFIG_REQUEST__GET_OPTION__INIT;
    get.n_keys = 1;
    get.keys = keys;
    Spark__Connect__ConfigRequest__Operation op = SPARK__CONNECT__CONFIG_REQUEST__OPERATION__INIT;
    op.op_type_case = SPARK__CONNECT__CONFIG_REQUEST__OPERATION__OP_TYPE_GET_OPTION;
    op.get_option = &get;
    Spark__Connect__ConfigResponse *resp = NULL;
    sc_code_t rc = config_call(s, &op, &resp, err);
    if (rc != SC_OK)
        return rc;
    if (resp->n_pairs == 1 &&
        resp->pairs[0]->_value_case == SPARK__CONNECT__KEY_VALUE___VALUE_VALUE) {
        *value = strdup(resp->pairs[0]->value);
        if (!*value)
            rc = sc_error_set(err, SC_ERR_NOMEM, "out of memory");
    }
    spark__connect__config_response__free_unpacked(resp, NULL);
    return rc;
}

/* ---- interrupt, release ---- */

sc_code_t sc_session_interrupt_all(sc_session_t *s, sc_error_t *err)
{
    Spark__Connect__InterruptRequest req = SPARK__CONNECT__INTERRUPT_REQUEST__INIT;
    Spark__Connect__UserContext uc = SPARK__CONNECT__USER_CONTEXT__INIT;
    char observed[64];
    SC_REQ_FILL(
        s, req, uc, observed,
        SPARK__CONNECT__INTERRUPT_REQUEST___CLIENT_OBSERVED_SERVER_SIDE_SESSION_ID_CLIENT_OBSERVED_SERVER_SIDE_SESSION_ID);
    req.interrupt_type = SPARK__CONNECT__INTERRUPT_REQUEST__INTERRUPT_TYPE__INTERRUPT_TYPE_ALL;
    ProtobufCMessage *m = NULL;
    sc_code_t rc = unary(s, SC_SERVICE "Interrupt", &req.base,
                         &spark__connect__interrupt_response__descriptor, &m, err);
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

static void release_session(sc_session_t *s)
{
    Spark__Connect__ReleaseSessionRequest req = SPARK__CONNECT__RELEASE_SESSION_REQUEST__INIT;
    Spark__Connect__UserContext uc = SPARK__CONNECT__USER_CONTEXT__INIT;
    uc.user_id = s->ci.user_id;
    uc.user_name = s->ci.user_id;
    req.session_id = s->session_id;
    req.user_context = &uc;
    ProtobufCMessage *m = NULL;
    sc_session_options_t saved = s->opts;
    s->opts.rpc_timeout_ms = 5000;
    if (unary(s, SC_SERVICE "ReleaseSession", &req.base,
              &spark__connect__release_session_response__descriptor, &m, NULL) == SC_OK)
        protobuf_c_message_free_unpacked(m, NULL);
    s->opts = saved;
}

/* ---- keep-alive ---- */

static void *keepalive_main(void *arg)
{
    sc_session_t *s = arg;
    pthread_mutex_lock(&s->ka_lock);
    while (!s->ka_stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += s->ka_interval_ms / 1000;
        until.tv_nsec += (s->ka_interval_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        int rc = 0;
        while (!s->ka_stop && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&s->ka_cond, &s->ka_lock, &until);
        if (s->ka_stop)
            break;
        pthread_mutex_unlock(&s->ka_lock);
        sc_session_ping(s, NULL);
        pthread_mutex_lock(&s->ka_lock);
    }
    pthread_mutex_unlock(&s->ka_lock);
    return NULL;
}

static void keepalive_stop(sc_session_t *s)
{
    if (!s->keepalive_running)
        return;
    pthread_mutex_lock(&s->ka_lock);
    s->ka_stop = true;
    pthread_cond_broadcast(&s->ka_cond);
    pthread_mutex_unlock(&s->ka_lock);
    pthread_join(s->keepalive_thread, NULL);
    s->keepalive_running = false;
}

sc_code_t sc_session_keepalive(sc_session_t *s, long interval_ms, sc_error_t *err)
{
    keepalive_stop(s);
    if (interval_ms <= 0)
        return SC_OK;
    s->ka_interval_ms = interval_ms;
    s->ka_stop = false;
    if (pthread_create(&s->keepalive_thread, NULL, keepalive_main, s) != 0)
        return sc_error_set(err, SC_ERR_NOMEM, "could not start the keep-alive thread");
    s->keepalive_running = true;
    return SC_OK;
}

void sc_session_set_progress(sc_session_t *s, sc_progress_fn fn, void *opaque)
{
    pthread_mutex_lock(&s->lock);
    s->progress = fn;
    s->progress_opaque = opaque;
    pthread_mutex_unlock(&s->lock);
}

static void session_free(sc_session_t *s, bool release)
{
    if (!s)
        return;
    keepalive_stop(s);
    if (release)
        release_session(s);
    sc_channel_close(s->ch);
    sc_conninfo_free(&s->ci);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->ka_lock);
    pthread_cond_destroy(&s->ka_cond);
    free(s);
}

void sc_session_destroy(sc_session_t *s)
{
    session_free(s, true);
}

void sc_session_detach(sc_session_t *s)
{
    session_free(s, false);
}
