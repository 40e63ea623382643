/* carprice train: the training workflow through Spark Connect (see
 * include/carprice/train.h and docs/train.md). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "carprice/train.h"
#include "carprice/webhdfs.h"
#include "commands.h"

#ifndef CARPRICE_SQL_DIR
#define CARPRICE_SQL_DIR "sql"
#endif

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: carprice train (--input PATH... | --batches DIR [--batch NAME]...)\n"
        "                      [--out DIR] [--models gbt,rf,lin] [--grid MODEL.PARAM=V1,V2]...\n"
        "                      [--folds K] [--parallelism N] [--holdout F] [--seed S]\n"
        "                      [--min-category-count N] [--min-r2 R] [--remote sc://HOST:PORT]\n"
        "                      [--sql-dir DIR] [--no-mlflow] [--experiment NAME]\n"
        "                      [--model-name NAME] [--run-name NAME] [--no-progress]\n"
        "\n"
        "Trains the price model through Spark Connect: ETL (sql/features.sql,\n"
        "sql/train_rows.sql; dropped rows counted by reason), a hash holdout and folds,\n"
        "the feature pipeline, base models tuned by k-fold cross-validation from several\n"
        "threads, a linear stacker on their out-of-fold predictions, refits, holdout\n"
        "metrics. Tracks everything in MLflow, registers the model as a new version and\n"
        "makes it the champion only if it beats the current one on the same holdout.\n"
        "\n"
        "  --input PATH      raw CSV file or directory; repeat or list several after it\n"
        "  --batches DIR     every complete batch (a subdirectory with _SUCCESS) of DIR\n"
        "                    (hdfs://HOST:PORT/PATH); --batch NAME takes only the named ones\n"
        "  --out DIR         output directory (default with MLflow:\n"
        "                    $CARPRICE_HDFS_URI/carprice/runs/<run id>)\n"
        "  --models LIST     base models of gbt, rf, lin, fm (default gbt,rf,lin)\n"
        "  --grid SPEC       MODEL.PARAM=V1[,V2...] replaces a grid entry (repeatable),\n"
        "                    e.g. --grid gbt.maxDepth=4,6,8 --grid rf.numTrees=50\n"
        "  --folds K         cross-validation folds, 2..10 (default 3)\n"
        "  --parallelism N   client threads fitting at once (default 2)\n"
        "  --holdout F       fraction held out, 0 < F < 1 (default 0.1)\n"
        "  --seed S          seed of the holdout and fold hashes and the models (default 42)\n"
        "  --min-category-count N\n"
        "                    categories seen fewer than N times in the training rows share\n"
        "                    the index of unseen ones (default 5; 0 keeps all)\n"
        "  --min-r2 R        fail (register nothing) if the stack's holdout R^2 on log\n"
        "                    price is below R\n"
        "  --remote URL      Spark Connect (default $CARPRICE_SPARK_REMOTE, then\n"
        "                    sc://127.0.0.1:15002)\n"
        "  --sql-dir DIR     the SQL files (default $CARPRICE_SQL_DIR, then %s)\n"
        "  --no-mlflow       no tracking, publication or registration (needs --out)\n"
        "  --experiment NAME MLflow experiment (default carprice; server $MLFLOW_TRACKING_URI)\n"
        "  --model-name NAME registered model (default carprice)\n"
        "  --run-name NAME   MLflow run name (default train-<UTC time>)\n"
        "\n"
        "Exit status: 0 trained (registered, promoted or not), 1 failed (nothing\n"
        "registered; the MLflow run is FAILED), 2 usage.\n",
        CARPRICE_SQL_DIR);
}

static int parse_num(const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    if (errno || end == s || *end) {
        fprintf(stderr, "carprice train: %s needs a number, not '%s'\n", opt, s);
        return -1;
    }
    return 0;
}

/* The complete batch directories under dir (hdfs://HOST:PORT/PATH), all or
 * the named ones, as input URIs and names. */
static int list_batches(const char *dir, const char *const *only, size_t nonly, char ***uris,
                        char ***names, size_t *n)
{
    const char *path = strncmp(dir, "hdfs://", 7) == 0 ? strchr(dir + 7, '/') : NULL;
    if (!path) {
        fprintf(stderr, "carprice train: --batches needs hdfs://HOST:PORT/PATH, not '%s'\n", dir);
        return -1;
    }
    cp_rest_error_t *err = cp_rest_error_new();
    cp_hdfs_t *h = NULL;
    cp_hdfs_list_t *l = NULL;
    int rc = -1;
    if (!err || cp_hdfs_new(NULL, &h, err) != CP_REST_OK ||
        cp_hdfs_list_complete_dirs(h, path, NULL, &l, err) != CP_REST_OK) {
        fprintf(stderr, "carprice train: listing batches in %s: %s\n", dir,
                err ? cp_rest_error_message(err) : "out of memory");
        goto done;
    }
    size_t count = cp_hdfs_list_count(l);
    *uris = calloc(count + 1, sizeof **uris);
    *names = calloc(count + 1, sizeof **names);
    *n = 0;
    if (!*uris || !*names)
        goto done;
    for (size_t i = 0; i < count; i++) {
        const char *name = cp_hdfs_list_at(l, i)->name;
        bool wanted = nonly == 0;
        for (size_t j = 0; j < nonly && !wanted; j++)
            wanted = strcmp(only[j], name) == 0;
        if (!wanted)
            continue;
        (*names)[*n] = strdup(name);
        if (asprintf(&(*uris)[*n], "%s/%s", dir, name) < 0)
            (*uris)[*n] = NULL;
        if (!(*names)[*n] || !(*uris)[*n])
            goto done;
        (*n)++;
    }
    for (size_t j = 0; j < nonly; j++) {
        bool found = false;
        for (size_t i = 0; i < *n && !found; i++)
            found = strcmp((*names)[i], only[j]) == 0;
        if (!found) {
            fprintf(stderr, "carprice train: batch %s is not a complete batch of %s\n", only[j],
                    dir);
            goto done;
        }
    }
    if (*n == 0) {
        fprintf(stderr, "carprice train: no complete batches in %s\n", dir);
        goto done;
    }
    rc = 0;
done:
    cp_hdfs_list_destroy(l);
    cp_hdfs_destroy(h);
    cp_rest_error_destroy(err);
    return rc;
}

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static void print_result(const cp_train_result_t *res, const cp_train_opts_t *o)
{
    printf("rows read      %lld\n", (long long)res->rows_read);
    printf("rows kept      %lld\n", (long long)res->rows_kept);
    printf("rows dropped   %lld\n", (long long)res->rows_dropped);
    for (size_t i = 0; i < res->nreasons; i++)
        printf("  %-28s %lld\n", res->reasons[i], (long long)res->reason_rows[i]);
    printf("training rows  %lld\n", (long long)res->train_rows);
    printf("holdout rows   %lld\n", (long long)res->holdout_rows);
    printf("features       %lld\n", (long long)res->num_features);
    printf("\n%-6s %12s %12s %10s %10s %10s %8s  %s\n", "model", "cv rmse(log)", "rmse(log)",
           "r2(log)", "rmse $", "mae $", "r2 $", "chosen parameters");
    for (size_t i = 0; i <= res->nmodels; i++) {
        const cp_train_metrics_t *h = &res->holdout[i];
        printf("%-6s %12.4f %12.4f %10.4f %10.0f %10.0f %8.4f  %s\n", res->model_names[i],
               res->cv_rmse_log[i], h->rmse_log, h->r2_log, h->rmse, h->mae, h->r2,
               i < res->nmodels ? res->best_params[i] : "(out-of-fold cv)");
    }
    printf("\ntime           etl %.1fs, features %.1fs, write %.1fs, cv %.1fs, stack %.1fs,\n"
           "               refit %.1fs, validation %.1fs, tracking %.1fs, total %.1fs"
           " (%d threads)\n",
           res->secs_etl, res->secs_features, res->secs_write, res->secs_cv, res->secs_stack,
           res->secs_refit, res->secs_validation, res->secs_tracking, res->secs_total,
           res->parallelism);
    printf("model          %s\n", res->model_uri);
    if (res->run_id[0]) {
        printf("mlflow run     %s\n", res->run_id);
        printf("registered     %s version %s%s\n", o->model_name ? o->model_name : "carprice",
               res->model_version, res->promoted ? " (champion)" : "");
        printf("gate           %s\n", res->gate_reason);
    }
}

int cmd_train(int argc, char **argv)
{
    cp_train_opts_t o;
    cp_train_opts_init(&o);
    o.remote = getenv("CARPRICE_SPARK_REMOTE");
    o.sql_dir = getenv("CARPRICE_SQL_DIR");
    o.progress = isatty(STDERR_FILENO);
    o.tracking = 1;
    const char **inputs = calloc((size_t)argc, sizeof *inputs);
    const char **grid = calloc((size_t)argc, sizeof *grid);
    const char **only = calloc((size_t)argc, sizeof *only);
    char **batch_uris = NULL, **batch_names = NULL;
    size_t ninputs = 0, ngrid = 0, nonly = 0, nbatches = 0;
    const char *batches_dir = NULL;
    double v;
    int status = 2;
    if (!inputs || !grid || !only) {
        fprintf(stderr, "carprice train: out of memory\n");
        status = 1;
        goto done;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            status = 0;
            goto done;
        } else if (!strcmp(a, "--input") && has_value) {
            while (i + 1 < argc && argv[i + 1][0] != '-')
                inputs[ninputs++] = argv[++i];
        } else if (!strcmp(a, "--batches") && has_value) {
            batches_dir = argv[++i];
        } else if (!strcmp(a, "--batch") && has_value) {
            only[nonly++] = argv[++i];
        } else if (!strcmp(a, "--out") && has_value) {
            o.out_dir = argv[++i];
        } else if (!strcmp(a, "--remote") && has_value) {
            o.remote = argv[++i];
        } else if (!strcmp(a, "--sql-dir") && has_value) {
            o.sql_dir = argv[++i];
        } else if (!strcmp(a, "--models") && has_value) {
            o.models = argv[++i];
        } else if (!strcmp(a, "--grid") && has_value) {
            grid[ngrid++] = argv[++i];
        } else if (!strcmp(a, "--experiment") && has_value) {
            o.experiment = argv[++i];
        } else if (!strcmp(a, "--model-name") && has_value) {
            o.model_name = argv[++i];
        } else if (!strcmp(a, "--run-name") && has_value) {
            o.run_name = argv[++i];
        } else if (!strcmp(a, "--holdout") && has_value) {
            if (parse_num(a, argv[++i], &o.holdout) != 0)
                goto done;
        } else if (!strcmp(a, "--min-r2") && has_value) {
            if (parse_num(a, argv[++i], &o.min_r2) != 0)
                goto done;
        } else if (!strcmp(a, "--seed") && has_value) {
            if (parse_num(a, argv[++i], &v) != 0)
                goto done;
            o.seed = (int64_t)v;
        } else if (!strcmp(a, "--folds") && has_value) {
            if (parse_num(a, argv[++i], &v) != 0)
                goto done;
            o.folds = (int)v;
        } else if (!strcmp(a, "--parallelism") && has_value) {
            if (parse_num(a, argv[++i], &v) != 0)
                goto done;
            if (v < 1 || v > 16) {
                fprintf(stderr, "carprice train: --parallelism must be 1..16\n");
                goto done;
            }
            o.parallelism = (int)v;
        } else if (!strcmp(a, "--min-category-count") && has_value) {
            if (parse_num(a, argv[++i], &v) != 0)
                goto done;
            o.min_category_count = (int)v;
        } else if (!strcmp(a, "--no-progress")) {
            o.progress = 0;
        } else if (!strcmp(a, "--no-mlflow")) {
            o.tracking = 0;
        } else {
            fprintf(stderr, "carprice train: unknown option or missing value '%s'\n", a);
            goto done;
        }
    }
    if ((ninputs == 0) == (batches_dir == NULL) || (nonly && !batches_dir) ||
        (!o.out_dir && !o.tracking)) {
        usage(stderr);
        goto done;
    }
    if (!o.sql_dir || !*o.sql_dir)
        o.sql_dir = CARPRICE_SQL_DIR;
    if (batches_dir) {
        if (list_batches(batches_dir, only, nonly, &batch_uris, &batch_names, &nbatches) != 0) {
            status = 1;
            goto done;
        }
        o.inputs = (const char *const *)batch_uris;
        o.ninputs = nbatches;
        o.batches = (const char *const *)batch_names;
        o.nbatches = nbatches;
    } else {
        o.inputs = inputs;
        o.ninputs = ninputs;
    }
    o.grid = grid;
    o.ngrid = ngrid;

    cp_train_result_t *res = calloc(1, sizeof *res);
    char errbuf[1024];
    if (!res) {
        status = 1;
        goto done;
    }
    if (cp_train_run(&o, res, errbuf, sizeof errbuf) != 0) {
        fprintf(stderr, "carprice train: %s\n", errbuf);
        if (res->run_id[0])
            fprintf(stderr, "carprice train: MLflow run %s marked FAILED; nothing registered\n",
                    res->run_id);
        free(res);
        status = 1;
        goto done;
    }
    print_result(res, &o);
    free(res);
    status = 0;
done:
    free_list(batch_uris, nbatches);
    free_list(batch_names, nbatches);
    free(inputs);
    free(grid);
    free(only);
    return status;
}
