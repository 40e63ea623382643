/* Batched logging: entries are validated when added, then cut into requests
 * that respect the tracking server's count and size limits. */
#include "mlflow_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carprice/log.h"

/* Room left in each request for {"run_id": ..., "metrics": [...], ...}. */
#define BODY_OVERHEAD 256

typedef struct {
    char *key;
    char *value;
} kv_t;

typedef struct {
    char *key;
    double value;
    int64_t timestamp_ms;
    int64_t step;
} metric_t;

struct cp_mlflow_batch_s {
    metric_t *metrics;
    size_t n_metrics, cap_metrics;
    kv_t *params;
    size_t n_params, cap_params;
    kv_t *tags;
    size_t n_tags, cap_tags;
};

cp_mlflow_batch_t *cp_mlflow_batch_new(void)
{
    return calloc(1, sizeof(cp_mlflow_batch_t));
}

void cp_mlflow_batch_clear(cp_mlflow_batch_t *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n_metrics; i++)
        free(b->metrics[i].key);
    for (size_t i = 0; i < b->n_params; i++) {
        free(b->params[i].key);
        free(b->params[i].value);
    }
    for (size_t i = 0; i < b->n_tags; i++) {
        free(b->tags[i].key);
        free(b->tags[i].value);
    }
    b->n_metrics = b->n_params = b->n_tags = 0;
}

void cp_mlflow_batch_destroy(cp_mlflow_batch_t *b)
{
    if (!b)
        return;
    cp_mlflow_batch_clear(b);
    free(b->metrics);
    free(b->params);
    free(b->tags);
    free(b);
}

size_t cp_mlflow_batch_count(const cp_mlflow_batch_t *b)
{
    return b ? b->n_metrics + b->n_params + b->n_tags : 0;
}

static bool grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return true;
    size_t nc = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, nc * elem);
    if (!p)
        return false;
    *arr = p;
    *cap = nc;
    return true;
}

/* Checks a key or value against the server's rules; limit in characters. */
static cp_rest_code_t check_text(const char *s, const char *kind, const char *key, long limit,
                                 bool allow_empty, cp_rest_error_t *err)
{
    if (!s || (!allow_empty && !*s))
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "%s must not be %s", kind,
                            s ? "empty" : "NULL");
    long n = cp_rest_utf8_chars(s);
    if (n < 0)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "%s of '%.80s' is not valid UTF-8", kind,
                            key ? key : s);
    if (n > limit)
        return cp_rest_fail(err, CP_REST_ERR_LIMIT,
                            "%s of '%.80s' has %ld characters; MLflow allows at most %ld", kind,
                            key ? key : s, n, limit);
    return CP_REST_OK;
}

cp_rest_code_t cp_mlflow_batch_add_metric(cp_mlflow_batch_t *b, const char *key, double value,
                                          int64_t timestamp_ms, int64_t step, cp_rest_error_t *err)
{
    if (!b)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "batch is NULL");
    cp_rest_code_t rc = check_text(key, "metric key", NULL, CP_MLFLOW_MAX_KEY_CHARS, false, err);
    if (rc != CP_REST_OK)
        return rc;
    if (!grow((void **)&b->metrics, &b->cap_metrics, b->n_metrics, sizeof(metric_t)))
        return cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
    metric_t *m = &b->metrics[b->n_metrics];
    m->key = strdup(key);
    if (!m->key)
        return cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
    m->value = value;
    m->timestamp_ms = timestamp_ms ? timestamp_ms : cp_rest_now_ms();
    m->step = step;
    b->n_metrics++;
    return CP_REST_OK;
}

static cp_rest_code_t add_kv(kv_t **arr, size_t *n, size_t *cap, const char *kind, const char *key,
                             const char *value, long value_limit, cp_rest_error_t *err)
{
    char what[32];
    snprintf(what, sizeof what, "%s key", kind);
    cp_rest_code_t rc = check_text(key, what, NULL, CP_MLFLOW_MAX_KEY_CHARS, false, err);
    if (rc != CP_REST_OK)
        return rc;
    snprintf(what, sizeof what, "%s value", kind);
    rc = check_text(value, what, key, value_limit, true, err);
    if (rc != CP_REST_OK)
        return rc;
    if (!grow((void **)arr, cap, *n, sizeof(kv_t)))
        return cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
    kv_t *e = &(*arr)[*n];
    e->key = strdup(key);
    e->value = strdup(value);
    if (!e->key || !e->value) {
        free(e->key);
        free(e->value);
        return cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
    }
    (*n)++;
    return CP_REST_OK;
}

cp_rest_code_t cp_mlflow_batch_add_param(cp_mlflow_batch_t *b, const char *key, const char *value,
                                         cp_rest_error_t *err)
{
    if (!b)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "batch is NULL");
    return add_kv(&b->params, &b->n_params, &b->cap_params, "param", key, value,
                  CP_MLFLOW_MAX_PARAM_VALUE_CHARS, err);
}

cp_rest_code_t cp_mlflow_batch_add_tag(cp_mlflow_batch_t *b, const char *key, const char *value,
                                       cp_rest_error_t *err)
{
    if (!b)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "batch is NULL");
    return add_kv(&b->tags, &b->n_tags, &b->cap_tags, "tag", key, value,
                  CP_MLFLOW_MAX_TAG_VALUE_CHARS, err);
}

/* ---- encoding ---- */

static json_t *metric_json(const metric_t *m)
{
    json_t *v = cp_rest_json_double(m->value);
    if (!v)
        return NULL;
    return json_pack("{s:s,s:o,s:I,s:I}", "key", m->key, "value", v, "timestamp",
                     (json_int_t)m->timestamp_ms, "step", (json_int_t)m->step);
}

static json_t *kv_json(const kv_t *e)
{
    return json_pack("{s:s,s:s}", "key", e->key, "value", e->value);
}

/* Appends entry e to arr if it fits in *budget bytes; takes e. Returns 1 when
 * added, 0 when it does not fit, -1 on error. */
static int add_if_fits(json_t *arr, json_t *e, size_t *budget)
{
    if (!e)
        return -1;
    char *s = cp_rest_json_dump(e);
    if (!s) {
        json_decref(e);
        return -1;
    }
    size_t n = strlen(s) + 1; /* and a comma */
    free(s);
    if (n > *budget) {
        json_decref(e);
        return 0;
    }
    if (json_array_append_new(arr, e) != 0)
        return -1;
    *budget -= n;
    return 1;
}

cp_rest_code_t cp_mlflow_batch_next_body(const cp_mlflow_batch_t *b, const char *run_id,
                                         size_t max_bytes, cp_mlflow_batch_cursor_t *cur,
                                         char **body, cp_rest_error_t *err)
{
    *body = NULL;
    if (cur->metric >= b->n_metrics && cur->param >= b->n_params && cur->tag >= b->n_tags)
        return CP_REST_OK;
    size_t fixed = BODY_OVERHEAD + strlen(run_id);
    if (max_bytes <= fixed)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "log batch: byte limit too small");
    size_t budget = max_bytes - fixed;
    json_t *metrics = json_array(), *params = json_array(), *tags = json_array();
    json_t *req = json_pack("{s:s,s:o,s:o,s:o}", "run_id", run_id, "metrics", metrics, "params",
                            params, "tags", tags);
    if (!req)
        return cp_rest_fail(err, CP_REST_ERR_NOMEM, "log batch: out of memory");
    size_t total = 0;
    int r = 1;
    /* Params and tags first: they are few and a run's readers look for them. */
    while (r == 1 && cur->param < b->n_params &&
           json_array_size(params) < CP_MLFLOW_MAX_PARAMS_PER_BATCH &&
           total < CP_MLFLOW_MAX_ENTITIES_PER_BATCH) {
        r = add_if_fits(params, kv_json(&b->params[cur->param]), &budget);
        if (r == 1) {
            cur->param++;
            total++;
        }
    }
    if (r != -1)
        r = 1;
    while (r == 1 && cur->tag < b->n_tags && json_array_size(tags) < CP_MLFLOW_MAX_TAGS_PER_BATCH &&
           total < CP_MLFLOW_MAX_ENTITIES_PER_BATCH) {
        r = add_if_fits(tags, kv_json(&b->tags[cur->tag]), &budget);
        if (r == 1) {
            cur->tag++;
            total++;
        }
    }
    if (r != -1)
        r = 1;
    while (r == 1 && cur->metric < b->n_metrics &&
           json_array_size(metrics) < CP_MLFLOW_MAX_METRICS_PER_BATCH &&
           total < CP_MLFLOW_MAX_ENTITIES_PER_BATCH) {
        r = add_if_fits(metrics, metric_json(&b->metrics[cur->metric]), &budget);
        if (r == 1) {
            cur->metric++;
            total++;
        }
    }
    if (r == -1) {
        json_decref(req);
        return cp_rest_fail(err, CP_REST_ERR_NOMEM, "log batch: out of memory");
    }
    if (total == 0) {
        /* Cannot happen with the value limits, but never loop forever. */
        json_decref(req);
        return cp_rest_fail(err, CP_REST_ERR_LIMIT,
                            "log batch: one entry alone exceeds the request limit of %zu bytes",
                            max_bytes);
    }
    if (json_array_size(metrics) == 0)
        json_object_del(req, "metrics");
    if (json_array_size(params) == 0)
        json_object_del(req, "params");
    if (json_array_size(tags) == 0)
        json_object_del(req, "tags");
    *body = cp_rest_json_dump(req);
    json_decref(req);
    if (!*body)
        return cp_rest_fail(err, CP_REST_ERR_NOMEM, "log batch: out of memory");
    return CP_REST_OK;
}

cp_rest_code_t cp_mlflow_log_batch(cp_mlflow_t *m, const char *run_id, const cp_mlflow_batch_t *b,
                                   size_t *requests, cp_rest_error_t *err)
{
    const char *what = "log batch";
    if (requests)
        *requests = 0;
    if (!m || !b || !run_id || !*run_id)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "%s: missing argument", what);
    cp_mlflow_batch_cursor_t cur = {0};
    size_t sent = 0;
    for (;;) {
        char *body;
        cp_rest_code_t rc =
            cp_mlflow_batch_next_body(b, run_id, CP_MLFLOW_MAX_BATCH_BYTES, &cur, &body, err);
        if (rc != CP_REST_OK)
            return rc;
        if (!body)
            break;
        cp_http_request_t req = {
            .method = "POST",
            .url = MLFLOW_API "/runs/log-batch",
            .content_type = "application/json",
            .body = body,
            .body_len = strlen(body),
        };
        cp_http_response_t resp;
        rc = cp_http_do(m->http, &req, &resp, err);
        free(body);
        if (rc == CP_REST_OK && (resp.status < 200 || resp.status > 299))
            rc = cp_mlflow_error_from_response(resp.status, resp.body.data, resp.body.len, err,
                                               what);
        cp_http_response_free(&resp);
        if (rc != CP_REST_OK) {
            cp_log_warn("mlflow.log_batch.failed", "run_id=%s request=%zu code=%s", run_id,
                        sent + 1, cp_rest_code_name(rc));
            return rc;
        }
        sent++;
        if (requests)
            *requests = sent;
    }
    cp_log_debug("mlflow.log_batch", "run_id=%s metrics=%zu params=%zu tags=%zu requests=%zu",
                 run_id, b->n_metrics, b->n_params, b->n_tags, sent);
    return CP_REST_OK;
}

static cp_rest_code_t log_one(cp_mlflow_t *m, const char *run_id, cp_mlflow_batch_t *b,
                              cp_rest_code_t rc, cp_rest_error_t *err)
{
    if (rc == CP_REST_OK)
        rc = cp_mlflow_log_batch(m, run_id, b, NULL, err);
    cp_mlflow_batch_destroy(b);
    return rc;
}

cp_rest_code_t cp_mlflow_log_metric(cp_mlflow_t *m, const char *run_id, const char *key,
                                    double value, int64_t step, cp_rest_error_t *err)
{
    cp_mlflow_batch_t *b = cp_mlflow_batch_new();
    if (!b)
        return cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
    return log_one(m, run_id, b, cp_mlflow_batch_add_metric(b, key, value, 0, step, err), err);
}

cp_rest_code_t cp_mlflow_log_param(cp_mlflow_t *m, const char *run_id, const char *key,
                                   const char *value, cp_rest_error_t *err)
{
    cp_mlflow_batch_t *b = cp_mlflow_batch_new();
    if (!b)
        return cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
    return log_one(m, run_id, b, cp_mlflow_batch_add_param(b, key, value, err), err);
}

cp_rest_code_t cp_mlflow_set_tag(cp_mlflow_t *m, const char *run_id, const char *key,
                                 const char *value, cp_rest_error_t *err)
{
    cp_mlflow_batch_t *b = cp_mlflow_batch_new();
    if (!b)
        return cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
    return log_one(m, run_id, b, cp_mlflow_batch_add_tag(b, key, value, err), err);
}
