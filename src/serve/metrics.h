/* Live error metrics of `carprice serve`: one Structured Streaming query that
 * joins carprice.predictions with carprice.prices by request id and writes
 * count, MAE, RMSE, MAPE and R² per model version and sliding window of the
 * price's event time to carprice.metrics (docs/live-metrics.md).
 *
 * Not thread-safe beyond what sc_session_t is: the calls register temporary
 * views in the session (names derived from the query name, so two metrics
 * queries with different names can share a session). */
#ifndef CARPRICE_SERVE_METRICS_H
#define CARPRICE_SERVE_METRICS_H

#include <stddef.h>

#include "sparkconnect/dataframe.h"
#include "sparkconnect/session.h"
#include "sparkconnect/streaming.h"

/* Durations are Spark interval texts "<N> <unit>", N a positive integer and
 * unit one of milliseconds, seconds, minutes, hours, days (singular allowed). */
typedef struct {
    const char *bootstrap;         /* Kafka bootstrap servers; required */
    const char *predictions_topic; /* default "carprice.predictions" */
    const char *prices_topic;      /* default "carprice.prices" */
    const char *metrics_topic;     /* default "carprice.metrics" */
    const char *checkpoint;        /* checkpointLocation as the Spark server sees it; required */
    const char *window;            /* window length; default "5 minutes" */
    const char *slide;             /* window slide, <= window; default "1 minute" */
    const char *price_bound;       /* a price joins a prediction only if set within
                                    * [predicted_at, predicted_at + bound]; default "10 minutes" */
    const char *watermark_delay;   /* lateness (out of order) tolerated on both topics;
                                    * default "1 minute" */
    const char *trigger_interval;  /* processing-time trigger; default "10 seconds" */
    const char *query_name;        /* default "carprice_live_metrics"; [A-Za-z0-9_], <= 64 */
    const char *starting_offsets;  /* both source topics, on a fresh checkpoint: "latest"
                                    * (default) or "earliest" */
    int state_partitions;          /* partitions of the query's state, fixed by its first start
                                    * (kept in the checkpoint); default 4 */
    const char *const *kafka_option_keys; /* extra "kafka.*" options for sources and sink */
    const char *const *kafka_option_values;
    size_t nkafka_options;
} cp_live_metrics_opts_t;

/* Fills o with the defaults above (bootstrap and checkpoint NULL). */
void cp_live_metrics_opts_init(cp_live_metrics_opts_t *o);

/* Checks o's durations (window, slide, price bound, watermark delay, trigger
 * interval: each "<N> <unit>", the slide no longer than the window), as
 * cp_live_metrics_start does. The error calls them names[0..4] (e.g. the
 * command-line flags that set them), or by their own names when names is
 * NULL. Returns 0, or -1 with one line in err. */
int cp_live_metrics_check_durations(const cp_live_metrics_opts_t *o, const char *const names[5],
                                    char *err, size_t errlen);

/* Builds the streaming DataFrame of (key, value) rows the query writes to the
 * metrics topic, without starting it (for explain and tests). *out is the
 * caller's (sc_df_destroy). Returns 0, or -1 with one line in err. */
int cp_live_metrics_df(sc_session_t *s, const cp_live_metrics_opts_t *o, sc_df_t **out, char *err,
                       size_t errlen);

/* Validates o, builds the query and starts it on s (output mode append).
 * spark.sql.shuffle.partitions is set to o->state_partitions for the start
 * and restored afterwards: do not start other queries on s meanwhile.
 * *out is the caller's (sc_query_destroy; the query keeps running until
 * sc_query_stop or the end of the server-side session). Returns 0, or -1
 * with one line in err (bad option, Spark's analysis error, ...). */
int cp_live_metrics_start(sc_session_t *s, const cp_live_metrics_opts_t *o, sc_query_t **out,
                          char *err, size_t errlen);

#endif
