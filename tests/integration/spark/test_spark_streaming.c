/* The serving design, proven early: a Kafka topic of JSON requests is read
 * by a Structured Streaming query started from C, parsed with an explicit
 * schema, validated (bad records to a dead-letter topic with a reason),
 * scored, and written to a Kafka topic that this test reads back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kafka_util.h"
#include "sparkconnect/dataframe.h"
#include "sparkconnect/session.h"
#include "sparkconnect/streaming.h"

#define N_VALID   40
#define N_INVALID 6

static const char *remote(void)
{
    const char *r = getenv("CARPRICE_SPARK_REMOTE");
    return r && *r ? r : "sc://127.0.0.1:15002";
}

#define CHECK(call)                                                                                \
    do {                                                                                           \
        if ((call) != SC_OK)                                                                       \
            fail_msg("%s: %s", #call, sc_error_message(err));                                      \
    } while (0)

static sc_query_t *start_kafka_sink(const sc_df_t *df, const char *topic, const char *name,
                                    sc_error_t *err)
{
    char ckpt[256];
    snprintf(ckpt, sizeof ckpt, "/tmp/carprice-test-ckpt/%s", topic);
    const char *keys[] = {"kafka.bootstrap.servers", "topic"};
    const char *vals[] = {tk_bootstrap(), topic};
    sc_stream_opts_t so = {.format = "kafka",
                           .query_name = name,
                           .checkpoint = ckpt,
                           .trigger = SC_TRIGGER_PROCESSING_TIME,
                           .interval = "200 milliseconds",
                           .option_keys = keys,
                           .option_values = vals,
                           .noptions = 2};
    sc_query_t *q = NULL;
    CHECK(sc_stream_start(df, &so, &q, err));
    return q;
}

static void kafka_to_kafka_with_dead_letters(void **state)
{
    (void)state;
    sc_error_t *err = sc_error_new();
    sc_session_t *s = NULL;
    CHECK(sc_session_new(remote(), NULL, &s, err));

    char in_topic[128], out_topic[128], dlq_topic[128];
    snprintf(in_topic, sizeof in_topic, "%s", tk_unique_topic("t.requests"));
    snprintf(out_topic, sizeof out_topic, "%s", tk_unique_topic("t.predictions"));
    snprintf(dlq_topic, sizeof dlq_topic, "%s", tk_unique_topic("t.dlq"));

    /* The input topic must exist before the query starts reading it. */
    const char *warm_key[] = {"warmup"};
    const char *warm_val[] = {"{\"id\":\"warmup\",\"x\":1.0,\"cat\":\"a\"}"};
    assert_int_equal(tk_produce(in_topic, warm_key, warm_val, 1), 0);

    const char *rk[] = {"kafka.bootstrap.servers", "subscribe", "startingOffsets"};
    const char *rv[] = {tk_bootstrap(), in_topic, "earliest"};
    sc_read_opts_t ro = {.format = "kafka",
                         .option_keys = rk,
                         .option_values = rv,
                         .noptions = 3,
                         .streaming = true};
    sc_df_t *src = NULL, *parsed = NULL, *valid = NULL, *invalid = NULL, *scored = NULL,
            *out = NULL, *dlq = NULL;
    CHECK(sc_read(s, &ro, NULL, 0, &src, err));
    /* from_json turns text that is not JSON into a struct of nulls, so
     * json_object_keys (NULL unless the text is a JSON object) tells them apart. */
    const char *parse[] = {
        "CAST(value AS STRING) AS raw", "json_object_keys(CAST(value AS STRING)) AS nkeys",
        "from_json(CAST(value AS STRING), 'id STRING, x DOUBLE, cat STRING') AS r"};
    CHECK(sc_df_select_expr(src, parse, 3, &parsed, err));
    const char *ok = "nkeys IS NOT NULL AND r.id IS NOT NULL AND r.x IS NOT NULL AND "
                     "r.x BETWEEN 0 AND 1000";
    CHECK(sc_df_filter(parsed, ok, &valid, err));
    char bad[256];
    snprintf(bad, sizeof bad, "NOT (%s)", ok);
    CHECK(sc_df_filter(parsed, bad, &invalid, err));
    const char *score[] = {"r.id AS id", "r.x * 2 + IF(r.cat = 'a', 10, 0) AS prediction"};
    CHECK(sc_df_select_expr(valid, score, 2, &scored, err));
    const char *to_kafka[] = {"id AS key", "to_json(named_struct('id', id, 'prediction', "
                                           "prediction)) AS value"};
    CHECK(sc_df_select_expr(scored, to_kafka, 2, &out, err));
    const char *to_dlq[] = {
        "CAST(NULL AS STRING) AS key",
        "to_json(named_struct('reason', CASE WHEN nkeys IS NULL THEN 'malformed JSON' "
        "WHEN r.id IS NULL THEN 'missing id' WHEN r.x IS NULL THEN 'missing or non-numeric x' "
        "ELSE 'x out of range' END, 'payload', raw)) AS value"};
    CHECK(sc_df_select_expr(invalid, to_dlq, 2, &dlq, err));

    bool streaming = false;
    CHECK(sc_df_is_streaming(out, &streaming, err));
    assert_true(streaming);

    sc_query_t *q1 = start_kafka_sink(out, out_topic, NULL, err);
    sc_query_t *q2 = start_kafka_sink(dlq, dlq_topic, NULL, err);
    assert_non_null(q1);
    assert_true(strlen(sc_query_id(q1)) > 0);

    const char *keys[N_VALID + N_INVALID], *vals[N_VALID + N_INVALID];
    char kbuf[N_VALID][16], vbuf[N_VALID][96];
    for (int i = 0; i < N_VALID; i++) {
        snprintf(kbuf[i], sizeof kbuf[i], "r%d", i);
        snprintf(vbuf[i], sizeof vbuf[i], "{\"id\":\"r%d\",\"x\":%d.0,\"cat\":\"%c\"}", i, i,
                 "abz"[i % 3]);
        keys[i] = kbuf[i];
        vals[i] = vbuf[i];
    }
    const char *bad_vals[N_INVALID] = {"not json at all",
                                       "{\"x\":1.0}",
                                       "{\"id\":\"b2\"}",
                                       "{\"id\":\"b3\",\"x\":\"cheap\"}",
                                       "{\"id\":\"b4\",\"x\":-5.0}",
                                       "{\"id\":\"b5\",\"x\":1e9}"};
    for (int i = 0; i < N_INVALID; i++) {
        keys[N_VALID + i] = NULL;
        vals[N_VALID + i] = bad_vals[i];
    }
    assert_int_equal(tk_produce(in_topic, keys, vals, N_VALID + N_INVALID), 0);

    CHECK(sc_query_process_all_available(q1, err));
    CHECK(sc_query_process_all_available(q2, err));
    sc_query_status_t st;
    CHECK(sc_query_status(q1, &st, err));
    assert_true(st.active);
    char *progress = NULL;
    CHECK(sc_query_last_progress(q1, &progress, err));
    assert_non_null(progress);
    assert_non_null(strstr(progress, "\"numInputRows\""));
    free(progress);

    tk_msg_t *msgs = NULL;
    size_t got = tk_consume(out_topic, N_VALID + 1, 60000, &msgs);
    assert_int_equal(got, N_VALID + 1); /* + the warm-up record */
    int seen[N_VALID] = {0};
    for (size_t i = 0; i < got; i++) {
        if (strcmp(msgs[i].key, "warmup") == 0)
            continue;
        int id = -1;
        double pred = -1;
        assert_int_equal(sscanf(msgs[i].value, "{\"id\":\"r%d\",\"prediction\":%lf}", &id, &pred),
                         2);
        assert_true(id >= 0 && id < N_VALID);
        double want = 2.0 * id + (id % 3 == 0 ? 10 : 0);
        assert_true(pred == want);
        seen[id]++;
    }
    for (int i = 0; i < N_VALID; i++)
        assert_int_equal(seen[i], 1);
    tk_msgs_free(msgs, got);

    got = tk_consume(dlq_topic, N_INVALID, 60000, &msgs);
    assert_int_equal(got, N_INVALID);
    const char *reasons[] = {"malformed JSON", "missing id", "missing or non-numeric x",
                             "x out of range"};
    int nreason[4] = {0};
    for (size_t i = 0; i < got; i++)
        for (int r = 0; r < 4; r++)
            if (strstr(msgs[i].value, reasons[r]))
                nreason[r]++;
    /* "cheap" is not a double: from_json yields x = NULL, so it reads as missing. */
    assert_int_equal(nreason[0], 1);
    assert_int_equal(nreason[1], 1);
    assert_int_equal(nreason[2], 2);
    assert_int_equal(nreason[3], 2);
    tk_msgs_free(msgs, got);

    sc_query_t **active = NULL;
    size_t nactive = 0;
    CHECK(sc_query_list_active(s, &active, &nactive, err));
    assert_int_equal(nactive, 2);
    for (size_t i = 0; i < nactive; i++)
        sc_query_destroy(active[i]);
    free(active);

    CHECK(sc_query_stop(q1, err));
    CHECK(sc_query_stop(q2, err));
    bool terminated = false;
    CHECK(sc_query_await(q1, 10000, &terminated, err));
    assert_true(terminated);
    char *exc = NULL;
    CHECK(sc_query_exception(q1, &exc, NULL, err));
    assert_null(exc);

    sc_query_destroy(q1);
    sc_query_destroy(q2);
    sc_df_destroy(src);
    sc_df_destroy(parsed);
    sc_df_destroy(valid);
    sc_df_destroy(invalid);
    sc_df_destroy(scored);
    sc_df_destroy(out);
    sc_df_destroy(dlq);
    sc_session_destroy(s);
    sc_error_destroy(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kafka_to_kafka_with_dead_letters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
