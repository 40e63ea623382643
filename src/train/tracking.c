/* MLflow side of `carprice train`: the parent run and its nested runs,
 * parameters, metrics, lineage tags, plots, the published model, its
 * registration and the champion gate. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <unistd.h>

#include "carprice/log.h"
#include "carprice/plot.h"
#include "carprice/publish.h"
#include "carprice/util.h"
#include "internal.h"
#include "sparkconnect/result.h"

#define CHAMPION "champion"

static const char *model_name(const run_t *r)
{
    return r->o->model_name && *r->o->model_name ? r->o->model_name : "carprice";
}

/* Adds to b, remembering the first failure in *rc. */
static void add_metric(cp_mlflow_batch_t *b, const char *key, double v, int64_t step,
                       cp_rest_code_t *rc, cp_rest_error_t *err)
{
    if (*rc == CP_REST_OK && isfinite(v))
        *rc = cp_mlflow_batch_add_metric(b, key, v, 0, step, err);
}

static void add_param(cp_mlflow_batch_t *b, const char *key, const char *v, cp_rest_code_t *rc,
                      cp_rest_error_t *err)
{
    if (*rc == CP_REST_OK)
        *rc = cp_mlflow_batch_add_param(b, key, v, err);
}

static void add_tag(cp_mlflow_batch_t *b, const char *key, const char *v, cp_rest_code_t *rc,
                    cp_rest_error_t *err)
{
    if (*rc == CP_REST_OK)
        *rc = cp_mlflow_batch_add_tag(b, key, v, err);
}

static void add_holdout(cp_mlflow_batch_t *b, const cp_train_metrics_t *h, cp_rest_code_t *rc,
                        cp_rest_error_t *err)
{
    add_metric(b, "holdout_rmse_log", h->rmse_log, 0, rc, err);
    add_metric(b, "holdout_mae_log", h->mae_log, 0, rc, err);
    add_metric(b, "holdout_r2_log", h->r2_log, 0, rc, err);
    add_metric(b, "holdout_rmse", h->rmse, 0, rc, err);
    add_metric(b, "holdout_mae", h->mae, 0, rc, err);
    add_metric(b, "holdout_r2", h->r2, 0, rc, err);
    add_metric(b, "holdout_mape", h->mape, 0, rc, err);
}

/* "a,b,c" of n strings, truncated to fit a tag value. */
static char *joined(const char *const *items, size_t n)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s%s", i ? "," : "", items[i]);
    if (fclose(f) != 0)
        return NULL;
    if (len > CP_MLFLOW_MAX_TAG_VALUE_CHARS - 16)
        snprintf(out + CP_MLFLOW_MAX_TAG_VALUE_CHARS - 16, 16, ",...");
    return out;
}

int tr_tracking_start(run_t *r)
{
    const char *exp_name = r->o->experiment && *r->o->experiment ? r->o->experiment : "carprice";
    cp_mlflow_experiment_t *exp = NULL;
    cp_mlflow_run_t *run = NULL;
    if (cp_mlflow_experiment_get_or_create(r->mlflow, exp_name, NULL, &exp, r->rest_err) !=
        CP_REST_OK)
        return tr_failf(r, "MLflow experiment %s at %s: %s", exp_name,
                        cp_mlflow_tracking_uri(r->mlflow), cp_rest_error_message(r->rest_err));
    snprintf(r->experiment_id, sizeof r->experiment_id, "%s", cp_mlflow_experiment_id(exp));
    cp_mlflow_experiment_destroy(exp);

    char name[64];
    if (r->o->run_name && *r->o->run_name) {
        snprintf(name, sizeof name, "%s", r->o->run_name);
    } else {
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(name, sizeof name, "train-%Y%m%d-%H%M%S", &tm);
    }
    char *batches = joined(r->o->batches, r->o->nbatches);
    char *inputs = joined(r->o->inputs, r->o->ninputs);
    if (!batches || !inputs) {
        free(batches);
        free(inputs);
        return tr_failf(r, "out of memory");
    }
    cp_mlflow_kv_t tags[] = {
        {"mlflow.source.name", "carprice train"},
        {"mlflow.source.type", "LOCAL"},
        {"carprice.batches", batches},
        {"carprice.inputs", inputs},
        {"carprice.status", "running"},
    };
    cp_mlflow_run_opts_t ro = {.experiment_id = r->experiment_id,
                               .run_name = name,
                               .tags = tags,
                               .n_tags = sizeof tags / sizeof tags[0]};
    cp_rest_code_t rc = cp_mlflow_run_create(r->mlflow, &ro, &run, r->rest_err);
    free(batches);
    free(inputs);
    if (rc != CP_REST_OK)
        return tr_fail_rest(r, "creating the MLflow run");
    snprintf(r->res->run_id, sizeof r->res->run_id, "%s", cp_mlflow_run_id(run));
    cp_mlflow_run_destroy(run);
    cp_log_info("train.mlflow", "experiment=%s run_id=%s run_name=%s", exp_name, r->res->run_id,
                name);
    return 0;
}

/* The parent run's parameters, metrics and lineage tags. */
static int log_parent(run_t *r)
{
    const cp_train_result_t *s = r->res;
    cp_mlflow_batch_t *b = cp_mlflow_batch_new();
    cp_rest_code_t rc = b ? CP_REST_OK : CP_REST_ERR_NOMEM;
    cp_rest_error_t *e = r->rest_err;
    char v[256];
    if (!b)
        return tr_failf(r, "out of memory");
    snprintf(v, sizeof v, "%g", r->o->holdout);
    add_param(b, "holdout", v, &rc, e);
    snprintf(v, sizeof v, "%lld", (long long)r->o->seed);
    add_param(b, "seed", v, &rc, e);
    snprintf(v, sizeof v, "%d", r->o->folds);
    add_param(b, "folds", v, &rc, e);
    snprintf(v, sizeof v, "%d", s->parallelism);
    add_param(b, "parallelism", v, &rc, e);
    snprintf(v, sizeof v, "%d", r->o->min_category_count);
    add_param(b, "min_category_count", v, &rc, e);
    v[0] = '\0';
    for (size_t i = 0; i < r->nmodels; i++)
        snprintf(v + strlen(v), sizeof v - strlen(v), "%s%s", i ? "," : "", r->models[i].name);
    add_param(b, "base_models", v, &rc, e);
    add_param(b, "meta_model", "LinearRegression", &rc, e);

    add_metric(b, "rows_read", (double)s->rows_read, 0, &rc, e);
    add_metric(b, "rows_kept", (double)s->rows_kept, 0, &rc, e);
    add_metric(b, "rows_dropped", (double)s->rows_dropped, 0, &rc, e);
    add_metric(b, "train_rows", (double)s->train_rows, 0, &rc, e);
    add_metric(b, "holdout_rows", (double)s->holdout_rows, 0, &rc, e);
    add_metric(b, "num_features", (double)s->num_features, 0, &rc, e);
    add_holdout(b, &s->holdout[s->nmodels], &rc, e);
    add_metric(b, "oof_rmse_log", r->ens.oof_rmse, 0, &rc, e);
    add_metric(b, "secs_etl", s->secs_etl, 0, &rc, e);
    add_metric(b, "secs_features", s->secs_features, 0, &rc, e);
    add_metric(b, "secs_write", s->secs_write, 0, &rc, e);
    add_metric(b, "secs_cv", s->secs_cv, 0, &rc, e);
    add_metric(b, "secs_stack", s->secs_stack, 0, &rc, e);
    add_metric(b, "secs_refit", s->secs_refit, 0, &rc, e);
    add_metric(b, "secs_validation", s->secs_validation, 0, &rc, e);
    add_metric(b, "secs_total", cp_now_s() - r->t0, 0, &rc, e);

    snprintf(v, sizeof v, "%lld", (long long)s->rows_read);
    add_tag(b, "carprice.rows_read", v, &rc, e);
    snprintf(v, sizeof v, "%lld", (long long)s->rows_dropped);
    add_tag(b, "carprice.rows_dropped", v, &rc, e);
    for (size_t i = 0; i < s->nreasons; i++) {
        char key[128];
        snprintf(key, sizeof key, "carprice.dropped.");
        for (const char *c = s->reasons[i]; *c && strlen(key) + 1 < sizeof key; c++) {
            size_t n = strlen(key);
            key[n] = *c == ' ' || *c == '=' ? '_' : *c;
            key[n + 1] = '\0';
        }
        snprintf(v, sizeof v, "%lld", (long long)s->reason_rows[i]);
        add_tag(b, key, v, &rc, e);
        char mkey[140];
        snprintf(mkey, sizeof mkey, "dropped.%s", key + strlen("carprice.dropped."));
        add_metric(b, mkey, (double)s->reason_rows[i], 0, &rc, e);
    }
    add_tag(b, "carprice.spark_version", r->spark_version, &rc, e);
    add_tag(b, "carprice.out_dir", r->out_uri, &rc, e);
    add_tag(b, "carprice.model_path", s->model_uri, &rc, e);
    char set[sizeof r->out_uri + 16];
    snprintf(set, sizeof set, "%s/train-set", r->out_uri);
    add_tag(b, "carprice.train_set_path", set, &rc, e);
    if (rc == CP_REST_OK)
        rc = cp_mlflow_log_batch(r->mlflow, s->run_id, b, NULL, e);
    cp_mlflow_batch_destroy(b);
    return rc == CP_REST_OK ? 0 : tr_fail_rest(r, "logging the run to MLflow");
}

/* One nested run; b is filled by the caller. */
static int nested_run(run_t *r, const char *name, cp_mlflow_batch_t *b)
{
    /* parent_run_id sets mlflow.parentRunId. */
    cp_mlflow_kv_t tags[] = {{"mlflow.source.name", "carprice train"}};
    cp_mlflow_run_opts_t ro = {.experiment_id = r->experiment_id,
                               .run_name = name,
                               .parent_run_id = r->res->run_id,
                               .tags = tags,
                               .n_tags = 1};
    cp_mlflow_run_t *run = NULL;
    if (cp_mlflow_run_create(r->mlflow, &ro, &run, r->rest_err) != CP_REST_OK)
        return tr_fail_rest(r, "creating a nested MLflow run");
    char id[64];
    snprintf(id, sizeof id, "%s", cp_mlflow_run_id(run));
    cp_mlflow_run_destroy(run);
    if (cp_mlflow_log_batch(r->mlflow, id, b, NULL, r->rest_err) != CP_REST_OK ||
        cp_mlflow_run_terminate(r->mlflow, id, CP_MLFLOW_RUN_FINISHED, r->rest_err) != CP_REST_OK)
        return tr_fail_rest(r, "logging a nested MLflow run");
    return 0;
}

static int log_models(run_t *r)
{
    const cp_train_result_t *s = r->res;
    cp_rest_error_t *e = r->rest_err;
    for (size_t i = 0; i < r->nmodels; i++) {
        const en_model_t *m = &r->models[i];
        const en_result_t *mr = &r->ens.models[i];
        cp_mlflow_batch_t *b = cp_mlflow_batch_new();
        cp_rest_code_t rc = b ? CP_REST_OK : CP_REST_ERR_NOMEM;
        if (!b)
            return tr_failf(r, "out of memory");
        add_param(b, "estimator", m->estimator, &rc, e);
        add_param(b, "prediction_col", m->pred_col, &rc, e);
        for (size_t p = 0; p < m->nparams; p++) {
            char key[80], vals[EN_MAX_VALUES * 26] = "";
            for (size_t j = 0; j < m->params[p].nvalues; j++)
                snprintf(vals + strlen(vals), sizeof vals - strlen(vals), "%s%s", j ? "," : "",
                         m->params[p].values[j]);
            snprintf(key, sizeof key, "grid.%s", m->params[p].name);
            add_param(b, key, vals, &rc, e);
            add_param(b, m->params[p].name, en_combo_value(m, mr->best, p), &rc, e);
        }
        for (int f = 0; f < r->o->folds; f++) {
            add_metric(b, "cv_rmse_log", mr->cv_rmse[mr->best][f], f, &rc, e);
            add_metric(b, "cv_mae_log", mr->cv_mae[mr->best][f], f, &rc, e);
            add_metric(b, "cv_r2_log", mr->cv_r2[mr->best][f], f, &rc, e);
        }
        add_metric(b, "cv_rmse_log_mean", mr->cv_mean[mr->best], 0, &rc, e);
        add_metric(b, "cv_rmse_log_std", mr->cv_std[mr->best], 0, &rc, e);
        for (size_t c = 0; c < mr->combos; c++) {
            add_metric(b, "grid_cv_rmse_log_mean", mr->cv_mean[c], (int64_t)c, &rc, e);
            add_metric(b, "grid_cv_rmse_log_std", mr->cv_std[c], (int64_t)c, &rc, e);
        }
        add_metric(b, "oof_rmse_log", r->ens.oof_base_rmse[i], 0, &rc, e);
        add_holdout(b, &s->holdout[i], &rc, e);
        add_metric(b, "secs_cv", mr->secs_cv, 0, &rc, e);
        add_metric(b, "secs_final_fit", mr->secs_refit, 0, &rc, e);
        add_metric(b, "stack_coefficient", r->ens.meta_coef[i], 0, &rc, e);
        int ok = rc == CP_REST_OK ? nested_run(r, m->name, b)
                                  : tr_fail_rest(r, "logging a base model to MLflow");
        cp_mlflow_batch_destroy(b);
        if (ok != 0)
            return -1;
    }
    cp_mlflow_batch_t *b = cp_mlflow_batch_new();
    cp_rest_code_t rc = b ? CP_REST_OK : CP_REST_ERR_NOMEM;
    if (!b)
        return tr_failf(r, "out of memory");
    add_param(b, "estimator", "org.apache.spark.ml.regression.LinearRegression", &rc, e);
    add_param(b, "regParam", "0.0", &rc, e);
    add_param(b, "solver", "normal", &rc, e);
    add_param(b, "trained_on", "out-of-fold predictions of the base models", &rc, e);
    add_metric(b, "intercept", r->ens.meta_intercept, 0, &rc, e);
    for (size_t i = 0; i < r->nmodels; i++) {
        char key[64];
        snprintf(key, sizeof key, "coef.%s", r->models[i].name);
        add_metric(b, key, r->ens.meta_coef[i], 0, &rc, e);
    }
    add_metric(b, "oof_rmse_log", r->ens.oof_rmse, 0, &rc, e);
    add_metric(b, "oof_mae_log", r->ens.oof_mae, 0, &rc, e);
    add_metric(b, "oof_r2_log", r->ens.oof_r2, 0, &rc, e);
    add_holdout(b, &s->holdout[r->nmodels], &rc, e);
    add_metric(b, "secs_stack", s->secs_stack, 0, &rc, e);
    int ok = rc == CP_REST_OK ? nested_run(r, "stack", b)
                              : tr_fail_rest(r, "logging the stacker to MLflow");
    cp_mlflow_batch_destroy(b);
    return ok;
}

/* Draws one chart into dir/name and uploads it to the run's plots/. */
static int upload_chart(run_t *r, cp_plot_t *p, const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int rc = cp_plot_write_png(p, path);
    cp_plot_destroy(p);
    if (rc != CP_PLOT_OK)
        return tr_failf(r, "plot %s: %s", name, cp_plot_strerror(rc));
    rc = cp_mlflow_artifact_upload_file(r->mlflow, r->res->run_id, path, "plots", r->rest_err) ==
                 CP_REST_OK
             ? 0
             : tr_fail_rest(r, "uploading a plot");
    unlink(path);
    return rc;
}

static int cmp_desc(const void *a, const void *b)
{
    double x = ((const double *)a)[0], y = ((const double *)b)[0];
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Predicted vs actual, residuals, feature importances: PNG artifacts. */
static int log_plots(run_t *r)
{
    char dir[] = "/tmp/carprice-plots-XXXXXX";
    if (!mkdtemp(dir))
        return tr_failf(r, "temporary directory for plots: %m");
    size_t n = r->nsample;
    double *resid = calloc(n ? n : 1, sizeof *resid);
    int rc = -1;
    cp_plot_t *p = NULL;
    if (!resid) {
        tr_failf(r, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        resid[i] = r->sample_actual[i] > 0 && r->sample_pred[i] > 0
                       ? log(r->sample_pred[i]) - log(r->sample_actual[i])
                       : NAN;
    p = cp_plot_new(800, 800, "Predicted vs actual price (holdout sample)");
    if (!p || cp_plot_scatter(p, r->sample_actual, r->sample_pred, n, "actual price (USD)",
                              "predicted price (USD)",
                              CP_PLOT_DIAGONAL | CP_PLOT_LOG_X | CP_PLOT_LOG_Y) != CP_PLOT_OK) {
        cp_plot_destroy(p);
        tr_failf(r, "plot: predicted vs actual");
        goto done;
    }
    if (upload_chart(r, p, dir, "predicted_vs_actual.png") != 0)
        goto done;
    p = cp_plot_new(900, 600, "Residuals: ln(predicted) - ln(actual) (holdout sample)");
    if (!p || cp_plot_histogram(p, resid, n, 0, "log residual") != CP_PLOT_OK) {
        cp_plot_destroy(p);
        tr_failf(r, "plot: residual histogram");
        goto done;
    }
    if (upload_chart(r, p, dir, "residuals_histogram.png") != 0)
        goto done;
    p = cp_plot_new(900, 600, "Residuals vs predicted price (holdout sample)");
    if (!p || cp_plot_scatter(p, r->sample_pred, resid, n, "predicted price (USD)",
                              "ln(predicted) - ln(actual)",
                              CP_PLOT_LOG_X | CP_PLOT_ZERO_LINE) != CP_PLOT_OK) {
        cp_plot_destroy(p);
        tr_failf(r, "plot: residuals vs predicted");
        goto done;
    }
    if (upload_chart(r, p, dir, "residuals_vs_predicted.png") != 0)
        goto done;
    if (r->nimp) {
        /* Largest first: sort (value, index) pairs. */
        double pairs[64][2];
        const char *labels[64];
        double values[64];
        for (size_t i = 0; i < r->nimp; i++) {
            pairs[i][0] = r->imp_values[i];
            pairs[i][1] = (double)i;
        }
        qsort(pairs, r->nimp, sizeof pairs[0], cmp_desc);
        for (size_t i = 0; i < r->nimp; i++) {
            labels[i] = r->imp_names[(size_t)pairs[i][1]];
            values[i] = pairs[i][0];
        }
        size_t top = r->nimp < 25 ? r->nimp : 25;
        p = cp_plot_new(900, 800, "Feature importances (first tree model)");
        if (!p || cp_plot_bars(p, labels, values, top, "importance") != CP_PLOT_OK) {
            cp_plot_destroy(p);
            tr_failf(r, "plot: feature importances");
            goto done;
        }
        if (upload_chart(r, p, dir, "feature_importances.png") != 0)
            goto done;
    }
    rc = 0;
done:
    free(resid);
    rmdir(dir);
    return rc;
}

/* RMSE on ln(price) of the champion's model on this run's holdout rows;
 * 1 when there is no champion, -1 (with *why) when it cannot be scored. */
static int champion_rmse(run_t *r, const sc_df_t *holdout, char *version, size_t vlen, double *rmse,
                         char *why, size_t wlen)
{
    cp_mlflow_model_version_t *mv = NULL;
    cp_rest_code_t rc =
        cp_mlflow_model_alias_get(r->mlflow, model_name(r), CHAMPION, &mv, r->rest_err);
    if (rc == CP_REST_ERR_NOT_FOUND)
        return 1;
    if (rc != CP_REST_OK) {
        snprintf(why, wlen, "cannot read the champion: %s", cp_rest_error_message(r->rest_err));
        return -1;
    }
    snprintf(version, vlen, "%s", cp_mlflow_model_version_version(mv));
    const char *path = cp_mlflow_model_version_tag(mv, "model_path");
    char p[1024];
    snprintf(p, sizeof p, "%s", path ? path : "");
    cp_mlflow_model_version_destroy(mv);
    if (!*p) {
        snprintf(why, wlen, "champion version %s has no model_path tag", version);
        return -1;
    }
    sc_model_t *m = NULL;
    sc_df_t *scored = NULL, *agg = NULL;
    sc_result_t *res = NULL;
    int out = -1;
    const char *msg = sc_error_message(r->err);
    if (sc_pipeline_read(r->s, p, &m, r->err) != SC_OK ||
        sc_model_transform(m, holdout, NULL, &scored, r->err) != SC_OK ||
        sc_df_select_expr(scored, (const char *const[]){"sqrt(avg(pow(label - prediction, 2)))"}, 1,
                          &agg, r->err) != SC_OK ||
        sc_df_collect(agg, &res, r->err) != SC_OK ||
        sc_result_get_double(res, 0, 0, rmse, r->err) != SC_OK) {
        msg = sc_error_message(r->err);
        snprintf(why, wlen, "cannot score champion version %s (%.300s): %.*s", version, p,
                 (int)(strcspn(msg, "\n") < 300 ? strcspn(msg, "\n") : 300), msg);
        goto done;
    }
    out = 0;
done:
    sc_result_destroy(res);
    sc_df_destroy(agg);
    sc_df_destroy(scored);
    sc_model_destroy(m);
    return out;
}

int tr_tracking_finish(run_t *r, const sc_df_t *holdout)
{
    cp_train_result_t *s = r->res;
    if (log_parent(r) != 0 || log_models(r) != 0)
        return -1;
    if (log_plots(r) != 0)
        return -1;
    /* Published and registered only after everything else is logged. */
    if (!r->hdfs)
        return tr_failf(r, "publishing needs the model on HDFS (--out hdfs://...)");
    char perr[512];
    cp_publish_opts_t po = {
        .run_id = s->run_id, .model_uri = s->model_uri, .spark_version = r->spark_version};
    cp_publish_result_t pres;
    if (cp_publish_spark_model(r->mlflow, r->hdfs, &po, &pres, perr, sizeof perr) != CP_REST_OK)
        return tr_failf(r, "publishing the model to MLflow: %s", perr);
    cp_log_info("train.published", "run_id=%s files=%zu bytes=%lld secs=%.1f", s->run_id,
                pres.files, (long long)pres.bytes, pres.seconds);

    /* The gate is decided before the version exists, so that a failure
     * here registers nothing. */
    char champ[16] = "", why[512] = "";
    double champ_rmse = NAN, mine = s->holdout[s->nmodels].rmse_log;
    int c = champion_rmse(r, holdout, champ, sizeof champ, &champ_rmse, why, sizeof why);
    if (c == 1) {
        s->promoted = 1;
        snprintf(s->gate_reason, sizeof s->gate_reason, "first model: no champion yet");
    } else if (c < 0) {
        /* A champion that cannot even be scored on today's data cannot serve
         * it either: the new model takes over, and the run says why. */
        s->promoted = 1;
        snprintf(s->gate_reason, sizeof s->gate_reason, "promoted: %.240s", why);
    } else if (mine <= champ_rmse) {
        s->promoted = 1;
        snprintf(s->gate_reason, sizeof s->gate_reason,
                 "promoted: holdout rmse_log %.5f <= champion v%s %.5f on the same rows", mine,
                 champ, champ_rmse);
    } else {
        s->promoted = 0;
        snprintf(s->gate_reason, sizeof s->gate_reason,
                 "not promoted: holdout rmse_log %.5f > champion v%s %.5f on the same rows", mine,
                 champ, champ_rmse);
    }
    if (isfinite(champ_rmse))
        cp_mlflow_log_metric(r->mlflow, s->run_id, "champion_holdout_rmse_log", champ_rmse, 0,
                             r->rest_err);
    cp_mlflow_kv_t vtags[] = {{"carprice.gate", s->gate_reason},
                              {"carprice.holdout_rmse_log", NULL}};
    char rmse_text[32];
    snprintf(rmse_text, sizeof rmse_text, "%.6f", mine);
    vtags[1].value = rmse_text;
    cp_publish_register_opts_t vo = {.name = model_name(r),
                                     .run_id = s->run_id,
                                     .model_uri = s->model_uri,
                                     .description = "stacked ensemble (carprice train)",
                                     .tags = vtags,
                                     .n_tags = 2};
    char *version = NULL;
    if (cp_publish_register_version(r->mlflow, &vo, &version, perr, sizeof perr) != CP_REST_OK)
        return tr_failf(r, "registering the model version: %s", perr);
    snprintf(r->version, sizeof r->version, "%s", version);
    free(version);
    if (cp_mlflow_set_tag(r->mlflow, s->run_id, "carprice.gate", s->gate_reason, r->rest_err) !=
            CP_REST_OK ||
        cp_mlflow_set_tag(r->mlflow, s->run_id, "carprice.model_version", r->version,
                          r->rest_err) != CP_REST_OK)
        return tr_fail_rest(r, "tagging the model version");
    if (s->promoted && cp_mlflow_model_alias_set(r->mlflow, model_name(r), CHAMPION, r->version,
                                                 r->rest_err) != CP_REST_OK)
        return tr_fail_rest(r, "setting the champion alias");
    snprintf(s->model_version, sizeof s->model_version, "%s", r->version);
    cp_log_info("train.registered", "model=%s version=%s promoted=%d gate=\"%s\"", model_name(r),
                r->version, s->promoted, s->gate_reason);
    if (cp_mlflow_set_tag(r->mlflow, s->run_id, "carprice.status", "finished", r->rest_err) !=
            CP_REST_OK ||
        cp_mlflow_run_terminate(r->mlflow, s->run_id, CP_MLFLOW_RUN_FINISHED, r->rest_err) !=
            CP_REST_OK)
        return tr_fail_rest(r, "finishing the MLflow run");
    return 0;
}

void tr_tracking_fail(run_t *r)
{
    const char *id = r->res->run_id;
    if (!r->mlflow || !*id)
        return;
    cp_rest_error_t *e = cp_rest_error_new();
    if (!e)
        return;
    /* Nothing registered survives a failed run. */
    if (r->version[0]) {
        if (cp_mlflow_model_version_delete(r->mlflow, model_name(r), r->version, e) != CP_REST_OK)
            cp_log_error("train.unregister", "model=%s version=%s error=\"%s\"", model_name(r),
                         r->version, cp_rest_error_message(e));
        r->version[0] = '\0';
        r->res->model_version[0] = '\0';
        r->res->promoted = 0;
    }
    char msg[CP_MLFLOW_MAX_TAG_VALUE_CHARS];
    snprintf(msg, sizeof msg, "%s", r->errlen ? r->errbuf : "failed");
    if (cp_mlflow_set_tag(r->mlflow, id, "carprice.error", msg, e) != CP_REST_OK ||
        cp_mlflow_set_tag(r->mlflow, id, "carprice.status", "failed", e) != CP_REST_OK ||
        cp_mlflow_run_terminate(r->mlflow, id, CP_MLFLOW_RUN_FAILED, e) != CP_REST_OK)
        cp_log_error("train.mlflow", "run_id=%s error=\"cannot mark the run FAILED: %s\"", id,
                     cp_rest_error_message(e));
    cp_rest_error_destroy(e);
}
