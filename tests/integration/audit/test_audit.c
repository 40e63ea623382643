/* `carprice audit` on a real topic: 5 ids sent; predictions for 4 of them
 * (one twice, by two model versions) and one for an id not sent -> sent 5,
 * answered 4, lost 1, duplicated 1, exit 1; with the lost one answered ->
 * exit 0. Bad flags and a missing ids file fail clearly.
 * argv[1] is the carprice program. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kafka_util.h"

static const char *carprice;
static char dir[64], topic[128], dlq[160];

static int run(const char *args, char *out, size_t len)
{
    char cmd[2048], path[128];
    snprintf(path, sizeof path, "%s/out", dir);
    snprintf(cmd, sizeof cmd, "'%s' audit %s > '%s' 2>&1", carprice, args, path);
    int st = system(cmd);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(out, 1, len - 1, f) : 0;
    out[n] = '\0';
    if (f)
        fclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void counts_lost_and_duplicates(void **state)
{
    (void)state;
    char ids[128], args[512], out[4096];
    snprintf(ids, sizeof ids, "%s/ids.txt", dir);
    FILE *f = fopen(ids, "w");
    assert_non_null(f);
    fputs("r-1\nr-2\nr-3\n\nr-4\nr-5\nr-2\n", f); /* a blank line, a repeat */
    fclose(f);
    const char *keys[] = {"r-1", "r-2", "r-3", "r-4", "r-2", "x-9"};
    const char *vals[] = {
        "{\"request_id\":\"r-1\",\"predicted_price\":1.0,\"model_version\":\"1\"}",
        "{\"request_id\":\"r-2\",\"predicted_price\":1.0,\"model_version\":\"1\"}",
        "{\"request_id\":\"r-3\",\"predicted_price\":1.0,\"model_version\":\"1\"}",
        "{\"request_id\":\"r-4\",\"predicted_price\":1.0,\"model_version\":\"2\"}",
        "{\"request_id\":\"r-2\",\"predicted_price\":2.0,\"model_version\":\"2\"}",
        "{\"request_id\":\"x-9\",\"predicted_price\":1.0,\"model_version\":\"2\"}",
    };
    assert_int_equal(tk_produce(topic, keys, vals, 6), 0);
    /* A dead letter for an id not sent, so that the DLQ topic exists. */
    const char *dk[] = {"z-1"};
    const char *dv[] = {"{\"reason\":\"not_json\"}"};
    assert_int_equal(tk_produce(dlq, dk, dv, 1), 0);
    snprintf(args, sizeof args,
             "--ids '%s' --predictions-topic '%s' --dlq-topic '%s' --bootstrap '%s' --idle-ms 2000",
             ids, topic, dlq, tk_bootstrap());
    assert_int_equal(run(args, out, sizeof out), 1);
    assert_non_null(strstr(out, "requests sent      5\n"));
    assert_non_null(strstr(out, "answered           4\n"));
    assert_non_null(strstr(out, "lost               1\n"));
    assert_non_null(strstr(out, "duplicated         1\n"));
    assert_non_null(strstr(out, "prediction msgs    6 (1 for other requests)"));
    assert_non_null(strstr(out, "model version 1        3 answers"));
    assert_non_null(strstr(out, "model version 2        2 answers"));

    /* r-5 was rejected by serve: a dead letter answers it. */
    const char *k5[] = {"r-5"};
    const char *v5[] = {"{\"request_id\":\"r-5\",\"reason\":\"out_of_range: year\"}"};
    assert_int_equal(tk_produce(dlq, k5, v5, 1), 0);
    int st = run(args, out, sizeof out);
    if (st != 0)
        fail_msg("audit %s exited %d: %s", args, st, out);
    assert_non_null(strstr(out, "rejected           1 (dead letters: 2)\n"));
    assert_non_null(strstr(out, "lost               0\n"));
    assert_non_null(strstr(out, "answered           4\n"));
}

static void bad_usage(void **state)
{
    (void)state;
    char out[4096];
    assert_int_equal(run("", out, sizeof out), 2);
    assert_int_equal(run("--ids /x --idle-ms soon", out, sizeof out), 2);
    assert_int_equal(run("--ids /nonexistent/ids.txt", out, sizeof out), 1);
    assert_non_null(strstr(out, "carprice audit: cannot read /nonexistent/ids.txt"));
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    carprice = argv[1];
    snprintf(dir, sizeof dir, "/tmp/audit_test_XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    snprintf(topic, sizeof topic, "%s", tk_unique_topic("carprice.test.audit"));
    snprintf(dlq, sizeof dlq, "%s.dlq", topic);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counts_lost_and_duplicates),
        cmocka_unit_test(bad_usage),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        rc = rc ? rc : 1;
    return rc;
}
