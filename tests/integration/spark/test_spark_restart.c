/* Faults: the Spark Connect server goes down and comes back mid-session.
 * While it is down calls fail as retriable transport errors; once it is back
 * the old session is reported lost (its server-side state is gone), and
 * sc_session_reset gives a working session on the same channel.
 *
 * argv[1] is scripts/stack: this test restarts the stack's Spark server. */
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

static const char *g_stack;

static const char *remote(void)
{
    const char *r = getenv("CARPRICE_SPARK_REMOTE");
    return r && *r ? r : "sc://127.0.0.1:15002";
}

static void stack(const char *verb)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s %s spark >/dev/null", g_stack, verb);
    assert_int_equal(system(cmd), 0);
}

static void restart_mid_session(void **state)
{
    (void)state;
    sc_error_t *err = sc_error_new();
    sc_session_options_t o;
    sc_session_options_init(&o);
    o.rpc_timeout_ms = 5000;
    sc_session_t *s = NULL;
    assert_int_equal(sc_session_new(remote(), &o, &s, err), SC_OK);
    sc_df_t *df = NULL;
    assert_int_equal(sc_sql(s, "SELECT 1 AS one", NULL, 0, &df, err), SC_OK);
    assert_int_equal(sc_df_create_view(df, "restart_probe", true, err), SC_OK);
    sc_df_destroy(df);

    stack("down");
    sc_code_t rc = sc_session_ping(s, err);
    assert_true(rc == SC_ERR_TRANSPORT || rc == SC_ERR_TIMEOUT);
    assert_true(sc_error_retriable(err));

    stack("up");
    rc = sc_sql(s, "SELECT 2 AS two", NULL, 0, &df, err);
    if (rc != SC_ERR_SESSION_LOST)
        fail_msg("after restart: %s (%s): %s", sc_code_name(rc), sc_error_class(err),
                 sc_error_message(err));
    assert_non_null(strstr(sc_error_class(err), "SESSION"));

    assert_int_equal(sc_session_reset(s, err), SC_OK);
    int64_t n = 0;
    assert_int_equal(sc_sql(s, "SELECT * FROM range(7)", NULL, 0, &df, err), SC_OK);
    assert_int_equal(sc_df_count(df, &n, err), SC_OK);
    assert_int_equal(n, 7);
    sc_df_destroy(df);
    /* Server-side state did not survive: the view is gone, and says so. */
    assert_int_equal(sc_sql(s, "SELECT * FROM restart_probe", NULL, 0, &df, err), SC_ERR_SERVER);
    assert_string_equal(sc_error_class(err), "TABLE_OR_VIEW_NOT_FOUND");
    sc_session_destroy(s);
    sc_error_destroy(err);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_spark_restart PATH/TO/scripts/stack\n");
        return 2;
    }
    g_stack = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(restart_mid_session),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
