/* The model registry: registered models, versions, aliases, search. */
#include "mlflow_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carprice/log.h"

static cp_rest_code_t need(const char *s, const char *name, cp_rest_error_t *err, const char *what)
{
    if (!s || !*s)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "%s: %s is required", what, name);
    return CP_REST_OK;
}

static cp_rest_code_t bad_utf8(cp_rest_error_t *err, const char *what)
{
    return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "%s: an argument is not valid UTF-8", what);
}

/* The object member key of resp as a new reference; resp is released. */
static cp_rest_code_t member(json_t *resp, const char *key, json_t **out, cp_rest_error_t *err,
                             const char *what)
{
    json_t *v = json_object_get(resp, key);
    *out = NULL;
    if (!json_is_object(v)) {
        json_decref(resp);
        return cp_rest_fail(err, CP_REST_ERR_PROTOCOL, "%s: response has no \"%s\" object", what,
                            key);
    }
    *out = json_incref(v);
    json_decref(resp);
    return CP_REST_OK;
}

/* ---- registered models ---- */

struct cp_mlflow_model_s {
    json_t *rm;
};

static cp_rest_code_t wrap_model(json_t *resp, cp_mlflow_model_t **out, cp_rest_error_t *err,
                                 const char *what)
{
    json_t *rm;
    cp_rest_code_t rc = member(resp, "registered_model", &rm, err, what);
    if (rc != CP_REST_OK)
        return rc;
    if (!out) {
        json_decref(rm);
        return CP_REST_OK;
    }
    *out = calloc(1, sizeof **out);
    if (!*out) {
        json_decref(rm);
        return cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
    }
    (*out)->rm = rm;
    return CP_REST_OK;
}

cp_rest_code_t cp_mlflow_model_create(cp_mlflow_t *m, const char *name, const char *description,
                                      cp_mlflow_model_t **out, cp_rest_error_t *err)
{
    const char *what = "create registered model";
    if (out)
        *out = NULL;
    if (!m)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "%s: missing argument", what);
    if (need(name, "name", err, what))
        return CP_REST_ERR_INVALID_ARG;
    json_t *body =
        cp_rest_json_set_str(json_pack("{s:s}", "name", name), "description", description);
    if (!body)
        return bad_utf8(err, what);
    json_t *resp;
    cp_rest_code_t rc =
        cp_mlflow_call(m, "POST", MLFLOW_API "/registered-models/create", body, &resp, err, what);
    json_decref(body);
    if (rc == CP_REST_OK) {
        cp_log_info("mlflow.model.created", "name=\"%s\"", name);
        rc = wrap_model(resp, out, err, what);
    }
    return rc;
}

cp_rest_code_t cp_mlflow_model_get(cp_mlflow_t *m, const char *name, cp_mlflow_model_t **out,
                                   cp_rest_error_t *err)
{
    const char *what = "get registered model";
    if (out)
        *out = NULL;
    if (!m || !out)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "%s: missing argument", what);
    if (need(name, "name", err, what))
        return CP_REST_ERR_INVALID_ARG;
    const char *kv[] = {"name", name, NULL};
    json_t *resp;
    cp_rest_code_t rc = cp_mlflow_get(m, MLFLOW_API "/registered-models/get", kv, &resp, err, what);
    if (rc == CP_REST_OK)
        rc = wrap_model(resp, out, err, what);
    return rc;
}

cp_rest_code_t cp_mlflow_model_get_or_create(cp_mlflow_t *m, const char *name,
                                             cp_mlflow_model_t **out, cp_rest_error_t *err)
{
    cp_rest_code_t rc = cp_mlflow_model_get(m, name, out, err);
    if (rc != CP_REST_ERR_NOT_FOUND)
        return rc;
    rc = cp_mlflow_model_create(m, name, NULL, out, err);
    if (rc != CP_REST_ERR_EXISTS)
        return rc;
    return cp_mlflow_model_get(m, name, out, err);
}

cp_rest_code_t cp_mlflow_model_delete(cp_mlflow_t *m, const char *name, cp_rest_error_t *err)
{
    const char *what = "delete registered model";
    if (!m)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "%s: missing argument", what);
    if (need(name, "name", err, what))
        return CP_REST_ERR_INVALID_ARG;
    json_t *body = json_pack("{s:s}", "name", name);
    if (!body)
        return bad_utf8(err, what);
    cp_rest_code_t rc =
        cp_mlflow_call(m, "DELETE", MLFLOW_API "/registered-models/delete", body, NULL, err, what);
    json_decref(body);
    if (rc == CP_REST_OK)
        cp_log_info("mlflow.model.deleted", "name=\"%s\"", name);
    return rc;
}

void cp_mlflow_model_destroy(cp_mlflow_model_t *rm)
{
    if (!rm)
        return;
    json_decref(rm->rm);
    free(rm);
}

const char *cp_mlflow_model_name(const cp_mlflow_model_t *rm)
{
    return rm ? cp_rest_json_str0(rm->rm, "name") : "";
}

const char *cp_mlflow_model_description(const cp_mlflow_model_t *rm)
{
    return rm ? cp_rest_json_str0(rm->rm, "description") : "";
}

int64_t cp_mlflow_model_creation_time_ms(const cp_mlflow_model_t *rm)
{
    return rm ? cp_rest_json_i64(rm->rm, "creation_timestamp", 0) : 0;
}

int64_t cp_mlflow_model_updated_time_ms(const cp_mlflow_model_t *rm)
{
    return rm ? cp_rest_json_i64(rm->rm, "last_updated_timestamp", 0) : 0;
}

size_t cp_mlflow_model_alias_count(const cp_mlflow_model_t *rm)
{
    return rm ? json_array_size(json_object_get(rm->rm, "aliases")) : 0;
}

bool cp_mlflow_model_alias_at(const cp_mlflow_model_t *rm, size_t i, cp_mlflow_kv_t *out)
{
    const json_t *a = rm ? json_array_get(json_object_get(rm->rm, "aliases"), i) : NULL;
    if (!a || !out)
        return false;
    out->key = cp_rest_json_str0(a, "alias");
    out->value = cp_rest_json_str0(a, "version");
    return true;
}

/* ---- model versions ---- */

struct cp_mlflow_model_version_s {
    json_t *mv;
};

cp_mlflow_model_version_t *cp_mlflow_model_version_wrap(json_t *mv)
{
    cp_mlflow_model_version_t *v = calloc(1, sizeof *v);
    if (v)
        v->mv = json_incref(mv);
    return v;
}

static cp_rest_code_t wrap_version(json_t *resp, cp_mlflow_model_version_t **out,
                                   cp_rest_error_t *err, const char *what)
{
    json_t *mv;
    cp_rest_code_t rc = member(resp, "model_version", &mv, err, what);
    if (rc != CP_REST_OK)
        return rc;
    if (!cp_rest_json_str(mv, "version") && !json_is_integer(json_object_get(mv, "version"))) {
        json_decref(mv);
        return cp_rest_fail(err, CP_REST_ERR_PROTOCOL, "%s: model version has no version", what);
    }
    if (out) {
        *out = cp_mlflow_model_version_wrap(mv);
        if (!*out)
            rc = cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
    }
    json_decref(mv);
    return rc;
}

cp_rest_code_t cp_mlflow_model_version_create(cp_mlflow_t *m,
                                              const cp_mlflow_model_version_opts_t *opts,
                                              cp_mlflow_model_version_t **out, cp_rest_error_t *err)
{
    const char *what = "create model version";
    if (out)
        *out = NULL;
    if (!m || !opts)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "%s: missing argument", what);
    if (need(opts->name, "name", err, what))
        return CP_REST_ERR_INVALID_ARG;
    if (opts->n_tags && !opts->tags)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "%s: tags is NULL", what);
    char *source = NULL;
    if (opts->source && *opts->source) {
        source = strdup(opts->source);
    } else {
        if (need(opts->run_id, "run_id (or source)", err, what))
            return CP_REST_ERR_INVALID_ARG;
        char *rel;
        cp_rest_code_t rc = cp_mlflow_artifact_path_clean(opts->artifact_path, &rel, err);
        if (rc != CP_REST_OK)
            return rc;
        cp_mlflow_run_t *run;
        rc = cp_mlflow_run_get(m, opts->run_id, &run, err);
        if (rc != CP_REST_OK) {
            free(rel);
            return rc;
        }
        const char *uri = cp_mlflow_run_artifact_uri(run);
        size_t n = strlen(uri) + strlen(rel) + 2;
        source = malloc(n);
        if (source)
            snprintf(source, n, "%s%s%s", uri, *rel ? "/" : "", rel);
        cp_mlflow_run_destroy(run);
        free(rel);
    }
    if (!source)
        return cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
    json_t *tags = json_array();
    for (size_t i = 0; tags && i < opts->n_tags; i++) {
        json_t *t = json_pack("{s:s,s:s}", "key", opts->tags[i].key ? opts->tags[i].key : "",
                              "value", opts->tags[i].value ? opts->tags[i].value : "");
        if (!t || json_array_append_new(tags, t) != 0) {
            json_decref(tags);
            tags = NULL;
        }
    }
    json_t *body =
        tags ? json_pack("{s:s,s:s,s:o}", "name", opts->name, "source", source, "tags", tags)
             : NULL;
    body = cp_rest_json_set_str(body, "run_id", opts->run_id);
    body = cp_rest_json_set_str(body, "description", opts->description);
    if (!body) {
        free(source);
        return bad_utf8(err, what);
    }
    json_t *resp;
    cp_rest_code_t rc =
        cp_mlflow_call(m, "POST", MLFLOW_API "/model-versions/create", body, &resp, err, what);
    json_decref(body);
    cp_mlflow_model_version_t *mv = NULL;
    if (rc == CP_REST_OK)
        rc = wrap_version(resp, &mv, err, what);
    if (rc == CP_REST_OK)
        cp_log_info("mlflow.model_version.created",
                    "name=\"%s\" version=%s status=%s source=\"%s\"", opts->name,
                    cp_mlflow_model_version_version(mv), cp_mlflow_model_version_status(mv),
                    source);
    free(source);
    if (out)
        *out = mv;
    else
        cp_mlflow_model_version_destroy(mv);
    return rc;
}

cp_rest_code_t cp_mlflow_model_version_get(cp_mlflow_t *m, const char *name, const char *version,
                                           cp_mlflow_model_version_t **out, cp_rest_error_t *err)
{
    const char *what = "get model version";
    if (out)
        *out = NULL;
    if (!m || !out)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "%s: missing argument", what);
    if (need(name, "name", err, what) || need(version, "version", err, what))
        return CP_REST_ERR_INVALID_ARG;
    const char *kv[] = {"name", name, "version", version, NULL};
    json_t *resp;
    cp_rest_code_t rc = cp_mlflow_get(m, MLFLOW_API "/model-versions/get", kv, &resp, err, what);
    if (rc == CP_REST_OK)
        rc = wrap_version(resp, out, err, what);
    return rc;
}

cp_rest_code_t cp_mlflow_model_version_wait_ready(cp_mlflow_t *m, const char *name,
                                                  const char *version, long timeout_ms,
                                                  cp_mlflow_model_version_t **out,
                                                  cp_rest_error_t *err)
{
    if (out)
        *out = NULL;
    double deadline = cp_rest_mono_ms() + (double)(timeout_ms > 0 ? timeout_ms : 0);
    long wait = 100;
    for (;;) {
        cp_mlflow_model_version_t *mv;
        cp_rest_code_t rc = cp_mlflow_model_version_get(m, name, version, &mv, err);
        if (rc != CP_REST_OK)
            return rc;
        const char *status = cp_mlflow_model_version_status(mv);
        if (strcmp(status, "READY") == 0) {
            if (out)
                *out = mv;
            else
                cp_mlflow_model_version_destroy(mv);
            return CP_REST_OK;
        }
        if (strcmp(status, "FAILED_REGISTRATION") == 0) {
            const char *msg = cp_mlflow_model_version_status_message(mv);
            rc =
                cp_rest_fail(err, CP_REST_ERR_FAILED,
                             "model %s version %s failed registration: %.300s", name, version, msg);
            cp_rest_error_detail(err, 200, status, msg, false);
            cp_mlflow_model_version_destroy(mv);
            return rc;
        }
        char last[64];
        snprintf(last, sizeof last, "%s", status);
        cp_mlflow_model_version_destroy(mv);
        double left = deadline - cp_rest_mono_ms();
        if (left <= 0)
            return cp_rest_fail(err, CP_REST_ERR_TIMEOUT,
                                "model %s version %s still %s after %ld ms", name, version, last,
                                timeout_ms);
        cp_rest_sleep_ms(wait < left ? wait : (long)left + 1);
        if (wait < 2000)
            wait *= 2;
    }
}

cp_rest_code_t cp_mlflow_model_version_set_tag(cp_mlflow_t *m, const char *name,
                                               const char *version, const char *key,
                                               const char *value, cp_rest_error_t *err)
{
    const char *what = "set model version tag";
    if (!m)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "%s: missing argument", what);
    if (need(name, "name", err, what) || need(version, "version", err, what) ||
        need(key, "key", err, what))
        return CP_REST_ERR_INVALID_ARG;
    json_t *body = json_pack("{s:s,s:s,s:s,s:s}", "name", name, "version", version, "key", key,
                             "value", value ? value : "");
    if (!body)
        return bad_utf8(err, what);
    cp_rest_code_t rc =
        cp_mlflow_call(m, "POST", MLFLOW_API "/model-versions/set-tag", body, NULL, err, what);
    json_decref(body);
    return rc;
}

cp_rest_code_t cp_mlflow_model_version_delete(cp_mlflow_t *m, const char *name, const char *version,
                                              cp_rest_error_t *err)
{
    const char *what = "delete model version";
    if (!m)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "%s: missing argument", what);
    if (need(name, "name", err, what) || need(version, "version", err, what))
        return CP_REST_ERR_INVALID_ARG;
    json_t *body = json_pack("{s:s,s:s}", "name", name, "version", version);
    if (!body)
        return bad_utf8(err, what);
    cp_rest_code_t rc =
        cp_mlflow_call(m, "DELETE", MLFLOW_API "/model-versions/delete", body, NULL, err, what);
    json_decref(body);
    if (rc == CP_REST_OK)
        cp_log_info("mlflow.model_version.deleted", "name=\"%s\" version=%s", name, version);
    return rc;
}

void cp_mlflow_model_version_destroy(cp_mlflow_model_version_t *mv)
{
    if (!mv)
        return;
    json_decref(mv->mv);
    free(mv);
}

const char *cp_mlflow_model_version_name(const cp_mlflow_model_version_t *mv)
{
    return mv ? cp_rest_json_str0(mv->mv, "name") : "";
}

const char *cp_mlflow_model_version_version(const cp_mlflow_model_version_t *mv)
{
    return mv ? cp_rest_json_str0(mv->mv, "version") : "";
}

const char *cp_mlflow_model_version_source(const cp_mlflow_model_version_t *mv)
{
    return mv ? cp_rest_json_str0(mv->mv, "source") : "";
}

const char *cp_mlflow_model_version_run_id(const cp_mlflow_model_version_t *mv)
{
    return mv ? cp_rest_json_str0(mv->mv, "run_id") : "";
}

const char *cp_mlflow_model_version_status(const cp_mlflow_model_version_t *mv)
{
    return mv ? cp_rest_json_str0(mv->mv, "status") : "";
}

const char *cp_mlflow_model_version_status_message(const cp_mlflow_model_version_t *mv)
{
    return mv ? cp_rest_json_str0(mv->mv, "status_message") : "";
}

const char *cp_mlflow_model_version_description(const cp_mlflow_model_version_t *mv)
{
    return mv ? cp_rest_json_str0(mv->mv, "description") : "";
}

int64_t cp_mlflow_model_version_creation_time_ms(const cp_mlflow_model_version_t *mv)
{
    return mv ? cp_rest_json_i64(mv->mv, "creation_timestamp", 0) : 0;
}

size_t cp_mlflow_model_version_tag_count(const cp_mlflow_model_version_t *mv)
{
    return mv ? json_array_size(json_object_get(mv->mv, "tags")) : 0;
}

bool cp_mlflow_model_version_tag_at(const cp_mlflow_model_version_t *mv, size_t i,
                                    cp_mlflow_kv_t *out)
{
    return mv && out &&
           cp_rest_json_kv_at(json_object_get(mv->mv, "tags"), i, &out->key, &out->value);
}

const char *cp_mlflow_model_version_tag(const cp_mlflow_model_version_t *mv, const char *key)
{
    return mv && key ? cp_rest_json_kv_lookup(json_object_get(mv->mv, "tags"), key) : NULL;
}

size_t cp_mlflow_model_version_alias_count(const cp_mlflow_model_version_t *mv)
{
    return mv ? json_array_size(json_object_get(mv->mv, "aliases")) : 0;
}

const char *cp_mlflow_model_version_alias_at(const cp_mlflow_model_version_t *mv, size_t i)
{
    const json_t *a = mv ? json_array_get(json_object_get(mv->mv, "aliases"), i) : NULL;
    return json_is_string(a) ? json_string_value(a) : NULL;
}

/* ---- aliases ---- */

cp_rest_code_t cp_mlflow_model_alias_set(cp_mlflow_t *m, const char *name, const char *alias,
                                         const char *version, cp_rest_error_t *err)
{
    const char *what = "set model alias";
    if (!m)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "%s: missing argument", what);
    if (need(name, "name", err, what) || need(alias, "alias", err, what) ||
        need(version, "version", err, what))
        return CP_REST_ERR_INVALID_ARG;
    json_t *body = json_pack("{s:s,s:s,s:s}", "name", name, "alias", alias, "version", version);
    if (!body)
        return bad_utf8(err, what);
    cp_rest_code_t rc =
        cp_mlflow_call(m, "POST", MLFLOW_API "/registered-models/alias", body, NULL, err, what);
    json_decref(body);
    if (rc == CP_REST_OK)
        cp_log_info("mlflow.alias.set", "name=\"%s\" alias=%s version=%s", name, alias, version);
    return rc;
}

cp_rest_code_t cp_mlflow_model_alias_delete(cp_mlflow_t *m, const char *name, const char *alias,
                                            cp_rest_error_t *err)
{
    const char *what = "delete model alias";
    if (!m)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "%s: missing argument", what);
    if (need(name, "name", err, what) || need(alias, "alias", err, what))
        return CP_REST_ERR_INVALID_ARG;
    json_t *body = json_pack("{s:s,s:s}", "name", name, "alias", alias);
    if (!body)
        return bad_utf8(err, what);
    cp_rest_code_t rc =
        cp_mlflow_call(m, "DELETE", MLFLOW_API "/registered-models/alias", body, NULL, err, what);
    json_decref(body);
    if (rc == CP_REST_OK)
        cp_log_info("mlflow.alias.deleted", "name=\"%s\" alias=%s", name, alias);
    return rc;
}

cp_rest_code_t cp_mlflow_model_alias_get(cp_mlflow_t *m, const char *name, const char *alias,
                                         cp_mlflow_model_version_t **out, cp_rest_error_t *err)
{
    const char *what = "get model alias";
    if (out)
        *out = NULL;
    if (!m || !out)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "%s: missing argument", what);
    if (need(name, "name", err, what) || need(alias, "alias", err, what))
        return CP_REST_ERR_INVALID_ARG;
    const char *kv[] = {"name", name, "alias", alias, NULL};
    json_t *resp;
    /* The server's message decides the code below, so read it even when the
     * caller does not want the detail. */
    cp_rest_error_t *e = err ? err : cp_rest_error_new();
    cp_rest_code_t rc = cp_mlflow_get(m, MLFLOW_API "/registered-models/alias", kv, &resp, e, what);
    if (rc == CP_REST_OK)
        rc = wrap_version(resp, out, e, what);
    /* MLflow 3 answers a missing alias of an existing model (never set,
     * deleted, or dropped with its version) with 400 INVALID_PARAMETER_VALUE
     * "Registered model alias X not found."; callers need to tell that from
     * a bad request. */
    if (rc == CP_REST_ERR_BAD_REQUEST && strstr(cp_rest_error_remote_message(e), "not found")) {
        char code[128], msg[1024];
        long status = cp_rest_error_http_status(e);
        snprintf(code, sizeof code, "%s", cp_rest_error_remote_code(e));
        snprintf(msg, sizeof msg, "%s", cp_rest_error_remote_message(e));
        rc = cp_rest_fail(e, CP_REST_ERR_NOT_FOUND,
                          "%s: model '%s' has no alias '%s' (never set, deleted, or its version "
                          "was deleted)",
                          what, name, alias);
        cp_rest_error_detail(e, status, code, msg, false);
    }
    if (e != err)
        cp_rest_error_destroy(e);
    return rc;
}

/* ---- search ---- */

struct cp_mlflow_model_version_list_s {
    cp_mlflow_model_version_t *v;
    size_t n;
};

void cp_mlflow_model_version_list_destroy(cp_mlflow_model_version_list_t *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        json_decref(l->v[i].mv);
    free(l->v);
    free(l);
}

size_t cp_mlflow_model_version_list_count(const cp_mlflow_model_version_list_t *l)
{
    return l ? l->n : 0;
}

const cp_mlflow_model_version_t *
cp_mlflow_model_version_list_at(const cp_mlflow_model_version_list_t *l, size_t i)
{
    return l && i < l->n ? &l->v[i] : NULL;
}

/* Versions per page: the server caps max_results; 1000 keeps a page small. */
#define SEARCH_PAGE 1000

cp_rest_code_t cp_mlflow_model_version_search(cp_mlflow_t *m, const char *filter,
                                              const char *order_by, size_t max_results,
                                              cp_mlflow_model_version_list_t **out,
                                              cp_rest_error_t *err)
{
    const char *what = "search model versions";
    if (!m || !out)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "%s: missing argument", what);
    *out = NULL;
    cp_mlflow_model_version_list_t *l = calloc(1, sizeof *l);
    if (!l)
        return cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
    char *token = NULL;
    cp_rest_code_t rc = CP_REST_OK;
    size_t cap = 0;
    for (int page = 0;; page++) {
        size_t want = SEARCH_PAGE;
        if (max_results && max_results - l->n < want)
            want = max_results - l->n;
        char nbuf[32];
        snprintf(nbuf, sizeof nbuf, "%zu", want);
        const char *kv[] = {"filter", filter,       "max_results", nbuf, "order_by",
                            order_by, "page_token", token,         NULL};
        json_t *resp;
        rc = cp_mlflow_get(m, MLFLOW_API "/model-versions/search", kv, &resp, err, what);
        free(token);
        token = NULL;
        if (rc != CP_REST_OK)
            break;
        json_t *arr = json_object_get(resp, "model_versions");
        size_t n = json_array_size(arr);
        if (arr && !json_is_array(arr)) {
            json_decref(resp);
            rc =
                cp_rest_fail(err, CP_REST_ERR_PROTOCOL, "%s: model_versions is not an array", what);
            break;
        }
        if (l->n + n > cap) {
            size_t nc = cap ? cap : 16;
            while (nc < l->n + n)
                nc *= 2;
            cp_mlflow_model_version_t *p = realloc(l->v, nc * sizeof *p);
            if (!p) {
                json_decref(resp);
                rc = cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
                break;
            }
            l->v = p;
            cap = nc;
        }
        for (size_t i = 0; i < n && (!max_results || l->n < max_results); i++) {
            json_t *mv = json_array_get(arr, i);
            if (json_is_object(mv))
                l->v[l->n++].mv = json_incref(mv);
        }
        const char *next = cp_rest_json_str(resp, "next_page_token");
        if (next && *next && n > 0 && (!max_results || l->n < max_results)) {
            token = strdup(next);
            if (!token)
                rc = cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
        }
        json_decref(resp);
        if (rc != CP_REST_OK || !token)
            break;
        if (page > 100000) {
            rc = cp_rest_fail(err, CP_REST_ERR_PROTOCOL, "%s: server keeps returning pages", what);
            break;
        }
    }
    free(token);
    if (rc != CP_REST_OK) {
        cp_mlflow_model_version_list_destroy(l);
        return rc;
    }
    *out = l;
    return CP_REST_OK;
}
