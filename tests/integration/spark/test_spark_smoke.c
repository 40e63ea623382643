/* Smoke test against the real Spark Connect server of the local stack
 * (CARPRICE_SPARK_REMOTE, default sc://127.0.0.1:15002). */
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

static const char *remote(void)
{
    const char *r = getenv("CARPRICE_SPARK_REMOTE");
    return r && *r ? r : "sc://127.0.0.1:15002";
}

static int setup(void **state)
{
    sc_error_t *err = sc_error_new();
    sc_session_t *s = NULL;
    if (sc_session_new(remote(), NULL, &s, err) != SC_OK) {
        fprintf(stderr, "session: %s\n", sc_error_message(err));
        sc_error_destroy(err);
        return -1;
    }
    sc_error_destroy(err);
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    sc_session_destroy(*state);
    return 0;
}

static void server_answers_version(void **state)
{
    sc_error_t *err = sc_error_new();
    char *version = NULL;
    sc_code_t rc = sc_session_version(*state, &version, err);
    if (rc != SC_OK)
        fail_msg("version: %s", sc_error_message(err));
    assert_non_null(version);
    assert_int_equal(strncmp(version, "4.", 2), 0);
    free(version);
    sc_error_destroy(err);
}

static void sql_collects_rows(void **state)
{
    sc_error_t *err = sc_error_new();
    sc_df_t *df = NULL;
    if (sc_sql(*state,
               "SELECT id, CAST(id * 2 AS DOUBLE) AS twice, CONCAT('r', id) AS name "
               "FROM range(5)",
               NULL, 0, &df, err) != SC_OK)
        fail_msg("sql: %s", sc_error_message(err));
    sc_result_t *res = NULL;
    if (sc_df_collect(df, &res, err) != SC_OK)
        fail_msg("collect: %s", sc_error_message(err));
    assert_int_equal(sc_result_num_rows(res), 5);
    assert_int_equal(sc_result_num_cols(res), 3);
    assert_string_equal(sc_result_col_name(res, 2), "name");
    for (size_t i = 0; i < 5; i++) {
        int64_t id;
        double twice;
        const char *name;
        size_t len;
        assert_int_equal(sc_result_get_int64(res, i, 0, &id, err), SC_OK);
        assert_int_equal(sc_result_get_double(res, i, 1, &twice, err), SC_OK);
        assert_int_equal(sc_result_get_string(res, i, 2, &name, &len, err), SC_OK);
        assert_int_equal(id, (int64_t)i);
        assert_true(twice == 2.0 * (double)i);
        char want[8];
        snprintf(want, sizeof want, "r%zu", i);
        assert_int_equal(len, strlen(want));
        assert_memory_equal(name, want, len);
    }
    sc_result_destroy(res);
    int64_t n = 0;
    assert_int_equal(sc_df_count(df, &n, err), SC_OK);
    assert_int_equal(n, 5);
    sc_df_destroy(df);
    sc_error_destroy(err);
}

static void bad_sql_reports_spark_error_class(void **state)
{
    sc_error_t *err = sc_error_new();
    sc_df_t *df = NULL;
    sc_code_t rc = sc_sql(*state, "SELECT * FROM carprice_no_such_table", NULL, 0, &df, err);
    assert_int_equal(rc, SC_ERR_SERVER);
    assert_null(df);
    assert_string_equal(sc_error_class(err), "TABLE_OR_VIEW_NOT_FOUND");
    assert_string_equal(sc_error_sqlstate(err), "42P01");
    assert_non_null(strstr(sc_error_message(err), "carprice_no_such_table"));
    rc = sc_sql(*state, "SELEC 1", NULL, 0, &df, err);
    assert_int_equal(rc, SC_ERR_SERVER);
    assert_string_equal(sc_error_class(err), "PARSE_SYNTAX_ERROR");
    sc_error_destroy(err);
}

static void unreachable_server_is_a_transport_error(void **state)
{
    (void)state;
    sc_error_t *err = sc_error_new();
    sc_session_options_t o;
    sc_session_options_init(&o);
    o.rpc_timeout_ms = 3000;
    sc_session_t *s = NULL;
    /* Port 1 on loopback: nothing listens there. */
    assert_int_equal(sc_session_new("sc://127.0.0.1:1", &o, &s, err), SC_OK);
    sc_code_t rc = sc_session_ping(s, err);
    assert_true(rc == SC_ERR_TRANSPORT || rc == SC_ERR_TIMEOUT);
    assert_true(sc_error_retriable(err));
    sc_session_detach(s);
    assert_int_equal(sc_session_new("http://x", NULL, &s, err), SC_ERR_INVALID_ARG);
    assert_int_equal(sc_session_new("sc://h:99999", NULL, &s, err), SC_ERR_INVALID_ARG);
    assert_int_equal(sc_session_new("sc://h/;bogus=1", NULL, &s, err), SC_ERR_INVALID_ARG);
    sc_error_destroy(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(server_answers_version),
        cmocka_unit_test(sql_collects_rows),
        cmocka_unit_test(bad_sql_reports_spark_error_class),
        cmocka_unit_test(unreachable_server_is_a_transport_error),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
