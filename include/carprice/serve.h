/* The streaming prediction service (`carprice serve`).
 *
 * One long-lived Spark Connect session runs one Structured Streaming query:
 * Kafka requests -> validation -> sql/features.sql -> the model (a Spark
 * PipelineModel whose `prediction` is ln(price)) -> Kafka, predictions to the
 * predictions topic and rejected requests (with the reason) to the dead-letter
 * topic, both written by the same query so that one checkpoint covers both.
 * Optionally a second query computes live error metrics (src/serve/metrics.h).
 * A small HTTP server on 127.0.0.1 answers /healthz, /readyz and /metrics.
 * The supervisor polls the query; a dead query or a restarted Spark server
 * makes it rebuild the query from its checkpoint, with backoff. docs/serve.md
 * describes the behaviour and every option.
 *
 * Threads: cp_serve_run runs on the caller's thread and starts one thread of
 * its own (the HTTP server). cp_serve_stop may be called from any thread and
 * from a signal handler. Nothing else of a cp_serve_t is thread-safe. */
#ifndef CARPRICE_SERVE_H
#define CARPRICE_SERVE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *remote;            /* Spark Connect URL; NULL: sc://127.0.0.1:15002 */
    const char *bootstrap;         /* Kafka bootstrap servers; NULL: 127.0.0.1:9092 */
    const char *requests_topic;    /* default carprice.requests */
    const char *predictions_topic; /* default carprice.predictions */
    const char *dlq_topic;         /* default carprice.requests.dlq */
    const char *prices_topic;      /* default carprice.prices (live metrics) */
    const char *metrics_topic;     /* default carprice.metrics (live metrics) */
    /* The model: model_path (a PipelineModel URI the Spark server reads) with
     * model_version, or model (NAME@ALIAS or NAME/VERSION) resolved through
     * the MLflow registry: the version's tag model_path. */
    const char *model;                   /* default carprice@champion */
    const char *model_path;              /* when set, the registry is not asked */
    const char *model_name;              /* reported name with model_path; default carprice */
    const char *model_version;           /* reported version with model_path; default unknown */
    const char *tracking_uri;            /* MLflow; NULL: $MLFLOW_TRACKING_URI */
    const char *sql_dir;                 /* raw_schema.ddl and features.sql; required */
    const char *checkpoint;              /* checkpoint root as the Spark server sees it; required.
                                          * The prediction query uses <root>/predictions, live
                                          * metrics <root>/metrics. */
    const char *starting_offsets;        /* fresh checkpoint only: "earliest" (default), "latest"
                                          * or Kafka source JSON offsets */
    const char *query_name;              /* default carprice_serve */
    bool processing_time;                /* micro-batches every trigger_ms instead of Spark's
                                          * real-time trigger; default false (real-time, with
                                          * processing-time when the server refuses it) */
    long trigger_ms;                     /* processing-time trigger; default 500 */
    long real_time_ms;                   /* real-time batch = checkpoint interval; default
                                          * 15000. Requests do not wait for it; a crash or a
                                          * hand-over re-answers up to this much traffic */
    long max_offsets_per_trigger;        /* 0: no cap */
    long kafka_linger_ms;                /* linger.ms of the sink's producer; default 5 */
    long min_partitions;                 /* Spark tasks per batch at least (Kafka minPartitions);
                                          * 0: one per topic partition */
    long stop_timeout_ms;                /* bound on a graceful stop; default 30000 */
    long poll_ms;                        /* supervision interval; default 1000 */
    int http_port;                       /* 127.0.0.1:port; 0 picks a free one; -1 no server */
    bool metrics;                        /* start the live-metrics query; default true */
    bool async_progress;                 /* Spark's asyncProgressTrackingEnabled; default false */
    const char *metrics_window;          /* default 5 minutes */
    const char *metrics_slide;           /* default 1 minute */
    const char *metrics_price_bound;     /* NULL: the live-metrics default (10 minutes) */
    const char *metrics_watermark_delay; /* NULL: the live-metrics default (1 minute) */
} cp_serve_opts_t;

/* Fills o with the defaults above. */
void cp_serve_opts_init(cp_serve_opts_t *o);

typedef struct cp_serve_s cp_serve_t;

/* Validates o (copied), connects to Spark, resolves and loads the model.
 * Returns 0 with *out set, or -1 with one line in errbuf (bad option,
 * unreachable Spark or MLflow, unknown model, unreadable model path). */
int cp_serve_new(const cp_serve_opts_t *o, cp_serve_t **out, char *errbuf, size_t errlen);

/* Starts the queries and the HTTP server and supervises them until
 * cp_serve_stop; then stops the queries gracefully (bounded by
 * stop_timeout_ms). Returns 0 after a clean stop, -1 with one line in errbuf
 * when the service could not start or could not stop within the bound. */
int cp_serve_run(cp_serve_t *sv, char *errbuf, size_t errlen);

/* Asks cp_serve_run to stop. Async-signal-safe. */
void cp_serve_stop(cp_serve_t *sv);

/* The HTTP server's port once cp_serve_run has started it, else 0. */
int cp_serve_http_port(const cp_serve_t *sv);

/* Releases everything; the server-side session ends (which stops its
 * queries). Accepts NULL. */
void cp_serve_destroy(cp_serve_t *sv);

/* The Kafka offsets that the last committed batch of a prediction query
 * ended at, read from a checkpoint root (as given to --checkpoint-dir: a local
 * path or file:// URI), as the Kafka source's JSON ({"topic":{"0":42}}): the
 * startingOffsets from which a new instance continues where this one is.
 * *json is malloc'd. Returns 0, or -1 with one line in errbuf (no such
 * checkpoint, no batch committed yet). */
int cp_serve_committed_offsets(const char *checkpoint, char **json, char *errbuf, size_t errlen);

#endif
