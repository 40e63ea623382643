/* The training workflow (`carprice train`), run through Spark Connect.
 *
 * raw CSV -> sql/features.sql -> sql/train_rows.sql (rows counted by drop
 * reason) -> a deterministic hash split into training and holdout rows with a
 * fold id for cross-validation -> the feature pipeline (Imputer ->
 * StringIndexer -> OneHotEncoder -> VectorAssembler) fitted on the training
 * rows -> base regressors (GBT, random forest, linear; configurable) tuned by
 * k-fold cross-validation over parameter grids from several client threads
 * -> a LinearRegression stacker on their out-of-fold predictions -> base
 * models refitted on all training rows -> one PipelineModel (features, base
 * models, assembler, stacker) scored on the holdout. Categories rarer than
 * min_category_count in the training rows are left out of the
 * StringIndexer's fit, so they share the extra index that handleInvalid=keep
 * gives unseen categories (the same in serving, with no mapping table).
 *
 * Outputs in out_dir, as the Spark server sees it:
 *   train-set/         Parquet: row_id, listing_id, fold, label, features,
 *                      tree_features
 *   oof/               Parquet: each CV fit's held-fold predictions,
 *                      oof/<model>/c<combination>/f<fold> (row_id, label, p_<model>)
 *   fitted/            each refit (fitted/<model>) and the meta model
 *                      (fitted/stack), written right after its fit
 *   feature-pipeline/  the fitted feature stages alone, a PipelineModel
 *   model/             the final PipelineModel: input the columns of
 *                      sql/features.sql, output `prediction` = ln(price)
 *   etl-summary.txt    key=value counts, metrics and times
 *   _SUCCESS           removed first, written last: only a complete run has it
 * The two small files go to a local directory directly, to hdfs:// through
 * WebHDFS ($CARPRICE_WEBHDFS_URL, $CARPRICE_HDFS_USER).
 *
 * With tracking on, the run is an MLflow run (parent, with a nested run per
 * base model and one for the stacker) in experiment `experiment`; the model
 * is logged with the spark flavor, registered as a new version of
 * `model_name` and given the alias `champion` only if its holdout RMSE is no
 * worse than the current champion's on the same holdout. Any failure marks
 * the run FAILED and registers nothing. See docs/train.md.
 * Not thread-safe: one run per call; the run owns its Spark session. */
#ifndef CARPRICE_TRAIN_H
#define CARPRICE_TRAIN_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *const *inputs; /* raw CSV files or directories: local, file:// or hdfs:// */
    size_t ninputs;
    const char *out_dir;     /* local path, file:// or hdfs:// URI */
    const char *remote;      /* Spark Connect URL; NULL for sc://127.0.0.1:15002 */
    const char *sql_dir;     /* directory of raw_schema.ddl, features.sql, train_rows.sql */
    double holdout;          /* fraction of rows held out, in (0, 1) */
    int64_t seed;            /* seed of the split and fold hashes */
    int folds;               /* k of the fold column, >= 2 */
    int min_category_count;  /* rarer categories share the unseen-category index; <= 1: off */
    int progress;            /* non-zero: show step and task progress on stderr */
    const char *models;      /* base models, "gbt,rf,lin" (NULL: that); also "fm" */
    const char *const *grid; /* overrides "MODEL.PARAM=V1[,V2...]" of the default grids */
    size_t ngrid;
    int parallelism;            /* client threads fitting at once, >= 1 (default 2) */
    const char *const *batches; /* names of the batches read, for lineage (may be NULL) */
    size_t nbatches;
    int tracking;           /* non-zero: MLflow run, model publication, registry, gate */
    const char *experiment; /* MLflow experiment (default "carprice") */
    const char *model_name; /* registered model (default "carprice") */
    const char *run_name;   /* MLflow run name (NULL: "train-<UTC time>") */
    double min_r2;          /* > 0: fail (register nothing) when the stack's holdout
                               R^2 on log price is below it */
} cp_train_opts_t;

/* Fills opts with defaults: holdout 0.1, seed 42, 3 folds, categories seen at
 * least 5 times, no progress, gbt+rf+lin on 2 threads, tracking off. */
void cp_train_opts_init(cp_train_opts_t *opts);

#define CP_TRAIN_MAX_REASONS 16
#define CP_TRAIN_MAX_MODELS  4

/* Regression metrics on the holdout: on ln(price) and on price (USD). */
typedef struct {
    double rmse_log, mae_log, r2_log;
    double rmse, mae, r2, mape;
} cp_train_metrics_t;

typedef struct {
    int64_t rows_read;
    int64_t rows_kept;
    int64_t rows_dropped;
    size_t nreasons;
    char reasons[CP_TRAIN_MAX_REASONS][64]; /* drop_reason text */
    int64_t reason_rows[CP_TRAIN_MAX_REASONS];
    int64_t train_rows;
    int64_t holdout_rows;
    int64_t num_features; /* length of the features vector */
    size_t nmodels;       /* base models; entry nmodels of the arrays below is the stack */
    char model_names[CP_TRAIN_MAX_MODELS + 1][16]; /* "gbt", ..., "stack" */
    char best_params[CP_TRAIN_MAX_MODELS][256];    /* chosen by cross-validation */
    double cv_rmse_log[CP_TRAIN_MAX_MODELS + 1];   /* mean over folds; the stack's: out of fold */
    cp_train_metrics_t holdout[CP_TRAIN_MAX_MODELS + 1];
    double secs_etl, secs_features, secs_write, secs_cv, secs_stack, secs_refit, secs_validation,
        secs_tracking, secs_total;
    int parallelism;
    char run_id[64];        /* MLflow run id, "" without tracking */
    char model_uri[1100];   /* URI of the final PipelineModel directory */
    char model_version[16]; /* registered version, "" without tracking */
    int promoted;           /* the version got the alias champion */
    char gate_reason[256];  /* why it was (not) promoted */
} cp_train_result_t;

/* Runs the workflow with opts; fills *res (may be NULL). Returns 0 on success,
 * -1 on failure with one line in errbuf (errlen bytes, may be 0). On failure
 * no _SUCCESS marker exists in out_dir. */
int cp_train_run(const cp_train_opts_t *opts, cp_train_result_t *res, char *errbuf, size_t errlen);

#endif
