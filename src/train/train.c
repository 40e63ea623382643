/* carprice train: ETL, split, features, the model stage, validation (see
 * include/carprice/train.h; MLflow in tracking.c, models in ensemble.c). */
#define _GNU_SOURCE
#include "carprice/train.h"

#include "internal.h"

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
#include "carprice/util.h"
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
#define NNUM           (sizeof numeric_cols / sizeof numeric_cols[0])
#define FEATURE_STAGES 5 /* Imputer, StringIndexer, OneHotEncoder, 2 VectorAssemblers */
/* feature-pipeline/stages/<i>_<uid>: Spark pads i to the digits of the count. */
_Static_assert(FEATURE_STAGES < 10, "feature stage directories have one-digit indices");
#define NCAT (sizeof category_cols / sizeof category_cols[0])

int tr_failf(run_t *r, const char *fmt, ...)
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

int tr_fail_spark(run_t *r, const char *what)
{
    const char *msg = sc_error_message(r->err);
    const char *cls = sc_error_class(r->err);
    if (cls && *cls)
        return tr_failf(r, "%s: %.*s [%s]", what, (int)strcspn(msg, "\n"), msg, cls);
    return tr_failf(r, "%s: %.*s", what, (int)strcspn(msg, "\n"), msg);
}

int tr_fail_rest(run_t *r, const char *what)
{
    return tr_failf(r, "%s: %s", what, cp_rest_error_message(r->rest_err));
}

static void fmt_secs(double secs, char *buf, size_t len)
{
    if (secs < 0)
        snprintf(buf, len, "?");
    else if (secs < 60)
        snprintf(buf, len, "%.0fs", secs);
    else if (secs < 3600)
        snprintf(buf, len, "%dm%02ds", (int)secs / 60, (int)secs % 60);
    else
        snprintf(buf, len, "%dh%02dm", (int)secs / 3600, (int)secs % 3600 / 60);
}

/* The model stage's progress: phase, the latest task, fits done of all,
 * elapsed and estimated remaining time of the phase. */
static void on_model_progress(const en_progress_t *p, void *opaque)
{
    run_t *r = opaque;
    char task[96] = "", el[16], eta[16];
    if (p->model && p->fold)
        snprintf(task, sizeof task, "%s fold %d/%d grid %zu/%zu", p->model, p->fold, p->folds,
                 p->combo, p->combos);
    else if (p->model)
        snprintf(task, sizeof task, "%s", p->model);
    fmt_secs(p->phase_secs, el, sizeof el);
    fmt_secs(p->done > 0.05 ? p->phase_secs * (p->total - p->done) / p->done : -1, eta, sizeof eta);
    if (cp_now_s() - r->last_line >= 30) {
        r->last_line = cp_now_s();
        cp_log_info("train.progress",
                    "phase=%s task=\"%s\" done=%.2f total=%.0f running=%d elapsed=%.0f eta=%s",
                    p->phase, task, p->done, p->total, p->running, p->phase_secs, eta);
    }
    if (!r->o->progress)
        return;
    fprintf(stderr, "\r  %-6s %-28s fits %4.1f/%-3.0f running %d  elapsed %-7s left ~%-7s",
            p->phase, task, p->done, p->total, p->running, el, eta);
    r->progress_line = true;
}

static void on_progress(const sc_progress_t *p, void *opaque)
{
    run_t *r = opaque;
    if (en_in_task()) {
        en_spark_progress(p);
        return;
    }
    if (!r->o->progress || !r->step)
        return;
    fprintf(stderr, "\r  %-22s stages %lld/%lld  tasks %lld/%lld  %6.1fs", r->step,
            (long long)p->stages_done, (long long)p->stages, (long long)p->tasks_done,
            (long long)p->tasks, cp_now_s() - r->step_t0);
    r->progress_line = true;
}

static void step_begin(run_t *r, const char *name)
{
    r->step = name;
    r->step_t0 = cp_now_s();
    cp_log_info("train.step", "step=%s elapsed=%.1f", name, cp_now_s() - r->t0);
}

/* Ends the step; returns its duration. */
static double step_end(run_t *r)
{
    double secs = cp_now_s() - r->step_t0;
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
        tr_failf(r, "cannot read %s: %s (set --sql-dir or CARPRICE_SQL_DIR)", path,
                 strerror(errno));
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
        tr_failf(r, "cannot read %s", path);
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
        return tr_failf(r, "input %s: %s", path, strerror(errno));
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
        return tr_fail_spark(r, what);
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
        rc = tr_fail_spark(r, "reading the input");
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
            rc = tr_failf(r,
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
        rc = tr_fail_spark(r, "reading the raw CSV");
        goto done;
    }
    if (sql_df(r, "sql/features.sql", features, &feat) != 0)
        goto done;
    if (sc_df_create_view(feat, "listing_features", true, r->err) != SC_OK) {
        rc = tr_fail_spark(r, "sql/features.sql");
        goto done;
    }
    if (sql_df(r, "sql/train_rows.sql", rows, &all) != 0)
        goto done;
    /* One pass over the CSV: later steps read the cached rows. */
    if (sc_df_persist(all, r->err) != SC_OK ||
        sc_df_create_view(all, "train_rows_all", true, r->err) != SC_OK) {
        rc = tr_fail_spark(r, "sql/train_rows.sql");
        goto done;
    }
    if (sql_df(r, "counting rows",
               "SELECT drop_reason, count(*) AS n FROM train_rows_all GROUP BY drop_reason "
               "ORDER BY drop_reason NULLS FIRST",
               &counts) != 0)
        goto done;
    if (sc_df_collect(counts, &res, r->err) != SC_OK) {
        rc = tr_fail_spark(r, "reading and counting the raw rows");
        goto done;
    }
    cp_train_result_t *out = r->res;
    for (size_t i = 0; i < sc_result_num_rows(res); i++) {
        int64_t cnt = 0;
        if (sc_result_get_int64(res, i, 1, &cnt, r->err) != SC_OK) {
            rc = tr_fail_spark(r, "row counts");
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
            rc = tr_fail_spark(r, "row counts");
            goto done;
        }
        out->rows_dropped += cnt;
        cp_log_info("train.dropped", "reason=\"%.*s\" rows=%lld", (int)len, reason, (long long)cnt);
        if (out->nreasons < CP_TRAIN_MAX_REASONS) {
            snprintf(out->reasons[out->nreasons], sizeof out->reasons[0], "%.*s", (int)len, reason);
            out->reason_rows[out->nreasons++] = cnt;
        } else {
            rc = tr_failf(r, "more than %d drop reasons in sql/train_rows.sql",
                          CP_TRAIN_MAX_REASONS);
            goto done;
        }
    }
    cp_log_info("train.rows", "read=%lld kept=%lld dropped=%lld", (long long)out->rows_read,
                (long long)out->rows_kept, (long long)out->rows_dropped);
    if (out->rows_kept == 0) {
        rc = tr_failf(r, "no usable rows in the input (%lld read)", (long long)out->rows_read);
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
        rc = tr_fail_spark(r, "splitting");
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
        return tr_fail_spark(r, what);
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
        return tr_failf(r, "out of memory");
    if (sc_ml_fit(fit_df ? fit_df : *df, cls, p, stage, r->err) != SC_OK ||
        sc_model_transform(*stage, *df, NULL, &next, r->err) != SC_OK)
        return tr_fail_spark(r, strrchr(cls, '.') + 1);
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
        return tr_fail_spark(r, "rare categories");
    for (size_t i = 0; i < NCAT && r->o->min_category_count > 1; i++) {
        char expr[256];
        sc_df_t *next = NULL;
        snprintf(expr, sizeof expr, "CASE WHEN count(1) OVER (PARTITION BY %s) >= %d THEN %s END",
                 category_cols[i], r->o->min_category_count, category_cols[i]);
        if (sc_df_with_column(cur, category_cols[i], expr, &next, r->err) != SC_OK) {
            sc_df_destroy(cur);
            return tr_fail_spark(r, "rare categories");
        }
        sc_df_destroy(cur);
        cur = next;
    }
    *out = cur;
    return 0;
}

/* Imputer -> StringIndexer -> OneHotEncoder -> VectorAssembler (features:
 * numbers and one-hot categories, for the linear models) -> VectorAssembler
 * (tree_features: numbers and category indices, for the tree models) fitted
 * on train; stages[FEATURE_STAGES] are the caller's.
 *
 * Trees get the indices rather than ~700 one-hot slots: Spark's tree
 * learners bin every feature of every row densely, so the one-hot vector
 * cost 16x the time and memory; the indices keep StringIndexer's nominal
 * metadata, so the trees split them as categories (maxBins is raised to the
 * largest category count, see max_categories). */
static int fit_features(run_t *r, const sc_df_t *train, sc_model_t *stages[FEATURE_STAGES])
{
    char **imputed = renamed(numeric_cols, NNUM, "i_");
    char **indexed = renamed(category_cols, NCAT, "x_");
    char **encoded = renamed(category_cols, NCAT, "v_");
    sc_df_t *df = NULL, *capped = NULL;
    sc_params_t *p = NULL;
    int rc = -1;
    const char *asm_cols[NNUM + NCAT];
    if (!imputed || !indexed || !encoded) {
        rc = tr_failf(r, "out of memory");
        goto done;
    }
    /* A handle of our own: fit_stage replaces it by each stage's output. */
    if (sc_df_select_expr(train, (const char *const[]){"*"}, 1, &df, r->err) != SC_OK) {
        rc = tr_fail_spark(r, "features");
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
        rc = p ? tr_fail_spark(r, "VectorAssembler") : tr_failf(r, "out of memory");
        goto done;
    }
    sc_params_destroy(p);

    for (size_t i = 0; i < NCAT; i++)
        asm_cols[NNUM + i] = indexed[i];
    p = sc_params_new();
    if (p && (sc_params_set_strings(p, "inputCols", asm_cols, NNUM + NCAT, e) != SC_OK ||
              sc_params_set_string(p, "outputCol", "tree_features", e) != SC_OK))
        goto params_failed;
    if (!p || sc_ml_transformer_new(r->s, ASSEMBLER, p, &stages[4], e) != SC_OK) {
        rc = p ? tr_fail_spark(r, "VectorAssembler") : tr_failf(r, "out of memory");
        goto done;
    }
    rc = 0;
    goto done;
params_failed:
    rc = p ? tr_fail_spark(r, "feature parameters") : tr_failf(r, "out of memory");
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
        return tr_failf(r, "out of memory");
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
    fprintf(f,
            "train_rows=%lld\nholdout_rows=%lld\nnum_features=%lld\nholdout=%g\nseed=%lld\n"
            "folds=%d\nmin_category_count=%d\nparallelism=%d\n",
            (long long)s->train_rows, (long long)s->holdout_rows, (long long)s->num_features,
            r->o->holdout, (long long)r->o->seed, r->o->folds, r->o->min_category_count,
            s->parallelism);
    for (size_t i = 0; i <= s->nmodels; i++) {
        const char *n = s->model_names[i];
        const cp_train_metrics_t *h = &s->holdout[i];
        if (i < s->nmodels)
            fprintf(f, "%s.params=%s\n", n, s->best_params[i]);
        fprintf(f,
                "%s.cv_rmse_log=%.6f\n%s.holdout_rmse_log=%.6f\n%s.holdout_mae_log=%.6f\n"
                "%s.holdout_r2_log=%.6f\n%s.holdout_rmse=%.2f\n%s.holdout_mae=%.2f\n"
                "%s.holdout_r2=%.6f\n%s.holdout_mape=%.6f\n",
                n, s->cv_rmse_log[i], n, h->rmse_log, n, h->mae_log, n, h->r2_log, n, h->rmse, n,
                h->mae, n, h->r2, n, h->mape);
    }
    fprintf(f,
            "secs_etl=%.1f\nsecs_features=%.1f\nsecs_write=%.1f\nsecs_cv=%.1f\nsecs_stack=%.1f\n"
            "secs_refit=%.1f\nsecs_validation=%.1f\nsecs_tracking=%.1f\nsecs_total=%.1f\n",
            s->secs_etl, s->secs_features, s->secs_write, s->secs_cv, s->secs_stack, s->secs_refit,
            s->secs_validation, s->secs_tracking, cp_now_s() - r->t0);
    if (s->run_id[0])
        fprintf(f, "mlflow_run_id=%s\nmodel_version=%s\npromoted=%d\n", s->run_id, s->model_version,
                s->promoted);
    if (fclose(f) != 0) {
        free(*text);
        return tr_failf(r, "out of memory");
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
            return tr_failf(r, "cannot write %s on HDFS: %s", path,
                            cp_rest_error_message(r->rest_err));
        return 0;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return tr_failf(r, "cannot write %s: %s", tmp, strerror(errno));
    size_t n = fwrite(data, 1, len, f);
    if (fclose(f) != 0 || n != len || rename(tmp, path) != 0)
        return tr_failf(r, "cannot write %s: %s", path, strerror(errno));
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
            return tr_failf(r, "cannot remove %s on HDFS: %s", path,
                            cp_rest_error_message(r->rest_err));
        return 0;
    }
    if (unlink(path) != 0 && errno != ENOENT)
        return tr_failf(r, "cannot remove %s: %s", path, strerror(errno));
    return 0;
}

void cp_train_opts_init(cp_train_opts_t *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->holdout = 0.1;
    opts->seed = 42;
    opts->folds = 3;
    opts->min_category_count = 5;
    opts->parallelism = 2;
}

/* Parses opts->models and opts->grid into r->models. */
static int setup_models(run_t *r)
{
    const char *list = r->o->models && *r->o->models ? r->o->models : "gbt,rf,lin";
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    r->nmodels = 0;
    for (char *save = NULL, *n = strtok_r(buf, ", ", &save); n; n = strtok_r(NULL, ", ", &save)) {
        if (r->nmodels == EN_MAX_MODELS)
            return tr_failf(r, "at most %d base models", EN_MAX_MODELS);
        for (size_t i = 0; i < r->nmodels; i++)
            if (strcmp(r->models[i].name, n) == 0)
                return tr_failf(r, "model %s named twice", n);
        if (en_model_default(n, r->o->seed, &r->models[r->nmodels]) != 0)
            return tr_failf(r, "unknown model '%s' (known: gbt, rf, lin, fm)", n);
        r->nmodels++;
    }
    if (r->nmodels == 0)
        return tr_failf(r, "no base models given");
    for (size_t g = 0; g < r->o->ngrid; g++) {
        const char *spec = r->o->grid[g];
        const char *dot = strchr(spec, '.');
        en_model_t *m = NULL;
        for (size_t i = 0; dot && i < r->nmodels; i++)
            if (strlen(r->models[i].name) == (size_t)(dot - spec) &&
                strncmp(r->models[i].name, spec, (size_t)(dot - spec)) == 0)
                m = &r->models[i];
        if (!m)
            return tr_failf(
                r, "grid '%s': expected MODEL.PARAM=V1[,V2...] with MODEL one of --models", spec);
        char e[256];
        if (en_model_set(m, dot + 1, e, sizeof e) != 0)
            return tr_failf(r, "grid '%s': %s", spec, e);
    }
    return 0;
}

/* Holdout metrics of every prediction column in one pass: on ln(price) and,
 * through exp, on price. */
static int holdout_metrics(run_t *r, const sc_df_t *scored)
{
    cp_train_result_t *res = r->res;
    size_t n = res->nmodels + 1;
    char **exprs = calloc(n * 7, sizeof *exprs);
    sc_df_t *agg = NULL;
    sc_result_t *out = NULL;
    int rc = -1;
    if (!exprs)
        return tr_failf(r, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *p = i < res->nmodels ? r->models[i].pred_col : "prediction";
        char **e = &exprs[i * 7];
        if (asprintf(&e[0], "sqrt(avg(pow(label - %s, 2)))", p) < 0 ||
            asprintf(&e[1], "avg(abs(label - %s))", p) < 0 ||
            asprintf(&e[2], "1 - sum(pow(label - %s, 2)) / (count(*) * var_pop(label))", p) < 0 ||
            asprintf(&e[3], "sqrt(avg(pow(exp(label) - exp(%s), 2)))", p) < 0 ||
            asprintf(&e[4], "avg(abs(exp(label) - exp(%s)))", p) < 0 ||
            asprintf(&e[5],
                     "1 - sum(pow(exp(label) - exp(%s), 2)) / (count(*) * var_pop(exp(label)))",
                     p) < 0 ||
            asprintf(&e[6], "avg(abs(exp(label) - exp(%s)) / exp(label))", p) < 0) {
            rc = tr_failf(r, "out of memory");
            goto done;
        }
    }
    if (sc_df_select_expr(scored, (const char *const *)exprs, n * 7, &agg, r->err) != SC_OK ||
        sc_df_collect(agg, &out, r->err) != SC_OK) {
        rc = tr_fail_spark(r, "scoring the holdout");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        double v[7];
        for (size_t j = 0; j < 7; j++)
            if (sc_result_get_double(out, 0, i * 7 + j, &v[j], r->err) != SC_OK) {
                rc = tr_fail_spark(r, "holdout metrics");
                goto done;
            }
        res->holdout[i] = (cp_train_metrics_t){.rmse_log = v[0],
                                               .mae_log = v[1],
                                               .r2_log = v[2],
                                               .rmse = v[3],
                                               .mae = v[4],
                                               .r2 = v[5],
                                               .mape = v[6]};
        cp_log_info("train.holdout",
                    "model=%s rmse_log=%.5f mae_log=%.5f r2_log=%.5f rmse=%.0f mae=%.0f r2=%.4f",
                    res->model_names[i], v[0], v[1], v[2], v[3], v[4], v[5]);
    }
    rc = 0;
done:
    for (size_t i = 0; i < n * 7; i++)
        free(exprs[i]);
    free(exprs);
    sc_result_destroy(out);
    sc_df_destroy(agg);
    return rc;
}

/* Up to 5000 holdout rows (a stable hash sample) for the plots. */
static int holdout_sample(run_t *r, const sc_df_t *scored)
{
    sc_df_t *sorted = NULL, *lim = NULL;
    sc_result_t *out = NULL;
    int rc = -1;
    if (sc_df_select_expr(scored,
                          (const char *const[]){"exp(label) AS actual",
                                                "exp(prediction) AS predicted",
                                                "xxhash64(listing_id) AS h"},
                          3, &sorted, r->err) != SC_OK)
        return tr_fail_spark(r, "holdout sample");
    sc_df_t *filtered = NULL;
    /* About 5000 rows whatever the holdout's size, without a sort. */
    char cond[96];
    double keep = r->res->holdout_rows > 5000 ? 5000.0 / (double)r->res->holdout_rows : 1.0;
    snprintf(cond, sizeof cond, "pmod(h, 1000000) < %lld", (long long)(keep * 1e6 + 0.5));
    if (sc_df_filter(sorted, cond, &filtered, r->err) != SC_OK ||
        sc_df_limit(filtered, 6000, &lim, r->err) != SC_OK ||
        sc_df_collect(lim, &out, r->err) != SC_OK) {
        rc = tr_fail_spark(r, "holdout sample");
        goto done;
    }
    size_t n = sc_result_num_rows(out);
    r->sample_actual = calloc(n ? n : 1, sizeof(double));
    r->sample_pred = calloc(n ? n : 1, sizeof(double));
    if (!r->sample_actual || !r->sample_pred) {
        rc = tr_failf(r, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        if (sc_result_get_double(out, i, 0, &r->sample_actual[i], r->err) != SC_OK ||
            sc_result_get_double(out, i, 1, &r->sample_pred[i], r->err) != SC_OK) {
            rc = tr_fail_spark(r, "holdout sample");
            goto done;
        }
    r->nsample = n;
    rc = 0;
done:
    sc_result_destroy(out);
    sc_df_destroy(lim);
    sc_df_destroy(filtered);
    sc_df_destroy(sorted);
    return rc;
}

/* Feature importances of the first tree model, one per source column (the
 * trees read tree_features: the numbers, then one index per category
 * column). Best effort: a server that does not offer them leaves the list
 * empty. */
static void importances(run_t *r, const sc_model_t *final)
{
    const sc_model_t *tree = NULL;
    for (size_t i = 0; i < r->nmodels && !tree; i++)
        if (strcmp(r->models[i].features_col, "tree_features") == 0)
            tree = sc_model_stage(final, FEATURE_STAGES + i);
    double *imp = NULL;
    size_t nimp = 0;
    if (!tree || sc_model_fetch_doubles(tree, "featureImportances", &imp, &nimp, r->err) != SC_OK) {
        if (tree)
            cp_log_warn("train.importances", "reason=\"%s\"", sc_error_message(r->err));
        return;
    }
    if (nimp != NNUM + NCAT) {
        cp_log_warn("train.importances", "reason=\"%zu importances, expected %zu\"", nimp,
                    NNUM + NCAT);
    } else {
        for (size_t i = 0; i < nimp; i++) {
            r->imp_names[i] = (i < NNUM ? numeric_cols[i] : category_cols[i - NNUM]) + 2;
            r->imp_values[i] = imp[i];
        }
        r->nimp = nimp;
    }
    free(imp);
}

/* The largest category count of the tree features (index + 1, plus the
 * index kept for unseen categories): the trees' maxBins must reach it. */
static int max_categories(run_t *r, const sc_df_t *set, int *out)
{
    char expr[1024] = "greatest(";
    for (size_t i = 0; i < NCAT; i++)
        snprintf(expr + strlen(expr), sizeof expr - strlen(expr), "%smax(x_%s)", i ? ", " : "",
                 category_cols[i] + 2);
    snprintf(expr + strlen(expr), sizeof expr - strlen(expr), ")");
    sc_df_t *agg = NULL;
    sc_result_t *res = NULL;
    double v = 0;
    int rc = 0;
    if (sc_df_select_expr(set, (const char *const[]){expr}, 1, &agg, r->err) != SC_OK ||
        sc_df_collect(agg, &res, r->err) != SC_OK ||
        sc_result_get_double(res, 0, 0, &v, r->err) != SC_OK)
        rc = tr_fail_spark(r, "counting categories");
    sc_result_destroy(res);
    sc_df_destroy(agg);
    *out = (int)v + 2;
    return rc;
}

/* Reads every fitted stage of the final model back from where it was
 * written right after its fit (feature-pipeline/, fitted/), replacing the
 * handles in stages and r->ens; writes the final PipelineModel to
 * <out_uri>/model and reads it back into *final. */
static int final_model(run_t *r, const char *out_uri, const en_opts_t *eo,
                       sc_model_t *stages[FEATURE_STAGES], sc_model_t **final)
{
    char path[sizeof r->out_uri + 128];
    sc_model_t **fitted[FEATURE_STAGES + EN_MAX_MODELS + 1];
    char names[FEATURE_STAGES + EN_MAX_MODELS + 1][sizeof path];
    size_t n = 0;
    for (size_t i = 0; i < FEATURE_STAGES; i++) {
        if (sc_model_kind(stages[i]) != SC_MODEL_FITTED)
            continue;
        snprintf(names[n], sizeof names[n], "%s/feature-pipeline/stages/%zu_%s", out_uri, i,
                 sc_model_uid(stages[i]));
        fitted[n++] = &stages[i];
    }
    for (size_t i = 0; i < r->nmodels; i++) {
        en_fitted_path(eo, r->models[i].name, names[n], sizeof names[n]);
        fitted[n++] = &r->ens.models[i].refit;
    }
    en_fitted_path(eo, "stack", names[n], sizeof names[n]);
    fitted[n++] = &r->ens.meta;
    for (size_t i = 0; i < n; i++) {
        sc_model_t *fresh = NULL;
        if (sc_ml_read(r->s, sc_model_class(*fitted[i]), names[i], &fresh, r->err) != SC_OK)
            return tr_fail_spark(r, "reading the fitted stages back");
        sc_model_destroy(*fitted[i]);
        *fitted[i] = fresh;
    }
    const sc_model_t *all[FEATURE_STAGES + EN_MAX_MODELS + 2];
    size_t k = 0;
    for (size_t i = 0; i < FEATURE_STAGES; i++)
        all[k++] = stages[i];
    for (size_t i = 0; i < r->nmodels; i++)
        all[k++] = r->ens.models[i].refit;
    all[k++] = r->ens.stack_assembler;
    all[k++] = r->ens.meta;
    snprintf(path, sizeof path, "%s/model", out_uri);
    if (sc_pipeline_write(r->s, all, k, path, true, r->err) != SC_OK)
        return tr_fail_spark(r, "writing the model");
    if (sc_pipeline_read(r->s, path, final, r->err) != SC_OK)
        return tr_fail_spark(r, "reading the model back");
    return 0;
}

/* Everything after the session is up. */
static int run_stages(run_t *r, const char *const *uris, size_t n, const char *out_uri)
{
    cp_train_result_t *res = r->res;
    sc_df_t *train = NULL, *holdout = NULL, *prepared = NULL, *set = NULL, *back = NULL;
    sc_df_t *scored = NULL;
    sc_model_t *stages[FEATURE_STAGES] = {0};
    sc_model_t *final = NULL;
    int rc = -1, max_bins = 32;
    char path[sizeof r->out_uri + 64];

    step_begin(r, "etl");
    if (etl(r, uris, n) != 0)
        goto done;
    if (sql_df(r, "split", "SELECT * FROM train_rows WHERE NOT is_holdout", &train) != 0 ||
        sql_df(r, "split", "SELECT * FROM train_rows WHERE is_holdout", &holdout) != 0 ||
        count_rows(r, "counting training rows", train, &res->train_rows) != 0 ||
        count_rows(r, "counting holdout rows", holdout, &res->holdout_rows) != 0)
        goto done;
    if (res->train_rows == 0 || res->holdout_rows == 0) {
        rc = tr_failf(r, "the split left %lld training and %lld holdout rows; need both",
                      (long long)res->train_rows, (long long)res->holdout_rows);
        goto done;
    }
    if (res->train_rows < 20LL * r->o->folds) {
        rc = tr_failf(r, "only %lld training rows: too few for %d-fold cross-validation",
                      (long long)res->train_rows, r->o->folds);
        goto done;
    }
    res->secs_etl = step_end(r);

    step_begin(r, "features");
    if (fit_features(r, train, stages) != 0)
        goto done;
    res->secs_features = step_end(r);

    /* The prepared training set is written once and read back: the fits
     * below read these Parquet files (cached) instead of re-running the ETL. */
    step_begin(r, "write");
    snprintf(path, sizeof path, "%s/feature-pipeline", out_uri);
    if (sc_pipeline_write(r->s, (const sc_model_t *const *)stages, FEATURE_STAGES, path, true,
                          r->err) != SC_OK) {
        rc = tr_fail_spark(r, "writing the feature pipeline");
        goto done;
    }
    {
        sc_df_t *cur = NULL;
        if (sc_df_select_expr(train, (const char *const[]){"*"}, 1, &cur, r->err) != SC_OK) {
            rc = tr_fail_spark(r, "preparing the training set");
            goto done;
        }
        for (size_t i = 0; i < FEATURE_STAGES; i++) {
            sc_df_t *next = NULL;
            sc_code_t c = sc_model_transform(stages[i], cur, NULL, &next, r->err);
            sc_df_destroy(cur);
            cur = next;
            if (c != SC_OK) {
                rc = tr_fail_spark(r, "preparing the training set");
                goto done;
            }
        }
        prepared = cur;
    }
    if (max_categories(r, prepared, &max_bins) != 0)
        goto done;
    if (sc_df_select_expr(prepared,
                          (const char *const[]){"monotonically_increasing_id() AS row_id",
                                                "listing_id", "fold", "label", "features",
                                                "tree_features"},
                          6, &set, r->err) != SC_OK) {
        rc = tr_fail_spark(r, "preparing the training set");
        goto done;
    }
    snprintf(path, sizeof path, "%s/train-set", out_uri);
    sc_write_opts_t wo = {.format = "parquet", .mode = "overwrite"};
    if (sc_df_write(set, &wo, path, r->err) != SC_OK) {
        rc = tr_fail_spark(r, "writing the training set");
        goto done;
    }
    sc_read_opts_t ro = {.format = "parquet"};
    const char *set_path = path;
    if (sc_read(r->s, &ro, &set_path, 1, &back, r->err) != SC_OK ||
        sc_df_persist(back, r->err) != SC_OK) {
        rc = tr_fail_spark(r, "reading the training set back");
        goto done;
    }
    res->secs_write = step_end(r);

    /* Cross-validation, stacking, refits. */
    step_begin(r, "models");
    /* maxBins as the trees will use it, so that logs and MLflow show it. */
    for (size_t i = 0; i < r->nmodels; i++)
        for (size_t p = 0; p < r->models[i].nparams; p++) {
            en_param_t *mp = &r->models[i].params[p];
            for (size_t v = 0; strcmp(mp->name, "maxBins") == 0 && v < mp->nvalues; v++)
                if (atoi(mp->values[v]) < max_bins)
                    snprintf(mp->values[v], sizeof mp->values[v], "%d", max_bins);
        }
    char oof_uri[EN_MAX_URI], fitted_uri[EN_MAX_URI];
    snprintf(oof_uri, sizeof oof_uri, "%s/oof", out_uri);
    snprintf(fitted_uri, sizeof fitted_uri, "%s/fitted", out_uri);
    en_opts_t eo = {.folds = r->o->folds,
                    .parallelism = r->o->parallelism > 0 ? r->o->parallelism : 2,
                    .min_max_bins = max_bins,
                    .oof_uri = oof_uri,
                    .fitted_uri = fitted_uri,
                    .progress = on_model_progress,
                    .progress_opaque = r};
    res->parallelism = eo.parallelism;
    if (en_fit(r->s, back, r->models, r->nmodels, &eo, &r->ens, r->errbuf, r->errlen) != 0) {
        if (r->progress_line)
            fprintf(stderr, "\n");
        r->progress_line = false;
        goto done;
    }
    if (r->progress_line) {
        fprintf(stderr, "\r%-110s\r", "");
        r->progress_line = false;
    }
    /* The one-hot width (the trees' 43 columns say less). */
    double nf = 0;
    size_t wide = 0;
    for (size_t i = r->nmodels; i-- > 0;)
        if (strcmp(r->models[i].features_col, "features") == 0)
            wide = i;
    if (sc_model_fetch_double(r->ens.models[wide].refit, "numFeatures", &nf, r->err) == SC_OK)
        res->num_features = (int64_t)nf;
    res->secs_cv = r->ens.secs_cv;
    res->secs_stack = r->ens.secs_stack;
    res->secs_refit = r->ens.secs_refit;
    res->nmodels = r->nmodels;
    for (size_t i = 0; i < r->nmodels; i++) {
        const en_result_t *m = &r->ens.models[i];
        snprintf(res->model_names[i], sizeof res->model_names[i], "%s", r->models[i].name);
        en_combo_text(&r->models[i], m->best, false, res->best_params[i],
                      sizeof res->best_params[i]);
        res->cv_rmse_log[i] = m->cv_mean[m->best];
    }
    snprintf(res->model_names[r->nmodels], sizeof res->model_names[0], "stack");
    res->cv_rmse_log[r->nmodels] = r->ens.oof_rmse;
    step_end(r);
    if (r->o->progress) {
        for (size_t i = 0; i < r->nmodels; i++)
            fprintf(stderr, "    %-4s cv rmse(log) %.4f  %s\n", r->models[i].name,
                    res->cv_rmse_log[i], res->best_params[i]);
        fprintf(stderr, "    stack out-of-fold rmse(log) %.4f\n", r->ens.oof_rmse);
    }

    /* The final model: features -> base models -> assembler -> stacker,
     * written to model/ and read back from there for the holdout. Under
     * memory pressure the server's ML cache drops fitted models (soft
     * references; a 1M-row run lost its feature stages that way), so every
     * fitted stage was written right after its fit and is read back here;
     * an eviction during the write or the scoring is retried from disk. */
    step_begin(r, "validation");
    for (int attempt = 1;; attempt++) {
        sc_df_destroy(scored);
        sc_model_destroy(final);
        scored = NULL;
        final = NULL;
        snprintf(path, sizeof path, "%s/model", out_uri);
        snprintf(res->model_uri, sizeof res->model_uri, "%s", path);
        if (final_model(r, out_uri, &eo, stages, &final) == 0) {
            if (sc_model_transform(final, holdout, NULL, &scored, r->err) != SC_OK)
                tr_fail_spark(r, "scoring the holdout");
            else if (holdout_metrics(r, scored) == 0 && holdout_sample(r, scored) == 0)
                break;
        }
        const char *cls = sc_error_class(r->err);
        if (attempt == 3 || !cls || strcmp(cls, "CONNECT_ML.CACHE_INVALID") != 0)
            goto done;
        cp_log_warn("train.cache_evicted",
                    "attempt=%d error=\"%s\": the server dropped a fitted model from its ML cache; "
                    "reading the stages back from %s",
                    attempt, r->errbuf, out_uri);
    }
    importances(r, final);
    res->secs_validation = step_end(r);

    const cp_train_metrics_t *st = &res->holdout[r->nmodels];
    size_t best = 0;
    for (size_t i = 1; i < r->nmodels; i++)
        if (res->holdout[i].rmse_log < res->holdout[best].rmse_log)
            best = i;
    if (st->rmse_log > res->holdout[best].rmse_log) {
        cp_log_warn("train.stack_worse",
                    "stack_rmse_log=%.5f best=%s best_rmse_log=%.5f: the stack is WORSE than its "
                    "best base model on the holdout",
                    st->rmse_log, r->models[best].name, res->holdout[best].rmse_log);
        fprintf(stderr,
                "carprice train: WARNING: the stack (holdout RMSE %.4f on log price) is worse "
                "than %s alone (%.4f)\n",
                st->rmse_log, r->models[best].name, res->holdout[best].rmse_log);
    }
    if (r->o->min_r2 > 0 && !(st->r2_log >= r->o->min_r2)) {
        rc = tr_failf(r, "the stack's holdout R^2 on log price is %.4f, below the floor %.4f",
                      st->r2_log, r->o->min_r2);
        goto done;
    }

    if (r->mlflow) {
        step_begin(r, "tracking");
        if (tr_tracking_finish(r, holdout) != 0)
            goto done;
        res->secs_tracking = step_end(r);
    }

    res->secs_total = cp_now_s() - r->t0;
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
    if (back)
        sc_df_unpersist(back, r->err);
    sc_df_destroy(scored);
    sc_df_destroy(back);
    sc_df_destroy(set);
    sc_df_destroy(prepared);
    sc_df_destroy(holdout);
    sc_df_destroy(train);
    sc_model_destroy(final);
    en_ensemble_clear(&r->ens);
    for (size_t i = 0; i < FEATURE_STAGES; i++)
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
    r.t0 = cp_now_s();
    if (!opts || !opts->inputs || opts->ninputs == 0 || !opts->sql_dir)
        return tr_failf(&r, "give at least one input and the SQL directory");
    if ((!opts->out_dir || !*opts->out_dir) && !opts->tracking)
        return tr_failf(&r, "give an output directory (or turn tracking on for the default)");
    if (!(opts->holdout > 0 && opts->holdout < 1) || opts->folds < 2 || opts->folds > EN_MAX_FOLDS)
        return tr_failf(&r, "holdout must be in (0, 1) and folds in 2..%d", EN_MAX_FOLDS);
    if (setup_models(&r) != 0)
        return -1;

    char **uris = calloc(opts->ninputs, sizeof *uris);
    char local_out[PATH_MAX], default_out[PATH_MAX];
    char *out_uri = r.out_uri;
    int rc = -1;
    bool started = false;
    if (!uris)
        return tr_failf(&r, "out of memory");
    for (size_t i = 0; i < opts->ninputs; i++) {
        uris[i] = malloc(PATH_MAX + 16);
        if (!uris[i]) {
            rc = tr_failf(&r, "out of memory");
            goto done;
        }
        if (to_uri(&r, opts->inputs[i], uris[i], PATH_MAX + 16) != 0)
            goto done;
    }
    r.rest_err = cp_rest_error_new();
    r.err = sc_error_new();
    if (!r.rest_err || !r.err) {
        rc = tr_failf(&r, "out of memory");
        goto done;
    }
    /* MLflow first: an unreachable tracking server fails before any work. */
    if (opts->tracking) {
        if (cp_mlflow_new(NULL, &r.mlflow, r.rest_err) != CP_REST_OK) {
            rc = tr_fail_rest(&r, "MLflow client");
            goto done;
        }
        if (tr_tracking_start(&r) != 0)
            goto done;
        started = true;
    }
    /* The output directory: a local one is created here; the summary and
     * the marker go beside Spark's outputs, locally or through WebHDFS. */
    const char *od = opts->out_dir;
    if (!od || !*od) {
        const char *hdfs = getenv("CARPRICE_HDFS_URI");
        snprintf(default_out, sizeof default_out, "%s/carprice/runs/%s",
                 hdfs && *hdfs ? hdfs : "hdfs://127.0.0.1:9000", r.res->run_id);
        od = default_out;
    }
    if (strlen(od) >= sizeof r.out_uri - 16) {
        rc = tr_failf(&r, "output directory name too long (%zu bytes)", strlen(od));
        goto done;
    }
    if (strncmp(od, "file://", 7) == 0)
        od += 7;
    if (!is_uri(od)) {
        if (mkdir_p(od) != 0 || !realpath(od, local_out)) {
            rc = tr_failf(&r, "output directory %s: %s", od, strerror(errno));
            goto done;
        }
        r.out_path = local_out;
        if (strlen(local_out) >= sizeof r.out_uri - 16) {
            rc = tr_failf(&r, "output directory name too long (%zu bytes)", strlen(local_out));
            goto done;
        }
        snprintf(out_uri, sizeof r.out_uri, "file://%.1000s", local_out);
    } else if (strncmp(od, "hdfs://", 7) == 0 && strchr(od + 7, '/')) {
        snprintf(out_uri, sizeof r.out_uri, "%.1000s", od);
        r.out_path = strchr(out_uri + 7, '/');
        if (cp_hdfs_new(NULL, &r.hdfs, r.rest_err) != CP_REST_OK) {
            rc = tr_fail_rest(&r, "WebHDFS client");
            goto done;
        }
    } else {
        rc = tr_failf(
            &r, "output directory %s: give a local path, file:// or hdfs://host:port/path", od);
        goto done;
    }
    if (remove_marker(&r) != 0)
        goto done;

    const char *remote = opts->remote && *opts->remote ? opts->remote : "sc://127.0.0.1:15002";
    char *version = NULL;
    if (sc_session_new(remote, NULL, &r.s, r.err) != SC_OK ||
        sc_session_version(r.s, &version, r.err) != SC_OK) {
        char what[600];
        snprintf(what, sizeof what, "Spark Connect server %.500s", remote);
        rc = tr_fail_spark(&r, what);
        goto done;
    }
    snprintf(r.spark_version, sizeof r.spark_version, "%s", version);
    free(version);
    sc_session_set_progress(r.s, on_progress, &r);
    cp_log_info("train.start", "inputs=%zu out=%s holdout=%g seed=%lld folds=%d run_id=%s",
                opts->ninputs, out_uri, opts->holdout, (long long)opts->seed, opts->folds,
                r.res->run_id);
    rc = run_stages(&r, (const char *const *)uris, opts->ninputs, out_uri);
    if (rc == 0)
        cp_log_info("train.done", "secs=%.1f", cp_now_s() - r.t0);
done:
    if (rc != 0) {
        cp_log_error("train.failed", "error=\"%s\"", errlen ? errbuf : "");
        if (started)
            tr_tracking_fail(&r);
    }
    sc_session_destroy(r.s);
    sc_error_destroy(r.err);
    cp_mlflow_destroy(r.mlflow);
    cp_hdfs_destroy(r.hdfs);
    cp_rest_error_destroy(r.rest_err);
    free(r.sample_actual);
    free(r.sample_pred);
    for (size_t i = 0; i < opts->ninputs; i++)
        free(uris[i]);
    free(uris);
    return rc;
}
