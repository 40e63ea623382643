/* carprice serve: the streaming prediction service (include/carprice/serve.h,
 * docs/serve.md). */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carprice/log.h"
#include "carprice/serve.h"
#include "commands.h"

#ifndef CARPRICE_SQL_DIR
#define CARPRICE_SQL_DIR "sql"
#endif

static cp_serve_t *volatile g_serve;       /* for the signal handler */
static volatile sig_atomic_t g_stop_early; /* a signal came before the service existed */

static void on_signal(int sig)
{
    (void)sig;
    if (g_serve)
        cp_serve_stop(g_serve);
    else
        g_stop_early = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: carprice serve [--model NAME@ALIAS | --model NAME/VERSION |\n"
            "                       --model-path URI [--model-name N] [--model-version V]]\n"
            "                      [--checkpoint-dir DIR] [--starting-offsets S]\n"
            "                      [--trigger real-time|processing-time] [--http-port PORT]\n"
            "                      [--no-metrics] ...\n"
            "       carprice serve --show-offsets DIR\n"
            "\n"
            "Runs Structured Streaming queries in one Spark Connect session: requests from Kafka\n"
            "are validated (rejects go to the dead-letter topic with a reason), turned into\n"
            "features by sql/features.sql, scored by the model and written to the predictions\n"
            "topic. Serves /healthz, /readyz and /metrics on 127.0.0.1. SIGTERM or SIGINT stops\n"
            "the queries gracefully; a restart with the same checkpoint resumes.\n"
            "\n"
            "  --model SPEC           registered model NAME@ALIAS or NAME/VERSION, resolved in\n"
            "                         MLflow to the version's tag model_path (default\n"
            "                         carprice@champion)\n"
            "  --model-path URI       a PipelineModel directory; skips the registry\n"
            "  --model-name N         name reported with --model-path (default carprice)\n"
            "  --model-version V      version reported with --model-path (default unknown)\n"
            "  --checkpoint-dir DIR   checkpoint root as the Spark server sees it (default\n"
            "                         $CARPRICE_SERVE_CHECKPOINT, then\n"
            "                         /tmp/carprice-serve/<query name>)\n"
            "  --starting-offsets S   on a fresh checkpoint: earliest (default), latest, Kafka\n"
            "                         offsets JSON, or checkpoint:DIR (where the instance with\n"
            "                         checkpoint root DIR last committed)\n"
            "  --show-offsets DIR     print the committed offsets of checkpoint root DIR, exit\n"
            "  --trigger MODE         real-time (default): Spark's real-time trigger, each\n"
            "                         request answered as it arrives; processing-time:\n"
            "                         micro-batches (also used when the server refuses\n"
            "                         real-time mode)\n"
            "  --real-time-ms MS      real-time batch = checkpoint interval (default 15000);\n"
            "                         a crash or hand-over re-answers up to MS of requests\n"
            "  --trigger-ms MS        processing-time trigger interval (default 500)\n"
            "  --max-offsets-per-trigger N   cap on requests per micro-batch (default none)\n"
            "  --kafka-linger-ms MS   how long the answers' Kafka producer waits to fill a\n"
            "                         batch (default 5; 0 sends each answer at once)\n"
            "  --min-partitions N     split each batch into at least N Spark tasks (default:\n"
            "                         one per Kafka partition)\n"
            "  --async-progress       processing-time only: commit offsets asynchronously\n"
            "                         (lower latency; a restart may re-answer more requests)\n"
            "  --http-port PORT       127.0.0.1 port of /healthz /readyz /metrics (default\n"
            "                         8080; 0 picks a free one and logs it; -1 disables)\n"
            "  --stop-timeout MS      bound on a graceful stop (default 30000)\n"
            "  --query-name NAME      prediction query name (default carprice_serve)\n"
            "  --metrics, --no-metrics   run the live-metrics query (default on)\n"
            "  --metrics-window W     live-metrics window (default \"5 minutes\")\n"
            "  --metrics-slide S      live-metrics slide (default \"1 minute\")\n"
            "  --metrics-price-bound B   a price pairs with a prediction only if set within B\n"
            "                         after it; also delays each window's emission by B\n"
            "                         (default \"10 minutes\")\n"
            "  --metrics-watermark-delay D   event-time lateness tolerated on predictions and\n"
            "                         prices (default \"1 minute\")\n"
            "  --requests-topic T --predictions-topic T --dlq-topic T --prices-topic T\n"
            "  --metrics-topic T      topics (defaults carprice.requests, carprice.predictions,\n"
            "                         carprice.requests.dlq, carprice.prices, carprice.metrics)\n"
            "  --bootstrap HOST:PORT  Kafka (default $CARPRICE_KAFKA_BOOTSTRAP, 127.0.0.1:9092)\n"
            "  --remote URL           Spark Connect (default $CARPRICE_SPARK_REMOTE,\n"
            "                         sc://127.0.0.1:15002)\n"
            "  --tracking-uri URI     MLflow (default $MLFLOW_TRACKING_URI)\n"
            "  --sql-dir DIR          raw_schema.ddl and features.sql (default\n"
            "                         $CARPRICE_SQL_DIR, then %s)\n"
            "\n"
            "Exit status: 0 after a graceful stop; 1 when the service cannot start (Spark,\n"
            "MLflow, model) or cannot stop in time; 2 on bad flags.\n",
            CARPRICE_SQL_DIR);
}

static int parse_long(const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "carprice serve: %s needs an integer in %ld .. %ld, not '%s'\n", opt, lo,
                hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

static int show_offsets(const char *dir)
{
    char *json = NULL;
    char err[512];
    if (cp_serve_committed_offsets(dir, &json, err, sizeof err) != 0) {
        fprintf(stderr, "carprice serve: %s\n", err);
        return 1;
    }
    printf("%s\n", json);
    free(json);
    return 0;
}

int cmd_serve(int argc, char **argv)
{
    cp_serve_opts_t o;
    cp_serve_opts_init(&o);
    o.remote = getenv("CARPRICE_SPARK_REMOTE");
    o.bootstrap = getenv("CARPRICE_KAFKA_BOOTSTRAP");
    o.sql_dir = env_or("CARPRICE_SQL_DIR", CARPRICE_SQL_DIR);
    o.checkpoint = getenv("CARPRICE_SERVE_CHECKPOINT");
    const char *offsets_from = NULL;
    char *offsets_json = NULL;
    long v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool hv = i + 1 < argc;
        const char *val = hv ? argv[i + 1] : NULL;
#define STR_OPT(flag, field)                                                                       \
    if (!strcmp(a, flag) && hv) {                                                                  \
        field = val;                                                                               \
        i++;                                                                                       \
        continue;                                                                                  \
    }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--show-offsets") && hv)
            return show_offsets(val);
        STR_OPT("--model", o.model)
        STR_OPT("--model-path", o.model_path)
        STR_OPT("--model-name", o.model_name)
        STR_OPT("--model-version", o.model_version)
        STR_OPT("--checkpoint-dir", o.checkpoint)
        STR_OPT("--query-name", o.query_name)
        STR_OPT("--requests-topic", o.requests_topic)
        STR_OPT("--predictions-topic", o.predictions_topic)
        STR_OPT("--dlq-topic", o.dlq_topic)
        STR_OPT("--prices-topic", o.prices_topic)
        STR_OPT("--metrics-topic", o.metrics_topic)
        STR_OPT("--bootstrap", o.bootstrap)
        STR_OPT("--remote", o.remote)
        STR_OPT("--tracking-uri", o.tracking_uri)
        STR_OPT("--sql-dir", o.sql_dir)
        STR_OPT("--metrics-window", o.metrics_window)
        STR_OPT("--metrics-slide", o.metrics_slide)
        STR_OPT("--metrics-price-bound", o.metrics_price_bound)
        STR_OPT("--metrics-watermark-delay", o.metrics_watermark_delay)
#undef STR_OPT
        if (!strcmp(a, "--starting-offsets") && hv) {
            i++;
            if (!strncmp(val, "checkpoint:", 11))
                offsets_from = val + 11;
            else
                o.starting_offsets = val;
        } else if (!strcmp(a, "--trigger-ms") && hv) {
            if (parse_long(a, argv[++i], 1, 3600000, &v) != 0)
                return 2;
            o.trigger_ms = v;
        } else if (!strcmp(a, "--trigger") && hv) {
            i++;
            if (!strcmp(val, "real-time")) {
                o.processing_time = false;
            } else if (!strcmp(val, "processing-time")) {
                o.processing_time = true;
            } else {
                fprintf(stderr,
                        "carprice serve: --trigger '%s': expected real-time or processing-time\n",
                        val);
                return 2;
            }
        } else if (!strcmp(a, "--real-time-ms") && hv) {
            if (parse_long(a, argv[++i], 100, 3600000, &v) != 0)
                return 2;
            o.real_time_ms = v;
        } else if (!strcmp(a, "--kafka-linger-ms") && hv) {
            if (parse_long(a, argv[++i], 0, 10000, &v) != 0)
                return 2;
            o.kafka_linger_ms = v;
        } else if (!strcmp(a, "--max-offsets-per-trigger") && hv) {
            if (parse_long(a, argv[++i], 0, LONG_MAX, &v) != 0)
                return 2;
            o.max_offsets_per_trigger = v;
        } else if (!strcmp(a, "--min-partitions") && hv) {
            if (parse_long(a, argv[++i], 0, 10000, &v) != 0)
                return 2;
            o.min_partitions = v;
        } else if (!strcmp(a, "--http-port") && hv) {
            if (parse_long(a, argv[++i], -1, 65535, &v) != 0)
                return 2;
            o.http_port = (int)v;
        } else if (!strcmp(a, "--stop-timeout") && hv) {
            if (parse_long(a, argv[++i], 1000, 3600000, &v) != 0)
                return 2;
            o.stop_timeout_ms = v;
        } else if (!strcmp(a, "--async-progress")) {
            o.async_progress = true;
        } else if (!strcmp(a, "--metrics")) {
            o.metrics = true;
        } else if (!strcmp(a, "--no-metrics")) {
            o.metrics = false;
        } else {
            fprintf(stderr, "carprice serve: unknown option or missing value '%s'\n", a);
            return 2;
        }
    }
    char defckpt[PATH_MAX];
    if (!o.checkpoint || !*o.checkpoint) {
        snprintf(defckpt, sizeof defckpt, "/tmp/carprice-serve/%s", o.query_name);
        o.checkpoint = defckpt;
    }
    if (offsets_from) {
        char err[512];
        if (cp_serve_committed_offsets(offsets_from, &offsets_json, err, sizeof err) != 0) {
            fprintf(stderr, "carprice serve: --starting-offsets checkpoint:%s: %s\n", offsets_from,
                    err);
            return 2;
        }
        o.starting_offsets = offsets_json;
        cp_log_info("serve.starting_offsets", "from=%s offsets=%s", offsets_from, offsets_json);
    }

    /* Handlers first: a stop asked for while the model loads is honoured
     * as soon as the service exists, with exit 0. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    char err[1024];
    cp_serve_t *sv = NULL;
    if (cp_serve_new(&o, &sv, err, sizeof err) != 0) {
        fprintf(stderr, "carprice serve: %s\n", err);
        free(offsets_json);
        return 1;
    }
    g_serve = sv;
    if (g_stop_early)
        cp_serve_stop(sv);
    int status = 0;
    if (cp_serve_run(sv, err, sizeof err) != 0) {
        fprintf(stderr, "carprice serve: %s\n", err);
        status = 1;
    }
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    g_serve = NULL;
    cp_serve_destroy(sv);
    free(offsets_json);
    return status;
}
