/* Private parts of the MLflow client, shared by its source files and reached
 * by the unit tests. */
#ifndef CARPRICE_MLFLOW_INTERNAL_H
#define CARPRICE_MLFLOW_INTERNAL_H

#include "carprice/mlflow.h"
#include "rest_internal.h"

#define MLFLOW_API           "/api/2.0/mlflow"
#define MLFLOW_ARTIFACTS_API "/api/2.0/mlflow-artifacts/artifacts"

struct cp_mlflow_s {
    cp_http_t *http;
};

/* Turns a non-2xx MLflow answer into an error: MLflow's JSON error body
 * ({"error_code": "...", "message": "..."}) decides the code when present,
 * the HTTP status otherwise. Returns the code. */
cp_rest_code_t cp_mlflow_error_from_response(long status, const char *body, size_t len,
                                             cp_rest_error_t *err, const char *what);

/* Sends a request to an MLflow endpoint. path starts with '/' (relative to the
 * tracking URI, already escaped, including any query). body (JSON, may be
 * NULL) is serialised; out (may be NULL) receives the parsed JSON object. */
cp_rest_code_t cp_mlflow_call(cp_mlflow_t *m, const char *method, const char *path,
                              const json_t *body, json_t **out, cp_rest_error_t *err,
                              const char *what);

/* GET endpoint?k=v&... with escaped values; kv is pairs ending with a NULL
 * key, NULL values are skipped. */
cp_rest_code_t cp_mlflow_get(cp_mlflow_t *m, const char *endpoint, const char *const *kv,
                             json_t **out, cp_rest_error_t *err, const char *what);

/* Position of cp_mlflow_batch_next_body in a batch. */
typedef struct {
    size_t metric;
    size_t param;
    size_t tag;
} cp_mlflow_batch_cursor_t;

/* Serialises the next log-batch request body for run_id starting at cur and
 * advances cur, respecting the count limits and max_bytes. *body is NULL when
 * the batch is exhausted (malloc'ed otherwise). */
cp_rest_code_t cp_mlflow_batch_next_body(const cp_mlflow_batch_t *b, const char *run_id,
                                         size_t max_bytes, cp_mlflow_batch_cursor_t *cur,
                                         char **body, cp_rest_error_t *err);

/* Where a run's artifacts live on the tracking server's proxy. service is
 * the absolute URL of .../api/2.0/mlflow-artifacts/artifacts and root the
 * run's path below it (e.g. "1/<run id>/artifacts"); both malloc'ed.
 * CP_REST_ERR_UNSUPPORTED for artifact URIs the proxy does not serve. */
cp_rest_code_t cp_mlflow_artifact_location(const char *artifact_uri, const char *tracking_uri,
                                           char **service, char **root, cp_rest_error_t *err);

/* Normalises an artifact path: strips leading/trailing '/', collapses "//",
 * rejects "." and ".." segments. NULL or "" gives "". malloc'ed in *out. */
cp_rest_code_t cp_mlflow_artifact_path_clean(const char *path, char **out, cp_rest_error_t *err);

/* Wraps parsed JSON objects into result objects (they take a reference). */
cp_mlflow_run_t *cp_mlflow_run_wrap(json_t *run);
cp_mlflow_model_version_t *cp_mlflow_model_version_wrap(json_t *mv);

#endif
