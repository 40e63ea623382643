/* carprice train, stage 1: ETL, split, feature pipeline, smoke model. */
#define _GNU_SOURCE
#include "carprice/train.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "carprice/log.h"
#include "carprice/webhdfs.h"
#include "sparkconnect/dataframe.h"
#include "sparkconnect/ml.h"
#include "sparkconnect/session.h"

#define IMPUTER        "org.apache.spark.ml.feature.Imputer"
#define STRING_INDEXER "org.apache.spark.ml.feature.StringIndexer"
#define ONE_HOT        "org.apache.spark.ml.feature.OneHotEncoder"
#define ASSEMBLER      "org.apache.spark.ml.feature.VectorAssembler"
#define LINEAR         "org.apache.spark.ml.regression.LinearRegression"
#define REG_EVAL       "org.apache.spark.ml.evaluation.RegressionEvaluator"

/* The feature contract of sql/features.sql (its header lists the same). */
static const char *const numeric_cols[] = {
    "f_age",           "f_log_mileage",   "f_miles_per_year", "f_horsepower",
    "f_hp_rpm",        "f_torque",        "f_torque_rpm",     "f_engine_l",
    "f_city_mpg",      "f_highway_mpg",   "f_tank_gal",       "f_seats",
    "f_legroom_back",  "f_legroom_front", "f_length",         "f_width",
    "f_height",        "f_wheelbase",     "f_owners",         "f_days_on_market",
    "f_seller_rating", "f_n_options",     "f_latitude",       "f_longitude",
    "f_is_new",        "f_has_accidents", "f_salvage",        "f_frame_damaged",
    "f_theft_title",   "f_fleet",         "f_is_cab",         "f_franchise_dealer",
    "f_is_cpo",        "f_is_oemcpo",
};
static const char *const category_cols[] = {
    "f_make",   "f_model",  "f_body",  "f_fuel", "f_transmission",
    "f_wheels", "f_engine", "f_color", "f_trim",
};
#define NNUM (sizeof numeric_cols / sizeof numeric_cols[0])
#define NCAT (sizeof category_cols / sizeof category_cols[0])

typedef struct {
    const cp_train_opts_t *o;
    cp_train_result_t *res;
    char *errbuf;
    size_t errlen;
    sc_session_t *s;
    sc_error_t *err;
    const char *step;
    double t0, step_t0;
    bool progress_line;   /* a \r progress line is on the terminal */
    const char *out_path; /* output directory: local path, or path on HDFS */
    cp_hdfs_t *hdfs;      /* WebHDFS client for hdfs:// output, else NULL */
    cp_rest_error_t *rest_err;
} run_t;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int failf(run_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int failf(run_t *r, const char *fmt, ...)
{
    if (r->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->errbuf, r->errlen, fmt, ap);
        va_end(ap);
        r->errbuf[strcspn(r->errbuf, "\n")] = '\0';
    }
    return -1;
}

/* The Spark error as one line, prefixed with what was being done. */
static int fail_spark(run_t *r, const char *what)
{
    const char *msg = sc_error_message(r->err);
    const char *cls = sc_error_class(r->err);
    if (cls && *cls)
        return failf(r, "%s: %.*s [%s]", what, (int)strcspn(msg, "\n"), msg, cls);
    return failf(r, "%s: %.*s", what, (int)strcspn(msg, "\n"), msg);
}

static void on_progress(const sc_progress_t *p, void *opaque)
{
    run_t *r = opaque;
    if (!r->o->progress || !r->step)
        return;
    fprintf(stderr, "\r  %-22s stages %lld/%lld  tasks %lld/%lld  %6.1fs", r->step,
            (long long)p->stages_done, (long long)p->stages, (long long)p->tasks_done,
            (long long)p->tasks, now() - r->step_t0);
    r->progress_line = true;
}

static void step_begin(run_t *r, const char *name)
{
    r->step = name;
    r->step_t0 = now();
    cp_log_info("train.step", "step=%s elapsed=%.1f", name, now() - r->t0);
}

/* Ends the step; returns its duration. */
static double step_end(run_t *r)
{
    double secs = now() - r->step_t0;
    if (r->progress_line) {
        fprintf(stderr, "\r%-80s\r", "");
        r->progress_line = false;
    }
    if (r->o->progress)
        fprintf(stderr, "  %-22s done in %.1fs\n", r->step, secs);
    r->step = NULL;
    return secs;
}

/* Reads sql_dir/name; with strip_comments, drops "--" lines and joins the
 * rest with spaces (the DDL is passed as a schema string, not as SQL). */
static char *load_sql(run_t *r, const char *name, bool strip_comments)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", r->o->sql_dir, name);
    FILE *f = fopen(path, "r");
    if (!f) {
        failf(r, "cannot read %s: %s (set --sql-dir or CARPRICE_SQL_DIR)", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *text = malloc(cap);
    char line[4096];
    while (text && fgets(line, sizeof line, f)) {
        const char *p = line + strspn(line, " \t");
        if (strip_comments) {
            if (strncmp(p, "--", 2) == 0 || *p == '\n')
                continue;
            line[strcspn(line, "\r\n")] = ' ';
        }
        size_t n = strlen(line);
        if (len + n + 1 > cap) {
            char *bigger = realloc(text, cap * 2 + n);
            if (!bigger) {
                free(text);
                text = NULL;
                break;
            }
            text = bigger;
            cap = cap * 2 + n;
        }
        memcpy(text + len, line, n + 1);
        len += n;
    }
    bool bad = ferror(f);
    fclose(f);
    if (!text || bad) {
        free(text);
        failf(r, "cannot read %s", path);
        return NULL;
    }
    return text;
}

static bool is_uri(const char *p)
{
    return strstr(p, "://") != NULL;
}

/* A local path as an absolute file:// URI (the Spark server runs on this
 * host but in another working directory); URIs pass through. */
static int to_uri(run_t *r, const char *path, char *out, size_t outlen)
{
    if (is_uri(path)) {
        snprintf(out, outlen, "%s", path);
        return 0;
    }
    char abs[PATH_MAX];
    if (!realpath(path, abs))
        return failf(r, "input %s: %s", path, strerror(errno));
    snprintf(out, outlen, "file://%s", abs);
    return 0;
}

static int mkdir_p(const char *dir)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

/* A lazy DataFrame of a SQL query; what names it in the error. */
static int sql_df(run_t *r, const char *what, const char *query, sc_df_t **out)
{
    if (sc_sql(r->s, query, NULL, 0, out, r->err) != SC_OK)
        return fail_spark(r, what);
    return 0;
}

/* Checks the CSV header of the first input against the schema's column
 * names, so that a file of another layout fails clearly instead of being
 * read as shifted columns. */
static int check_header(run_t *r, const char *const *uris, size_t n, const char *ddl)
{
    const char *keys[] = {"header", "multiLine", "escape"};
    const char *vals[] = {"true", "true", "\""};
    sc_read_opts_t ro = {
        .format = "csv", .option_keys = keys, .option_values = vals, .noptions = 3};
    sc_df_t *df = NULL;
    char *got = NULL;
    int rc = 0;
    if (sc_read(r->s, &ro, uris, n, &df, r->err) != SC_OK ||
        sc_df_schema(df, &got, r->err) != SC_OK) {
        rc = fail_spark(r, "reading the input");
        goto done;
    }
    /* Walk both lists: the DDL "`name` STRING, ..." and the read "name STRING, ...". */
    const char *d = ddl, *g = got;
    size_t col = 0;
    for (;;) {
        d += strspn(d, " ,");
        g += strspn(g, " ,");
        if (!*d && !*g)
            break;
        char dn[128] = "", gn[128] = "";
        if (*d) {
            size_t k = 0;
            d += *d == '`';
            while (*d && *d != '`' && *d != ' ' && k + 1 < sizeof dn)
                dn[k++] = *d++;
            dn[k] = '\0';
            d += strcspn(d, ",");
        }
        if (*g) {
            size_t k = 0;
            while (*g && *g != ' ' && k + 1 < sizeof gn)
                gn[k++] = *g++;
            gn[k] = '\0';
            g += strcspn(g, ",");
        }
        col++;
        if (strcmp(dn, gn) != 0) {
            rc = failf(r,
                       "input columns do not match sql/raw_schema.ddl: column %zu is '%s', "
                       "expected '%s'",
                       col, *gn ? gn : "(none)", *dn ? dn : "(none)");
            goto done;
        }
    }
done:
    free(got);
    sc_df_destroy(df);
    return rc;
}

/* ETL: raw -> features -> training rows with drop reasons; counts by reason.
 * Leaves view train_rows (kept rows, split and fold columns) persisted. */
static int etl(run_t *r, const char *const *uris, size_t n)
{
    char *ddl = load_sql(r, "raw_schema.ddl", true);
    char *features = ddl ? load_sql(r, "features.sql", false) : NULL;
    char *rows = features ? load_sql(r, "train_rows.sql", false) : NULL;
    sc_df_t *raw = NULL, *feat = NULL, *all = NULL, *counts = NULL, *kept = NULL;
    sc_result_t *res = NULL;
    int rc = -1;
    if (!rows)
        goto done;
    if (check_header(r, uris, n, ddl) != 0)
        goto done;

    const char *keys[] = {"header", "multiLine", "escape", "mode"};
    const char *vals[] = {"true", "true", "\"", "PERMISSIVE"};
    sc_read_opts_t ro = {
        .format = "csv", .schema = ddl, .option_keys = keys, .option_values = vals, .noptions = 4};
    if (sc_read(r->s, &ro, uris, n, &raw, r->err) != SC_OK ||
        sc_df_create_view(raw, "raw_listings", true, r->err) != SC_OK) {
        rc = fail_spark(r, "reading the raw CSV");
        goto done;
    }
    if (sql_df(r, "sql/features.sql", features, &feat) != 0)
        goto done;
    if (sc_df_create_view(feat, "listing_features", true, r->err) != SC_OK) {
        rc = fail_spark(r, "sql/features.sql");
        goto done;
    }
    if (sql_df(r, "sql/train_rows.sql", rows, &all) != 0)
        goto done;
    /* One pass over the CSV: later steps read the cached rows. */
    if (sc_df_persist(all, r->err) != SC_OK ||
        sc_df_create_view(all, "train_rows_all", true, r->err) != SC_OK) {
        rc = fail_spark(r, "sql/train_rows.sql");
        goto done;
    }
    if (sql_df(r, "counting rows",
               "SELECT drop_reason, count(*) AS n FROM train_rows_all GROUP BY drop_reason "
               "ORDER BY drop_reason NULLS FIRST",
               &counts) != 0)
        goto done;
    if (sc_df_collect(counts, &res, r->err) != SC_OK) {
        rc = fail_spark(r, "reading and counting the raw rows");
        goto done;
    }
    cp_train_result_t *out = r->res;
    for (size_t i = 0; i < sc_result_num_rows(res); i++) {
        int64_t cnt = 0;
        if (sc_result_get_int64(res, i, 1, &cnt, r->err) != SC_OK) {
            rc = fail_spark(r, "row counts");
            goto done;
        }
        out->rows_read += cnt;
        if (sc_result_is_null(res, i, 0)) {
            out->rows_kept += cnt;
            continue;
        }
        const char *reason = NULL;
        size_t len = 0;
        if (sc_result_get_string(res, i, 0, &reason, &len, r->err) != SC_OK) {
            rc = fail_spark(r, "row counts");
            goto done;
        }
        out->rows_dropped += cnt;
        cp_log_info("train.dropped", "reason=\"%.*s\" rows=%lld", (int)len, reason, (long long)cnt);
        if (out->nreasons < CP_TRAIN_MAX_REASONS) {
            snprintf(out->reasons[out->nreasons], sizeof out->reasons[0], "%.*s", (int)len, reason);
            out->reason_rows[out->nreasons++] = cnt;
        } else {
            rc = failf(r, "more than %d drop reasons in sql/train_rows.sql", CP_TRAIN_MAX_REASONS);
            goto done;
        }
    }
    cp_log_info("train.rows", "read=%lld kept=%lld dropped=%lld", (long long)out->rows_read,
                (long long)out->rows_kept, (long long)out->rows_dropped);
    if (out->rows_kept == 0) {
        rc = failf(r, "no usable rows in the input (%lld read)", (long long)out->rows_read);
        goto done;
    }

    /* Holdout and folds by hashes of the listing id: stable across runs and
     * across batches, unlike rand(). */
    char split[1024];
    snprintf(split, sizeof split,
             "SELECT *, pmod(xxhash64(coalesce(nullif(listing_id, ''), vin), %lld), 10000) < %d "
             "AS is_holdout, CAST(pmod(xxhash64(coalesce(nullif(listing_id, ''), vin), %lld), "
             "%d) AS INT) AS fold FROM train_rows_all WHERE drop_reason IS NULL",
             (long long)r->o->seed, (int)(r->o->holdout * 10000 + 0.5), (long long)r->o->seed + 1,
             r->o->folds);
    if (sql_df(r, "splitting", split, &kept) != 0)
        goto done;
    if (sc_df_create_view(kept, "train_rows", true, r->err) != SC_OK) {
        rc = fail_spark(r, "splitting");
        goto done;
    }
    rc = 0;
done:
    sc_result_destroy(res);
    sc_df_destroy(kept);
    sc_df_destroy(counts);
    sc_df_destroy(all);
    sc_df_destroy(feat);
    sc_df_destroy(raw);
    free(rows);
    free(features);
    free(ddl);
    return rc;
}

static int count_rows(run_t *r, const char *what, const sc_df_t *df, int64_t *n)
{
    if (sc_df_count(df, n, r->err) != SC_OK)
        return fail_spark(r, what);
    return 0;
}

/* Column names with a new prefix replacing "f_": i_age, x_make, ... */
static char **renamed(const char *const *cols, size_t n, const char *prefix)
{
    char **out = calloc(n, sizeof *out);
    for (size_t i = 0; out && i < n; i++) {
        if (asprintf(&out[i], "%s%s", prefix, cols[i] + 2) < 0) {
            out[i] = NULL;
            for (size_t j = 0; j < i; j++)
                free(out[j]);
            free(out);
            return NULL;
        }
    }
    return out;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

/* Fits one stage on fit_df (NULL: on *df), then replaces *df by the stage's
 * transform of it. p stays the caller's. */
static int fit_stage(run_t *r, const sc_df_t *fit_df, sc_df_t **df, const char *cls,
                     const sc_params_t *p, sc_model_t **stage)
{
    sc_df_t *next = NULL;
    if (!p)
        return failf(r, "out of memory");
    if (sc_ml_fit(fit_df ? fit_df : *df, cls, p, stage, r->err) != SC_OK ||
        sc_model_transform(*stage, *df, NULL, &next, r->err) != SC_OK)
        return fail_spark(r, strrchr(cls, '.') + 1);
    sc_df_destroy(*df);
    *df = next;
    return 0;
}

/* Categories seen fewer than min_count times in the training rows are hidden
 * from the StringIndexer's fit (as NULL, which a fit ignores). With
 * handleInvalid=keep they then share the extra "unseen" index with
 * categories that serving meets for the first time, in training and serving
 * alike, and the fitted pipeline stays a plain standard one: no mapping table
 * or SQL change is needed. */
static int cap_rare(run_t *r, const sc_df_t *df, sc_df_t **out)
{
    sc_df_t *cur = NULL;
    if (sc_df_select_expr(df, (const char *const[]){"*"}, 1, &cur, r->err) != SC_OK)
        return fail_spark(r, "rare categories");
    for (size_t i = 0; i < NCAT && r->o->min_category_count > 1; i++) {
        char expr[256];
        sc_df_t *next = NULL;
        snprintf(expr, sizeof expr, "CASE WHEN count(1) OVER (PARTITION BY %s) >= %d THEN %s END",
                 category_cols[i], r->o->min_category_count, category_cols[i]);
        if (sc_df_with_column(cur, category_cols[i], expr, &next, r->err) != SC_OK) {
            sc_df_destroy(cur);
            return fail_spark(r, "rare categories");
        }
        sc_df_destroy(cur);
        cur = next;
    }
    *out = cur;
    return 0;
}

/* Imputer -> StringIndexer -> OneHotEncoder -> VectorAssembler fitted on
 * train; stages[4] are the caller's. */
static int fit_features(run_t *r, const sc_df_t *train, sc_model_t *stages[4])
{
    char **imputed = renamed(numeric_cols, NNUM, "i_");
    char **indexed = renamed(category_cols, NCAT, "x_");
    char **encoded = renamed(category_cols, NCAT, "v_");
    sc_df_t *df = NULL, *capped = NULL;
    sc_params_t *p = NULL;
    int rc = -1;
    const char *asm_cols[NNUM + NCAT];
    if (!imputed || !indexed || !encoded) {
        rc = failf(r, "out of memory");
        goto done;
    }
    /* A handle of our own: fit_stage replaces it by each stage's output. */
    if (sc_df_select_expr(train, (const char *const[]){"*"}, 1, &df, r->err) != SC_OK) {
        rc = fail_spark(r, "features");
        goto done;
    }
    sc_error_t *e = r->err;

    p = sc_params_new();
    if (p &&
        (sc_params_set_strings(p, "inputCols", numeric_cols, NNUM, e) != SC_OK ||
         sc_params_set_strings(p, "outputCols", (const char *const *)imputed, NNUM, e) != SC_OK ||
         sc_params_set_string(p, "strategy", "median", e) != SC_OK))
        goto params_failed;
    if (fit_stage(r, NULL, &df, IMPUTER, p, &stages[0]) != 0)
        goto done;
    sc_params_destroy(p);

    /* Most frequent category first (index 0), ties broken alphabetically, so
     * indices are stable for the same data; unseen categories get their own
     * index (keep) instead of failing serving. */
    p = sc_params_new();
    if (p &&
        (sc_params_set_strings(p, "inputCols", category_cols, NCAT, e) != SC_OK ||
         sc_params_set_strings(p, "outputCols", (const char *const *)indexed, NCAT, e) != SC_OK ||
         sc_params_set_string(p, "handleInvalid", "keep", e) != SC_OK ||
         sc_params_set_string(p, "stringOrderType", "frequencyDesc", e) != SC_OK))
        goto params_failed;
    if (cap_rare(r, df, &capped) != 0 ||
        fit_stage(r, capped, &df, STRING_INDEXER, p, &stages[1]) != 0)
        goto done;
    sc_params_destroy(p);

    p = sc_params_new();
    if (p &&
        (sc_params_set_strings(p, "inputCols", (const char *const *)indexed, NCAT, e) != SC_OK ||
         sc_params_set_strings(p, "outputCols", (const char *const *)encoded, NCAT, e) != SC_OK ||
         sc_params_set_string(p, "handleInvalid", "keep", e) != SC_OK))
        goto params_failed;
    if (fit_stage(r, NULL, &df, ONE_HOT, p, &stages[2]) != 0)
        goto done;
    sc_params_destroy(p);

    for (size_t i = 0; i < NNUM; i++)
        asm_cols[i] = imputed[i];
    for (size_t i = 0; i < NCAT; i++)
        asm_cols[NNUM + i] = encoded[i];
    p = sc_params_new();
    if (p && (sc_params_set_strings(p, "inputCols", asm_cols, NNUM + NCAT, e) != SC_OK ||
              sc_params_set_string(p, "outputCol", "features", e) != SC_OK))
        goto params_failed;
    if (!p || sc_ml_transformer_new(r->s, ASSEMBLER, p, &stages[3], e) != SC_OK) {
        rc = p ? fail_spark(r, "VectorAssembler") : failf(r, "out of memory");
        goto done;
    }
    rc = 0;
    goto done;
params_failed:
    rc = p ? fail_spark(r, "feature parameters") : failf(r, "out of memory");
done:
    sc_params_destroy(p);
    sc_df_destroy(capped);
    sc_df_destroy(df);
    free_names(imputed, NNUM);
    free_names(indexed, NCAT);
    free_names(encoded, NCAT);
    return rc;
}

/* The key=value summary; *text is malloc'd. */
static int summary_text(run_t *r, char **text, size_t *len)
{
    FILE *f = open_memstream(text, len);
    if (!f)
        return failf(r, "out of memory");
    const cp_train_result_t *s = r->res;
    fprintf(f, "rows_read=%lld\nrows_kept=%lld\nrows_dropped=%lld\n", (long long)s->rows_read,
            (long long)s->rows_kept, (long long)s->rows_dropped);
    /* Reasons become keys: "price out of range" -> dropped.price_out_of_range. */
    for (size_t i = 0; i < s->nreasons; i++) {
        fprintf(f, "dropped.");
        for (const char *c = s->reasons[i]; *c; c++)
            fputc(*c == ' ' || *c == '=' ? '_' : *c, f);
        fprintf(f, "=%lld\n", (long long)s->reason_rows[i]);
    }
    fprintf(
        f,
        "train_rows=%lld\nholdout_rows=%lld\nnum_features=%lld\nholdout=%g\nseed=%lld\n"
        "folds=%d\nmin_category_count=%d\nsmoke_rmse_log=%.6f\nsmoke_r2_log=%.6f\nsecs_etl=%.1f\n"
        "secs_features=%.1f\nsecs_write=%.1f\nsecs_smoke=%.1f\nsecs_total=%.1f\n",
        (long long)s->train_rows, (long long)s->holdout_rows, (long long)s->num_features,
        r->o->holdout, (long long)r->o->seed, r->o->folds, r->o->min_category_count, s->smoke_rmse,
        s->smoke_r2, s->secs_etl, s->secs_features, s->secs_write, s->secs_smoke, s->secs_total);
    if (fclose(f) != 0) {
        free(*text);
        return failf(r, "out of memory");
    }
    return 0;
}

/* Writes dir/name with data: a local file (temporary name, renamed) or, for
 * hdfs:// output, a file through WebHDFS. */
static int put_file(run_t *r, const char *name, const char *data, size_t len)
{
    char path[PATH_MAX + 64], tmp[PATH_MAX + 80];
    snprintf(path, sizeof path, "%s/%s", r->out_path, name);
    if (r->hdfs) {
        cp_hdfs_write_opts_t wo = {.overwrite = true};
        if (cp_hdfs_create(r->hdfs, path, data, len, &wo, r->rest_err) != CP_REST_OK)
            return failf(r, "cannot write %s on HDFS: %s", path,
                         cp_rest_error_message(r->rest_err));
        return 0;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return failf(r, "cannot write %s: %s", tmp, strerror(errno));
    size_t n = fwrite(data, 1, len, f);
    if (fclose(f) != 0 || n != len || rename(tmp, path) != 0)
        return failf(r, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* Removes dir/_SUCCESS of an earlier run, so that a failed rerun does not
 * look complete. */
static int remove_marker(run_t *r)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/_SUCCESS", r->out_path);
    if (r->hdfs) {
        if (cp_hdfs_delete(r->hdfs, path, false, NULL, r->rest_err) != CP_REST_OK)
            return failf(r, "cannot remove %s on HDFS: %s", path,
                         cp_rest_error_message(r->rest_err));
        return 0;
    }
    if (unlink(path) != 0 && errno != ENOENT)
        return failf(r, "cannot remove %s: %s", path, strerror(errno));
    return 0;
}

void cp_train_opts_init(cp_train_opts_t *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->holdout = 0.1;
    opts->seed = 42;
    opts->folds = 3;
    opts->min_category_count = 5;
}

/* Everything after the session is up. */
static int run_stages(run_t *r, const char *const *uris, size_t n, const char *out_uri)
{
    cp_train_result_t *res = r->res;
    sc_df_t *train = NULL, *holdout = NULL, *prepared = NULL, *set = NULL, *back = NULL;
    sc_df_t *hold_feat = NULL, *pred = NULL;
    sc_model_t *stages[4] = {0};
    sc_model_t *pipeline = NULL, *smoke = NULL;
    sc_params_t *p = NULL;
    int rc = -1;
    char path[PATH_MAX + 64];

    step_begin(r, "etl");
    if (etl(r, uris, n) != 0)
        goto done;
    if (sql_df(r, "split", "SELECT * FROM train_rows WHERE NOT is_holdout", &train) != 0 ||
        sql_df(r, "split", "SELECT * FROM train_rows WHERE is_holdout", &holdout) != 0 ||
        count_rows(r, "counting training rows", train, &res->train_rows) != 0 ||
        count_rows(r, "counting holdout rows", holdout, &res->holdout_rows) != 0)
        goto done;
    if (res->train_rows == 0 || res->holdout_rows == 0) {
        rc = failf(r, "the split left %lld training and %lld holdout rows; need both",
                   (long long)res->train_rows, (long long)res->holdout_rows);
        goto done;
    }
    res->secs_etl = step_end(r);

    step_begin(r, "features");
    if (fit_features(r, train, stages) != 0)
        goto done;
    res->secs_features = step_end(r);

    step_begin(r, "write");
    snprintf(path, sizeof path, "%s/feature-pipeline", out_uri);
    if (sc_pipeline_write(r->s, (const sc_model_t *const *)stages, 4, path, true, r->err) !=
        SC_OK) {
        rc = fail_spark(r, "writing the feature pipeline");
        goto done;
    }
    if (sc_ml_pipeline_new(r->s, stages, 4, &pipeline, r->err) != SC_OK) {
        rc = fail_spark(r, "feature pipeline");
        goto done;
    }
    memset(stages, 0, sizeof stages); /* the pipeline owns them now */
    if (sc_model_transform(pipeline, train, NULL, &prepared, r->err) != SC_OK ||
        sc_df_select_expr(prepared,
                          (const char *const[]){"listing_id", "fold", "label", "features"}, 4, &set,
                          r->err) != SC_OK) {
        rc = fail_spark(r, "preparing the training set");
        goto done;
    }
    snprintf(path, sizeof path, "%s/train-set", out_uri);
    sc_write_opts_t wo = {.format = "parquet", .mode = "overwrite"};
    if (sc_df_write(set, &wo, path, r->err) != SC_OK) {
        rc = fail_spark(r, "writing the training set");
        goto done;
    }
    res->secs_write = step_end(r);

    /* Smoke check: a lightly regularised linear model on the written set. */
    step_begin(r, "smoke");
    sc_read_opts_t ro = {.format = "parquet"};
    const char *set_path = path;
    p = sc_params_new();
    if (!p) {
        rc = failf(r, "out of memory");
        goto done;
    }
    if (sc_read(r->s, &ro, &set_path, 1, &back, r->err) != SC_OK ||
        sc_params_set_double(p, "regParam", 0.001, r->err) != SC_OK ||
        sc_params_set_int64(p, "maxIter", 100, r->err) != SC_OK ||
        sc_ml_fit(back, LINEAR, p, &smoke, r->err) != SC_OK) {
        rc = fail_spark(r, "fitting the smoke model");
        goto done;
    }
    double nf = 0;
    if (sc_model_fetch_double(smoke, "numFeatures", &nf, r->err) == SC_OK)
        res->num_features = (int64_t)nf;
    if (sc_model_transform(pipeline, holdout, NULL, &hold_feat, r->err) != SC_OK ||
        sc_model_transform(smoke, hold_feat, NULL, &pred, r->err) != SC_OK) {
        rc = fail_spark(r, "scoring the holdout");
        goto done;
    }
    sc_params_destroy(p);
    p = sc_params_new();
    if (!p || sc_params_set_string(p, "metricName", "rmse", r->err) != SC_OK ||
        sc_ml_evaluate(pred, REG_EVAL, p, &res->smoke_rmse, r->err) != SC_OK ||
        sc_params_set_string(p, "metricName", "r2", r->err) != SC_OK ||
        sc_ml_evaluate(pred, REG_EVAL, p, &res->smoke_r2, r->err) != SC_OK) {
        rc = p ? fail_spark(r, "evaluating the holdout") : failf(r, "out of memory");
        goto done;
    }
    res->secs_smoke = step_end(r);
    cp_log_info("train.smoke", "model=LinearRegression holdout_rows=%lld rmse_log=%.4f r2_log=%.4f",
                (long long)res->holdout_rows, res->smoke_rmse, res->smoke_r2);

    res->secs_total = now() - r->t0;
    char *text = NULL;
    size_t len = 0;
    if (summary_text(r, &text, &len) != 0)
        goto done;
    int put = put_file(r, "etl-summary.txt", text, len);
    free(text);
    if (put != 0 || put_file(r, "_SUCCESS", "", 0) != 0)
        goto done;
    rc = 0;
done:
    if (r->step)
        step_end(r);
    sc_params_destroy(p);
    sc_df_destroy(pred);
    sc_df_destroy(hold_feat);
    sc_df_destroy(back);
    sc_df_destroy(set);
    sc_df_destroy(prepared);
    sc_df_destroy(holdout);
    sc_df_destroy(train);
    sc_model_destroy(smoke);
    sc_model_destroy(pipeline);
    for (size_t i = 0; i < 4; i++)
        sc_model_destroy(stages[i]);
    return rc;
}

int cp_train_run(const cp_train_opts_t *opts, cp_train_result_t *res, char *errbuf, size_t errlen)
{
    cp_train_result_t local_res;
    run_t r = {.o = opts, .res = res ? res : &local_res, .errbuf = errbuf, .errlen = errlen};
    memset(r.res, 0, sizeof *r.res);
    if (errlen)
        errbuf[0] = '\0';
    r.t0 = now();
    if (!opts || !opts->inputs || opts->ninputs == 0 || !opts->out_dir || !*opts->out_dir ||
        !opts->sql_dir)
        return failf(&r, "give at least one input, an output directory and the SQL directory");
    if (!(opts->holdout > 0 && opts->holdout < 1) || opts->folds < 2)
        return failf(&r, "holdout must be in (0, 1) and folds at least 2");

    char **uris = calloc(opts->ninputs, sizeof *uris);
    char out_uri[PATH_MAX + 16], local_out[PATH_MAX];
    int rc = -1;
    if (!uris)
        return failf(&r, "out of memory");
    for (size_t i = 0; i < opts->ninputs; i++) {
        uris[i] = malloc(PATH_MAX + 16);
        if (!uris[i]) {
            rc = failf(&r, "out of memory");
            goto done;
        }
        if (to_uri(&r, opts->inputs[i], uris[i], PATH_MAX + 16) != 0)
            goto done;
    }
    /* The output directory: a local one is created here; the summary and
     * the marker go beside Spark's outputs, locally or through WebHDFS. */
    const char *od = opts->out_dir;
    if (strncmp(od, "file://", 7) == 0)
        od += 7;
    if (!is_uri(od)) {
        if (mkdir_p(od) != 0 || !realpath(od, local_out)) {
            rc = failf(&r, "output directory %s: %s", opts->out_dir, strerror(errno));
            goto done;
        }
        r.out_path = local_out;
        snprintf(out_uri, sizeof out_uri, "file://%s", local_out);
    } else if (strncmp(od, "hdfs://", 7) == 0 && strchr(od + 7, '/')) {
        snprintf(out_uri, sizeof out_uri, "%s", od);
        r.out_path = strchr(od + 7, '/');
        r.rest_err = cp_rest_error_new();
        if (!r.rest_err || cp_hdfs_new(NULL, &r.hdfs, r.rest_err) != CP_REST_OK) {
            rc = failf(&r, "WebHDFS client: %s",
                       r.rest_err ? cp_rest_error_message(r.rest_err) : "out of memory");
            goto done;
        }
    } else {
        rc = failf(&r, "output directory %s: give a local path, file:// or hdfs://host:port/path",
                   opts->out_dir);
        goto done;
    }
    if (remove_marker(&r) != 0)
        goto done;

    r.err = sc_error_new();
    if (!r.err) {
        rc = failf(&r, "out of memory");
        goto done;
    }
    const char *remote = opts->remote && *opts->remote ? opts->remote : "sc://127.0.0.1:15002";
    if (sc_session_new(remote, NULL, &r.s, r.err) != SC_OK ||
        sc_session_ping(r.s, r.err) != SC_OK) {
        char what[600];
        snprintf(what, sizeof what, "Spark Connect server %.500s", remote);
        rc = fail_spark(&r, what);
        goto done;
    }
    sc_session_set_progress(r.s, on_progress, &r);
    cp_log_info("train.start", "inputs=%zu out=%s holdout=%g seed=%lld folds=%d", opts->ninputs,
                out_uri, opts->holdout, (long long)opts->seed, opts->folds);
    rc = run_stages(&r, (const char *const *)uris, opts->ninputs, out_uri);
    if (rc == 0)
        cp_log_info("train.done", "secs=%.1f", now() - r.t0);
done:
    sc_session_destroy(r.s);
    sc_error_destroy(r.err);
    cp_hdfs_destroy(r.hdfs);
    cp_rest_error_destroy(r.rest_err);
    for (size_t i = 0; i < opts->ninputs; i++)
        free(uris[i]);
    free(uris);
    return rc;
}
