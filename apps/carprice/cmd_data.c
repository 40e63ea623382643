/* `carprice data <action>`: raw-format data. Each action is one entry of the
 * table below; add new ones (e.g. split) there. */
#include "commands.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "carprice/data.h"
#include "carprice/log.h"

typedef struct {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} data_action_t;

static int data_generate(int argc, char **argv);

static const data_action_t actions[] = {
    {"generate", "write synthetic listings in the raw Kaggle CSV layout", data_generate},
    {"split", "split raw CSV into a test part and N train batches (Spark)", cmd_data_split},
};

static void data_usage(FILE *out)
{
    fprintf(out, "usage: carprice data <action> [options]\n\nactions:\n");
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
        fprintf(out, "  %-10s %s\n", actions[i].name, actions[i].summary);
    fprintf(out, "\n`carprice data <action> --help` describes one action.\n");
}

int cmd_data(int argc, char **argv)
{
    if (argc < 2) {
        data_usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        data_usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
        if (!strcmp(argv[1], actions[i].name))
            return actions[i].run(argc - 1, argv + 1);
    fprintf(stderr, "carprice data: unknown action '%s' (see carprice data --help)\n", argv[1]);
    return 2;
}

/* ---- generate ---------------------------------------------------------- */

static void generate_usage(FILE *out)
{
    fprintf(out, "usage: carprice data generate --rows N [--seed S] [--out PATH|-]\n"
                 "                              [--first-row K] [--no-header]\n"
                 "\n"
                 "Writes N synthetic used-car listings as CSV in the exact layout of the Kaggle\n"
                 "\"US used cars\" file (used_cars_data.csv): 66 columns, same header, quoting,\n"
                 "units and missing-value patterns. Prices follow the model in docs/data.md.\n"
                 "\n"
                 "  --rows N       number of rows (k and M suffixes allowed: 50k, 3M)\n"
                 "  --seed S       seed; the same seed gives the same bytes (default 42)\n"
                 "  --out PATH     output file, written to PATH.tmp-<pid> and renamed when\n"
                 "                 complete; '-' is standard output (default -)\n"
                 "  --first-row K  index of the first row (default 0). Rows depend only on\n"
                 "                 (seed, index), so chunks generated separately concatenate\n"
                 "                 into the same file\n"
                 "  --no-header    omit the header line (for appending chunks)\n"
                 "\n"
                 "Reports rows, bytes and rows/s on stderr when done.\n");
}

/* Parses a non-negative integer with an optional k/M/G suffix. */
static int parse_count(const char *s, uint64_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return -1;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -1;
    uint64_t mult = 1;
    if (*end == 'k' || *end == 'K')
        mult = 1000, end++;
    else if (*end == 'm' || *end == 'M')
        mult = 1000000, end++;
    else if (*end == 'g' || *end == 'G')
        mult = 1000000000, end++;
    if (*end != '\0' || (v && mult > UINT64_MAX / v))
        return -1;
    *out = (uint64_t)v * mult;
    return 0;
}

/* Accepts "--name value" and "--name=value". Returns the value, or NULL
 * (after printing why) if it is missing. Advances *i past what it used. */
static const char *flag_value(int argc, char **argv, int *i, const char *name)
{
    const char *arg = argv[*i];
    size_t n = strlen(name);
    if (arg[n] == '=')
        return arg + n + 1;
    if (*i + 1 >= argc) {
        fprintf(stderr, "carprice data generate: %s needs a value\n", name);
        return NULL;
    }
    return argv[++*i];
}

static int flag_is(const char *arg, const char *name)
{
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

static int data_generate(int argc, char **argv)
{
    uint64_t rows = 0, seed = 42, first = 0;
    int have_rows = 0, header = 1;
    const char *out_path = "-";

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            generate_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--no-header")) {
            header = 0;
        } else if (flag_is(a, "--rows")) {
            if (!(v = flag_value(argc, argv, &i, "--rows")))
                return 2;
            if (parse_count(v, &rows) != 0) {
                fprintf(stderr, "carprice data generate: --rows: '%s' is not a row count\n", v);
                return 2;
            }
            have_rows = 1;
        } else if (flag_is(a, "--seed")) {
            if (!(v = flag_value(argc, argv, &i, "--seed")))
                return 2;
            if (parse_count(v, &seed) != 0) {
                fprintf(stderr,
                        "carprice data generate: --seed: '%s' is not a non-negative integer\n", v);
                return 2;
            }
        } else if (flag_is(a, "--first-row")) {
            if (!(v = flag_value(argc, argv, &i, "--first-row")))
                return 2;
            if (parse_count(v, &first) != 0) {
                fprintf(stderr, "carprice data generate: --first-row: '%s' is not a row index\n",
                        v);
                return 2;
            }
        } else if (flag_is(a, "--out")) {
            if (!(v = flag_value(argc, argv, &i, "--out")))
                return 2;
            if (!*v) {
                fprintf(stderr, "carprice data generate: --out: empty path\n");
                return 2;
            }
            out_path = v;
        } else {
            fprintf(stderr,
                    "carprice data generate: unknown argument '%s' (see carprice data generate "
                    "--help)\n",
                    a);
            return 2;
        }
    }
    if (!have_rows) {
        fprintf(stderr, "carprice data generate: --rows is required\n");
        return 2;
    }
    if (first > UINT64_MAX - rows) {
        fprintf(stderr, "carprice data generate: --first-row + --rows overflows\n");
        return 2;
    }

    int to_stdout = strcmp(out_path, "-") == 0;
    char tmp_path[4096];
    FILE *out = stdout;
    if (!to_stdout) {
        struct stat st;
        if (stat(out_path, &st) == 0 && S_ISDIR(st.st_mode)) {
            fprintf(stderr, "carprice data generate: --out: '%s' is a directory\n", out_path);
            return 2;
        }
        int n = snprintf(tmp_path, sizeof tmp_path, "%s.tmp-%ld", out_path, (long)getpid());
        if (n < 0 || (size_t)n >= sizeof tmp_path) {
            fprintf(stderr, "carprice data generate: --out: path too long\n");
            return 2;
        }
        out = fopen(tmp_path, "wb");
        if (!out) {
            fprintf(stderr, "carprice data generate: cannot create '%s': %s\n", tmp_path,
                    strerror(errno));
            return 1;
        }
    }

    char err[8192] = "";
    cp_data_stats_t stats;
    int rc = cp_data_generate(seed, first, rows, header, out, &stats, err, sizeof err);
    if (!to_stdout) {
        if (fclose(out) != 0 && rc == CP_DATA_OK) {
            rc = CP_DATA_ERR_IO;
            snprintf(err, sizeof err, "closing '%s': %s", tmp_path, strerror(errno));
        }
        if (rc == CP_DATA_OK && rename(tmp_path, out_path) != 0) {
            rc = CP_DATA_ERR_IO;
            snprintf(err, sizeof err, "renaming to '%s': %s", out_path, strerror(errno));
        }
        if (rc != CP_DATA_OK)
            unlink(tmp_path);
    }
    if (rc != CP_DATA_OK) {
        fprintf(stderr, "carprice data generate: %s\n", err[0] ? err : cp_data_strerror(rc));
        return 1;
    }
    double secs = stats.seconds > 0 ? stats.seconds : 1e-9;
    cp_log_info("data.generate.done",
                "rows=%" PRIu64 " bytes=%" PRIu64 " seconds=%.3f rows_per_s=%.0f mb_per_s=%.1f "
                "seed=%" PRIu64 " first_row=%" PRIu64 " out=\"%s\"",
                stats.rows, stats.bytes, stats.seconds, (double)stats.rows / secs,
                (double)stats.bytes / secs / 1e6, seed, first, out_path);
    return 0;
}
