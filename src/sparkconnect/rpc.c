#include "rpc.h"

#include <errno.h>
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "google/rpc/error_details.pb-c.h"
#include "google/rpc/status.pb-c.h"

#define RETRY_MAX     8
#define RETRY_BASE_MS 100
#define RETRY_CAP_MS  5000

struct sc_channel_s {
    grpc_channel *channel;
    char *auth_header; /* "Bearer <token>" or NULL */
    pthread_mutex_t lock;
    grpc_call **calls; /* calls in flight, for cancel_all */
    size_t ncalls, capcalls;
};

static pthread_once_t g_grpc_once = PTHREAD_ONCE_INIT;

static void grpc_init_once(void)
{
    grpc_init();
}

/* ---- connection strings ---- */

static char *dup_range(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

void sc_conninfo_free(sc_conninfo_t *ci)
{
    if (!ci)
        return;
    free(ci->host);
    free(ci->token);
    free(ci->user_id);
    free(ci->session_id);
    memset(ci, 0, sizeof *ci);
}

static sc_code_t set_param(sc_conninfo_t *ci, const char *kv, size_t n, sc_error_t *err)
{
    const char *eq = memchr(kv, '=', n);
    if (!eq || eq == kv)
        return sc_error_set(err, SC_ERR_INVALID_ARG,
                            "connection string parameter '%.*s' is not key=value", (int)n, kv);
    size_t klen = (size_t)(eq - kv);
    const char *v = eq + 1;
    size_t vlen = n - klen - 1;
    char **slot = NULL;
    if (klen == 5 && memcmp(kv, "token", 5) == 0) {
        slot = &ci->token;
    } else if (klen == 7 && memcmp(kv, "user_id", 7) == 0) {
        slot = &ci->user_id;
    } else if (klen == 10 && memcmp(kv, "session_id", 10) == 0) {
        slot = &ci->session_id;
    } else if (klen == 7 && memcmp(kv, "use_ssl", 7) == 0) {
        ci->use_ssl = (vlen == 4 && memcmp(v, "true", 4) == 0);
        return SC_OK;
    } else if (klen == 10 && memcmp(kv, "user_agent", 10) == 0) {
        return SC_OK;
    } else {
        return sc_error_set(err, SC_ERR_INVALID_ARG, "unknown connection string parameter '%.*s'",
                            (int)klen, kv);
    }
    free(*slot);
    *slot = dup_range(v, vlen);
    return *slot ? SC_OK : sc_error_set(err, SC_ERR_NOMEM, "out of memory");
}

sc_code_t sc_conninfo_parse(const char *url, sc_conninfo_t *out, sc_error_t *err)
{
    memset(out, 0, sizeof *out);
    if (!url || strncmp(url, "sc://", 5) != 0)
        return sc_error_set(err, SC_ERR_INVALID_ARG,
                            "connection string must start with sc:// (got '%s')", url ? url : "");
    const char *p = url + 5;
    size_t hostlen = strcspn(p, ":/");
    if (hostlen == 0)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "connection string '%s' has no host", url);
    out->host = dup_range(p, hostlen);
    out->port = 15002;
    p += hostlen;
    if (*p == ':') {
        char *end;
        errno = 0;
        long port = strtol(p + 1, &end, 10);
        if (errno || end == p + 1 || port <= 0 || port > 65535 || (*end && *end != '/')) {
            sc_conninfo_free(out);
            return sc_error_set(err, SC_ERR_INVALID_ARG, "bad port in connection string '%s'", url);
        }
        out->port = (int)port;
        p = end;
    }
    if (*p == '/')
        p++;
    while (*p) {
        if (*p == ';') {
            p++;
            continue;
        }
        size_t n = strcspn(p, ";");
        sc_code_t rc = set_param(out, p, n, err);
        if (rc != SC_OK) {
            sc_conninfo_free(out);
            return rc;
        }
        p += n;
    }
    if (!out->user_id) {
        const char *u = getenv("USER");
        out->user_id = strdup(u && *u ? u : "carprice");
    }
    if (!out->host || !out->user_id) {
        sc_conninfo_free(out);
        return sc_error_set(err, SC_ERR_NOMEM, "out of memory");
    }
    return SC_OK;
}

/* ---- channel ---- */

sc_code_t sc_channel_open(const sc_conninfo_t *ci, size_t max_recv_bytes, sc_channel_t **out,
                          sc_error_t *err)
{
    pthread_once(&g_grpc_once, grpc_init_once);
    sc_channel_t *ch = calloc(1, sizeof *ch);
    if (!ch)
        return sc_error_set(err, SC_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&ch->lock, NULL);
    if (ci->token) {
        size_t n = strlen(ci->token) + 8;
        ch->auth_header = malloc(n);
        if (!ch->auth_header) {
            sc_channel_close(ch);
            return sc_error_set(err, SC_ERR_NOMEM, "out of memory");
        }
        snprintf(ch->auth_header, n, "Bearer %s", ci->token);
    }
    char target[512];
    snprintf(target, sizeof target, "%s:%d", ci->host, ci->port);

    grpc_arg args[7];
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[0].value.integer = max_recv_bytes > (size_t)0x7fffffff ? 0x7fffffff : (int)max_recv_bytes;
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = (char *)GRPC_ARG_KEEPALIVE_TIME_MS;
    args[1].value.integer = 30000;
    args[2].type = GRPC_ARG_INTEGER;
    args[2].key = (char *)GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS;
    args[2].value.integer = 0;
    args[3].type = GRPC_ARG_STRING;
    args[3].key = (char *)GRPC_ARG_PRIMARY_USER_AGENT_STRING;
    args[3].value.string = (char *)"carprice-sparkconnect-c";
    /* gRPC's default reconnect backoff is at least 20 s and grows to two
     * minutes while a server is down, and calls fail fast until the next
     * attempt: a restarted server would look unreachable long after it is
     * back, beyond what our own retries cover. */
    args[4].type = GRPC_ARG_INTEGER;
    args[4].key = (char *)GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS;
    args[4].value.integer = 200;
    args[5].type = GRPC_ARG_INTEGER;
    args[5].key = (char *)GRPC_ARG_MAX_RECONNECT_BACKOFF_MS;
    args[5].value.integer = 2000;
    args[6].type = GRPC_ARG_INTEGER;
    args[6].key = (char *)GRPC_ARG_MIN_RECONNECT_BACKOFF_MS; /* default 20 s */
    args[6].value.integer = 200;
    grpc_channel_args cargs = {.num_args = 7, .args = args};

    grpc_channel_credentials *creds = ci->use_ssl
                                          ? grpc_ssl_credentials_create(NULL, NULL, NULL, NULL)
                                          : grpc_insecure_credentials_create();
    ch->channel = grpc_channel_create(target, creds, &cargs);
    grpc_channel_credentials_release(creds);
    if (!ch->channel) {
        sc_channel_close(ch);
        return sc_error_set(err, SC_ERR_TRANSPORT, "could not create a gRPC channel to %s", target);
    }
    *out = ch;
    return SC_OK;
}

void sc_channel_close(sc_channel_t *ch)
{
    if (!ch)
        return;
    if (ch->channel)
        grpc_channel_destroy(ch->channel);
    free(ch->auth_header);
    free(ch->calls);
    pthread_mutex_destroy(&ch->lock);
    free(ch);
}

static void track_call(sc_channel_t *ch, grpc_call *call, bool add)
{
    pthread_mutex_lock(&ch->lock);
    if (add) {
        if (ch->ncalls == ch->capcalls) {
            size_t cap = ch->capcalls ? ch->capcalls * 2 : 8;
            grpc_call **p = realloc(ch->calls, cap * sizeof *p);
            if (p) {
                ch->calls = p;
                ch->capcalls = cap;
            }
        }
        if (ch->ncalls < ch->capcalls)
            ch->calls[ch->ncalls++] = call;
    } else {
        for (size_t i = 0; i < ch->ncalls; i++) {
            if (ch->calls[i] == call) {
                ch->calls[i] = ch->calls[--ch->ncalls];
                break;
            }
        }
    }
    pthread_mutex_unlock(&ch->lock);
}

void sc_channel_cancel_all(sc_channel_t *ch)
{
    pthread_mutex_lock(&ch->lock);
    for (size_t i = 0; i < ch->ncalls; i++)
        grpc_call_cancel(ch->calls[i], NULL);
    pthread_mutex_unlock(&ch->lock);
}

/* ---- errors from trailing metadata ---- */

static bool slice_eq(grpc_slice s, const char *lit)
{
    size_t n = strlen(lit);
    return GRPC_SLICE_LENGTH(s) == n && memcmp(GRPC_SLICE_START_PTR(s), lit, n) == 0;
}

/* Spark puts a google.rpc.Status with an ErrorInfo detail into the
 * grpc-status-details-bin trailer; its metadata names the error class and
 * SQL state. */
static void parse_status_details(const grpc_metadata_array *trailers, char *error_class,
                                 size_t class_cap, char *sqlstate, size_t state_cap, char *reason,
                                 size_t reason_cap)
{
    for (size_t i = 0; i < trailers->count; i++) {
        if (!slice_eq(trailers->metadata[i].key, "grpc-status-details-bin"))
            continue;
        grpc_slice v = trailers->metadata[i].value;
        Google__Rpc__Status *st =
            google__rpc__status__unpack(NULL, GRPC_SLICE_LENGTH(v), GRPC_SLICE_START_PTR(v));
        if (!st)
            return;
        for (size_t d = 0; d < st->n_details; d++) {
            Google__Protobuf__Any *any = st->details[d];
            if (!any->type_url || !strstr(any->type_url, "google.rpc.ErrorInfo"))
                continue;
            Google__Rpc__ErrorInfo *info =
                google__rpc__error_info__unpack(NULL, any->value.len, any->value.data);
            if (!info)
                continue;
            if (info->reason)
                snprintf(reason, reason_cap, "%s", info->reason);
            for (size_t m = 0; m < info->n_metadata; m++) {
                const char *k = info->metadata[m]->key;
                const char *val = info->metadata[m]->value;
                if (!k || !val)
                    continue;
                if (strcmp(k, "errorClass") == 0)
                    snprintf(error_class, class_cap, "%s", val);
                else if (strcmp(k, "sqlState") == 0)
                    snprintf(sqlstate, state_cap, "%s", val);
            }
            google__rpc__error_info__free_unpacked(info, NULL);
        }
        google__rpc__status__free_unpacked(st, NULL);
        return;
    }
}

static const char *status_name(grpc_status_code s)
{
    static const char *const names[] = {
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    };
    if ((unsigned)s < sizeof names / sizeof names[0])
        return names[s];
    return "UNKNOWN";
}

static sc_code_t status_to_error(grpc_status_code status, grpc_slice details,
                                 const grpc_metadata_array *trailers, const char *method,
                                 sc_error_t *err)
{
    char error_class[128] = "", sqlstate[16] = "", reason[256] = "";
    parse_status_details(trailers, error_class, sizeof error_class, sqlstate, sizeof sqlstate,
                         reason, sizeof reason);
    int dlen = (int)GRPC_SLICE_LENGTH(details);
    const char *dptr = (const char *)GRPC_SLICE_START_PTR(details);
    sc_code_t code;
    bool retriable = false;
    switch (status) {
    case GRPC_STATUS_UNAVAILABLE:
        code = SC_ERR_TRANSPORT;
        retriable = true;
        break;
    case GRPC_STATUS_DEADLINE_EXCEEDED:
        code = SC_ERR_TIMEOUT;
        retriable = true;
        break;
    case GRPC_STATUS_RESOURCE_EXHAUSTED:
        code = SC_ERR_LIMIT;
        break;
    case GRPC_STATUS_CANCELLED:
        code = SC_ERR_TRANSPORT;
        break;
    default:
        code = (error_class[0] || reason[0] || status == GRPC_STATUS_INTERNAL ||
                status == GRPC_STATUS_INVALID_ARGUMENT || status == GRPC_STATUS_FAILED_PRECONDITION)
                   ? SC_ERR_SERVER
                   : SC_ERR_TRANSPORT;
        break;
    }
    if (strncmp(error_class, "INVALID_HANDLE.SESSION", 22) == 0 ||
        (dlen > 0 && strstr(error_class, "SESSION_CHANGED")))
        code = SC_ERR_SESSION_LOST;
    /* Errors without a Spark error class (plain JVM exceptions) are named by
     * their exception class, which Spark sends as the ErrorInfo reason. */
    const char *name = error_class[0] ? error_class : reason[0] ? reason : status_name(status);
    const char *m = strrchr(method, '/');
    sc_error_set(err, code, "%s failed: %s%s%.*s", m ? m + 1 : method, name, dlen > 0 ? ": " : "",
                 dlen, dptr);
    sc_error_set_detail(err, (int)status, error_class[0] ? error_class : reason, sqlstate,
                        retriable);
    return code;
}

/* ---- calls ---- */

static gpr_timespec deadline_after(long timeout_ms)
{
    if (timeout_ms <= 0)
        return gpr_inf_future(GPR_CLOCK_MONOTONIC);
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                        gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
}

/* Waits for the completion of the one batch in flight on cq. */
static bool wait_batch(grpc_completion_queue *cq, void *tag)
{
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_OP_COMPLETE && ev.tag == tag)
            return ev.success != 0;
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            return false;
    }
}

typedef struct {
    grpc_status_code status;
    bool delivered; /* at least one message reached the callback */
    sc_code_t cb_rc;
} attempt_t;

static sc_code_t call_once(sc_channel_t *ch, const char *method, grpc_slice req_slice,
                           long timeout_ms, sc_rpc_msg_fn fn, void *opaque, attempt_t *at,
                           sc_error_t *err)
{
    grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
    grpc_slice method_slice = grpc_slice_from_static_string(method);
    grpc_call *call =
        grpc_channel_create_call(ch->channel, NULL, GRPC_PROPAGATE_DEFAULTS, cq, method_slice, NULL,
                                 deadline_after(timeout_ms), NULL);
    if (!call) {
        grpc_completion_queue_shutdown(cq);
        wait_batch(cq, NULL);
        grpc_completion_queue_destroy(cq);
        return sc_error_set(err, SC_ERR_TRANSPORT, "could not create a gRPC call");
    }
    track_call(ch, call, true);

    grpc_metadata md[1];
    size_t nmd = 0;
    if (ch->auth_header) {
        md[0].key = grpc_slice_from_static_string("authorization");
        md[0].value = grpc_slice_from_static_string(ch->auth_header);
        nmd = 1;
    }
    grpc_byte_buffer *send_bb = grpc_raw_byte_buffer_create(&req_slice, 1);
    grpc_metadata_array initial_md, trailers;
    grpc_metadata_array_init(&initial_md);
    grpc_metadata_array_init(&trailers);

    grpc_op ops[4];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = nmd;
    ops[0].data.send_initial_metadata.metadata = nmd ? md : NULL;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = send_bb;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial_md;
    int tag_start, tag_msg, tag_status;
    grpc_call_error ce = grpc_call_start_batch(call, ops, 4, &tag_start, NULL);
    if (ce == GRPC_CALL_OK)
        wait_batch(cq, &tag_start);

    sc_code_t rc = SC_OK;
    at->cb_rc = SC_OK;
    while (ce == GRPC_CALL_OK) {
        grpc_byte_buffer *recv_bb = NULL;
        grpc_op rop;
        memset(&rop, 0, sizeof rop);
        rop.op = GRPC_OP_RECV_MESSAGE;
        rop.data.recv_message.recv_message = &recv_bb;
        if (grpc_call_start_batch(call, &rop, 1, &tag_msg, NULL) != GRPC_CALL_OK)
            break;
        bool ok = wait_batch(cq, &tag_msg);
        if (!ok || !recv_bb)
            break;
        grpc_byte_buffer_reader reader;
        if (!grpc_byte_buffer_reader_init(&reader, recv_bb)) {
            grpc_byte_buffer_destroy(recv_bb);
            at->cb_rc = sc_error_set(err, SC_ERR_PROTOCOL, "unreadable gRPC message");
            grpc_call_cancel(call, NULL);
            break;
        }
        grpc_slice all = grpc_byte_buffer_reader_readall(&reader);
        grpc_byte_buffer_reader_destroy(&reader);
        grpc_byte_buffer_destroy(recv_bb);
        at->delivered = true;
        at->cb_rc = fn ? fn(GRPC_SLICE_START_PTR(all), GRPC_SLICE_LENGTH(all), opaque, err) : SC_OK;
        grpc_slice_unref(all);
        if (at->cb_rc != SC_OK) {
            grpc_call_cancel(call, NULL);
            break;
        }
    }

    grpc_slice details = grpc_empty_slice();
    const char *error_string = NULL;
    grpc_op sop;
    memset(&sop, 0, sizeof sop);
    sop.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    sop.data.recv_status_on_client.trailing_metadata = &trailers;
    sop.data.recv_status_on_client.status = &at->status;
    sop.data.recv_status_on_client.status_details = &details;
    sop.data.recv_status_on_client.error_string = &error_string;
    at->status = GRPC_STATUS_UNKNOWN;
    if (grpc_call_start_batch(call, &sop, 1, &tag_status, NULL) == GRPC_CALL_OK)
        wait_batch(cq, &tag_status);

    if (at->cb_rc != SC_OK)
        rc = at->cb_rc;
    else if (ce != GRPC_CALL_OK)
        rc = sc_error_set(err, SC_ERR_TRANSPORT, "gRPC call could not start (error %d)", ce);
    else if (at->status != GRPC_STATUS_OK)
        rc = status_to_error(at->status, details, &trailers, method, err);

    grpc_slice_unref(details);
    gpr_free((void *)error_string);
    grpc_metadata_array_destroy(&initial_md);
    grpc_metadata_array_destroy(&trailers);
    grpc_byte_buffer_destroy(send_bb);
    track_call(ch, call, false);
    grpc_call_unref(call);
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
    return rc;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

sc_code_t sc_rpc_call(sc_channel_t *ch, const char *method, const ProtobufCMessage *req,
                      long timeout_ms, sc_rpc_msg_fn fn, void *opaque, sc_error_t *err)
{
    size_t n = protobuf_c_message_get_packed_size(req);
    grpc_slice req_slice = grpc_slice_malloc(n);
    protobuf_c_message_pack(req, GRPC_SLICE_START_PTR(req_slice));
    sc_code_t rc = SC_OK;
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)&n;
    for (int attempt = 0;; attempt++) {
        attempt_t at = {0};
        rc = call_once(ch, method, req_slice, timeout_ms, fn, opaque, &at, err);
        if (rc == SC_OK || at.delivered || at.status != GRPC_STATUS_UNAVAILABLE ||
            attempt + 1 >= RETRY_MAX)
            break;
        /* Full jitter: sleep uniformly in [0, min(cap, base * 2^attempt)]. */
        long ceiling = RETRY_BASE_MS << attempt;
        if (ceiling > RETRY_CAP_MS)
            ceiling = RETRY_CAP_MS;
        sleep_ms(ceiling / 2 + (long)(rand_r(&seed) % (unsigned)(ceiling / 2 + 1)));
    }
    grpc_slice_unref(req_slice);
    return rc;
}
