/* carprice watch-model: one pass (cron-style) of the model watcher. Rolls
 * out the registry's champion when another version serves, and rolls a
 * rollout back when the new version's live error is worse than the previous
 * one's (docs/watchers.md). */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "carprice/log.h"
#include "carprice/mlflow.h"
#include "carprice/rollout.h"
#include "commands.h"

#define EXIT_NOTHING     0
#define EXIT_ERROR       1
#define EXIT_USAGE       2
#define EXIT_ROLLED_OUT  3
#define EXIT_NOT_DONE    4
#define EXIT_ROLLED_BACK 5

#define ALIAS "champion"

typedef struct {
    const char *model_name;
    int control_port;
    long timeout_ms;
    double margin;
    long window_s;
    long min_count;
    const char *metrics_topic;
    const char *bootstrap;
    const char *tracking_uri;
    bool no_rollback;
} wm_opts_t;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: carprice watch-model [--model-name N] [--control-port P] [--timeout S]\n"
            "                            [--rollback-margin F] [--rollback-window S]\n"
            "                            [--rollback-min-count N] [--no-rollback]\n"
            "                            [--metrics-topic T] [--bootstrap HOST:PORT]\n"
            "                            [--tracking-uri URI]\n"
            "\n"
            "One pass of the model watcher (run it from cron or a loop). Reads the registered\n"
            "model's alias `champion` and asks the deployer (the local supervisor on\n"
            "127.0.0.1:P) which version serves; when they differ, rolls the champion out and\n"
            "waits for the result. When they agree and the last rollout finished at least the\n"
            "rollback window ago, compares the new version's live MAE over the window after\n"
            "the rollout with the previous version's over an equal window before it (from the\n"
            "metrics topic); if the new one is worse by more than the margin and both have\n"
            "enough priced predictions, moves `champion` back, tags the bad version\n"
            "carprice.rollback=<reason> and rolls the previous version back out.\n"
            "\n"
            "  --model-name N          registered model (default carprice)\n"
            "  --control-port P        supervisor control port (default\n"
            "                          $CARPRICE_SUPERVISOR_PORT, else 8090)\n"
            "  --timeout S             bound on waiting for a rollout (default 600)\n"
            "  --rollback-margin F     tolerated relative MAE increase (default 0.2 = 20%%)\n"
            "  --rollback-window S     seconds compared on each side (default 600)\n"
            "  --rollback-min-count N  joined pairs needed on each side (default 30)\n"
            "  --no-rollback           skip the rollback check\n"
            "  --metrics-topic T       live metrics (default carprice.metrics)\n"
            "  --bootstrap HOST:PORT   Kafka (default $CARPRICE_KAFKA_BOOTSTRAP, 127.0.0.1:9092)\n"
            "  --tracking-uri URI      MLflow (default $MLFLOW_TRACKING_URI)\n"
            "\n"
            "Exit status: 0 nothing to do, 3 rolled out, 4 a rollout is in progress or failed\n"
            "(stderr says which), 5 rolled back, 1 error, 2 usage.\n");
}

static int parse_long(const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "carprice watch-model: %s needs an integer in %ld .. %ld, not '%s'\n", opt,
                lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* "NAME/VERSION" -> name and version (copies). */
static bool split_version(const char *spec, char *name, size_t nl, char *ver, size_t vl)
{
    const char *slash = strrchr(spec, '/');
    if (!slash || slash == spec || !slash[1])
        return false;
    snprintf(name, nl, "%.*s", (int)(slash - spec), spec);
    snprintf(ver, vl, "%s", slash + 1);
    return true;
}

/* Rolls out and waits; returns the exit status for the outcome. */
static int roll(cp_deployer_t *d, const wm_opts_t *o, const char *spec, const char *kind,
                int success_status)
{
    char err[1024];
    cp_rollout_code_t rc = cp_deployer_rollout(d, spec, kind, err, sizeof err);
    if (rc == CP_ROLLOUT_ERR_BUSY) {
        fprintf(stderr, "carprice watch-model: in progress: %s\n", err);
        return EXIT_NOT_DONE;
    }
    if (rc != CP_ROLLOUT_OK) {
        fprintf(stderr, "carprice watch-model: %s: %s\n", kind, err);
        return EXIT_ERROR;
    }
    cp_log_info("watch_model.rollout_started", "to=%s kind=%s", spec, kind);
    cp_rollout_status_t st;
    rc = cp_deployer_wait(d, o->timeout_ms, &st, err, sizeof err);
    int status;
    if (rc == CP_ROLLOUT_ERR_TIMEOUT) {
        fprintf(stderr, "carprice watch-model: in progress: %s\n", err);
        status = EXIT_NOT_DONE;
    } else if (rc != CP_ROLLOUT_OK) {
        fprintf(stderr, "carprice watch-model: %s\n", err);
        status = EXIT_ERROR;
    } else if (strcmp(st.current_version, spec) == 0 && st.has_last &&
               strcmp(st.last.result, "succeeded") == 0) {
        printf("%s %s: %s -> %s (ready after %.1f s, done after %.1f s)\n", kind, "succeeded",
               st.last.from, st.last.to, (double)(st.last.ready_ms - st.last.started_ms) / 1000.0,
               (double)(st.last.finished_ms - st.last.started_ms) / 1000.0);
        status = success_status;
    } else {
        fprintf(stderr, "carprice watch-model: failed: %s to %s: %s\n", kind, spec,
                st.has_last ? st.last.reason : "no result recorded");
        status = EXIT_NOT_DONE;
    }
    cp_rollout_status_free(&st);
    return status;
}

/* The last successful rollout (not a rollback) to the serving version. */
static const cp_rollout_record_t *last_rollout_to(const cp_rollout_status_t *st, const char *spec)
{
    for (size_t i = st->n_history; i-- > 0;) {
        const cp_rollout_record_t *r = &st->history[i];
        if (strcmp(r->result, "succeeded") != 0)
            continue;
        if (strcmp(r->to, spec) != 0)
            return NULL; /* a later one moved away from spec */
        return strcmp(r->kind, "rollout") == 0 && r->from[0] ? r : NULL;
    }
    return NULL;
}

static int rollback_check(cp_deployer_t *d, cp_mlflow_t *m, const wm_opts_t *o,
                          const cp_rollout_status_t *st, const char *spec)
{
    const cp_rollout_record_t *r = last_rollout_to(st, spec);
    if (!r || o->no_rollback)
        return EXIT_NOTHING;
    int64_t w = (int64_t)o->window_s * 1000, now = 0;
    {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    }
    if (now < r->finished_ms + w) {
        cp_log_info("watch_model.rollback_check_pending", "version=%s in_s=%.0f", spec,
                    (double)(r->finished_ms + w - now) / 1000.0);
        return EXIT_NOTHING;
    }
    char nname[160], nver[64], pname[160], pver[64], err[1024];
    if (!split_version(r->to, nname, sizeof nname, nver, sizeof nver) ||
        !split_version(r->from, pname, sizeof pname, pver, sizeof pver)) {
        fprintf(stderr, "carprice watch-model: the deployer's history has a bad version\n");
        return EXIT_ERROR;
    }
    cp_live_error_t now_e, prev_e;
    if (cp_live_error(o->bootstrap, o->metrics_topic, nname, nver, r->finished_ms,
                      r->finished_ms + w, &now_e, err, sizeof err) != 0 ||
        cp_live_error(o->bootstrap, o->metrics_topic, pname, pver, r->started_ms - w, r->started_ms,
                      &prev_e, err, sizeof err) != 0) {
        fprintf(stderr, "carprice watch-model: rollback check: %s\n", err);
        return EXIT_ERROR;
    }
    cp_log_info("watch_model.rollback_check",
                "new=%s new_mae=%.2f new_count=%ld prev=%s prev_mae=%.2f prev_count=%ld "
                "margin=%.3f",
                r->to, now_e.mae, now_e.count, r->from, prev_e.mae, prev_e.count, o->margin);
    if (now_e.count < o->min_count || prev_e.count < o->min_count) {
        cp_log_info("watch_model.rollback_check_skipped",
                    "reason=\"fewer than %ld priced predictions on a side\"", o->min_count);
        return EXIT_NOTHING;
    }
    if (!(now_e.mae > prev_e.mae * (1.0 + o->margin)))
        return EXIT_NOTHING;

    char reason[400];
    snprintf(reason, sizeof reason,
             "live MAE %.2f over %ld s after the rollout vs %.2f of version %s before it "
             "(margin %.0f%%)",
             now_e.mae, o->window_s, prev_e.mae, pver, o->margin * 100);
    cp_log_warn("watch_model.rollback", "from=%s to=%s reason=\"%s\"", r->to, r->from, reason);
    cp_rest_error_t *re = cp_rest_error_new();
    if (cp_mlflow_model_version_set_tag(m, nname, nver, "carprice.rollback", reason, re) !=
            CP_REST_OK ||
        cp_mlflow_model_alias_set(m, pname, ALIAS, pver, re) != CP_REST_OK) {
        fprintf(stderr, "carprice watch-model: rollback in the registry: %s\n",
                cp_rest_error_message(re));
        cp_rest_error_destroy(re);
        return EXIT_ERROR;
    }
    cp_rest_error_destroy(re);
    return roll(d, o, r->from, "rollback", EXIT_ROLLED_BACK);
}

int cmd_watch_model(int argc, char **argv)
{
    wm_opts_t o = {.model_name = "carprice",
                   .timeout_ms = 600000,
                   .margin = 0.2,
                   .window_s = 600,
                   .min_count = 30,
                   .metrics_topic = "carprice.metrics"};
    const char *env = getenv("CARPRICE_KAFKA_BOOTSTRAP");
    o.bootstrap = env && *env ? env : "127.0.0.1:9092";
    o.tracking_uri = getenv("MLFLOW_TRACKING_URI");
    env = getenv("CARPRICE_SUPERVISOR_PORT");
    long v = 8090;
    if (env && *env && parse_long("$CARPRICE_SUPERVISOR_PORT", env, 1, 65535, &v) != 0)
        return EXIT_USAGE;
    o.control_port = (int)v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return EXIT_NOTHING;
        }
        if (!strcmp(a, "--no-rollback")) {
            o.no_rollback = true;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "carprice watch-model: unknown option or missing value '%s'\n", a);
            return EXIT_USAGE;
        }
        const char *val = argv[++i];
        if (!strcmp(a, "--model-name")) {
            o.model_name = val;
        } else if (!strcmp(a, "--metrics-topic")) {
            o.metrics_topic = val;
        } else if (!strcmp(a, "--bootstrap")) {
            o.bootstrap = val;
        } else if (!strcmp(a, "--tracking-uri")) {
            o.tracking_uri = val;
        } else if (!strcmp(a, "--control-port")) {
            if (parse_long(a, val, 1, 65535, &v) != 0)
                return EXIT_USAGE;
            o.control_port = (int)v;
        } else if (!strcmp(a, "--timeout")) {
            if (parse_long(a, val, 1, 86400, &v) != 0)
                return EXIT_USAGE;
            o.timeout_ms = v * 1000;
        } else if (!strcmp(a, "--rollback-window")) {
            if (parse_long(a, val, 1, 7 * 86400, &v) != 0)
                return EXIT_USAGE;
            o.window_s = v;
        } else if (!strcmp(a, "--rollback-min-count")) {
            if (parse_long(a, val, 0, 1000000000, &v) != 0)
                return EXIT_USAGE;
            o.min_count = v;
        } else if (!strcmp(a, "--rollback-margin")) {
            char *end;
            errno = 0;
            double f = strtod(val, &end);
            if (errno || end == val || *end || !(f >= 0 && f <= 100)) {
                fprintf(stderr,
                        "carprice watch-model: --rollback-margin needs a number in 0 .. 100, "
                        "not '%s'\n",
                        val);
                return EXIT_USAGE;
            }
            o.margin = f;
        } else {
            fprintf(stderr, "carprice watch-model: unknown option '%s'\n", a);
            return EXIT_USAGE;
        }
    }

    cp_rest_error_t *re = cp_rest_error_new();
    cp_mlflow_t *m = NULL;
    cp_mlflow_config_t mc = {.tracking_uri = o.tracking_uri};
    cp_mlflow_model_version_t *mv = NULL;
    cp_deployer_t *d = NULL;
    cp_rollout_status_t st = {0};
    char err[1024], spec[256];
    int status = EXIT_ERROR;
    if (cp_mlflow_new(&mc, &m, re) != CP_REST_OK) {
        fprintf(stderr, "carprice watch-model: MLflow: %s\n", cp_rest_error_message(re));
        goto done;
    }
    cp_rest_code_t rc = cp_mlflow_model_alias_get(m, o.model_name, ALIAS, &mv, re);
    if (rc != CP_REST_OK) {
        fprintf(stderr, "carprice watch-model: %s@%s: %s\n", o.model_name, ALIAS,
                rc == CP_REST_ERR_NOT_FOUND ? "no such alias (nothing to serve yet)"
                                            : cp_rest_error_message(re));
        goto done;
    }
    snprintf(spec, sizeof spec, "%s/%s", o.model_name, cp_mlflow_model_version_version(mv));
    if (cp_deployer_local_new(o.control_port, &d, err, sizeof err) != CP_ROLLOUT_OK ||
        cp_deployer_status(d, &st, err, sizeof err) != CP_ROLLOUT_OK) {
        fprintf(stderr, "carprice watch-model: %s\n", err);
        goto done;
    }
    cp_log_info("watch_model.pass", "champion=%s serving=%s rollout_running=%d", spec,
                st.current_version, st.rollout_running);
    if (st.rollout_running) {
        fprintf(stderr, "carprice watch-model: in progress: a rollout to %s is running\n",
                st.last.to);
        status = EXIT_NOT_DONE;
    } else if (strcmp(st.current_version, spec) != 0) {
        status = roll(d, &o, spec, "rollout", EXIT_ROLLED_OUT);
    } else {
        status = rollback_check(d, m, &o, &st, spec);
    }
done:
    cp_rollout_status_free(&st);
    cp_deployer_destroy(d);
    cp_mlflow_model_version_destroy(mv);
    cp_mlflow_destroy(m);
    cp_rest_error_destroy(re);
    return status;
}
