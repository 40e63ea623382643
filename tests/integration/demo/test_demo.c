/* The whole system at CI scale (issue #8): scripts/demo --no-setup on the
 * running stack, then assertions on the summary it writes ($state/summary.env,
 * named by its "summary: PATH" stdout line):
 *  - the demo exits 0, in time, and no request was lost;
 *  - two distinct model versions served, through a successful rollout;
 *  - the rollout happened while requests flowed: both versions answered, and
 *    requests were sent before the rollout started and after it finished;
 *  - both watchers are idempotent: after the scenario, watch-data twice says
 *    "nothing new" (0) and watch-model twice has nothing to do (0);
 *  - the live metrics closed at least one window with pairs for a version.
 * argv[1] is scripts/demo, argv[2] the build directory whose apps/carprice
 * the demo runs; more arguments replace the demo's scale flags. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

static const char *demo, *build;
static char **scale_args;
static int nscale_args;

#define MAX_KEYS 256

static char keys[MAX_KEYS][64], vals[MAX_KEYS][512];
static int nkeys;

/* One summary line "key=value": value unquoted from '...' or "..." (the demo
 * writes only those two forms for values with spaces). */
static void parse_line(char *line)
{
    line[strcspn(line, "\r\n")] = '\0';
    char *eq = strchr(line, '=');
    if (!eq || eq == line || nkeys == MAX_KEYS)
        return;
    *eq = '\0';
    char *v = eq + 1;
    size_t n = strlen(v);
    if (n >= 2 && (v[0] == '\'' || v[0] == '"') && v[n - 1] == v[0]) {
        v[n - 1] = '\0';
        v++;
    }
    snprintf(keys[nkeys], sizeof keys[0], "%.63s", line);
    snprintf(vals[nkeys], sizeof vals[0], "%.511s", v);
    nkeys++;
}

static const char *get(const char *key)
{
    for (int i = 0; i < nkeys; i++)
        if (strcmp(keys[i], key) == 0)
            return vals[i];
    return NULL;
}

static const char *str(const char *key)
{
    const char *v = get(key);
    return v ? v : "";
}

/* The value of GROUP_V_FIELD, e.g. version_2_answers. */
static const char *getf(const char *group, const char *v, const char *field)
{
    char key[128];
    snprintf(key, sizeof key, "%s_%s_%s", group, v, field);
    return get(key);
}

/* The integer value of key; fails the test when it is missing. */
static long long num(const char *key)
{
    const char *v = get(key);
    if (!v || !*v)
        fail_msg("summary has no %s", key);
    return strtoll(v, NULL, 10);
}

static long long numf(const char *group, const char *v, const char *field)
{
    char key[128];
    snprintf(key, sizeof key, "%s_%s_%s", group, v, field);
    return num(key);
}

static bool has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; p && (p = strstr(p, word)); p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
            return true;
    return false;
}

static int count_words(const char *list)
{
    int n = 0;
    for (const char *p = list; p && *p;) {
        p += strspn(p, " ");
        if (*p)
            n++;
        p += strcspn(p, " ");
    }
    return n;
}

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail_msg(__VA_ARGS__);                                                                 \
    } while (0)

static void scenario(void **state)
{
    (void)state;
    /* The demo's stdout (live view, summary) goes to the test's output;
     * its stderr (progress log) too, through the shell. */
    char cmd[4096];
    int len = snprintf(cmd, sizeof cmd, "BUILD='%s' '%s' --no-setup", build, demo);
    for (int i = 0; i < nscale_args; i++)
        len += snprintf(cmd + len, sizeof cmd - (size_t)len, " '%s'", scale_args[i]);
    snprintf(cmd + len, sizeof cmd - (size_t)len, " 2>&1");
    printf("running: %s\n", cmd);
    fflush(stdout);
    time_t t0 = time(NULL);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[4096], summary[1024] = "";
    while (fgets(line, sizeof line, p)) {
        fputs(line, stdout);
        fflush(stdout);
        if (strncmp(line, "summary: ", 9) == 0) {
            snprintf(summary, sizeof summary, "%.1023s", line + 9);
            summary[strcspn(summary, "\n")] = '\0';
        }
    }
    int st = pclose(p);
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    printf("demo exit status %d after %lld s\n", rc, (long long)(time(NULL) - t0));
    CHECK(*summary, "the demo wrote no summary (exit status %d)", rc);
    FILE *f = fopen(summary, "r");
    CHECK(f, "cannot read %s", summary);
    printf("---- %s\n", summary);
    while (fgets(line, sizeof line, f)) {
        fputs(line, stdout);
        parse_line(line);
    }
    fclose(f);
    fflush(stdout);

    /* Completed, in time, nothing lost. */
    CHECK(rc == 0, "demo exit status %d (result=%s)", rc, str("result"));
    CHECK(strcmp(str("result"), "ok") == 0, "result is not ok");
    CHECK(num("timed_out") == 0, "the demo ran out of time");
    CHECK(num("sent") > 0, "no request was sent");
    CHECK(num("lost") == 0, "%lld requests lost", num("lost"));
    CHECK(num("answered") + num("rejected") == num("sent"), "answered + rejected != sent");
    CHECK(num("answered") >= num("sent") * 9 / 10, "only %lld of %lld answered (rest rejected)",
          num("answered"), num("sent"));
    CHECK(num("trainings_finished") >= num("batches"), "%lld trainings for %lld batches",
          num("trainings_finished"), num("batches"));

    /* Two versions served, through a rollout. */
    const char *served = str("served_versions");
    CHECK(count_words(served) >= 2, "versions served: '%s'", served);
    CHECK(num("rollouts_succeeded") >= 1, "no successful rollout");
    const char *from = str("rollout_from"), *to = str("rollout_to");
    CHECK(*from && *to && strcmp(from, to) != 0, "rollout from '%s' to '%s'", from, to);
    CHECK(strcmp(str("serving"), to) == 0 && strcmp(str("champion"), to) == 0,
          "serving %s, champion %s, last rollout to %s", str("serving"), str("champion"), to);

    /* ... while requests flowed: answers by both, requests sent on both
     * sides of the rollout. */
    const char *answering = str("answer_versions");
    CHECK(has_word(answering, from) && has_word(answering, to),
          "answers by versions '%s', rollout %s -> %s", answering, from, to);
    CHECK(numf("version", from, "answers") > 0 && numf("version", to, "answers") > 0,
          "a version of the rollout answered nothing");
    long long started = num("rollout_started_ms"), finished = num("rollout_finished_ms");
    CHECK(started > 0 && finished >= started, "rollout times %lld .. %lld", started, finished);
    CHECK(num("first_request_ms") < started,
          "the first request (%lld) was not sent before the rollout started (%lld)",
          num("first_request_ms"), started);
    CHECK(num("last_request_ms") > finished,
          "the last request (%lld) was not sent after the rollout finished (%lld)",
          num("last_request_ms"), finished);
    CHECK(numf("version", from, "first_request_ms") < started,
          "v%s answered no request sent before the rollout", from);
    CHECK(numf("version", to, "last_request_ms") > finished,
          "v%s answered no request sent after the rollout", to);

    /* Both watchers idempotent, run twice after the scenario. */
    for (int n = 1; n <= 2; n++) {
        char k[64], kl[64];
        snprintf(k, sizeof k, "watch_data_%d_status", n);
        snprintf(kl, sizeof kl, "watch_data_%d_line", n);
        CHECK(num(k) == 0, "watch-data pass %d: exit %lld, not 0 (nothing new)", n, num(k));
        CHECK(strstr(str(kl), "nothing new"), "watch-data pass %d said '%s'", n, str(kl));
        snprintf(k, sizeof k, "watch_model_%d_status", n);
        CHECK(num(k) == 0, "watch-model pass %d: exit %lld, not 0 (nothing to do)", n, num(k));
    }

    /* Live metrics: at least one closed window with pairs. */
    const char *mv = str("metrics_versions");
    int with_windows = 0;
    char v[64];
    for (const char *q = mv; *q;) {
        q += strspn(q, " ");
        size_t w = strcspn(q, " ");
        if (w && w < sizeof v) {
            snprintf(v, sizeof v, "%.*s", (int)w, q);
            const char *mae = getf("metrics", v, "mae");
            if (numf("metrics", v, "windows") >= 1 && numf("metrics", v, "count") > 0 && mae &&
                *mae)
                with_windows++;
        }
        q += w;
    }
    CHECK(with_windows >= 1, "no live-metrics window with pairs (versions '%s')", mv);
    printf("checked: %lld sent, 0 lost, rollout v%s -> v%s under traffic, watchers idempotent, "
           "live metrics for %d version(s); scenario %lld s\n",
           num("sent"), from, to, with_windows, num("scenario_seconds"));
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s DEMO_SCRIPT BUILD_DIR [DEMO_FLAGS...]\n", argv[0]);
        return 2;
    }
    demo = argv[1];
    build = argv[2];
    scale_args = argv + 3;
    nscale_args = argc - 3;
    const struct CMUnitTest tests[] = {cmocka_unit_test(scenario)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
