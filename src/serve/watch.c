/* What /metrics reports from Kafka rather than from Spark: the live error
 * metrics of this instance's model version (the newest window in the metrics
 * topic) and the size of the dead-letter topic. One thread, one librdkafka
 * consumer without a group (partitions assigned, nothing committed). */
#define _GNU_SOURCE
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "carprice/log.h"
#include "serve_internal.h"

#define WATERMARK_EVERY_S 5.0

static void serve_watch_stop_free(serve_watch_t *w, bool started);

struct serve_watch_s {
    rd_kafka_t *rk;
    char *dlq_topic, *metrics_topic, *version;
    pthread_t thread;
    pthread_mutex_t mu;
    atomic_int stop;
    bool assigned;
    serve_watch_snapshot_t snap;
};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Partitions of topic, or -1 when it does not exist (yet). */
static int partitions(rd_kafka_t *rk, const char *topic)
{
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int n = -1;
    if (t && rd_kafka_metadata(rk, 0, t, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
        n = md->topics[0].partition_cnt;
    else
        cp_log_debug("serve.watch_metadata", "topic=%s partitions=unknown", topic);
    if (md)
        rd_kafka_metadata_destroy(md);
    if (t)
        rd_kafka_topic_destroy(t);
    return n;
}

static void dlq_size(serve_watch_t *w)
{
    int n = partitions(w->rk, w->dlq_topic);
    if (n < 0)
        return;
    int64_t total = 0;
    for (int p = 0; p < n; p++) {
        int64_t lo = 0, hi = 0;
        rd_kafka_resp_err_t e =
            rd_kafka_query_watermark_offsets(w->rk, w->dlq_topic, p, &lo, &hi, 5000);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            cp_log_debug("serve.watch_watermarks", "topic=%s error=\"%s\"", w->dlq_topic,
                         rd_kafka_err2str(e));
            return;
        }
        total += hi;
    }
    pthread_mutex_lock(&w->mu);
    w->snap.dlq_known = true;
    w->snap.dlq_messages = total;
    pthread_mutex_unlock(&w->mu);
}

static void assign_metrics(serve_watch_t *w)
{
    int n = partitions(w->rk, w->metrics_topic);
    if (n <= 0)
        return;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
    for (int p = 0; p < n; p++)
        rd_kafka_topic_partition_list_add(l, w->metrics_topic, p)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    if (rd_kafka_assign(w->rk, l) == RD_KAFKA_RESP_ERR_NO_ERROR)
        w->assigned = true;
    rd_kafka_topic_partition_list_destroy(l);
}

static void on_metric(serve_watch_t *w, const rd_kafka_message_t *m)
{
    json_error_t je;
    json_t *o = json_loadb(m->payload, m->len, 0, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return;
    }
    const char *v = json_string_value(json_object_get(o, "model_version"));
    json_t *end = json_object_get(o, "window_end_ms");
    if (v && strcmp(v, w->version) == 0 && json_is_integer(end)) {
        pthread_mutex_lock(&w->mu);
        /* The newest window wins; a window's later update replaces it too. */
        if (json_integer_value(end) >= w->snap.window_end_ms) {
            w->snap.quality_known = true;
            w->snap.window_end_ms = json_integer_value(end);
            w->snap.count = json_integer_value(json_object_get(o, "count"));
            w->snap.mae = json_number_value(json_object_get(o, "mae"));
            w->snap.rmse = json_number_value(json_object_get(o, "rmse"));
            w->snap.mape = json_number_value(json_object_get(o, "mape"));
        }
        pthread_mutex_unlock(&w->mu);
    }
    json_decref(o);
}

static void *watch_main(void *arg)
{
    serve_watch_t *w = arg;
    double last_wm = 0;
    while (!w->stop) {
        if (mono_s() - last_wm >= WATERMARK_EVERY_S) {
            last_wm = mono_s();
            dlq_size(w);
            if (!w->assigned)
                assign_metrics(w);
        }
        if (!w->assigned) {
            struct timespec ts = {0, 200000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(w->rk, 200);
        if (!m)
            continue;
        if (!m->err && m->payload)
            on_metric(w, m);
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

int serve_watch_start(const char *bootstrap, const char *dlq_topic, const char *metrics_topic,
                      const char *model_version, serve_watch_t **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    serve_watch_t *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_init(&w->mu, NULL);
    w->dlq_topic = strdup(dlq_topic);
    w->metrics_topic = strdup(metrics_topic);
    w->version = strdup(model_version);
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* Small: this consumer reads a few small messages a minute. */
    const char *kv[][2] = {{"bootstrap.servers", bootstrap},
                           {"group.id", "carprice-serve-watch"},
                           {"enable.auto.commit", "false"},
                           {"enable.auto.offset.store", "false"},
                           {"queued.max.messages.kbytes", "1024"},
                           {"fetch.max.bytes", "1048576"},
                           {"receive.message.max.bytes", "2097152"},
                           {"statistics.interval.ms", "0"},
                           {"log_level", "3"}};
    for (size_t i = 0; conf && i < sizeof kv / sizeof kv[0]; i++)
        if (rd_kafka_conf_set(conf, kv[i][0], kv[i][1], err, sizeof err) != RD_KAFKA_CONF_OK) {
            snprintf(errbuf, errlen, "kafka: %s", err);
            rd_kafka_conf_destroy(conf);
            conf = NULL;
        }
    if (conf && !(w->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err))) {
        snprintf(errbuf, errlen, "kafka: %s", err);
        rd_kafka_conf_destroy(conf);
    }
    if (!w->rk || !w->dlq_topic || !w->metrics_topic || !w->version ||
        pthread_create(&w->thread, NULL, watch_main, w) != 0) {
        if (w->rk)
            snprintf(errbuf, errlen, "cannot start the Kafka watcher");
        serve_watch_stop_free(w, false);
        return -1;
    }
    *out = w;
    return 0;
}

void serve_watch_get(serve_watch_t *w, serve_watch_snapshot_t *out)
{
    memset(out, 0, sizeof *out);
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    *out = w->snap;
    pthread_mutex_unlock(&w->mu);
}

static void serve_watch_stop_free(serve_watch_t *w, bool started)
{
    if (!w)
        return;
    if (started) {
        w->stop = 1;
        pthread_join(w->thread, NULL);
    }
    if (w->rk) {
        rd_kafka_consumer_close(w->rk);
        rd_kafka_destroy(w->rk);
    }
    free(w->dlq_topic);
    free(w->metrics_topic);
    free(w->version);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

void serve_watch_stop(serve_watch_t *w)
{
    serve_watch_stop_free(w, true);
}
