/* Unit tests of carprice serve's pure parts. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "carprice/serve.h"
#include "httpd.h"
#include "serve_internal.h"

static int parse(const char *req, char *method, char *path)
{
    return cp_httpd_parse(req, strlen(req), method, 16, path, 256);
}

static void http_parser(void **state)
{
    (void)state;
    char m[16], p[256];
    assert_int_equal(parse("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", m, p), 1);
    assert_string_equal(m, "GET");
    assert_string_equal(p, "/metrics");
    assert_int_equal(parse("HEAD /readyz?verbose=1 HTTP/1.0\n\n", m, p), 1);
    assert_string_equal(m, "HEAD");
    assert_string_equal(p, "/readyz");
    /* incomplete: more bytes needed */
    assert_int_equal(parse("GET /metrics HTTP/1.1\r\nHost: x\r\n", m, p), 0);
    assert_int_equal(parse("GET /met", m, p), 0);
    assert_int_equal(parse("", m, p), 0);
    /* malformed */
    assert_int_equal(parse("GARBAGE\r\n\r\n", m, p), -1);
    assert_int_equal(parse("GET metrics HTTP/1.1\r\n\r\n", m, p), -1);
    assert_int_equal(parse("GET /metrics HTTP/2.0\r\n\r\n", m, p), -1);
    assert_int_equal(parse("GET /metrics HTTP/1.1 x\r\n\r\n", m, p), -1);
    assert_int_equal(parse("GET  /metrics HTTP/1.1\r\n\r\n", m, p), -1);
    assert_int_equal(parse("GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n", m, p), -1);
    assert_int_equal(parse("GET /metrics HTTP/1.1\r\n: empty name\r\n\r\n", m, p), -1);
    assert_int_equal(parse("VERYLONGMETHODNAMEHERE / HTTP/1.1\r\n\r\n", m, p), -1);
    /* a head that never ends within the cap */
    char big[CP_HTTPD_MAX_REQUEST + 1];
    memset(big, 'a', sizeof big);
    memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
    assert_int_equal(cp_httpd_parse(big, sizeof big, m, 16, p, 256), -1);
    /* a path longer than the caller's buffer */
    char lp[400];
    snprintf(lp, sizeof lp, "GET /%0300d HTTP/1.1\r\n\r\n", 0);
    assert_int_equal(parse(lp, m, p), -1);
}

typedef struct {
    serve_progress_t p[4];
    size_t n;
} seen_t;

static void collect(const serve_progress_t *p, void *opaque)
{
    seen_t *s = opaque;
    if (s->n < 4)
        s->p[s->n++] = *p;
}

static void progress_lines(void **state)
{
    (void)state;
    const char *text =
        /* Spark 4.0: rows and rates per source only */
        "{\"id\":\"q\",\"batchId\":3,\"durationMs\":{\"addBatch\":350,"
        "\"triggerExecution\":400},\"sources\":[{\"numInputRows\":100,"
        "\"inputRowsPerSecond\":200.5,\"processedRowsPerSecond\":300.25},"
        "{\"numInputRows\":20,\"inputRowsPerSecond\":40}],\"sink\":{\"numOutputRows\":120}}\n"
        "{\"id\":\"q\",\"batchId\":4,\"numInputRows\":0,\"durationMs\":{\"triggerExecution\":2}}\n"
        "{\n  \"batchId\" : 5,\n  \"numInputRows\" : 7,\n  \"durationMs\" : {\n"
        "    \"addBatch\" : 1, \"triggerExecution\" : 9 }\n}\n";
    seen_t s = {0};
    assert_int_equal(serve_progress_parse(text, collect, &s), 3);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.p[0].batch_id, 3);
    assert_int_equal(s.p[0].num_input_rows, 120);
    assert_true(s.p[0].input_rate == 240.5);
    assert_true(s.p[0].processed_rate == 300.25);
    assert_true(s.p[0].trigger_ms == 400);
    assert_true(s.p[0].ran_batch);
    assert_false(s.p[1].ran_batch); /* an idle report */
    assert_int_equal(s.p[2].batch_id, 5);
    assert_int_equal(s.p[2].num_input_rows, 7);
    /* garbage stops parsing without crashing */
    s.n = 0;
    assert_int_equal(serve_progress_parse("{\"batchId\":1} not json", collect, &s), 1);
    assert_int_equal(serve_progress_parse(NULL, collect, &s), 0);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void committed_offsets(void **state)
{
    (void)state;
    char root[128], d[256], f[300];
    snprintf(root, sizeof root, "/tmp/carprice-unit-serve-%d", (int)getpid());
    char *json = NULL, err[512];
    assert_int_equal(cp_serve_committed_offsets(root, &json, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a serve checkpoint"));
    mkdir(root, 0755);
    snprintf(d, sizeof d, "%s/predictions", root);
    mkdir(d, 0755);
    snprintf(d, sizeof d, "%s/predictions/commits", root);
    mkdir(d, 0755);
    snprintf(d, sizeof d, "%s/predictions/offsets", root);
    mkdir(d, 0755);
    assert_int_equal(cp_serve_committed_offsets(root, &json, err, sizeof err), -1);
    assert_non_null(strstr(err, "no batch committed yet"));
    /* batch 11 is planned but not committed: 10 is the answer */
    for (int b = 9; b <= 11; b++) {
        snprintf(f, sizeof f, "%s/predictions/offsets/%d", root, b);
        char body[256];
        snprintf(body, sizeof body, "v1\n{\"batchWatermarkMs\":0}\n{\"t\":{\"0\":%d,\"1\":%d}}",
                 b * 10, b * 20);
        write_file(f, body);
        if (b < 11) {
            snprintf(f, sizeof f, "%s/predictions/commits/%d", root, b);
            write_file(f, "v1\n{\"nextBatchWatermarkMs\":0}");
        }
    }
    snprintf(f, sizeof f, "%s/predictions/commits/.10.crc", root);
    write_file(f, "x");
    char uri[200];
    snprintf(uri, sizeof uri, "file://%s", root);
    assert_int_equal(cp_serve_committed_offsets(uri, &json, err, sizeof err), 0);
    assert_string_equal(json, "{\"t\":{\"0\":100,\"1\":200}}");
    free(json);
    assert_int_equal(cp_serve_committed_offsets("hdfs://nn/x", &json, err, sizeof err), -1);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    assert_int_equal(system(cmd), 0);
}

static void sql_quoting(void **state)
{
    (void)state;
    char *q = serve_sql_quote("it's a \\ test");
    assert_string_equal(q, "'it\\'s a \\\\ test'");
    free(q);
    q = serve_sql_quote("");
    assert_string_equal(q, "''");
    free(q);
}

/* Which start failures make serve fall back to micro-batches: only the ones
 * that say the real-time trigger itself is the problem. */
static void real_time_refusals(void **state)
{
    (void)state;
    assert_true(serve_real_time_refused("STREAMING_REAL_TIME_MODE.OUTPUT_MODE_NOT_SUPPORTED"));
    assert_true(
        serve_real_time_refused("STREAMING_REAL_TIME_MODE.OPERATOR_OR_SINK_NOT_IN_ALLOWLIST"));
    assert_true(serve_real_time_refused("INVALID_STREAMING_REAL_TIME_MODE_TRIGGER_INTERVAL"));
    assert_false(serve_real_time_refused("STREAMING_QUERY_ALREADY_ACTIVE"));
    assert_false(serve_real_time_refused("UNRESOLVED_COLUMN.WITH_SUGGESTION"));
    assert_false(serve_real_time_refused("STREAMING_REAL"));
    assert_false(serve_real_time_refused(""));
    assert_false(serve_real_time_refused(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(http_parser),        cmocka_unit_test(progress_lines),
        cmocka_unit_test(committed_offsets),  cmocka_unit_test(sql_quoting),
        cmocka_unit_test(real_time_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
