/* libFuzzer target for the REST clients' parsers of server bytes: MLflow and
 * WebHDFS JSON bodies, error bodies, listings, artifact URIs and paths. The
 * first input byte picks the parser; the rest is the body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mlflow_internal.h"
#include "webhdfs_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk_run(json_t *run)
{
    cp_mlflow_run_t *r = cp_mlflow_run_wrap(run);
    if (!r)
        return;
    (void)cp_mlflow_run_id(r);
    (void)cp_mlflow_run_status(r);
    (void)cp_mlflow_run_end_time_ms(r);
    (void)cp_mlflow_run_parent_id(r);
    cp_mlflow_kv_t kv;
    for (size_t i = 0; cp_mlflow_run_param_at(r, i, &kv); i++)
        (void)cp_mlflow_run_param(r, kv.key);
    for (size_t i = 0; cp_mlflow_run_tag_at(r, i, &kv); i++)
        (void)strlen(kv.value);
    cp_mlflow_metric_t m;
    for (size_t i = 0; cp_mlflow_run_metric_at(r, i, &m); i++)
        (void)m.value;
    cp_mlflow_run_destroy(r);
}

static void walk_version(json_t *mv)
{
    cp_mlflow_model_version_t *v = cp_mlflow_model_version_wrap(mv);
    if (!v)
        return;
    (void)cp_mlflow_model_version_version(v);
    (void)cp_mlflow_model_version_tag(v, "hdfs_path");
    cp_mlflow_kv_t kv;
    for (size_t i = 0; cp_mlflow_model_version_tag_at(v, i, &kv); i++)
        (void)strlen(kv.key);
    for (size_t i = 0; i < cp_mlflow_model_version_alias_count(v); i++)
        (void)cp_mlflow_model_version_alias_at(v, i);
    cp_mlflow_model_version_destroy(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int which = data[0] % 6;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    char *text = malloc(len + 1); /* NUL-terminated copy for the string parsers */
    if (!text)
        return 0;
    memcpy(text, body, len);
    text[len] = '\0';
    cp_rest_error_t *err = cp_rest_error_new();
    json_t *j = NULL;
    switch (which) {
    case 0:
        cp_mlflow_error_from_response(400 + (long)(len % 200), body, len, err, "fuzz");
        cp_hdfs_error_from_response(404, body, len, err, "fuzz");
        break;
    case 1:
        if (cp_rest_json_parse(body, len, &j, err, "fuzz") == CP_REST_OK) {
            int64_t remaining;
            cp_hdfs_list_t *l = cp_hdfs_list_new();
            if (l)
                cp_hdfs_list_add_page(l, j, &remaining, err);
            cp_hdfs_list_destroy(l);
            cp_hdfs_file_status_free(cp_hdfs_status_from_json(json_object_get(j, "FileStatus")));
        }
        break;
    case 2:
        if (cp_rest_json_parse(body, len, &j, err, "fuzz") == CP_REST_OK) {
            walk_run(json_object_get(j, "run"));
            walk_version(json_object_get(j, "model_version"));
        }
        break;
    case 3: {
        char *svc, *root;
        if (cp_mlflow_artifact_location(text, "http://127.0.0.1:5000/p", &svc, &root, err) ==
            CP_REST_OK) {
            free(svc);
            free(root);
        }
        break;
    }
    case 4: {
        char *p;
        if (cp_mlflow_artifact_path_clean(text, &p, err) == CP_REST_OK)
            free(p);
        (void)cp_rest_utf8_chars(text);
        break;
    }
    default: {
        cp_mlflow_batch_t *b = cp_mlflow_batch_new();
        if (b && cp_mlflow_batch_add_param(b, "k", text, err) == CP_REST_OK) {
            cp_mlflow_batch_cursor_t cur = {0};
            char *out;
            if (cp_mlflow_batch_next_body(b, "r", 100000, &cur, &out, err) == CP_REST_OK)
                free(out);
        }
        cp_mlflow_batch_destroy(b);
        break;
    }
    }
    json_decref(j);
    cp_rest_error_destroy(err);
    free(text);
    return 0;
}
