/* Publishing a PipelineModel from HDFS as an MLflow spark-flavor model and
 * registering it, against the real stack: a small pipeline (VectorAssembler
 * + LinearRegression) is fitted and written to HDFS through Spark Connect,
 * published and registered with carprice/publish.h, then checked by
 * publish_oracle.py with the official mlflow and PySpark Connect clients,
 * whose predictions must equal ours. Also the errors: a missing or wrong
 * HDFS directory registers nothing, a bad MLflow URL says so.
 *
 * Everything lives under names of its own (experiment and registered model
 * carprice-publish-test-<id>, HDFS /tmp/publish_test_<id>), removed at the
 * end; the real "carprice" model is never touched. Endpoints come from
 * scripts/stack env: CARPRICE_SPARK_REMOTE, CARPRICE_HDFS_URI,
 * CARPRICE_WEBHDFS_URL, MLFLOW_TRACKING_URI; the oracle's Python from
 * CARPRICE_PYTHON, else the project venv. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "carprice/mlflow.h"
#include "carprice/publish.h"
#include "carprice/webhdfs.h"
#include "sparkconnect/dataframe.h"
#include "sparkconnect/ml.h"
#include "sparkconnect/result.h"
#include "sparkconnect/session.h"

#define ASSEMBLER "org.apache.spark.ml.feature.VectorAssembler"
#define LR        "org.apache.spark.ml.regression.LinearRegression"

#define TRAIN_SQL                                                                                  \
    "SELECT id, x1, x2, 2.5 * x1 - 1.5 * x2 + 7 + (((id * 7919) % 13) - 6) / 10.0 AS y FROM ("     \
    "SELECT id, CAST(id AS DOUBLE) / 4 AS x1, CAST((id * 37) % 11 AS DOUBLE) AS x2 "               \
    "FROM range(200))"
/* No single quotes: it is passed to the oracle in single quotes. */
#define ROWS_SQL                                                                                   \
    "SELECT id, CAST(id AS DOUBLE) / 3 - 2 AS x1, CAST((id * 13) % 7 AS DOUBLE) AS x2 "            \
    "FROM range(25)"
#define NROWS 25
#define ALIAS "champion"

typedef struct {
    sc_session_t *s;
    sc_error_t *serr;
    cp_mlflow_t *m;
    cp_hdfs_t *h;
    cp_rest_error_t *err;
    char id[64];
    char name[128]; /* experiment and registered model */
    char exp_id[64];
    char hdfs_dir[256]; /* /tmp/publish_test_<id> */
    char hdfs_uri[512]; /* hdfs://host:port/tmp/publish_test_<id> */
} ctx_t;

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

#define SC_OK_(c, call)                                                                            \
    do {                                                                                           \
        sc_code_t rc_ = (call);                                                                    \
        if (rc_ != SC_OK)                                                                          \
            fail_msg("%s -> %s: %s", #call, sc_code_name(rc_), sc_error_message((c)->serr));       \
    } while (0)

#define REST_OK(c, call)                                                                           \
    do {                                                                                           \
        cp_rest_code_t rc_ = (call);                                                               \
        if (rc_ != CP_REST_OK)                                                                     \
            fail_msg("%s -> %s: %s", #call, cp_rest_code_name(rc_),                                \
                     cp_rest_error_message((c)->err));                                             \
    } while (0)

static int group_setup(void **state)
{
    ctx_t *c = calloc(1, sizeof *c);
    c->serr = sc_error_new();
    c->err = cp_rest_error_new();
    snprintf(c->id, sizeof c->id, "%ld_%d", (long)time(NULL), (int)getpid());
    snprintf(c->name, sizeof c->name, "carprice-publish-test-%s", c->id);
    snprintf(c->hdfs_dir, sizeof c->hdfs_dir, "/tmp/publish_test_%s", c->id);
    snprintf(c->hdfs_uri, sizeof c->hdfs_uri, "%s%s",
             env_or("CARPRICE_HDFS_URI", "hdfs://127.0.0.1:9000"), c->hdfs_dir);
    if (sc_session_new(env_or("CARPRICE_SPARK_REMOTE", "sc://127.0.0.1:15002"), NULL, &c->s,
                       c->serr) != SC_OK) {
        fprintf(stderr, "spark session: %s\n", sc_error_message(c->serr));
        return -1;
    }
    cp_mlflow_experiment_t *e = NULL;
    if (cp_mlflow_new(NULL, &c->m, c->err) != CP_REST_OK ||
        cp_hdfs_new(NULL, &c->h, c->err) != CP_REST_OK ||
        cp_mlflow_experiment_get_or_create(c->m, c->name, NULL, &e, c->err) != CP_REST_OK) {
        fprintf(stderr, "mlflow/hdfs: %s\n", cp_rest_error_message(c->err));
        return -1;
    }
    snprintf(c->exp_id, sizeof c->exp_id, "%s", cp_mlflow_experiment_id(e));
    cp_mlflow_experiment_destroy(e);
    *state = c;
    return 0;
}

static int group_teardown(void **state)
{
    ctx_t *c = *state;
    if (!getenv("PUBLISH_TEST_KEEP")) {
        cp_mlflow_model_delete(c->m, c->name, NULL);
        cp_mlflow_experiment_delete(c->m, c->exp_id, NULL);
        cp_hdfs_delete(c->h, c->hdfs_dir, true, NULL, NULL);
    }
    cp_hdfs_destroy(c->h);
    cp_mlflow_destroy(c->m);
    sc_session_destroy(c->s);
    cp_rest_error_destroy(c->err);
    sc_error_destroy(c->serr);
    free(c);
    return 0;
}

static char *new_run(ctx_t *c, const char *run_name)
{
    cp_mlflow_run_opts_t ro = {.experiment_id = c->exp_id, .run_name = run_name};
    cp_mlflow_run_t *run = NULL;
    REST_OK(c, cp_mlflow_run_create(c->m, &ro, &run, c->err));
    char *id = strdup(cp_mlflow_run_id(run));
    cp_mlflow_run_destroy(run);
    return id;
}

static sc_df_t *sql(ctx_t *c, const char *q)
{
    sc_df_t *df = NULL;
    SC_OK_(c, sc_sql(c->s, q, NULL, 0, &df, c->serr));
    return df;
}

/* Counts the files below dir on HDFS. */
static size_t hdfs_count_files(ctx_t *c, const char *dir)
{
    cp_hdfs_list_t *l = NULL;
    REST_OK(c, cp_hdfs_list(c->h, dir, &l, c->err));
    size_t n = 0;
    for (size_t i = 0; i < cp_hdfs_list_count(l); i++) {
        const cp_hdfs_file_status_t *st = cp_hdfs_list_at(l, i);
        if (st->type == CP_HDFS_DIRECTORY) {
            char sub[1024];
            snprintf(sub, sizeof sub, "%s/%s", dir, st->name);
            n += hdfs_count_files(c, sub);
        } else {
            n++;
        }
    }
    cp_hdfs_list_destroy(l);
    return n;
}

static char *read_local(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static const char *python(void)
{
    return env_or("CARPRICE_PYTHON", CARPRICE_VENV_PYTHON);
}

/* Fits VectorAssembler + LinearRegression, writes the PipelineModel to uri,
 * and fills want[id] with our own predictions of ROWS_SQL. */
static void fit_and_write(ctx_t *c, const char *uri, double *want)
{
    sc_df_t *train = sql(c, TRAIN_SQL);
    sc_params_t *ap = sc_params_new();
    const char *cols[] = {"x1", "x2"};
    SC_OK_(c, sc_params_set_strings(ap, "inputCols", cols, 2, c->serr));
    SC_OK_(c, sc_params_set_string(ap, "outputCol", "features", c->serr));
    sc_model_t *stages[2] = {0};
    SC_OK_(c, sc_ml_transformer_new(c->s, ASSEMBLER, ap, &stages[0], c->serr));
    sc_df_t *assembled = NULL;
    SC_OK_(c, sc_model_transform(stages[0], train, NULL, &assembled, c->serr));
    sc_params_t *lp = sc_params_new();
    SC_OK_(c, sc_params_set_string(lp, "labelCol", "y", c->serr));
    SC_OK_(c, sc_params_set_int64(lp, "maxIter", 50, c->serr));
    SC_OK_(c, sc_ml_fit(assembled, LR, lp, &stages[1], c->serr));
    SC_OK_(c, sc_pipeline_write(c->s, (const sc_model_t *const *)stages, 2, uri, false, c->serr));

    sc_model_t *pipe = NULL;
    SC_OK_(c, sc_ml_pipeline_new(c->s, stages, 2, &pipe, c->serr));
    sc_df_t *rows = sql(c, ROWS_SQL), *pred = NULL, *sel = NULL;
    SC_OK_(c, sc_model_transform(pipe, rows, NULL, &pred, c->serr));
    const char *exprs[] = {"id", "prediction"};
    SC_OK_(c, sc_df_select_expr(pred, exprs, 2, &sel, c->serr));
    sc_result_t *r = NULL;
    SC_OK_(c, sc_df_collect(sel, &r, c->serr));
    assert_int_equal(sc_result_num_rows(r), NROWS);
    for (size_t i = 0; i < NROWS; i++)
        want[i] = NAN;
    for (size_t row = 0; row < NROWS; row++) {
        int64_t id;
        double v;
        SC_OK_(c, sc_result_get_int64(r, row, 0, &id, c->serr));
        SC_OK_(c, sc_result_get_double(r, row, 1, &v, c->serr));
        assert_true(id >= 0 && id < NROWS);
        want[id] = v;
    }
    sc_result_destroy(r);
    sc_df_destroy(sel);
    sc_df_destroy(pred);
    sc_df_destroy(rows);
    sc_model_destroy(pipe);
    sc_params_destroy(lp);
    sc_params_destroy(ap);
    sc_df_destroy(assembled);
    sc_df_destroy(train);
}

/* ---- the whole path: publish, register, load with the official clients ---- */

static void publish_register_and_load(void **state)
{
    ctx_t *c = *state;
    char uri[600], dir[400];
    snprintf(uri, sizeof uri, "%s/model", c->hdfs_uri);
    snprintf(dir, sizeof dir, "%s/model", c->hdfs_dir);
    double want[NROWS];
    fit_and_write(c, uri, want);

    char *run_id = new_run(c, "publish");
    cp_publish_opts_t po = {.run_id = run_id, .model_uri = uri};
    cp_publish_result_t res;
    char errbuf[1024];
    cp_rest_code_t rc = cp_publish_spark_model(c->m, c->h, &po, &res, errbuf, sizeof errbuf);
    if (rc != CP_REST_OK)
        fail_msg("%s (%s)", errbuf, cp_rest_code_name(rc));
    printf("# published %zu files, %lld bytes in %.2f s; spark %s, uid %s\n", res.files,
           (long long)res.bytes, res.seconds, res.spark_version, res.pipeline_uid);
    printf("MEASURE publish_seconds=%.3f s\n", res.seconds);

    /* Every file of the directory, and its exact size. */
    cp_hdfs_content_summary_t sum;
    REST_OK(c, cp_hdfs_content_summary(c->h, dir, &sum, c->err));
    assert_int_equal(res.files, hdfs_count_files(c, dir));
    assert_int_equal(res.bytes, sum.length);
    assert_true(res.files >= 6); /* metadata x2, two stages with metadata (+ data) */
    assert_string_equal(res.spark_version, CARPRICE_SPARK_VERSION);
    assert_int_equal(strncmp(res.pipeline_uid, "PipelineModel_", 14), 0);
    assert_int_equal(strlen(res.model_uuid), 32);

    /* The MLmodel as uploaded. */
    char tmp[] = "/tmp/publish_test_XXXXXX";
    assert_non_null(mkdtemp(tmp));
    char local[600];
    snprintf(local, sizeof local, "%s/MLmodel", tmp);
    REST_OK(c, cp_mlflow_artifact_download(c->m, run_id, "model/MLmodel", local, c->err));
    const char *mlmodel = read_local(local);
    printf("# MLmodel:\n%s", mlmodel);
    char want_line[700];
    const char *needles[] = {"loader_module: mlflow.spark\n",
                             "model_data: sparkml\n",
                             "model_class: pyspark.ml.pipeline.PipelineModel\n",
                             "pyspark_version: \"" CARPRICE_SPARK_VERSION "\"\n",
                             "mlflow_version: \"" CARPRICE_MLFLOW_VERSION "\"\n",
                             "artifact_path: \"model\"\n"};
    for (size_t i = 0; i < sizeof needles / sizeof *needles; i++)
        if (!strstr(mlmodel, needles[i]))
            fail_msg("MLmodel lacks %s", needles[i]);
    snprintf(want_line, sizeof want_line, "run_id: \"%s\"\n", run_id);
    assert_non_null(strstr(mlmodel, want_line));
    snprintf(want_line, sizeof want_line, "carprice_model_path: \"%s\"\n", uri);
    assert_non_null(strstr(mlmodel, want_line));
    snprintf(want_line, sizeof want_line, "model_uuid: \"%s\"\n", res.model_uuid);
    assert_non_null(strstr(mlmodel, want_line));
    snprintf(want_line, sizeof want_line, "model_size_bytes: %lld\n", (long long)res.bytes);
    assert_non_null(strstr(mlmodel, want_line));
    nftw(tmp, rm_entry, 8, FTW_DEPTH | FTW_PHYS);

    /* Registered with its tags; the source is inside the run. */
    cp_mlflow_kv_t extra[] = {{"carprice.test", "publish"}};
    cp_publish_register_opts_t ro = {.name = c->name,
                                     .run_id = run_id,
                                     .model_uri = uri,
                                     .description = "publish test",
                                     .tags = extra,
                                     .n_tags = 1};
    char *version = NULL;
    rc = cp_publish_register_version(c->m, &ro, &version, errbuf, sizeof errbuf);
    if (rc != CP_REST_OK)
        fail_msg("%s (%s)", errbuf, cp_rest_code_name(rc));
    assert_string_equal(version, "1");
    cp_mlflow_model_version_t *mv = NULL;
    REST_OK(c, cp_mlflow_model_version_get(c->m, c->name, version, &mv, c->err));
    assert_string_equal(cp_mlflow_model_version_status(mv), "READY");
    assert_string_equal(cp_mlflow_model_version_tag(mv, CP_PUBLISH_TAG_MODEL_PATH), uri);
    assert_string_equal(cp_mlflow_model_version_tag(mv, CP_PUBLISH_TAG_RUN_ID), run_id);
    assert_string_equal(cp_mlflow_model_version_tag(mv, "carprice.test"), "publish");
    assert_string_equal(cp_mlflow_model_version_run_id(mv), run_id);
    cp_mlflow_run_t *run = NULL;
    REST_OK(c, cp_mlflow_run_get(c->m, run_id, &run, c->err));
    char source[700];
    snprintf(source, sizeof source, "%s/model", cp_mlflow_run_artifact_uri(run));
    assert_string_equal(cp_mlflow_model_version_source(mv), source);
    printf("# version %s source %s\n", version, source);
    cp_mlflow_run_destroy(run);
    cp_mlflow_model_version_destroy(mv);
    REST_OK(c, cp_mlflow_model_alias_set(c->m, c->name, ALIAS, version, c->err));

    /* The official clients. */
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' '%s/publish_oracle.py' '%s' '%s' '%s' '%s' '%s' '%s' '%s'",
             python(), CARPRICE_PUBLISH_TEST_DIR, cp_mlflow_tracking_uri(c->m),
             env_or("CARPRICE_SPARK_REMOTE", "sc://127.0.0.1:15002"), c->name, version, ALIAS,
             run_id, ROWS_SQL);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    char line[1024];
    size_t got_artifacts = 0, got_hdfs = 0, got_loader = 0, identical = 0;
    long files = -1;
    bool loader_ok = false;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char src[32];
        long id;
        double v;
        if (strncmp(line, "loader\t", 7) == 0) {
            loader_ok = strncmp(line + 7, "ok\t", 3) == 0;
            printf("# mlflow.spark.load_model over Spark Connect: %s\n", line + 7);
        } else if (sscanf(line, "files\t%ld", &files) == 1) {
            continue;
        } else if (sscanf(line, "pred\t%31[^\t]\t%ld\t%lf", src, &id, &v) == 3) {
            assert_true(id >= 0 && id < NROWS);
            double tol = 1e-9 * fmax(1.0, fabs(want[id]));
            if (!(fabs(v - want[id]) <= tol))
                fail_msg("%s row %ld: PySpark %.17g, ours %.17g", src, id, v, want[id]);
            identical += memcmp(&v, &want[id], sizeof v) == 0;
            if (strcmp(src, "artifacts") == 0)
                got_artifacts++;
            else if (strcmp(src, "hdfs") == 0)
                got_hdfs++;
            else if (strcmp(src, "load_model") == 0)
                got_loader++;
            else
                fail_msg("oracle printed an unknown source: %s", line);
        } else {
            fail_msg("unexpected oracle output: %s", line);
        }
    }
    int status = pclose(f);
    if (status != 0)
        fail_msg("the oracle failed (status %d): %s", status, cmd);
    assert_int_equal(got_artifacts, NROWS);
    assert_int_equal(got_hdfs, NROWS);
    assert_int_equal(got_loader, loader_ok ? NROWS : 0);
    assert_int_equal(files, (long)res.files);
    printf("# %d rows: predictions of the published model (artifacts and HDFS%s) equal ours; "
           "%zu of %zu bit-identical\n",
           NROWS, loader_ok ? ", mlflow.spark.load_model" : "", identical,
           got_artifacts + got_hdfs + got_loader);

    REST_OK(c, cp_mlflow_run_terminate(c->m, run_id, CP_MLFLOW_RUN_FINISHED, c->err));
    free(version);
    free(run_id);
}

/* ---- errors ---- */

static void missing_hdfs_dir_registers_nothing(void **state)
{
    ctx_t *c = *state;
    char *run_id = new_run(c, "missing");
    char uri[600], name[200], errbuf[1024];
    snprintf(uri, sizeof uri, "%s/no_such_model", c->hdfs_uri);
    snprintf(name, sizeof name, "%s-missing", c->name);
    cp_publish_opts_t po = {.run_id = run_id, .model_uri = uri};
    cp_rest_code_t rc = cp_publish_spark_model(c->m, c->h, &po, NULL, errbuf, sizeof errbuf);
    printf("# missing directory: %s\n", errbuf);
    assert_int_equal(rc, CP_REST_ERR_NOT_FOUND);
    assert_non_null(strstr(errbuf, "does not exist on HDFS"));
    assert_non_null(strstr(errbuf, "/no_such_model"));

    /* Nothing was uploaded, and registering finds no model. */
    cp_mlflow_file_list_t *l = NULL;
    REST_OK(c, cp_mlflow_artifact_list(c->m, run_id, NULL, &l, c->err));
    assert_int_equal(cp_mlflow_file_list_count(l), 0);
    cp_mlflow_file_list_destroy(l);
    cp_publish_register_opts_t ro = {.name = name, .run_id = run_id, .model_uri = uri};
    char *version = NULL;
    rc = cp_publish_register_version(c->m, &ro, &version, errbuf, sizeof errbuf);
    printf("# register without a model: %s\n", errbuf);
    assert_int_equal(rc, CP_REST_ERR_NOT_FOUND);
    assert_null(version);
    assert_non_null(strstr(errbuf, "publish it first"));
    cp_mlflow_model_t *rm = NULL;
    assert_int_equal(cp_mlflow_model_get(c->m, name, &rm, c->err), CP_REST_ERR_NOT_FOUND);
    assert_null(rm);

    REST_OK(c, cp_mlflow_run_terminate(c->m, run_id, CP_MLFLOW_RUN_FAILED, c->err));
    free(run_id);
}

static void not_a_pipeline_is_refused(void **state)
{
    ctx_t *c = *state;
    char *run_id = new_run(c, "not-a-pipeline");
    char dir[400], file[500], uri[600], errbuf[1024];
    snprintf(dir, sizeof dir, "%s/not_a_model", c->hdfs_dir);
    snprintf(file, sizeof file, "%s/data.csv", dir);
    snprintf(uri, sizeof uri, "%s/not_a_model", c->hdfs_uri);
    REST_OK(c, cp_hdfs_create(c->h, file, "a,b\n", 4, NULL, c->err));
    cp_publish_opts_t po = {.run_id = run_id, .model_uri = uri};
    cp_rest_code_t rc = cp_publish_spark_model(c->m, c->h, &po, NULL, errbuf, sizeof errbuf);
    printf("# not a pipeline: %s\n", errbuf);
    assert_int_equal(rc, CP_REST_ERR_INVALID_ARG);
    assert_non_null(strstr(errbuf, "not a Spark PipelineModel"));

    /* A write that never finished: metadata without _SUCCESS. */
    snprintf(file, sizeof file, "%s/metadata/part-00000", dir);
    REST_OK(c, cp_hdfs_create(c->h, file, "{\"class\":\"org.apache.spark.ml.PipelineModel\"}\n", 46,
                              NULL, c->err));
    rc = cp_publish_spark_model(c->m, c->h, &po, NULL, errbuf, sizeof errbuf);
    printf("# unfinished: %s\n", errbuf);
    assert_int_equal(rc, CP_REST_ERR_INVALID_ARG);
    assert_non_null(strstr(errbuf, "_SUCCESS"));

    /* Bad options never reach a server. */
    po.model_uri = "file:///tmp/x";
    assert_int_equal(cp_publish_spark_model(c->m, c->h, &po, NULL, errbuf, sizeof errbuf),
                     CP_REST_ERR_INVALID_ARG);
    assert_non_null(strstr(errbuf, "hdfs://"));
    po.model_uri = uri;
    po.artifact_path = "model/../x";
    assert_int_equal(cp_publish_spark_model(c->m, c->h, &po, NULL, errbuf, sizeof errbuf),
                     CP_REST_ERR_INVALID_ARG);
    po.artifact_path = NULL;
    po.run_id = NULL;
    assert_int_equal(cp_publish_spark_model(c->m, c->h, &po, NULL, errbuf, sizeof errbuf),
                     CP_REST_ERR_INVALID_ARG);

    cp_mlflow_file_list_t *l = NULL;
    REST_OK(c, cp_mlflow_artifact_list(c->m, run_id, NULL, &l, c->err));
    assert_int_equal(cp_mlflow_file_list_count(l), 0);
    cp_mlflow_file_list_destroy(l);
    REST_OK(c, cp_mlflow_run_terminate(c->m, run_id, CP_MLFLOW_RUN_FAILED, c->err));
    free(run_id);
}

static void bad_mlflow_url_is_clear(void **state)
{
    ctx_t *c = *state;
    cp_http_options_t ho;
    cp_http_options_init(&ho);
    ho.max_retries = 0;
    ho.connect_timeout_ms = 2000;
    cp_mlflow_config_t cfg = {.tracking_uri = "http://127.0.0.1:1", .http = &ho};
    cp_mlflow_t *bad = NULL;
    REST_OK(c, cp_mlflow_new(&cfg, &bad, c->err));
    char uri[600], errbuf[1024];
    snprintf(uri, sizeof uri, "%s/model", c->hdfs_uri);
    cp_publish_opts_t po = {.run_id = "0123456789abcdef0123456789abcdef", .model_uri = uri};
    cp_rest_code_t rc = cp_publish_spark_model(bad, c->h, &po, NULL, errbuf, sizeof errbuf);
    printf("# bad MLflow URL: %s\n", errbuf);
    assert_int_equal(rc, CP_REST_ERR_CONNECT);
    assert_non_null(strstr(errbuf, "http://127.0.0.1:1"));
    cp_publish_register_opts_t ro = {.name = c->name, .run_id = po.run_id, .model_uri = uri};
    char *version = NULL;
    rc = cp_publish_register_version(bad, &ro, &version, errbuf, sizeof errbuf);
    printf("# bad MLflow URL, register: %s\n", errbuf);
    assert_int_equal(rc, CP_REST_ERR_CONNECT);
    assert_null(version);
    cp_mlflow_destroy(bad);

    /* The right server, a run that does not exist. */
    rc = cp_publish_spark_model(c->m, c->h, &po, NULL, errbuf, sizeof errbuf);
    printf("# unknown run: %s\n", errbuf);
    assert_int_equal(rc, CP_REST_ERR_NOT_FOUND);
    assert_non_null(strstr(errbuf, po.run_id));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(publish_register_and_load),
        cmocka_unit_test(missing_hdfs_dir_registers_nothing),
        cmocka_unit_test(not_a_pipeline_is_refused),
        cmocka_unit_test(bad_mlflow_url_is_clear),
    };
    const char *only = getenv("PUBLISH_TEST_FILTER");
    if (only && *only)
        cmocka_set_test_filter(only);
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
