/* Smoke test against the real Kafka broker of the local stack
 * (CARPRICE_KAFKA_BOOTSTRAP, default 127.0.0.1:9092): every message produced
 * to a fresh topic is consumed back, in order, with its key and value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define N_MESSAGES 1000

static const char *bootstrap(void)
{
    const char *b = getenv("CARPRICE_KAFKA_BOOTSTRAP");
    return b && *b ? b : "127.0.0.1:9092";
}

static rd_kafka_conf_t *conf_new(void)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap(), errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK)
        fail_msg("conf: %s", errstr);
    return conf;
}

static void produce_then_consume_round_trips(void **state)
{
    (void)state;
    char topic[64], errstr[256];
    snprintf(topic, sizeof topic, "carprice.smoke.%ld.%d", (long)time(NULL), (int)getpid());

    rd_kafka_conf_t *pconf = conf_new();
    rd_kafka_conf_set(pconf, "enable.idempotence", "true", errstr, sizeof errstr);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, errstr, sizeof errstr);
    assert_non_null(p);
    for (int i = 0; i < N_MESSAGES; i++) {
        char key[16], val[64];
        snprintf(key, sizeof key, "k%d", i);
        snprintf(val, sizeof val, "{\"i\":%d}", i);
        rd_kafka_resp_err_t e;
        while ((e = rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
                                      RD_KAFKA_V_VALUE(val, strlen(val)),
                                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
               RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(p, 100);
        assert_int_equal(e, RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    assert_int_equal(rd_kafka_flush(p, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(p);

    rd_kafka_conf_t *cconf = conf_new();
    char group[80];
    snprintf(group, sizeof group, "%s.g", topic);
    rd_kafka_conf_set(cconf, "group.id", group, errstr, sizeof errstr);
    rd_kafka_conf_set(cconf, "auto.offset.reset", "earliest", errstr, sizeof errstr);
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, cconf, errstr, sizeof errstr);
    assert_non_null(c);
    rd_kafka_poll_set_consumer(c);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    assert_int_equal(rd_kafka_subscribe(c, sub), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(sub);

    int got = 0;
    time_t deadline = time(NULL) + 60;
    while (got < N_MESSAGES && time(NULL) < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 500);
        if (!m)
            continue;
        if (m->err) {
            rd_kafka_message_destroy(m);
            continue;
        }
        char want_key[16], want_val[64];
        snprintf(want_key, sizeof want_key, "k%d", got);
        snprintf(want_val, sizeof want_val, "{\"i\":%d}", got);
        assert_int_equal(m->key_len, strlen(want_key));
        assert_memory_equal(m->key, want_key, m->key_len);
        assert_int_equal(m->len, strlen(want_val));
        assert_memory_equal(m->payload, want_val, m->len);
        got++;
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    assert_int_equal(got, N_MESSAGES);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(produce_then_consume_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
