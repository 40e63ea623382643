/* Every type our Arrow reader supports round-trips through SQL on the real
 * server with exact values, NULLs included. The canonical dump this test
 * writes is compared cell by cell with the official PySpark client by
 * crosscheck.py (the CTest test spark_types_pyspark_crosscheck). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparkconnect/dataframe.h"
#include "sparkconnect/session.h"

static const char *g_queries_file;
static const char *g_dump_file;

static const char *remote(void)
{
    const char *r = getenv("CARPRICE_SPARK_REMOTE");
    return r && *r ? r : "sc://127.0.0.1:15002";
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void put_base64(FILE *f, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        fputc(b64[v >> 18 & 63], f);
        fputc(b64[v >> 12 & 63], f);
        fputc(i + 1 < n ? b64[v >> 6 & 63] : '=', f);
        fputc(i + 2 < n ? b64[v & 63] : '=', f);
    }
}

/* Writes one cell in the canonical form crosscheck.py also produces. */
static void put_cell(FILE *f, const sc_result_t *r, size_t row, size_t col, sc_error_t *err)
{
    if (sc_result_is_null(r, row, col)) {
        fputs("NULL", f);
        return;
    }
    switch (sc_result_col_type(r, col)) {
    case SC_TYPE_BOOL: {
        bool b;
        assert_int_equal(sc_result_get_bool(r, row, col, &b, err), SC_OK);
        fputs(b ? "true" : "false", f);
        break;
    }
    case SC_TYPE_INT8:
    case SC_TYPE_INT16:
    case SC_TYPE_INT32:
    case SC_TYPE_INT64: {
        int64_t v;
        assert_int_equal(sc_result_get_int64(r, row, col, &v, err), SC_OK);
        fprintf(f, "%lld", (long long)v);
        break;
    }
    case SC_TYPE_FLOAT:
    case SC_TYPE_DOUBLE: {
        double d;
        uint64_t bits;
        assert_int_equal(sc_result_get_double(r, row, col, &d, err), SC_OK);
        memcpy(&bits, &d, sizeof bits);
        fprintf(f, "f:%016llx", (unsigned long long)bits);
        break;
    }
    case SC_TYPE_DECIMAL: {
        char buf[64];
        assert_int_equal(sc_result_get_decimal_str(r, row, col, buf, sizeof buf, err), SC_OK);
        fputs(buf, f);
        break;
    }
    case SC_TYPE_STRING: {
        const char *s;
        size_t n;
        assert_int_equal(sc_result_get_string(r, row, col, &s, &n, err), SC_OK);
        fputs("str:", f);
        put_base64(f, (const unsigned char *)s, n);
        break;
    }
    case SC_TYPE_BINARY: {
        const uint8_t *p;
        size_t n;
        assert_int_equal(sc_result_get_binary(r, row, col, &p, &n, err), SC_OK);
        fputs("0x", f);
        for (size_t i = 0; i < n; i++)
            fprintf(f, "%02x", p[i]);
        break;
    }
    case SC_TYPE_DATE: {
        int32_t days;
        assert_int_equal(sc_result_get_date(r, row, col, &days, err), SC_OK);
        fprintf(f, "date:%d", days);
        break;
    }
    case SC_TYPE_TIMESTAMP: {
        int64_t us;
        assert_int_equal(sc_result_get_timestamp(r, row, col, &us, err), SC_OK);
        fprintf(f, "ts:%lld", (long long)us);
        break;
    }
    default:
        fail_msg("column %zu has unexpected type %s", col,
                 sc_type_name(sc_result_col_type(r, col)));
    }
}

static sc_result_t *run(sc_session_t *s, const char *q, sc_error_t *err)
{
    sc_df_t *df = NULL;
    sc_result_t *res = NULL;
    if (sc_sql(s, q, NULL, 0, &df, err) != SC_OK || sc_df_collect(df, &res, err) != SC_OK)
        fail_msg("%s: %s", q, sc_error_message(err));
    sc_df_destroy(df);
    return res;
}

static void every_type_exact(void **state)
{
    sc_session_t *s = *state;
    sc_error_t *err = sc_error_new();
    FILE *qf = fopen(g_queries_file, "r");
    assert_non_null(qf);
    FILE *out = fopen(g_dump_file, "w");
    assert_non_null(out);
    char line[4096];
    int qi = 0;
    while (fgets(line, sizeof line, qf)) {
        line[strcspn(line, "\n")] = '\0';
        if (!line[0])
            continue;
        sc_result_t *r = run(s, line, err);
        fprintf(out, "query %d rows %zu\n", qi, sc_result_num_rows(r));
        for (size_t row = 0; row < sc_result_num_rows(r); row++) {
            fprintf(out, "%d.%zu ", qi, row);
            for (size_t c = 0; c < sc_result_num_cols(r); c++) {
                if (c)
                    fputc('|', out);
                put_cell(out, r, row, c, err);
            }
            fputc('\n', out);
        }
        if (qi == 0) {
            /* Exact values, independently of the oracle. */
            const sc_type_t want[] = {SC_TYPE_INT8,    SC_TYPE_INT16,     SC_TYPE_INT32,
                                      SC_TYPE_INT64,   SC_TYPE_FLOAT,     SC_TYPE_DOUBLE,
                                      SC_TYPE_DECIMAL, SC_TYPE_STRING,    SC_TYPE_BINARY,
                                      SC_TYPE_DATE,    SC_TYPE_TIMESTAMP, SC_TYPE_BOOL};
            assert_int_equal(sc_result_num_cols(r), 12);
            for (size_t c = 0; c < 12; c++)
                assert_int_equal(sc_result_col_type(r, c), want[c]);
            int64_t i;
            double d;
            assert_int_equal(sc_result_get_int64(r, 0, 0, &i, err), SC_OK);
            assert_int_equal(i, 1);
            assert_int_equal(sc_result_get_int64(r, 0, 3, &i, err), SC_OK);
            assert_int_equal(i, -4);
            assert_int_equal(sc_result_get_double(r, 0, 4, &d, err), SC_OK);
            assert_true(d == 1.5);
            char dec[64];
            assert_int_equal(sc_result_get_decimal_str(r, 0, 6, dec, sizeof dec, err), SC_OK);
            assert_string_equal(dec, "123.45");
            const char *str;
            size_t n;
            assert_int_equal(sc_result_get_string(r, 0, 7, &str, &n, err), SC_OK);
            assert_int_equal(n, strlen("héllo, \"world\""));
            assert_memory_equal(str, "héllo, \"world\"", n);
            int32_t days;
            assert_int_equal(sc_result_get_date(r, 0, 9, &days, err), SC_OK);
            assert_int_equal(days, 19782); /* 2024-02-29 */
            int64_t us;
            assert_int_equal(sc_result_get_timestamp(r, 0, 10, &us, err), SC_OK);
            assert_int_equal(us, 1709210096789012LL);
            /* Wrong-type access is an error, not a crash. */
            assert_int_equal(sc_result_get_int64(r, 0, 7, &i, err), SC_ERR_INVALID_ARG);
        }
        if (qi == 1) {
            for (size_t c = 0; c < sc_result_num_cols(r); c++)
                assert_true(sc_result_is_null(r, 0, c));
        }
        if (qi == 3) {
            assert_int_equal(sc_result_num_rows(r), 2500);
            int64_t id;
            assert_int_equal(sc_result_get_int64(r, 2499, 0, &id, err), SC_OK);
            assert_int_equal(id, 2499);
            assert_true(sc_result_is_null(r, 2499, 2));
            assert_true(sc_result_is_null(r, 2499 - 1, 1) == ((2498 % 3) == 0));
        }
        sc_result_destroy(r);
        qi++;
    }
    fclose(qf);
    fclose(out);
    sc_error_destroy(err);
}

static void oversized_result_is_a_clean_error(void **state)
{
    sc_error_t *err = sc_error_new();
    sc_session_options_t o;
    sc_session_options_init(&o);
    o.max_result_bytes = 64 * 1024;
    sc_session_t *s = NULL;
    assert_int_equal(sc_session_new(remote(), &o, &s, err), SC_OK);
    sc_df_t *df = NULL;
    sc_result_t *res = NULL;
    assert_int_equal(
        sc_sql(s, "SELECT id, repeat('x', 100) AS pad FROM range(100000)", NULL, 0, &df, err),
        SC_OK);
    assert_int_equal(sc_df_collect(df, &res, err), SC_ERR_LIMIT);
    assert_null(res);
    /* The session stays usable after the cancelled query. */
    int64_t n = 0;
    assert_int_equal(sc_df_count(df, &n, err), SC_OK);
    assert_int_equal(n, 100000);
    sc_df_destroy(df);
    sc_session_destroy(s);
    (void)state;
    sc_error_destroy(err);
}

typedef struct {
    int calls;
    int64_t tasks;
} progress_seen_t;

static void on_progress(const sc_progress_t *p, void *opaque)
{
    progress_seen_t *seen = opaque;
    seen->calls++;
    if (p->tasks > seen->tasks)
        seen->tasks = p->tasks;
}

static void progress_is_reported(void **state)
{
    sc_session_t *s = *state;
    sc_error_t *err = sc_error_new();
    progress_seen_t seen = {0};
    sc_session_set_progress(s, on_progress, &seen);
    sc_df_t *df = NULL;
    sc_result_t *res = NULL;
    /* Several seconds whatever the machine (each row sleeps 400 ms in the
     * executor), so the server's periodic progress reports (every 2 s by
     * default) arrive while the stages run. */
    assert_int_equal(sc_sql(s,
                            "SELECT k, count(z) AS c FROM (SELECT id % 4 AS k, "
                            "reflect('java.lang.Thread', 'sleep', CAST(400 AS BIGINT)) AS z "
                            "FROM range(0, 24, 1, 8)) GROUP BY k",
                            NULL, 0, &df, err),
                     SC_OK);
    if (sc_df_collect(df, &res, err) != SC_OK)
        fail_msg("collect: %s", sc_error_message(err));
    assert_int_equal(sc_result_num_rows(res), 4);
    sc_session_set_progress(s, NULL, NULL);
    assert_true(seen.calls > 0);
    assert_true(seen.tasks > 0);
    sc_result_destroy(res);
    sc_df_destroy(df);
    sc_error_destroy(err);
}

static int setup(void **state)
{
    sc_error_t *err = sc_error_new();
    sc_session_t *s = NULL;
    if (sc_session_new(remote(), NULL, &s, err) != SC_OK ||
        sc_session_conf_set(s, "spark.sql.session.timeZone", "UTC", err) != SC_OK) {
        fprintf(stderr, "session: %s\n", sc_error_message(err));
        sc_error_destroy(err);
        return -1;
    }
    char *tz = NULL;
    if (sc_session_conf_get(s, "spark.sql.session.timeZone", &tz, err) != SC_OK || !tz ||
        strcmp(tz, "UTC") != 0) {
        fprintf(stderr, "conf_get did not read back UTC\n");
        return -1;
    }
    free(tz);
    sc_error_destroy(err);
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    sc_session_destroy(*state);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_spark_types QUERIES.sql DUMP.txt\n");
        return 2;
    }
    g_queries_file = argv[1];
    g_dump_file = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_type_exact),
        cmocka_unit_test(oversized_result_is_a_clean_error),
        cmocka_unit_test(progress_is_reported),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
