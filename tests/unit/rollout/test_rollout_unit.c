/* Unit tests of the rollout library's pure parts: the supervisor's status
 * JSON as the deployer client reads it, rollout records in and out of JSON,
 * and the deployer's checks. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "rollout_internal.h"

static void parses_a_full_status(void **state)
{
    (void)state;
    const char *json =
        "{\"current_version\":\"m/2\",\"rollout_running\":true,\"state_dir\":\"/s\","
        "\"instances\":[{\"id\":2,\"pid\":42,\"version\":\"m/2\",\"role\":\"current\","
        "\"http_port\":8081,\"ready\":true,\"restarts\":1,\"checkpoint\":\"/s/i/2\"},"
        "{\"id\":3,\"pid\":43,\"version\":\"m/3\",\"role\":\"candidate\",\"http_port\":0,"
        "\"ready\":false,\"restarts\":0,\"checkpoint\":\"/s/i/3\"}],"
        "\"history\":[{\"from\":\"m/1\",\"to\":\"m/2\",\"kind\":\"rollout\",\"result\":"
        "\"succeeded\",\"reason\":\"\",\"started_ms\":1000,\"ready_ms\":2000,\"finished_ms\":3000,"
        "\"old_exit\":0}],"
        "\"last_rollout\":{\"from\":\"m/2\",\"to\":\"m/3\",\"kind\":\"rollout\",\"result\":"
        "\"running\",\"started_ms\":4000}}";
    cp_rollout_status_t st;
    char err[256];
    assert_int_equal(cp_rollout_status_parse(json, &st, err, sizeof err), CP_ROLLOUT_OK);
    assert_string_equal(st.current_version, "m/2");
    assert_true(st.rollout_running);
    assert_int_equal(st.n_instances, 2);
    assert_int_equal(st.instances[0].pid, 42);
    assert_int_equal(st.instances[0].http_port, 8081);
    assert_true(st.instances[0].ready);
    assert_int_equal(st.instances[0].restarts, 1);
    assert_string_equal(st.instances[1].role, "candidate");
    assert_false(st.instances[1].ready);
    assert_int_equal(st.n_history, 1);
    assert_string_equal(st.history[0].from, "m/1");
    assert_int_equal(st.history[0].finished_ms, 3000);
    assert_int_equal(st.history[0].old_exit, 0);
    assert_true(st.has_last);
    assert_string_equal(st.last.result, "running");
    assert_int_equal(st.last.ready_ms, 0);
    assert_int_equal(st.last.old_exit, -1); /* absent: unknown */
    cp_rollout_status_free(&st);
    cp_rollout_status_free(&st); /* twice is harmless */
}

static void empty_and_malformed_status(void **state)
{
    (void)state;
    cp_rollout_status_t st;
    char err[256] = "";
    assert_int_equal(cp_rollout_status_parse("{}", &st, err, sizeof err), CP_ROLLOUT_OK);
    assert_string_equal(st.current_version, "");
    assert_false(st.has_last);
    assert_int_equal(st.n_instances, 0);
    cp_rollout_status_free(&st);
    assert_int_equal(cp_rollout_status_parse("not json", &st, err, sizeof err),
                     CP_ROLLOUT_ERR_PROTOCOL);
    assert_non_null(strstr(err, "not a JSON object"));
    assert_int_equal(cp_rollout_status_parse("[1,2]", &st, err, sizeof err),
                     CP_ROLLOUT_ERR_PROTOCOL);
    /* Wrong types read as absent, and over-long strings are cut, not overflowed. */
    char big[1200];
    memset(big, 'x', sizeof big);
    big[sizeof big - 1] = '\0';
    char json[1400];
    snprintf(json, sizeof json, "{\"current_version\":\"%s\",\"instances\":[{\"pid\":\"7\"}]}",
             big);
    assert_int_equal(cp_rollout_status_parse(json, &st, err, sizeof err), CP_ROLLOUT_OK);
    assert_int_equal(strlen(st.current_version), sizeof st.current_version - 1);
    assert_int_equal(st.n_instances, 1);
    assert_int_equal(st.instances[0].pid, 0);
    cp_rollout_status_free(&st);
}

static void record_round_trip(void **state)
{
    (void)state;
    cp_rollout_record_t r = {.from = "carprice/4",
                             .to = "carprice/5",
                             .kind = "rollback",
                             .result = "failed",
                             .reason = "the new instance exited with status 1 \"quoted\"",
                             .started_ms = 1795480000123LL,
                             .ready_ms = 0,
                             .finished_ms = 1795480009999LL,
                             .old_exit = 143};
    json_t *o = cp_rollout_record_to_json(&r);
    assert_non_null(o);
    cp_rollout_record_t back;
    cp_rollout_record_from_json(o, &back);
    json_decref(o);
    assert_string_equal(back.from, r.from);
    assert_string_equal(back.to, r.to);
    assert_string_equal(back.kind, r.kind);
    assert_string_equal(back.result, r.result);
    assert_string_equal(back.reason, r.reason);
    assert_int_equal(back.started_ms, r.started_ms);
    assert_int_equal(back.ready_ms, 0);
    assert_int_equal(back.finished_ms, r.finished_ms);
    assert_int_equal(back.old_exit, 143);
}

static void deployer_checks(void **state)
{
    (void)state;
    cp_deployer_t *d = NULL;
    char err[256];
    assert_int_equal(cp_deployer_local_new(0, &d, err, sizeof err), CP_ROLLOUT_ERR_INVALID_ARG);
    assert_null(d);
    assert_int_equal(cp_deployer_local_new(70000, &d, err, sizeof err), CP_ROLLOUT_ERR_INVALID_ARG);
    /* Port 1 on 127.0.0.1: nobody listens, the connection is refused. */
    assert_int_equal(cp_deployer_local_new(1, &d, err, sizeof err), CP_ROLLOUT_OK);
    assert_int_equal(cp_deployer_rollout(d, "", "rollout", err, sizeof err),
                     CP_ROLLOUT_ERR_INVALID_ARG);
    char v[64];
    assert_int_equal(cp_deployer_current_version(d, v, sizeof v, err, sizeof err),
                     CP_ROLLOUT_ERR_UNREACHABLE);
    assert_non_null(strstr(err, "127.0.0.1:1"));
    cp_deployer_destroy(d);
    cp_deployer_destroy(NULL);
    for (int c = CP_ROLLOUT_OK; c <= CP_ROLLOUT_ERR_TIMEOUT; c++)
        assert_true(strlen(cp_rollout_strerror((cp_rollout_code_t)c)) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_a_full_status),
        cmocka_unit_test(empty_and_malformed_status),
        cmocka_unit_test(record_round_trip),
        cmocka_unit_test(deployer_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
