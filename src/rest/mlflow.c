/* MLflow client: configuration, calls and errors, experiments, runs. */
#include "mlflow_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "carprice/log.h"

#define DEFAULT_TRACKING_URI "http://127.0.0.1:5000"

static const char *env_or(const char *given, const char *name)
{
    if (given)
        return given;
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static bool env_true(const char *name)
{
    const char *v = getenv(name);
    return v && (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

cp_rest_code_t cp_mlflow_new(const cp_mlflow_config_t *cfg, cp_mlflow_t **out, cp_rest_error_t *err)
{
    if (!out)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "cp_mlflow_new: out is NULL");
    *out = NULL;
    cp_mlflow_config_t c = {0};
    if (cfg)
        c = *cfg;
    const char *uri = env_or(c.tracking_uri, "MLFLOW_TRACKING_URI");
    if (!uri)
        uri = DEFAULT_TRACKING_URI;
    if (strncmp(uri, "http://", 7) != 0 && strncmp(uri, "https://", 8) != 0)
        return cp_rest_fail(err, CP_REST_ERR_UNSUPPORTED,
                            "MLflow tracking URI must be an http(s):// server (file and database "
                            "stores are not reachable over REST)");
    cp_http_options_t o;
    if (c.http) {
        o = *c.http;
    } else {
        cp_http_options_init(&o);
        const char *t = getenv("MLFLOW_HTTP_REQUEST_TIMEOUT");
        if (t && atol(t) > 0)
            o.timeout_ms = atol(t) * 1000;
        const char *r = getenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES");
        if (r && *r)
            o.max_retries = atoi(r);
        o.insecure_skip_tls = env_true("MLFLOW_TRACKING_INSECURE_TLS");
        o.ca_file = env_or(NULL, "MLFLOW_TRACKING_SERVER_CERT_PATH");
    }
    o.username = env_or(c.username, "MLFLOW_TRACKING_USERNAME");
    o.password = env_or(c.password, "MLFLOW_TRACKING_PASSWORD");
    o.bearer_token = env_or(c.token, "MLFLOW_TRACKING_TOKEN");
    cp_mlflow_t *m = calloc(1, sizeof *m);
    if (!m)
        return cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
    cp_rest_code_t rc = cp_http_new(uri, &o, &m->http, err);
    if (rc != CP_REST_OK) {
        free(m);
        return rc;
    }
    cp_log_debug("mlflow.client", "uri=%s auth=%s", cp_http_base_url(m->http),
                 o.username       ? "basic"
                 : o.bearer_token ? "bearer"
                                  : "none");
    *out = m;
    return CP_REST_OK;
}

void cp_mlflow_destroy(cp_mlflow_t *m)
{
    if (!m)
        return;
    cp_http_destroy(m->http);
    free(m);
}

const char *cp_mlflow_tracking_uri(const cp_mlflow_t *m)
{
    return m ? cp_http_base_url(m->http) : "";
}

/* ---- errors and calls ---- */

static const struct {
    const char *error_code;
    cp_rest_code_t code;
} g_error_codes[] = {
    {"RESOURCE_DOES_NOT_EXIST", CP_REST_ERR_NOT_FOUND},
    {"NOT_FOUND", CP_REST_ERR_NOT_FOUND},
    {"ENDPOINT_NOT_FOUND", CP_REST_ERR_NOT_FOUND},
    {"RESOURCE_ALREADY_EXISTS", CP_REST_ERR_EXISTS},
    {"ALREADY_EXISTS", CP_REST_ERR_EXISTS},
    {"INVALID_PARAMETER_VALUE", CP_REST_ERR_BAD_REQUEST},
    {"BAD_REQUEST", CP_REST_ERR_BAD_REQUEST},
    {"MALFORMED_REQUEST", CP_REST_ERR_BAD_REQUEST},
    {"INVALID_STATE", CP_REST_ERR_BAD_REQUEST},
    {"RESOURCE_LIMIT_EXCEEDED", CP_REST_ERR_LIMIT},
    {"PERMISSION_DENIED", CP_REST_ERR_AUTH},
    {"UNAUTHENTICATED", CP_REST_ERR_AUTH},
    {"TEMPORARILY_UNAVAILABLE", CP_REST_ERR_SERVER},
    {"INTERNAL_ERROR", CP_REST_ERR_SERVER},
};

cp_rest_code_t cp_mlflow_error_from_response(long status, const char *body, size_t len,
                                             cp_rest_error_t *err, const char *what)
{
    json_t *j = json_loadb(body ? body : "", body ? len : 0, 0, NULL);
    const char *ec = cp_rest_json_str(j, "error_code");
    const char *msg = cp_rest_json_str(j, "message");
    /* body is len bytes, not necessarily NUL-terminated. */
    char start[201];
    cp_rest_printable(start, sizeof start, body, len < 200 ? len : 200);
    if (!ec) {
        cp_rest_code_t code = cp_http_status_error(status, start, err, what);
        json_decref(j);
        return code;
    }
    cp_rest_code_t code = CP_REST_ERR_HTTP;
    bool mapped = false;
    for (size_t i = 0; i < sizeof g_error_codes / sizeof g_error_codes[0]; i++) {
        if (strcmp(ec, g_error_codes[i].error_code) == 0) {
            code = g_error_codes[i].code;
            mapped = true;
            break;
        }
    }
    if (!mapped)
        code = cp_http_status_error(status, NULL, NULL, what); /* the mapping only */
    char m[600];
    cp_rest_printable(m, sizeof m, msg ? msg : "", 599);
    cp_rest_fail(err, code, "%s: %s: %s (HTTP %ld)", what, ec, m, status);
    cp_rest_error_detail(err, status, ec, msg ? msg : "", code == CP_REST_ERR_SERVER);
    json_decref(j);
    return code;
}

cp_rest_code_t cp_mlflow_call(cp_mlflow_t *m, const char *method, const char *path,
                              const json_t *body, json_t **out, cp_rest_error_t *err,
                              const char *what)
{
    if (out)
        *out = NULL;
    char *text = NULL;
    if (body) {
        text = cp_rest_json_dump(body);
        if (!text)
            return cp_rest_fail(err, CP_REST_ERR_NOMEM, "%s: out of memory", what);
    }
    cp_http_request_t req = {
        .method = method,
        .url = path,
        .content_type = text ? "application/json" : NULL,
        .body = text,
        .body_len = text ? strlen(text) : 0,
    };
    cp_http_response_t resp;
    cp_rest_code_t rc = cp_http_do(m->http, &req, &resp, err);
    free(text);
    if (rc == CP_REST_OK && (resp.status < 200 || resp.status > 299))
        rc = cp_mlflow_error_from_response(resp.status, resp.body.data, resp.body.len, err, what);
    else if (rc == CP_REST_OK && out)
        rc = cp_rest_json_parse(resp.body.data, resp.body.len, out, err, what);
    else if (rc == CP_REST_ERR_LIMIT && err) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", cp_rest_error_message(err));
        cp_rest_fail(err, rc, "%s: %s", what, msg);
    }
    cp_http_response_free(&resp);
    return rc;
}

/* Builds "/api/2.0/mlflow/<endpoint>?k=v&..." with escaped values; pairs end
 * with a NULL key; NULL values are skipped. */
static char *query_path(const char *endpoint, const char *const *kv)
{
    cp_buf_t b;
    cp_buf_init(&b, 64 * 1024);
    bool ok = cp_buf_printf(&b, "%s", endpoint) == 0;
    char sep = '?';
    for (size_t i = 0; ok && kv[i]; i += 2) {
        if (!kv[i + 1])
            continue;
        char *v = cp_http_escape_query(kv[i + 1]);
        ok = v && cp_buf_printf(&b, "%c%s=%s", sep, kv[i], v) == 0;
        free(v);
        sep = '&';
    }
    if (!ok) {
        cp_buf_free(&b);
        return NULL;
    }
    return cp_buf_steal(&b);
}

cp_rest_code_t cp_mlflow_get(cp_mlflow_t *m, const char *endpoint, const char *const *kv,
                             json_t **out, cp_rest_error_t *err, const char *what)
{
    char *path = query_path(endpoint, kv);
    if (!path)
        return cp_rest_fail(err, CP_REST_ERR_NOMEM, "%s: out of memory", what);
    cp_rest_code_t rc = cp_mlflow_call(m, "GET", path, NULL, out, err, what);
    free(path);
    return rc;
}

static cp_rest_code_t need(const char *s, const char *name, cp_rest_error_t *err, const char *what)
{
    if (!s || !*s)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "%s: %s is required", what, name);
    return CP_REST_OK;
}

/* Takes the member key of a response as a new reference, or fails. */
static cp_rest_code_t take_member(json_t *resp, const char *key, json_t **out, cp_rest_error_t *err,
                                  const char *what)
{
    json_t *v = json_object_get(resp, key);
    if (!json_is_object(v)) {
        json_decref(resp);
        return cp_rest_fail(err, CP_REST_ERR_PROTOCOL, "%s: response has no \"%s\" object", what,
                            key);
    }
    json_incref(v);
    json_decref(resp);
    *out = v;
    return CP_REST_OK;
}

/* ---- experiments ---- */

struct cp_mlflow_experiment_s {
    json_t *e;
};

cp_rest_code_t cp_mlflow_experiment_get_by_name(cp_mlflow_t *m, const char *name,
                                                cp_mlflow_experiment_t **out, cp_rest_error_t *err)
{
    const char *what = "get experiment by name";
    if (!m || !out)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "%s: missing argument", what);
    *out = NULL;
    if (need(name, "name", err, what))
        return CP_REST_ERR_INVALID_ARG;
    const char *kv[] = {"experiment_name", name, NULL};
    json_t *resp = NULL, *e = NULL;
    cp_rest_code_t rc =
        cp_mlflow_get(m, MLFLOW_API "/experiments/get-by-name", kv, &resp, err, what);
    if (rc == CP_REST_OK)
        rc = take_member(resp, "experiment", &e, err, what);
    if (rc != CP_REST_OK)
        return rc;
    *out = calloc(1, sizeof **out);
    if (!*out) {
        json_decref(e);
        return cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
    }
    (*out)->e = e;
    return CP_REST_OK;
}

cp_rest_code_t cp_mlflow_experiment_get_or_create(cp_mlflow_t *m, const char *name,
                                                  const char *artifact_location,
                                                  cp_mlflow_experiment_t **out,
                                                  cp_rest_error_t *err)
{
    cp_rest_code_t rc = cp_mlflow_experiment_get_by_name(m, name, out, err);
    if (rc != CP_REST_ERR_NOT_FOUND)
        return rc;
    json_t *body = json_pack("{s:s}", "name", name);
    body = cp_rest_json_set_str(body, "artifact_location", artifact_location);
    if (!body)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG,
                            "create experiment: name is not valid UTF-8");
    rc = cp_mlflow_call(m, "POST", MLFLOW_API "/experiments/create", body, NULL, err,
                        "create experiment");
    json_decref(body);
    if (rc == CP_REST_OK)
        cp_log_info("mlflow.experiment.created", "name=\"%s\"", name);
    /* EXISTS: someone created it between our two calls; either way, read it. */
    if (rc != CP_REST_OK && rc != CP_REST_ERR_EXISTS)
        return rc;
    return cp_mlflow_experiment_get_by_name(m, name, out, err);
}

cp_rest_code_t cp_mlflow_experiment_delete(cp_mlflow_t *m, const char *experiment_id,
                                           cp_rest_error_t *err)
{
    const char *what = "delete experiment";
    if (!m)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "%s: missing argument", what);
    if (need(experiment_id, "experiment_id", err, what))
        return CP_REST_ERR_INVALID_ARG;
    json_t *body = json_pack("{s:s}", "experiment_id", experiment_id);
    if (!body)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "%s: invalid UTF-8", what);
    cp_rest_code_t rc =
        cp_mlflow_call(m, "POST", MLFLOW_API "/experiments/delete", body, NULL, err, what);
    json_decref(body);
    if (rc == CP_REST_OK)
        cp_log_info("mlflow.experiment.deleted", "experiment_id=%s", experiment_id);
    return rc;
}

void cp_mlflow_experiment_destroy(cp_mlflow_experiment_t *e)
{
    if (!e)
        return;
    json_decref(e->e);
    free(e);
}

const char *cp_mlflow_experiment_id(const cp_mlflow_experiment_t *e)
{
    return e ? cp_rest_json_str0(e->e, "experiment_id") : "";
}

const char *cp_mlflow_experiment_name(const cp_mlflow_experiment_t *e)
{
    return e ? cp_rest_json_str0(e->e, "name") : "";
}

const char *cp_mlflow_experiment_artifact_location(const cp_mlflow_experiment_t *e)
{
    return e ? cp_rest_json_str0(e->e, "artifact_location") : "";
}

const char *cp_mlflow_experiment_lifecycle_stage(const cp_mlflow_experiment_t *e)
{
    return e ? cp_rest_json_str0(e->e, "lifecycle_stage") : "";
}

/* ---- runs ---- */

static const char *const g_status_names[] = {"RUNNING", "SCHEDULED", "FINISHED",
                                             "FAILED",  "KILLED",    "UNKNOWN"};

const char *cp_mlflow_run_status_name(cp_mlflow_run_status_t status)
{
    if ((unsigned)status <= CP_MLFLOW_RUN_UNKNOWN)
        return g_status_names[status];
    return "UNKNOWN";
}

struct cp_mlflow_run_s {
    json_t *run;
    json_t *info;
    json_t *params;
    json_t *tags;
    json_t *metrics;
};

cp_mlflow_run_t *cp_mlflow_run_wrap(json_t *run)
{
    cp_mlflow_run_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->run = json_incref(run);
    r->info = json_object_get(run, "info");
    json_t *data = json_object_get(run, "data");
    r->params = json_object_get(data, "params");
    r->tags = json_object_get(data, "tags");
    r->metrics = json_object_get(data, "metrics");
    return r;
}

static cp_rest_code_t wrap_run(json_t *resp, cp_mlflow_run_t **out, cp_rest_error_t *err,
                               const char *what)
{
    json_t *run;
    cp_rest_code_t rc = take_member(resp, "run", &run, err, what);
    if (rc != CP_REST_OK)
        return rc;
    if (!json_is_object(json_object_get(run, "info")) ||
        !cp_rest_json_str(json_object_get(run, "info"), "run_id")) {
        json_decref(run);
        return cp_rest_fail(err, CP_REST_ERR_PROTOCOL, "%s: run has no info.run_id", what);
    }
    *out = cp_mlflow_run_wrap(run);
    json_decref(run);
    if (!*out)
        return cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
    return CP_REST_OK;
}

/* [{"key": k, "value": v}, ...] from n pairs; NULL on invalid UTF-8 / NOMEM. */
static json_t *kv_array(const cp_mlflow_kv_t *kv, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        json_t *e = json_pack("{s:s,s:s}", "key", kv[i].key ? kv[i].key : "", "value",
                              kv[i].value ? kv[i].value : "");
        if (!e || json_array_append_new(a, e) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

cp_rest_code_t cp_mlflow_run_create(cp_mlflow_t *m, const cp_mlflow_run_opts_t *opts,
                                    cp_mlflow_run_t **out, cp_rest_error_t *err)
{
    const char *what = "create run";
    if (!m || !opts || !out)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "%s: missing argument", what);
    *out = NULL;
    if (need(opts->experiment_id, "experiment_id", err, what))
        return CP_REST_ERR_INVALID_ARG;
    if (opts->n_tags && !opts->tags)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "%s: tags is NULL", what);
    json_t *tags = kv_array(opts->tags, opts->n_tags);
    if (tags && opts->parent_run_id && *opts->parent_run_id) {
        cp_mlflow_kv_t p = {CP_MLFLOW_TAG_PARENT_RUN_ID, opts->parent_run_id};
        json_t *one = kv_array(&p, 1);
        if (!one || json_array_extend(tags, one) != 0) {
            json_decref(tags);
            tags = NULL;
        }
        json_decref(one);
    }
    int64_t start = opts->start_time_ms ? opts->start_time_ms : cp_rest_now_ms();
    json_t *body = tags ? json_pack("{s:s,s:I,s:o}", "experiment_id", opts->experiment_id,
                                    "start_time", (json_int_t)start, "tags", tags)
                        : NULL;
    body = cp_rest_json_set_str(body, "run_name", opts->run_name);
    if (!body)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG,
                            "%s: a tag or the run name is not valid UTF-8", what);
    json_t *resp;
    cp_rest_code_t rc =
        cp_mlflow_call(m, "POST", MLFLOW_API "/runs/create", body, &resp, err, what);
    json_decref(body);
    if (rc == CP_REST_OK)
        rc = wrap_run(resp, out, err, what);
    if (rc == CP_REST_OK)
        cp_log_info("mlflow.run.created", "run_id=%s experiment_id=%s parent=%s",
                    cp_mlflow_run_id(*out), opts->experiment_id,
                    opts->parent_run_id ? opts->parent_run_id : "-");
    return rc;
}

cp_rest_code_t cp_mlflow_run_get(cp_mlflow_t *m, const char *run_id, cp_mlflow_run_t **out,
                                 cp_rest_error_t *err)
{
    const char *what = "get run";
    if (!m || !out)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "%s: missing argument", what);
    *out = NULL;
    if (need(run_id, "run_id", err, what))
        return CP_REST_ERR_INVALID_ARG;
    const char *kv[] = {"run_id", run_id, NULL};
    json_t *resp;
    cp_rest_code_t rc = cp_mlflow_get(m, MLFLOW_API "/runs/get", kv, &resp, err, what);
    if (rc == CP_REST_OK)
        rc = wrap_run(resp, out, err, what);
    return rc;
}

cp_rest_code_t cp_mlflow_run_update(cp_mlflow_t *m, const char *run_id,
                                    cp_mlflow_run_status_t status, int64_t end_time_ms,
                                    const char *run_name, cp_rest_error_t *err)
{
    const char *what = "update run";
    if (!m)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "%s: missing argument", what);
    if (need(run_id, "run_id", err, what))
        return CP_REST_ERR_INVALID_ARG;
    if ((unsigned)status >= CP_MLFLOW_RUN_UNKNOWN)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "%s: invalid status %d", what,
                            (int)status);
    json_t *body =
        json_pack("{s:s,s:s}", "run_id", run_id, "status", cp_mlflow_run_status_name(status));
    if (body && end_time_ms)
        json_object_set_new(body, "end_time", json_integer((json_int_t)end_time_ms));
    body = cp_rest_json_set_str(body, "run_name", run_name);
    if (!body)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "%s: invalid UTF-8", what);
    cp_rest_code_t rc = cp_mlflow_call(m, "POST", MLFLOW_API "/runs/update", body, NULL, err, what);
    json_decref(body);
    if (rc == CP_REST_OK)
        cp_log_info("mlflow.run.updated", "run_id=%s status=%s", run_id,
                    cp_mlflow_run_status_name(status));
    return rc;
}

cp_rest_code_t cp_mlflow_run_terminate(cp_mlflow_t *m, const char *run_id,
                                       cp_mlflow_run_status_t status, cp_rest_error_t *err)
{
    if (status != CP_MLFLOW_RUN_FINISHED && status != CP_MLFLOW_RUN_FAILED &&
        status != CP_MLFLOW_RUN_KILLED)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG,
                            "terminate run: status must be FINISHED, FAILED or KILLED");
    return cp_mlflow_run_update(m, run_id, status, cp_rest_now_ms(), NULL, err);
}

cp_rest_code_t cp_mlflow_run_delete(cp_mlflow_t *m, const char *run_id, cp_rest_error_t *err)
{
    const char *what = "delete run";
    if (!m)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "%s: missing argument", what);
    if (need(run_id, "run_id", err, what))
        return CP_REST_ERR_INVALID_ARG;
    json_t *body = json_pack("{s:s}", "run_id", run_id);
    if (!body)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "%s: invalid UTF-8", what);
    cp_rest_code_t rc = cp_mlflow_call(m, "POST", MLFLOW_API "/runs/delete", body, NULL, err, what);
    json_decref(body);
    return rc;
}

void cp_mlflow_run_destroy(cp_mlflow_run_t *r)
{
    if (!r)
        return;
    json_decref(r->run);
    free(r);
}

const char *cp_mlflow_run_id(const cp_mlflow_run_t *r)
{
    return r ? cp_rest_json_str0(r->info, "run_id") : "";
}

const char *cp_mlflow_run_experiment_id(const cp_mlflow_run_t *r)
{
    return r ? cp_rest_json_str0(r->info, "experiment_id") : "";
}

const char *cp_mlflow_run_name(const cp_mlflow_run_t *r)
{
    return r ? cp_rest_json_str0(r->info, "run_name") : "";
}

const char *cp_mlflow_run_user_id(const cp_mlflow_run_t *r)
{
    return r ? cp_rest_json_str0(r->info, "user_id") : "";
}

cp_mlflow_run_status_t cp_mlflow_run_status(const cp_mlflow_run_t *r)
{
    const char *s = r ? cp_rest_json_str(r->info, "status") : NULL;
    for (int i = 0; s && i < CP_MLFLOW_RUN_UNKNOWN; i++)
        if (strcmp(s, g_status_names[i]) == 0)
            return (cp_mlflow_run_status_t)i;
    return CP_MLFLOW_RUN_UNKNOWN;
}

int64_t cp_mlflow_run_start_time_ms(const cp_mlflow_run_t *r)
{
    return r ? cp_rest_json_i64(r->info, "start_time", 0) : 0;
}

int64_t cp_mlflow_run_end_time_ms(const cp_mlflow_run_t *r)
{
    return r ? cp_rest_json_i64(r->info, "end_time", 0) : 0;
}

const char *cp_mlflow_run_artifact_uri(const cp_mlflow_run_t *r)
{
    return r ? cp_rest_json_str0(r->info, "artifact_uri") : "";
}

const char *cp_mlflow_run_lifecycle_stage(const cp_mlflow_run_t *r)
{
    return r ? cp_rest_json_str0(r->info, "lifecycle_stage") : "";
}

const char *cp_mlflow_run_parent_id(const cp_mlflow_run_t *r)
{
    return cp_mlflow_run_tag(r, CP_MLFLOW_TAG_PARENT_RUN_ID);
}

size_t cp_mlflow_run_param_count(const cp_mlflow_run_t *r)
{
    return r ? json_array_size(r->params) : 0;
}

bool cp_mlflow_run_param_at(const cp_mlflow_run_t *r, size_t i, cp_mlflow_kv_t *out)
{
    return r && out && cp_rest_json_kv_at(r->params, i, &out->key, &out->value);
}

const char *cp_mlflow_run_param(const cp_mlflow_run_t *r, const char *key)
{
    return r && key ? cp_rest_json_kv_lookup(r->params, key) : NULL;
}

size_t cp_mlflow_run_tag_count(const cp_mlflow_run_t *r)
{
    return r ? json_array_size(r->tags) : 0;
}

bool cp_mlflow_run_tag_at(const cp_mlflow_run_t *r, size_t i, cp_mlflow_kv_t *out)
{
    return r && out && cp_rest_json_kv_at(r->tags, i, &out->key, &out->value);
}

const char *cp_mlflow_run_tag(const cp_mlflow_run_t *r, const char *key)
{
    return r && key ? cp_rest_json_kv_lookup(r->tags, key) : NULL;
}

size_t cp_mlflow_run_metric_count(const cp_mlflow_run_t *r)
{
    return r ? json_array_size(r->metrics) : 0;
}

bool cp_mlflow_run_metric_at(const cp_mlflow_run_t *r, size_t i, cp_mlflow_metric_t *out)
{
    const json_t *e = r ? json_array_get(r->metrics, i) : NULL;
    if (!e || !out)
        return false;
    out->key = cp_rest_json_str0(e, "key");
    if (!cp_rest_json_value_double(json_object_get(e, "value"), &out->value))
        out->value = 0.0;
    out->timestamp_ms = cp_rest_json_i64(e, "timestamp", 0);
    out->step = cp_rest_json_i64(e, "step", 0);
    return true;
}
