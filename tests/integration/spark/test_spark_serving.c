/* The serving design, end to end over Spark Connect from C: fit a feature
 * pipeline and a regressor (StringIndexer -> OneHotEncoder -> VectorAssembler
 * -> GBTRegressor), save it as a standard PipelineModel directory, load it
 * back by path as a serving process would, and apply it in a Structured
 * Streaming query from one Kafka topic of JSON requests to another. Every
 * streamed prediction must equal the batch prediction of the same record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kafka_util.h"
#include "sparkconnect/sparkconnect.h"

#define N_REQ 30

#define CHECK(call)                                                                                \
    do {                                                                                           \
        if ((call) != SC_OK)                                                                       \
            fail_msg("%s: %s", #call, sc_error_message(err));                                      \
    } while (0)

static const char *remote(void)
{
    const char *r = getenv("CARPRICE_SPARK_REMOTE");
    return r && *r ? r : "sc://127.0.0.1:15002";
}

/* Fits one stage on *df, replaces *df with its output, returns the model. */
static sc_model_t *fit_stage(sc_df_t **df, const char *cls, sc_params_t *p, sc_error_t *err)
{
    sc_model_t *m = NULL;
    sc_df_t *next = NULL;
    CHECK(sc_ml_fit(*df, cls, p, &m, err));
    CHECK(sc_model_transform(m, *df, NULL, &next, err));
    sc_df_destroy(*df);
    *df = next;
    sc_params_destroy(p);
    return m;
}

static sc_params_t *params2(const char *k1, const char *v1, const char *k2, const char *v2)
{
    sc_params_t *p = sc_params_new();
    assert_non_null(p);
    if (k1)
        assert_int_equal(sc_params_set_string(p, k1, v1, NULL), SC_OK);
    if (k2)
        assert_int_equal(sc_params_set_string(p, k2, v2, NULL), SC_OK);
    return p;
}

static void kafka_model_kafka(void **state)
{
    (void)state;
    sc_error_t *err = sc_error_new();
    sc_session_t *s = NULL;
    CHECK(sc_session_new(remote(), NULL, &s, err));

    /* ---- train ---- */
    sc_df_t *train = NULL;
    CHECK(sc_sql(s,
                 "SELECT CAST(id % 7 AS DOUBLE) AS x, element_at(array('a', 'b', 'c'), "
                 "CAST(id % 3 AS INT) + 1) AS cat, CAST(id % 7 AS DOUBLE) * 2 + "
                 "IF(id % 3 = 0, 10, 0) AS y FROM range(600)",
                 NULL, 0, &train, err));
    sc_model_t *stages[4];
    /* handleInvalid=keep: categories never seen in training are served. */
    sc_params_t *p = params2("inputCol", "cat", "outputCol", "cat_i");
    CHECK(sc_params_set_string(p, "handleInvalid", "keep", err));
    stages[0] = fit_stage(&train, "org.apache.spark.ml.feature.StringIndexer", p, err);
    const char *ohe_in[] = {"cat_i"}, *ohe_out[] = {"cat_v"};
    p = sc_params_new();
    CHECK(sc_params_set_strings(p, "inputCols", ohe_in, 1, err));
    CHECK(sc_params_set_strings(p, "outputCols", ohe_out, 1, err));
    stages[1] = fit_stage(&train, "org.apache.spark.ml.feature.OneHotEncoder", p, err);
    const char *va_in[] = {"x", "cat_v"};
    p = params2("outputCol", "features", NULL, NULL);
    CHECK(sc_params_set_strings(p, "inputCols", va_in, 2, err));
    CHECK(sc_ml_transformer_new(s, "org.apache.spark.ml.feature.VectorAssembler", p, &stages[2],
                                err));
    sc_params_destroy(p);
    sc_df_t *assembled = NULL;
    CHECK(sc_model_transform(stages[2], train, NULL, &assembled, err));
    p = params2("labelCol", "y", NULL, NULL);
    CHECK(sc_params_set_int64(p, "maxIter", 10, err));
    CHECK(sc_ml_fit(assembled, "org.apache.spark.ml.regression.GBTRegressor", p, &stages[3], err));
    sc_params_destroy(p);

    /* ---- save as a standard PipelineModel, load back by path ---- */
    char path[256];
    snprintf(path, sizeof path, "file:///tmp/carprice-test-serving-%d/model", (int)getpid());
    CHECK(sc_pipeline_write(s, (const sc_model_t *const *)stages, 4, path, true, err));
    sc_model_t *served = NULL;
    CHECK(sc_pipeline_read(s, path, &served, err));
    assert_int_equal(sc_model_num_stages(served), 4);

    /* ---- stream: Kafka JSON -> model -> Kafka ---- */
    char in_topic[128], out_topic[128], ckpt[256];
    snprintf(in_topic, sizeof in_topic, "%s", tk_unique_topic("t.serve.in"));
    snprintf(out_topic, sizeof out_topic, "%s", tk_unique_topic("t.serve.out"));
    snprintf(ckpt, sizeof ckpt, "/tmp/carprice-test-serving-%d/ckpt", (int)getpid());
    const char *keys[N_REQ], *vals[N_REQ];
    char kb[N_REQ][16], vb[N_REQ][96];
    for (int i = 0; i < N_REQ; i++) {
        snprintf(kb[i], sizeof kb[i], "q%d", i);
        /* 'z' was never seen in training: handleInvalid=keep serves it. */
        snprintf(vb[i], sizeof vb[i], "{\"id\":\"q%d\",\"x\":%d.0,\"cat\":\"%c\"}", i, i % 9,
                 "abcz"[i % 4]);
        keys[i] = kb[i];
        vals[i] = vb[i];
    }
    assert_int_equal(tk_produce(in_topic, keys, vals, 1), 0); /* the topic exists before reads */

    const char *rk[] = {"kafka.bootstrap.servers", "subscribe", "startingOffsets"};
    const char *rv[] = {tk_bootstrap(), in_topic, "earliest"};
    sc_read_opts_t ro = {.format = "kafka",
                         .option_keys = rk,
                         .option_values = rv,
                         .noptions = 3,
                         .streaming = true};
    sc_df_t *src = NULL, *parsed = NULL, *scored = NULL, *out = NULL;
    CHECK(sc_read(s, &ro, NULL, 0, &src, err));
    const char *parse[] = {"r.id AS id", "r.x AS x", "r.cat AS cat"};
    sc_df_t *tmp = NULL;
    const char *from_json[] = {
        "from_json(CAST(value AS STRING), 'id STRING, x DOUBLE, cat STRING') AS r"};
    CHECK(sc_df_select_expr(src, from_json, 1, &tmp, err));
    CHECK(sc_df_select_expr(tmp, parse, 3, &parsed, err));
    sc_df_destroy(tmp);
    CHECK(sc_model_transform(served, parsed, NULL, &scored, err));
    const char *to_kafka[] = {"id AS key",
                              "to_json(named_struct('id', id, 'prediction', prediction)) AS value"};
    CHECK(sc_df_select_expr(scored, to_kafka, 2, &out, err));
    const char *wk[] = {"kafka.bootstrap.servers", "topic"};
    const char *wv[] = {tk_bootstrap(), out_topic};
    sc_stream_opts_t so = {.format = "kafka",
                           .checkpoint = ckpt,
                           .trigger = SC_TRIGGER_PROCESSING_TIME,
                           .interval = "200 milliseconds",
                           .option_keys = wk,
                           .option_values = wv,
                           .noptions = 2};
    sc_query_t *q = NULL;
    CHECK(sc_stream_start(out, &so, &q, err));
    assert_int_equal(tk_produce(in_topic, keys + 1, vals + 1, N_REQ - 1), 0);
    CHECK(sc_query_process_all_available(q, err));

    tk_msg_t *msgs = NULL;
    size_t got = tk_consume(out_topic, N_REQ, 60000, &msgs);
    char *exc = NULL;
    sc_query_exception(q, &exc, NULL, NULL);
    if (got != N_REQ)
        fail_msg("got %zu of %d predictions; query exception: %s", got, N_REQ, exc ? exc : "none");
    free(exc);
    CHECK(sc_query_stop(q, err));

    /* ---- the same records in batch, through the same loaded pipeline ---- */
    sc_df_t *batch = NULL, *bscored = NULL, *bsel = NULL;
    CHECK(sc_sql(s,
                 "SELECT CONCAT('q', id) AS id, CAST(id % 9 AS DOUBLE) AS x, "
                 "substr('abcz', CAST(id % 4 AS INT) + 1, 1) AS cat FROM range(30)",
                 NULL, 0, &batch, err));
    CHECK(sc_model_transform(served, batch, NULL, &bscored, err));
    const char *bcols[] = {"id", "prediction"};
    CHECK(sc_df_select_expr(bscored, bcols, 2, &bsel, err));
    sc_result_t *want = NULL;
    CHECK(sc_df_collect(bsel, &want, err));
    assert_int_equal(sc_result_num_rows(want), N_REQ);
    int matched = 0;
    for (size_t i = 0; i < got; i++) {
        int id;
        double pred;
        assert_int_equal(sscanf(msgs[i].value, "{\"id\":\"q%d\",\"prediction\":%lf}", &id, &pred),
                         2);
        assert_true(id >= 0 && id < N_REQ);
        const char *wid;
        size_t wlen;
        double wpred;
        CHECK(sc_result_get_string(want, (size_t)id, 0, &wid, &wlen, err));
        CHECK(sc_result_get_double(want, (size_t)id, 1, &wpred, err));
        assert_int_equal(wlen, strlen(kb[id]));
        assert_memory_equal(wid, kb[id], wlen);
        /* JSON carries the double's shortest round-trip text: equal values. */
        if (fabs(pred - wpred) > 1e-9 * fmax(1.0, fabs(wpred)))
            fail_msg("q%d: streamed %.17g, batch %.17g", id, pred, wpred);
        matched++;
    }
    assert_int_equal(matched, N_REQ);

    tk_msgs_free(msgs, got);
    sc_result_destroy(want);
    sc_df_destroy(bsel);
    sc_df_destroy(bscored);
    sc_df_destroy(batch);
    sc_query_destroy(q);
    sc_df_destroy(out);
    sc_df_destroy(scored);
    sc_df_destroy(parsed);
    sc_df_destroy(src);
    sc_model_destroy(served);
    for (int i = 0; i < 4; i++)
        sc_model_destroy(stages[i]);
    sc_df_destroy(assembled);
    sc_df_destroy(train);
    sc_session_destroy(s);
    sc_error_destroy(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kafka_model_kafka),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
