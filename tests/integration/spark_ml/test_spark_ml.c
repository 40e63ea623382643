/* Spark ML over Spark Connect against the real server of the local stack
 * (CARPRICE_SPARK_REMOTE, default sc://127.0.0.1:15002): fit, transform,
 * evaluate, fetch, write, read, PipelineModel directories (checked with the
 * official PySpark client, CARPRICE_PYTHON or <cache>/venv/bin/python), and
 * the errors a caller meets. Paths are under a fresh /tmp/ml_test_* (the
 * server runs on this host) and, when HDFS answers, under /tmp/ml_test_* on
 * CARPRICE_HDFS_URI. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <ftw.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sparkconnect/dataframe.h"
#include "sparkconnect/ml.h"
#include "sparkconnect/session.h"
#include "sparkconnect/streaming.h"

#define LR              "org.apache.spark.ml.regression.LinearRegression"
#define GBT             "org.apache.spark.ml.regression.GBTRegressor"
#define RF              "org.apache.spark.ml.regression.RandomForestRegressor"
#define GBT_MODEL       "org.apache.spark.ml.regression.GBTRegressionModel"
#define STRING_INDEXER  "org.apache.spark.ml.feature.StringIndexer"
#define ONE_HOT         "org.apache.spark.ml.feature.OneHotEncoder"
#define ASSEMBLER       "org.apache.spark.ml.feature.VectorAssembler"
#define SQL_TRANSFORMER "org.apache.spark.ml.feature.SQLTransformer"
#define SIZE_HINT       "org.apache.spark.ml.feature.VectorSizeHint"
#define BUCKETIZER      "org.apache.spark.ml.feature.Bucketizer"
#define IMPUTER         "org.apache.spark.ml.feature.Imputer"
#define REG_EVAL        "org.apache.spark.ml.evaluation.RegressionEvaluator"

typedef struct {
    sc_session_t *s;
    sc_error_t *err;
    char tmp[256]; /* local directory, also seen by the server */
} ctx_t;

static const char *remote(void)
{
    const char *r = getenv("CARPRICE_SPARK_REMOTE");
    return r && *r ? r : "sc://127.0.0.1:15002";
}

static const char *python(void)
{
    static char buf[512];
    const char *p = getenv("CARPRICE_PYTHON");
    if (p && *p)
        return p;
    const char *venv = getenv("CARPRICE_VENV");
    if (venv && *venv) {
        snprintf(buf, sizeof buf, "%s/bin/python", venv);
        return buf;
    }
    const char *cache = getenv("CARPRICE_CACHE");
    const char *home = getenv("HOME");
    if (cache && *cache)
        snprintf(buf, sizeof buf, "%s/venv/bin/python", cache);
    else
        snprintf(buf, sizeof buf, "%s/.cache/carprice/venv/bin/python", home ? home : "/root");
    return buf;
}

#define OK(c, call)                                                                                \
    do {                                                                                           \
        sc_code_t rc_ = (call);                                                                    \
        if (rc_ != SC_OK)                                                                          \
            fail_msg("%s -> %s: %s [class %s]", #call, sc_code_name(rc_),                          \
                     sc_error_message((c)->err), sc_error_class((c)->err));                        \
    } while (0)

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    ctx_t *c = calloc(1, sizeof *c);
    c->err = sc_error_new();
    if (sc_session_new(remote(), NULL, &c->s, c->err) != SC_OK) {
        fprintf(stderr, "session: %s\n", sc_error_message(c->err));
        return -1;
    }
    snprintf(c->tmp, sizeof c->tmp, "/tmp/ml_test_XXXXXX");
    if (!mkdtemp(c->tmp)) {
        perror("mkdtemp");
        return -1;
    }
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    ctx_t *c = *state;
    if (!getenv("ML_TEST_KEEP"))
        nftw(c->tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    sc_session_destroy(c->s);
    sc_error_destroy(c->err);
    free(c);
    return 0;
}

static sc_df_t *sql(ctx_t *c, const char *q)
{
    sc_df_t *df = NULL;
    OK(c, sc_sql(c->s, q, NULL, 0, &df, c->err));
    return df;
}

static sc_params_t *params(void)
{
    sc_params_t *p = sc_params_new();
    assert_non_null(p);
    return p;
}

/* df with a "features" vector assembled from cols. */
static sc_df_t *assemble(ctx_t *c, const sc_df_t *df, const char *const *cols, size_t n)
{
    sc_params_t *p = params();
    OK(c, sc_params_set_strings(p, "inputCols", cols, n, c->err));
    OK(c, sc_params_set_string(p, "outputCol", "features", c->err));
    sc_df_t *out = NULL;
    OK(c, sc_ml_transform(df, ASSEMBLER, p, &out, c->err));
    sc_params_destroy(p);
    return out;
}

/* Collects column col of df into vals[id] for ids 0..n-1 (NAN where absent). */
static void collect_by_id(ctx_t *c, const sc_df_t *df, const char *col, double *vals, size_t n)
{
    for (size_t i = 0; i < n; i++)
        vals[i] = NAN;
    const char *exprs[2] = {"id", col};
    sc_df_t *sel = NULL;
    OK(c, sc_df_select_expr(df, exprs, 2, &sel, c->err));
    sc_result_t *r = NULL;
    OK(c, sc_df_collect(sel, &r, c->err));
    for (size_t row = 0; row < sc_result_num_rows(r); row++) {
        int64_t id;
        double v;
        OK(c, sc_result_get_int64(r, row, 0, &id, c->err));
        assert_false(sc_result_is_null(r, row, 1));
        OK(c, sc_result_get_double(r, row, 1, &v, c->err));
        assert_true(id >= 0 && (size_t)id < n);
        vals[id] = v;
    }
    sc_result_destroy(r);
    sc_df_destroy(sel);
}

static double scalar(ctx_t *c, const sc_df_t *df, const char *expr)
{
    sc_df_t *sel = NULL;
    OK(c, sc_df_select_expr(df, &expr, 1, &sel, c->err));
    sc_result_t *r = NULL;
    OK(c, sc_df_collect(sel, &r, c->err));
    assert_int_equal(sc_result_num_rows(r), 1);
    double v;
    OK(c, sc_result_get_double(r, 0, 0, &v, c->err));
    sc_result_destroy(r);
    sc_df_destroy(sel);
    return v;
}

/* ---- linear regression ---- */

static void linear_regression_recovers_coefficients(void **state)
{
    ctx_t *c = *state;
    /* y = 3 x1 - 2 x2 + 5 plus deterministic noise of at most 5e-5. */
    sc_df_t *raw = sql(c, "SELECT id, x1, x2, 3 * x1 - 2 * x2 + 5 + "
                          "(((id * 7919) % 1001) - 500) * 1e-7 AS y FROM ("
                          "SELECT id, CAST(id % 97 AS DOUBLE) / 10 AS x1, "
                          "CAST((id * 37) % 101 AS DOUBLE) / 7 AS x2 FROM range(2000))");
    const char *cols[] = {"x1", "x2"};
    sc_df_t *df = assemble(c, raw, cols, 2);

    sc_params_t *p = params();
    OK(c, sc_params_set_string(p, "labelCol", "y", c->err));
    OK(c, sc_params_set_int64(p, "maxIter", 50, c->err)); /* an Int param */
    OK(c, sc_params_set_double(p, "regParam", 0.0, c->err));
    OK(c, sc_params_set_double(p, "tol", 1e-9, c->err));
    OK(c, sc_params_set_bool(p, "fitIntercept", true, c->err));
    OK(c, sc_params_set_string(p, "solver", "l-bfgs", c->err));
    sc_model_t *m = NULL;
    OK(c, sc_ml_fit(df, LR, p, &m, c->err));
    assert_int_equal(sc_model_kind(m), SC_MODEL_FITTED);
    assert_string_equal(sc_model_class(m), "org.apache.spark.ml.regression.LinearRegressionModel");
    assert_int_equal(strncmp(sc_model_uid(m), "LinearRegression_", 17), 0);
    assert_non_null(sc_model_ref(m));

    double *coef = NULL;
    size_t n = 0;
    OK(c, sc_model_fetch_doubles(m, "coefficients", &coef, &n, c->err));
    assert_int_equal(n, 2);
    double intercept = 0, r2 = 0, nf = 0;
    OK(c, sc_model_fetch_double(m, "intercept", &intercept, c->err));
    printf("# coefficients %.12f %.12f intercept %.12f\n", coef[0], coef[1], intercept);
    assert_true(fabs(coef[0] - 3.0) < 1e-3);
    assert_true(fabs(coef[1] + 2.0) < 1e-3);
    assert_true(fabs(intercept - 5.0) < 1e-3);
    free(coef);
    OK(c, sc_model_fetch_double(m, "numFeatures", &nf, c->err));
    assert_true(nf == 2.0);
    OK(c, sc_model_fetch_double(m, "summary.r2", &r2, c->err));
    assert_true(r2 > 0.99999);
    double *hist = NULL;
    OK(c, sc_model_fetch_doubles(m, "summary.objectiveHistory", &hist, &n, c->err));
    assert_true(n >= 1);
    free(hist);
    char *text = NULL;
    OK(c, sc_model_fetch_string(m, "toString", &text, c->err));
    assert_non_null(strstr(text, sc_model_uid(m)));
    free(text);

    /* A summary is an object, not a value. */
    double d;
    assert_int_equal(sc_model_fetch_double(m, "summary", &d, c->err), SC_ERR_UNSUPPORTED);

    /* Per-call params: another prediction column. */
    sc_params_t *tp = params();
    OK(c, sc_params_set_string(tp, "predictionCol", "yhat", c->err));
    sc_df_t *pred = NULL;
    OK(c, sc_model_transform(m, df, tp, &pred, c->err));
    assert_true(scalar(c, pred, "max(abs(yhat - y))") < 1e-3);

    sc_df_destroy(pred);
    sc_params_destroy(tp);
    sc_model_destroy(m);
    sc_params_destroy(p);
    sc_df_destroy(df);
    sc_df_destroy(raw);
}

/* ---- GBT: fit, evaluate, write, read, identical predictions ---- */

#define GBT_ROWS 600

static void gbt_round_trips_through_a_path(void **state)
{
    ctx_t *c = *state;
    sc_df_t *raw = sql(c, "SELECT id, x1, x2, sin(x1) * 3 + x2 * x2 / 10 AS y FROM ("
                          "SELECT id, CAST(id % 50 AS DOUBLE) / 5 AS x1, "
                          "CAST((id * 13) % 23 AS DOUBLE) AS x2 FROM range(600))");
    const char *cols[] = {"x1", "x2"};
    sc_df_t *df = assemble(c, raw, cols, 2);
    sc_params_t *p = params();
    OK(c, sc_params_set_string(p, "labelCol", "y", c->err));
    OK(c, sc_params_set_int64(p, "maxIter", 15, c->err));
    OK(c, sc_params_set_int64(p, "maxDepth", 4, c->err));
    OK(c, sc_params_set_double(p, "stepSize", 0.2, c->err));
    OK(c, sc_params_set_int64(p, "seed", 1234567890123LL, c->err)); /* a Long param */
    sc_model_t *m = NULL;
    OK(c, sc_ml_fit(df, GBT, p, &m, c->err));
    assert_string_equal(sc_model_class(m), GBT_MODEL);

    sc_df_t *pred = NULL;
    OK(c, sc_model_transform(m, df, NULL, &pred, c->err));
    sc_params_t *ep = params();
    OK(c, sc_params_set_string(ep, "labelCol", "y", c->err));
    OK(c, sc_params_set_string(ep, "metricName", "rmse", c->err));
    double rmse = -1, mae = -1, r2 = -1;
    OK(c, sc_ml_evaluate(pred, REG_EVAL, ep, &rmse, c->err));
    OK(c, sc_params_set_string(ep, "metricName", "mae", c->err));
    OK(c, sc_ml_evaluate(pred, REG_EVAL, ep, &mae, c->err));
    OK(c, sc_params_set_string(ep, "metricName", "r2", c->err));
    OK(c, sc_ml_evaluate(pred, REG_EVAL, ep, &r2, c->err));
    printf("# GBT rmse %g mae %g r2 %g\n", rmse, mae, r2);
    assert_true(rmse > 0 && rmse < 1.0);
    assert_true(mae > 0 && mae <= rmse);
    assert_true(r2 > 0.9 && r2 <= 1.0);
    /* The same metric computed by Spark SQL. */
    double sql_rmse = scalar(c, pred, "sqrt(avg((prediction - y) * (prediction - y)))");
    assert_true(fabs(sql_rmse - rmse) < 1e-9);

    /* featureImportances comes back as a sparse vector: expanded to dense. */
    double *imp = NULL;
    size_t n = 0;
    OK(c, sc_model_fetch_doubles(m, "featureImportances", &imp, &n, c->err));
    assert_int_equal(n, 2);
    assert_true(fabs(imp[0] + imp[1] - 1.0) < 1e-9);
    free(imp);
    double trees = 0;
    OK(c, sc_model_fetch_double(m, "getNumTrees", &trees, c->err));
    assert_true(trees == 15.0);
    double *weights = NULL;
    OK(c, sc_model_fetch_doubles(m, "treeWeights", &weights, &n, c->err));
    assert_int_equal(n, 15);
    free(weights);

    char path[400];
    snprintf(path, sizeof path, "file://%s/gbt", c->tmp);
    OK(c, sc_model_write(m, path, false, c->err));
    /* Existing path: an error without overwrite, fine with it. */
    assert_int_equal(sc_model_write(m, path, false, c->err), SC_ERR_SERVER);
    printf("# write over an existing path: %s\n", sc_error_message(c->err));
    OK(c, sc_model_write(m, path, true, c->err));

    sc_model_t *back = NULL;
    OK(c, sc_ml_read(c->s, GBT_MODEL, path, &back, c->err));
    assert_int_equal(sc_model_kind(back), SC_MODEL_FITTED);
    assert_string_equal(sc_model_uid(back), sc_model_uid(m));
    assert_string_not_equal(sc_model_ref(back), sc_model_ref(m));
    sc_df_t *pred2 = NULL;
    OK(c, sc_model_transform(back, df, NULL, &pred2, c->err));

    double *a = malloc(GBT_ROWS * sizeof *a), *b = malloc(GBT_ROWS * sizeof *b);
    collect_by_id(c, pred, "prediction", a, GBT_ROWS);
    collect_by_id(c, pred2, "prediction", b, GBT_ROWS);
    for (size_t i = 0; i < GBT_ROWS; i++) {
        assert_false(isnan(a[i]));
        if (memcmp(&a[i], &b[i], sizeof a[i]) != 0)
            fail_msg("row %zu: %.17g before writing, %.17g after reading", i, a[i], b[i]);
    }
    free(a);
    free(b);

    sc_df_destroy(pred2);
    sc_model_destroy(back);
    sc_df_destroy(pred);
    sc_params_destroy(ep);
    sc_model_destroy(m);
    sc_params_destroy(p);
    sc_df_destroy(df);
    sc_df_destroy(raw);
}

/* ---- stateless transformers, Imputer, transformer write/read ---- */

static void stateless_transformers_and_imputer(void **state)
{
    ctx_t *c = *state;
    sc_df_t *raw = sql(c, "SELECT id, CAST(id AS DOUBLE) - 3 AS x, "
                          "IF(id % 3 = 0, NULL, CAST(id AS DOUBLE)) AS a FROM range(10)");

    /* SQLTransformer. */
    sc_params_t *sp = params();
    OK(c, sc_params_set_string(sp, "statement", "SELECT *, x * 2 AS x2 FROM __THIS__", c->err));
    sc_df_t *t1 = NULL;
    OK(c, sc_ml_transform(raw, SQL_TRANSFORMER, sp, &t1, c->err));
    assert_true(scalar(c, t1, "sum(x2)") == 2 * (45.0 - 30.0));

    /* Bucketizer: a double-array param with infinities. */
    sc_params_t *bp = params();
    const double splits[] = {-INFINITY, 0.0, 3.0, INFINITY};
    OK(c, sc_params_set_doubles(bp, "splits", splits, 4, c->err));
    OK(c, sc_params_set_string(bp, "inputCol", "x", c->err));
    OK(c, sc_params_set_string(bp, "outputCol", "bucket", c->err));
    sc_df_t *t2 = NULL;
    OK(c, sc_ml_transform(raw, BUCKETIZER, bp, &t2, c->err));
    double bucket[10];
    collect_by_id(c, t2, "bucket", bucket, 10);
    for (int i = 0; i < 10; i++) {
        double x = i - 3.0;
        assert_true(bucket[i] == (x < 0 ? 0.0 : x < 3 ? 1.0 : 2.0));
    }

    /* VectorSizeHint then an assembler (what streaming needs). */
    const char *cols[] = {"x", "id"};
    sc_df_t *vec = assemble(c, raw, cols, 2);
    sc_params_t *hp = params();
    OK(c, sc_params_set_string(hp, "inputCol", "features", c->err));
    OK(c, sc_params_set_int64(hp, "size", 2, c->err));
    OK(c, sc_params_set_string(hp, "handleInvalid", "error", c->err));
    sc_df_t *t3 = NULL;
    OK(c, sc_ml_transform(vec, SIZE_HINT, hp, &t3, c->err));
    int64_t count = 0;
    OK(c, sc_df_count(t3, &count, c->err));
    assert_int_equal(count, 10);

    /* Imputer: an estimator with string-array params. */
    sc_params_t *ip = params();
    const char *in[] = {"a"}, *out[] = {"a_imp"};
    OK(c, sc_params_set_strings(ip, "inputCols", in, 1, c->err));
    OK(c, sc_params_set_strings(ip, "outputCols", out, 1, c->err));
    OK(c, sc_params_set_string(ip, "strategy", "mean", c->err));
    sc_model_t *imp = NULL;
    OK(c, sc_ml_fit(raw, IMPUTER, ip, &imp, c->err));
    assert_string_equal(sc_model_class(imp), "org.apache.spark.ml.feature.ImputerModel");
    sc_df_t *t4 = NULL;
    OK(c, sc_model_transform(imp, raw, NULL, &t4, c->err));
    double filled[10];
    collect_by_id(c, t4, "a_imp", filled, 10);
    double mean = (1 + 2 + 4 + 5 + 7 + 8) / 6.0;
    for (int i = 0; i < 10; i++)
        assert_true(fabs(filled[i] - (i % 3 == 0 ? mean : i)) < 1e-12);

    /* A stateless transformer written as Spark saves it and read back. */
    char path[400];
    snprintf(path, sizeof path, "file://%s/sqlt", c->tmp);
    OK(c, sc_ml_write_transformer(c->s, SQL_TRANSFORMER, sp, path, false, c->err));
    sc_model_t *tr = NULL;
    OK(c, sc_ml_read(c->s, SQL_TRANSFORMER, path, &tr, c->err));
    assert_int_equal(sc_model_kind(tr), SC_MODEL_TRANSFORMER);
    assert_int_equal(strncmp(sc_model_uid(tr), "SQLTransformer_", 15), 0);
    assert_null(sc_model_ref(tr));
    sc_df_t *t5 = NULL;
    OK(c, sc_model_transform(tr, raw, NULL, &t5, c->err));
    assert_true(scalar(c, t5, "sum(x2)") == 30.0);
    /* Fetch needs a server-side object. */
    double d;
    assert_int_equal(sc_model_fetch_double(tr, "toString", &d, c->err), SC_ERR_UNSUPPORTED);

    sc_df_destroy(t5);
    sc_model_destroy(tr);
    sc_df_destroy(t4);
    sc_model_destroy(imp);
    sc_params_destroy(ip);
    sc_df_destroy(t3);
    sc_params_destroy(hp);
    sc_df_destroy(vec);
    sc_df_destroy(t2);
    sc_params_destroy(bp);
    sc_df_destroy(t1);
    sc_params_destroy(sp);
    sc_df_destroy(raw);
}

/* ---- PipelineModel: written by us, loaded by PySpark ---- */

#define CAR_TRAIN                                                                                  \
    "SELECT id, make, year, km, "                                                                  \
    "8000 + 600 * (year - 2000) - km / 20 + "                                                      \
    "CASE make WHEN 'audi' THEN 4000 WHEN 'bmw' THEN 5000 WHEN 'fiat' THEN -2000 "                 \
    "WHEN 'ford' THEN 0 ELSE 1500 END AS price FROM ("                                             \
    "SELECT id, element_at(array('audi', 'bmw', 'fiat', 'ford', 'opel'), "                         \
    "CAST(id % 5 AS INT) + 1) AS make, CAST(2000 + (id * 7) % 20 AS DOUBLE) AS year, "             \
    "CAST((id * 7919) % 200000 AS DOUBLE) AS km FROM range(800))"
/* Rows to predict: known makes and one the indexer never saw. */
#define CAR_TEST                                                                                   \
    "SELECT id, IF(id % 6 = 5, 'tesla', element_at(array('audi', 'bmw', 'fiat', 'ford', "          \
    "'opel'), CAST(id % 5 AS INT) + 1)) AS make, CAST(2003 + id % 15 AS DOUBLE) AS year, "         \
    "CAST(id * 3001 % 180000 AS DOUBLE) AS km FROM range(40)"
#define CAR_TEST_ROWS 40

/* Fits StringIndexer(keep) -> OneHotEncoder -> VectorAssembler -> regressor. */
static void fit_car_stages(ctx_t *c, sc_model_t *stages[4])
{
    sc_df_t *train = sql(c, CAR_TRAIN);
    sc_params_t *p = params();
    OK(c, sc_params_set_string(p, "inputCol", "make", c->err));
    OK(c, sc_params_set_string(p, "outputCol", "make_idx", c->err));
    OK(c, sc_params_set_string(p, "handleInvalid", "keep", c->err));
    OK(c, sc_ml_fit(train, STRING_INDEXER, p, &stages[0], c->err));
    sc_params_destroy(p);
    sc_df_t *d1 = NULL;
    OK(c, sc_model_transform(stages[0], train, NULL, &d1, c->err));

    p = params();
    const char *in[] = {"make_idx"}, *out[] = {"make_vec"};
    OK(c, sc_params_set_strings(p, "inputCols", in, 1, c->err));
    OK(c, sc_params_set_strings(p, "outputCols", out, 1, c->err));
    OK(c, sc_params_set_string(p, "handleInvalid", "keep", c->err));
    OK(c, sc_ml_fit(d1, ONE_HOT, p, &stages[1], c->err));
    sc_params_destroy(p);
    sc_df_t *d2 = NULL;
    OK(c, sc_model_transform(stages[1], d1, NULL, &d2, c->err));

    p = params();
    const char *cols[] = {"make_vec", "year", "km"};
    OK(c, sc_params_set_strings(p, "inputCols", cols, 3, c->err));
    OK(c, sc_params_set_string(p, "outputCol", "features", c->err));
    OK(c, sc_ml_transformer_new(c->s, ASSEMBLER, p, &stages[2], c->err));
    sc_params_destroy(p);
    sc_df_t *d3 = NULL;
    OK(c, sc_model_transform(stages[2], d2, NULL, &d3, c->err));

    p = params();
    OK(c, sc_params_set_string(p, "labelCol", "price", c->err));
    OK(c, sc_params_set_int64(p, "numTrees", 12, c->err));
    OK(c, sc_params_set_int64(p, "maxDepth", 6, c->err));
    OK(c, sc_params_set_int64(p, "seed", 7, c->err));
    OK(c, sc_ml_fit(d3, RF, p, &stages[3], c->err));
    sc_params_destroy(p);
    sc_df_destroy(d3);
    sc_df_destroy(d2);
    sc_df_destroy(d1);
    sc_df_destroy(train);
}

/* Runs the PySpark oracle; fills vals[id]. Returns the number of rows. */
static size_t pyspark_predictions(const char *pipeline, const char *rows, double *vals, size_t n)
{
    for (size_t i = 0; i < n; i++)
        vals[i] = NAN;
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' '%s/pipeline_oracle.py' '%s' '%s' '%s'", python(),
             CARPRICE_SPARK_ML_TEST_DIR, remote(), pipeline, rows);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    char line[256];
    size_t got = 0;
    while (fgets(line, sizeof line, f)) {
        char *end = NULL;
        long id = strtol(line, &end, 10);
        if (!end || *end != '\t' || id < 0 || (size_t)id >= n)
            fail_msg("oracle printed '%s'", line);
        vals[id] = strtod(end + 1, NULL);
        got++;
    }
    int status = pclose(f);
    if (status != 0)
        fail_msg("the PySpark oracle failed (status %d): %s", status, cmd);
    return got;
}

static void pipeline_model_loads_in_pyspark(void **state)
{
    ctx_t *c = *state;
    sc_model_t *stages[4] = {0};
    fit_car_stages(c, stages);
    char path[400], rows_path[400];
    snprintf(path, sizeof path, "file://%s/pipeline", c->tmp);
    snprintf(rows_path, sizeof rows_path, "file://%s/rows", c->tmp);

    OK(c, sc_pipeline_write(c->s, (const sc_model_t *const *)stages, 4, path, false, c->err));
    assert_int_equal(
        sc_pipeline_write(c->s, (const sc_model_t *const *)stages, 4, path, false, c->err),
        SC_ERR_SERVER);
    OK(c, sc_pipeline_write(c->s, (const sc_model_t *const *)stages, 4, path, true, c->err));

    /* Spark's layout: stages/<i>_<uid> with one digit for four stages. */
    char dir[600];
    snprintf(dir, sizeof dir, "%s/pipeline/stages/2_%s/metadata", c->tmp, sc_model_uid(stages[2]));
    assert_int_equal(access(dir, F_OK), 0);
    snprintf(dir, sizeof dir, "%s/pipeline/metadata/_SUCCESS", c->tmp);
    assert_int_equal(access(dir, F_OK), 0);

    sc_df_t *test = sql(c, CAR_TEST);
    sc_write_opts_t wo = {.format = "parquet", .mode = "overwrite"};
    OK(c, sc_df_write(test, &wo, rows_path, c->err));

    /* Our stages applied directly. */
    sc_model_t *direct = NULL;
    OK(c, sc_ml_pipeline_new(c->s, stages, 4, &direct, c->err));
    sc_df_t *p1 = NULL;
    OK(c, sc_model_transform(direct, test, NULL, &p1, c->err));
    double want[CAR_TEST_ROWS];
    collect_by_id(c, p1, "prediction", want, CAR_TEST_ROWS);
    for (size_t i = 0; i < CAR_TEST_ROWS; i++)
        assert_false(isnan(want[i])); /* unseen "tesla" rows included */

    /* Read back by us, stage by stage. */
    sc_model_t *back = NULL;
    OK(c, sc_pipeline_read(c->s, path, &back, c->err));
    assert_int_equal(sc_model_kind(back), SC_MODEL_PIPELINE);
    assert_int_equal(sc_model_num_stages(back), 4);
    assert_string_equal(sc_model_class(sc_model_stage(back, 0)),
                        "org.apache.spark.ml.feature.StringIndexerModel");
    assert_int_equal(sc_model_kind(sc_model_stage(back, 2)), SC_MODEL_TRANSFORMER);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(sc_model_uid(sc_model_stage(back, i)), sc_model_uid(stages[i]));
    sc_params_t *tp = params();
    OK(c, sc_params_set_string(tp, "predictionCol", "price_hat", c->err));
    sc_df_t *p2 = NULL;
    OK(c, sc_model_transform(back, test, tp, &p2, c->err));
    double ours[CAR_TEST_ROWS];
    collect_by_id(c, p2, "price_hat", ours, CAR_TEST_ROWS);

    /* Loaded by the official PySpark client. */
    double theirs[CAR_TEST_ROWS];
    assert_int_equal(pyspark_predictions(path, rows_path, theirs, CAR_TEST_ROWS), CAR_TEST_ROWS);
    for (size_t i = 0; i < CAR_TEST_ROWS; i++) {
        if (memcmp(&want[i], &ours[i], sizeof want[i]) != 0)
            fail_msg("row %zu: direct %.17g, read back %.17g", i, want[i], ours[i]);
        if (memcmp(&want[i], &theirs[i], sizeof want[i]) != 0)
            fail_msg("row %zu: ours %.17g, PySpark %.17g", i, want[i], theirs[i]);
    }
    printf("# %d rows: C and PySpark predictions identical (row 5, unseen make: %.6f)\n",
           CAR_TEST_ROWS, want[5]);

    /* A pipeline handle writes itself too. */
    char path2[400];
    snprintf(path2, sizeof path2, "file://%s/pipeline2", c->tmp);
    OK(c, sc_model_write(back, path2, false, c->err));
    assert_int_equal(pyspark_predictions(path2, rows_path, theirs, CAR_TEST_ROWS), CAR_TEST_ROWS);
    assert_memory_equal(want, theirs, sizeof want);

    sc_df_destroy(p2);
    sc_params_destroy(tp);
    sc_model_destroy(back);
    sc_df_destroy(p1);
    sc_model_destroy(direct); /* and its four stages */
    sc_df_destroy(test);
}

/* ---- the serving shape: a pipeline read by path applied to a stream ---- */

static void pipeline_transforms_a_stream(void **state)
{
    ctx_t *c = *state;
    sc_model_t *stages[4] = {0};
    fit_car_stages(c, stages);
    char path[400], rows[400], out[400], ckpt[400];
    snprintf(path, sizeof path, "file://%s/pipeline", c->tmp);
    snprintf(rows, sizeof rows, "file://%s/rows", c->tmp);
    snprintf(out, sizeof out, "file://%s/stream_out", c->tmp);
    snprintf(ckpt, sizeof ckpt, "file://%s/checkpoint", c->tmp);
    OK(c, sc_pipeline_write(c->s, (const sc_model_t *const *)stages, 4, path, false, c->err));
    sc_df_t *test = sql(c, CAR_TEST);
    sc_write_opts_t wo = {.format = "parquet"};
    OK(c, sc_df_write(test, &wo, rows, c->err));

    sc_model_t *served = NULL;
    OK(c, sc_pipeline_read(c->s, path, &served, c->err));
    sc_read_opts_t ro = {.format = "parquet",
                         .schema = "id BIGINT, make STRING, year DOUBLE, km DOUBLE",
                         .streaming = true};
    const char *rp = rows;
    sc_df_t *stream = NULL, *scored = NULL, *sel = NULL;
    OK(c, sc_read(c->s, &ro, &rp, 1, &stream, c->err));
    OK(c, sc_model_transform(served, stream, NULL, &scored, c->err));
    const char *cols[] = {"id", "prediction"};
    OK(c, sc_df_select_expr(scored, cols, 2, &sel, c->err));
    sc_stream_opts_t so = {
        .format = "parquet", .path = out, .checkpoint = ckpt, .trigger = SC_TRIGGER_AVAILABLE_NOW};
    sc_query_t *q = NULL;
    OK(c, sc_stream_start(sel, &so, &q, c->err));
    bool done = false;
    OK(c, sc_query_await(q, 180000, &done, c->err));
    assert_true(done);
    char *msg = NULL, *cls = NULL;
    OK(c, sc_query_exception(q, &msg, &cls, c->err));
    if (msg && *msg)
        fail_msg("stream failed: %s", msg);
    free(msg);
    free(cls);

    /* The stream's predictions equal the batch ones. */
    sc_model_t *direct = NULL;
    OK(c, sc_ml_pipeline_new(c->s, stages, 4, &direct, c->err));
    sc_df_t *batch = NULL, *written = NULL;
    OK(c, sc_model_transform(direct, test, NULL, &batch, c->err));
    sc_read_opts_t bo = {.format = "parquet"};
    const char *op = out;
    OK(c, sc_read(c->s, &bo, &op, 1, &written, c->err));
    double a[CAR_TEST_ROWS], b[CAR_TEST_ROWS];
    collect_by_id(c, batch, "prediction", a, CAR_TEST_ROWS);
    collect_by_id(c, written, "prediction", b, CAR_TEST_ROWS);
    assert_memory_equal(a, b, sizeof a);

    sc_df_destroy(written);
    sc_df_destroy(batch);
    sc_model_destroy(direct);
    sc_query_destroy(q);
    sc_df_destroy(sel);
    sc_df_destroy(scored);
    sc_df_destroy(stream);
    sc_model_destroy(served);
    sc_df_destroy(test);
}

/* ---- the same on HDFS, through the server only ---- */

static bool hdfs_answers(char *uri, size_t cap)
{
    const char *u = getenv("CARPRICE_HDFS_URI");
    snprintf(uri, cap, "%s", u && *u ? u : "hdfs://127.0.0.1:9000");
    const char *hp = strstr(uri, "://");
    unsigned a, b, c4, d, port;
    if (!hp || sscanf(hp + 3, "%u.%u.%u.%u:%u", &a, &b, &c4, &d, &port) != 5)
        return false;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl((a << 24) | (b << 16) | (c4 << 8) | d);
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* Removes /tmp/ml_test_* from HDFS over WebHDFS (test cleanup only). */
static void hdfs_delete(const char *dir)
{
    const char *w = getenv("CARPRICE_WEBHDFS_URL");
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "curl -sf -o /dev/null -X DELETE '%s/webhdfs/v1%s?op=DELETE&recursive=true"
             "&user.name=%s'",
             w && *w ? w : "http://127.0.0.1:9870", dir, getenv("USER") ? getenv("USER") : "root");
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s from HDFS\n", dir);
}

static void pipeline_on_hdfs(void **state)
{
    ctx_t *c = *state;
    char uri[256];
    if (!hdfs_answers(uri, sizeof uri))
        skip();
    sc_model_t *stages[4] = {0};
    fit_car_stages(c, stages);
    char path[600];
    snprintf(path, sizeof path, "%s%s/pipeline", uri, c->tmp); /* /tmp/ml_test_* on HDFS */
    OK(c, sc_pipeline_write(c->s, (const sc_model_t *const *)stages, 4, path, true, c->err));
    sc_model_t *back = NULL;
    OK(c, sc_pipeline_read(c->s, path, &back, c->err));
    sc_df_t *test = sql(c, CAR_TEST);
    sc_df_t *p1 = NULL, *p2 = NULL;
    sc_model_t *direct = NULL;
    OK(c, sc_ml_pipeline_new(c->s, stages, 4, &direct, c->err));
    OK(c, sc_model_transform(direct, test, NULL, &p1, c->err));
    OK(c, sc_model_transform(back, test, NULL, &p2, c->err));
    double a[CAR_TEST_ROWS], b[CAR_TEST_ROWS];
    collect_by_id(c, p1, "prediction", a, CAR_TEST_ROWS);
    collect_by_id(c, p2, "prediction", b, CAR_TEST_ROWS);
    assert_memory_equal(a, b, sizeof a);

    /* Overwrite replaces the directory on HDFS too. */
    OK(c, sc_model_write(back, path, true, c->err));
    hdfs_delete(c->tmp);

    sc_df_destroy(p2);
    sc_df_destroy(p1);
    sc_df_destroy(test);
    sc_model_destroy(back);
    sc_model_destroy(direct);
}

/* ---- errors ---- */

static void errors_are_clear(void **state)
{
    ctx_t *c = *state;
    sc_df_t *raw = sql(c, "SELECT CAST(id AS DOUBLE) AS x, CAST(id AS DOUBLE) * 2 AS y "
                          "FROM range(20)");
    const char *cols[] = {"x"};
    sc_df_t *df = assemble(c, raw, cols, 1);
    sc_model_t *m = NULL;

    sc_code_t rc =
        sc_ml_fit(df, "org.apache.spark.ml.regression.NoSuchRegressor", NULL, &m, c->err);
    printf("# unknown estimator: %s [%s]\n", sc_error_message(c->err), sc_error_class(c->err));
    assert_int_equal(rc, SC_ERR_SERVER);
    assert_string_equal(sc_error_class(c->err), "CONNECT_ML.UNSUPPORTED_EXCEPTION");
    assert_null(m);

    sc_params_t *p = params();
    OK(c, sc_params_set_string(p, "labelCol", "y", c->err));
    OK(c, sc_params_set_int64(p, "noSuchParam", 3, c->err));
    rc = sc_ml_fit(df, LR, p, &m, c->err);
    printf("# bad param: %s [%s]\n", sc_error_message(c->err), sc_error_class(c->err));
    assert_int_equal(rc, SC_ERR_SERVER);
    assert_string_not_equal(sc_error_class(c->err), "");
    assert_non_null(strstr(sc_error_message(c->err), "noSuchParam"));
    assert_null(m);

    char path[400];
    snprintf(path, sizeof path, "file://%s/does_not_exist", c->tmp);
    rc = sc_ml_read(c->s, GBT_MODEL, path, &m, c->err);
    printf("# missing path: %s [%s]\n", sc_error_message(c->err), sc_error_class(c->err));
    assert_int_equal(rc, SC_ERR_SERVER);
    assert_string_not_equal(sc_error_class(c->err), "");
    assert_null(m);
    rc = sc_pipeline_read(c->s, path, &m, c->err);
    printf("# missing pipeline: %s [%s]\n", sc_error_message(c->err), sc_error_class(c->err));
    assert_int_equal(rc, SC_ERR_SERVER);
    assert_string_not_equal(sc_error_class(c->err), "");
    assert_null(m);

    /* An attribute outside the server's allow-list. */
    sc_params_destroy(p);
    p = params();
    OK(c, sc_params_set_string(p, "labelCol", "y", c->err));
    OK(c, sc_ml_fit(df, LR, p, &m, c->err));
    double d;
    rc = sc_model_fetch_double(m, "getRegParam", &d, c->err);
    printf("# not allowed: %s [%s]\n", sc_error_message(c->err), sc_error_class(c->err));
    assert_int_equal(rc, SC_ERR_SERVER);
    assert_string_equal(sc_error_class(c->err), "CONNECT_ML.ATTRIBUTE_NOT_ALLOWED");
    assert_int_equal(sc_model_fetch_double(m, "intercept..r2", &d, c->err), SC_ERR_INVALID_ARG);

    /* A vector is not a number. */
    assert_int_equal(sc_model_fetch_double(m, "coefficients", &d, c->err), SC_ERR_UNSUPPORTED);

    /* Bad arguments never reach the server. */
    sc_model_t *none = NULL;
    assert_int_equal(sc_ml_fit(df, NULL, NULL, &none, c->err), SC_ERR_INVALID_ARG);
    assert_null(none);
    assert_int_equal(sc_params_set_string(p, NULL, "x", c->err), SC_ERR_INVALID_ARG);
    assert_int_equal(sc_pipeline_write(c->s, NULL, 1, path, true, c->err), SC_ERR_INVALID_ARG);
    sc_model_destroy(NULL);
    sc_params_destroy(NULL);

    sc_model_destroy(m);
    sc_params_destroy(p);
    sc_df_destroy(df);
    sc_df_destroy(raw);
}

/* ---- parameter sets ---- */

static void params_replace_by_name(void **state)
{
    (void)state;
    sc_params_t *p = params();
    assert_int_equal(sc_params_set_int64(p, "maxIter", 5, NULL), SC_OK);
    assert_int_equal(sc_params_set_double(p, "regParam", 0.1, NULL), SC_OK);
    assert_int_equal(sc_params_set_int64(p, "maxIter", 7, NULL), SC_OK);
    assert_int_equal(sc_params_set_strings(p, "inputCols", NULL, 0, NULL), SC_OK);
    assert_int_equal(sc_params_count(p), 3);
    assert_string_equal(sc_params_name(p, 0), "maxIter");
    assert_string_equal(sc_params_name(p, 2), "inputCols");
    assert_null(sc_params_name(p, 3));
    sc_params_destroy(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(params_replace_by_name),
        cmocka_unit_test_setup_teardown(linear_regression_recovers_coefficients, setup, teardown),
        cmocka_unit_test_setup_teardown(gbt_round_trips_through_a_path, setup, teardown),
        cmocka_unit_test_setup_teardown(stateless_transformers_and_imputer, setup, teardown),
        cmocka_unit_test_setup_teardown(pipeline_model_loads_in_pyspark, setup, teardown),
        cmocka_unit_test_setup_teardown(pipeline_transforms_a_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(pipeline_on_hdfs, setup, teardown),
        cmocka_unit_test_setup_teardown(errors_are_clear, setup, teardown),
    };
    const char *only = getenv("ML_TEST_FILTER"); /* e.g. "errors*" while debugging */
    if (only && *only)
        cmocka_set_test_filter(only);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
