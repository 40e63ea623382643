/* Publishing a Spark PipelineModel as an MLflow model (the "spark" flavor)
 * and registering it as a model version.
 *
 * The PipelineModel stays where training wrote it, on HDFS: serving loads it
 * from there with Spark. Publishing copies it into the MLflow run's artifacts
 * as <artifact_path>/sparkml/ and writes MLflow's metadata beside it
 * (MLmodel, conda.yaml, python_env.yaml, requirements.txt), the layout that
 * MLflow 3's own mlflow.spark.log_model produces, so MLflow's tools see a
 * standard model. Registering makes a version of a registered model whose
 * source is that artifact directory and whose tag `model_path` is the hdfs://
 * URI of the original directory. See docs/model-format.md.
 *
 * Errors: both calls return a cp_rest_code_t (carprice/http.h), e.g.
 * CP_REST_ERR_NOT_FOUND for a missing HDFS directory or run, and write one
 * line that says what failed into errbuf (errlen bytes; errbuf may be NULL).
 *
 * Threads: each call uses the clients it is given, which are not
 * thread-safe; do not share them with another thread during a call. */
#ifndef CARPRICE_PUBLISH_H
#define CARPRICE_PUBLISH_H

#include <stddef.h>
#include <stdint.h>

#include "carprice/http.h"
#include "carprice/mlflow.h"
#include "carprice/webhdfs.h"

/* Tag of every registered version: the hdfs:// URI of the PipelineModel. */
#define CP_PUBLISH_TAG_MODEL_PATH "model_path"
/* Tag of every registered version: the MLflow run that logged it. */
#define CP_PUBLISH_TAG_RUN_ID "run_id"
/* The run tag where MLflow lists the models a run logged (a JSON array);
 * publishing appends to it as mlflow.spark.log_model does. */
#define CP_PUBLISH_TAG_HISTORY "mlflow.log-model.history"
/* The artifact directory used when none is given. */
#define CP_PUBLISH_DEFAULT_ARTIFACT_PATH "model"

typedef struct {
    /* The MLflow run that logs the model; required. */
    const char *run_id;
    /* Directory of the model in the run's artifacts ('/'-separated, no "."
     * or ".." segments); NULL: "model". */
    const char *artifact_path;
    /* hdfs://host:port/path of the PipelineModel directory, as Spark reads
     * it; required. Recorded in the MLmodel's metadata. */
    const char *model_uri;
    /* The same directory as cp_hdfs_* takes it ("/carprice/runs/x/model");
     * NULL: the path part of model_uri. */
    const char *hdfs_model_dir;
    /* Versions recorded in the metadata and pinned in requirements.txt.
     * spark_version NULL: the sparkVersion in the PipelineModel's own
     * metadata. mlflow_version NULL: the tracking server's (GET /version);
     * left out when the server does not say. python_version NULL: left out
     * (MLflow then assumes the loader's Python). */
    const char *spark_version;
    const char *mlflow_version;
    const char *python_version;
    /* Largest total size copied from HDFS; 0: 4 GiB. A larger model fails
     * with CP_REST_ERR_LIMIT before anything is uploaded. */
    int64_t max_bytes;
} cp_publish_opts_t;

typedef struct {
    size_t files;           /* files copied from HDFS to the artifacts */
    int64_t bytes;          /* their total size (MLmodel's model_size_bytes) */
    char model_uuid[33];    /* MLmodel's model_uuid (32 hex digits) */
    char spark_version[32]; /* the pyspark_version recorded */
    char pipeline_uid[128]; /* the PipelineModel's uid from its metadata */
    double seconds;         /* wall time of the whole call */
} cp_publish_result_t;

/* Copies the PipelineModel directory from HDFS into run o->run_id's
 * artifacts under <artifact_path>/sparkml/ and writes the spark-flavor
 * metadata beside it; MLmodel is uploaded last, so a reader that finds it
 * finds the whole model. The directory must be a complete PipelineModel
 * (metadata/_SUCCESS and class org.apache.spark.ml.PipelineModel in its
 * metadata), else nothing is uploaded. The model is then listed in the
 * run's tag mlflow.log-model.history (a failure there is only logged, as
 * MLflow does). Files are staged in a private
 * temporary directory under $TMPDIR (else /tmp) that is removed before the
 * call returns. Publishing again to the same artifact path replaces the
 * files of the same names. res may be NULL.
 * Errors: CP_REST_ERR_INVALID_ARG for bad options or a directory that is not
 * a PipelineModel, CP_REST_ERR_NOT_FOUND for a missing run or HDFS
 * directory, CP_REST_ERR_LIMIT over max_bytes, CP_REST_ERR_IO for local
 * staging trouble, and the clients' codes for network failures. */
cp_rest_code_t cp_publish_spark_model(cp_mlflow_t *m, cp_hdfs_t *h, const cp_publish_opts_t *o,
                                      cp_publish_result_t *res, char *errbuf, size_t errlen);

typedef struct {
    /* Registered model, created when absent; required. */
    const char *name;
    /* The run that published the model (cp_publish_spark_model); required. */
    const char *run_id;
    /* Where the run holds the model; NULL: "model". */
    const char *artifact_path;
    /* hdfs:// URI of the PipelineModel, stored as tag model_path; required. */
    const char *model_uri;
    const char *description; /* may be NULL */
    /* Further version tags (copied); a key named like the built-in tags
     * replaces it. */
    const cp_mlflow_kv_t *tags;
    size_t n_tags;
    /* How long to wait for the version to become READY; 0: 300000 ms. */
    long wait_ms;
} cp_publish_register_opts_t;

/* Registers run o->run_id's published model as a new version of o->name:
 * source <run's artifact_uri>/<artifact_path> (an artifact URI inside the
 * run, which MLflow 3 resolves for models:/<name>/<version> without a
 * "logged model" entity), tags model_path and run_id plus o->tags, then
 * waits until the version is READY. It first checks that the run's
 * artifacts hold <artifact_path>/MLmodel: an unpublished model is
 * CP_REST_ERR_NOT_FOUND and registers nothing. On success *version_out (may
 * be NULL) is the new version number as a malloc'd string ("3"); free it.
 * Aliases are set separately (cp_mlflow_model_alias_set moves an alias). */
cp_rest_code_t cp_publish_register_version(cp_mlflow_t *m, const cp_publish_register_opts_t *o,
                                           char **version_out, char *errbuf, size_t errlen);

#endif
