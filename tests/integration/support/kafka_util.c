#include "kafka_util.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *tk_bootstrap(void)
{
    const char *b = getenv("CARPRICE_KAFKA_BOOTSTRAP");
    return b && *b ? b : "127.0.0.1:9092";
}

const char *tk_unique_topic(const char *prefix)
{
    static char buf[128];
    static int seq;
    snprintf(buf, sizeof buf, "%s.%ld.%d.%d", prefix, (long)time(NULL), (int)getpid(), seq++);
    return buf;
}

int tk_produce(const char *topic, const char *const *keys, const char *const *values, size_t n)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", tk_bootstrap(), errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
        fprintf(stderr, "kafka conf: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!p) {
        fprintf(stderr, "kafka producer: %s\n", errstr);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        rd_kafka_resp_err_t e;
        size_t klen = keys && keys[i] ? strlen(keys[i]) : 0;
        while ((e = rd_kafka_producev(
                    p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(klen ? keys[i] : NULL, klen),
                    RD_KAFKA_V_VALUE((void *)values[i], values[i] ? strlen(values[i]) : 0),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
               RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(p, 100);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "kafka produce: %s\n", rd_kafka_err2str(e));
            rd_kafka_destroy(p);
            return -1;
        }
    }
    int rc = rd_kafka_flush(p, 30000) == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
    rd_kafka_destroy(p);
    return rc;
}

static char *dupn(const void *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        if (n)
            memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

size_t tk_consume(const char *topic, size_t want, long timeout_ms, tk_msg_t **out)
{
    char errstr[256], group[160];
    *out = calloc(want ? want : 1, sizeof **out);
    if (!*out)
        return 0;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    snprintf(group, sizeof group, "%s.reader.%d", topic, (int)getpid());
    rd_kafka_conf_set(conf, "bootstrap.servers", tk_bootstrap(), errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr);
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!c)
        return 0;
    rd_kafka_poll_set_consumer(c);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(c, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    size_t got = 0;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long elapsed = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
        if (got >= want || elapsed > timeout_ms)
            break;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 200);
        if (!m)
            continue;
        if (!m->err) {
            (*out)[got].key = dupn(m->key, m->key_len);
            (*out)[got].value = dupn(m->payload, m->len);
            got++;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    return got;
}

void tk_msgs_free(tk_msg_t *msgs, size_t n)
{
    for (size_t i = 0; msgs && i < n; i++) {
        free(msgs[i].key);
        free(msgs[i].value);
    }
    free(msgs);
}
