/* The live-metrics query: predictions ⋈ prices -> per version and window
 * error metrics -> Kafka. docs/live-metrics.md explains the semantics; the
 * comments here say why the SQL has the shape it has. */
#include "metrics.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carprice/util.h"
#include "sparkconnect/error.h"

/* Explicit schemas (docs/messages.md). Unknown members are ignored by
 * from_json, so producers may add fields. */
#define PRED_SCHEMA                                                                                \
    "request_id STRING, predicted_price DOUBLE, model_name STRING, model_version STRING, "         \
    "request_ts_ms BIGINT, predicted_at_ms BIGINT"
#define PRICE_SCHEMA "request_id STRING, price DOUBLE, set_at_ms BIGINT"

/* Event times must be real instants: 0 .. 9999-12-31 (timestamp_millis would
 * raise under ANSI mode outside its range and stop the query). Prices and
 * predictions beyond ±1e15 USD are junk whose squares would still be finite. */
#define MAX_EPOCH_MS "253402300799999"
#define MAX_USD      "1.0E15"

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int sc_fail(char *err, size_t errlen, const char *what, const sc_error_t *e)
{
    const char *cls = sc_error_class(e);
    set_err(err, errlen, "live metrics: %s: %s%s%s%s", what, sc_error_message(e), *cls ? " [" : "",
            cls, *cls ? "]" : "");
    return -1;
}

void cp_live_metrics_opts_init(cp_live_metrics_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->predictions_topic = "carprice.predictions";
    o->prices_topic = "carprice.prices";
    o->metrics_topic = "carprice.metrics";
    o->window = "5 minutes";
    o->slide = "1 minute";
    o->price_bound = "10 minutes";
    o->watermark_delay = "1 minute";
    o->trigger_interval = "10 seconds";
    o->query_name = "carprice_live_metrics";
    o->starting_offsets = "latest";
    o->state_partitions = 4;
}

/* Parses "<N> <unit>" into milliseconds; returns -1 when it is not one.
 * Only this strict form reaches the SQL text, so options cannot inject SQL. */
static int64_t duration_ms(const char *s)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {
        {"millisecond", 1}, {"second", 1000},  {"minute", 60000},
        {"hour", 3600000},  {"day", 86400000},
    };
    if (!s || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    char *end;
    unsigned long long n = strtoull(s, &end, 10);
    if (errno || n == 0 || n > 1000000000ULL || *end != ' ')
        return -1;
    end++;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        size_t ul = strlen(units[i].unit);
        if (strncmp(end, units[i].unit, ul) == 0 &&
            (end[ul] == '\0' || (end[ul] == 's' && end[ul + 1] == '\0')))
            return (int64_t)n * units[i].ms;
    }
    return -1;
}

static int valid_topic(const char *t)
{
    size_t n = t ? strlen(t) : 0;
    if (n == 0 || n > 249 || strcmp(t, ".") == 0 || strcmp(t, "..") == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)t[i]) && !strchr("._-", t[i]))
            return 0;
    return 1;
}

static int valid_name(const char *q)
{
    size_t n = q ? strlen(q) : 0;
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)q[i]) && q[i] != '_')
            return 0;
    return 1;
}

int cp_live_metrics_check_durations(const cp_live_metrics_opts_t *o, const char *const names[5],
                                    char *err, size_t errlen)
{
    static const char *const own[5] = {"window", "slide", "price bound", "watermark delay",
                                       "trigger interval"};
    const char *const *nm = names ? names : own;
    const char *durs[5] = {o->window, o->slide, o->price_bound, o->watermark_delay,
                           o->trigger_interval};
    for (size_t i = 0; i < 5; i++)
        if (duration_ms(durs[i]) < 0)
            return set_err(err, errlen,
                           "live metrics: bad %s '%s' (want '<N> <unit>', unit milliseconds, "
                           "seconds, minutes, hours or days)",
                           nm[i], durs[i] ? durs[i] : "(null)"),
                   -1;
    if (duration_ms(o->slide) > duration_ms(o->window))
        return set_err(err, errlen, "live metrics: %s '%s' is longer than %s '%s'", nm[1], o->slide,
                       nm[0], o->window),
               -1;
    return 0;
}

static int validate(const cp_live_metrics_opts_t *o, char *err, size_t errlen)
{
    if (!o->bootstrap || !*o->bootstrap)
        return set_err(err, errlen, "live metrics: bootstrap servers are required"), -1;
    if (!o->checkpoint || !*o->checkpoint)
        return set_err(err, errlen, "live metrics: a checkpoint location is required"), -1;
    const char *topics[][2] = {{"predictions topic", o->predictions_topic},
                               {"prices topic", o->prices_topic},
                               {"metrics topic", o->metrics_topic}};
    for (size_t i = 0; i < 3; i++)
        if (!valid_topic(topics[i][1]))
            return set_err(err, errlen, "live metrics: bad %s '%s' (1-249 of [A-Za-z0-9._-])",
                           topics[i][0], topics[i][1] ? topics[i][1] : "(null)"),
                   -1;
    if (cp_live_metrics_check_durations(o, NULL, err, errlen) != 0)
        return -1;
    if (!valid_name(o->query_name))
        return set_err(err, errlen, "live metrics: bad query name '%s' (1-64 of [A-Za-z0-9_])",
                       o->query_name ? o->query_name : "(null)"),
               -1;
    if (!o->starting_offsets || (strcmp(o->starting_offsets, "latest") != 0 &&
                                 strcmp(o->starting_offsets, "earliest") != 0))
        return set_err(err, errlen, "live metrics: starting offsets must be latest or earliest"),
               -1;
    if (o->state_partitions < 1 || o->state_partitions > 10000)
        return set_err(err, errlen, "live metrics: state partitions must be 1..10000"), -1;
    for (size_t i = 0; i < o->nkafka_options; i++) {
        const char *k = o->kafka_option_keys[i], *v = o->kafka_option_values[i];
        if (!k || !v || strncmp(k, "kafka.", 6) != 0 || !k[6])
            return set_err(err, errlen, "live metrics: extra Kafka option '%s' must be kafka.<key>",
                           k ? k : "(null)"),
                   -1;
        if (strcmp(k, "kafka.bootstrap.servers") == 0)
            return set_err(err, errlen, "live metrics: set bootstrap servers with bootstrap"), -1;
    }
    return 0;
}

/* Kafka options: the bootstrap servers and the caller's extras, plus `n_more`
 * slots the caller fills. Arrays are malloc'd; free both. */
static int kafka_opts(const cp_live_metrics_opts_t *o, size_t n_more, const char ***keys,
                      const char ***vals, size_t *n)
{
    *n = 1 + o->nkafka_options + n_more;
    *keys = calloc(*n, sizeof **keys);
    *vals = calloc(*n, sizeof **vals);
    if (!*keys || !*vals) {
        free(*keys);
        free(*vals);
        return -1;
    }
    (*keys)[0] = "kafka.bootstrap.servers";
    (*vals)[0] = o->bootstrap;
    for (size_t i = 0; i < o->nkafka_options; i++) {
        (*keys)[1 + i] = o->kafka_option_keys[i];
        (*vals)[1 + i] = o->kafka_option_values[i];
    }
    return 0;
}

/* Reads a topic as a stream, parses each value with `schema`, keeps the rows
 * `valid` accepts, projects `cols`, puts a watermark on `time_col` and
 * registers the result as temp view `view`. Values that are not JSON, lack
 * a field or have a wrong type become NULL fields under from_json's
 * PERMISSIVE mode and are filtered out here: they never stop the query. */
static int source_view(sc_session_t *s, const cp_live_metrics_opts_t *o, const char *topic,
                       const char *schema, const char *valid, const char *const *cols, size_t ncols,
                       const char *time_col, const char *view, char *err, size_t errlen)
{
    const char **k = NULL, **v = NULL;
    size_t n;
    if (kafka_opts(o, 2, &k, &v, &n) < 0)
        return set_err(err, errlen, "live metrics: out of memory"), -1;
    k[n - 2] = "subscribe";
    v[n - 2] = topic;
    k[n - 1] = "startingOffsets";
    v[n - 1] = o->starting_offsets;
    sc_read_opts_t ro = {
        .format = "kafka", .option_keys = k, .option_values = v, .noptions = n, .streaming = true};
    sc_error_t *e = sc_error_new();
    sc_df_t *src = NULL, *parsed = NULL, *kept = NULL, *proj = NULL, *wm = NULL;
    char *parse = cp_strf("from_json(CAST(value AS STRING), '%s') AS v", schema);
    int rc = -1;
    if (!e || !parse) {
        set_err(err, errlen, "live metrics: out of memory");
        goto out;
    }
    const char *pe[] = {parse};
    if (sc_read(s, &ro, NULL, 0, &src, e) != SC_OK) {
        sc_fail(err, errlen, topic, e);
        goto out;
    }
    if (sc_df_select_expr(src, pe, 1, &parsed, e) != SC_OK ||
        sc_df_filter(parsed, valid, &kept, e) != SC_OK ||
        sc_df_select_expr(kept, cols, ncols, &proj, e) != SC_OK ||
        sc_df_with_watermark(proj, time_col, o->watermark_delay, &wm, e) != SC_OK ||
        sc_df_create_view(wm, view, true, e) != SC_OK) {
        sc_fail(err, errlen, topic, e);
        goto out;
    }
    rc = 0;
out:
    sc_df_destroy(wm);
    sc_df_destroy(proj);
    sc_df_destroy(kept);
    sc_df_destroy(parsed);
    sc_df_destroy(src);
    sc_error_destroy(e);
    free(parse);
    free(k);
    free(v);
    return rc;
}

int cp_live_metrics_df(sc_session_t *s, const cp_live_metrics_opts_t *o, sc_df_t **out, char *err,
                       size_t errlen)
{
    *out = NULL;
    if (!s || !o)
        return set_err(err, errlen, "live metrics: no session or options"), -1;
    if (validate(o, err, errlen) < 0)
        return -1;

    char pview[96], qview[96];
    snprintf(pview, sizeof pview, "%s_predictions", o->query_name);
    snprintf(qview, sizeof qview, "%s_prices", o->query_name);

    static const char *const pcols[] = {
        "v.request_id AS request_id",
        "v.model_name AS model_name",
        "v.model_version AS model_version",
        "v.predicted_price AS yhat",
        "timestamp_millis(v.predicted_at_ms) AS pred_time",
    };
    static const char *const qcols[] = {
        "v.request_id AS request_id",
        "v.price AS y",
        "timestamp_millis(v.set_at_ms) AS price_time",
    };
    /* BETWEEN is false for NaN (Spark orders NaN above every number) and for
     * infinities, so these also drop non-finite numbers. */
    static const char *const pvalid =
        "v IS NOT NULL AND v.request_id IS NOT NULL AND v.request_id <> '' AND "
        "v.model_name IS NOT NULL AND v.model_version IS NOT NULL AND v.model_version <> '' AND "
        "v.predicted_price BETWEEN -" MAX_USD " AND " MAX_USD " AND "
        "v.predicted_at_ms BETWEEN 0 AND " MAX_EPOCH_MS;
    static const char *const qvalid =
        "v IS NOT NULL AND v.request_id IS NOT NULL AND v.request_id <> '' AND "
        "v.price BETWEEN -" MAX_USD " AND " MAX_USD " AND "
        "v.set_at_ms BETWEEN 0 AND " MAX_EPOCH_MS;
    if (source_view(s, o, o->predictions_topic, PRED_SCHEMA, pvalid, pcols, 5, "pred_time", pview,
                    err, errlen) < 0 ||
        source_view(s, o, o->prices_topic, PRICE_SCHEMA, qvalid, qcols, 3, "price_time", qview, err,
                    errlen) < 0)
        return -1;

    /* Three stateful operators, chained in append mode (Spark >= 3.5 carries
     * the watermark through them):
     *  1. pairs: a stream-stream inner join with a time range, so Spark can
     *     drop a prediction from state once no price can still match it;
     *  2. firsts: one row per (version, request): duplicate predictions of a
     *     request by the same version (a restart answering it again) join the
     *     same price and collapse here, keeping the earliest prediction. The
     *     price's time is a key so the group is closed by the watermark —
     *     the SQL form of dropDuplicatesWithinWatermark(request_id,
     *     model_version) after the join. pred_time stays inside min_by:
     *     grouping by it too would leave two event-time columns, which Spark
     *     refuses in the next stateful operator;
     *  3. the sliding window over the price's time. SST = n * var_pop(y):
     *     var_pop is Spark's numerically stable central moment, equal to
     *     (Σy² - (Σy)²/n)/n without that formula's cancellation, so
     *     R² = 1 - mean(e²) / var_pop(y); NULL when var_pop(y) = 0. */
    char *sql =
        cp_strf("WITH pairs AS ("
                " SELECT p.model_name, p.model_version, p.request_id, p.yhat, p.pred_time, q.y, "
                "q.price_time"
                " FROM %s p JOIN %s q ON p.request_id = q.request_id"
                " AND q.price_time >= p.pred_time AND q.price_time <= p.pred_time + INTERVAL '%s'),"
                " firsts AS ("
                " SELECT model_name, model_version, request_id, price_time, max(y) AS y,"
                " min_by(yhat, pred_time) AS yhat"
                " FROM pairs GROUP BY model_name, model_version, request_id, price_time),"
                " win AS ("
                " SELECT model_name, model_version, window(price_time, '%s', '%s') AS w,"
                " count(*) AS n, avg(abs(yhat - y)) AS mae, avg((yhat - y) * (yhat - y)) AS mse,"
                " avg(CASE WHEN y <> 0 THEN abs(yhat - y) / abs(y) END) AS mape, var_pop(y) AS vy"
                " FROM firsts GROUP BY model_name, model_version, window(price_time, '%s', '%s'))"
                " SELECT model_version AS key, to_json(named_struct("
                "'model_name', model_name, 'model_version', model_version,"
                " 'window_start_ms', unix_millis(w.start), 'window_end_ms', unix_millis(w.end),"
                " 'count', n, 'mae', mae, 'rmse', sqrt(mse), 'mape', mape,"
                " 'r2', CASE WHEN vy > 0 THEN 1 - mse / vy END,"
                " 'computed_at_ms', unix_millis(current_timestamp())),"
                " map('ignoreNullFields', 'false')) AS value FROM win",
                pview, qview, o->price_bound, o->window, o->slide, o->window, o->slide);
    if (!sql)
        return set_err(err, errlen, "live metrics: out of memory"), -1;
    sc_error_t *e = sc_error_new();
    if (!e) {
        free(sql);
        return set_err(err, errlen, "live metrics: out of memory"), -1;
    }
    int rc = 0;
    if (sc_sql(s, sql, NULL, 0, out, e) != SC_OK)
        rc = sc_fail(err, errlen, "query", e);
    sc_error_destroy(e);
    free(sql);
    return rc;
}

int cp_live_metrics_start(sc_session_t *s, const cp_live_metrics_opts_t *o, sc_query_t **out,
                          char *err, size_t errlen)
{
    *out = NULL;
    sc_df_t *df = NULL;
    if (cp_live_metrics_df(s, o, &df, err, errlen) < 0)
        return -1;
    const char **k = NULL, **v = NULL;
    size_t n;
    if (kafka_opts(o, 1, &k, &v, &n) < 0) {
        sc_df_destroy(df);
        return set_err(err, errlen, "live metrics: out of memory"), -1;
    }
    k[n - 1] = "topic";
    v[n - 1] = o->metrics_topic;
    sc_stream_opts_t so = {.format = "kafka",
                           .output_mode = "append",
                           .query_name = o->query_name,
                           .checkpoint = o->checkpoint,
                           .trigger = SC_TRIGGER_PROCESSING_TIME,
                           .interval = o->trigger_interval,
                           .option_keys = k,
                           .option_values = v,
                           .noptions = n};
    /* Every stateful operator has spark.sql.shuffle.partitions state stores,
     * each visited by every micro-batch: Spark's default of 200 costs seconds
     * per batch for a stream of a few prices per second. */
    static const char *const parts_key = "spark.sql.shuffle.partitions";
    char parts[16];
    snprintf(parts, sizeof parts, "%d", o->state_partitions);
    char *saved = NULL;
    sc_error_t *e = sc_error_new();
    int rc = 0;
    if (!e)
        rc = (set_err(err, errlen, "live metrics: out of memory"), -1);
    else if (sc_session_conf_get(s, parts_key, &saved, e) != SC_OK ||
             sc_session_conf_set(s, parts_key, parts, e) != SC_OK)
        rc = sc_fail(err, errlen, "setting state partitions", e);
    else {
        if (sc_stream_start(df, &so, out, e) != SC_OK)
            rc = sc_fail(err, errlen, "start", e);
        /* Best effort: the query has started (or failed) either way. */
        sc_session_conf_set(s, parts_key, saved ? saved : "200", NULL);
    }
    free(saved);
    sc_error_destroy(e);
    free(k);
    free(v);
    sc_df_destroy(df);
    return rc;
}
