/* carprice serve against the real stack: a small real model is fitted on
 * generated listings (sql/features.sql -> Imputer -> StringIndexer -> OHE ->
 * VectorAssembler -> LinearRegression on ln(price)), written as a
 * PipelineModel and registered in MLflow with tag model_path; then the
 * program runs as a separate process fed by `carprice requests`.
 *
 * argv: carprice binary, sql directory. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
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
static const char *g_stack;    /* scripts/stack, for the fault run */
static char g_dir[256];        /* scratch directory of this run */
static char g_model_name[128]; /* registered model */
static char g_model_uri[320];  /* its PipelineModel */
static char g_req_csv[320];    /* listings sent as requests */

#define N_TRAIN 1500
#define N_REQ   400

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define CHECK(call)                                                                                \
    do {                                                                                           \
        if ((call) != SC_OK)                                                                       \
            fail_msg("%s: %s", #call, sc_error_message(err));                                      \
    } while (0)

/* ---- processes ---- */

/* Children still running, so that a failed test does not leave serve behind. */
static pid_t g_live[32];

static void live_add(pid_t pid)
{
    for (size_t i = 0; i < 32; i++)
        if (g_live[i] == 0) {
            g_live[i] = pid;
            return;
        }
}

static void live_del(pid_t pid)
{
    for (size_t i = 0; i < 32; i++)
        if (g_live[i] == pid)
            g_live[i] = 0;
}

/* Starts carprice with args (NULL-terminated, without the program name);
 * stdout and stderr go to log_path (NULL: /dev/null). */
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
    live_add(pid);
    return pid;
}

/* Waits for pid up to timeout_s; returns its exit status, 128+signal, or -1
 * on timeout (the process is then killed). */
static int wait_exit(pid_t pid, double timeout_s)
{
    double t0 = now_s();
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            live_del(pid);
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        if (now_s() - t0 > timeout_s) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            live_del(pid);
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

/* The HTTP port serve logged (serve.http addr=127.0.0.1:PORT), waiting up to
 * timeout_s; 0 when none. */
static int wait_port(const char *log_path, double timeout_s)
{
    double t0 = now_s();
    while (now_s() - t0 < timeout_s) {
        char *log = slurp(log_path);
        const char *p = strstr(log, "event=serve.http addr=127.0.0.1:");
        int port = p ? atoi(p + strlen("event=serve.http addr=127.0.0.1:")) : 0;
        free(log);
        if (port > 0)
            return port;
        usleep(100000);
    }
    return 0;
}

/* Sends raw bytes to 127.0.0.1:port and returns the status code (0 on no
 * answer); the body goes to body (may be NULL). */
static int http_raw(int port, const char *request, char *body, size_t body_len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return 0;
    }
    ssize_t w = write(fd, request, strlen(request));
    (void)w;
    char buf[65536];
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

static int http_get(int port, const char *path, char *body, size_t body_len)
{
    char req[512];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
    return http_raw(port, req, body, body_len);
}

static long rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

/* ---- ids and predictions ---- */

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

static bool idset_has(const idset_t *s, const char *id)
{
    return bsearch(&id, s->ids, s->n, sizeof *s->ids, cmp_str) != NULL;
}

/* A prediction message, checked against docs/messages.md. */
typedef struct {
    char id[128];
    char version[32];
    double price;
    int64_t req_ms, pred_ms;
} pred_t;

static void parse_pred(const tk_msg_t *m, pred_t *p)
{
    json_error_t je;
    json_t *o = json_loads(m->value, 0, &je);
    if (!o)
        fail_msg("prediction is not JSON: %s", m->value);
    json_t *id = json_object_get(o, "request_id"), *pr = json_object_get(o, "predicted_price"),
           *mn = json_object_get(o, "model_name"), *mv = json_object_get(o, "model_version"),
           *rq = json_object_get(o, "request_ts_ms"), *pa = json_object_get(o, "predicted_at_ms");
    if (!json_is_string(id) || !json_is_number(pr) || !json_is_string(mn) || !json_is_string(mv) ||
        !json_is_integer(rq) || !json_is_integer(pa))
        fail_msg("prediction lacks a field or has a wrong type: %s", m->value);
    snprintf(p->id, sizeof p->id, "%s", json_string_value(id));
    snprintf(p->version, sizeof p->version, "%s", json_string_value(mv));
    p->price = json_number_value(pr);
    p->req_ms = json_integer_value(rq);
    p->pred_ms = json_integer_value(pa);
    if (!m->key || strcmp(m->key, p->id) != 0)
        fail_msg("key '%s' is not the request id %s", m->key ? m->key : "(null)", p->id);
    json_decref(o);
}

/* Waits until every id in want has a prediction on topic (up to timeout_s);
 * returns the messages read. */
static size_t wait_answered(const char *topic, const idset_t *want, size_t min_msgs,
                            double timeout_s, tk_msg_t **msgs)
{
    double t0 = now_s();
    size_t got = 0;
    *msgs = NULL;
    for (;;) {
        /* One consumer for the whole wait: joining a group takes seconds. */
        double left = timeout_s - (now_s() - t0);
        got = tk_consume(topic, min_msgs, left > 1 ? (long)(left * 1000) : 1000, msgs);
        size_t answered = 0;
        char **seen = calloc(got + 1, sizeof *seen);
        for (size_t i = 0; i < got; i++)
            seen[i] = (*msgs)[i].key ? (*msgs)[i].key : (char *)"";
        qsort(seen, got, sizeof *seen, cmp_str);
        for (size_t i = 0; i < want->n; i++)
            if (bsearch(&want->ids[i], seen, got, sizeof *seen, cmp_str))
                answered++;
        free(seen);
        if (answered == want->n || now_s() - t0 > timeout_s)
            return got;
        tk_msgs_free(*msgs, got); /* others or duplicates among them: wait for more */
        *msgs = NULL;
        min_msgs = got + (want->n - answered);
    }
}

/* Every id in want answered, every answer for an id in want... or in
 * allowed (may be NULL), prices sane. Returns the number of duplicates. */
static size_t check_answers(const tk_msg_t *msgs, size_t n, const idset_t *want, double *lat_ms,
                            size_t lat_cap, size_t *nlat)
{
    pred_t *ps = calloc(n + 1, sizeof *ps);
    for (size_t i = 0; i < n; i++) {
        parse_pred(&msgs[i], &ps[i]);
        if (!idset_has(want, ps[i].id))
            fail_msg("prediction for an id never sent: %s", ps[i].id);
        if (!(ps[i].price > 100 && ps[i].price < 1e7))
            fail_msg("insane price %g for %s", ps[i].price, ps[i].id);
        if (ps[i].pred_ms < ps[i].req_ms)
            fail_msg("%s predicted before it was sent", ps[i].id);
        if (lat_ms && *nlat < lat_cap)
            lat_ms[(*nlat)++] = (double)(ps[i].pred_ms - ps[i].req_ms);
    }
    size_t dups = 0;
    for (size_t i = 0; i < want->n; i++) {
        size_t c = 0;
        for (size_t k = 0; k < n; k++)
            c += strcmp(ps[k].id, want->ids[i]) == 0;
        if (c == 0)
            fail_msg("request %s never answered", want->ids[i]);
        dups += c - 1;
    }
    free(ps);
    return dups;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report_latency(const char *what, double *lat, size_t n)
{
    if (n == 0)
        return;
    qsort(lat, n, sizeof *lat, cmp_dbl);
    fprintf(stderr, "MEASURE %s latency_ms n=%zu p50=%.0f p90=%.0f p99=%.0f max=%.0f\n", what, n,
            lat[n / 2], lat[(size_t)(n * 0.9)], lat[(size_t)(n * 0.99)], lat[n - 1]);
}

/* ---- the model, fitted once for all tests ---- */

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

static sc_model_t *fit(sc_df_t **df, const char *cls, sc_params_t *p, sc_error_t *err)
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

static void fit_and_register(void)
{
    char train_csv[320], path[512];
    snprintf(train_csv, sizeof train_csv, "%s/train.csv", g_dir);
    char rows[16], reqrows[16];
    snprintf(rows, sizeof rows, "%d", N_TRAIN);
    snprintf(reqrows, sizeof reqrows, "%d", N_REQ * 3);
    const char *gen1[] = {"data", "generate", "--rows",  rows, "--seed",
                          "7",    "--out",    train_csv, NULL};
    assert_int_equal(run_wait(NULL, gen1, 120), 0);
    const char *gen2[] = {"data", "generate", "--rows",  reqrows, "--seed",
                          "8",    "--out",    g_req_csv, NULL};
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
    sc_df_t *raw = NULL, *feat = NULL, *train = NULL;
    CHECK(sc_read(s, &ro, uris, 1, &raw, err));
    CHECK(sc_df_create_view(raw, "raw_listings", true, err));
    CHECK(sc_sql(s, features, NULL, 0, &feat, err));
    CHECK(sc_df_filter(feat,
                       "try_cast(price AS DOUBLE) BETWEEN 500 AND 2000000 AND f_year IS NOT NULL",
                       &train, err));
    sc_df_t *labelled = NULL;
    CHECK(sc_df_with_column(train, "label", "ln(try_cast(price AS DOUBLE))", &labelled, err));
    sc_df_destroy(train);
    train = labelled;

    static const char *num_in[] = {"f_age",    "f_log_mileage",   "f_horsepower", "f_engine_l",
                                   "f_is_new", "f_has_accidents", "f_owners"};
    static const char *num_out[] = {"i_age",    "i_log_mileage",   "i_horsepower", "i_engine_l",
                                    "i_is_new", "i_has_accidents", "i_owners"};
    const size_t nnum = sizeof num_in / sizeof num_in[0];
    sc_model_t *stages[5];
    sc_params_t *p = sc_params_new();
    CHECK(sc_params_set_strings(p, "inputCols", num_in, nnum, err));
    CHECK(sc_params_set_strings(p, "outputCols", num_out, nnum, err));
    stages[0] = fit(&train, "org.apache.spark.ml.feature.Imputer", p, err);
    const char *si_in[] = {"f_make", "f_body"}, *si_out[] = {"c_make", "c_body"};
    p = sc_params_new();
    CHECK(sc_params_set_strings(p, "inputCols", si_in, 2, err));
    CHECK(sc_params_set_strings(p, "outputCols", si_out, 2, err));
    CHECK(sc_params_set_string(p, "handleInvalid", "keep", err));
    stages[1] = fit(&train, "org.apache.spark.ml.feature.StringIndexer", p, err);
    const char *oh_out[] = {"v_make", "v_body"};
    p = sc_params_new();
    CHECK(sc_params_set_strings(p, "inputCols", si_out, 2, err));
    CHECK(sc_params_set_strings(p, "outputCols", oh_out, 2, err));
    stages[2] = fit(&train, "org.apache.spark.ml.feature.OneHotEncoder", p, err);
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
    p = sc_params_new();
    CHECK(sc_params_set_string(p, "labelCol", "label", err));
    CHECK(sc_params_set_double(p, "regParam", 0.01, err));
    CHECK(sc_ml_fit(assembled, "org.apache.spark.ml.regression.LinearRegression", p, &stages[4],
                    err));
    sc_params_destroy(p);
    snprintf(g_model_uri, sizeof g_model_uri, "file://%s/model", g_dir);
    CHECK(sc_pipeline_write(s, (const sc_model_t *const *)stages, 5, g_model_uri, true, err));
    for (int i = 0; i < 5; i++)
        sc_model_destroy(stages[i]);
    sc_df_destroy(assembled);
    sc_df_destroy(train);
    sc_df_destroy(feat);
    sc_df_destroy(raw);
    sc_session_destroy(s);
    sc_error_destroy(err);
    free(ddl);
    free(features);

    /* Register: an experiment's run holds the version (MLflow refuses a
     * source outside a run); the tag model_path is what serve reads. */
    cp_mlflow_t *m = NULL;
    cp_rest_error_t *rerr = cp_rest_error_new();
    assert_int_equal(cp_mlflow_new(NULL, &m, rerr), CP_REST_OK);
    cp_mlflow_experiment_t *e = NULL;
    assert_int_equal(cp_mlflow_experiment_get_or_create(m, "carprice-serve-tests", NULL, &e, rerr),
                     CP_REST_OK);
    cp_mlflow_run_opts_t rop = {.experiment_id = cp_mlflow_experiment_id(e)};
    cp_mlflow_run_t *run = NULL;
    assert_int_equal(cp_mlflow_run_create(m, &rop, &run, rerr), CP_REST_OK);
    snprintf(g_model_name, sizeof g_model_name, "carprice-serve-test-%ld-%d", (long)time(NULL),
             (int)getpid());
    assert_int_equal(cp_mlflow_model_create(m, g_model_name, NULL, NULL, rerr), CP_REST_OK);
    cp_mlflow_kv_t tags[] = {{"model_path", g_model_uri}};
    cp_mlflow_model_version_opts_t vo = {.name = g_model_name,
                                         .run_id = cp_mlflow_run_id(run),
                                         .artifact_path = "model",
                                         .tags = tags,
                                         .n_tags = 1};
    cp_mlflow_model_version_t *mv = NULL;
    if (cp_mlflow_model_version_create(m, &vo, &mv, rerr) != CP_REST_OK)
        fail_msg("model version: %s", cp_rest_error_message(rerr));
    assert_string_equal(cp_mlflow_model_version_version(mv), "1");
    assert_int_equal(cp_mlflow_model_alias_set(m, g_model_name, "champion", "1", rerr), CP_REST_OK);
    cp_mlflow_model_version_destroy(mv);
    cp_mlflow_run_destroy(run);
    cp_mlflow_experiment_destroy(e);
    cp_mlflow_destroy(m);
    cp_rest_error_destroy(rerr);
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/carprice-test-serve-%d", (int)getpid());
    mkdir(g_dir, 0755);
    snprintf(g_req_csv, sizeof g_req_csv, "%s/requests.csv", g_dir);
    fit_and_register();
    return 0;
}

/* Stops what a failed test left running: SIGTERM, then SIGKILL. */
static int teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < 32; i++) {
        pid_t pid = g_live[i];
        if (pid > 0) {
            kill(pid, SIGTERM);
            wait_exit(pid, 30);
        }
    }
    return 0;
}

/* Removes the registered model and the scratch directory (checkpoints,
 * logs) unless SERVE_TEST_KEEP is set. */
static int group_teardown(void **state)
{
    (void)state;
    if (getenv("SERVE_TEST_KEEP"))
        return 0;
    cp_mlflow_t *m = NULL;
    if (g_model_name[0] && cp_mlflow_new(NULL, &m, NULL) == CP_REST_OK)
        cp_mlflow_model_delete(m, g_model_name, NULL);
    cp_mlflow_destroy(m);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- one serve instance ---- */

typedef struct {
    char req_topic[160], pred_topic[160], dlq_topic[160], prices_topic[160];
    char ckpt[320];
    char log[320];
    pid_t pid;
    int port;
} inst_t;

static void topics_new(inst_t *t, const char *tag)
{
    char pfx[64];
    snprintf(pfx, sizeof pfx, "t.serve.%s.req", tag);
    snprintf(t->req_topic, sizeof t->req_topic, "%s", tk_unique_topic(pfx));
    snprintf(pfx, sizeof pfx, "t.serve.%s.pred", tag);
    snprintf(t->pred_topic, sizeof t->pred_topic, "%s", tk_unique_topic(pfx));
    snprintf(pfx, sizeof pfx, "t.serve.%s.dlq", tag);
    snprintf(t->dlq_topic, sizeof t->dlq_topic, "%s", tk_unique_topic(pfx));
    snprintf(pfx, sizeof pfx, "t.serve.%s.prices", tag);
    snprintf(t->prices_topic, sizeof t->prices_topic, "%s", tk_unique_topic(pfx));
}

/* Starts serve on t's topics; extra args (NULL-terminated) are appended. */
static void serve_start(inst_t *t, const char *ckpt_name, const char *const *extra)
{
    snprintf(t->ckpt, sizeof t->ckpt, "%s/%s", g_dir, ckpt_name);
    static int starts;
    snprintf(t->log, sizeof t->log, "%s/%s-%d.log", g_dir, ckpt_name, ++starts);
    char model[200];
    snprintf(model, sizeof model, "%s/1", g_model_name);
    const char *args[48] = {"serve",
                            "--model",
                            model,
                            "--checkpoint-dir",
                            t->ckpt,
                            "--requests-topic",
                            t->req_topic,
                            "--predictions-topic",
                            t->pred_topic,
                            "--dlq-topic",
                            t->dlq_topic,
                            "--http-port",
                            "0",
                            "--no-metrics",
                            "--sql-dir",
                            g_sql_dir,
                            "--trigger-ms",
                            "300",
                            "--real-time-ms",
                            "2000",
                            "--query-name",
                            ckpt_name,
                            "--stop-timeout",
                            "20000"};
    size_t n = 24;
    while (extra && *extra && n < 47)
        args[n++] = *extra++;
    args[n] = NULL;
    t->pid = spawn(t->log, args);
    t->port = wait_port(t->log, 60);
    if (t->port == 0) {
        char *log = slurp(t->log);
        fail_msg("serve did not start its HTTP server; log:\n%s", log);
    }
}

/* Sends `limit` rows starting at row `skip`... simply: a run of requests. */
static void send_requests(const inst_t *t, const char *run_id, int limit, const char *rate,
                          const char *malformed, const char *ids_out, char *summary,
                          size_t summary_len)
{
    char lim[16], out[320];
    snprintf(lim, sizeof lim, "%d", limit);
    snprintf(out, sizeof out, "%s/requests-%s.out", g_dir, run_id);
    const char *args[] = {"requests",
                          "--input",
                          g_req_csv,
                          "--requests-topic",
                          t->req_topic,
                          "--prices-topic",
                          t->prices_topic,
                          "--price-fraction",
                          "0",
                          "--limit",
                          lim,
                          "--rate",
                          rate,
                          "--malformed-ratio",
                          malformed,
                          "--run-id",
                          run_id,
                          "--ids-out",
                          ids_out,
                          NULL};
    int rc = run_wait(out, args, 300);
    char *o = slurp(out);
    if (rc != 0)
        fail_msg("carprice requests exited %d: %s", rc, o);
    /* The summary line only: warnings logged before it (a topic not yet
     * known to the broker right after the stack starts) once pushed it past
     * the caller's buffer. */
    const char *line = strstr(o, "requests_sent=");
    if (summary && !line)
        fail_msg("carprice requests printed no summary: %s", o);
    if (summary)
        snprintf(summary, summary_len, "%.*s", (int)strcspn(line, "\n"), line);
    free(o);
}

/* Requests covered by the offsets committed in checkpoint root ckpt (the sum
 * over partitions of `carprice serve --show-offsets`), or -1 before any. */
static long long committed_total(const char *ckpt)
{
    char out[320];
    snprintf(out, sizeof out, "%s/show-offsets.out", g_dir);
    const char *args[] = {"serve", "--show-offsets", ckpt, NULL};
    unlink(out); /* run_wait appends */
    if (run_wait(out, args, 30) != 0)
        return -1;
    char *text = slurp(out);
    json_error_t je;
    json_t *j = json_loads(text, JSON_DISABLE_EOF_CHECK, &je);
    free(text);
    long long total = -1;
    const char *topic, *part;
    json_t *parts, *off;
    json_object_foreach(j, topic, parts)
    {
        json_object_foreach(parts, part, off)
        {
            total = (total < 0 ? 0 : total) + (long long)json_integer_value(off);
        }
    }
    json_decref(j);
    return total;
}

static void serve_term(inst_t *t, double bound_s)
{
    double t0 = now_s();
    kill(t->pid, SIGTERM);
    int rc = wait_exit(t->pid, bound_s + 10);
    double took = now_s() - t0;
    fprintf(stderr, "MEASURE serve SIGTERM -> exit %d in %.2f s\n", rc, took);
    if (rc != 0 || took > bound_s) {
        char *log = slurp(t->log);
        fail_msg("serve exited %d after %.1f s on SIGTERM (bound %.0f s); log:\n%s", rc, took,
                 bound_s, log);
    }
}

/* ---- tests ---- */

/* serve with args must exit with code, its output (log) saying needle and,
 * when absent is not NULL, not absent (a sign that it got too far). */
static void expect_refusal(const char *log, const char *const *args, int timeout_s, int code,
                           const char *needle, const char *absent)
{
    unlink(log);
    assert_int_equal(run_wait(log, args, timeout_s), code);
    char *out = slurp(log);
    if (!strstr(out, needle) || (absent && strstr(out, absent)))
        fail_msg("%s %s: unclear or late error (want '%s'): %s", args[1], args[2] ? args[2] : "",
                 needle, out);
    free(out);
}

static void bad_flags_and_unknown_model(void **state)
{
    (void)state;
    char log[320], model[200];
    snprintf(log, sizeof log, "%s/badflags.log", g_dir);
    const char *a1[] = {"serve", "--trigger-ms", "soon", NULL};
    assert_int_equal(run_wait(log, a1, 30), 2);
    const char *a2[] = {"serve", "--bogus", NULL};
    assert_int_equal(run_wait(log, a2, 30), 2);
    const char *a3[] = {"serve",     "--model", "carprice-no-such-model-xyz@champion",
                        "--sql-dir", g_sql_dir, "--no-metrics",
                        NULL};
    expect_refusal(log, a3, 60, 1, "not in the MLflow registry", NULL);
    snprintf(model, sizeof model, "%s/99", g_model_name);
    const char *a4[] = {"serve", "--model", model, "--sql-dir", g_sql_dir, "--no-metrics", NULL};
    unlink(log);
    assert_int_equal(run_wait(log, a4, 60), 1);
    const char *a5[] = {"serve",     "--model-path", "file:///nonexistent/carprice-model",
                        "--sql-dir", g_sql_dir,      "--no-metrics",
                        NULL};
    expect_refusal(log, a5, 120, 1, "loading the model", NULL);
    const char *a6[] = {"serve", "--requests-topic", "no spaces allowed", NULL};
    assert_int_equal(run_wait(log, a6, 30), 1);
    const char *a7[] = {"serve", "--trigger", "continuous", NULL};
    assert_int_equal(run_wait(log, a7, 30), 2);
    const char *a8[] = {"serve", "--real-time-ms", "50", NULL};
    assert_int_equal(run_wait(log, a8, 30), 2);
    const char *a8b[] = {"serve", "--kafka-linger-ms", "-1", NULL};
    assert_int_equal(run_wait(log, a8b, 30), 2);
    /* Live-metrics durations are refused before anything starts. */
    const char *a8c[] = {"serve", "--metrics-price-bound", "soon", "--sql-dir", g_sql_dir, NULL};
    expect_refusal(log, a8c, 30, 1, "--metrics-price-bound 'soon'", "serve.model");
    const char *a8d[] = {"serve", "--metrics-slide", "10 minutes", "--sql-dir", g_sql_dir, NULL};
    expect_refusal(log, a8d, 30, 1, "--metrics-slide '10 minutes' is longer than --metrics-window",
                   "serve.model");
    /* Async progress belongs to micro-batches; real-time mode has its own. */
    const char *a9[] = {"serve", "--async-progress", "--sql-dir", g_sql_dir, NULL};
    expect_refusal(log, a9, 30, 1, "--trigger processing-time", NULL);
}

static void answers_every_request_and_dead_letters(void **state)
{
    (void)state;
    inst_t t;
    topics_new(&t, "basic");
    char ids_path[320], summary[512], run_id[64];
    snprintf(ids_path, sizeof ids_path, "%s/basic.ids", g_dir);
    snprintf(run_id, sizeof run_id, "basic%d", (int)getpid());
    /* Requests first: the topic exists before serve subscribes. */
    send_requests(&t, run_id, N_REQ, "0", "0.1", ids_path, summary, sizeof summary);
    long malformed = -1;
    const char *ms = strstr(summary, "malformed_sent=");
    assert_non_null(ms);
    malformed = atol(ms + strlen("malformed_sent="));
    assert_true(malformed >= N_REQ / 10 - 1);
    idset_t want;
    read_ids(ids_path, &want);
    assert_int_equal(want.n + (size_t)malformed, N_REQ);

    const char *extra[] = {"--model", NULL, NULL};
    char champion[200];
    snprintf(champion, sizeof champion, "%s@champion", g_model_name);
    extra[1] = champion; /* the alias path of resolution */
    double t0 = now_s();
    serve_start(&t, "basic", extra);
    char body[65536];
    /* /healthz answers while the first batch runs. */
    assert_int_equal(http_get(t.port, "/healthz", body, sizeof body), 200);

    tk_msg_t *msgs = NULL;
    size_t got = wait_answered(t.pred_topic, &want, want.n, 180, &msgs);
    fprintf(stderr, "MEASURE first answers after %.1f s (startup + backlog of %d)\n", now_s() - t0,
            N_REQ);
    assert_int_equal(check_answers(msgs, got, &want, NULL, 0, NULL), 0);
    tk_msgs_free(msgs, got);
    /* Exactly N: nothing extra arrives. */
    got = tk_consume(t.pred_topic, want.n + 1, 3000, &msgs);
    assert_int_equal(got, want.n);
    tk_msgs_free(msgs, got);

    /* Dead letters: one per malformed message, each with a reason and payload. */
    got = tk_consume(t.dlq_topic, (size_t)malformed, 60000, &msgs);
    assert_int_equal(got, (size_t)malformed);
    int kinds[6] = {0};
    const char *names[] = {"not_json",     "missing_field", "wrong_type",
                           "out_of_range", "oversized",     "empty"};
    for (size_t i = 0; i < got; i++) {
        json_t *o = json_loads(msgs[i].value, JSON_ALLOW_NUL, NULL);
        if (!o)
            fail_msg("dead letter is not JSON: %.200s", msgs[i].value);
        const char *reason = json_string_value(json_object_get(o, "reason"));
        assert_non_null(reason);
        assert_true(json_is_string(json_object_get(o, "payload")));
        assert_true(json_is_integer(json_object_get(o, "payload_bytes")));
        int k = -1;
        for (int j = 0; j < 6; j++)
            if (strncmp(reason, names[j], strlen(names[j])) == 0)
                k = j;
        if (k < 0)
            fail_msg("unknown reason %s", reason);
        kinds[k]++;
        assert_non_null(msgs[i].key); /* the original key: the row's request id */
        assert_true(strncmp(msgs[i].key, run_id, strlen(run_id)) == 0);
        json_decref(o);
    }
    fprintf(stderr,
            "dead letters: not_json %d, missing_field %d, wrong_type %d, out_of_range %d, "
            "oversized %d\n",
            kinds[0], kinds[1], kinds[2], kinds[3], kinds[4]);
    for (int j = 0; j < 5; j++)
        assert_true(kinds[j] > 0); /* 40 malformed rows cycle through every kind */
    tk_msgs_free(msgs, got);

    /* HTTP. */
    double tr = now_s();
    int rs = 0;
    while ((rs = http_get(t.port, "/readyz", body, sizeof body)) != 200 && now_s() - tr < 30)
        usleep(200000);
    if (rs != 200)
        fail_msg("/readyz %d: %s", rs, body);
    /* rows_total counts completed batches: with the real-time trigger the
     * batch that answered the last request ends up to 2 s later. */
    const char *rt = NULL;
    long rows = -1;
    tr = now_s();
    do {
        usleep(500000);
        assert_int_equal(http_get(t.port, "/metrics", body, sizeof body), 200);
        rt = strstr(body, "\ncarprice_serve_rows_total ");
        assert_non_null(rt);
        rows = atol(rt + strlen("\ncarprice_serve_rows_total "));
    } while (rows != N_REQ && now_s() - tr < 20);
    if (rows != N_REQ)
        fail_msg("rows_total %ld, want %d: %s", rows, N_REQ, body);
    /* The default trigger is real-time; its batch length is no latency. */
    if (!strstr(body, "carprice_serve_trigger_info{mode=\"real-time\",interval_ms=\"2000\"} 1\n"))
        fail_msg("/metrics does not report the real-time trigger: %s", body);
    assert_non_null(strstr(body, "\ncarprice_serve_latency_estimate_ms NaN\n"));
    char label[256];
    snprintf(label, sizeof label, "model_name=\"%s\",model_version=\"1\"", g_model_name);
    if (!strstr(body, label))
        fail_msg("/metrics lacks the model version label: %s", body);
    assert_non_null(strstr(body, "# TYPE carprice_serve_batch_duration_ms gauge"));
    /* The dead-letter topic's size, from Kafka (polled every 5 s). */
    char dlq_line[300];
    snprintf(dlq_line, sizeof dlq_line,
             "carprice_serve_dead_letter_topic_messages{topic=\"%s\"} %ld\n", t.dlq_topic,
             malformed);
    tr = now_s();
    while (!strstr(body, dlq_line) && now_s() - tr < 20) {
        usleep(500000);
        http_get(t.port, "/metrics", body, sizeof body);
    }
    if (!strstr(body, dlq_line))
        fail_msg("/metrics lacks '%s': %s", dlq_line, body);
    assert_int_equal(http_get(t.port, "/nope", body, sizeof body), 404);
    assert_int_equal(http_raw(t.port, "GARBAGE\r\n\r\n", body, sizeof body), 400);
    assert_int_equal(http_raw(t.port, "GET nope HTTP/1.1\r\n\r\n", body, sizeof body), 400);
    assert_int_equal(http_raw(t.port, "POST /metrics HTTP/1.1\r\n\r\n", body, sizeof body), 405);

    long kb = rss_kb(t.pid);
    fprintf(stderr, "MEASURE serve RSS %ld kB\n", kb);
    /* Resolved through the registry, serve handed over to the lean image
     * (same PID, no REST client): that is what keeps its RSS small. */
    char exe_link[64], exe[4096];
    snprintf(exe_link, sizeof exe_link, "/proc/%ld/exe", (long)t.pid);
    ssize_t n = readlink(exe_link, exe, sizeof exe - 1);
    assert_true(n > 0);
    exe[n] = '\0';
    const char *base = strrchr(exe, '/');
    if (!base || strcmp(base, "/carprice-serve") != 0)
        fail_msg("serve did not hand over to carprice-serve: pid %ld runs %s", (long)t.pid, exe);
    serve_term(&t, 25);
    idset_free(&want);
}

/* Each rule of docs/messages.md on a hand-made payload, and the JSON that is
 * still accepted: the reason of every dead letter and the id of every answer
 * must be exactly these. Valid requests are read by one parser and rejected
 * ones re-parsed by another to name the reason; the cases where two JSON
 * readers tend to differ (duplicate names, leniencies, text after the object)
 * pin that both agree. */
#define REC "\"record\":{\"year\":\"2015\",\"mileage\":\"12000\",\"make_name\":\"Ford\"}"
typedef struct {
    const char *key, *value;
    const char *reason; /* NULL: answered */
    const char *id;     /* the answer's request_id */
} reason_case_t;

static const reason_case_t reason_cases[] = {
    {"valid", "{\"request_id\":\"r-valid\",\"sent_at_ms\":1," REC "}", NULL, "r-valid"},
    {"negative-time", "{\"request_id\":\"r-neg\",\"sent_at_ms\":-5," REC "}", NULL, "r-neg"},
    {"leading-space", " \n\t{\"request_id\":\"r-ws\",\"sent_at_ms\":1," REC "}", NULL, "r-ws"},
    {"escaped-id", "{\"request_id\":\"r-\\u00e9\",\"sent_at_ms\":1," REC "}", NULL, "r-\xc3\xa9"},
    {"number-year", "{\"request_id\":\"r-ny\",\"sent_at_ms\":1,\"record\":{\"year\":2015}}", NULL,
     "r-ny"},
    {"apostrophe",
     "{\"request_id\":\"r-ap\",\"sent_at_ms\":1,\"record\":{\"year\":\"2015\",\"trim_name\":"
     "\"O'Neil\"}}",
     NULL, "r-ap"},
    /* Spark's JSON readers stop at the end of the first value. */
    {"text-after", "{\"request_id\":\"r-after\",\"sent_at_ms\":1," REC "} and more", NULL,
     "r-after"},
    /* A repeated name: the last one wins, for the id and in the record. */
    {"repeated-id",
     "{\"request_id\":\"r-first\",\"request_id\":\"r-last\",\"sent_at_ms\":1," REC "}", NULL,
     "r-last"},
    {"repeated-year-ok",
     "{\"request_id\":\"r-ry\",\"sent_at_ms\":1,\"record\":{\"year\":\"1800\",\"year\":\"2015\"}}",
     NULL, "r-ry"},
    {"repeated-year-bad",
     "{\"request_id\":\"r-rb\",\"sent_at_ms\":1,\"record\":{\"year\":\"2015\",\"year\":\"1800\"}}",
     "out_of_range: year", NULL},
    {"repeated-record-ok", "{\"request_id\":\"r-rro\",\"sent_at_ms\":1,\"record\":\"x\"," REC "}",
     NULL, "r-rro"},
    {"repeated-record-bad", "{\"request_id\":\"r-rrb\",\"sent_at_ms\":1," REC ",\"record\":\"x\"}",
     "wrong_type: record", NULL},
    {"repeated-time", "{\"request_id\":\"r-rt\",\"sent_at_ms\":\"x\",\"sent_at_ms\":5," REC "}",
     NULL, "r-rt"},
    /* An escape of half a surrogate pair: valid JSON syntax, read as "?". */
    {"half-surrogate",
     "{\"request_id\":\"r-hs\",\"sent_at_ms\":1,\"record\":{\"year\":\"2015\",\"trim_name\":"
     "\"\\ud800\"}}",
     NULL, "r-hs"},
    {"half-surrogate-string-time",
     "{\"request_id\":\"r-hst\",\"sent_at_ms\":\"1\",\"record\":{\"year\":\"2015\","
     "\"trim_name\":\"\\ud800\"}}",
     "wrong_type: sent_at_ms", NULL},
    {"tombstone", NULL, "not_json: no value", NULL},
    {"not-utf8", "{\"request_id\":\"r-u\",\"x\":\"\xff\xfe\"}", "not_json: invalid UTF-8", NULL},
    {"prose", "please price my car", "not_json", NULL},
    {"empty", "", "not_json", NULL},
    {"single-quotes", "{'request_id':'r-sq','sent_at_ms':1,'record':{'year':'2015'}}", "not_json",
     NULL},
    {"nan", "{\"request_id\":\"r-nan\",\"sent_at_ms\":NaN," REC "}", "not_json", NULL},
    {"leading-zero", "{\"request_id\":\"r-l0\",\"sent_at_ms\":01," REC "}", "not_json", NULL},
    {"comment", "{\"request_id\":\"r-c\",/*x*/\"sent_at_ms\":1," REC "}", "not_json", NULL},
    {"bare-names", "{request_id:\"r-b\",\"sent_at_ms\":1," REC "}", "not_json", NULL},
    {"trailing-comma", "{\"request_id\":\"r-tc\",\"sent_at_ms\":1," REC ",}", "not_json", NULL},
    {"truncated", "{\"request_id\":\"r-tr\",\"sent_at_ms\":1,\"record\":{\"year\":\"20", "not_json",
     NULL},
    {"array", "[{\"request_id\":\"r-arr\",\"sent_at_ms\":1," REC "}]", "not_json: not an object",
     NULL},
    {"null", "null", "not_json: not an object", NULL},
    {"string", "\"r\"", "not_json: not an object", NULL},
    {"no-id", "{}", "missing_field: request_id", NULL},
    {"null-id", "{\"request_id\":null,\"sent_at_ms\":1," REC "}", "missing_field: request_id",
     NULL},
    {"number-id", "{\"request_id\":12,\"sent_at_ms\":1," REC "}", "wrong_type: request_id", NULL},
    {"object-id", "{\"request_id\":{\"a\":1},\"sent_at_ms\":1," REC "}", "wrong_type: request_id",
     NULL},
    {"empty-id", "{\"request_id\":\"\",\"sent_at_ms\":1," REC "}", "empty: request_id", NULL},
    {"no-time", "{\"request_id\":\"r-nt\"," REC "}", "missing_field: sent_at_ms", NULL},
    {"string-time", "{\"request_id\":\"r-st\",\"sent_at_ms\":\"1\"," REC "}",
     "wrong_type: sent_at_ms", NULL},
    {"fraction-time", "{\"request_id\":\"r-ft\",\"sent_at_ms\":1.5," REC "}",
     "wrong_type: sent_at_ms", NULL},
    {"exponent-time", "{\"request_id\":\"r-et\",\"sent_at_ms\":1e3," REC "}",
     "wrong_type: sent_at_ms", NULL},
    {"huge-time", "{\"request_id\":\"r-ht\",\"sent_at_ms\":99999999999999999999," REC "}",
     "wrong_type: sent_at_ms", NULL},
    {"bool-time", "{\"request_id\":\"r-bt\",\"sent_at_ms\":true," REC "}", "wrong_type: sent_at_ms",
     NULL},
    {"no-record", "{\"request_id\":\"r-nr\",\"sent_at_ms\":1}", "missing_field: record", NULL},
    {"null-record", "{\"request_id\":\"r-rn\",\"sent_at_ms\":1,\"record\":null}",
     "missing_field: record", NULL},
    {"string-record", "{\"request_id\":\"r-rs\",\"sent_at_ms\":1,\"record\":\"x\"}",
     "wrong_type: record", NULL},
    {"array-record", "{\"request_id\":\"r-ra\",\"sent_at_ms\":1,\"record\":[1]}",
     "wrong_type: record", NULL},
    {"empty-record", "{\"request_id\":\"r-re\",\"sent_at_ms\":1,\"record\":{}}",
     "missing_field: record.year", NULL},
    {"word-year", "{\"request_id\":\"r-wy\",\"sent_at_ms\":1,\"record\":{\"year\":\"abc\"}}",
     "not_a_number: year", NULL},
    {"old-year", "{\"request_id\":\"r-oy\",\"sent_at_ms\":1,\"record\":{\"year\":\"1900\"}}",
     "out_of_range: year", NULL},
    {"word-mileage",
     "{\"request_id\":\"r-wm\",\"sent_at_ms\":1,\"record\":{\"year\":\"2015\",\"mileage\":\"x\"}}",
     "not_a_number: mileage", NULL},
    {"negative-mileage",
     "{\"request_id\":\"r-nm\",\"sent_at_ms\":1,\"record\":{\"year\":\"2015\",\"mileage\":\"-5\"}}",
     "out_of_range: mileage", NULL},
};
#define N_REASON_CASES (sizeof reason_cases / sizeof reason_cases[0])

static void dead_letters_name_the_broken_rule(void **state)
{
    (void)state;
    inst_t t;
    topics_new(&t, "reasons");
    const char *keys[N_REASON_CASES], *values[N_REASON_CASES];
    size_t n_ok = 0;
    for (size_t i = 0; i < N_REASON_CASES; i++) {
        keys[i] = reason_cases[i].key;
        values[i] = reason_cases[i].value;
        n_ok += reason_cases[i].reason == NULL;
    }
    assert_int_equal(tk_produce(t.req_topic, keys, values, N_REASON_CASES), 0);
    serve_start(&t, "reasons", NULL);

    tk_msg_t *msgs = NULL;
    size_t got = tk_consume(t.dlq_topic, N_REASON_CASES - n_ok, 120000, &msgs);
    bool seen[N_REASON_CASES] = {false};
    for (size_t m = 0; m < got; m++) {
        json_t *o = json_loads(msgs[m].value, JSON_ALLOW_NUL, NULL);
        if (!o || !msgs[m].key)
            fail_msg("dead letter without JSON or key: %.200s", msgs[m].value);
        const char *reason = json_string_value(json_object_get(o, "reason"));
        size_t i = 0;
        while (i < N_REASON_CASES && strcmp(reason_cases[i].key, msgs[m].key) != 0)
            i++;
        if (i == N_REASON_CASES)
            fail_msg("dead letter for an unknown key %s", msgs[m].key);
        if (!reason_cases[i].reason || !reason || strcmp(reason, reason_cases[i].reason) != 0)
            fail_msg("%s: reason %s, want %s", msgs[m].key, reason ? reason : "(none)",
                     reason_cases[i].reason ? reason_cases[i].reason : "an answer");
        seen[i] = true;
        json_decref(o);
    }
    tk_msgs_free(msgs, got);
    got = tk_consume(t.pred_topic, n_ok, 60000, &msgs);
    for (size_t m = 0; m < got; m++) {
        json_t *o = json_loads(msgs[m].value, JSON_ALLOW_NUL, NULL);
        const char *id = o ? json_string_value(json_object_get(o, "request_id")) : NULL;
        size_t i = 0;
        while (i < N_REASON_CASES &&
               !(reason_cases[i].id && id && strcmp(reason_cases[i].id, id) == 0))
            i++;
        if (i == N_REASON_CASES)
            fail_msg("answer for an unexpected request: %.200s", msgs[m].value);
        assert_true(json_is_real(json_object_get(o, "predicted_price")));
        seen[i] = true;
        json_decref(o);
    }
    tk_msgs_free(msgs, got);
    for (size_t i = 0; i < N_REASON_CASES; i++)
        if (!seen[i])
            fail_msg("%s: no %s", reason_cases[i].key,
                     reason_cases[i].reason ? "dead letter" : "answer");
    serve_term(&t, 25);
}

/* SIGTERM or SIGKILL mid-stream, restart on the same checkpoint: every
 * request is answered (duplicates allowed, losses not). */
static void restart_loses_nothing(int sig, const char *tag, const char *const *extra)
{
    inst_t t;
    topics_new(&t, tag);
    char ids_path[320], run_id[64];
    snprintf(ids_path, sizeof ids_path, "%s/%s.ids", g_dir, tag);
    snprintf(run_id, sizeof run_id, "%s%d", tag, (int)getpid());
    /* A first request creates the topic, the rest stream while serve runs. */
    const char *warm_key[] = {"warm"};
    const char *warm_val[] = {"not a request"};
    assert_int_equal(tk_produce(t.req_topic, warm_key, warm_val, 1), 0);
    serve_start(&t, tag, extra);
    char lim[16];
    snprintf(lim, sizeof lim, "%d", N_REQ);
    char out[320];
    snprintf(out, sizeof out, "%s/requests-%s.out", g_dir, tag);
    const char *args[] = {"requests",
                          "--input",
                          g_req_csv,
                          "--requests-topic",
                          t.req_topic,
                          "--prices-topic",
                          t.prices_topic,
                          "--price-fraction",
                          "0",
                          "--limit",
                          lim,
                          "--rate",
                          "100",
                          "--run-id",
                          run_id,
                          "--ids-out",
                          ids_path,
                          NULL};
    pid_t producer = spawn(out, args);
    /* Mid-stream: some requests answered, most still to come. */
    tk_msg_t *early = NULL;
    size_t nearly = tk_consume(t.pred_topic, 50, 120000, &early);
    tk_msgs_free(early, nearly);
    assert_true(nearly >= 50);
    if (sig == 0) {
        /* The Spark Connect server dies (kill -9) and comes back; serve
         * itself runs on and must find out, re-create its session, reload
         * the model and resume from the checkpoint. */
        char cmd[1200];
        int n = snprintf(cmd, sizeof cmd,
                         "pid=$('%s' status spark | awk '$3 == \"pid\" {print $4}') && "
                         "[ -n \"$pid\" ] && kill -9 $pid && i=0 && "
                         "while kill -0 $pid 2>/dev/null && [ $i -lt 300 ]; do "
                         "sleep 0.2; i=$((i + 1)); done && "
                         "! kill -0 $pid 2>/dev/null && '%s' up spark >/dev/null",
                         g_stack, g_stack);
        assert_true(n > 0 && (size_t)n < sizeof cmd);
        assert_int_equal(system(cmd), 0);
        int st;
        assert_int_equal(waitpid(t.pid, &st, WNOHANG), 0); /* serve ran on */
    } else if (sig == SIGTERM) {
        serve_term(&t, 25);
    } else {
        kill(t.pid, SIGKILL);
        assert_int_equal(wait_exit(t.pid, 10), 128 + SIGKILL);
    }
    if (sig != 0) {
        sleep(1);
        serve_start(&t, tag, extra); /* same checkpoint */
    }
    assert_int_equal(wait_exit(producer, 120), 0);
    idset_t want;
    read_ids(ids_path, &want);
    assert_int_equal(want.n, N_REQ);
    tk_msg_t *msgs = NULL;
    size_t got = wait_answered(t.pred_topic, &want, want.n, 180, &msgs);
    double lat[N_REQ * 4];
    size_t nlat = 0;
    size_t dups = check_answers(msgs, got, &want, lat, sizeof lat / sizeof lat[0], &nlat);
    fprintf(stderr, "%s: %zu answers for %zu requests (%zu duplicates)\n", tag, got, want.n, dups);
    report_latency(tag, lat, nlat);
    tk_msgs_free(msgs, got);
    idset_free(&want);

    /* The restarted instance itself answers: after a kill -9 the old run
     * may have gone on in its orphaned session until this one took over. */
    char body[65536];
    double tr = now_s();
    while (http_get(t.port, "/readyz", body, sizeof body) != 200 && now_s() - tr < 90)
        usleep(200000);
    assert_int_equal(http_get(t.port, "/readyz", body, sizeof body), 200);
    snprintf(ids_path, sizeof ids_path, "%s/%s-after.ids", g_dir, tag);
    snprintf(run_id, sizeof run_id, "%safter%d", tag, (int)getpid());
    send_requests(&t, run_id, 50, "0", "0", ids_path, NULL, 0);
    idset_t after;
    read_ids(ids_path, &after);
    got = wait_answered(t.pred_topic, &after, after.n, 120, &msgs);
    size_t mine = 0;
    for (size_t i = 0; i < got; i++)
        mine += msgs[i].key && idset_has(&after, msgs[i].key);
    assert_true(mine >= after.n);
    tk_msgs_free(msgs, got);
    idset_free(&after);
    /* Counted when the batch completes: up to a real-time batch later. */
    long rows = -1;
    tr = now_s();
    do {
        usleep(500000);
        assert_int_equal(http_get(t.port, "/metrics", body, sizeof body), 200);
        const char *rt = strstr(body, "\ncarprice_serve_rows_total ");
        assert_non_null(rt);
        rows = atol(rt + strlen("\ncarprice_serve_rows_total "));
    } while (rows < 50 && now_s() - tr < 15);
    assert_true(rows >= 50);
    if (sig == 0) {
        const char *sr = strstr(body, "\ncarprice_serve_session_resets_total ");
        assert_non_null(sr);
        assert_true(atol(sr + strlen("\ncarprice_serve_session_resets_total ")) >= 1);
    }
    serve_term(&t, 25);
}

static void spark_server_killed_mid_stream(void **state)
{
    (void)state;
    restart_loses_nothing(0, "sparkkill", NULL);
}

static void sigterm_then_restart(void **state)
{
    (void)state;
    /* Micro-batches here, the real-time trigger (the default) below: both
     * triggers' stop and recovery paths are covered. */
    const char *pt[] = {"--trigger", "processing-time", NULL};
    restart_loses_nothing(SIGTERM, "term", pt);
}

static void kill9_then_restart(void **state)
{
    (void)state;
    restart_loses_nothing(SIGKILL, "kill", NULL);
}

/* Hand-over: B starts from A's committed offsets with its own checkpoint
 * while A still runs; A stops; together they answer every request, and each
 * answer names the version that made it. */
static void two_instances_hand_over(void **state)
{
    (void)state;
    inst_t a, b;
    topics_new(&a, "hand");
    char ids1[320], ids2[320], ids3[320], rid[64];
    snprintf(ids1, sizeof ids1, "%s/hand1.ids", g_dir);
    snprintf(ids2, sizeof ids2, "%s/hand2.ids", g_dir);
    snprintf(ids3, sizeof ids3, "%s/hand3.ids", g_dir);
    snprintf(rid, sizeof rid, "handa%d", (int)getpid());
    send_requests(&a, rid, 100, "0", "0", ids1, NULL, 0);
    serve_start(&a, "handa", NULL);
    idset_t w1;
    read_ids(ids1, &w1);
    tk_msg_t *msgs = NULL;
    size_t got = wait_answered(a.pred_topic, &w1, w1.n, 180, &msgs);
    check_answers(msgs, got, &w1, NULL, 0, NULL);
    tk_msgs_free(msgs, got);
    /* The commit follows the batch's output: with the real-time trigger, at
     * the end of the (2 s) batch that answered run 1. */
    double tc = now_s();
    long long committed;
    while ((committed = committed_total(a.ckpt)) < (long long)w1.n && now_s() - tc < 60)
        usleep(250000);
    assert_true(committed >= (long long)w1.n);

    /* B: same topics, model path given directly and labelled version 2. */
    b = a;
    char from[400];
    snprintf(from, sizeof from, "checkpoint:%s", a.ckpt);
    const char *extra[] = {"--model-path",
                           g_model_uri,
                           "--model-name",
                           g_model_name,
                           "--model-version",
                           "2",
                           "--starting-offsets",
                           from,
                           NULL};
    serve_start(&b, "handb", extra);
    snprintf(rid, sizeof rid, "handb%d", (int)getpid());
    send_requests(&a, rid, 100, "100", "0", ids2, NULL, 0);
    serve_term(&a, 25);
    snprintf(rid, sizeof rid, "handc%d", (int)getpid());
    send_requests(&a, rid, 100, "0", "0", ids3, NULL, 0);

    /* Every id of every run answered. */
    char cat[1400];
    char all[320];
    snprintf(all, sizeof all, "%s/hand-all.ids", g_dir);
    snprintf(cat, sizeof cat, "cat %s %s %s > %s", ids1, ids2, ids3, all);
    assert_int_equal(system(cat), 0);
    idset_t w;
    read_ids(all, &w);
    assert_int_equal(w.n, 300);
    got = wait_answered(a.pred_topic, &w, w.n, 180, &msgs);
    size_t dups = check_answers(msgs, got, &w, NULL, 0, NULL);
    /* Versions: run 1 only by A (1) before B existed... B started from A's
     * commit, so it never re-answers run 1; run 3 only by B (2). */
    idset_t w3;
    read_ids(ids3, &w3);
    size_t v1 = 0, v2 = 0;
    for (size_t i = 0; i < got; i++) {
        pred_t p;
        parse_pred(&msgs[i], &p);
        if (strcmp(p.version, "1") == 0)
            v1++;
        else if (strcmp(p.version, "2") == 0)
            v2++;
        else
            fail_msg("unexpected version %s", p.version);
        if (idset_has(&w1, p.id) && strcmp(p.version, "2") == 0)
            fail_msg("B re-answered %s from before A's committed offsets", p.id);
        if (idset_has(&w3, p.id) && strcmp(p.version, "1") == 0)
            fail_msg("A answered %s after it stopped", p.id);
    }
    fprintf(stderr, "hand-over: %zu answers, %zu duplicates, version 1: %zu, version 2: %zu\n", got,
            dups, v1, v2);
    assert_true(v2 >= 100);
    tk_msgs_free(msgs, got);
    serve_term(&b, 25);
    idset_free(&w);
    idset_free(&w1);
    idset_free(&w3);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_serve CARPRICE_BIN SQL_DIR [SCRIPTS_STACK]\n");
        return 2;
    }
    g_bin = argv[1];
    g_sql_dir = argv[2];
    const char *filter = getenv("SERVE_TEST_FILTER"); /* e.g. "*kill*" while debugging */
    if (filter && *filter)
        cmocka_set_test_filter(filter);
    if (argc >= 4) {
        /* The fault run (ctest label "fault"): it restarts the stack's
         * Spark Connect server, so it runs only where that is allowed. */
        g_stack = argv[3];
        const struct CMUnitTest fault[] = {
            cmocka_unit_test_teardown(spark_server_killed_mid_stream, teardown),
        };
        return cmocka_run_group_tests(fault, setup, group_teardown);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(bad_flags_and_unknown_model, teardown),
        cmocka_unit_test_teardown(answers_every_request_and_dead_letters, teardown),
        cmocka_unit_test_teardown(dead_letters_name_the_broken_rule, teardown),
        cmocka_unit_test_teardown(sigterm_then_restart, teardown),
        cmocka_unit_test_teardown(kill9_then_restart, teardown),
        cmocka_unit_test_teardown(two_instances_hand_over, teardown),
    };
    return cmocka_run_group_tests(tests, setup, group_teardown);
}
