/* carprice audit: were all requests answered? (see carprice/audit.h) */
#define _GNU_SOURCE
#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "carprice/audit.h"
#include "commands.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: carprice audit --ids FILE [--predictions-topic T] [--dlq-topic T]\n"
            "                      [--bootstrap HOST:PORT] [--idle-ms MS] [--max-ms MS]\n"
            "                      [--metrics-topic T] [--env-out FILE]\n"
            "\n"
            "Reads the request ids in FILE (one per line, as `carprice requests --ids-out`\n"
            "writes them) and the predictions topic from the beginning, and prints how many\n"
            "were sent, answered, rejected (no prediction but a dead letter: serve found the\n"
            "request invalid), lost (neither) and duplicated (answered more than once, e.g.\n"
            "across a redeploy), and the answers per model version.\n"
            "\n"
            "  --predictions-topic T  default carprice.predictions\n"
            "  --dlq-topic T          default carprice.requests.dlq; '' to ignore dead letters\n"
            "  --bootstrap HOST:PORT  default $CARPRICE_KAFKA_BOOTSTRAP, then 127.0.0.1:9092\n"
            "  --idle-ms MS           stop after MS without new messages at the end (5000)\n"
            "  --max-ms MS            stop after MS in all (120000)\n"
            "  --metrics-topic T      also read serve's live metrics (docs/live-metrics.md)\n"
            "                         and print, per model version, the number of windows\n"
            "                         and the latest one: pairs, MAE, RMSE, MAPE, R^2;\n"
            "                         messages without a version, window or count are\n"
            "                         skipped and counted (metrics_skipped in --env-out)\n"
            "  --env-out FILE         also write the numbers as shell assignments (sent=N\n"
            "                         ... version_<v>_answers=N, metrics_<v>_mae=X, ...; <v>\n"
            "                         with characters other than [A-Za-z0-9_] as '_';\n"
            "                         first/last_request_ms: send times of the answered)\n"
            "\n"
            "Exit status: 0 when no request was lost, 1 when some were (or on error),\n"
            "2 usage.\n");
}

/* A version string as part of a shell variable name. */
static void var_name(const char *v, char *out, size_t outlen)
{
    size_t i = 0;
    for (; v[i] && i + 1 < outlen; i++)
        out[i] = isalnum((unsigned char)v[i]) ? v[i] : '_';
    out[i] = '\0';
}

static const char *utc_time(int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (ms <= 0 || !gmtime_r(&t, &tm) || !strftime(buf, len, "%H:%M:%S", &tm))
        snprintf(buf, len, "?");
    return buf;
}

static void print_metrics(const cp_audit_metrics_t *m, const char *topic)
{
    printf("live metrics       %lld window messages on %s", (long long)m->messages, topic);
    if (m->invalid)
        printf(" (%lld skipped: not a window)", (long long)m->invalid);
    printf("\n");
    for (size_t i = 0; i < m->nversions; i++) {
        const cp_audit_window_t *w = &m->versions[i];
        char a[16], b[16];
        printf("  model version %-8s %lld windows; latest %s-%s UTC: %lld pairs, MAE %.1f, "
               "RMSE %.1f, MAPE %.1f%%, R2 %.3f\n",
               w->version, (long long)w->windows, utc_time(w->window_start_ms, a, sizeof a),
               utc_time(w->window_end_ms, b, sizeof b), (long long)w->count, w->mae, w->rmse,
               w->mape * 100.0, w->r2);
    }
}

/* Shell assignments; NaN (a null metric) is written as an empty value. */
static int write_env(const char *path, const cp_audit_t *r, const cp_audit_metrics_t *m)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "carprice audit: cannot write %s: %m\n", path);
        return -1;
    }
    fprintf(f, "sent=%lld\nanswered=%lld\nrejected=%lld\nlost=%lld\nduplicated=%lld\n",
            (long long)r->sent, (long long)r->answered, (long long)r->rejected, (long long)r->lost,
            (long long)r->duplicated);
    fprintf(f, "prediction_messages=%lld\nforeign_messages=%lld\ndead_letter_messages=%lld\n",
            (long long)r->messages, (long long)r->foreign, (long long)r->dead_letters);
    int64_t first = 0, last = 0;
    for (size_t i = 0; i < r->nversions; i++) {
        int64_t a = r->version_first_request_ms[i], b = r->version_last_request_ms[i];
        if (a > 0 && (first == 0 || a < first))
            first = a;
        if (b > last)
            last = b;
    }
    fprintf(f, "first_request_ms=%lld\nlast_request_ms=%lld\n", (long long)first, (long long)last);
    char name[64];
    fprintf(f, "answer_versions=\"");
    for (size_t i = 0; i < r->nversions; i++) {
        var_name(r->versions[i], name, sizeof name);
        fprintf(f, "%s%s", i ? " " : "", name);
    }
    fprintf(f, "\"\n");
    for (size_t i = 0; i < r->nversions; i++) {
        var_name(r->versions[i], name, sizeof name);
        fprintf(f, "version_%s_answers=%lld\n", name, (long long)r->version_answers[i]);
        fprintf(f, "version_%s_first_request_ms=%lld\n", name,
                (long long)r->version_first_request_ms[i]);
        fprintf(f, "version_%s_last_request_ms=%lld\n", name,
                (long long)r->version_last_request_ms[i]);
    }
    if (m) {
        fprintf(f, "metrics_messages=%lld\nmetrics_skipped=%lld\nmetrics_versions=\"",
                (long long)m->messages, (long long)m->invalid);
        for (size_t i = 0; i < m->nversions; i++) {
            var_name(m->versions[i].version, name, sizeof name);
            fprintf(f, "%s%s", i ? " " : "", name);
        }
        fprintf(f, "\"\n");
        for (size_t i = 0; i < m->nversions; i++) {
            const cp_audit_window_t *w = &m->versions[i];
            var_name(w->version, name, sizeof name);
            fprintf(f, "metrics_%s_windows=%lld\nmetrics_%s_window_start_ms=%lld\n", name,
                    (long long)w->windows, name, (long long)w->window_start_ms);
            fprintf(f, "metrics_%s_window_end_ms=%lld\nmetrics_%s_count=%lld\n", name,
                    (long long)w->window_end_ms, name, (long long)w->count);
            const char *keys[] = {"mae", "rmse", "mape", "r2"};
            const double vals[] = {w->mae, w->rmse, w->mape, w->r2};
            for (size_t k = 0; k < 4; k++) {
                if (isnan(vals[k]))
                    fprintf(f, "metrics_%s_%s=\n", name, keys[k]);
                else
                    fprintf(f, "metrics_%s_%s=%.15g\n", name, keys[k], vals[k]);
            }
        }
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "carprice audit: cannot write %s: %m\n", path);
        return -1;
    }
    return 0;
}

int cmd_audit(int argc, char **argv)
{
    const char *ids = NULL, *topic = "carprice.predictions", *dlq = "carprice.requests.dlq";
    const char *metrics_topic = NULL, *env_out = NULL;
    const char *bootstrap = getenv("CARPRICE_KAFKA_BOOTSTRAP");
    long idle = 5000, max = 120000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool v = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--ids") && v) {
            ids = argv[++i];
        } else if (!strcmp(a, "--predictions-topic") && v) {
            topic = argv[++i];
        } else if (!strcmp(a, "--dlq-topic") && v) {
            dlq = argv[++i];
        } else if (!strcmp(a, "--metrics-topic") && v) {
            metrics_topic = argv[++i];
        } else if (!strcmp(a, "--env-out") && v) {
            env_out = argv[++i];
        } else if (!strcmp(a, "--bootstrap") && v) {
            bootstrap = argv[++i];
        } else if ((!strcmp(a, "--idle-ms") || !strcmp(a, "--max-ms")) && v) {
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end || n <= 0) {
                fprintf(stderr, "carprice audit: %s needs a positive number\n", a);
                return 2;
            }
            *(a[2] == 'i' ? &idle : &max) = n;
        } else {
            fprintf(stderr, "carprice audit: unknown option or missing value '%s'\n", a);
            return 2;
        }
    }
    if (!ids) {
        usage(stderr);
        return 2;
    }
    cp_audit_t r;
    char err[512];
    const char *bs = bootstrap && *bootstrap ? bootstrap : "127.0.0.1:9092";
    if (cp_audit_predictions(bs, topic, *dlq ? dlq : NULL, ids, idle, max, &r, err, sizeof err) !=
        0) {
        fprintf(stderr, "carprice audit: %s\n", err);
        return 1;
    }
    cp_audit_metrics_t *m = NULL;
    if (metrics_topic && *metrics_topic) {
        if (!(m = malloc(sizeof *m))) {
            fprintf(stderr, "carprice audit: out of memory\n");
            return 1;
        }
        if (cp_audit_metrics(bs, metrics_topic, max, m, err, sizeof err) != 0) {
            fprintf(stderr, "carprice audit: %s\n", err);
            free(m);
            return 1;
        }
    }
    printf("requests sent      %lld\n", (long long)r.sent);
    printf("answered           %lld\n", (long long)r.answered);
    printf("rejected           %lld (dead letters: %lld)\n", (long long)r.rejected,
           (long long)r.dead_letters);
    printf("lost               %lld\n", (long long)r.lost);
    printf("duplicated         %lld\n", (long long)r.duplicated);
    printf("prediction msgs    %lld (%lld for other requests)\n", (long long)r.messages,
           (long long)r.foreign);
    for (size_t i = 0; i < r.nversions; i++) {
        char a[16], b[16];
        printf("  model version %-8s %lld answers (to requests sent %s-%s UTC)\n", r.versions[i],
               (long long)r.version_answers[i],
               utc_time(r.version_first_request_ms[i], a, sizeof a),
               utc_time(r.version_last_request_ms[i], b, sizeof b));
    }
    if (m)
        print_metrics(m, metrics_topic);
    int bad = env_out && write_env(env_out, &r, m) != 0;
    free(m);
    return r.lost == 0 && !bad ? 0 : 1;
}
