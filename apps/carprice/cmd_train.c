/* carprice train: the training workflow through Spark Connect (stage 1: ETL,
 * split, feature pipeline, smoke model; see include/carprice/train.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "carprice/train.h"
#include "commands.h"

#ifndef CARPRICE_SQL_DIR
#define CARPRICE_SQL_DIR "sql"
#endif

static void usage(FILE *out)
{
    fprintf(out,
            "usage: carprice train --input PATH... --out DIR [--remote sc://HOST:PORT]\n"
            "                      [--sql-dir DIR] [--holdout F] [--seed S] [--folds K]\n"
            "                      [--min-category-count N] [--no-progress]\n"
            "\n"
            "Reads raw CSV listings (files or directories; local, file:// or hdfs://) through\n"
            "Spark Connect, applies sql/features.sql and sql/train_rows.sql, counts dropped rows\n"
            "by reason, splits a holdout by a hash of listing_id, fits the feature pipeline\n"
            "on the training rows and scores a quick linear model on the holdout.\n"
            "\n"
            "Writes to DIR (a path the Spark server can reach): train-set/ (Parquet),\n"
            "feature-pipeline/ (PipelineModel), etl-summary.txt and _SUCCESS (last).\n"
            "\n"
            "  --input PATH   raw CSV file or directory; repeat or list several after it\n"
            "  --out DIR      output directory\n"
            "  --remote URL   Spark Connect server (default $CARPRICE_SPARK_REMOTE, then\n"
            "                 sc://127.0.0.1:15002)\n"
            "  --sql-dir DIR  the SQL files (default $CARPRICE_SQL_DIR, then %s)\n"
            "  --holdout F    fraction held out, 0 < F < 1 (default 0.1)\n"
            "  --seed S       seed of the holdout and fold hashes (default 42)\n"
            "  --folds K      folds of the fold column (default 3)\n"
            "  --min-category-count N\n"
            "                 categories seen fewer than N times in the training rows share\n"
            "                 the index of unseen ones (default 5; 0 keeps all)\n",
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

int cmd_train(int argc, char **argv)
{
    cp_train_opts_t o;
    cp_train_opts_init(&o);
    o.remote = getenv("CARPRICE_SPARK_REMOTE");
    o.sql_dir = getenv("CARPRICE_SQL_DIR");
    o.progress = isatty(STDERR_FILENO);
    const char **inputs = calloc((size_t)argc, sizeof *inputs);
    size_t ninputs = 0;
    double v;
    if (!inputs) {
        fprintf(stderr, "carprice train: out of memory\n");
        return 1;
    }
    int status = 2;
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
        } else if (!strcmp(a, "--out") && has_value) {
            o.out_dir = argv[++i];
        } else if (!strcmp(a, "--remote") && has_value) {
            o.remote = argv[++i];
        } else if (!strcmp(a, "--sql-dir") && has_value) {
            o.sql_dir = argv[++i];
        } else if (!strcmp(a, "--holdout") && has_value) {
            if (parse_num(a, argv[++i], &o.holdout) != 0)
                goto done;
        } else if (!strcmp(a, "--seed") && has_value) {
            if (parse_num(a, argv[++i], &v) != 0)
                goto done;
            o.seed = (int64_t)v;
        } else if (!strcmp(a, "--folds") && has_value) {
            if (parse_num(a, argv[++i], &v) != 0)
                goto done;
            o.folds = (int)v;
        } else if (!strcmp(a, "--min-category-count") && has_value) {
            if (parse_num(a, argv[++i], &v) != 0)
                goto done;
            o.min_category_count = (int)v;
        } else if (!strcmp(a, "--no-progress")) {
            o.progress = 0;
        } else {
            fprintf(stderr, "carprice train: unknown option or missing value '%s'\n", a);
            goto done;
        }
    }
    if (ninputs == 0 || !o.out_dir) {
        usage(stderr);
        goto done;
    }
    if (!o.sql_dir || !*o.sql_dir)
        o.sql_dir = CARPRICE_SQL_DIR;
    o.inputs = inputs;
    o.ninputs = ninputs;

    cp_train_result_t res;
    char errbuf[1024];
    if (cp_train_run(&o, &res, errbuf, sizeof errbuf) != 0) {
        fprintf(stderr, "carprice train: %s\n", errbuf);
        status = 1;
        goto done;
    }
    printf("rows read      %lld\n", (long long)res.rows_read);
    printf("rows kept      %lld\n", (long long)res.rows_kept);
    printf("rows dropped   %lld\n", (long long)res.rows_dropped);
    for (size_t i = 0; i < res.nreasons; i++)
        printf("  %-28s %lld\n", res.reasons[i], (long long)res.reason_rows[i]);
    printf("training rows  %lld\n", (long long)res.train_rows);
    printf("holdout rows   %lld\n", (long long)res.holdout_rows);
    printf("features       %lld\n", (long long)res.num_features);
    printf("smoke model    LinearRegression: holdout RMSE %.4f, R2 %.4f (log price)\n",
           res.smoke_rmse, res.smoke_r2);
    printf("time           etl %.1fs, features %.1fs, write %.1fs, smoke %.1fs, total %.1fs\n",
           res.secs_etl, res.secs_features, res.secs_write, res.secs_smoke, res.secs_total);
    status = 0;
done:
    free(inputs);
    return status;
}
