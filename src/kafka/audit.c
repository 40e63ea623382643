/* Request ids against prediction messages (see carprice/audit.h). */
#define _GNU_SOURCE
#include "carprice/audit.h"

#include <librdkafka/rdkafka.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    char *id;
    int64_t answers;
    int64_t dead_letters;
} entry_t;

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const entry_t *)a)->id, ((const entry_t *)b)->id);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int load_ids(const char *path, entry_t **out, size_t *n, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %m", path);
        return -1;
    }
    size_t cap = 1024, len = 0;
    entry_t *v = malloc(cap * sizeof *v);
    char *line = NULL;
    size_t lcap = 0;
    ssize_t got;
    while (v && (got = getline(&line, &lcap, f)) >= 0) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!*line)
            continue;
        if (len == cap) {
            entry_t *bigger = realloc(v, cap * 2 * sizeof *v);
            if (!bigger)
                break;
            v = bigger;
            cap *= 2;
        }
        v[len].answers = v[len].dead_letters = 0;
        if (!(v[len].id = strdup(line)))
            break;
        len++;
    }
    free(line);
    fclose(f);
    if (!v) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    qsort(v, len, sizeof *v, cmp_entry);
    /* Distinct ids: a repeated line counts once. */
    size_t w = 0;
    for (size_t i = 0; i < len; i++) {
        if (w && strcmp(v[w - 1].id, v[i].id) == 0) {
            free(v[i].id);
            continue;
        }
        v[w++] = v[i];
    }
    *out = v;
    *n = w;
    return 0;
}

/* The model_version string of a prediction value, or "?". */
static void version_of(const char *value, size_t len, char *out, size_t outlen)
{
    static const char key[] = "\"model_version\":\"";
    const char *p = memmem(value, len, key, sizeof key - 1);
    snprintf(out, outlen, "?");
    if (!p)
        return;
    p += sizeof key - 1;
    const char *end = memchr(p, '"', (size_t)(value + len - p));
    if (end)
        snprintf(out, outlen, "%.*s", (int)(end - p), p);
}

/* The number after "key": in a JSON object's text; NaN when the member is
 * missing, null or not a number. Enough for the flat objects serve writes
 * (docs/messages.md), whose member names are not values anywhere. */
static double number_of(const char *value, size_t len, const char *key)
{
    char pat[64];
    int pl = snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = memmem(value, len, pat, (size_t)pl);
    if (!p)
        return NAN;
    p += pl;
    char num[64];
    size_t n = 0;
    while (p + n < value + len && n < sizeof num - 1 && strchr("0123456789+-.eE", p[n]))
        n++;
    if (n == 0)
        return NAN;
    memcpy(num, p, n);
    num[n] = '\0';
    char *end;
    double d = strtod(num, &end);
    return *end ? NAN : d;
}

static void count_version(cp_audit_t *a, const char *v, int64_t request_ms)
{
    size_t i = 0;
    while (i < a->nversions && strcmp(a->versions[i], v) != 0)
        i++;
    if (i == a->nversions) {
        if (a->nversions == CP_AUDIT_MAX_VERSIONS)
            return;
        snprintf(a->versions[i], sizeof a->versions[0], "%s", v);
        a->version_answers[i] = 0;
        a->version_first_request_ms[i] = a->version_last_request_ms[i] = request_ms;
        a->nversions++;
    }
    a->version_answers[i]++;
    if (request_ms > 0 &&
        (a->version_first_request_ms[i] <= 0 || request_ms < a->version_first_request_ms[i]))
        a->version_first_request_ms[i] = request_ms;
    if (request_ms > a->version_last_request_ms[i])
        a->version_last_request_ms[i] = request_ms;
}

/* One live-metrics message into the per-version summary. */
static void count_window(cp_audit_metrics_t *a, const char *value, size_t len)
{
    char v[32];
    version_of(value, len, v, sizeof v);
    double start = number_of(value, len, "window_start_ms");
    double end = number_of(value, len, "window_end_ms");
    double count = number_of(value, len, "count");
    /* serve always writes count (never null): a message without one is not
     * a window and must not become a version's latest. */
    if (strcmp(v, "?") == 0 || isnan(start) || isnan(end) || isnan(count)) {
        a->invalid++;
        return;
    }
    size_t i = 0;
    while (i < a->nversions && strcmp(a->versions[i].version, v) != 0)
        i++;
    if (i == a->nversions) {
        if (a->nversions == CP_AUDIT_MAX_VERSIONS)
            return;
        memset(&a->versions[i], 0, sizeof a->versions[i]);
        snprintf(a->versions[i].version, sizeof a->versions[i].version, "%s", v);
        a->nversions++;
    }
    cp_audit_window_t *w = &a->versions[i];
    int64_t c = (int64_t)count;
    w->windows++;
    if (w->windows > 1 &&
        ((int64_t)end < w->window_end_ms || ((int64_t)end == w->window_end_ms && c <= w->count)))
        return;
    w->window_start_ms = (int64_t)start;
    w->window_end_ms = (int64_t)end;
    w->count = c;
    w->mae = number_of(value, len, "mae");
    w->rmse = number_of(value, len, "rmse");
    w->mape = number_of(value, len, "mape");
    w->r2 = number_of(value, len, "r2");
}

#define MAX_PARTS 256

typedef enum { READ_PREDICTIONS, READ_DEAD_LETTERS, READ_METRICS } read_mode_t;

/* Reads topic from the beginning: dead letters, predictions or live metrics
 * (into *metrics; ids unused). No
 * consumer group: the partitions are assigned directly and their ends come
 * from the broker's high watermarks, re-read every second. Dead letters are
 * read to the end; predictions until every id is answered and the end is
 * reached, or until idle_ms pass at the end without a new message. max_ms
 * bounds either. A topic that does not exist holds nothing. */
static int drain(const char *bootstrap, const char *topic, read_mode_t mode, entry_t *ids, size_t n,
                 int64_t *unanswered, long idle_ms, long max_ms, cp_audit_t *out,
                 cp_audit_metrics_t *metrics, char *err, size_t errlen)
{
    bool dead = mode != READ_PREDICTIONS; /* read to the end, whatever is answered */
    char es[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk = NULL;
    rd_kafka_topic_t *rkt = NULL;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_partition_list_t *assign = NULL;
    int64_t next[MAX_PARTS], high[MAX_PARTS];
    int nparts = 0, rc = -1;
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, es, sizeof es) ||
        rd_kafka_conf_set(conf, "group.id", "carprice-audit", es, sizeof es) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", es, sizeof es) ||
        rd_kafka_conf_set(conf, "allow.auto.create.topics", "false", es, sizeof es)) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errlen, "Kafka configuration: %s", es);
        return -1;
    }
    if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, es, sizeof es))) {
        snprintf(err, errlen, "Kafka consumer: %s", es);
        return -1;
    }
    rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t e =
        rkt ? rd_kafka_metadata(rk, 0, rkt, &md, 15000) : RD_KAFKA_RESP_ERR__INVALID_ARG;
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "Kafka at %s: metadata of %s: %s", bootstrap, topic,
                 rd_kafka_err2str(e));
        goto done;
    }
    if (md->topic_cnt < 1 || md->topics[0].err) {
        rc = 0; /* no such topic: nothing was written to it */
        goto done;
    }
    nparts = md->topics[0].partition_cnt < MAX_PARTS ? md->topics[0].partition_cnt : MAX_PARTS;
    assign = rd_kafka_topic_partition_list_new(nparts);
    for (int i = 0; i < nparts; i++) {
        int32_t part = md->topics[0].partitions[i].id;
        rd_kafka_topic_partition_list_add(assign, topic, part)->offset = RD_KAFKA_OFFSET_BEGINNING;
        next[i] = 0;
        high[i] = 0;
    }
    if (rd_kafka_assign(rk, assign) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "cannot read %s", topic);
        goto done;
    }
    double start = now_ms(), last = start, checked = 0;
    for (;;) {
        double t = now_ms();
        if (t - start > max_ms)
            break;
        if (t - checked > 1000) {
            checked = t;
            for (int i = 0; i < nparts; i++) {
                int64_t lo = 0, hi = 0;
                if (rd_kafka_query_watermark_offsets(rk, topic, assign->elems[i].partition, &lo,
                                                     &hi, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                    high[i] = hi;
                    if (next[i] < lo)
                        next[i] = lo;
                }
            }
        }
        bool at_end = true;
        for (int i = 0; i < nparts; i++)
            at_end &= next[i] >= high[i];
        if (at_end && checked > 0 &&
            (dead || *unanswered == 0 || (idle_ms > 0 && t - last > idle_ms)))
            break;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err) {
            rd_kafka_message_destroy(m);
            continue;
        }
        for (int i = 0; i < nparts; i++)
            if (assign->elems[i].partition == m->partition && m->offset + 1 > next[i])
                next[i] = m->offset + 1;
        last = now_ms();
        if (mode == READ_METRICS) {
            metrics->messages++;
            count_window(metrics, m->payload ? (const char *)m->payload : "", m->len);
            rd_kafka_message_destroy(m);
            continue;
        }
        char key[256], version[32];
        snprintf(key, sizeof key, "%.*s", (int)(m->key_len < 255 ? m->key_len : 255),
                 m->key ? (const char *)m->key : "");
        entry_t probe = {.id = key};
        entry_t *en = n ? bsearch(&probe, ids, n, sizeof *ids, cmp_entry) : NULL;
        if (dead) {
            out->dead_letters++;
            if (en && en->dead_letters++ == 0 && en->answers == 0)
                (*unanswered)--;
        } else {
            out->messages++;
            if (!en) {
                out->foreign++;
            } else {
                if (en->answers++ == 0 && en->dead_letters == 0)
                    (*unanswered)--;
                const char *pv = m->payload ? (const char *)m->payload : "";
                version_of(pv, m->len, version, sizeof version);
                double ts = number_of(pv, m->len, "request_ts_ms");
                count_version(out, version, isnan(ts) ? 0 : (int64_t)ts);
            }
        }
        rd_kafka_message_destroy(m);
    }
    rc = 0;
done:
    if (assign)
        rd_kafka_topic_partition_list_destroy(assign);
    if (md)
        rd_kafka_metadata_destroy(md);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return rc;
}

int cp_audit_predictions(const char *bootstrap, const char *topic, const char *dlq_topic,
                         const char *ids_path, long idle_ms, long max_ms, cp_audit_t *out,
                         char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    entry_t *ids = NULL;
    size_t n = 0;
    if (load_ids(ids_path, &ids, &n, err, errlen) != 0)
        return -1;
    out->sent = (int64_t)n;
    int64_t unanswered = (int64_t)n;
    /* Dead letters first (serve rejects a request once and for all), then
     * predictions until every remaining id is answered. */
    int rc = 0;
    if (dlq_topic)
        rc = drain(bootstrap, dlq_topic, READ_DEAD_LETTERS, ids, n, &unanswered, idle_ms, max_ms,
                   out, NULL, err, errlen);
    if (rc == 0)
        rc = drain(bootstrap, topic, READ_PREDICTIONS, ids, n, &unanswered, idle_ms, max_ms, out,
                   NULL, err, errlen);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        out->answered += ids[i].answers > 0;
        out->duplicated += ids[i].answers > 1;
        out->rejected += ids[i].answers == 0 && ids[i].dead_letters > 0;
    }
    out->lost = out->sent - out->answered - out->rejected;
    for (size_t i = 0; i < n; i++)
        free(ids[i].id);
    free(ids);
    return rc;
}

int cp_audit_metrics(const char *bootstrap, const char *topic, long max_ms, cp_audit_metrics_t *out,
                     char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int64_t none = 0;
    return drain(bootstrap, topic, READ_METRICS, NULL, 0, &none, 0, max_ms, NULL, out, err, errlen);
}
