/* `carprice requests`: sends test rows to Kafka as prediction requests and,
 * later, the managers' prices for some of them (carprice_kafka does the work;
 * this file turns flags into its configuration and prints the summary). */
#include "commands.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "carprice/requests.h"

#define PROG                 "carprice requests"
#define MAX_PRODUCER_OPTIONS 64

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    if (stop_requested < 2)
        stop_requested = stop_requested + 1;
}

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: " PROG " --input PATH [options]\n"
        "\n"
        "Sends raw CSV rows (the test part of the data) to Kafka as prediction requests and,\n"
        "some time later, the price a manager set for a fraction of them. Message formats:\n"
        "docs/messages.md.\n"
        "\n"
        "  --input PATH            a raw CSV file (header + the 66 raw columns), a directory\n"
        "                          of Spark part-*.csv files (each with a header), or '-'\n"
        "  --bootstrap HOST:PORT   Kafka (default $CARPRICE_KAFKA_BOOTSTRAP or 127.0.0.1:9092)\n"
        "  --requests-topic NAME   default carprice.requests\n"
        "  --prices-topic NAME     default carprice.prices\n"
        "  --rate N                requests per second; 0 = as fast as possible (default 0)\n"
        "  --limit N               send at most N rows (k/M suffixes allowed; default all)\n"
        "  --price-fraction F      0..1 of valid requests later followed by the row's price\n"
        "                          (default 0.5)\n"
        "  --price-delay-ms D      a price is sent D ms after its request, never earlier, and\n"
        "                          only once its request is acknowledged (default 5000)\n"
        "  --malformed-ratio R     0..1 of rows sent as malformed messages instead, cycling\n"
        "                          through: not JSON, truncated JSON, missing field, wrong\n"
        "                          type, absurd value, oversized (> 1 MiB) (default 0)\n"
        "  --seed S                shifts which rows get prices / turn malformed (default 0)\n"
        "  --run-id ID             request ids are ID-<row number> (default r<time>-<pid>)\n"
        "  --ids-out FILE          write each acknowledged valid request id, one per line\n"
        "  --prices-out FILE       write request_id,price of each acknowledged price\n"
        "  --max-record-bytes N    longest CSV record accepted (default 4M)\n"
        "  --producer-option K=V   extra librdkafka producer setting (repeatable)\n"
        "\n"
        "On SIGINT/SIGTERM: stops reading, delivers what was produced and the prices already\n"
        "due, prints the summary (a second signal stops waiting for deliveries).\n"
        "Prints one summary line on stdout:\n"
        "  requests_sent=N malformed_sent=N prices_sent=N delivery_failures=N elapsed_s=X\n"
        "  rate=R rows_skipped=N prices_dropped=N interrupted=0|1\n"
        "where rate is requests-topic messages per second until the last was acknowledged.\n"
        "Exit status: 0 if every message was delivered, 1 otherwise or on errors, 2 on bad\n"
        "arguments.\n");
}

static int flag_is(const char *arg, const char *name)
{
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

/* The value of "--name value" or "--name=value"; NULL (after saying why) if
 * it is missing. Advances *i past what it used. */
static const char *flag_value(int argc, char **argv, int *i, const char *name)
{
    const char *arg = argv[*i];
    size_t n = strlen(name);
    if (arg[n] == '=')
        return arg + n + 1;
    if (*i + 1 >= argc) {
        fprintf(stderr, PROG ": %s needs a value\n", name);
        return NULL;
    }
    return argv[++*i];
}

static int parse_u64(const char *s, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -1;
    uint64_t mult = 1;
    if (*end == 'k' || *end == 'K')
        mult = 1000, end++;
    else if (*end == 'M')
        mult = 1000000, end++;
    if (*end || (v && mult > UINT64_MAX / v))
        return -1;
    *out = (uint64_t)v * mult;
    return 0;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
    if (!s || !*s)
        return -1;
    errno = 0;
    char *end = NULL;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int valid_id_part(const char *s)
{
    if (!*s || strlen(s) > 100)
        return 0;
    for (; *s; s++)
        if (*s <= ' ' || *s > '~' || *s == '"' || *s == '\\' || *s == ',')
            return 0;
    return 1;
}

int cmd_requests(int argc, char **argv)
{
    cp_req_sim_config_t cfg;
    cp_req_sim_config_init(&cfg);
    const char *env = getenv("CARPRICE_KAFKA_BOOTSTRAP");
    if (env && *env)
        cfg.bootstrap = env;
    const char *producer_options[MAX_PRODUCER_OPTIONS];
    size_t nopts = 0;
    uint64_t max_record = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
#define STRING_FLAG(name, field)                                                                   \
    if (flag_is(a, name)) {                                                                        \
        if (!(v = flag_value(argc, argv, &i, name)))                                               \
            return 2;                                                                              \
        if (!*v) {                                                                                 \
            fprintf(stderr, PROG ": %s: empty value\n", name);                                     \
            return 2;                                                                              \
        }                                                                                          \
        field = v;                                                                                 \
        continue;                                                                                  \
    }
        STRING_FLAG("--input", cfg.input)
        STRING_FLAG("--bootstrap", cfg.bootstrap)
        STRING_FLAG("--requests-topic", cfg.requests_topic)
        STRING_FLAG("--prices-topic", cfg.prices_topic)
        STRING_FLAG("--run-id", cfg.run_id)
        STRING_FLAG("--ids-out", cfg.ids_out)
        STRING_FLAG("--prices-out", cfg.prices_out)
#undef STRING_FLAG
        if (flag_is(a, "--rate")) {
            if (!(v = flag_value(argc, argv, &i, "--rate")))
                return 2;
            if (parse_double(v, 0, 1e9, &cfg.rate) != 0) {
                fprintf(stderr, PROG ": --rate: '%s' is not a rate >= 0\n", v);
                return 2;
            }
        } else if (flag_is(a, "--limit")) {
            if (!(v = flag_value(argc, argv, &i, "--limit")))
                return 2;
            if (parse_u64(v, &cfg.limit) != 0) {
                fprintf(stderr, PROG ": --limit: '%s' is not a row count\n", v);
                return 2;
            }
        } else if (flag_is(a, "--price-fraction")) {
            if (!(v = flag_value(argc, argv, &i, "--price-fraction")))
                return 2;
            if (parse_double(v, 0, 1, &cfg.price_fraction) != 0) {
                fprintf(stderr, PROG ": --price-fraction: '%s' is not a number in 0..1\n", v);
                return 2;
            }
        } else if (flag_is(a, "--malformed-ratio")) {
            if (!(v = flag_value(argc, argv, &i, "--malformed-ratio")))
                return 2;
            if (parse_double(v, 0, 1, &cfg.malformed_ratio) != 0) {
                fprintf(stderr, PROG ": --malformed-ratio: '%s' is not a number in 0..1\n", v);
                return 2;
            }
        } else if (flag_is(a, "--price-delay-ms")) {
            uint64_t d;
            if (!(v = flag_value(argc, argv, &i, "--price-delay-ms")))
                return 2;
            if (parse_u64(v, &d) != 0 || d > (uint64_t)INT32_MAX * 1000) {
                fprintf(stderr, PROG ": --price-delay-ms: '%s' is not a delay in ms\n", v);
                return 2;
            }
            cfg.price_delay_ms = (int64_t)d;
        } else if (flag_is(a, "--seed")) {
            if (!(v = flag_value(argc, argv, &i, "--seed")))
                return 2;
            if (parse_u64(v, &cfg.seed) != 0) {
                fprintf(stderr, PROG ": --seed: '%s' is not a non-negative integer\n", v);
                return 2;
            }
        } else if (flag_is(a, "--max-record-bytes")) {
            if (!(v = flag_value(argc, argv, &i, "--max-record-bytes")))
                return 2;
            if (parse_u64(v, &max_record) != 0 || max_record < 1024 ||
                max_record > ((uint64_t)1 << 30)) {
                fprintf(stderr, PROG ": --max-record-bytes: '%s' is not a size in 1k..1G\n", v);
                return 2;
            }
            cfg.max_record = (size_t)max_record;
        } else if (flag_is(a, "--producer-option")) {
            if (!(v = flag_value(argc, argv, &i, "--producer-option")))
                return 2;
            const char *eq = strchr(v, '=');
            if (!eq || eq == v) {
                fprintf(stderr, PROG ": --producer-option: '%s' is not KEY=VALUE\n", v);
                return 2;
            }
            if (nopts == MAX_PRODUCER_OPTIONS) {
                fprintf(stderr, PROG ": more than %d --producer-option flags\n",
                        MAX_PRODUCER_OPTIONS);
                return 2;
            }
            producer_options[nopts++] = v;
        } else {
            fprintf(stderr, PROG ": unknown argument '%s' (see " PROG " --help)\n", a);
            return 2;
        }
    }
    if (!cfg.input) {
        fprintf(stderr, PROG ": --input is required (see " PROG " --help)\n");
        return 2;
    }
    char run_id[64];
    if (!cfg.run_id) {
        snprintf(run_id, sizeof run_id, "r%lld-%ld", (long long)time(NULL), (long)getpid());
        cfg.run_id = run_id;
    } else if (!valid_id_part(cfg.run_id)) {
        fprintf(stderr,
                PROG ": --run-id: '%s' must be 1..100 printable characters without spaces, "
                     "quotes, backslashes or commas\n",
                cfg.run_id);
        return 2;
    }
    cfg.producer_options = producer_options;
    cfg.n_producer_options = nopts;
    cfg.stop = &stop_requested;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    char err[1024] = "";
    cp_req_sim_stats_t st;
    int rc = cp_req_sim_run(&cfg, &st, err, sizeof err);

    /* Nothing ran if the setup failed: say why without a summary of zeros. */
    if (rc == CP_REQ_ERR_ARG) {
        fprintf(stderr, PROG ": %s\n", err[0] ? err : cp_req_strerror(rc));
        return 2;
    }
    if (rc != CP_REQ_OK && st.rows_read == 0 && st.delivery_failures == 0) {
        fprintf(stderr, PROG ": %s\n", err[0] ? err : cp_req_strerror(rc));
        return 1;
    }
    uint64_t sent = st.requests_sent + st.malformed_sent;
    printf("requests_sent=%" PRIu64 " malformed_sent=%" PRIu64 " prices_sent=%" PRIu64
           " delivery_failures=%" PRIu64 " elapsed_s=%.3f rate=%.0f rows_skipped=%" PRIu64
           " prices_dropped=%" PRIu64 " interrupted=%d\n",
           st.requests_sent, st.malformed_sent, st.prices_sent, st.delivery_failures, st.elapsed_s,
           st.send_s > 0 ? (double)sent / st.send_s : 0.0, st.rows_skipped, st.prices_dropped,
           st.interrupted);
    fflush(stdout);
    if (rc != CP_REQ_OK) {
        fprintf(stderr, PROG ": %s\n", err[0] ? err : cp_req_strerror(rc));
        return 1;
    }
    return 0;
}
