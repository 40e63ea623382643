/* The live-metrics query (src/serve/metrics.c) against the real stack:
 * deterministic predictions of two model versions and managers' prices,
 * some prices late beyond the bound, some before their prediction, some
 * missing, a duplicate prediction, a request answered by both versions, a
 * zero price, bad JSON on both topics, all spread over several sliding
 * windows and fed in event-time order over several micro-batches (20 s of
 * event time each). Every metrics row must equal what this file computes
 * from the same inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "carprice/util.h"
#include "kafka_util.h"
#include "metrics.h"
#include "sparkconnect/sparkconnect.h"

#define T0        1800000000000LL /* event-time origin, a multiple of the slide */
#define WINDOW_MS 10000LL
#define SLIDE_MS  5000LL
#define BOUND_MS  20000LL
#define DELAY_MS  5000LL /* watermark delay */
#define CHUNK_MS  20000LL
#define NREQ      80
#define MAX_PRED  (NREQ * 2 + 4)
#define MAX_MSG   512
#define MODEL     "carprice"

#define CHECK(call)                                                                                \
    do {                                                                                           \
        if ((call) != SC_OK)                                                                       \
            fail_msg("%s: %s", #call, sc_error_message(err));                                      \
    } while (0)

typedef struct {
    char id[16];
    char version[4];
    double yhat;
    int64_t t; /* predicted_at_ms */
} pred_t;

typedef struct {
    char id[16];
    double y;
    int64_t t; /* set_at_ms */
} price_t;

static pred_t preds[MAX_PRED];
static size_t npreds;
static price_t prices[NREQ];
static size_t nprices;

static const char *remote(void)
{
    const char *r = getenv("CARPRICE_SPARK_REMOTE");
    return r && *r ? r : "sc://127.0.0.1:15002";
}

static int64_t wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static uint64_t rng = 0x2545F4914F6CDD1DULL;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* A number as the JSON text we send and the double Spark will parse from it. */
static double via_text(double v, int decimals)
{
    char b[64];
    if (decimals < 0)
        snprintf(b, sizeof b, "%.17g", v);
    else
        snprintf(b, sizeof b, "%.*f", decimals, v);
    return strtod(b, NULL);
}

static void add_pred(const char *id, const char *version, double yhat, int64_t t)
{
    assert_true(npreds < MAX_PRED);
    pred_t *p = &preds[npreds++];
    snprintf(p->id, sizeof p->id, "%s", id);
    snprintf(p->version, sizeof p->version, "%s", version);
    p->yhat = via_text(yhat, -1);
    p->t = t;
}

/* The inputs; see the comment at the top of the file for what each case is. */
static void make_inputs(void)
{
    npreds = nprices = 0;
    for (int i = 0; i < NREQ; i++) {
        char id[16];
        snprintf(id, sizeof id, "lm-%03d", i);
        int64_t t = T0 + i * 500 + (int64_t)(next_rand() % 400);
        double y =
            via_text(3000.0 + (double)(next_rand() % 60000) + (next_rand() % 100) / 100.0, 2);
        if (i == 12)
            y = 0.0; /* MAPE leaves it out; MAE/RMSE/R² keep it */
        double yhat = y * (0.8 + (double)(next_rand() % 4000) / 10000.0) + 100.0;
        const char *version = i % 3 == 0 ? "2" : "1";
        add_pred(id, version, yhat, t);
        if (i % 7 == 3) /* hand-over: the other version answered it too */
            add_pred(id, i % 3 == 0 ? "1" : "2", yhat * 0.97 + 11.0, t + 300);
        int64_t delay;
        switch (i % 10) {
        case 7:
            continue; /* no price */
        case 6:
            delay = 0; /* the lower end of the range is inside */
            break;
        case 8:
            delay = BOUND_MS + 1 + (int64_t)(next_rand() % 10000); /* too late */
            break;
        case 9:
            /* i == 9 sits on the upper end (inside); others come before
             * their prediction (outside) */
            delay = i == 9 ? BOUND_MS : -1 - (int64_t)(next_rand() % 3000);
            break;
        default:
            delay = (int64_t)(next_rand() % (BOUND_MS + 1));
        }
        if (i == 5) {
            /* answered twice by the same version (a restart): counted once,
             * with the first answer */
            delay = 4000;
            add_pred(id, version, yhat * 1.1, t + 1500);
        }
        price_t *q = &prices[nprices++];
        snprintf(q->id, sizeof q->id, "%s", id);
        q->y = y;
        q->t = t + delay;
    }
}

/* ---- the oracle ---- */

typedef struct {
    char version[4];
    int64_t start;
    int64_t n;
    double sum_ae, sum_se, sum_ape, sum_y;
    int64_t n_ape;
    double ys[NREQ];
    int seen; /* matched by an output row */
} want_t;

static want_t wants[64];
static size_t nwants;

static want_t *want_for(const char *version, int64_t start)
{
    for (size_t i = 0; i < nwants; i++)
        if (strcmp(wants[i].version, version) == 0 && wants[i].start == start)
            return &wants[i];
    assert_true(nwants < sizeof wants / sizeof wants[0]);
    want_t *w = &wants[nwants++];
    memset(w, 0, sizeof *w);
    snprintf(w->version, sizeof w->version, "%s", version);
    w->start = start;
    return w;
}

/* Per price and version: the earliest prediction of that request by that
 * version with predicted_at <= set_at <= predicted_at + bound; its pair goes
 * into every window [s, s + WINDOW) with s a multiple of SLIDE holding set_at. */
static void compute_wants(void)
{
    nwants = 0;
    static const char *const versions[] = {"1", "2"};
    for (size_t k = 0; k < nprices; k++) {
        const price_t *q = &prices[k];
        for (size_t v = 0; v < 2; v++) {
            const pred_t *best = NULL;
            for (size_t j = 0; j < npreds; j++) {
                const pred_t *p = &preds[j];
                if (strcmp(p->id, q->id) != 0 || strcmp(p->version, versions[v]) != 0 ||
                    q->t < p->t || q->t > p->t + BOUND_MS)
                    continue;
                if (!best || p->t < best->t)
                    best = p;
            }
            if (!best)
                continue;
            double e = best->yhat - q->y;
            int64_t last = q->t - ((q->t % SLIDE_MS) + SLIDE_MS) % SLIDE_MS;
            for (int64_t s = last; s > q->t - WINDOW_MS; s -= SLIDE_MS) {
                want_t *w = want_for(versions[v], s);
                w->ys[w->n++] = q->y;
                w->sum_ae += fabs(e);
                w->sum_se += e * e;
                w->sum_y += q->y;
                if (q->y != 0) {
                    w->sum_ape += fabs(e) / fabs(q->y);
                    w->n_ape++;
                }
            }
        }
    }
}

static void expect_close(const char *what, const want_t *w, double got, double want)
{
    if (fabs(got - want) > 1e-9 * fabs(want) + 1e-12)
        fail_msg("version %s window %lld: %s %.17g, want %.17g", w->version,
                 (long long)(w->start - T0), what, got, want);
}

/* Checks one metrics message against the oracle. */
static void check_row(const tk_msg_t *m, int64_t t_begin)
{
    json_error_t je;
    json_t *o = json_loads(m->value, 0, &je);
    if (!o)
        fail_msg("metrics value is not JSON (%s): %s", je.text, m->value);
    const char *name = json_string_value(json_object_get(o, "model_name"));
    const char *version = json_string_value(json_object_get(o, "model_version"));
    json_t *start = json_object_get(o, "window_start_ms"),
           *end = json_object_get(o, "window_end_ms");
    json_t *count = json_object_get(o, "count"), *computed = json_object_get(o, "computed_at_ms");
    if (!name || !version || !json_is_integer(start) || !json_is_integer(end) ||
        !json_is_integer(count) || !json_is_integer(computed))
        fail_msg("metrics row lacks a field: %s", m->value);
    assert_string_equal(name, MODEL);
    assert_string_equal(m->key, version);
    int64_t s = json_integer_value(start);
    assert_int_equal(json_integer_value(end), s + WINDOW_MS);
    int64_t at = json_integer_value(computed);
    if (at < t_begin || at > wall_ms() + 1000)
        fail_msg("computed_at_ms %lld outside the test's run", (long long)at);

    want_t *w = NULL;
    for (size_t i = 0; i < nwants; i++)
        if (strcmp(wants[i].version, version) == 0 && wants[i].start == s)
            w = &wants[i];
    if (!w)
        fail_msg("unexpected metrics row: %s", m->value);
    if (w->seen++)
        fail_msg("window emitted twice: %s", m->value);
    if (json_integer_value(count) != w->n)
        fail_msg("version %s window %lld: count %lld, want %lld", version, (long long)(s - T0),
                 (long long)json_integer_value(count), (long long)w->n);

    double n = (double)w->n, mean = w->sum_y / n, sst = 0;
    for (int64_t i = 0; i < w->n; i++)
        sst += (w->ys[i] - mean) * (w->ys[i] - mean); /* two passes: no cancellation */
    json_t *mape = json_object_get(o, "mape"), *r2 = json_object_get(o, "r2");
    if (!json_is_number(json_object_get(o, "mae")) || !json_is_number(json_object_get(o, "rmse")))
        fail_msg("mae/rmse not numbers: %s", m->value);
    expect_close("mae", w, json_number_value(json_object_get(o, "mae")), w->sum_ae / n);
    expect_close("rmse", w, json_number_value(json_object_get(o, "rmse")), sqrt(w->sum_se / n));
    if (w->n_ape == 0) {
        if (!json_is_null(mape))
            fail_msg("mape should be null (no non-zero price): %s", m->value);
    } else {
        assert_true(json_is_number(mape));
        expect_close("mape", w, json_number_value(mape), w->sum_ape / (double)w->n_ape);
    }
    if (sst == 0) {
        if (!json_is_null(r2))
            fail_msg("r2 should be null (constant prices): %s", m->value);
    } else {
        assert_true(json_is_number(r2));
        expect_close("r2", w, json_number_value(r2), 1.0 - w->sum_se / sst);
    }
    json_decref(o);
}

/* ---- producing ---- */

typedef struct {
    const char *keys[MAX_MSG];
    const char *vals[MAX_MSG];
    char *owned[MAX_MSG];
    size_t n;
} batch_t;

static void batch_add(batch_t *b, const char *key, char *val)
{
    assert_non_null(val);
    assert_true(b->n < MAX_MSG);
    b->keys[b->n] = key;
    b->vals[b->n] = val;
    b->owned[b->n++] = val;
}

static void batch_send(batch_t *b, const char *topic)
{
    if (b->n)
        assert_int_equal(tk_produce(topic, b->keys, b->vals, b->n), 0);
    for (size_t i = 0; i < b->n; i++)
        free(b->owned[i]);
    b->n = 0;
}

static char *pred_json(const pred_t *p)
{
    return cp_strf("{\"request_id\":\"%s\",\"predicted_price\":%.17g,\"model_name\":\"" MODEL
                   "\",\"model_version\":\"%s\",\"request_ts_ms\":%lld,\"predicted_at_ms\":%lld,"
                   "\"extra_member\":[1,{\"x\":2}]}",
                   p->id, p->yhat, p->version, (long long)(p->t - 50), (long long)p->t);
}

static char *price_json(const price_t *q)
{
    return cp_strf("{\"set_at_ms\":%lld,\"price\":%.2f,\"request_id\":\"%s\"}", (long long)q->t,
                   q->y, q->id);
}

static int64_t chunk_of(int64_t t)
{
    return t < T0 ? 0 : (t - T0) / CHUNK_MS;
}

/* Malformed values, each of which would corrupt or stop the query if it were
 * not dropped: not JSON, truncated, binary, wrong types, NaN/Infinity, an
 * event time out of range, a JSON array, missing members. */
static void add_bad(batch_t *pb, batch_t *qb, int64_t chunk)
{
    int64_t t = T0 + chunk * CHUNK_MS + 1;
    batch_add(pb, "lm-000", cp_strf("not json at all %lld", (long long)chunk));
    batch_add(pb, "lm-001",
              cp_strf("{\"request_id\":\"lm-001\",\"predicted_price\":NaN,\"model_name\":\"" MODEL
                      "\",\"model_version\":\"1\",\"predicted_at_ms\":%lld}",
                      (long long)t));
    batch_add(pb, "lm-002",
              cp_strf("{\"request_id\":\"lm-002\",\"predicted_price\":\"cheap\",\"model_name\":"
                      "\"" MODEL "\",\"model_version\":\"1\",\"predicted_at_ms\":%lld}",
                      (long long)t));
    batch_add(pb, "lm-004",
              cp_strf("{\"request_id\":\"lm-004\",\"predicted_price\":1.0,\"model_name\":\"" MODEL
                      "\",\"model_version\":\"1\",\"predicted_at_ms\":1e30}"));
    batch_add(pb, "lm-005", cp_strf("{\"request_id\":\"lm-005\",\"predicted_price\":1"));
    batch_add(pb, "lm-006",
              cp_strf("{\"request_id\":\"lm-006\",\"predicted_price\":1.0,\"model_name\":\"" MODEL
                      "\",\"predicted_at_ms\":%lld}",
                      (long long)t));
    batch_add(pb, "x", cp_strf("\xff\xfe\x01 binary"));
    batch_add(qb, "lm-001", cp_strf("garbage %lld", (long long)chunk));
    batch_add(
        qb, "lm-002",
        cp_strf("{\"request_id\":\"lm-002\",\"price\":\"abc\",\"set_at_ms\":%lld}", (long long)t));
    batch_add(
        qb, "lm-004",
        cp_strf("{\"request_id\":\"lm-004\",\"price\":Infinity,\"set_at_ms\":%lld}", (long long)t));
    batch_add(
        qb, "lm-010",
        cp_strf("{\"request_id\":\"lm-010\",\"price\":5.0,\"set_at_ms\":-99999999999999999}"));
    batch_add(qb, "lm-011", cp_strf("[1,2,3]"));
    batch_add(qb, "lm-013", cp_strf("{\"price\":5.0,\"set_at_ms\":%lld}", (long long)t));
}

static void live_metrics_match_oracle(void **state)
{
    (void)state;
    make_inputs();
    compute_wants();
    assert_true(nwants >= 12); /* both versions over several windows */
    size_t single = 0;
    for (size_t i = 0; i < nwants; i++)
        single += wants[i].n == 1;
    assert_true(single > 0); /* some windows have r2 null */

    sc_error_t *err = sc_error_new();
    sc_session_t *s = NULL;
    CHECK(sc_session_new(remote(), NULL, &s, err));

    char ptopic[128], qtopic[128], mtopic[128], ckpt[256], qname[64];
    snprintf(ptopic, sizeof ptopic, "%s", tk_unique_topic("t.lm.predictions"));
    snprintf(qtopic, sizeof qtopic, "%s", tk_unique_topic("t.lm.prices"));
    snprintf(mtopic, sizeof mtopic, "%s", tk_unique_topic("t.lm.metrics"));
    snprintf(ckpt, sizeof ckpt, "/tmp/carprice-test-live-metrics-%d/ckpt", (int)getpid());
    snprintf(qname, sizeof qname, "test_live_metrics_%d", (int)getpid());

    int64_t last_chunk = 0;
    for (size_t i = 0; i < npreds; i++)
        last_chunk = chunk_of(preds[i].t) > last_chunk ? chunk_of(preds[i].t) : last_chunk;
    for (size_t i = 0; i < nprices; i++)
        last_chunk = chunk_of(prices[i].t) > last_chunk ? chunk_of(prices[i].t) : last_chunk;

    static batch_t pb, qb;
    int64_t t_begin = wall_ms();
    sc_query_t *q = NULL;
    /* Chunk k holds the records with event time in [k, k + 1) chunks: no
     * record is ever behind the watermark (max time seen - 5 s), so the
     * only records left out are the ones the join condition rejects. */
    for (int64_t k = 0; k <= last_chunk; k++) {
        for (size_t i = 0; i < npreds; i++)
            if (chunk_of(preds[i].t) == k)
                batch_add(&pb, preds[i].id, pred_json(&preds[i]));
        for (size_t i = 0; i < nprices; i++)
            if (chunk_of(prices[i].t) == k)
                batch_add(&qb, prices[i].id, price_json(&prices[i]));
        if (k % 2 == 0)
            add_bad(&pb, &qb, k);
        batch_send(&pb, ptopic);
        batch_send(&qb, qtopic);
        if (k == 0) { /* the topics exist now: start reading from their beginning */
            cp_live_metrics_opts_t o;
            cp_live_metrics_opts_init(&o);
            o.bootstrap = tk_bootstrap();
            o.predictions_topic = ptopic;
            o.prices_topic = qtopic;
            o.metrics_topic = mtopic;
            o.checkpoint = ckpt;
            o.window = "10 seconds";         /* WINDOW_MS */
            o.slide = "5 seconds";           /* SLIDE_MS */
            o.price_bound = "20 seconds";    /* BOUND_MS */
            o.watermark_delay = "5 seconds"; /* DELAY_MS */
            o.trigger_interval = "500 milliseconds";
            o.query_name = qname;
            o.starting_offsets = "earliest";
            o.state_partitions = 2;
            char e[1024];
            if (cp_live_metrics_start(s, &o, &q, e, sizeof e) != 0)
                fail_msg("%s", e);
        }
        CHECK(sc_query_process_all_available(q, err));
    }
    /* Append mode: a window is out once the watermark the join passes on,
     * min(max event time of each topic) - delay - bound, reaches its end,
     * and not before. With every input in, only the earliest windows are. */
    int64_t max_p = 0, max_q = 0;
    for (size_t i = 0; i < npreds; i++)
        max_p = preds[i].t > max_p ? preds[i].t : max_p;
    for (size_t i = 0; i < nprices; i++)
        max_q = prices[i].t > max_q ? prices[i].t : max_q;
    int64_t wm_out = (max_p < max_q ? max_p : max_q) - DELAY_MS - BOUND_MS;
    size_t early = 0;
    for (size_t i = 0; i < nwants; i++) {
        int64_t end = wants[i].start + WINDOW_MS;
        assert_true(llabs(end - wm_out) > 200); /* no doubt about the boundary */
        early += end <= wm_out;
    }
    assert_true(early > 0 && early < nwants);
    tk_msg_t *msgs = NULL;
    size_t got = tk_consume(mtopic, early, 120000, &msgs);
    assert_int_equal(got, early);
    tk_msgs_free(msgs, got);
    usleep(3000 * 1000); /* a few more triggers: nothing else may come out */
    got = tk_consume(mtopic, early + 1, 3000, &msgs);
    if (got != early)
        fail_msg("%zu windows out before the watermark passed their end (want %zu)", got, early);
    tk_msgs_free(msgs, got);

    /* Moves both watermarks far past every window above, so they all close. */
    pred_t adv = {.id = "lm-adv", .version = "1", .yhat = 1000.0, .t = T0 + 300000};
    price_t advq = {.id = "lm-adv", .y = 1200.0, .t = T0 + 300000};
    batch_add(&pb, adv.id, pred_json(&adv));
    batch_add(&qb, advq.id, price_json(&advq));
    batch_send(&pb, ptopic);
    batch_send(&qb, qtopic);
    CHECK(sc_query_process_all_available(q, err));

    double t_wait = cp_now_s();
    got = tk_consume(mtopic, nwants, 120000, &msgs);
    double waited = cp_now_s() - t_wait;
    char *exc = NULL;
    sc_query_exception(q, &exc, NULL, NULL);
    if (got != nwants)
        fail_msg("got %zu of %zu metrics rows; query exception: %s", got, nwants,
                 exc ? exc : "none");
    free(exc);
    for (size_t i = 0; i < got; i++)
        check_row(&msgs[i], t_begin);
    tk_msgs_free(msgs, got);

    /* Bad JSON did not stop it, and nothing else comes out after more batches. */
    sc_query_status_t st;
    CHECK(sc_query_status(q, &st, err));
    assert_true(st.active);
    CHECK(sc_query_process_all_available(q, err));
    usleep(1500 * 1000);
    got = tk_consume(mtopic, nwants + 1, 3000, &msgs);
    assert_int_equal(got, nwants);
    tk_msgs_free(msgs, got);
    fprintf(stderr,
            "live metrics: %zu predictions, %zu prices, %zu window rows (%zu out before the "
            "final watermark move); the rest out %.1f s after the query had processed it\n",
            npreds, nprices, nwants, early, waited);

    CHECK(sc_query_stop(q, err));
    sc_query_destroy(q);
    sc_session_destroy(s);
    sc_error_destroy(err);
}

/* Options are checked before anything reaches Spark, with a clear message. */
static void bad_options_rejected(void **state)
{
    (void)state;
    sc_error_t *err = sc_error_new();
    sc_session_t *s = NULL;
    CHECK(sc_session_new(remote(), NULL, &s, err));
    struct {
        const char *field;
        const char *value;
        const char *message;
    } cases[] = {
        {"window", "5 fortnights", "bad window '5 fortnights'"},
        {"window", "5 minutes'); DROP", "bad window"},
        {"slide", "6 minutes", "slide '6 minutes' is longer than window '5 minutes'"},
        {"price_bound", "", "bad price bound"},
        {"watermark_delay", "-1 seconds", "bad watermark delay"},
        {"trigger_interval", "0 seconds", "bad trigger interval"},
        {"metrics_topic", "a topic", "bad metrics topic 'a topic'"},
        {"query_name", "x-y", "bad query name"},
        {"state_partitions", NULL, "state partitions must be 1..10000"},
        {"starting_offsets", "now", "starting offsets must be latest or earliest"},
        {"checkpoint", NULL, "a checkpoint location is required"},
        {"bootstrap", NULL, "bootstrap servers are required"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cp_live_metrics_opts_t o;
        cp_live_metrics_opts_init(&o);
        o.bootstrap = tk_bootstrap();
        o.checkpoint = "/tmp/unused";
        const char **f = strcmp(cases[i].field, "window") == 0             ? &o.window
                         : strcmp(cases[i].field, "slide") == 0            ? &o.slide
                         : strcmp(cases[i].field, "price_bound") == 0      ? &o.price_bound
                         : strcmp(cases[i].field, "watermark_delay") == 0  ? &o.watermark_delay
                         : strcmp(cases[i].field, "trigger_interval") == 0 ? &o.trigger_interval
                         : strcmp(cases[i].field, "metrics_topic") == 0    ? &o.metrics_topic
                         : strcmp(cases[i].field, "query_name") == 0       ? &o.query_name
                         : strcmp(cases[i].field, "starting_offsets") == 0 ? &o.starting_offsets
                         : strcmp(cases[i].field, "checkpoint") == 0       ? &o.checkpoint
                                                                           : &o.bootstrap;
        if (strcmp(cases[i].field, "state_partitions") == 0)
            o.state_partitions = 0;
        else
            *f = cases[i].value;
        sc_query_t *q = NULL;
        char e[512] = "";
        assert_int_equal(cp_live_metrics_start(s, &o, &q, e, sizeof e), -1);
        assert_null(q);
        if (!strstr(e, cases[i].message))
            fail_msg("case %zu: '%s' does not say '%s'", i, e, cases[i].message);
    }
    /* Extra Kafka options must be kafka.* and not the bootstrap servers. */
    cp_live_metrics_opts_t o;
    cp_live_metrics_opts_init(&o);
    o.bootstrap = tk_bootstrap();
    o.checkpoint = "/tmp/unused";
    const char *k[] = {"subscribePattern"}, *v[] = {".*"};
    o.kafka_option_keys = k;
    o.kafka_option_values = v;
    o.nkafka_options = 1;
    sc_df_t *df = NULL;
    char e[512] = "";
    assert_int_equal(cp_live_metrics_df(s, &o, &df, e, sizeof e), -1);
    assert_non_null(strstr(e, "must be kafka.<key>"));

    /* The defaults build a plan whose rows are the Kafka sink's (key, value). */
    o.nkafka_options = 0;
    if (cp_live_metrics_df(s, &o, &df, e, sizeof e) != 0)
        fail_msg("%s", e);
    char *ddl = NULL;
    CHECK(sc_df_schema(df, &ddl, err));
    assert_non_null(strstr(ddl, "key STRING"));
    assert_non_null(strstr(ddl, "value STRING"));
    bool streaming = false;
    CHECK(sc_df_is_streaming(df, &streaming, err));
    assert_true(streaming);
    free(ddl);
    sc_df_destroy(df);
    sc_session_destroy(s);
    sc_error_destroy(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bad_options_rejected),
        cmocka_unit_test(live_metrics_match_oracle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
