/* carprice audit: were all requests answered? (see carprice/audit.h) */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carprice/audit.h"
#include "commands.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: carprice audit --ids FILE [--predictions-topic T] [--dlq-topic T]\n"
            "                      [--bootstrap HOST:PORT] [--idle-ms MS] [--max-ms MS]\n"
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
            "\n"
            "Exit status: 0 when no request was lost, 1 when some were (or on error),\n"
            "2 usage.\n");
}

int cmd_audit(int argc, char **argv)
{
    const char *ids = NULL, *topic = "carprice.predictions", *dlq = "carprice.requests.dlq";
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
    if (cp_audit_predictions(bootstrap && *bootstrap ? bootstrap : "127.0.0.1:9092", topic,
                             *dlq ? dlq : NULL, ids, idle, max, &r, err, sizeof err) != 0) {
        fprintf(stderr, "carprice audit: %s\n", err);
        return 1;
    }
    printf("requests sent      %lld\n", (long long)r.sent);
    printf("answered           %lld\n", (long long)r.answered);
    printf("rejected           %lld (dead letters: %lld)\n", (long long)r.rejected,
           (long long)r.dead_letters);
    printf("lost               %lld\n", (long long)r.lost);
    printf("duplicated         %lld\n", (long long)r.duplicated);
    printf("prediction msgs    %lld (%lld for other requests)\n", (long long)r.messages,
           (long long)r.foreign);
    for (size_t i = 0; i < r.nversions; i++)
        printf("  model version %-8s %lld answers\n", r.versions[i],
               (long long)r.version_answers[i]);
    return r.lost == 0 ? 0 : 1;
}
