/* Request ids against prediction messages (see carprice/audit.h). */
#define _GNU_SOURCE
#include "carprice/audit.h"

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    char *id;
    int64_t answers;
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
        v[len].answers = 0;
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

static void count_version(cp_audit_t *a, const char *v)
{
    for (size_t i = 0; i < a->nversions; i++)
        if (strcmp(a->versions[i], v) == 0) {
            a->version_answers[i]++;
            return;
        }
    if (a->nversions < CP_AUDIT_MAX_VERSIONS) {
        snprintf(a->versions[a->nversions], sizeof a->versions[0], "%s", v);
        a->version_answers[a->nversions++] = 1;
    }
}

int cp_audit_predictions(const char *bootstrap, const char *topic, const char *ids_path,
                         long idle_ms, long max_ms, cp_audit_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    entry_t *ids = NULL;
    size_t n = 0;
    if (load_ids(ids_path, &ids, &n, err, errlen) != 0)
        return -1;
    out->sent = (int64_t)n;

    char group[96], es[512];
    snprintf(group, sizeof group, "carprice-audit-%d-%ld", (int)getpid(), (long)time(NULL));
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk = NULL;
    rd_kafka_topic_partition_list_t *subs = NULL;
    int rc = -1;
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, es, sizeof es) ||
        rd_kafka_conf_set(conf, "group.id", group, es, sizeof es) ||
        rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", es, sizeof es) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", es, sizeof es) ||
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", es, sizeof es)) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errlen, "Kafka configuration: %s", es);
        goto done;
    }
    if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, es, sizeof es))) {
        snprintf(err, errlen, "Kafka consumer: %s", es);
        goto done;
    }
    rd_kafka_poll_set_consumer(rk);
    subs = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(subs, topic, RD_KAFKA_PARTITION_UA);
    if (rd_kafka_subscribe(rk, subs) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "cannot subscribe to %s", topic);
        goto done;
    }
    double start = now_ms(), last = start;
    int64_t unanswered = (int64_t)n;
    bool eof_seen = false;
    while (unanswered > 0 || !eof_seen) {
        double t = now_ms();
        if (t - start > max_ms || (eof_seen && t - last > idle_ms))
            break;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eof_seen = true;
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->err) {
            if (m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
                m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
                eof_seen = true; /* no topic: nothing was answered */
            }
            rd_kafka_message_destroy(m);
            continue;
        }
        last = now_ms();
        out->messages++;
        char key[256], version[32];
        snprintf(key, sizeof key, "%.*s", (int)(m->key_len < 255 ? m->key_len : 255),
                 m->key ? (const char *)m->key : "");
        version_of(m->payload ? (const char *)m->payload : "", m->len, version, sizeof version);
        entry_t probe = {.id = key};
        entry_t *e = n ? bsearch(&probe, ids, n, sizeof *ids, cmp_entry) : NULL;
        if (!e) {
            out->foreign++;
        } else {
            if (e->answers++ == 0)
                unanswered--;
            count_version(out, version);
        }
        rd_kafka_message_destroy(m);
    }
    for (size_t i = 0; i < n; i++) {
        out->answered += ids[i].answers > 0;
        out->duplicated += ids[i].answers > 1;
    }
    out->lost = out->sent - out->answered;
    rc = 0;
done:
    if (subs)
        rd_kafka_topic_partition_list_destroy(subs);
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    for (size_t i = 0; i < n; i++)
        free(ids[i].id);
    free(ids);
    return rc;
}
