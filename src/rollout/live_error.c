/* The live MAE of one model version over a time range, from the metrics
 * topic, for the rollback check of `carprice watch-model`. */
#define _GNU_SOURCE
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "carprice/util.h"
#include "rollout_internal.h"

#define READ_BOUND_S 60.0 /* reading the topic's tail must not take longer */
#define MAX_WINDOWS  100000

typedef struct {
    int64_t start, end;
    long count;
    double mae;
} win_t;

static int cmp_win(const void *a, const void *b)
{
    const win_t *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Keeps the window if it is of the version, inside the range, and new
 * (a window is written once, but a replayed query may write it again). */
static void take(const char *payload, size_t len, const char *name, const char *version,
                 int64_t from_ms, int64_t to_ms, win_t *ws, size_t *n)
{
    json_error_t je;
    json_t *o = json_loadb(payload, len, 0, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return;
    }
    const char *mn = json_string_value(json_object_get(o, "model_name"));
    const char *mv = json_string_value(json_object_get(o, "model_version"));
    json_t *ws_ = json_object_get(o, "window_start_ms"), *we = json_object_get(o, "window_end_ms");
    json_t *c = json_object_get(o, "count"), *m = json_object_get(o, "mae");
    if (mn && mv && !strcmp(mn, name) && !strcmp(mv, version) && json_is_integer(ws_) &&
        json_is_integer(we) && json_is_integer(c) && json_is_number(m) && *n < MAX_WINDOWS) {
        win_t w = {json_integer_value(ws_), json_integer_value(we), (long)json_integer_value(c),
                   json_number_value(m)};
        bool dup = false;
        for (size_t i = 0; i < *n && !dup; i++)
            dup = ws[i].start == w.start && ws[i].end == w.end;
        if (!dup && w.start >= from_ms && w.end <= to_ms && w.count > 0 && isfinite(w.mae))
            ws[(*n)++] = w;
    }
    json_decref(o);
}

int cp_live_error(const char *bootstrap, const char *topic, const char *model_name,
                  const char *model_version, int64_t from_ms, int64_t to_ms, cp_live_error_t *out,
                  char *errbuf, size_t errlen)
{
    out->mae = NAN;
    out->count = 0;
    out->windows = 0;
    char es[512], group[96];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    snprintf(group, sizeof group, "carprice-watch-model-%d", (int)getpid());
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, es, sizeof es) ||
        rd_kafka_conf_set(conf, "group.id", group, es, sizeof es) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", es, sizeof es) ||
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", es, sizeof es)) {
        snprintf(errbuf, errlen, "kafka: %s", es);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, es, sizeof es);
    if (!rk) {
        snprintf(errbuf, errlen, "kafka consumer: %s", es);
        return -1;
    }
    int rc = -1;
    win_t *ws = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, 10000);
    if (e || md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt == 0) {
        snprintf(errbuf, errlen, "metrics topic %s: %s", topic,
                 rd_kafka_err2str(e               ? e
                                  : md->topic_cnt ? md->topics[0].err
                                                  : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
        goto done;
    }
    /* Start each partition at the first message written at or after from_ms:
     * a window inside the range is written after it ends. */
    int np = md->topics[0].partition_cnt;
    parts = rd_kafka_topic_partition_list_new(np);
    for (int i = 0; i < np; i++)
        rd_kafka_topic_partition_list_add(parts, topic, md->topics[0].partitions[i].id)->offset =
            from_ms;
    if ((e = rd_kafka_offsets_for_times(rk, parts, 10000))) {
        snprintf(errbuf, errlen, "metrics topic %s: offsets for %lld: %s", topic,
                 (long long)from_ms, rd_kafka_err2str(e));
        goto done;
    }
    /* Partitions with nothing that recent (offset -1, the end) are skipped. */
    rd_kafka_topic_partition_list_t *assign = rd_kafka_topic_partition_list_new(np);
    for (int i = 0; i < parts->cnt; i++)
        if (parts->elems[i].offset >= 0)
            rd_kafka_topic_partition_list_add(assign, topic, parts->elems[i].partition)->offset =
                parts->elems[i].offset;
    int left = assign->cnt;
    ws = calloc(MAX_WINDOWS, sizeof *ws);
    if (!ws || (left && (e = rd_kafka_assign(rk, assign)))) {
        snprintf(errbuf, errlen, "metrics topic %s: %s", topic,
                 ws ? rd_kafka_err2str(e) : "out of memory");
        rd_kafka_topic_partition_list_destroy(assign);
        goto done;
    }
    rd_kafka_topic_partition_list_destroy(assign);
    size_t n = 0;
    double t0 = cp_now_s();
    while (left > 0) {
        if (cp_now_s() - t0 > READ_BOUND_S) {
            snprintf(errbuf, errlen, "metrics topic %s: not read to its end within %.0f s", topic,
                     READ_BOUND_S);
            goto done;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            left--;
        else if (!m->err)
            take(m->payload, m->len, model_name, model_version, from_ms, to_ms, ws, &n);
        else if (m->err != RD_KAFKA_RESP_ERR__TRANSPORT) {
            snprintf(errbuf, errlen, "metrics topic %s: %s", topic, rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            goto done;
        }
        rd_kafka_message_destroy(m);
    }
    /* Sliding windows overlap: count each pair once by choosing windows that
     * do not overlap, earliest first. */
    qsort(ws, n, sizeof *ws, cmp_win);
    int64_t edge = INT64_MIN;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (ws[i].start < edge)
            continue;
        edge = ws[i].end;
        sum += ws[i].mae * (double)ws[i].count;
        out->count += ws[i].count;
        out->windows++;
    }
    if (out->count > 0)
        out->mae = sum / (double)out->count;
    rc = 0;
done:
    free(ws);
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}
