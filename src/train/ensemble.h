/* The model stage of `carprice train`: base regressors tuned by k-fold
 * cross-validation over parameter grids, fitted from several client threads
 * at once; a LinearRegression stacker trained on their out-of-fold
 * predictions; the base models refitted on all training rows.
 *
 * Everything runs on the Spark Connect server; this code only schedules.
 * Internal to carprice_train. */
#ifndef CARPRICE_TRAIN_ENSEMBLE_H
#define CARPRICE_TRAIN_ENSEMBLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sparkconnect/dataframe.h"
#include "sparkconnect/ml.h"
#include "sparkconnect/session.h"

#define EN_MAX_MODELS 4
#define EN_MAX_PARAMS 16
#define EN_MAX_VALUES 6
#define EN_MAX_COMBOS 16
#define EN_MAX_FOLDS  10
#define EN_MAX_URI    1088

/* One Spark parameter with one value (fixed) or several (searched). */
typedef struct {
    char name[40];
    char type; /* 'i' integer, 'd' double, 's' string */
    size_t nvalues;
    char values[EN_MAX_VALUES][24]; /* as text; parsed by type when sent */
} en_param_t;

/* A base regressor and its search space. */
typedef struct {
    char name[16];            /* short name: gbt, rf, lin, fm */
    const char *estimator;    /* JVM class */
    char pred_col[24];        /* its prediction column in the final pipeline: p_<name> */
    const char *features_col; /* "tree_features" (trees) or "features" (one-hot) */
    size_t nparams;
    en_param_t params[EN_MAX_PARAMS];
} en_model_t;

/* Fills *m with the default space of a known model name (gbt, rf, lin,
 * fm); -1 for an unknown name. seed goes to the models that take one. */
int en_model_default(const char *name, int64_t seed, en_model_t *m);

/* Applies "param=v1,v2,..." to m (replacing or adding the parameter; the
 * type of a new parameter is guessed from its values). -1 with a message in
 * err on a malformed spec or too many values. */
int en_model_set(en_model_t *m, const char *spec, char *err, size_t errlen);

/* Number of parameter combinations of m (product of value counts). */
size_t en_model_combos(const en_model_t *m);

/* "maxDepth=4, stepSize=0.1" of combination c (searched parameters only when
 * searched_only), into buf. */
void en_combo_text(const en_model_t *m, size_t c, bool searched_only, char *buf, size_t len);

/* Value of parameter p in combination c. */
const char *en_combo_value(const en_model_t *m, size_t c, size_t p);

/* Progress of the model stage, for the caller's display: called from worker
 * threads with the stage's lock held; keep it short. */
typedef struct {
    const char *phase; /* "cv", "stack", "refit" */
    const char *model; /* model of the running task (the latest started) */
    int fold, folds;   /* 1-based fold of that task; 0 when not a fold */
    size_t combo, combos;
    double done, total; /* work units: finished fits + fractions of running ones */
    int running;        /* tasks running now */
    double phase_secs;  /* elapsed in this phase */
} en_progress_t;

typedef void (*en_progress_fn)(const en_progress_t *p, void *opaque);

typedef struct {
    int folds;        /* k; rows carry a fold column 0..k-1 */
    int parallelism;  /* client threads fitting at once, >= 1 */
    int min_max_bins; /* tree models' maxBins is raised to at least this */
    /* Directory (as the Spark server sees it) for the held-fold predictions
     * of every CV fit: <oof_uri>/<model>/c<combination>/f<fold>, Parquet
     * (row_id, label, p_<model>). Shorter than EN_MAX_URI. */
    const char *oof_uri;
    /* Directory where each final model is written right after its fit:
     * <fitted_uri>/<model> for the refits, <fitted_uri>/stack for the meta
     * model, so that the caller can read them back whenever the server's ML
     * cache has dropped them. Shorter than EN_MAX_URI. */
    const char *fitted_uri;
    en_progress_fn progress;
    void *progress_opaque;
} en_opts_t;

/* Results of one base model. */
typedef struct {
    size_t combos;
    double cv_rmse[EN_MAX_COMBOS][EN_MAX_FOLDS]; /* log price, per combination and fold */
    double cv_mae[EN_MAX_COMBOS][EN_MAX_FOLDS];
    double cv_r2[EN_MAX_COMBOS][EN_MAX_FOLDS];
    double cv_mean[EN_MAX_COMBOS], cv_std[EN_MAX_COMBOS]; /* of cv_rmse */
    size_t best;                                          /* chosen combination */
    double secs_cv;    /* summed fit+evaluate time of its CV tasks (thread time) */
    double secs_refit; /* fit on all training rows */
    sc_model_t *refit; /* fitted on all training rows with the best combination */
} en_result_t;

typedef struct {
    size_t nmodels;
    en_result_t models[EN_MAX_MODELS];
    double secs_cv, secs_stack, secs_refit; /* wall time of each phase */
    int parallelism;
    sc_model_t *stack_assembler; /* VectorAssembler p_* -> stack_features */
    sc_model_t *meta;            /* LinearRegression on stack_features -> prediction */
    double meta_intercept;
    double meta_coef[EN_MAX_MODELS];
    double oof_rmse, oof_mae, oof_r2; /* the meta model on the out-of-fold rows */
    double oof_base_rmse[EN_MAX_MODELS];
} en_ensemble_t;

/* Runs CV, stacking and refits on train (columns row_id, unique per row,
 * fold, label and the models' feature columns; persisted by the caller). On success *out holds the
 * refitted base models and the meta model (free with en_ensemble_clear). -1 with one line in err on
 * failure; then nothing is left in *out. */
int en_fit(sc_session_t *s, const sc_df_t *train, const en_model_t *models, size_t nmodels,
           const en_opts_t *o, en_ensemble_t *out, char *err, size_t errlen);

/* Forwards a Spark progress message of the calling thread to the running
 * en_fit's progress report; call it from the session's progress callback.
 * en_in_task() tells whether the calling thread runs one of en_fit's fits. */
void en_spark_progress(const sc_progress_t *p);
bool en_in_task(void);

/* <o->fitted_uri>/<name> into buf: where en_fit wrote the refit of model
 * `name`, or with name "stack" the meta model. */
void en_fitted_path(const en_opts_t *o, const char *name, char *buf, size_t len);

/* Frees the models held by e. */
void en_ensemble_clear(en_ensemble_t *e);

/* Sets the parameters of combination c of m (plus predictionCol, labelCol,
 * featuresCol; maxBins raised to min_max_bins) in a new sc_params_t; NULL
 * with err set on failure. */
sc_params_t *en_params(const en_model_t *m, size_t c, int min_max_bins, sc_error_t *err);

#endif
