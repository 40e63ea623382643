/* `carprice audit` on a real topic: 5 ids sent; predictions for 4 of them
 * (one twice, by two model versions) and one for an id not sent -> sent 5,
 * answered 4, lost 1, duplicated 1, exit 1; with the lost one answered ->
 * exit 0. Bad flags and a missing ids file fail clearly.
 * --metrics-topic: hand-built live-metrics messages (serve's format, see
 * src/serve/metrics.c) for two versions, one with several windows out of
 * order and a tie on window_end_ms -> per-version counts and the latest
 * window printed and in --env-out, which `sh` can source; malformed metrics
 * messages are skipped and counted; an unwritable --env-out fails clearly.
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
#include <time.h>
#include <unistd.h>

#include "kafka_util.h"

static const char *carprice;
static char dir[64], topic[128], dlq[160], mtopic[160], ptopic[160], btopic[160];

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

/* Fails the test unless out contains the printf-formatted text. */
static void expect_in(const char *out, const char *fmt, ...)
{
    char want[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(want, sizeof want, fmt, ap);
    va_end(ap);
    if (!strstr(out, want))
        fail_msg("no '%s' in:\n%s", want, out);
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

/* One live-metrics value as serve's query writes it: to_json of
 * named_struct(model_name, model_version, window_start_ms, window_end_ms,
 * count, mae, rmse, mape, r2, computed_at_ms) with nulls kept; numbers
 * given as text so that a test can write them as Spark does (1.25E7, null). */
static char *metrics_value(const char *version, long long start, long long end, long long count,
                           const char *mae, const char *rmse, const char *mape, const char *r2)
{
    char *v = NULL;
    if (asprintf(&v,
                 "{\"model_name\":\"carprice\",\"model_version\":\"%s\",\"window_start_ms\":%lld,"
                 "\"window_end_ms\":%lld,\"count\":%lld,\"mae\":%s,\"rmse\":%s,\"mape\":%s,"
                 "\"r2\":%s,\"computed_at_ms\":%lld}",
                 version, start, end, count, mae, rmse, mape, r2, end + 15000) < 0)
        return NULL;
    return v;
}

static const char *hms(long long ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%H:%M:%S", &tm);
    return buf;
}

/* The value of NAME=... in an env file's text (up to the line's end). */
static const char *env_value(const char *text, const char *name, char *buf, size_t len)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\n%s=", name);
    const char *p = strstr(text, pat);
    if (p) {
        p += strlen(pat);
    } else {
        snprintf(pat, sizeof pat, "%s=", name);
        if (strncmp(text, pat, strlen(pat)) != 0)
            return NULL;
        p = text + strlen(pat);
    }
    size_t n = strcspn(p, "\n");
    snprintf(buf, len, "%.*s", (int)n, p);
    return buf;
}

static void assert_env(const char *text, const char *name, const char *want)
{
    char buf[256];
    const char *got = env_value(text, name, buf, sizeof buf);
    if (!got || strcmp(got, want) != 0)
        fail_msg("env-out %s: want '%s', got '%s'", name, want, got ? got : "(missing)");
}

static void assert_env_number(const char *text, const char *name, double want)
{
    char buf[256];
    const char *got = env_value(text, name, buf, sizeof buf);
    char *end;
    double d = got ? strtod(got, &end) : 0;
    if (!got || !*got || *end || d != want)
        fail_msg("env-out %s: want %.17g, got '%s'", name, want, got ? got : "(missing)");
}

static void assert_env_either(const char *text, const char *name, const char *w1, const char *w2)
{
    char buf[256];
    const char *got = env_value(text, name, buf, sizeof buf);
    if (!got || (strcmp(got, w1) != 0 && strcmp(got, w2) != 0))
        fail_msg("env-out %s: want '%s' or '%s', got '%s'", name, w1, w2, got ? got : "(missing)");
}

static void read_file(const char *path, char *out, size_t len)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(out, 1, len - 1, f);
    out[n] = '\0';
    fclose(f);
}

/* Version "3": five windows, produced out of order, three of them ending
 * at the same time (the one with the largest count, neither first nor last
 * of the three, is the latest; the last one produced ends earlier); "4": one window
 * with a null r2 and Spark's exponent notation. Four ids, all answered. */
static void metrics_latest_window_per_version(void **state)
{
    (void)state;
    const long long e = 1795471260000LL; /* a minute boundary */
    char *mv[6];
    mv[0] = metrics_value("3", e - 420000, e - 120000, 4, "900.5", "1000.5", "0.25", "0.5");
    mv[1] = metrics_value("3", e - 300000, e, 2, "600.5", "650.5", "0.625", "0.125");
    mv[2] = metrics_value("3", e - 300000, e, 7, "1234.5", "1800.5", "0.125", "0.875");
    mv[3] = metrics_value("3", e - 300000, e, 6, "800.5", "950.5", "0.375", "0.625");
    mv[4] = metrics_value("3", e - 360000, e - 60000, 5, "700.5", "990.5", "0.5", "0.75");
    mv[5] = metrics_value("4", e - 240000, e + 60000, 1, "1.25E7", "1.25E7", "0.0", "null");
    for (int i = 0; i < 6; i++)
        assert_non_null(mv[i]);
    const char *mk[] = {"3", "3", "3", "3", "3", "4"};
    assert_int_equal(tk_produce(mtopic, mk, (const char *const *)mv, 6), 0);
    for (int i = 0; i < 6; i++)
        free(mv[i]);

    char ids[128], env[128], args[1024], out[8192], text[8192];
    snprintf(ids, sizeof ids, "%s/ids-m.txt", dir);
    snprintf(env, sizeof env, "%s/audit.env", dir);
    FILE *f = fopen(ids, "w");
    assert_non_null(f);
    fputs("m-1\nm-2\nm-3\nm-4\n", f);
    fclose(f);
    const char *pk[] = {"m-1", "m-2", "m-3", "m-4", "m-4"};
    const char *pv[] = {
        "{\"request_id\":\"m-1\",\"predicted_price\":1.0,\"model_version\":\"3\","
        "\"request_ts_ms\":1795471000000}",
        "{\"request_id\":\"m-2\",\"predicted_price\":1.0,\"model_version\":\"3\","
        "\"request_ts_ms\":1795471001000}",
        "{\"request_id\":\"m-3\",\"predicted_price\":1.0,\"model_version\":\"4\","
        "\"request_ts_ms\":1795471002000}",
        "{\"request_id\":\"m-4\",\"predicted_price\":1.0,\"model_version\":\"3\","
        "\"request_ts_ms\":1795471003000}",
        "{\"request_id\":\"m-4\",\"predicted_price\":1.0,\"model_version\":\"4\","
        "\"request_ts_ms\":1795471004000}",
    };
    assert_int_equal(tk_produce(ptopic, pk, pv, 5), 0);
    snprintf(args, sizeof args,
             "--ids '%s' --predictions-topic '%s' --dlq-topic '' --bootstrap '%s' --idle-ms 2000 "
             "--metrics-topic '%s' --env-out '%s'",
             ids, ptopic, tk_bootstrap(), mtopic, env);
    int st = run(args, out, sizeof out);
    if (st != 0)
        fail_msg("audit %s exited %d: %s", args, st, out);
    char a[16], b[16];
    expect_in(out, "live metrics       6 window messages on %s\n", mtopic);
    expect_in(out,
              "  model version 3        5 windows; latest %s-%s UTC: 7 pairs, MAE 1234.5, "
              "RMSE 1800.5, MAPE 12.5%%, R2 0.875\n",
              hms(e - 300000, a, sizeof a), hms(e, b, sizeof b));
    expect_in(out,
              "  model version 4        1 windows; latest %s-%s UTC: 1 pairs, MAE 12500000.0, "
              "RMSE 12500000.0, MAPE 0.0%%, R2 nan\n",
              hms(e - 240000, a, sizeof a), hms(e + 60000, b, sizeof b));
    assert_null(strstr(out, "skipped"));

    /* --env-out: the same numbers as shell assignments. */
    read_file(env, text, sizeof text);
    assert_env(text, "sent", "4");
    assert_env(text, "answered", "4");
    assert_env(text, "rejected", "0");
    assert_env(text, "lost", "0");
    assert_env(text, "duplicated", "1");
    assert_env(text, "prediction_messages", "5");
    assert_env(text, "foreign_messages", "0");
    assert_env(text, "first_request_ms", "1795471000000");
    assert_env(text, "last_request_ms", "1795471004000");
    assert_env_either(text, "answer_versions", "\"3 4\"", "\"4 3\""); /* topic order */
    assert_env(text, "version_3_answers", "3");
    assert_env(text, "version_3_first_request_ms", "1795471000000");
    assert_env(text, "version_3_last_request_ms", "1795471003000");
    assert_env(text, "version_4_answers", "2");
    assert_env(text, "version_4_first_request_ms", "1795471002000");
    assert_env(text, "version_4_last_request_ms", "1795471004000");
    assert_env(text, "metrics_messages", "6");
    assert_env_either(text, "metrics_versions", "\"3 4\"", "\"4 3\""); /* topic order */
    assert_env(text, "metrics_3_windows", "5");
    assert_env_number(text, "metrics_3_window_start_ms", (double)(e - 300000));
    assert_env_number(text, "metrics_3_window_end_ms", (double)e);
    assert_env(text, "metrics_3_count", "7");
    assert_env_number(text, "metrics_3_mae", 1234.5);
    assert_env_number(text, "metrics_3_rmse", 1800.5);
    assert_env_number(text, "metrics_3_mape", 0.125);
    assert_env_number(text, "metrics_3_r2", 0.875);
    assert_env(text, "metrics_4_windows", "1");
    assert_env_number(text, "metrics_4_window_start_ms", (double)(e - 240000));
    assert_env_number(text, "metrics_4_window_end_ms", (double)(e + 60000));
    assert_env(text, "metrics_4_count", "1");
    assert_env_number(text, "metrics_4_mae", 12500000.0);
    assert_env_number(text, "metrics_4_rmse", 12500000.0);
    assert_env_number(text, "metrics_4_mape", 0.0);
    assert_env(text, "metrics_4_r2", ""); /* null */

    /* Valid for `sh -c '. FILE'`: sourced, the variables have these values. */
    char cmd[1024], path[160];
    snprintf(path, sizeof path, "%s/sourced", dir);
    snprintf(cmd, sizeof cmd,
             "sh -c '. \"$1\" && printf \"%%s|\" \"$sent\" \"$answered\" \"$lost\" "
             "\"$duplicated\" \"$version_3_answers\" \"$version_4_answers\" "
             "\"$metrics_3_windows\" \"$metrics_3_count\" \"$metrics_3_mae\" "
             "\"$metrics_4_windows\" \"$metrics_4_r2\"' sh '%s' > '%s' 2>&1",
             env, path);
    int sst = system(cmd);
    read_file(path, text, sizeof text);
    if (!WIFEXITED(sst) || WEXITSTATUS(sst) != 0)
        fail_msg("sh could not source %s: %s", env, text);
    assert_string_equal(text, "4|4|0|1|3|2|5|7|1234.5|1||");
}

/* Metrics messages that are not windows (not JSON, no version, no window,
 * no count) are skipped and counted; the good ones still count. */
static void metrics_malformed_skipped(void **state)
{
    (void)state;
    const long long e = 1795471260000LL;
    char *good = metrics_value("5", e - 300000, e, 3, "10.5", "20.5", "0.25", "0.5");
    assert_non_null(good);
    char nover[256], nowin[256], nocount[256];
    snprintf(nover, sizeof nover,
             "{\"model_name\":\"carprice\",\"window_start_ms\":%lld,\"window_end_ms\":%lld,"
             "\"count\":9,\"mae\":1.0,\"rmse\":1.0,\"mape\":0.1,\"r2\":0.1}",
             e, e + 300000);
    snprintf(nowin, sizeof nowin,
             "{\"model_name\":\"carprice\",\"model_version\":\"5\",\"count\":9,\"mae\":1.0}");
    snprintf(nocount, sizeof nocount,
             "{\"model_name\":\"carprice\",\"model_version\":\"5\",\"window_start_ms\":%lld,"
             "\"window_end_ms\":%lld}",
             e, e + 300000);
    const char *k[] = {"5", "5", NULL, "5", "5", "5", "5"};
    const char *v[] = {"not json", good, "", "{\"model_version\":null}", nover, nowin, nocount};
    assert_int_equal(tk_produce(btopic, k, v, 7), 0);
    free(good);

    char ids[128], env[128], args[1024], out[8192], text[8192];
    snprintf(ids, sizeof ids, "%s/ids-b.txt", dir);
    snprintf(env, sizeof env, "%s/bad.env", dir);
    FILE *f = fopen(ids, "w");
    assert_non_null(f);
    fclose(f); /* no ids: nothing can be lost */
    snprintf(args, sizeof args,
             "--ids '%s' --predictions-topic '%s' --dlq-topic '' --bootstrap '%s' --idle-ms 1000 "
             "--metrics-topic '%s' --env-out '%s'",
             ids, ptopic, tk_bootstrap(), btopic, env);
    int st = run(args, out, sizeof out);
    if (st != 0)
        fail_msg("audit %s exited %d: %s", args, st, out);
    char a[16], b[16];
    expect_in(out, "live metrics       7 window messages on %s (6 skipped: not a window)\n",
              btopic);
    expect_in(out,
              "  model version 5        1 windows; latest %s-%s UTC: 3 pairs, MAE 10.5, "
              "RMSE 20.5, MAPE 25.0%%, R2 0.500\n",
              hms(e - 300000, a, sizeof a), hms(e, b, sizeof b));
    read_file(env, text, sizeof text);
    assert_env(text, "metrics_messages", "7");
    assert_env(text, "metrics_skipped", "6");
    assert_env(text, "metrics_versions", "\"5\"");
    assert_env(text, "metrics_5_windows", "1");
    assert_env(text, "metrics_5_count", "3");
    assert_env_number(text, "metrics_5_window_end_ms", (double)e);

    /* A metrics topic that does not exist holds nothing. */
    char none[256];
    snprintf(none, sizeof none, "%s.none", btopic);
    snprintf(args, sizeof args,
             "--ids '%s' --predictions-topic '%s' --dlq-topic '' --bootstrap '%s' --idle-ms 1000 "
             "--metrics-topic '%s'",
             ids, ptopic, tk_bootstrap(), none);
    assert_int_equal(run(args, out, sizeof out), 0);
    expect_in(out, "live metrics       0 window messages on %s\n", none);
}

/* --env-out into a directory that does not exist: a message naming the
 * path, exit 1 although nothing was lost; the summary is still printed. */
static void env_out_unwritable(void **state)
{
    (void)state;
    char ids[128], args[1024], out[8192];
    snprintf(ids, sizeof ids, "%s/ids-u.txt", dir);
    FILE *f = fopen(ids, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(args, sizeof args,
             "--ids '%s' --predictions-topic '%s' --dlq-topic '' --bootstrap '%s' --idle-ms 1000 "
             "--env-out '%s/no/such/dir/audit.env'",
             ids, ptopic, tk_bootstrap(), dir);
    assert_int_equal(run(args, out, sizeof out), 1);
    expect_in(out,
              "carprice audit: cannot write %s/no/such/dir/audit.env: No such file or directory",
              dir);
    assert_non_null(strstr(out, "lost               0\n"));
    /* A directory as the file. */
    snprintf(args, sizeof args,
             "--ids '%s' --predictions-topic '%s' --dlq-topic '' --bootstrap '%s' --idle-ms 1000 "
             "--env-out '%s'",
             ids, ptopic, tk_bootstrap(), dir);
    assert_int_equal(run(args, out, sizeof out), 1);
    expect_in(out, "carprice audit: cannot write %s: Is a directory", dir);
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
    snprintf(mtopic, sizeof mtopic, "%s.metrics", topic);
    snprintf(ptopic, sizeof ptopic, "%s.pm", topic);
    snprintf(btopic, sizeof btopic, "%s.badmetrics", topic);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counts_lost_and_duplicates),
        cmocka_unit_test(metrics_latest_window_per_version),
        cmocka_unit_test(metrics_malformed_skipped),
        cmocka_unit_test(env_out_unwritable),
        cmocka_unit_test(bad_usage),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        rc = rc ? rc : 1;
    return rc;
}
