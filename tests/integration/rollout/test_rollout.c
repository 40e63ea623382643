/* carprice supervisor and carprice watch-model against the real stack: two
 * small real models (one feature pipeline, two LinearRegressions) are fitted,
 * written as PipelineModels and registered as versions 1 and 2 of a model
 * unique to this run, with version 3 pointing at a path that does not exist.
 * The supervisor serves version 1 while `carprice requests` sends 20/s; the
 * champion moves to 2 and watch-model rolls it out; then a broken rollout
 * aborts, a rollback is triggered by synthetic metrics, and the supervisor
 * stops and resumes from its state.
 *
 * argv: carprice binary, sql directory. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "carprice/mlflow.h"
#include "kafka_util.h"
#include "sparkconnect/sparkconnect.h"

static const char *g_bin, *g_sql_dir;
static char g_dir[256], g_state[300], g_model[128];
static char g_uri[2][320];
static char g_req[200], g_pred[200], g_dlq[200];
static char g_req_csv[320], g_sup_log[320];
static pid_t g_sup;
static int g_port;

#define N_TRAIN 1500
#define RATE    20
#define N_FLOW  10000 /* at most 500 s of requests at RATE; stopped after the rollout */

#define CHECK(call)                                                                                \
    do {                                                                                           \
        if ((call) != SC_OK)                                                                       \
            fail_msg("%s: %s", #call, sc_error_message(err));                                      \
    } while (0)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t epoch_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- processes ---- */

static pid_t spawn(const char *log_path, const char *const *args)
{
    const char *argv[64];
    size_t n = 0;
    argv[n++] = g_bin;
    while (*args && n < 63)
        argv[n++] = *args++;
    argv[n] = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        FILE *f = freopen(log_path ? log_path : "/dev/null", "a", stderr);
        if (f)
            dup2(fileno(stderr), 1);
        execv(g_bin, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* Exit status, 128+signal, or -1 after timeout_s (then killed). */
static int wait_exit(pid_t pid, double timeout_s)
{
    double t0 = now_s();
    for (;;) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (now_s() - t0 > timeout_s) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        usleep(50000);
    }
}

static int run_wait(const char *log_path, const char *const *args, double timeout_s)
{
    return wait_exit(spawn(log_path, args), timeout_s);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return strdup("");
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n = getdelim(&buf, &cap, '\0', f);
    fclose(f);
    if (n < 0) {
        free(buf);
        return strdup("");
    }
    return buf;
}

/* Serve processes whose command line mentions our state directory. */
static int count_serves(void)
{
    DIR *d = opendir("/proc");
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300], buf[4096];
        snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t r = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        for (size_t i = 0; i < r; i++)
            if (!buf[i])
                buf[i] = ' ';
        buf[r] = '\0';
        if (strstr(buf, " serve ") && strstr(buf, g_state))
            n++;
    }
    if (d)
        closedir(d);
    return n;
}

/* ---- the control API ---- */

static int http(const char *method, const char *path, char *body, size_t body_len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return 0;
    }
    char req[600];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", method, path);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return 0;
    }
    static char buf[1 << 17];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof buf - 1 && (r = read(fd, buf + got, sizeof buf - 1 - got)) > 0)
        got += (size_t)r;
    buf[got] = '\0';
    close(fd);
    int status = 0;
    if (sscanf(buf, "HTTP/1.1 %d", &status) != 1)
        return 0;
    const char *b = strstr(buf, "\r\n\r\n");
    if (body)
        snprintf(body, body_len, "%s", b ? b + 4 : "");
    return status;
}

static json_t *status(void)
{
    static char body[1 << 17];
    int st = http("GET", "/status", body, sizeof body);
    if (st != 200)
        fail_msg("GET /status: %d %s", st, body);
    json_t *o = json_loads(body, 0, NULL);
    assert_non_null(o);
    return o;
}

static json_t *instance0(json_t *st)
{
    json_t *a = json_object_get(st, "instances");
    assert_true(json_array_size(a) >= 1);
    return json_array_get(a, 0);
}

/* Waits until the current instance is ready and no rollout runs. */
static void wait_ready(double timeout_s)
{
    double t0 = now_s();
    for (;;) {
        json_t *st = status();
        bool ok = !json_is_true(json_object_get(st, "rollout_running")) &&
                  json_is_true(json_object_get(instance0(st), "ready"));
        json_decref(st);
        if (ok)
            return;
        if (now_s() - t0 > timeout_s) {
            char *log = slurp(g_sup_log);
            fail_msg("no ready instance within %.0f s; supervisor log:\n%s", timeout_s, log);
        }
        usleep(500000);
    }
}

static void sup_start(const char *version)
{
    snprintf(g_sup_log, sizeof g_sup_log, "%s/supervisor-%ld.log", g_dir, (long)time(NULL));
    const char *args[40] = {"supervisor", "--state-dir", g_state, "--control-port", "0",
                            "--ready-timeout", "420", "--stop-timeout", "40", "--",
                            "--requests-topic", g_req, "--predictions-topic", g_pred, "--dlq-topic",
                            g_dlq, "--no-metrics", "--sql-dir", g_sql_dir, "--trigger-ms", "300",
                            /* Real-time (the default) with short batches: a new
                             * instance is ready when its first batch ends. */
                            "--real-time-ms", "2000", "--stop-timeout", "20000", NULL};
    if (version) {
        memmove(args + 3, args + 1, 24 * sizeof *args);
        args[1] = "--version";
        args[2] = version;
    }
    g_sup = spawn(g_sup_log, args);
    double t0 = now_s();
    g_port = 0;
    while (!g_port && now_s() - t0 < 20) {
        char *log = slurp(g_sup_log);
        const char *p = strstr(log, "event=supervisor.control addr=127.0.0.1:");
        if (p)
            g_port = atoi(p + strlen("event=supervisor.control addr=127.0.0.1:"));
        free(log);
        usleep(100000);
    }
    if (!g_port) {
        char *log = slurp(g_sup_log);
        fail_msg("supervisor did not open its control port; log:\n%s", log);
    }
}

static int watch_model(const char *tag, const char *const *extra)
{
    char log[400], port[16];
    snprintf(log, sizeof log, "%s/watch-model-%s.log", g_dir, tag);
    snprintf(port, sizeof port, "%d", g_port);
    const char *args[32] = {"watch-model", "--model-name", g_model, "--control-port",
                            port,          "--timeout",    "480"};
    size_t n = 7;
    while (extra && *extra && n < 31)
        args[n++] = *extra++;
    args[n] = NULL;
    int rc = run_wait(log, args, 560);
    char *out = slurp(log);
    fprintf(stderr, "watch-model %s -> %d\n%s", tag, rc, out);
    free(out);
    return rc;
}

static void set_champion(const char *version)
{
    cp_mlflow_t *m = NULL;
    cp_rest_error_t *e = cp_rest_error_new();
    assert_int_equal(cp_mlflow_new(NULL, &m, e), CP_REST_OK);
    if (cp_mlflow_model_alias_set(m, g_model, "champion", version, e) != CP_REST_OK)
        fail_msg("alias: %s", cp_rest_error_message(e));
    cp_mlflow_destroy(m);
    cp_rest_error_destroy(e);
}

static char *champion(void)
{
    cp_mlflow_t *m = NULL;
    cp_rest_error_t *e = cp_rest_error_new();
    cp_mlflow_model_version_t *mv = NULL;
    assert_int_equal(cp_mlflow_new(NULL, &m, e), CP_REST_OK);
    assert_int_equal(cp_mlflow_model_alias_get(m, g_model, "champion", &mv, e), CP_REST_OK);
    char *v = strdup(cp_mlflow_model_version_version(mv));
    cp_mlflow_model_version_destroy(mv);
    cp_mlflow_destroy(m);
    cp_rest_error_destroy(e);
    return v;
}

/* ---- the models ---- */

static char *read_text(const char *path, bool ddl)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *out = calloc(1, 1 << 16);
    size_t len = 0;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        const char *p = line + strspn(line, " \t");
        if (ddl && (strncmp(p, "--", 2) == 0 || *p == '\n'))
            continue;
        if (ddl)
            line[strcspn(line, "\n")] = ' ';
        size_t n = strlen(line);
        assert_true(len + n < (1 << 16));
        memcpy(out + len, line, n + 1);
        len += n;
    }
    fclose(f);
    return out;
}

static sc_model_t *fit_stage(sc_df_t **df, const char *cls, sc_params_t *p, sc_error_t *err)
{
    sc_model_t *m = NULL;
    sc_df_t *next = NULL;
    CHECK(sc_ml_fit(*df, cls, p, &m, err));
    CHECK(sc_model_transform(m, *df, NULL, &next, err));
    sc_df_destroy(*df);
    *df = next;
    sc_params_destroy(p);
    return m;
}

/* One feature pipeline, two regressions (different regularisation): two
 * real, different PipelineModels. */
static void fit_models(void)
{
    char train_csv[320], path[512], rows[16], reqrows[16];
    snprintf(train_csv, sizeof train_csv, "%s/train.csv", g_dir);
    snprintf(rows, sizeof rows, "%d", N_TRAIN);
    snprintf(reqrows, sizeof reqrows, "%d", N_FLOW + 400);
    const char *gen1[] = {"data", "generate", "--rows",  rows, "--seed",
                          "11",   "--out",    train_csv, NULL};
    assert_int_equal(run_wait(NULL, gen1, 120), 0);
    const char *gen2[] = {"data", "generate", "--rows",  reqrows, "--seed",
                          "12",   "--out",    g_req_csv, NULL};
    assert_int_equal(run_wait(NULL, gen2, 120), 0);

    sc_error_t *err = sc_error_new();
    sc_session_t *s = NULL;
    const char *remote = getenv("CARPRICE_SPARK_REMOTE");
    CHECK(sc_session_new(remote && *remote ? remote : "sc://127.0.0.1:15002", NULL, &s, err));
    snprintf(path, sizeof path, "%s/raw_schema.ddl", g_sql_dir);
    char *ddl = read_text(path, true);
    snprintf(path, sizeof path, "%s/features.sql", g_sql_dir);
    char *features = read_text(path, false);
    const char *keys[] = {"header", "multiLine", "escape"};
    const char *vals[] = {"true", "true", "\""};
    sc_read_opts_t ro = {
        .format = "csv", .schema = ddl, .option_keys = keys, .option_values = vals, .noptions = 3};
    char uri[400];
    snprintf(uri, sizeof uri, "file://%s", train_csv);
    const char *uris[] = {uri};
    sc_df_t *raw = NULL, *feat = NULL, *train = NULL, *labelled = NULL;
    CHECK(sc_read(s, &ro, uris, 1, &raw, err));
    CHECK(sc_df_create_view(raw, "raw_listings", true, err));
    CHECK(sc_sql(s, features, NULL, 0, &feat, err));
    CHECK(sc_df_filter(feat,
                       "try_cast(price AS DOUBLE) BETWEEN 500 AND 2000000 AND f_year IS NOT NULL",
                       &train, err));
    CHECK(sc_df_with_column(train, "label", "ln(try_cast(price AS DOUBLE))", &labelled, err));
    sc_df_destroy(train);
    train = labelled;
    static const char *num_in[] = {"f_age",    "f_log_mileage",   "f_horsepower", "f_engine_l",
                                   "f_is_new", "f_has_accidents", "f_owners"};
    static const char *num_out[] = {"i_age",    "i_log_mileage",   "i_horsepower", "i_engine_l",
                                    "i_is_new", "i_has_accidents", "i_owners"};
    sc_model_t *stages[5];
    sc_params_t *p = sc_params_new();
    CHECK(sc_params_set_strings(p, "inputCols", num_in, 7, err));
    CHECK(sc_params_set_strings(p, "outputCols", num_out, 7, err));
    stages[0] = fit_stage(&train, "org.apache.spark.ml.feature.Imputer", p, err);
    const char *si_in[] = {"f_make", "f_body"}, *si_out[] = {"c_make", "c_body"};
    p = sc_params_new();
    CHECK(sc_params_set_strings(p, "inputCols", si_in, 2, err));
    CHECK(sc_params_set_strings(p, "outputCols", si_out, 2, err));
    CHECK(sc_params_set_string(p, "handleInvalid", "keep", err));
    stages[1] = fit_stage(&train, "org.apache.spark.ml.feature.StringIndexer", p, err);
    const char *oh_out[] = {"v_make", "v_body"};
    p = sc_params_new();
    CHECK(sc_params_set_strings(p, "inputCols", si_out, 2, err));
    CHECK(sc_params_set_strings(p, "outputCols", oh_out, 2, err));
    stages[2] = fit_stage(&train, "org.apache.spark.ml.feature.OneHotEncoder", p, err);
    const char *va_in[] = {"i_age",      "i_log_mileage", "i_horsepower",
                           "i_engine_l", "i_is_new",      "i_has_accidents",
                           "i_owners",   "v_make",        "v_body"};
    p = sc_params_new();
    CHECK(sc_params_set_strings(p, "inputCols", va_in, 9, err));
    CHECK(sc_params_set_string(p, "outputCol", "features", err));
    CHECK(sc_ml_transformer_new(s, "org.apache.spark.ml.feature.VectorAssembler", p, &stages[3],
                                err));
    sc_params_destroy(p);
    sc_df_t *assembled = NULL;
    CHECK(sc_model_transform(stages[3], train, NULL, &assembled, err));
    const double reg[2] = {0.01, 0.3};
    for (int k = 0; k < 2; k++) {
        p = sc_params_new();
        CHECK(sc_params_set_string(p, "labelCol", "label", err));
        CHECK(sc_params_set_double(p, "regParam", reg[k], err));
        CHECK(sc_ml_fit(assembled, "org.apache.spark.ml.regression.LinearRegression", p, &stages[4],
                        err));
        sc_params_destroy(p);
        snprintf(g_uri[k], sizeof g_uri[k], "file://%s/model%d", g_dir, k + 1);
        CHECK(sc_pipeline_write(s, (const sc_model_t *const *)stages, 5, g_uri[k], true, err));
        sc_model_destroy(stages[4]);
    }
    for (int i = 0; i < 4; i++)
        sc_model_destroy(stages[i]);
    sc_df_destroy(assembled);
    sc_df_destroy(train);
    sc_df_destroy(feat);
    sc_df_destroy(raw);
    sc_session_destroy(s);
    sc_error_destroy(err);
    free(ddl);
    free(features);
}

/* Versions 1 and 2 are the two models; 3 names a path that does not exist. */
static void register_models(void)
{
    cp_mlflow_t *m = NULL;
    cp_rest_error_t *e = cp_rest_error_new();
    assert_int_equal(cp_mlflow_new(NULL, &m, e), CP_REST_OK);
    cp_mlflow_experiment_t *ex = NULL;
    assert_int_equal(cp_mlflow_experiment_get_or_create(m, "carprice-rollout-tests", NULL, &ex, e),
                     CP_REST_OK);
    cp_mlflow_run_opts_t rop = {.experiment_id = cp_mlflow_experiment_id(ex)};
    cp_mlflow_run_t *run = NULL;
    assert_int_equal(cp_mlflow_run_create(m, &rop, &run, e), CP_REST_OK);
    snprintf(g_model, sizeof g_model, "carprice-rollout-test-%ld-%d", (long)time(NULL),
             (int)getpid());
    assert_int_equal(cp_mlflow_model_create(m, g_model, NULL, NULL, e), CP_REST_OK);
    char missing[400];
    snprintf(missing, sizeof missing, "file://%s/no-such-model", g_dir);
    const char *paths[3] = {g_uri[0], g_uri[1], missing};
    for (int k = 0; k < 3; k++) {
        cp_mlflow_kv_t tags[] = {{"model_path", paths[k]}};
        cp_mlflow_model_version_opts_t vo = {.name = g_model,
                                             .run_id = cp_mlflow_run_id(run),
                                             .artifact_path = "model",
                                             .tags = tags,
                                             .n_tags = 1};
        cp_mlflow_model_version_t *mv = NULL;
        if (cp_mlflow_model_version_create(m, &vo, &mv, e) != CP_REST_OK)
            fail_msg("model version: %s", cp_rest_error_message(e));
        char want[8];
        snprintf(want, sizeof want, "%d", k + 1);
        assert_string_equal(cp_mlflow_model_version_version(mv), want);
        cp_mlflow_model_version_destroy(mv);
    }
    assert_int_equal(cp_mlflow_model_alias_set(m, g_model, "champion", "1", e), CP_REST_OK);
    cp_mlflow_run_destroy(run);
    cp_mlflow_experiment_destroy(ex);
    cp_mlflow_destroy(m);
    cp_rest_error_destroy(e);
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/carprice-test-rollout-%d", (int)getpid());
    mkdir(g_dir, 0755);
    snprintf(g_state, sizeof g_state, "%s/state", g_dir);
    snprintf(g_req_csv, sizeof g_req_csv, "%s/requests.csv", g_dir);
    snprintf(g_req, sizeof g_req, "%s", tk_unique_topic("t.rollout.req"));
    snprintf(g_pred, sizeof g_pred, "%s", tk_unique_topic("t.rollout.pred"));
    snprintf(g_dlq, sizeof g_dlq, "%s", tk_unique_topic("t.rollout.dlq"));
    fit_models();
    register_models();
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (g_sup > 0) {
        kill(g_sup, SIGTERM);
        wait_exit(g_sup, 90);
    }
    if (getenv("ROLLOUT_TEST_KEEP"))
        return 0;
    cp_mlflow_t *m = NULL;
    if (g_model[0] && cp_mlflow_new(NULL, &m, NULL) == CP_REST_OK)
        cp_mlflow_model_delete(m, g_model, NULL);
    cp_mlflow_destroy(m);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- requests and predictions ---- */

static pid_t send_requests(const char *run_id, int limit, int rate, const char *ids_out)
{
    char lim[16], r[16], out[400], prices[200];
    snprintf(lim, sizeof lim, "%d", limit);
    snprintf(r, sizeof r, "%d", rate);
    snprintf(out, sizeof out, "%s/requests-%s.out", g_dir, run_id);
    snprintf(prices, sizeof prices, "%s", tk_unique_topic("t.rollout.prices"));
    const char *args[] = {
        "requests", "--input",          g_req_csv, "--requests-topic", g_req,   "--prices-topic",
        prices,     "--price-fraction", "0",       "--limit",          lim,     "--rate",
        r,          "--run-id",         run_id,    "--ids-out",        ids_out, NULL};
    return spawn(out, args);
}

typedef struct {
    char **ids;
    size_t n;
} idset_t;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void read_ids(const char *path, idset_t *s)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[256];
    s->ids = NULL;
    s->n = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (!*line)
            continue;
        s->ids = realloc(s->ids, (s->n + 1) * sizeof *s->ids);
        s->ids[s->n++] = strdup(line);
    }
    fclose(f);
    qsort(s->ids, s->n, sizeof *s->ids, cmp_str);
}

static void idset_free(idset_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->ids[i]);
    free(s->ids);
}

typedef struct {
    char id[128];
    char version[32];
    int64_t pred_ms;
} pred_t;

/* Reads the predictions topic until every wanted id has an answer (or the
 * timeout); returns the parsed predictions in *out. A request the generator
 * made but serve rejects (e.g. a year out of range) is answered on the
 * dead-letter topic instead: those ids count as answered and are returned in
 * *n_dead. */
static size_t read_predictions(const idset_t *want, double timeout_s, pred_t **out, size_t *n_dead)
{
    double t0 = now_s();
    size_t min = want->n;
    for (;;) {
        tk_msg_t *msgs = NULL, *dead = NULL;
        double left = timeout_s - (now_s() - t0);
        size_t got = tk_consume(g_pred, min, left > 1 ? (long)(left * 1000) : 1000, &msgs);
        size_t nd = tk_consume(g_dlq, want->n, 5000, &dead);
        pred_t *ps = calloc(got + 1, sizeof *ps);
        char **seen = calloc(got + nd + 1, sizeof *seen);
        for (size_t i = 0; i < nd; i++)
            seen[got + i] = dead[i].key ? dead[i].key : (char *)"";
        for (size_t i = 0; i < got; i++) {
            json_t *o = json_loads(msgs[i].value, 0, NULL);
            if (!o)
                fail_msg("prediction is not JSON: %s", msgs[i].value);
            const char *id = json_string_value(json_object_get(o, "request_id"));
            const char *mv = json_string_value(json_object_get(o, "model_version"));
            json_t *pa = json_object_get(o, "predicted_at_ms");
            if (!id || !mv || !json_is_integer(pa))
                fail_msg("prediction lacks a field: %s", msgs[i].value);
            snprintf(ps[i].id, sizeof ps[i].id, "%s", id);
            snprintf(ps[i].version, sizeof ps[i].version, "%s", mv);
            ps[i].pred_ms = json_integer_value(pa);
            seen[i] = ps[i].id;
            json_decref(o);
        }
        tk_msgs_free(msgs, got);
        qsort(seen, got + nd, sizeof *seen, cmp_str);
        size_t answered = 0, dead_ids = 0;
        for (size_t i = 0; i < want->n; i++)
            if (bsearch(&want->ids[i], seen, got + nd, sizeof *seen, cmp_str))
                answered++;
        for (size_t i = 0; i < nd; i++) {
            const char *k = dead[i].key ? dead[i].key : "";
            bool first = true;
            for (size_t j = 0; j < i && first; j++)
                first = strcmp(k, dead[j].key ? dead[j].key : "") != 0;
            dead_ids += first;
        }
        free(seen);
        tk_msgs_free(dead, nd);
        if (answered == want->n || now_s() - t0 > timeout_s) {
            if (answered != want->n)
                fail_msg("%zu of %zu requests never answered", want->n - answered, want->n);
            *out = ps;
            *n_dead = dead_ids;
            return got;
        }
        free(ps);
        min = got + (want->n - answered);
    }
}

static int cmp_ms(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- tests ---- */

static int64_t g_started_ms, g_finished_ms;

/* v1 serves with requests flowing; the champion moves to v2; watch-model
 * rolls it out (3), then has nothing to do (0); every request is answered,
 * by both versions around the switch. */
static void rollout_while_requests_flow(void **state)
{
    (void)state;
    char ids0[320], ids1[320], v1[200];
    snprintf(ids0, sizeof ids0, "%s/pre.ids", g_dir);
    snprintf(ids1, sizeof ids1, "%s/flow.ids", g_dir);
    /* A few requests first so that the topic exists when serve subscribes. */
    assert_int_equal(wait_exit(send_requests("pre", 20, 0, ids0), 60), 0);
    snprintf(v1, sizeof v1, "%s/1", g_model);
    double t0 = now_s();
    sup_start(v1);
    wait_ready(400);
    fprintf(stderr, "MEASURE supervisor start -> first instance ready: %.1f s\n", now_s() - t0);
    json_t *st = status();
    assert_string_equal(json_string_value(json_object_get(st, "current_version")), v1);
    pid_t old_pid = (pid_t)json_integer_value(json_object_get(instance0(st), "pid"));
    assert_true(old_pid > 0);
    json_decref(st);

    pid_t req = send_requests("flow", N_FLOW, RATE, ids1);
    sleep(8);
    set_champion("2");
    double r0 = now_s();
    assert_int_equal(watch_model("rollout", NULL), 3);
    double took = now_s() - r0;
    /* The rollout happened while requests were flowing; they go on for a
     * few seconds more, then stop (SIGTERM: what was sent is delivered). */
    int st_req;
    assert_int_equal(waitpid(req, &st_req, WNOHANG), 0);
    sleep(5);
    kill(req, SIGTERM);

    st = status();
    char v2[200];
    snprintf(v2, sizeof v2, "%s/2", g_model);
    assert_string_equal(json_string_value(json_object_get(st, "current_version")), v2);
    json_t *a = json_object_get(st, "instances");
    assert_int_equal(json_array_size(a), 1);
    assert_string_equal(json_string_value(json_object_get(instance0(st), "version")), v2);
    assert_true(json_is_true(json_object_get(instance0(st), "ready")));
    json_t *last = json_object_get(st, "last_rollout");
    assert_string_equal(json_string_value(json_object_get(last, "result")), "succeeded");
    assert_string_equal(json_string_value(json_object_get(last, "from")), v1);
    assert_int_equal(json_integer_value(json_object_get(last, "old_exit")), 0);
    g_started_ms = json_integer_value(json_object_get(last, "started_ms"));
    int64_t ready_ms = json_integer_value(json_object_get(last, "ready_ms"));
    g_finished_ms = json_integer_value(json_object_get(last, "finished_ms"));
    assert_true(g_started_ms > 0 && ready_ms >= g_started_ms && g_finished_ms >= ready_ms);
    fprintf(stderr,
            "MEASURE rollout: start -> new ready %.1f s, -> old stopped %.1f s (watch-model "
            "%.1f s)\n",
            (double)(ready_ms - g_started_ms) / 1000.0,
            (double)(g_finished_ms - g_started_ms) / 1000.0, took);
    json_decref(st);
    assert_int_equal(kill(old_pid, 0), -1); /* the old instance is gone */
    assert_int_equal(count_serves(), 1);

    /* Idempotent: a second pass has nothing to do. */
    assert_int_equal(watch_model("again", NULL), 0);

    assert_int_equal(wait_exit(req, 60), 0);
    char all[320], cmd[1200];
    snprintf(all, sizeof all, "%s/all.ids", g_dir);
    snprintf(cmd, sizeof cmd, "cat %s %s > %s", ids0, ids1, all);
    assert_int_equal(system(cmd), 0);
    idset_t want;
    read_ids(all, &want);
    assert_true(want.n >= 8 * RATE); /* at least the 8 s before the champion moved */
    pred_t *ps = NULL;
    size_t n_dead = 0;
    size_t n = read_predictions(&want, 180, &ps, &n_dead);
    assert_true(n_dead < want.n / 50); /* only the generator's odd rows */
    size_t by[3] = {0};
    int64_t *times = calloc(n + 1, sizeof *times);
    size_t nt = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ps[i].version, "1") == 0)
            by[1]++;
        else if (strcmp(ps[i].version, "2") == 0)
            by[2]++;
        else
            fail_msg("prediction by unexpected version %s", ps[i].version);
        times[nt++] = ps[i].pred_ms;
    }
    qsort(times, nt, sizeof *times, cmp_ms);
    /* The gap during the rollout, and for comparison the one of v1 alone
     * before it (batches on a loaded machine are seconds apart anyway). */
    int64_t gap = 0, gap_before = 0;
    for (size_t i = 1; i < nt; i++) {
        int64_t g = times[i] - times[i - 1];
        if (times[i] >= g_started_ms && times[i - 1] <= g_finished_ms && g > gap)
            gap = g;
        if (times[i] < g_started_ms && g > gap_before)
            gap_before = g;
    }
    fprintf(stderr,
            "MEASURE predictions: %zu for %zu requests (%zu dead-lettered ids), version 1: "
            "%zu, version 2: %zu; longest gap between predictions during the rollout %.2f s, "
            "before it (v1 alone) %.2f s\n",
            n, want.n, n_dead, by[1], by[2], (double)gap / 1000.0, (double)gap_before / 1000.0);
    assert_true(by[1] > 0);
    assert_true(by[2] > 0);
    assert_true(gap < 15000);
    free(times);
    free(ps);
    idset_free(&want);
}

/* A rollout to a version that cannot start aborts; v2 keeps serving. A
 * second rollout while one runs gets 409. */
static void broken_rollout_aborts(void **state)
{
    (void)state;
    assert_true(g_sup > 0);
    json_t *st = status();
    pid_t pid = (pid_t)json_integer_value(json_object_get(instance0(st), "pid"));
    json_decref(st);
    char path[400], body[4096];
    snprintf(path, sizeof path, "/rollout?version=%s/3", g_model);
    assert_int_equal(http("POST", path, body, sizeof body), 202);
    snprintf(path, sizeof path, "/rollout?version=%s/1", g_model);
    assert_int_equal(http("POST", path, body, sizeof body), 409);
    assert_int_equal(http("POST", "/rollout?version=nonsense", body, sizeof body), 400);
    assert_int_equal(http("GET", "/rollout?version=x/1", body, sizeof body), 405);
    wait_ready(300);
    st = status();
    json_t *last = json_object_get(st, "last_rollout");
    assert_string_equal(json_string_value(json_object_get(last, "result")), "failed");
    fprintf(stderr, "aborted rollout: %s\n", json_string_value(json_object_get(last, "reason")));
    assert_non_null(strstr(json_string_value(json_object_get(last, "reason")), "exited"));
    char v2[200];
    snprintf(v2, sizeof v2, "%s/2", g_model);
    assert_string_equal(json_string_value(json_object_get(st, "current_version")), v2);
    assert_int_equal(json_integer_value(json_object_get(instance0(st), "pid")), pid);
    json_decref(st);

    /* Through watch-model: exit 4 (failed), v2 still serves. */
    set_champion("3");
    assert_int_equal(watch_model("broken", NULL), 4);
    st = status();
    assert_string_equal(json_string_value(json_object_get(st, "current_version")), v2);
    assert_int_equal(json_integer_value(json_object_get(instance0(st), "pid")), pid);
    json_decref(st);
    assert_int_equal(count_serves(), 1);
    set_champion("2");
    assert_int_equal(watch_model("back-to-2", NULL), 0);
}

static void produce_metric(const char *topic, const char *version, int64_t start, int64_t end,
                           long count, double mae)
{
    char v[600];
    snprintf(v, sizeof v,
             "{\"model_name\":\"%s\",\"model_version\":\"%s\",\"window_start_ms\":%lld,"
             "\"window_end_ms\":%lld,\"count\":%ld,\"mae\":%.2f,\"rmse\":%.2f,\"mape\":0.1,"
             "\"r2\":null,\"computed_at_ms\":%lld}",
             g_model, version, (long long)start, (long long)end, count, mae, mae * 1.3,
             (long long)epoch_ms());
    const char *keys[] = {version}, *vals[] = {v};
    assert_int_equal(tk_produce(topic, keys, vals, 1), 0);
}

/* Synthetic live metrics make v2 worse than v1 was: watch-model moves the
 * champion back to 1, tags v2 and rolls back (5); then nothing to do. */
static void worse_version_is_rolled_back(void **state)
{
    (void)state;
    assert_true(g_sup > 0 && g_finished_ms > 0);
    char topic[200];
    snprintf(topic, sizeof topic, "%s", tk_unique_topic("t.rollout.metrics"));
    const int64_t w = 2000, s = g_started_ms, f = g_finished_ms;
    produce_metric(topic, "1", s - 2000, s - 1000, 40, 1000);
    produce_metric(topic, "1", s - 1500, s - 500, 40, 99999); /* overlaps: not used */
    produce_metric(topic, "1", s - 1000, s, 40, 1000);
    produce_metric(topic, "1", s - 1000, s, 40, 1000); /* a replayed window */
    produce_metric(topic, "2", f, f + 1000, 40, 1500);
    produce_metric(topic, "2", f + 1000, f + 2000, 40, 1500);
    produce_metric(topic, "2", f + 2000, f + 3000, 40, 1); /* after the window: not used */
    while (epoch_ms() < f + w + 100)
        usleep(100000);
    /* Too few pairs on a side: no decision. */
    const char *strict[] = {
        "--metrics-topic", topic, "--rollback-window", "2", "--rollback-min-count", "81", NULL};
    assert_int_equal(watch_model("rollback-few", strict), 0);
    /* Within the margin (50% worse < 60%): keep. */
    const char *lenient[] = {"--metrics-topic",
                             topic,
                             "--rollback-window",
                             "2",
                             "--rollback-min-count",
                             "80",
                             "--rollback-margin",
                             "0.6",
                             NULL};
    assert_int_equal(watch_model("rollback-lenient", lenient), 0);
    char *c = champion();
    assert_string_equal(c, "2");
    free(c);
    const char *args[] = {
        "--metrics-topic", topic, "--rollback-window", "2", "--rollback-min-count", "80", NULL};
    assert_int_equal(watch_model("rollback", args), 5);
    c = champion();
    assert_string_equal(c, "1");
    free(c);
    cp_mlflow_t *m = NULL;
    cp_mlflow_model_version_t *mv = NULL;
    assert_int_equal(cp_mlflow_new(NULL, &m, NULL), CP_REST_OK);
    assert_int_equal(cp_mlflow_model_version_get(m, g_model, "2", &mv, NULL), CP_REST_OK);
    const char *tag = cp_mlflow_model_version_tag(mv, "carprice.rollback");
    assert_non_null(tag);
    fprintf(stderr, "carprice.rollback = %s\n", tag);
    assert_non_null(strstr(tag, "1500.00"));
    cp_mlflow_model_version_destroy(mv);
    cp_mlflow_destroy(m);
    json_t *st = status();
    char v1[200];
    snprintf(v1, sizeof v1, "%s/1", g_model);
    assert_string_equal(json_string_value(json_object_get(st, "current_version")), v1);
    json_t *last = json_object_get(st, "last_rollout");
    assert_string_equal(json_string_value(json_object_get(last, "kind")), "rollback");
    assert_string_equal(json_string_value(json_object_get(last, "result")), "succeeded");
    json_decref(st);
    assert_int_equal(watch_model("after-rollback", args), 0);
}

/* kill -9 of the serving instance: the supervisor starts it again from the
 * same checkpoint and it becomes ready. */
static void crashed_instance_restarts(void **state)
{
    (void)state;
    assert_true(g_sup > 0);
    json_t *st = status();
    json_t *in = instance0(st);
    pid_t pid = (pid_t)json_integer_value(json_object_get(in, "pid"));
    char ckpt[600];
    snprintf(ckpt, sizeof ckpt, "%s", json_string_value(json_object_get(in, "checkpoint")));
    long restarts = (long)json_integer_value(json_object_get(in, "restarts"));
    json_decref(st);
    assert_true(pid > 0);
    double t0 = now_s();
    assert_int_equal(kill(pid, SIGKILL), 0);
    for (;;) {
        st = status();
        in = instance0(st);
        bool done = json_integer_value(json_object_get(in, "restarts")) == restarts + 1 &&
                    json_is_true(json_object_get(in, "ready"));
        if (done) {
            assert_true(json_integer_value(json_object_get(in, "pid")) != pid);
            assert_string_equal(json_string_value(json_object_get(in, "checkpoint")), ckpt);
        }
        json_decref(st);
        if (done)
            break;
        if (now_s() - t0 > 400)
            fail_msg("the killed instance was not restarted and ready within 400 s");
        usleep(500000);
    }
    fprintf(stderr, "MEASURE kill -9 of the instance -> restarted and ready in %.1f s\n",
            now_s() - t0);
    assert_int_equal(count_serves(), 1);
}

/* SIGTERM stops every instance and exits 0; a new supervisor resumes the
 * same version from the same checkpoint. A supervisor killed with SIGKILL
 * takes its instance with it (parent-death signal), and the next one
 * resumes too. */
static void sigterm_and_resume(void **state)
{
    (void)state;
    assert_true(g_sup > 0);
    json_t *st = status();
    char version[200], ckpt[600];
    snprintf(version, sizeof version, "%s",
             json_string_value(json_object_get(st, "current_version")));
    snprintf(ckpt, sizeof ckpt, "%s",
             json_string_value(json_object_get(instance0(st), "checkpoint")));
    json_decref(st);
    double t0 = now_s();
    kill(g_sup, SIGTERM);
    int rc = wait_exit(g_sup, 90);
    g_sup = 0;
    fprintf(stderr, "MEASURE supervisor SIGTERM -> exit %d in %.1f s\n", rc, now_s() - t0);
    assert_int_equal(rc, 0);
    assert_int_equal(count_serves(), 0);

    sup_start(NULL);
    wait_ready(400);
    st = status();
    assert_string_equal(json_string_value(json_object_get(st, "current_version")), version);
    assert_string_equal(json_string_value(json_object_get(instance0(st), "checkpoint")), ckpt);
    json_decref(st);

    kill(g_sup, SIGKILL);
    assert_int_equal(wait_exit(g_sup, 10), 128 + SIGKILL);
    g_sup = 0;
    t0 = now_s();
    while (count_serves() > 0 && now_s() - t0 < 60)
        usleep(200000);
    fprintf(stderr, "MEASURE supervisor SIGKILL -> its serve gone after %.1f s\n", now_s() - t0);
    assert_int_equal(count_serves(), 0);
    sup_start(NULL);
    wait_ready(400);
    st = status();
    assert_string_equal(json_string_value(json_object_get(st, "current_version")), version);
    assert_string_equal(json_string_value(json_object_get(instance0(st), "checkpoint")), ckpt);
    json_decref(st);
    kill(g_sup, SIGTERM);
    assert_int_equal(wait_exit(g_sup, 90), 0);
    g_sup = 0;
    assert_int_equal(count_serves(), 0);
}

static void bad_flags(void **state)
{
    (void)state;
    char log[320];
    snprintf(log, sizeof log, "%s/badflags.log", g_dir);
    const char *a1[] = {"supervisor", "--control-port", "1", NULL};
    assert_int_equal(run_wait(log, a1, 20), 2); /* no --state-dir */
    const char *a2[] = {"supervisor", "--state-dir", g_dir, "--", "--model", "x/1", NULL};
    assert_int_equal(run_wait(log, a2, 20), 2);
    char empty[320];
    snprintf(empty, sizeof empty, "%s/empty-state", g_dir);
    const char *a3[] = {"supervisor", "--state-dir", empty, "--control-port", "0", NULL};
    assert_int_equal(run_wait(log, a3, 20), 1); /* no state, no --version */
    const char *a4[] = {"watch-model", "--rollback-margin", "lots", NULL};
    assert_int_equal(run_wait(log, a4, 20), 2);
    /* Nobody listens on this port: an error, not "nothing to do". */
    const char *a5[] = {"watch-model", "--model-name", g_model, "--control-port", "1", NULL};
    assert_int_equal(run_wait(log, a5, 60), 1);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_rollout CARPRICE_BIN SQL_DIR\n");
        return 2;
    }
    g_bin = argv[1];
    g_sql_dir = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bad_flags),
        cmocka_unit_test(rollout_while_requests_flow),
        cmocka_unit_test(broken_rollout_aborts),
        cmocka_unit_test(worse_version_is_rolled_back),
        cmocka_unit_test(crashed_instance_restarts),
        cmocka_unit_test(sigterm_and_resume),
    };
    return cmocka_run_group_tests(tests, setup, group_teardown);
}
