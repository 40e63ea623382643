/* Cross-validated base models, stacking and refits (see ensemble.h). */
#define _GNU_SOURCE
#include "ensemble.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carprice/log.h"
#include "carprice/util.h"
#include "sparkconnect/result.h"

#define ASSEMBLER   "org.apache.spark.ml.feature.VectorAssembler"
#define LINEAR      "org.apache.spark.ml.regression.LinearRegression"
#define MAX_TASKS   (EN_MAX_MODELS * EN_MAX_COMBOS * EN_MAX_FOLDS)
#define MAX_THREADS 16

/* ---- search spaces ---- */

typedef struct {
    const char *name, *estimator, *features_col;
    const char *params[EN_MAX_PARAMS][2]; /* name, "v1,v2" ({NULL} ends) */
} known_model_t;

/* Defaults sized for the 30-minute budget of 1M rows on two cores: a small
 * grid of the parameters that matter most, everything else fixed. */
static const known_model_t known[] = {
    {"gbt",
     "org.apache.spark.ml.regression.GBTRegressor",
     "tree_features",
     {{"maxDepth", "3,5"},
      {"maxIter", "20"},
      {"stepSize", "0.2"},
      {"subsamplingRate", "0.7"},
      {"minInstancesPerNode", "20"},
      {"maxBins", "32"}}},
    {"rf",
     "org.apache.spark.ml.regression.RandomForestRegressor",
     "tree_features",
     {{"maxDepth", "6,9"},
      {"numTrees", "30"},
      {"subsamplingRate", "0.7"},
      {"featureSubsetStrategy", "onethird"},
      {"minInstancesPerNode", "5"},
      {"maxBins", "32"}}},
    {"lin",
     "org.apache.spark.ml.regression.LinearRegression",
     "features",
     {{"regParam", "0.0001,0.001,0.01"}, {"elasticNetParam", "0"}, {"maxIter", "100"}}},
    {"fm",
     "org.apache.spark.ml.regression.FMRegressor",
     "features",
     {{"factorSize", "4"}, {"regParam", "0.001,0.01"}, {"stepSize", "0.01"}, {"maxIter", "50"}}},
};

static char guess_type(const char *values)
{
    bool all_num = true;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", values);
    for (char *save = NULL, *v = strtok_r(buf, ",", &save); v; v = strtok_r(NULL, ",", &save)) {
        char *end;
        strtod(v, &end);
        if (end == v || *end)
            all_num = false;
    }
    return all_num ? 'd' : 's';
}

static int set_param(en_model_t *m, const char *name, const char *values, char type, char *err,
                     size_t errlen)
{
    en_param_t next = {0}, *p = NULL;
    for (size_t i = 0; i < m->nparams; i++)
        if (strcmp(m->params[i].name, name) == 0)
            p = &m->params[i];
    if (!p && (m->nparams == EN_MAX_PARAMS || strlen(name) >= sizeof next.name)) {
        snprintf(err, errlen, "%s: too many parameters or name too long: %s", m->name, name);
        return -1;
    }
    snprintf(next.name, sizeof next.name, "%s", name);
    next.type = p ? p->type : type ? type : guess_type(values);
    /* Parsed into a copy: a refused spec leaves the model as it was. */
    const char *v = values;
    while (*v) {
        size_t n = strcspn(v, ",");
        if (n == 0 || n >= sizeof next.values[0] || next.nvalues == EN_MAX_VALUES) {
            snprintf(err, errlen, "%s.%s: empty, too long or more than %d values in '%s'", m->name,
                     name, EN_MAX_VALUES, values);
            return -1;
        }
        memcpy(next.values[next.nvalues], v, n);
        next.values[next.nvalues++][n] = '\0';
        v += n + (v[n] == ',');
    }
    if (next.nvalues == 0 || v[-1] == ',') {
        snprintf(err, errlen, "%s.%s: no value or an empty one in '%s'", m->name, name, values);
        return -1;
    }
    if (next.type != 's' && guess_type(values) == 's') {
        snprintf(err, errlen, "%s.%s takes numbers, not '%s'", m->name, name, values);
        return -1;
    }
    if (!p)
        p = &m->params[m->nparams++];
    *p = next;
    return 0;
}

int en_model_default(const char *name, int64_t seed, en_model_t *m)
{
    memset(m, 0, sizeof *m);
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strcmp(known[i].name, name) != 0)
            continue;
        snprintf(m->name, sizeof m->name, "%s", name);
        snprintf(m->pred_col, sizeof m->pred_col, "p_%s", name);
        m->estimator = known[i].estimator;
        m->features_col = known[i].features_col;
        char err[128];
        for (size_t j = 0; j < EN_MAX_PARAMS && known[i].params[j][0]; j++)
            if (set_param(m, known[i].params[j][0], known[i].params[j][1], 0, err, sizeof err))
                return -1;
        if (strcmp(name, "gbt") == 0 || strcmp(name, "rf") == 0) {
            char s[24];
            snprintf(s, sizeof s, "%lld", (long long)seed);
            if (set_param(m, "seed", s, 'i', err, sizeof err) != 0)
                return -1;
        }
        return 0;
    }
    return -1;
}

int en_model_set(en_model_t *m, const char *spec, char *err, size_t errlen)
{
    const char *eq = strchr(spec, '=');
    if (!eq || eq == spec || !eq[1]) {
        snprintf(err, errlen, "expected MODEL.PARAM=V1[,V2...]");
        return -1;
    }
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(eq - spec), spec);
    if (strcmp(name, "predictionCol") == 0 || strcmp(name, "labelCol") == 0 ||
        strcmp(name, "featuresCol") == 0) {
        snprintf(err, errlen, "%s is set by the workflow", name);
        return -1;
    }
    en_model_t next = *m;
    if (set_param(&next, name, eq + 1, 0, err, errlen) != 0)
        return -1;
    if (en_model_combos(&next) > EN_MAX_COMBOS) {
        snprintf(err, errlen, "%s: more than %d parameter combinations", m->name, EN_MAX_COMBOS);
        return -1;
    }
    *m = next;
    return 0;
}

size_t en_model_combos(const en_model_t *m)
{
    size_t n = 1;
    for (size_t i = 0; i < m->nparams; i++)
        n *= m->params[i].nvalues;
    return n;
}

/* Mixed-radix digits of c: the first parameter varies fastest. */
const char *en_combo_value(const en_model_t *m, size_t c, size_t p)
{
    for (size_t i = 0; i < p; i++)
        c /= m->params[i].nvalues;
    return m->params[p].values[c % m->params[p].nvalues];
}

void en_combo_text(const en_model_t *m, size_t c, bool searched_only, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < m->nparams && off < len; i++) {
        if (searched_only && m->params[i].nvalues < 2)
            continue;
        int w = snprintf(buf + off, len - off, "%s%s=%s", off ? ", " : "", m->params[i].name,
                         en_combo_value(m, c, i));
        off += w > 0 ? (size_t)w : 0;
    }
}

sc_params_t *en_params(const en_model_t *m, size_t c, int min_max_bins, sc_error_t *err)
{
    sc_params_t *p = sc_params_new();
    if (!p)
        return NULL;
    sc_code_t rc = sc_params_set_string(p, "predictionCol", m->pred_col, err);
    if (rc == SC_OK)
        rc = sc_params_set_string(p, "labelCol", "label", err);
    if (rc == SC_OK)
        rc = sc_params_set_string(p, "featuresCol", m->features_col, err);
    for (size_t i = 0; rc == SC_OK && i < m->nparams; i++) {
        const char *v = en_combo_value(m, c, i);
        if (strcmp(m->params[i].name, "maxBins") == 0 && strtoll(v, NULL, 10) < min_max_bins)
            rc = sc_params_set_int64(p, "maxBins", min_max_bins, err);
        else if (m->params[i].type == 's')
            rc = sc_params_set_string(p, m->params[i].name, v, err);
        else if (m->params[i].type == 'i' || !strpbrk(v, ".eE"))
            rc = sc_params_set_int64(p, m->params[i].name, strtoll(v, NULL, 10), err);
        else
            rc = sc_params_set_double(p, m->params[i].name, strtod(v, NULL), err);
    }
    if (rc != SC_OK) {
        sc_params_destroy(p);
        return NULL;
    }
    return p;
}

/* ---- the worker pool ---- */

typedef enum { TASK_CV, TASK_REFIT } task_kind_t;

typedef struct {
    task_kind_t kind;
    size_t model, combo;
    int fold;
    double started, secs; /* secs < 0: not finished */
    double spark_frac;    /* Spark's task fraction of the running fit */
} task_t;

typedef struct {
    sc_session_t *s;
    const sc_df_t *train;
    const en_model_t *models;
    size_t nmodels;
    const en_opts_t *o;
    en_ensemble_t *e;
    task_t tasks[MAX_TASKS];
    size_t ntasks, next;
    int running;
    const char *phase;
    double phase_t0, last_report;
    pthread_mutex_t mu;
    bool failed;
    char *err;
    size_t errlen;
} pool_t;

static _Thread_local task_t *current_task;
static _Thread_local pool_t *current_pool;

/* Expected duration of a task of model i: the mean of its finished tasks in
 * this phase, else of all finished ones; < 0 when nothing finished yet. */
static double expected_secs(const pool_t *pl, size_t model)
{
    double sum = 0, all = 0;
    int n = 0, nall = 0;
    for (size_t t = 0; t < pl->ntasks; t++) {
        if (pl->tasks[t].secs < 0)
            continue;
        all += pl->tasks[t].secs;
        nall++;
        if (pl->tasks[t].model == model) {
            sum += pl->tasks[t].secs;
            n++;
        }
    }
    return n ? sum / n : nall ? all / nall : -1;
}

/* Calls the progress callback; with pl->mu held. */
static void report(pool_t *pl, const task_t *latest, bool force)
{
    double now = cp_now_s();
    if (!pl->o->progress || (!force && now - pl->last_report < 0.5))
        return;
    pl->last_report = now;
    en_progress_t p = {.phase = pl->phase, .folds = pl->o->folds, .running = pl->running};
    p.phase_secs = now - pl->phase_t0;
    if (latest) {
        p.model = pl->models[latest->model].name;
        p.fold = latest->kind == TASK_CV ? latest->fold + 1 : 0;
        p.combo = latest->combo + 1;
        p.combos = en_model_combos(&pl->models[latest->model]);
    }
    /* Work in expected seconds: finished tasks count fully, running ones by
     * elapsed time over their expected time (or Spark's task fraction while
     * no task of the phase has finished), waiting ones not at all. */
    double done = 0, total = 0;
    for (size_t t = 0; t < pl->ntasks; t++) {
        const task_t *k = &pl->tasks[t];
        double exp = expected_secs(pl, k->model);
        if (k->secs >= 0) {
            done += 1;
        } else if (k->started > 0) {
            double f = exp > 0 ? (now - k->started) / exp : k->spark_frac;
            done += f > 0.95 ? 0.95 : f;
        }
        total += 1;
    }
    p.done = done;
    p.total = total;
    pl->o->progress(&p, pl->o->progress_opaque);
}

void en_spark_progress(const sc_progress_t *sp)
{
    pool_t *pl = current_pool;
    task_t *k = current_task;
    if (!pl || !k)
        return;
    pthread_mutex_lock(&pl->mu);
    if (sp->tasks > 0)
        k->spark_frac = (double)sp->tasks_done / (double)sp->tasks;
    report(pl, k, false);
    pthread_mutex_unlock(&pl->mu);
}

bool en_in_task(void)
{
    return current_task != NULL;
}

static void pool_fail(pool_t *pl, const char *what, sc_error_t *err)
{
    pthread_mutex_lock(&pl->mu);
    if (!pl->failed) {
        pl->failed = true;
        const char *msg = sc_error_message(err);
        const char *cls = sc_error_class(err);
        snprintf(pl->err, pl->errlen, "%s: %.*s%s%s%s", what, (int)strcspn(msg, "\n"), msg,
                 cls && *cls ? " [" : "", cls && *cls ? cls : "", cls && *cls ? "]" : "");
        /* Stop the other threads' fits now rather than after minutes. */
        sc_error_t *e2 = sc_error_new();
        if (e2)
            sc_session_interrupt_all(pl->s, e2);
        sc_error_destroy(e2);
    }
    pthread_mutex_unlock(&pl->mu);
}

/* RMSE, MAE and R^2 of column pred against label in df. */
static sc_code_t regression_metrics(const sc_df_t *df, const char *pred, double out[3],
                                    sc_error_t *err)
{
    char rmse[160], mae[160], r2[200];
    snprintf(rmse, sizeof rmse, "sqrt(avg(pow(label - %s, 2)))", pred);
    snprintf(mae, sizeof mae, "avg(abs(label - %s))", pred);
    snprintf(r2, sizeof r2, "1 - sum(pow(label - %s, 2)) / (count(*) * var_pop(label))", pred);
    sc_df_t *agg = NULL;
    sc_result_t *res = NULL;
    sc_code_t rc = sc_df_select_expr(df, (const char *const[]){rmse, mae, r2}, 3, &agg, err);
    if (rc == SC_OK)
        rc = sc_df_collect(agg, &res, err);
    for (size_t i = 0; rc == SC_OK && i < 3; i++) {
        if (sc_result_num_rows(res) != 1 || sc_result_is_null(res, 0, i))
            out[i] = NAN;
        else
            rc = sc_result_get_double(res, 0, i, &out[i], err);
    }
    sc_result_destroy(res);
    sc_df_destroy(agg);
    return rc;
}

/* Where the held-out predictions of one CV fit go. */
static void oof_path(const pool_t *pl, size_t model, size_t combo, int fold, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s/c%zu/f%d", pl->o->oof_uri, pl->models[model].name, combo + 1,
             fold + 1);
}

/* One CV fit: train on the other folds, score fold k. The held fold's
 * predictions are written to Parquet at once and the fold model is released:
 * a model kept in the server's ML cache until stacking, maybe half an hour
 * later, may have been dropped by then (soft references, CACHE_INVALID). */
static int run_cv(pool_t *pl, task_t *k, sc_error_t *err)
{
    const en_model_t *m = &pl->models[k->model];
    char cond[32], what[96], path[EN_MAX_URI + 64];
    sc_df_t *fit_df = NULL, *val = NULL, *pred = NULL, *kept = NULL, *back = NULL;
    sc_model_t *model = NULL;
    sc_params_t *p = en_params(m, k->combo, pl->o->min_max_bins, err);
    double met[3];
    int rc = -1;
    snprintf(what, sizeof what, "cross-validating %s (combination %zu, fold %d)", m->name,
             k->combo + 1, k->fold + 1);
    snprintf(cond, sizeof cond, "fold <> %d", k->fold);
    if (!p || sc_df_filter(pl->train, cond, &fit_df, err) != SC_OK ||
        sc_ml_fit(fit_df, m->estimator, p, &model, err) != SC_OK)
        goto done;
    snprintf(cond, sizeof cond, "fold = %d", k->fold);
    oof_path(pl, k->model, k->combo, k->fold, path, sizeof path);
    sc_write_opts_t wo = {.format = "parquet", .mode = "overwrite"};
    sc_read_opts_t ro = {.format = "parquet"};
    const char *paths[] = {path};
    if (sc_df_filter(pl->train, cond, &val, err) != SC_OK ||
        sc_model_transform(model, val, NULL, &pred, err) != SC_OK ||
        sc_df_select_expr(pred, (const char *const[]){"row_id", "label", m->pred_col}, 3, &kept,
                          err) != SC_OK ||
        sc_df_write(kept, &wo, path, err) != SC_OK ||
        sc_read(pl->s, &ro, paths, 1, &back, err) != SC_OK ||
        regression_metrics(back, m->pred_col, met, err) != SC_OK)
        goto done;
    en_result_t *r = &pl->e->models[k->model];
    r->cv_rmse[k->combo][k->fold] = met[0];
    r->cv_mae[k->combo][k->fold] = met[1];
    r->cv_r2[k->combo][k->fold] = met[2];
    rc = 0;
done:
    if (rc != 0)
        pool_fail(pl, what, err);
    sc_model_destroy(model);
    sc_params_destroy(p);
    sc_df_destroy(back);
    sc_df_destroy(kept);
    sc_df_destroy(pred);
    sc_df_destroy(val);
    sc_df_destroy(fit_df);
    return rc;
}

void en_fitted_path(const en_opts_t *o, const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", o->fitted_uri, name);
}

/* Refit on all rows, written out at once (see en_opts_t.fitted_uri). */
static int run_refit(pool_t *pl, task_t *k, sc_error_t *err)
{
    const en_model_t *m = &pl->models[k->model];
    sc_params_t *p = en_params(m, k->combo, pl->o->min_max_bins, err);
    char what[96], path[EN_MAX_URI + 32];
    snprintf(what, sizeof what, "refitting %s on all training rows", m->name);
    en_fitted_path(pl->o, m->name, path, sizeof path);
    sc_model_t **refit = &pl->e->models[k->model].refit;
    if (!p || sc_ml_fit(pl->train, m->estimator, p, refit, err) != SC_OK ||
        sc_model_write(*refit, path, true, err) != SC_OK) {
        sc_params_destroy(p);
        pool_fail(pl, what, err);
        return -1;
    }
    sc_params_destroy(p);
    return 0;
}

static void *worker(void *arg)
{
    pool_t *pl = arg;
    sc_error_t *err = sc_error_new();
    current_pool = pl;
    for (;;) {
        pthread_mutex_lock(&pl->mu);
        if (pl->failed || pl->next == pl->ntasks || !err) {
            pthread_mutex_unlock(&pl->mu);
            break;
        }
        task_t *k = &pl->tasks[pl->next++];
        k->started = cp_now_s();
        pl->running++;
        report(pl, k, true);
        pthread_mutex_unlock(&pl->mu);

        current_task = k;
        int rc = k->kind == TASK_CV ? run_cv(pl, k, err) : run_refit(pl, k, err);
        current_task = NULL;

        pthread_mutex_lock(&pl->mu);
        pl->running--;
        if (rc == 0) {
            k->secs = cp_now_s() - k->started;
            const en_model_t *m = &pl->models[k->model];
            if (k->kind == TASK_CV) {
                pl->e->models[k->model].secs_cv += k->secs;
                cp_log_info("train.cv", "model=%s combo=%zu fold=%d rmse_log=%.5f secs=%.1f",
                            m->name, k->combo + 1, k->fold + 1,
                            pl->e->models[k->model].cv_rmse[k->combo][k->fold], k->secs);
            } else {
                pl->e->models[k->model].secs_refit = k->secs;
                cp_log_info("train.refit", "model=%s secs=%.1f", m->name, k->secs);
            }
            report(pl, k, true);
        }
        pthread_mutex_unlock(&pl->mu);
    }
    if (!err) {
        pthread_mutex_lock(&pl->mu);
        if (!pl->failed) {
            pl->failed = true;
            snprintf(pl->err, pl->errlen, "out of memory");
        }
        pthread_mutex_unlock(&pl->mu);
    }
    current_pool = NULL;
    sc_error_destroy(err);
    return NULL;
}

/* Runs the queued tasks on min(parallelism, ntasks) threads; 0 when all
 * succeeded. */
static int run_pool(pool_t *pl, const char *phase)
{
    pl->phase = phase;
    pl->phase_t0 = cp_now_s();
    pl->next = 0;
    pl->last_report = 0;
    int n = pl->o->parallelism < 1 ? 1 : pl->o->parallelism;
    if (n > MAX_THREADS)
        n = MAX_THREADS;
    if ((size_t)n > pl->ntasks)
        n = (int)pl->ntasks;
    pthread_t th[MAX_THREADS];
    int started = 0;
    for (; started < n; started++)
        if (pthread_create(&th[started], NULL, worker, pl) != 0)
            break;
    if (started == 0) {
        snprintf(pl->err, pl->errlen, "cannot start worker threads");
        return -1;
    }
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    return pl->failed ? -1 : 0;
}

/* ---- the stages ---- */

static void choose_best(pool_t *pl)
{
    for (size_t i = 0; i < pl->nmodels; i++) {
        en_result_t *r = &pl->e->models[i];
        int k = pl->o->folds;
        for (size_t c = 0; c < r->combos; c++) {
            double sum = 0, sq = 0;
            for (int f = 0; f < k; f++)
                sum += r->cv_rmse[c][f];
            double mean = sum / k;
            for (int f = 0; f < k; f++)
                sq += (r->cv_rmse[c][f] - mean) * (r->cv_rmse[c][f] - mean);
            r->cv_mean[c] = mean;
            r->cv_std[c] = k > 1 ? sqrt(sq / (k - 1)) : 0;
            if (c == 0 || mean < r->cv_mean[r->best])
                r->best = c;
        }
        char text[256];
        en_combo_text(&pl->models[i], r->best, true, text, sizeof text);
        cp_log_info("train.cv.best", "model=%s params=\"%s\" cv_rmse_log=%.5f cv_std=%.5f",
                    pl->models[i].name, text, r->cv_mean[r->best], r->cv_std[r->best]);
    }
}

static int fail_sc(pool_t *pl, const char *what, sc_error_t *err)
{
    pool_fail(pl, what, err);
    return -1;
}

/* Out-of-fold predictions of every chosen model (read back from the Parquet
 * files the CV fits wrote, joined by row_id) -> LinearRegression. */
static int stack(pool_t *pl, sc_error_t *err)
{
    en_ensemble_t *e = pl->e;
    int k = pl->o->folds;
    sc_df_t *oof = NULL, *assembled = NULL;
    sc_params_t *p = NULL;
    int rc = -1;
    char *query = NULL;
    size_t qlen = 0;
    FILE *q = open_memstream(&query, &qlen);
    if (!q) {
        snprintf(pl->err, pl->errlen, "out of memory");
        return -1;
    }
    fprintf(q, "SELECT m0.label");
    for (size_t i = 0; i < pl->nmodels; i++)
        fprintf(q, ", m%zu.%s", i, pl->models[i].pred_col);
    for (size_t i = 0; i < pl->nmodels; i++) {
        char view[48], paths[EN_MAX_FOLDS][EN_MAX_URI + 64];
        const char *pp[EN_MAX_FOLDS];
        for (int f = 0; f < k; f++) {
            oof_path(pl, i, e->models[i].best, f, paths[f], sizeof paths[f]);
            pp[f] = paths[f];
        }
        sc_read_opts_t ro = {.format = "parquet"};
        sc_df_t *df = NULL;
        snprintf(view, sizeof view, "carprice_oof_%s", pl->models[i].name);
        sc_code_t c = sc_read(pl->s, &ro, pp, (size_t)k, &df, err);
        if (c == SC_OK)
            c = sc_df_create_view(df, view, true, err);
        sc_df_destroy(df);
        if (c != SC_OK) {
            fclose(q);
            free(query);
            return fail_sc(pl, "reading the out-of-fold predictions", err);
        }
        if (i == 0)
            fprintf(q, " FROM %s m0", view);
        else
            fprintf(q, " JOIN %s m%zu ON m%zu.row_id = m0.row_id", view, i, i);
    }
    if (fclose(q) != 0) {
        free(query);
        snprintf(pl->err, pl->errlen, "out of memory");
        return -1;
    }
    const char *cols[EN_MAX_MODELS];
    for (size_t i = 0; i < pl->nmodels; i++)
        cols[i] = pl->models[i].pred_col;
    p = sc_params_new();
    if (!p)
        goto oom;
    /* The out-of-fold rows are computed once and cached: the meta fit and
     * the metrics below read them several times. */
    if (sc_sql(pl->s, query, NULL, 0, &oof, err) != SC_OK || sc_df_persist(oof, err) != SC_OK ||
        sc_params_set_strings(p, "inputCols", cols, pl->nmodels, err) != SC_OK ||
        sc_params_set_string(p, "outputCol", "stack_features", err) != SC_OK ||
        sc_ml_transformer_new(pl->s, ASSEMBLER, p, &e->stack_assembler, err) != SC_OK ||
        sc_model_transform(e->stack_assembler, oof, NULL, &assembled, err) != SC_OK) {
        rc = fail_sc(pl, "stacking", err);
        goto done;
    }
    for (size_t i = 0; i < pl->nmodels; i++) {
        double met[3];
        if (regression_metrics(oof, cols[i], met, err) != SC_OK) {
            rc = fail_sc(pl, "out-of-fold metrics", err);
            goto done;
        }
        e->oof_base_rmse[i] = met[0];
    }
    sc_params_destroy(p);
    p = sc_params_new();
    if (!p)
        goto oom;
    double nf = 0, *coef = NULL;
    size_t ncoef = 0;
    char meta_path[EN_MAX_URI + 32];
    en_fitted_path(pl->o, "stack", meta_path, sizeof meta_path);
    double met[3];
    sc_df_t *pred = NULL;
    if (sc_params_set_string(p, "featuresCol", "stack_features", err) != SC_OK ||
        sc_params_set_string(p, "labelCol", "label", err) != SC_OK ||
        sc_params_set_string(p, "predictionCol", "prediction", err) != SC_OK ||
        sc_params_set_double(p, "regParam", 0.0, err) != SC_OK ||
        sc_params_set_string(p, "solver", "normal", err) != SC_OK ||
        sc_ml_fit(assembled, LINEAR, p, &e->meta, err) != SC_OK ||
        sc_model_write(e->meta, meta_path, true, err) != SC_OK ||
        sc_model_fetch_double(e->meta, "intercept", &e->meta_intercept, err) != SC_OK ||
        sc_model_fetch_doubles(e->meta, "coefficients", &coef, &ncoef, err) != SC_OK) {
        rc = fail_sc(pl, "fitting the stacking model", err);
        goto done;
    }
    (void)nf;
    for (size_t i = 0; i < ncoef && i < EN_MAX_MODELS; i++)
        e->meta_coef[i] = coef[i];
    free(coef);
    if (sc_model_transform(e->meta, assembled, NULL, &pred, err) != SC_OK ||
        regression_metrics(pred, "prediction", met, err) != SC_OK) {
        sc_df_destroy(pred);
        rc = fail_sc(pl, "scoring the stacking model", err);
        goto done;
    }
    sc_df_destroy(pred);
    e->oof_rmse = met[0];
    e->oof_mae = met[1];
    e->oof_r2 = met[2];
    cp_log_info("train.stack", "oof_rmse_log=%.5f oof_r2_log=%.5f intercept=%.4f", e->oof_rmse,
                e->oof_r2, e->meta_intercept);
    rc = 0;
    goto done;
oom:
    snprintf(pl->err, pl->errlen, "out of memory");
done:
    if (oof)
        sc_df_unpersist(oof, err);
    sc_params_destroy(p);
    sc_df_destroy(assembled);
    sc_df_destroy(oof);
    free(query);
    return rc;
}

void en_ensemble_clear(en_ensemble_t *e)
{
    for (size_t i = 0; i < EN_MAX_MODELS; i++) {
        sc_model_destroy(e->models[i].refit);
        e->models[i].refit = NULL;
    }
    sc_model_destroy(e->stack_assembler);
    sc_model_destroy(e->meta);
    e->stack_assembler = e->meta = NULL;
}

int en_fit(sc_session_t *s, const sc_df_t *train, const en_model_t *models, size_t nmodels,
           const en_opts_t *o, en_ensemble_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (nmodels == 0 || nmodels > EN_MAX_MODELS || o->folds < 2 || o->folds > EN_MAX_FOLDS) {
        snprintf(err, errlen, "need 1..%d models and 2..%d folds", EN_MAX_MODELS, EN_MAX_FOLDS);
        return -1;
    }
    if (!o->oof_uri || !*o->oof_uri || strlen(o->oof_uri) >= EN_MAX_URI || !o->fitted_uri ||
        !*o->fitted_uri || strlen(o->fitted_uri) >= EN_MAX_URI) {
        snprintf(err, errlen,
                 "need directories for the out-of-fold predictions and the fitted models "
                 "(< %d bytes)",
                 EN_MAX_URI);
        return -1;
    }
    pool_t *pl = calloc(1, sizeof *pl);
    sc_error_t *e1 = sc_error_new();
    if (!pl || !e1) {
        free(pl);
        sc_error_destroy(e1);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pl->s = s;
    pl->train = train;
    pl->models = models;
    pl->nmodels = nmodels;
    pl->o = o;
    pl->e = out;
    pl->err = err;
    pl->errlen = errlen;
    pthread_mutex_init(&pl->mu, NULL);
    out->nmodels = nmodels;
    out->parallelism = o->parallelism < 1 ? 1 : o->parallelism;
    int rc = -1;

    /* Cross-validation: every (model, combination, fold), in model order
     * (the tree models, the costliest, come first by default, so that the
     * pool does not end waiting on one slow fit). */
    for (size_t i = 0; i < nmodels; i++) {
        out->models[i].combos = en_model_combos(&models[i]);
        for (size_t c = 0; c < out->models[i].combos; c++)
            for (int f = 0; f < o->folds; f++)
                pl->tasks[pl->ntasks++] =
                    (task_t){.kind = TASK_CV, .model = i, .combo = c, .fold = f, .secs = -1};
    }
    double t = cp_now_s();
    if (run_pool(pl, "cv") != 0)
        goto done;
    out->secs_cv = cp_now_s() - t;
    choose_best(pl);

    t = cp_now_s();
    pl->phase = "stack";
    if (o->progress) {
        en_progress_t p = {.phase = "stack", .done = 0, .total = 1};
        o->progress(&p, o->progress_opaque);
    }
    if (stack(pl, e1) != 0)
        goto done;
    out->secs_stack = cp_now_s() - t;

    pl->ntasks = 0;
    for (size_t i = 0; i < nmodels; i++)
        pl->tasks[pl->ntasks++] = (task_t){
            .kind = TASK_REFIT, .model = i, .combo = out->models[i].best, .fold = -1, .secs = -1};
    t = cp_now_s();
    if (run_pool(pl, "refit") != 0)
        goto done;
    out->secs_refit = cp_now_s() - t;
    rc = 0;
done:
    if (rc != 0)
        en_ensemble_clear(out);
    pthread_mutex_destroy(&pl->mu);
    sc_error_destroy(e1);
    free(pl);
    return rc;
}
