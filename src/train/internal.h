/* State shared by the files of carprice_train (train.c runs the workflow,
 * tracking.c talks to MLflow). Internal. */
#ifndef CARPRICE_TRAIN_INTERNAL_H
#define CARPRICE_TRAIN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "carprice/mlflow.h"
#include "carprice/train.h"
#include "carprice/webhdfs.h"
#include "ensemble.h"
#include "sparkconnect/dataframe.h"
#include "sparkconnect/ml.h"
#include "sparkconnect/session.h"

typedef struct {
    const cp_train_opts_t *o;
    cp_train_result_t *res;
    char *errbuf;
    size_t errlen;
    sc_session_t *s;
    sc_error_t *err;
    const char *step;
    double t0, step_t0, last_line;
    bool progress_line;   /* a \r progress line is on the terminal */
    const char *out_path; /* output directory: local path, or path on HDFS */
    char out_uri[1024];   /* the same as a URI the Spark server reads */
    cp_hdfs_t *hdfs;      /* WebHDFS client for hdfs:// output, else NULL */
    cp_rest_error_t *rest_err;

    en_model_t models[EN_MAX_MODELS];
    size_t nmodels;
    en_ensemble_t ens;

    /* tracking (NULL mlflow: off) */
    cp_mlflow_t *mlflow;
    char experiment_id[64];
    char spark_version[32];
    char version[16]; /* registered version, once created */

    /* for the plots: holdout sample (price, USD) and importances by column */
    double *sample_actual, *sample_pred;
    size_t nsample;
    const char *imp_names[64];
    double imp_values[64];
    size_t nimp;
} run_t;

int tr_failf(run_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The Spark error (r->err) as one line, prefixed with what was being done. */
int tr_fail_spark(run_t *r, const char *what);
/* The REST error (r->rest_err) likewise. */
int tr_fail_rest(run_t *r, const char *what);

/* tracking.c. start: experiment and parent run (before any Spark work).
 * finish: everything logged, the model published and registered, the gate.
 * fail: the run marked FAILED with the error, a registered version deleted. */
int tr_tracking_start(run_t *r);
int tr_tracking_finish(run_t *r, const sc_df_t *holdout);
void tr_tracking_fail(run_t *r);

#endif
