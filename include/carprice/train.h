/* The training workflow (`carprice train`), run through Spark Connect.
 *
 * Stage 1, implemented here: raw CSV -> sql/features.sql -> sql/train_rows.sql
 * (rows counted by drop reason), a deterministic hash split into training and
 * holdout rows with a fold id for cross-validation, the feature pipeline
 * (Imputer -> StringIndexer -> OneHotEncoder -> VectorAssembler) fitted on the
 * training rows, and a quick smoke model scored on the holdout. Categories
 * rarer than min_category_count in the training rows are left out of the
 * StringIndexer's fit, so they share the extra index that handleInvalid=keep
 * gives unseen categories (the same in serving, with no mapping table).
 * Outputs in
 * out_dir, as the Spark server sees it:
 *   train-set/         Parquet: listing_id, fold, label, features
 *   feature-pipeline/  a standard Spark PipelineModel of the fitted stages
 *   etl-summary.txt    key=value counts, metrics and times
 *   _SUCCESS           removed first, written last: only a complete run has it
 * The two small files go to a local directory directly, to hdfs:// through
 * WebHDFS ($CARPRICE_WEBHDFS_URL, $CARPRICE_HDFS_USER).
 * Not thread-safe: one run per call; the run owns its Spark session. */
#ifndef CARPRICE_TRAIN_H
#define CARPRICE_TRAIN_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *const *inputs; /* raw CSV files or directories: local, file:// or hdfs:// */
    size_t ninputs;
    const char *out_dir;    /* local path, file:// or hdfs:// URI */
    const char *remote;     /* Spark Connect URL; NULL for sc://127.0.0.1:15002 */
    const char *sql_dir;    /* directory of raw_schema.ddl, features.sql, train_rows.sql */
    double holdout;         /* fraction of rows held out, in (0, 1) */
    int64_t seed;           /* seed of the split and fold hashes */
    int folds;              /* k of the fold column, >= 2 */
    int min_category_count; /* rarer categories share the unseen-category index; <= 1: off */
    int progress;           /* non-zero: show step and task progress on stderr */
} cp_train_opts_t;

/* Fills opts with defaults: holdout 0.1, seed 42, 3 folds, categories seen at
 * least 5 times, no progress. */
void cp_train_opts_init(cp_train_opts_t *opts);

#define CP_TRAIN_MAX_REASONS 16

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
    double smoke_rmse;    /* smoke model on the holdout, log price */
    double smoke_r2;
    double secs_etl, secs_features, secs_write, secs_smoke, secs_total;
} cp_train_result_t;

/* Runs stage 1 with opts; fills *res (may be NULL). Returns 0 on success,
 * -1 on failure with one line in errbuf (errlen bytes, may be 0). On failure
 * no _SUCCESS marker exists in out_dir. */
int cp_train_run(const cp_train_opts_t *opts, cp_train_result_t *res, char *errbuf, size_t errlen);

#endif
