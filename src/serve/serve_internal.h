/* Internals of carprice serve shared by its source files. */
#ifndef CARPRICE_SERVE_INTERNAL_H
#define CARPRICE_SERVE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "sparkconnect/sparkconnect.h"

/* What the prediction plan is built from. */
typedef struct {
    const char *bootstrap;
    const char *requests_topic;
    const char *predictions_topic;
    const char *dlq_topic;
    const char *starting_offsets;
    long max_offsets_per_trigger;
    long min_partitions;     /* Kafka source minPartitions; 0: one task per topic partition */
    const char *record_type; /* "struct<`vin`: string, ...>" of the raw columns minus price */
    const char *features_sql;
    const sc_model_t *model;
    const char *model_name;
    const char *model_version;
} serve_plan_in_t;

typedef struct {
    sc_session_t *s;
    sc_error_t *err;
    char errbuf[512];
} serve_plan_t;

/* Builds the streaming (topic, key, value) DataFrame of the prediction query.
 * Registers the temporary view raw_listings in the session. Returns 0, or -1
 * with one line in p->errbuf. */
int serve_plan_build(serve_plan_t *p, const serve_plan_in_t *in, sc_df_t **out);

/* Whether a Spark error class says the real-time trigger cannot run this
 * query on this server (STREAMING_REAL_TIME_MODE.*, an interval below the
 * server's floor, an unknown trigger), so micro-batches should be used. */
bool serve_real_time_refused(const char *error_class);

/* Formats the Spark error in p->err into p->errbuf after `what`; returns -1. */
int serve_plan_fail(serve_plan_t *p, const char *what);

/* s as a Spark SQL string literal ('...' with ' and \ escaped); malloc'd. */
char *serve_sql_quote(const char *s);

/* Numbers of one streaming progress report that serve exports. */
typedef struct {
    int64_t batch_id;
    int64_t num_input_rows;
    double input_rate;     /* rows/s */
    double processed_rate; /* rows/s */
    double trigger_ms;     /* durationMs.triggerExecution */
    bool ran_batch;        /* durationMs has addBatch: a batch ran (not an idle report) */
} serve_progress_t;

/* Parses the JSON objects in text (one per line, as sc_query_recent_progress
 * returns them) and calls fn for each. Returns the number parsed. */
size_t serve_progress_parse(const char *text, void (*fn)(const serve_progress_t *, void *),
                            void *opaque);

/* ---- Kafka-side numbers for /metrics (watch.c) ---- */

typedef struct serve_watch_s serve_watch_t;

typedef struct {
    bool quality_known; /* a window of this model version was seen */
    int64_t window_end_ms, count;
    double mae, rmse, mape;
    bool dlq_known;
    int64_t dlq_messages; /* sum of the dead-letter topic's high watermarks */
} serve_watch_snapshot_t;

/* Starts a thread that follows the metrics topic for model_version and
 * polls the dead-letter topic's size. Returns 0, or -1 with one line. */
int serve_watch_start(const char *bootstrap, const char *dlq_topic, const char *metrics_topic,
                      const char *model_version, serve_watch_t **out, char *errbuf, size_t errlen);

/* The latest numbers (zeroed when w is NULL). Any thread. */
void serve_watch_get(serve_watch_t *w, serve_watch_snapshot_t *out);

/* Stops the thread and frees w. Accepts NULL. */
void serve_watch_stop(serve_watch_t *w);

#endif
