/* A C client for the MLflow tracking server's REST API (MLflow 3.x):
 * experiments, runs, batched logging, artifacts through the server's artifact
 * proxy (`mlflow server --serve-artifacts`), and the model registry
 * (registered models, versions, aliases).
 *
 * Errors: every fallible call returns a cp_rest_code_t (see carprice/http.h)
 * and fills an optional cp_rest_error_t whose remote code is MLflow's
 * error_code, e.g. "RESOURCE_DOES_NOT_EXIST" (CP_REST_ERR_NOT_FOUND).
 *
 * Ownership: inputs are copied. Objects returned through `**out` belong to the
 * caller (free with their _destroy); strings they return are borrowed for the
 * object's lifetime and are "" rather than NULL when the server sent nothing,
 * except where a comment says NULL.
 *
 * Threads: a cp_mlflow_t is not thread-safe; use one per thread. Result
 * objects are immutable and may be read from any thread. */
#ifndef CARPRICE_MLFLOW_H
#define CARPRICE_MLFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carprice/http.h"

/* The tracking server's limits (mlflow/utils/validation.py). The client
 * splits batches to respect the per-request ones and refuses over-long keys
 * and values, which the server would otherwise silently truncate. Lengths are
 * counted in Unicode characters, as the server does. */
#define CP_MLFLOW_MAX_METRICS_PER_BATCH  1000
#define CP_MLFLOW_MAX_PARAMS_PER_BATCH   100
#define CP_MLFLOW_MAX_TAGS_PER_BATCH     100
#define CP_MLFLOW_MAX_ENTITIES_PER_BATCH 1000
#define CP_MLFLOW_MAX_BATCH_BYTES        1000000
#define CP_MLFLOW_MAX_KEY_CHARS          250
#define CP_MLFLOW_MAX_PARAM_VALUE_CHARS  6000
#define CP_MLFLOW_MAX_TAG_VALUE_CHARS    8000

/* The tag MLflow uses to nest a run under its parent. */
#define CP_MLFLOW_TAG_PARENT_RUN_ID "mlflow.parentRunId"

typedef struct cp_mlflow_s cp_mlflow_t;

typedef struct {
    /* http(s)://host:port[/prefix]. NULL: $MLFLOW_TRACKING_URI, else
     * http://127.0.0.1:5000. */
    const char *tracking_uri;
    /* Credentials. NULL: $MLFLOW_TRACKING_USERNAME / $MLFLOW_TRACKING_PASSWORD
     * (basic auth), else $MLFLOW_TRACKING_TOKEN (bearer). Never logged. */
    const char *username;
    const char *password;
    const char *token;
    /* Transport options. NULL: the defaults of cp_http_options_init adjusted by
     * $MLFLOW_HTTP_REQUEST_TIMEOUT (seconds), $MLFLOW_HTTP_REQUEST_MAX_RETRIES,
     * $MLFLOW_TRACKING_INSECURE_TLS and $MLFLOW_TRACKING_SERVER_CERT_PATH. */
    const cp_http_options_t *http;
} cp_mlflow_config_t;

/* Creates a client. cfg may be NULL (everything from the environment). No
 * request is sent until the first call. */
cp_rest_code_t cp_mlflow_new(const cp_mlflow_config_t *cfg, cp_mlflow_t **out,
                             cp_rest_error_t *err);

/* Frees the client. Accepts NULL. */
void cp_mlflow_destroy(cp_mlflow_t *m);

/* The tracking URI in use, without credentials. Borrowed from m. */
const char *cp_mlflow_tracking_uri(const cp_mlflow_t *m);

/* A key/value pair: a param or a tag. */
typedef struct {
    const char *key;
    const char *value;
} cp_mlflow_kv_t;

/* One metric value. */
typedef struct {
    const char *key;
    double value; /* NaN and infinities are allowed */
    int64_t timestamp_ms;
    int64_t step;
} cp_mlflow_metric_t;

/* ---- experiments ---- */

typedef struct cp_mlflow_experiment_s cp_mlflow_experiment_t;

/* Looks an experiment up by name. CP_REST_ERR_NOT_FOUND when there is none. */
cp_rest_code_t cp_mlflow_experiment_get_by_name(cp_mlflow_t *m, const char *name,
                                                cp_mlflow_experiment_t **out, cp_rest_error_t *err);

/* Returns the experiment called name, creating it when absent (safe against a
 * concurrent creator). artifact_location may be NULL for the server default. */
cp_rest_code_t cp_mlflow_experiment_get_or_create(cp_mlflow_t *m, const char *name,
                                                  const char *artifact_location,
                                                  cp_mlflow_experiment_t **out,
                                                  cp_rest_error_t *err);

/* Marks an experiment and its runs deleted (MLflow's soft delete; the name
 * stays taken until the server's garbage collection). */
cp_rest_code_t cp_mlflow_experiment_delete(cp_mlflow_t *m, const char *experiment_id,
                                           cp_rest_error_t *err);

void cp_mlflow_experiment_destroy(cp_mlflow_experiment_t *e);
const char *cp_mlflow_experiment_id(const cp_mlflow_experiment_t *e);
const char *cp_mlflow_experiment_name(const cp_mlflow_experiment_t *e);
const char *cp_mlflow_experiment_artifact_location(const cp_mlflow_experiment_t *e);
const char *cp_mlflow_experiment_lifecycle_stage(const cp_mlflow_experiment_t *e);

/* ---- runs ---- */

typedef enum {
    CP_MLFLOW_RUN_RUNNING = 0,
    CP_MLFLOW_RUN_SCHEDULED,
    CP_MLFLOW_RUN_FINISHED,
    CP_MLFLOW_RUN_FAILED,
    CP_MLFLOW_RUN_KILLED,
    CP_MLFLOW_RUN_UNKNOWN, /* a status this library does not know */
} cp_mlflow_run_status_t;

/* "RUNNING", "FINISHED", ... (static). */
const char *cp_mlflow_run_status_name(cp_mlflow_run_status_t status);

typedef struct cp_mlflow_run_s cp_mlflow_run_t;

typedef struct {
    const char *experiment_id; /* required */
    const char *run_name;      /* NULL: the server picks one */
    const char *parent_run_id; /* NULL, or nest this run under that one */
    int64_t start_time_ms;     /* 0: now */
    const cp_mlflow_kv_t *tags;
    size_t n_tags;
} cp_mlflow_run_opts_t;

/* Creates a run in state RUNNING. */
cp_rest_code_t cp_mlflow_run_create(cp_mlflow_t *m, const cp_mlflow_run_opts_t *opts,
                                    cp_mlflow_run_t **out, cp_rest_error_t *err);

/* Fetches a run with its params, tags and latest metric values. */
cp_rest_code_t cp_mlflow_run_get(cp_mlflow_t *m, const char *run_id, cp_mlflow_run_t **out,
                                 cp_rest_error_t *err);

/* Sets a run's status; end_time_ms 0 leaves the end time unset; run_name NULL
 * keeps the name. */
cp_rest_code_t cp_mlflow_run_update(cp_mlflow_t *m, const char *run_id,
                                    cp_mlflow_run_status_t status, int64_t end_time_ms,
                                    const char *run_name, cp_rest_error_t *err);

/* Ends a run now with status FINISHED, FAILED or KILLED. */
cp_rest_code_t cp_mlflow_run_terminate(cp_mlflow_t *m, const char *run_id,
                                       cp_mlflow_run_status_t status, cp_rest_error_t *err);

/* Marks a run deleted (MLflow's soft delete). */
cp_rest_code_t cp_mlflow_run_delete(cp_mlflow_t *m, const char *run_id, cp_rest_error_t *err);

void cp_mlflow_run_destroy(cp_mlflow_run_t *r);
const char *cp_mlflow_run_id(const cp_mlflow_run_t *r);
const char *cp_mlflow_run_experiment_id(const cp_mlflow_run_t *r);
const char *cp_mlflow_run_name(const cp_mlflow_run_t *r);
const char *cp_mlflow_run_user_id(const cp_mlflow_run_t *r);
cp_mlflow_run_status_t cp_mlflow_run_status(const cp_mlflow_run_t *r);
int64_t cp_mlflow_run_start_time_ms(const cp_mlflow_run_t *r);
int64_t cp_mlflow_run_end_time_ms(const cp_mlflow_run_t *r); /* 0 while running */
const char *cp_mlflow_run_artifact_uri(const cp_mlflow_run_t *r);
const char *cp_mlflow_run_lifecycle_stage(const cp_mlflow_run_t *r);
/* The parent's run id, or NULL for a top-level run. */
const char *cp_mlflow_run_parent_id(const cp_mlflow_run_t *r);
/* Params, tags and latest metrics as the server returned them. The _at
 * functions return false when i is out of range; lookups return NULL when the
 * key is absent. */
size_t cp_mlflow_run_param_count(const cp_mlflow_run_t *r);
bool cp_mlflow_run_param_at(const cp_mlflow_run_t *r, size_t i, cp_mlflow_kv_t *out);
const char *cp_mlflow_run_param(const cp_mlflow_run_t *r, const char *key);
size_t cp_mlflow_run_tag_count(const cp_mlflow_run_t *r);
bool cp_mlflow_run_tag_at(const cp_mlflow_run_t *r, size_t i, cp_mlflow_kv_t *out);
const char *cp_mlflow_run_tag(const cp_mlflow_run_t *r, const char *key);
size_t cp_mlflow_run_metric_count(const cp_mlflow_run_t *r);
bool cp_mlflow_run_metric_at(const cp_mlflow_run_t *r, size_t i, cp_mlflow_metric_t *out);

/* A list of runs from cp_mlflow_run_search. */
typedef struct cp_mlflow_run_list_s cp_mlflow_run_list_t;

/* Searches the active runs of the given experiments with MLflow's filter
 * syntax (e.g. "attributes.status = 'FINISHED' AND tags.`carprice.batches` !=
 * ''"; NULL: every run), following pages until max_results (0: no limit) runs
 * are collected. order_by may be NULL, or one clause such as
 * "attributes.start_time DESC". An empty result is not an error. */
cp_rest_code_t cp_mlflow_run_search(cp_mlflow_t *m, const char *const *experiment_ids,
                                    size_t n_experiments, const char *filter, const char *order_by,
                                    size_t max_results, cp_mlflow_run_list_t **out,
                                    cp_rest_error_t *err);
void cp_mlflow_run_list_destroy(cp_mlflow_run_list_t *l);
size_t cp_mlflow_run_list_count(const cp_mlflow_run_list_t *l);
/* Borrowed from l; NULL past the end. */
const cp_mlflow_run_t *cp_mlflow_run_list_at(const cp_mlflow_run_list_t *l, size_t i);

/* ---- batched logging ---- */

/* A list of metrics, params and tags to log. Entries are validated and copied
 * when added; the batch may hold any number and cp_mlflow_log_batch splits it
 * into requests the server accepts. */
typedef struct cp_mlflow_batch_s cp_mlflow_batch_t;

/* NULL when out of memory. */
cp_mlflow_batch_t *cp_mlflow_batch_new(void);
void cp_mlflow_batch_destroy(cp_mlflow_batch_t *b);
void cp_mlflow_batch_clear(cp_mlflow_batch_t *b);
size_t cp_mlflow_batch_count(const cp_mlflow_batch_t *b);

/* timestamp_ms 0 means "now" (taken at this call, so a resend is identical).
 * CP_REST_ERR_LIMIT when the key is longer than CP_MLFLOW_MAX_KEY_CHARS;
 * CP_REST_ERR_INVALID_ARG for an empty key or invalid UTF-8. */
cp_rest_code_t cp_mlflow_batch_add_metric(cp_mlflow_batch_t *b, const char *key, double value,
                                          int64_t timestamp_ms, int64_t step, cp_rest_error_t *err);
/* CP_REST_ERR_LIMIT when value exceeds CP_MLFLOW_MAX_PARAM_VALUE_CHARS. */
cp_rest_code_t cp_mlflow_batch_add_param(cp_mlflow_batch_t *b, const char *key, const char *value,
                                         cp_rest_error_t *err);
/* CP_REST_ERR_LIMIT when value exceeds CP_MLFLOW_MAX_TAG_VALUE_CHARS. */
cp_rest_code_t cp_mlflow_batch_add_tag(cp_mlflow_batch_t *b, const char *key, const char *value,
                                       cp_rest_error_t *err);

/* Logs the batch to a run in as few requests as the limits allow, in order.
 * A failure part-way leaves the earlier requests written; sending the same
 * batch again is safe (params and tags are idempotent, the server drops
 * identical metric values). The batch is left unchanged. requests may be NULL. */
cp_rest_code_t cp_mlflow_log_batch(cp_mlflow_t *m, const char *run_id, const cp_mlflow_batch_t *b,
                                   size_t *requests, cp_rest_error_t *err);

/* One-entry conveniences over cp_mlflow_log_batch. */
cp_rest_code_t cp_mlflow_log_metric(cp_mlflow_t *m, const char *run_id, const char *key,
                                    double value, int64_t step, cp_rest_error_t *err);
cp_rest_code_t cp_mlflow_log_param(cp_mlflow_t *m, const char *run_id, const char *key,
                                   const char *value, cp_rest_error_t *err);
cp_rest_code_t cp_mlflow_set_tag(cp_mlflow_t *m, const char *run_id, const char *key,
                                 const char *value, cp_rest_error_t *err);

/* ---- artifacts (through the tracking server's proxy) ----
 * Artifact paths are relative to the run's artifact root, '/'-separated, and
 * may not contain "." or ".." segments. The run's artifact_uri must be served
 * by the tracking server (mlflow-artifacts:/ or its http(s) form); anything
 * else is CP_REST_ERR_UNSUPPORTED. */

/* Uploads one file as <artifact_dir>/<basename of local_file>; artifact_dir
 * NULL or "" means the run's root. */
cp_rest_code_t cp_mlflow_artifact_upload_file(cp_mlflow_t *m, const char *run_id,
                                              const char *local_file, const char *artifact_dir,
                                              cp_rest_error_t *err);

/* Uploads every regular file below local_dir, keeping the tree, under
 * artifact_dir. Symbolic links to directories are not followed. files may be
 * NULL; it receives the number of files uploaded. */
cp_rest_code_t cp_mlflow_artifact_upload_dir(cp_mlflow_t *m, const char *run_id,
                                             const char *local_dir, const char *artifact_dir,
                                             size_t *files, cp_rest_error_t *err);

typedef struct cp_mlflow_file_list_s cp_mlflow_file_list_t;

/* Lists one directory level (path NULL or "" = root). Entries are sorted and
 * their paths are relative to the run's root, like MLflow's own clients. */
cp_rest_code_t cp_mlflow_artifact_list(cp_mlflow_t *m, const char *run_id, const char *path,
                                       cp_mlflow_file_list_t **out, cp_rest_error_t *err);
void cp_mlflow_file_list_destroy(cp_mlflow_file_list_t *l);
size_t cp_mlflow_file_list_count(const cp_mlflow_file_list_t *l);
const char *cp_mlflow_file_list_path(const cp_mlflow_file_list_t *l, size_t i); /* NULL past end */
bool cp_mlflow_file_list_is_dir(const cp_mlflow_file_list_t *l, size_t i);
int64_t cp_mlflow_file_list_size(const cp_mlflow_file_list_t *l, size_t i); /* -1 unknown */

/* Downloads a file or a directory tree to local_path. Each file is written
 * under a temporary name and renamed when complete. */
cp_rest_code_t cp_mlflow_artifact_download(cp_mlflow_t *m, const char *run_id,
                                           const char *artifact_path, const char *local_path,
                                           cp_rest_error_t *err);

/* ---- model registry ---- */

typedef struct cp_mlflow_model_s cp_mlflow_model_t;                 /* a registered model */
typedef struct cp_mlflow_model_version_s cp_mlflow_model_version_t; /* one version of it */

/* Creates a registered model; CP_REST_ERR_EXISTS when the name is taken.
 * description may be NULL. out may be NULL. */
cp_rest_code_t cp_mlflow_model_create(cp_mlflow_t *m, const char *name, const char *description,
                                      cp_mlflow_model_t **out, cp_rest_error_t *err);
cp_rest_code_t cp_mlflow_model_get(cp_mlflow_t *m, const char *name, cp_mlflow_model_t **out,
                                   cp_rest_error_t *err);
/* Returns the model, creating it when absent (safe against a concurrent creator). */
cp_rest_code_t cp_mlflow_model_get_or_create(cp_mlflow_t *m, const char *name,
                                             cp_mlflow_model_t **out, cp_rest_error_t *err);
/* Deletes the model with all its versions. */
cp_rest_code_t cp_mlflow_model_delete(cp_mlflow_t *m, const char *name, cp_rest_error_t *err);

void cp_mlflow_model_destroy(cp_mlflow_model_t *rm);
const char *cp_mlflow_model_name(const cp_mlflow_model_t *rm);
const char *cp_mlflow_model_description(const cp_mlflow_model_t *rm);
int64_t cp_mlflow_model_creation_time_ms(const cp_mlflow_model_t *rm);
int64_t cp_mlflow_model_updated_time_ms(const cp_mlflow_model_t *rm);
/* Aliases of the model: key = alias, value = version. */
size_t cp_mlflow_model_alias_count(const cp_mlflow_model_t *rm);
bool cp_mlflow_model_alias_at(const cp_mlflow_model_t *rm, size_t i, cp_mlflow_kv_t *out);

typedef struct {
    const char *name;          /* registered model, required */
    const char *run_id;        /* the run that produced the model, or NULL */
    const char *source;        /* artifact URI; NULL: <run's artifact_uri>/<artifact_path> */
    const char *artifact_path; /* used with run_id when source is NULL */
    const char *description;   /* may be NULL */
    const cp_mlflow_kv_t *tags;
    size_t n_tags;
} cp_mlflow_model_version_opts_t;

/* Creates a new version (status PENDING_REGISTRATION or READY). */
cp_rest_code_t cp_mlflow_model_version_create(cp_mlflow_t *m,
                                              const cp_mlflow_model_version_opts_t *opts,
                                              cp_mlflow_model_version_t **out,
                                              cp_rest_error_t *err);

/* Polls until the version is READY (CP_REST_OK, out may be NULL), failed
 * registration (CP_REST_ERR_FAILED, the server's status message in the
 * error), or timeout_ms passed (CP_REST_ERR_TIMEOUT). */
cp_rest_code_t cp_mlflow_model_version_wait_ready(cp_mlflow_t *m, const char *name,
                                                  const char *version, long timeout_ms,
                                                  cp_mlflow_model_version_t **out,
                                                  cp_rest_error_t *err);

cp_rest_code_t cp_mlflow_model_version_get(cp_mlflow_t *m, const char *name, const char *version,
                                           cp_mlflow_model_version_t **out, cp_rest_error_t *err);
cp_rest_code_t cp_mlflow_model_version_set_tag(cp_mlflow_t *m, const char *name,
                                               const char *version, const char *key,
                                               const char *value, cp_rest_error_t *err);
/* Deletes a version; MLflow drops the aliases that pointed to it. */
cp_rest_code_t cp_mlflow_model_version_delete(cp_mlflow_t *m, const char *name, const char *version,
                                              cp_rest_error_t *err);

void cp_mlflow_model_version_destroy(cp_mlflow_model_version_t *mv);
const char *cp_mlflow_model_version_name(const cp_mlflow_model_version_t *mv);
const char *cp_mlflow_model_version_version(const cp_mlflow_model_version_t *mv); /* "3" */
const char *cp_mlflow_model_version_source(const cp_mlflow_model_version_t *mv);
const char *cp_mlflow_model_version_run_id(const cp_mlflow_model_version_t *mv);
/* "PENDING_REGISTRATION", "FAILED_REGISTRATION" or "READY". */
const char *cp_mlflow_model_version_status(const cp_mlflow_model_version_t *mv);
const char *cp_mlflow_model_version_status_message(const cp_mlflow_model_version_t *mv);
const char *cp_mlflow_model_version_description(const cp_mlflow_model_version_t *mv);
int64_t cp_mlflow_model_version_creation_time_ms(const cp_mlflow_model_version_t *mv);
size_t cp_mlflow_model_version_tag_count(const cp_mlflow_model_version_t *mv);
bool cp_mlflow_model_version_tag_at(const cp_mlflow_model_version_t *mv, size_t i,
                                    cp_mlflow_kv_t *out);
const char *cp_mlflow_model_version_tag(const cp_mlflow_model_version_t *mv,
                                        const char *key); /* NULL when absent */
size_t cp_mlflow_model_version_alias_count(const cp_mlflow_model_version_t *mv);
const char *cp_mlflow_model_version_alias_at(const cp_mlflow_model_version_t *mv, size_t i);

/* Points alias (e.g. "champion") at a version, moving it if it existed. */
cp_rest_code_t cp_mlflow_model_alias_set(cp_mlflow_t *m, const char *name, const char *alias,
                                         const char *version, cp_rest_error_t *err);
/* Removes an alias. */
cp_rest_code_t cp_mlflow_model_alias_delete(cp_mlflow_t *m, const char *name, const char *alias,
                                            cp_rest_error_t *err);
/* The version an alias points to; CP_REST_ERR_NOT_FOUND when the alias (or the
 * version it named) does not exist. */
cp_rest_code_t cp_mlflow_model_alias_get(cp_mlflow_t *m, const char *name, const char *alias,
                                         cp_mlflow_model_version_t **out, cp_rest_error_t *err);

typedef struct cp_mlflow_model_version_list_s cp_mlflow_model_version_list_t;

/* Searches versions with MLflow's filter syntax (e.g. "name='carprice'"),
 * following pages until max_results (0: no limit) versions are collected.
 * order_by may be NULL, or e.g. "version_number DESC". */
cp_rest_code_t cp_mlflow_model_version_search(cp_mlflow_t *m, const char *filter,
                                              const char *order_by, size_t max_results,
                                              cp_mlflow_model_version_list_t **out,
                                              cp_rest_error_t *err);
void cp_mlflow_model_version_list_destroy(cp_mlflow_model_version_list_t *l);
size_t cp_mlflow_model_version_list_count(const cp_mlflow_model_version_list_t *l);
/* Borrowed from l; NULL past the end. */
const cp_mlflow_model_version_t *
cp_mlflow_model_version_list_at(const cp_mlflow_model_version_list_t *l, size_t i);

#endif
