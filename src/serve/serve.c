/* carprice serve: model resolution, the supervisor of the streaming queries,
 * health and metrics (see include/carprice/serve.h and docs/serve.md). */
#define _GNU_SOURCE
#include "carprice/serve.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "carprice/log.h"
/* 1 in carprice (resolves registry models through MLflow, then hands over to
 * carprice-serve); 0 in carprice-serve, built without the REST client and so
 * without libcurl and the libraries it loads (apps/CMakeLists.txt). */
#ifndef CARPRICE_SERVE_REGISTRY
#define CARPRICE_SERVE_REGISTRY 1
#endif
#if CARPRICE_SERVE_REGISTRY
#include "carprice/mlflow.h"
#endif
#include "carprice/util.h"
#include "httpd.h"
#include "serve_internal.h"
#if CARPRICE_SERVE_HAVE_METRICS
#include "metrics.h"
#endif

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
/* /healthz fails when Spark has not answered for this long. */
#define SPARK_STALE_S 15.0

/* What /healthz, /readyz and /metrics report; written by the supervisor,
 * read by the HTTP thread, under st_mu. */
typedef struct {
    bool spark_ok;
    double spark_ok_at; /* cp_now_s() of the last answer from Spark */
    bool model_loaded;
    bool query_active;
    bool first_batch; /* the current run reported progress (a batch, or idle) */
    bool real_time;   /* the current run uses the real-time trigger */
    bool metrics_enabled, metrics_active;
    int64_t rows_total;    /* input rows of completed batches, this process */
    int64_t batches_total; /* batches that read rows */
    int64_t last_counted;  /* highest batch id counted */
    int64_t last_batch_id;
    double input_rate, processed_rate, trigger_ms;
    int64_t restarts; /* query rebuilds after a failure */
    int64_t session_resets;
    double started_at;
} state_t;

struct cp_serve_s {
    cp_serve_opts_t o;
    char *owned[32]; /* copies of the option strings */
    size_t nowned;
    char *record_type;
    char *features_sql;
    char *model_path, *model_name, *model_version;
    char *pred_ckpt, *metrics_ckpt;
    sc_session_t *s;
    sc_error_t *err;
    sc_model_t *model;
    sc_query_t *q;  /* prediction query */
    sc_query_t *mq; /* live-metrics query */
    int stop_pipe[2];
    volatile sig_atomic_t stopping;
    cp_httpd_t *httpd;
    serve_watch_t *watch; /* Kafka-side numbers for /metrics, or NULL */
    long backoff_ms;
    double next_attempt; /* cp_now_s() before which no rebuild is tried */
    double metrics_next_attempt;
    long metrics_backoff_ms;
    char lasterr[512];
    char sparkmsg[400]; /* spark_msg's; never lasterr, which quotes it */
    bool rt_refused;    /* the server refused the real-time trigger: processing-time */
    pthread_mutex_t st_mu;
    state_t st;
};

void cp_serve_opts_init(cp_serve_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->requests_topic = "carprice.requests";
    o->predictions_topic = "carprice.predictions";
    o->dlq_topic = "carprice.requests.dlq";
    o->prices_topic = "carprice.prices";
    o->metrics_topic = "carprice.metrics";
    o->model = "carprice@champion";
    o->model_name = "carprice";
    o->model_version = "unknown";
    o->starting_offsets = "earliest";
    o->query_name = "carprice_serve";
    o->trigger_ms = 500;
    o->real_time_ms = 15000;
    o->kafka_linger_ms = 5;
    o->stop_timeout_ms = 30000;
    o->poll_ms = 1000;
    o->http_port = 8080;
    o->metrics = true;
    o->metrics_window = "5 minutes";
    o->metrics_slide = "1 minute";
}

static int errf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int errf(char *buf, size_t len, const char *fmt, ...)
{
    if (len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, len, fmt, ap);
        va_end(ap);
        buf[strcspn(buf, "\n")] = '\0';
    }
    return -1;
}

/* One line of the Spark error in sv->err. */
static const char *spark_msg(cp_serve_t *sv)
{
    const char *msg = sc_error_message(sv->err);
    const char *cls = sc_error_class(sv->err);
    snprintf(sv->sparkmsg, sizeof sv->sparkmsg, "%.*s%s%s%s", (int)strcspn(msg, "\n"), msg,
             *cls ? " [" : "", cls, *cls ? "]" : "");
    return sv->sparkmsg;
}

static int own(cp_serve_t *sv, const char **field)
{
    if (!*field)
        return 0;
    if (sv->nowned == sizeof sv->owned / sizeof sv->owned[0])
        return -1;
    char *c = strdup(*field);
    if (!c)
        return -1;
    sv->owned[sv->nowned++] = c;
    *field = c;
    return 0;
}

static char *read_file(const char *path, char *errbuf, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        errf(errbuf, errlen, "cannot read %s: %s (set --sql-dir or CARPRICE_SQL_DIR)", path,
             strerror(errno));
        return NULL;
    }
    cp_buf_t b;
    cp_buf_init(&b, 1u << 20);
    char chunk[4096];
    size_t n;
    int bad = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (cp_buf_append(&b, chunk, n) != 0)
            bad = 1;
    if (ferror(f) || bad || !b.data) {
        fclose(f);
        cp_buf_free(&b);
        errf(errbuf, errlen, "cannot read %s", path);
        return NULL;
    }
    fclose(f);
    return cp_buf_steal(&b);
}

/* "struct<`vin`: string, ...>" from sql/raw_schema.ddl without the price. */
static char *record_type(const char *ddl, char *errbuf, size_t errlen)
{
    cp_buf_t b;
    cp_buf_init(&b, 64 * 1024);
    cp_buf_printf(&b, "struct<");
    size_t ncols = 0;
    for (const char *line = ddl; *line;) {
        size_t len = strcspn(line, "\n");
        const char *p = line + strspn(line, " \t");
        if (*p == '`') {
            const char *end = memchr(p + 1, '`', len - (size_t)(p - line));
            if (end && !(end - p - 1 == 5 && strncmp(p + 1, "price", 5) == 0)) {
                cp_buf_printf(&b, "%s`%.*s`: string", ncols ? ", " : "", (int)(end - p - 1), p + 1);
                ncols++;
            }
        }
        line += len + (line[len] == '\n');
    }
    if (cp_buf_printf(&b, ">") != 0 || ncols < 10) {
        cp_buf_free(&b);
        errf(errbuf, errlen, "raw_schema.ddl: expected the raw columns as `name` STRING lines");
        return NULL;
    }
    return cp_buf_steal(&b);
}

#if CARPRICE_SERVE_REGISTRY
/* Resolves NAME@ALIAS or NAME/VERSION through the registry: the version and
 * its tag model_path. */
static int resolve_model(cp_serve_t *sv, char *errbuf, size_t errlen)
{
    const char *spec = sv->o.model;
    const char *at = strchr(spec, '@'), *slash = strrchr(spec, '/');
    const char *sep = at ? at : slash;
    if (!sep || sep == spec || !sep[1]) {
        return errf(errbuf, errlen, "--model '%s': expected NAME@ALIAS or NAME/VERSION", spec);
    }
    char *name = strndup(spec, (size_t)(sep - spec));
    cp_mlflow_config_t cfg = {.tracking_uri = sv->o.tracking_uri};
    cp_mlflow_t *m = NULL;
    cp_rest_error_t *rerr = cp_rest_error_new();
    cp_mlflow_model_version_t *mv = NULL;
    int rc = -1;
    if (!name || !rerr) {
        errf(errbuf, errlen, "out of memory");
        goto done;
    }
    cp_rest_code_t c = cp_mlflow_new(&cfg, &m, rerr);
    if (c == CP_REST_OK)
        c = at ? cp_mlflow_model_alias_get(m, name, sep + 1, &mv, rerr)
               : cp_mlflow_model_version_get(m, name, sep + 1, &mv, rerr);
    if (c != CP_REST_OK) {
        errf(errbuf, errlen, "model %s: %s (%s)", spec,
             c == CP_REST_ERR_NOT_FOUND ? "not in the MLflow registry"
                                        : "cannot ask the MLflow registry",
             cp_rest_error_message(rerr));
        goto done;
    }
    const char *path = cp_mlflow_model_version_tag(mv, "model_path");
    if (!path || !*path) {
        errf(errbuf, errlen, "model %s (version %s) has no tag model_path", spec,
             cp_mlflow_model_version_version(mv));
        goto done;
    }
    sv->model_path = strdup(path);
    sv->model_name = name;
    name = NULL;
    sv->model_version = strdup(cp_mlflow_model_version_version(mv));
    if (!sv->model_path || !sv->model_version) {
        errf(errbuf, errlen, "out of memory");
        goto done;
    }
    rc = 0;
done:
    free(name);
    cp_mlflow_model_version_destroy(mv);
    cp_mlflow_destroy(m);
    cp_rest_error_destroy(rerr);
    return rc;
}

/* The serving image next to this program (carprice-serve in the directory of
 * /proc/self/exe), unless CARPRICE_SERVE_IN_PROCESS is set to anything but 0. */
static bool lean_image(char *path, size_t len)
{
    const char *env = getenv("CARPRICE_SERVE_IN_PROCESS");
    if (env && *env && strcmp(env, "0") != 0)
        return false;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return false;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return false;
    *slash = '\0';
    int w = snprintf(path, len, "%s/carprice-serve", self);
    return w > 0 && (size_t)w < len && access(path, X_OK) == 0;
}

/* Replaces the process image with carprice-serve: the same PID, environment
 * and arguments (this process's own, from /proc/self/cmdline), followed by
 * the resolved model, which later flags override. Stop signals stay blocked
 * across the exec and are delivered once carprice-serve has its handlers.
 * Returns only if the exec is not possible; serving then goes on here. */
static void hand_over(cp_serve_t *sv, const char *image)
{
    cp_buf_t b;
    cp_buf_init(&b, 4u << 20);
    FILE *f = fopen("/proc/self/cmdline", "r");
    char chunk[4096];
    size_t n;
    int bad = !f;
    while (f && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (cp_buf_append(&b, chunk, n) != 0)
            bad = 1;
    if (f)
        fclose(f);
    size_t nargs = 0;
    for (size_t i = 0; !bad && i < b.len; i++)
        nargs += b.data[i] == '\0';
    const char **argv = bad ? NULL : calloc(nargs + 8, sizeof *argv);
    if (!argv) {
        cp_buf_free(&b);
        return;
    }
    size_t argc = 0;
    for (size_t i = 0; i < b.len; i += strlen(b.data + i) + 1)
        argv[argc++] = b.data + i;
    /* main() dispatched on argv[1]; anything else is not ours to re-run. */
    if (argc < 2 || strcmp(argv[1], "serve") != 0) {
        free(argv);
        cp_buf_free(&b);
        return;
    }
    argv[0] = image;
    if (!sv->o.model_path || !*sv->o.model_path) {
        argv[argc++] = "--model-path";
        argv[argc++] = sv->model_path;
        argv[argc++] = "--model-name";
        argv[argc++] = sv->model_name;
        argv[argc++] = "--model-version";
        argv[argc++] = sv->model_version;
    }
    argv[argc] = NULL;
    cp_log_info("serve.exec", "image=%s", image);
    fflush(NULL);
    execv(image, (char *const *)argv);
    cp_log_warn("serve.exec_failed", "image=%s detail=\"%s\" in_process=1", image, strerror(errno));
    free(argv);
    cp_buf_free(&b);
}
#else
static int resolve_model(cp_serve_t *sv, char *errbuf, size_t errlen)
{
    return errf(errbuf, errlen,
                "--model %s: carprice-serve has no MLflow client; run carprice serve, or give "
                "--model-path",
                sv->o.model);
}
#endif

static bool valid_topic(const char *t)
{
    size_t n = t ? strlen(t) : 0;
    return n > 0 && n <= 249 &&
           strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static int check_opts(const cp_serve_opts_t *o, char *errbuf, size_t errlen)
{
    const char *topics[][2] = {{"--requests-topic", o->requests_topic},
                               {"--predictions-topic", o->predictions_topic},
                               {"--dlq-topic", o->dlq_topic},
                               {"--prices-topic", o->prices_topic},
                               {"--metrics-topic", o->metrics_topic}};
    for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++)
        if (!valid_topic(topics[i][1]))
            return errf(errbuf, errlen, "%s '%s': not a Kafka topic name", topics[i][0],
                        topics[i][1] ? topics[i][1] : "");
    if (!o->checkpoint || !*o->checkpoint)
        return errf(errbuf, errlen, "no checkpoint directory (--checkpoint-dir)");
    if (!o->sql_dir || !*o->sql_dir)
        return errf(errbuf, errlen, "no SQL directory (--sql-dir)");
    if (o->trigger_ms < 1 || o->trigger_ms > 3600000)
        return errf(errbuf, errlen, "--trigger-ms %ld: expected 1 .. 3600000", o->trigger_ms);
    if (o->kafka_linger_ms < 0 || o->kafka_linger_ms > 10000)
        return errf(errbuf, errlen, "--kafka-linger-ms %ld: expected 0 .. 10000",
                    o->kafka_linger_ms);
    if (o->real_time_ms < 100 || o->real_time_ms > 3600000)
        return errf(errbuf, errlen, "--real-time-ms %ld: expected 100 .. 3600000", o->real_time_ms);
    if (!o->processing_time && o->async_progress)
        return errf(errbuf, errlen,
                    "--async-progress needs --trigger processing-time (the real-time trigger "
                    "already commits progress asynchronously)");
    if (o->stop_timeout_ms < 1000)
        return errf(errbuf, errlen, "--stop-timeout %ld ms: at least 1000", o->stop_timeout_ms);
    if (o->poll_ms < 50)
        return errf(errbuf, errlen, "poll interval %ld ms: at least 50", o->poll_ms);
    if (o->http_port < -1 || o->http_port > 65535)
        return errf(errbuf, errlen, "--http-port %d: expected 0 .. 65535", o->http_port);
    if (o->min_partitions < 0 || o->min_partitions > 10000)
        return errf(errbuf, errlen, "--min-partitions must be 0 .. 10000");
    if (o->max_offsets_per_trigger < 0)
        return errf(errbuf, errlen, "--max-offsets-per-trigger must be >= 0");
    const char *so = o->starting_offsets;
    if (!so || (strcmp(so, "earliest") != 0 && strcmp(so, "latest") != 0 && so[0] != '{'))
        return errf(errbuf, errlen,
                    "--starting-offsets '%s': expected earliest, latest or Kafka offsets JSON",
                    so ? so : "");
    if (!o->query_name || !*o->query_name ||
        strspn(o->query_name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") !=
            strlen(o->query_name))
        return errf(errbuf, errlen, "--query-name: letters, digits and _ only");
#if CARPRICE_SERVE_HAVE_METRICS
    /* The live-metrics durations are refused now, not when that query starts
     * after the model has loaded. */
    if (o->metrics) {
        cp_live_metrics_opts_t mo;
        cp_live_metrics_opts_init(&mo);
        mo.window = o->metrics_window;
        mo.slide = o->metrics_slide;
        if (o->metrics_price_bound)
            mo.price_bound = o->metrics_price_bound;
        if (o->metrics_watermark_delay)
            mo.watermark_delay = o->metrics_watermark_delay;
        static const char *const flags[5] = {"--metrics-window", "--metrics-slide",
                                             "--metrics-price-bound", "--metrics-watermark-delay",
                                             "trigger interval"};
        char err[400];
        if (cp_live_metrics_check_durations(&mo, flags, err, sizeof err) != 0)
            return errf(errbuf, errlen, "%s", err);
    }
#endif
    return 0;
}

int cp_serve_new(const cp_serve_opts_t *opts, cp_serve_t **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    if (check_opts(opts, errbuf, errlen) != 0)
        return -1;
    cp_serve_t *sv = calloc(1, sizeof *sv);
    if (!sv)
        return errf(errbuf, errlen, "out of memory");
    sv->stop_pipe[0] = sv->stop_pipe[1] = -1;
    pthread_mutex_init(&sv->st_mu, NULL);
    sv->st.last_counted = -1;
    sv->st.last_batch_id = -1;
    sv->st.started_at = cp_now_s();
    sv->o = *opts;
    cp_serve_opts_t *o = &sv->o;
    const char **fields[] = {&o->remote,
                             &o->bootstrap,
                             &o->requests_topic,
                             &o->predictions_topic,
                             &o->dlq_topic,
                             &o->prices_topic,
                             &o->metrics_topic,
                             &o->model,
                             &o->model_path,
                             &o->model_name,
                             &o->model_version,
                             &o->tracking_uri,
                             &o->sql_dir,
                             &o->checkpoint,
                             &o->starting_offsets,
                             &o->query_name,
                             &o->metrics_window,
                             &o->metrics_slide,
                             &o->metrics_price_bound,
                             &o->metrics_watermark_delay};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (own(sv, fields[i]) != 0) {
            errf(errbuf, errlen, "out of memory");
            goto fail;
        }
    if (!o->remote || !*o->remote)
        o->remote = "sc://127.0.0.1:15002";
    if (!o->bootstrap || !*o->bootstrap)
        o->bootstrap = "127.0.0.1:9092";
    if (pipe2(sv->stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        errf(errbuf, errlen, "pipe: %s", strerror(errno));
        goto fail;
    }
    /* Checkpoints: one directory per query under the root. */
    const char *root = o->checkpoint;
    size_t rl = strlen(root);
    while (rl > 1 && root[rl - 1] == '/')
        rl--;
    sv->pred_ckpt = cp_strf("%.*s/predictions", (int)rl, root);
    sv->metrics_ckpt = cp_strf("%.*s/metrics", (int)rl, root);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/raw_schema.ddl", o->sql_dir);
    char *ddl = read_file(path, errbuf, errlen);
    if (!ddl)
        goto fail;
    sv->record_type = record_type(ddl, errbuf, errlen);
    free(ddl);
    if (!sv->record_type)
        goto fail;
    snprintf(path, sizeof path, "%s/features.sql", o->sql_dir);
    if (!(sv->features_sql = read_file(path, errbuf, errlen)))
        goto fail;

    /* Stop signals wait (blocked, pending) until the serving image has its
     * handlers: carprice blocks them before it hands over; carprice-serve
     * lets them in. */
    sigset_t stops, old_mask;
    sigemptyset(&stops);
    sigaddset(&stops, SIGTERM);
    sigaddset(&stops, SIGINT);
#if CARPRICE_SERVE_REGISTRY
    char image[PATH_MAX];
    bool lean = lean_image(image, sizeof image);
    if (lean)
        pthread_sigmask(SIG_BLOCK, &stops, &old_mask);
#else
    pthread_sigmask(SIG_UNBLOCK, &stops, &old_mask);
#endif

    /* The model: a direct path, or the registry. */
    int mrc = 0;
    if (o->model_path && *o->model_path) {
        sv->model_path = strdup(o->model_path);
        sv->model_name = strdup(o->model_name);
        sv->model_version = strdup(o->model_version);
    } else {
        mrc = resolve_model(sv, errbuf, errlen);
    }
    if (mrc == 0 && (!sv->model_path || !sv->model_name || !sv->model_version))
        mrc = errf(errbuf, errlen, "out of memory");
#if CARPRICE_SERVE_REGISTRY
    /* Serving needs neither the MLflow client nor libcurl: carprice-serve,
     * built without them, is 6-7 MB smaller resident (docs/serve.md). */
    if (lean) {
        if (mrc == 0)
            hand_over(sv, image);
        pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    }
#endif
    if (mrc != 0)
        goto fail;
    cp_log_info("serve.model", "name=%s version=%s path=%s", sv->model_name, sv->model_version,
                sv->model_path);

    /* Spark: connect, and load the model now so that a bad one fails here. */
    sv->err = sc_error_new();
    sc_session_options_t so;
    sc_session_options_init(&so);
    so.rpc_timeout_ms = 30000;
    if (!sv->err || sc_session_new(o->remote, &so, &sv->s, sv->err) != SC_OK ||
        sc_session_ping(sv->s, sv->err) != SC_OK) {
        errf(errbuf, errlen, "Spark Connect at %s: %s", o->remote,
             sv->err ? spark_msg(sv) : "out of memory");
        goto fail;
    }
    /* Keep the session (and its queries) alive on servers that expire idle ones. */
    sc_session_keepalive(sv->s, 60000, NULL);
    if (sc_pipeline_read(sv->s, sv->model_path, &sv->model, sv->err) != SC_OK) {
        errf(errbuf, errlen, "loading the model from %s: %s", sv->model_path, spark_msg(sv));
        goto fail;
    }
    sv->st.model_loaded = true;
    sv->st.spark_ok = true;
    sv->st.spark_ok_at = cp_now_s();
    *out = sv;
    return 0;
fail:
    cp_serve_destroy(sv);
    return -1;
}

/* ---- the queries ---- */

static void drop_query(sc_query_t **q)
{
    sc_query_destroy(*q);
    *q = NULL;
}

static int start_predictions(cp_serve_t *sv)
{
    serve_plan_t p = {.s = sv->s, .err = sv->err};
    serve_plan_in_t in = {.bootstrap = sv->o.bootstrap,
                          .requests_topic = sv->o.requests_topic,
                          .predictions_topic = sv->o.predictions_topic,
                          .dlq_topic = sv->o.dlq_topic,
                          .starting_offsets = sv->o.starting_offsets,
                          .max_offsets_per_trigger = sv->o.max_offsets_per_trigger,
                          .min_partitions = sv->o.min_partitions,
                          .record_type = sv->record_type,
                          .features_sql = sv->features_sql,
                          .model = sv->model,
                          .model_name = sv->model_name,
                          .model_version = sv->model_version};
    /* The plan's two JSON readers must agree on what is JSON: from_json
     * takes an object with a repeated name (the last one wins) and a string
     * with an unpaired surrogate escape ("\ud800"), and so must the variant
     * parser that names the reason of a rejected request. Read when the plan
     * is analysed. */
    const char *json_rules[][2] = {{"spark.sql.variant.allowDuplicateKeys", "true"},
                                   {"spark.sql.variant.validateUnicodeInJsonParsing", "false"}};
    for (size_t i = 0; i < sizeof json_rules / sizeof json_rules[0]; i++)
        if (sc_session_conf_set(sv->s, json_rules[i][0], json_rules[i][1], sv->err) != SC_OK) {
            snprintf(sv->lasterr, sizeof sv->lasterr, "setting %s: %s", json_rules[i][0],
                     spark_msg(sv));
            return -1;
        }
    sc_df_t *df = NULL;
    if (serve_plan_build(&p, &in, &df) != 0) {
        snprintf(sv->lasterr, sizeof sv->lasterr, "%s", p.errbuf);
        return -1;
    }
    bool rt = !sv->o.processing_time && !sv->rt_refused;
    /* Spark refuses real-time batches shorter than this session conf (5 s by
     * default); in serve's own session the operator's --real-time-ms is the
     * floor that counts. */
    if (rt) {
        char ms[32];
        snprintf(ms, sizeof ms, "%ld", sv->o.real_time_ms);
        if (sc_session_conf_set(sv->s, "spark.sql.streaming.realTimeMode.minBatchDuration", ms,
                                sv->err) != SC_OK) {
            snprintf(sv->lasterr, sizeof sv->lasterr, "setting the real-time batch floor: %s",
                     spark_msg(sv));
            sc_df_destroy(df);
            return -1;
        }
    }
    char interval[64];
    snprintf(interval, sizeof interval, "%ld milliseconds",
             rt ? sv->o.real_time_ms : sv->o.trigger_ms);
    /* Async progress tracking writes the offset log and commits off the
     * batch's critical path (Kafka sink only); recovery may then re-run a
     * few more batches: duplicates, never losses. */
    /* The sink's producer waits up to linger.ms to fill a Kafka batch: the
     * client's default 0 sends each answer on its own once the stream is
     * busy, and the broker's per-request work then bounded throughput (a
     * backlog went from ~5,400 to ~8,700 answers/s with 5 ms). */
    char linger[32];
    snprintf(linger, sizeof linger, "%ld", sv->o.kafka_linger_ms);
    const char *wk[] = {"kafka.bootstrap.servers", "kafka.linger.ms",
                        "asyncProgressTrackingEnabled"};
    const char *wv[] = {sv->o.bootstrap, linger, "true"};
    sc_stream_opts_t so = {.format = "kafka",
                           .query_name = sv->o.query_name,
                           .checkpoint = sv->pred_ckpt,
                           .trigger = rt ? SC_TRIGGER_REAL_TIME : SC_TRIGGER_PROCESSING_TIME,
                           /* The real-time trigger takes "update" only; for a
                            * query without aggregations it means the same. */
                           .output_mode = rt ? "update" : "append",
                           .interval = interval,
                           .option_keys = wk,
                           .option_values = wv,
                           .noptions = sv->o.async_progress ? 3 : 2};
    sc_code_t rc = sc_stream_start(df, &so, &sv->q, sv->err);
    if (rc != SC_OK && rt && serve_real_time_refused(sc_error_class(sv->err))) {
        /* This server or this query cannot run in real-time mode (an older
         * Spark, a plan outside its allow-list): micro-batches instead. */
        cp_log_warn("serve.real_time_refused", "detail=\"%s\" fallback_trigger_ms=%ld",
                    spark_msg(sv), sv->o.trigger_ms);
        sv->rt_refused = true;
        rt = false;
        snprintf(interval, sizeof interval, "%ld milliseconds", sv->o.trigger_ms);
        so.trigger = SC_TRIGGER_PROCESSING_TIME;
        so.output_mode = "append";
        rc = sc_stream_start(df, &so, &sv->q, sv->err);
    }
    sc_df_destroy(df);
    if (rc != SC_OK) {
        snprintf(sv->lasterr, sizeof sv->lasterr, "starting the prediction query: %s",
                 spark_msg(sv));
        return -1;
    }
    cp_log_info("serve.query_started",
                "query=%s id=%s run_id=%s checkpoint=%s trigger=%s trigger_ms=%ld",
                sv->o.query_name, sc_query_id(sv->q), sc_query_run_id(sv->q), sv->pred_ckpt,
                rt ? "real-time" : "processing-time", rt ? sv->o.real_time_ms : sv->o.trigger_ms);
    pthread_mutex_lock(&sv->st_mu);
    sv->st.query_active = true;
    sv->st.first_batch = false;
    sv->st.real_time = rt;
    pthread_mutex_unlock(&sv->st_mu);
    return 0;
}

static int start_metrics(cp_serve_t *sv)
{
#if CARPRICE_SERVE_HAVE_METRICS
    cp_live_metrics_opts_t mo;
    cp_live_metrics_opts_init(&mo);
    mo.bootstrap = sv->o.bootstrap;
    mo.predictions_topic = sv->o.predictions_topic;
    mo.prices_topic = sv->o.prices_topic;
    mo.metrics_topic = sv->o.metrics_topic;
    mo.checkpoint = sv->metrics_ckpt;
    mo.window = sv->o.metrics_window;
    mo.slide = sv->o.metrics_slide;
    if (sv->o.metrics_price_bound)
        mo.price_bound = sv->o.metrics_price_bound;
    if (sv->o.metrics_watermark_delay)
        mo.watermark_delay = sv->o.metrics_watermark_delay;
    char qn[128];
    snprintf(qn, sizeof qn, "%.52s_metrics", sv->o.query_name);
    mo.query_name = qn;
    char err[400];
    if (cp_live_metrics_start(sv->s, &mo, &sv->mq, err, sizeof err) != 0) {
        snprintf(sv->lasterr, sizeof sv->lasterr, "starting the live-metrics query: %s", err);
        return -1;
    }
    cp_log_info("serve.metrics_started", "query=%s id=%s checkpoint=%s", qn, sc_query_id(sv->mq),
                sv->metrics_ckpt);
    pthread_mutex_lock(&sv->st_mu);
    sv->st.metrics_active = true;
    pthread_mutex_unlock(&sv->st_mu);
    return 0;
#else
    (void)sv;
    cp_log_warn("serve.metrics_unavailable", "reason=\"built without src/serve/metrics.c\"");
    return 0;
#endif
}

static void on_progress(const serve_progress_t *p, void *opaque)
{
    state_t *st = opaque;
    /* Any report, an idle one included, means this run has planned against
     * its source and caught up: ready even when no traffic has come yet. */
    st->first_batch = true;
    if (!p->ran_batch)
        return;
    if (p->batch_id > st->last_counted) {
        st->last_counted = p->batch_id;
        st->rows_total += p->num_input_rows;
        if (p->num_input_rows > 0)
            st->batches_total++;
    }
    if (p->batch_id >= st->last_batch_id) {
        st->last_batch_id = p->batch_id;
        st->input_rate = p->input_rate;
        st->processed_rate = p->processed_rate;
        st->trigger_ms = p->trigger_ms;
    }
}

static void schedule_retry(cp_serve_t *sv)
{
    sv->backoff_ms = sv->backoff_ms ? sv->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (sv->backoff_ms > BACKOFF_MAX_MS)
        sv->backoff_ms = BACKOFF_MAX_MS;
    sv->next_attempt = cp_now_s() + (double)sv->backoff_ms / 1000.0;
}

/* After SC_ERR_SESSION_LOST: the server restarted; its queries, views and
 * cached models are gone. A new server-side session, then everything anew. */
static void recover_session(cp_serve_t *sv)
{
    cp_log_warn("serve.session_lost", "detail=\"%s\"", spark_msg(sv));
    drop_query(&sv->q);
    drop_query(&sv->mq);
    sc_model_free(sv->model);
    sv->model = NULL;
    pthread_mutex_lock(&sv->st_mu);
    sv->st.model_loaded = sv->st.query_active = sv->st.metrics_active = false;
    sv->st.session_resets++;
    pthread_mutex_unlock(&sv->st_mu);
    if (sc_session_reset(sv->s, sv->err) != SC_OK) {
        cp_log_warn("serve.session_reset_failed", "detail=\"%s\"", spark_msg(sv));
        schedule_retry(sv);
        return;
    }
    sv->next_attempt = 0;
}

static void set_spark(cp_serve_t *sv, bool ok)
{
    pthread_mutex_lock(&sv->st_mu);
    sv->st.spark_ok = ok;
    if (ok)
        sv->st.spark_ok_at = cp_now_s();
    pthread_mutex_unlock(&sv->st_mu);
}

/* (Re)builds what is missing: model, prediction query, metrics query. */
static void rebuild(cp_serve_t *sv)
{
    if (cp_now_s() < sv->next_attempt)
        return;
    if (!sv->model) {
        if (sc_pipeline_read(sv->s, sv->model_path, &sv->model, sv->err) != SC_OK) {
            if (sc_error_code(sv->err) == SC_ERR_SESSION_LOST) {
                recover_session(sv);
                return;
            }
            cp_log_error("serve.model_load_failed", "path=%s detail=\"%s\" retry_ms=%ld",
                         sv->model_path, spark_msg(sv), sv->backoff_ms);
            set_spark(sv, sc_error_code(sv->err) != SC_ERR_TRANSPORT);
            schedule_retry(sv);
            return;
        }
        set_spark(sv, true);
        pthread_mutex_lock(&sv->st_mu);
        sv->st.model_loaded = true;
        pthread_mutex_unlock(&sv->st_mu);
    }
    if (!sv->q) {
        if (start_predictions(sv) != 0) {
            if (sc_error_code(sv->err) == SC_ERR_SESSION_LOST) {
                recover_session(sv);
                return;
            }
            schedule_retry(sv);
            cp_log_error("serve.query_start_failed", "detail=\"%s\" retry_ms=%ld", sv->lasterr,
                         sv->backoff_ms);
            return;
        }
        pthread_mutex_lock(&sv->st_mu);
        sv->st.restarts++;
        pthread_mutex_unlock(&sv->st_mu);
    }
    if (sv->o.metrics && !sv->mq && cp_now_s() >= sv->metrics_next_attempt) {
        if (start_metrics(sv) != 0) {
            sv->metrics_backoff_ms =
                sv->metrics_backoff_ms ? sv->metrics_backoff_ms * 2 : BACKOFF_MIN_MS;
            if (sv->metrics_backoff_ms > BACKOFF_MAX_MS)
                sv->metrics_backoff_ms = BACKOFF_MAX_MS;
            sv->metrics_next_attempt = cp_now_s() + (double)sv->metrics_backoff_ms / 1000.0;
            cp_log_error("serve.metrics_start_failed", "detail=\"%s\" retry_ms=%ld", sv->lasterr,
                         sv->metrics_backoff_ms);
        }
    }
}

/* Checks one query; returns false when it is gone (handle dropped). */
static bool check_query(cp_serve_t *sv, sc_query_t **q, const char *what)
{
    sc_query_status_t st;
    if (sc_query_status(*q, &st, sv->err) != SC_OK) {
        if (sc_error_code(sv->err) == SC_ERR_SESSION_LOST) {
            recover_session(sv);
            return false;
        }
        if (sc_error_code(sv->err) == SC_ERR_TRANSPORT ||
            sc_error_code(sv->err) == SC_ERR_TIMEOUT) {
            bool was_ok;
            pthread_mutex_lock(&sv->st_mu);
            was_ok = sv->st.spark_ok;
            pthread_mutex_unlock(&sv->st_mu);
            if (was_ok)
                cp_log_warn("serve.spark_unreachable", "detail=\"%s\"", spark_msg(sv));
            set_spark(sv, false);
            return true; /* the query may still run; ask again next time */
        }
        /* The server answered but does not know the query (e.g. it restarted
         * and our session was re-created): treat it as gone and rebuild; a
         * lost session shows up there and is recovered. */
        cp_log_warn("serve.status_failed", "query=%s detail=\"%s\"", what, spark_msg(sv));
        drop_query(q);
        return false;
    }
    set_spark(sv, true);
    if (st.active)
        return true;
    char *exc = NULL;
    sc_query_exception(*q, &exc, NULL, NULL);
    for (char *c = exc; c && *c; c++) /* one log line per event */
        if (*c == '\n' || *c == '\r' || *c == '"')
            *c = *c == '"' ? '\'' : ' ';
    cp_log_error("serve.query_died", "query=%s exception=\"%.300s\"", what,
                 exc ? exc : "none (stopped)");
    free(exc);
    drop_query(q);
    return false;
}

static void supervise(cp_serve_t *sv)
{
    if (sv->q) {
        if (!check_query(sv, &sv->q, "predictions")) {
            pthread_mutex_lock(&sv->st_mu);
            sv->st.query_active = false;
            pthread_mutex_unlock(&sv->st_mu);
            if (sv->model) /* the query died on its own: back off before restarting */
                schedule_retry(sv);
        } else {
            char *json = NULL;
            if (sc_query_recent_progress(sv->q, &json, sv->err) == SC_OK && json) {
                cp_log_debug("serve.progress", "json=\"%.3000s\"", json);
                pthread_mutex_lock(&sv->st_mu);
                int64_t before = sv->st.last_counted;
                serve_progress_parse(json, on_progress, &sv->st);
                bool progressed = sv->st.last_counted > before;
                pthread_mutex_unlock(&sv->st_mu);
                if (progressed)
                    sv->backoff_ms = 0; /* healthy again */
            }
            free(json);
        }
    }
    if (sv->mq && sv->s && !check_query(sv, &sv->mq, "live_metrics")) {
        pthread_mutex_lock(&sv->st_mu);
        sv->st.metrics_active = false;
        pthread_mutex_unlock(&sv->st_mu);
        sv->metrics_next_attempt = cp_now_s() + 5.0;
    }
    if (!sv->q || !sv->model || (sv->o.metrics && !sv->mq))
        rebuild(sv);
}

/* ---- HTTP ---- */

static int http_handler(const char *path, cp_buf_t *body, const char **ctype, void *opaque)
{
    cp_serve_t *sv = opaque;
    pthread_mutex_lock(&sv->st_mu);
    state_t s = sv->st;
    pthread_mutex_unlock(&sv->st_mu);
    double now = cp_now_s();
    bool spark_fresh = s.spark_ok && now - s.spark_ok_at < SPARK_STALE_S;
    if (strcmp(path, "/healthz") == 0) {
        cp_buf_printf(body, "%s spark=%s\n", spark_fresh ? "ok" : "unhealthy",
                      spark_fresh ? "reachable" : "unreachable");
        return spark_fresh ? 200 : 503;
    }
    if (strcmp(path, "/readyz") == 0) {
        bool ready = spark_fresh && s.model_loaded && s.query_active && s.first_batch;
        cp_buf_printf(body, "%s model_loaded=%d query_active=%d first_batch=%d spark=%d\n",
                      ready ? "ready" : "not ready", s.model_loaded, s.query_active, s.first_batch,
                      spark_fresh);
        return ready ? 200 : 503;
    }
    if (strcmp(path, "/metrics") == 0) {
        *ctype = "text/plain; version=0.0.4; charset=utf-8";
        serve_watch_snapshot_t w;
        serve_watch_get(sv->watch, &w);
        /* Real-time batches are checkpoint intervals that requests do not
         * wait for: no latency follows from their duration. */
        double latency = !s.first_batch ? 0.0
                         : s.real_time  ? NAN
                                        : s.trigger_ms + (double)sv->o.trigger_ms / 2.0;
        char lat[32];
        if (isnan(latency))
            snprintf(lat, sizeof lat, "NaN"); /* Prometheus' spelling */
        else
            snprintf(lat, sizeof lat, "%.0f", latency);
        cp_buf_printf(
            body,
            "# HELP carprice_serve_up 1 while Spark answers.\n"
            "# TYPE carprice_serve_up gauge\ncarprice_serve_up %d\n"
            "# HELP carprice_serve_ready 1 when /readyz is OK.\n"
            "# TYPE carprice_serve_ready gauge\ncarprice_serve_ready %d\n"
            "# HELP carprice_serve_model_info The model in use.\n"
            "# TYPE carprice_serve_model_info gauge\n"
            "carprice_serve_model_info{model_name=\"%s\",model_version=\"%s\"} 1\n"
            "# HELP carprice_serve_rows_total Requests read by completed batches (this process).\n"
            "# TYPE carprice_serve_rows_total counter\ncarprice_serve_rows_total %lld\n"
            "# HELP carprice_serve_batches_total Micro-batches that read requests.\n"
            "# TYPE carprice_serve_batches_total counter\ncarprice_serve_batches_total %lld\n"
            "# HELP carprice_serve_last_batch_id Id of the last completed batch.\n"
            "# TYPE carprice_serve_last_batch_id gauge\ncarprice_serve_last_batch_id %lld\n"
            "# HELP carprice_serve_input_rows_per_second Arrival rate in the last batch.\n"
            "# TYPE carprice_serve_input_rows_per_second gauge\n"
            "carprice_serve_input_rows_per_second %.3f\n"
            "# HELP carprice_serve_processed_rows_per_second Processing rate in the last batch.\n"
            "# TYPE carprice_serve_processed_rows_per_second gauge\n"
            "carprice_serve_processed_rows_per_second %.3f\n"
            "# HELP carprice_serve_batch_duration_ms Last batch's triggerExecution time.\n"
            "# TYPE carprice_serve_batch_duration_ms gauge\n"
            "carprice_serve_batch_duration_ms %.0f\n"
            "# HELP carprice_serve_latency_estimate_ms Batch duration + half a trigger interval "
            "(NaN with the real-time trigger).\n"
            "# TYPE carprice_serve_latency_estimate_ms gauge\n"
            "carprice_serve_latency_estimate_ms %s\n"
            "# HELP carprice_serve_query_restarts_total Prediction query (re)starts.\n"
            "# TYPE carprice_serve_query_restarts_total counter\n"
            "carprice_serve_query_restarts_total %lld\n"
            "# HELP carprice_serve_session_resets_total Spark sessions re-created after a "
            "server restart.\n"
            "# TYPE carprice_serve_session_resets_total counter\n"
            "carprice_serve_session_resets_total %lld\n"
            "# HELP carprice_serve_live_metrics_active 1 while the live-metrics query runs.\n"
            "# TYPE carprice_serve_live_metrics_active gauge\n"
            "carprice_serve_live_metrics_active %d\n"
            "# HELP carprice_serve_uptime_seconds Seconds since start.\n"
            "# TYPE carprice_serve_uptime_seconds gauge\ncarprice_serve_uptime_seconds %.0f\n"
            "# HELP carprice_serve_trigger_info The prediction query's trigger and its interval "
            "(real-time: the checkpoint interval).\n"
            "# TYPE carprice_serve_trigger_info gauge\n"
            "carprice_serve_trigger_info{mode=\"%s\",interval_ms=\"%ld\"} 1\n",
            spark_fresh, spark_fresh && s.model_loaded && s.query_active && s.first_batch,
            sv->model_name, sv->model_version, (long long)s.rows_total, (long long)s.batches_total,
            (long long)s.last_batch_id, s.input_rate, s.processed_rate, s.trigger_ms, lat,
            (long long)s.restarts, (long long)s.session_resets, s.metrics_active,
            now - s.started_at, s.real_time ? "real-time" : "processing-time",
            s.real_time ? sv->o.real_time_ms : sv->o.trigger_ms);
        if (w.dlq_known)
            cp_buf_printf(
                body,
                "# HELP carprice_serve_dead_letter_topic_messages Messages ever written to "
                "the dead-letter topic (its high watermarks), by every instance.\n"
                "# TYPE carprice_serve_dead_letter_topic_messages gauge\n"
                "carprice_serve_dead_letter_topic_messages{topic=\"%s\"} %lld\n",
                sv->o.dlq_topic, (long long)w.dlq_messages);
        if (w.quality_known)
            cp_buf_printf(
                body,
                "# HELP carprice_serve_live_mae_usd MAE of the newest live-metrics "
                "window of this model version.\n"
                "# TYPE carprice_serve_live_mae_usd gauge\n"
                "carprice_serve_live_mae_usd{model_version=\"%s\"} %.6g\n"
                "# HELP carprice_serve_live_rmse_usd RMSE of that window.\n"
                "# TYPE carprice_serve_live_rmse_usd gauge\n"
                "carprice_serve_live_rmse_usd{model_version=\"%s\"} %.6g\n"
                "# HELP carprice_serve_live_mape MAPE (fraction) of that window.\n"
                "# TYPE carprice_serve_live_mape gauge\n"
                "carprice_serve_live_mape{model_version=\"%s\"} %.6g\n"
                "# HELP carprice_serve_live_pairs Prediction-price pairs in that window.\n"
                "# TYPE carprice_serve_live_pairs gauge\n"
                "carprice_serve_live_pairs{model_version=\"%s\"} %lld\n"
                "# HELP carprice_serve_live_window_end_ms End of that window.\n"
                "# TYPE carprice_serve_live_window_end_ms gauge\n"
                "carprice_serve_live_window_end_ms{model_version=\"%s\"} %lld\n",
                sv->model_version, w.mae, sv->model_version, w.rmse, sv->model_version, w.mape,
                sv->model_version, (long long)w.count, sv->model_version,
                (long long)w.window_end_ms);
        return 200;
    }
    cp_buf_printf(body, "not found: try /healthz, /readyz or /metrics\n");
    return 404;
}

/* ---- run and stop ---- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    long timeout_ms;
} watchdog_t;

/* Ends the process if the graceful stop overruns its bound: a hung RPC must
 * not keep a stopping service alive. The checkpoint makes this safe. */
static void *watchdog_main(void *arg)
{
    watchdog_t *w = arg;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += w->timeout_ms / 1000;
    until.tv_nsec += (w->timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->mu);
    int rc = 0;
    while (!w->done && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&w->cv, &w->mu, &until);
    bool done = w->done;
    pthread_mutex_unlock(&w->mu);
    if (!done) {
        cp_log_error("serve.stop_timeout", "timeout_ms=%ld", w->timeout_ms);
        _exit(1);
    }
    return NULL;
}

static void wait_stop(cp_serve_t *sv, long ms)
{
    struct pollfd p = {.fd = sv->stop_pipe[0], .events = POLLIN};
    if (poll(&p, 1, (int)ms) > 0) {
        char b[16];
        while (read(sv->stop_pipe[0], b, sizeof b) > 0)
            ;
    }
}

int cp_serve_run(cp_serve_t *sv, char *errbuf, size_t errlen)
{
    if (sv->o.http_port >= 0) {
        if (cp_httpd_start(sv->o.http_port, http_handler, sv, &sv->httpd, errbuf, errlen) != 0)
            return -1;
        cp_log_info("serve.http", "addr=127.0.0.1:%d", cp_httpd_port(sv->httpd));
    }
    pthread_mutex_lock(&sv->st_mu);
    sv->st.metrics_enabled = sv->o.metrics;
    pthread_mutex_unlock(&sv->st_mu);
    if (sv->o.http_port >= 0) {
        char werr[256];
        if (serve_watch_start(sv->o.bootstrap, sv->o.dlq_topic, sv->o.metrics_topic,
                              sv->model_version, &sv->watch, werr, sizeof werr) != 0)
            cp_log_warn("serve.watch_unavailable", "detail=\"%s\"", werr);
    }
    /* The first start must work: a plan that does not analyse (a model whose
     * input columns are not the features) is a configuration error. */
    if (sv->stopping) {
        cp_log_info("serve.stopped", "before_start=1");
        return 0;
    }
    if (start_predictions(sv) != 0)
        return errf(errbuf, errlen, "%s", sv->lasterr);
    if (sv->o.metrics && start_metrics(sv) != 0)
        return errf(errbuf, errlen, "%s", sv->lasterr);
    while (!sv->stopping) {
        wait_stop(sv, sv->o.poll_ms);
        if (!sv->stopping)
            supervise(sv);
    }
    cp_log_info("serve.stopping", "timeout_ms=%ld", sv->o.stop_timeout_ms);
    watchdog_t w = {.done = false, .timeout_ms = sv->o.stop_timeout_ms};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    pthread_t wt;
    bool have_wt = pthread_create(&wt, NULL, watchdog_main, &w) == 0;
    double t0 = cp_now_s();
    int rc = 0;
    /* Spark's stop interrupts a running micro-batch, whose output is then
     * written again after a restart (duplicates). Wait (half the bound at
     * most) for the prediction query to be between triggers, then stop. A
     * real-time batch is always running: stop at once (the restart re-answers
     * what the current batch answered, duplicates again). */
    while (sv->q && !sv->st.real_time && cp_now_s() - t0 < (double)sv->o.stop_timeout_ms / 2000.0) {
        sc_query_status_t qst;
        if (sc_query_status(sv->q, &qst, sv->err) != SC_OK || !qst.active || !qst.trigger_active)
            break;
        struct timespec ts = {0, 20000000L};
        nanosleep(&ts, NULL);
    }
    cp_log_info("serve.between_batches", "waited_s=%.3f", cp_now_s() - t0);
    sc_query_t **qs[] = {&sv->q, &sv->mq};
    for (size_t i = 0; i < 2; i++) {
        if (!*qs[i])
            continue;
        if (sc_query_stop(*qs[i], sv->err) != SC_OK) {
            cp_log_warn("serve.stop_failed", "query=%s detail=\"%s\"", sc_query_name(*qs[i]),
                        spark_msg(sv));
        }
        drop_query(qs[i]);
    }
    cp_httpd_stop(sv->httpd);
    sv->httpd = NULL;
    serve_watch_stop(sv->watch);
    sv->watch = NULL;
    if (have_wt) {
        pthread_mutex_lock(&w.mu);
        w.done = true;
        pthread_cond_signal(&w.cv);
        pthread_mutex_unlock(&w.mu);
        pthread_join(wt, NULL);
    }
    cp_log_info("serve.stopped", "elapsed_s=%.3f rows_total=%lld", cp_now_s() - t0,
                (long long)sv->st.rows_total);
    return rc;
}

void cp_serve_stop(cp_serve_t *sv)
{
    if (!sv)
        return;
    sv->stopping = 1;
    ssize_t w = write(sv->stop_pipe[1], "s", 1);
    (void)w;
}

int cp_serve_http_port(const cp_serve_t *sv)
{
    return sv ? cp_httpd_port(sv->httpd) : 0;
}

void cp_serve_destroy(cp_serve_t *sv)
{
    if (!sv)
        return;
    cp_httpd_stop(sv->httpd);
    serve_watch_stop(sv->watch);
    sc_query_destroy(sv->q);
    sc_query_destroy(sv->mq);
    sc_model_free(sv->model); /* the session's end drops its cached models */
    sc_session_destroy(sv->s);
    sc_error_destroy(sv->err);
    for (size_t i = 0; i < sv->nowned; i++)
        free(sv->owned[i]);
    free(sv->record_type);
    free(sv->features_sql);
    free(sv->model_path);
    free(sv->model_name);
    free(sv->model_version);
    free(sv->pred_ckpt);
    free(sv->metrics_ckpt);
    if (sv->stop_pipe[0] >= 0) {
        close(sv->stop_pipe[0]);
        close(sv->stop_pipe[1]);
    }
    pthread_mutex_destroy(&sv->st_mu);
    free(sv);
}
