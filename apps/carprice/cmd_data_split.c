/* carprice data split: raw CSV -> a test part and N train batches, through
 * Spark Connect, in the raw layout.
 *
 * Spark reads the input with the explicit schema (sql/raw_schema.ddl),
 * sql/split.sql assigns each row to 'test' or 'batch-NNNNN' by a seeded hash
 * of its key, and one partitioned write puts every part under a hidden
 * temporary directory of OUT. The rows of each part are then counted again
 * from the written files and compared with the counts of the input; only
 * when every part matches are the parts renamed into place:
 *   OUT/test/                 part files with a header line
 *   OUT/train/batch-00001/    ...
 *   OUT/train/batch-N/
 * A part that gets no rows has no directory. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "batches.h"
#include "carprice/log.h"
#include "carprice/webhdfs.h"
#include "carprice/util.h"
#include "commands.h"
#include "sparkconnect/dataframe.h"
#include "sparkconnect/session.h"

#ifndef CARPRICE_SQL_DIR
#define CARPRICE_SQL_DIR "sql"
#endif

/* The raw layout, for reading and for writing (docs/batches.md says why each
 * option is there). Reading: RFC 4180 quoting with doubled quotes, records
 * spanning lines, the header checked against the schema's names, any
 * malformed record an error rather than a silently padded row. */
static const char *const read_keys[] = {
    "header",
    "multiLine",
    "quote",
    "escape",
    "mode",
    "enforceSchema",
    "ignoreLeadingWhiteSpace",
    "ignoreTrailingWhiteSpace",
};
static const char *const read_values[] = {
    "true", "true", "\"", "\"", "FAILFAST", "false", "false", "false",
};
/* Writing: the same quoting (only where needed, quotes doubled), values not
 * trimmed (Spark trims by default when writing), and an empty value written
 * as nothing rather than as "" (nulls already are). */
static const char *const write_keys[] = {
    "header",
    "quote",
    "escape",
    "quoteAll",
    "escapeQuotes",
    "emptyValue",
    "nullValue",
    "ignoreLeadingWhiteSpace",
    "ignoreTrailingWhiteSpace",
};
static const char *const write_values[] = {
    "true", "\"", "\"", "false", "true", "", "", "false", "false",
};
#define NREAD  (sizeof read_keys / sizeof read_keys[0])
#define NWRITE (sizeof write_keys / sizeof write_keys[0])

#define PART_COLUMN "split_part"

typedef struct {
    /* options */
    const char *input;
    const char *out;
    unsigned batches;
    double test_fraction;
    int64_t seed;
    const char *remote;
    const char *sql_dir;
    const char *webhdfs;
    const char *user;
    bool overwrite;

    /* output */
    bool out_on_hdfs;
    char *out_path; /* local absolute path or HDFS path */
    char *out_uri;  /* what Spark writes to */
    char *tmp_path; /* OUT/.split-tmp-<pid> */
    char *tmp_uri;
    cp_hdfs_t *h;
    cp_rest_error_t *rerr;

    sc_session_t *s;
    sc_error_t *err;
    char msg[2048];

    /* counts per part: [0] is test, [k] batch k */
    int64_t *expected;
    int64_t *written;
    int64_t input_rows;
} split_t;

static int fail(split_t *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(split_t *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->msg, sizeof x->msg, fmt, ap);
    va_end(ap);
    return -1;
}

/* The Spark error as one line (Spark's messages can run over many). */
static int fail_spark(split_t *x, const char *what)
{
    const char *cls = sc_error_class(x->err);
    fail(x, "%s: %s%s%s%s", what, sc_error_message(x->err), *cls ? " [" : "", cls, *cls ? "]" : "");
    for (char *p = x->msg; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    return -1;
}

static int fail_hdfs(split_t *x, const char *what, const char *path)
{
    return fail(x, "%s %s: %s", what, path, cp_rest_error_message(x->rerr));
}

/* ---- files ---- */

/* Reads dir/name; with ddl, drops "--" comment lines and joins the rest
 * with spaces (a schema string, not SQL). malloc'd, or NULL with x->msg. */
static char *load_sql(split_t *x, const char *name, bool ddl)
{
    char *path = cp_strf("%s/%s", x->sql_dir, name);
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f) {
        fail(x, "cannot read %s: %s (set --sql-dir or CARPRICE_SQL_DIR)", path ? path : name,
             path ? strerror(errno) : "out of memory");
        free(path);
        return NULL;
    }
    cp_buf_t b;
    cp_buf_init(&b, 1 << 20);
    char line[4096];
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        if (ddl) {
            const char *p = line + strspn(line, " \t");
            if (strncmp(p, "--", 2) == 0 || *p == '\n' || *p == '\0')
                continue;
            line[strcspn(line, "\r\n")] = ' ';
        }
        rc = cp_buf_append(&b, line, strlen(line));
    }
    bool bad = ferror(f) || rc != 0;
    fclose(f);
    char *text = bad ? NULL : cp_buf_steal(&b);
    cp_buf_free(&b);
    if (!text)
        fail(x, "cannot read %s", path);
    free(path);
    return text;
}

static int mkdir_p(const char *dir)
{
    char *tmp = strdup(dir);
    if (!tmp)
        return -1;
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
                free(tmp);
                return -1;
            }
            *p = '/';
        }
    }
    int rc = mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
    free(tmp);
    return rc;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* The output side works on a local directory or on HDFS alike. */
static int out_exists(split_t *x, const char *path, bool *exists)
{
    if (x->out_on_hdfs) {
        if (cp_hdfs_exists(x->h, path, exists, x->rerr) != CP_REST_OK)
            return fail_hdfs(x, "checking", path);
        return 0;
    }
    struct stat st;
    *exists = lstat(path, &st) == 0;
    return 0;
}

static int out_remove(split_t *x, const char *path)
{
    if (x->out_on_hdfs) {
        if (cp_hdfs_delete(x->h, path, true, NULL, x->rerr) != CP_REST_OK)
            return fail_hdfs(x, "deleting", path);
        return 0;
    }
    if (nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
        return fail(x, "cannot delete %s: %s", path, strerror(errno));
    return 0;
}

static int out_mkdirs(split_t *x, const char *path)
{
    if (x->out_on_hdfs) {
        if (cp_hdfs_mkdirs(x->h, path, 0, x->rerr) != CP_REST_OK)
            return fail_hdfs(x, "creating", path);
        return 0;
    }
    if (mkdir_p(path) != 0)
        return fail(x, "cannot create %s: %s", path, strerror(errno));
    return 0;
}

static int out_rename(split_t *x, const char *from, const char *to)
{
    if (x->out_on_hdfs) {
        if (cp_hdfs_rename(x->h, from, to, false, x->rerr) != CP_REST_OK)
            return fail_hdfs(x, "renaming", from);
        return 0;
    }
    if (rename(from, to) != 0)
        return fail(x, "cannot rename %s to %s: %s", from, to, strerror(errno));
    return 0;
}

/* Removes OUT/.split-tmp-* left by a split that was killed. */
static int remove_stale_temps(split_t *x)
{
    int rc = 0;
    if (x->out_on_hdfs) {
        cp_hdfs_list_t *l = NULL;
        cp_rest_code_t c = cp_hdfs_list(x->h, x->out_path, &l, x->rerr);
        if (c == CP_REST_ERR_NOT_FOUND)
            return 0;
        if (c != CP_REST_OK)
            return fail_hdfs(x, "listing", x->out_path);
        for (size_t i = 0; rc == 0 && i < cp_hdfs_list_count(l); i++) {
            const char *name = cp_hdfs_list_at(l, i)->name;
            if (strncmp(name, ".split-tmp-", 11) != 0)
                continue;
            char *p = cp_strf("%s/%s", x->out_path, name);
            rc = p ? out_remove(x, p) : fail(x, "out of memory");
            free(p);
        }
        cp_hdfs_list_destroy(l);
        return rc;
    }
    DIR *d = opendir(x->out_path);
    if (!d)
        return 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, ".split-tmp-", 11) != 0)
            continue;
        char *p = cp_strf("%s/%s", x->out_path, e->d_name);
        rc = p ? out_remove(x, p) : fail(x, "out of memory");
        free(p);
    }
    closedir(d);
    return rc;
}

/* ---- Spark ---- */

/* Index of a part name: 0 for test, k for batch-k, -1 otherwise. */
static long part_index(const split_t *x, const char *name, size_t len)
{
    char buf[CP_BATCH_NAME_CAP];
    if (len >= sizeof buf)
        return -1;
    memcpy(buf, name, len);
    buf[len] = '\0';
    if (!strcmp(buf, "test"))
        return 0;
    unsigned b;
    if (cp_batch_parse(buf, &b) && b <= x->batches)
        return (long)b;
    return -1;
}

/* Runs "SELECT split_part, count(*) ... GROUP BY split_part" over view and
 * fills counts[0..batches]. */
static int count_parts(split_t *x, const char *view, int64_t *counts, const char *what)
{
    char *q =
        cp_strf("SELECT %s, count(*) AS n FROM %s GROUP BY %s", PART_COLUMN, view, PART_COLUMN);
    sc_df_t *df = NULL;
    sc_result_t *res = NULL;
    int rc = 0;
    memset(counts, 0, sizeof *counts * (x->batches + 1));
    if (!q)
        return fail(x, "out of memory");
    if (sc_sql(x->s, q, NULL, 0, &df, x->err) != SC_OK || sc_df_collect(df, &res, x->err) != SC_OK)
        rc = fail_spark(x, what);
    for (size_t i = 0; rc == 0 && i < sc_result_num_rows(res); i++) {
        const char *name = "";
        size_t len = 0;
        int64_t n = 0;
        if (sc_result_is_null(res, i, 0)) {
            rc = fail(x, "%s: rows without a part", what);
            break;
        }
        if (sc_result_get_string(res, i, 0, &name, &len, x->err) != SC_OK ||
            sc_result_get_int64(res, i, 1, &n, x->err) != SC_OK) {
            rc = fail_spark(x, what);
            break;
        }
        long k = part_index(x, name, len);
        if (k < 0)
            rc = fail(x, "%s: unexpected part '%.*s'", what, (int)len, name);
        else
            counts[k] = n;
    }
    sc_result_destroy(res);
    sc_df_destroy(df);
    free(q);
    return rc;
}

/* Copies the next column name of a schema string ("`a` STRING, b INT, ...")
 * into name and returns the rest, or NULL at the end. */
static const char *next_column(const char *p, char *name, size_t cap)
{
    p += strspn(p, " ,");
    if (!*p)
        return NULL;
    size_t k = 0;
    if (*p == '`') {
        for (p++; *p && *p != '`'; p++)
            if (k + 1 < cap)
                name[k++] = *p;
    } else {
        for (; *p && *p != ' ' && *p != ','; p++)
            if (k + 1 < cap)
                name[k++] = *p;
    }
    name[k] = '\0';
    /* Skip the type, which may hold commas only inside <> or (). */
    int depth = 0;
    for (; *p && (depth > 0 || *p != ','); p++)
        depth += (*p == '<' || *p == '(') - (*p == '>' || *p == ')');
    return p;
}

/* The input's header must name the schema's columns in order; a file of
 * another layout fails here, clearly, before any data is read. */
static int check_header(split_t *x, const char *ddl)
{
    const char *keys[] = {"header", "multiLine", "quote", "escape"};
    const char *vals[] = {"true", "true", "\"", "\""};
    sc_read_opts_t ro = {
        .format = "csv", .option_keys = keys, .option_values = vals, .noptions = 4};
    sc_df_t *df = NULL;
    char *got = NULL;
    int rc = 0;
    const char *in = x->input;
    if (sc_read(x->s, &ro, &in, 1, &df, x->err) != SC_OK ||
        sc_df_schema(df, &got, x->err) != SC_OK) {
        rc = fail_spark(x, "reading the input's header");
        goto done;
    }
    const char *d = ddl, *g = got;
    for (size_t col = 1;; col++) {
        char dn[256], gn[256];
        d = next_column(d, dn, sizeof dn);
        g = next_column(g, gn, sizeof gn);
        if (!d && !g)
            break;
        if (!d || !g || strcmp(dn, gn) != 0) {
            rc = fail(x,
                      "the input is not in the raw layout: header column %zu is '%s', "
                      "sql/raw_schema.ddl expects '%s'",
                      col, g ? gn : "(none)", d ? dn : "(none)");
            break;
        }
    }
done:
    free(got);
    sc_df_destroy(df);
    return rc;
}

/* After a failed read: Spark's top-level error ("Encountered error while
 * reading file") hides the cause. Reads again, keeping malformed records
 * aside, to name the first one. Leaves x->msg alone when it finds none. */
static void explain_read_failure(split_t *x, const char *ddl)
{
    char *schema = cp_strf("%s, `_corrupt_record` STRING", ddl);
    const char *keys[NREAD + 1];
    const char *vals[NREAD + 1];
    size_t n = 0;
    for (size_t i = 0; i < NREAD; i++) {
        keys[n] = read_keys[i];
        vals[n++] = !strcmp(read_keys[i], "mode") ? "PERMISSIVE" : read_values[i];
    }
    keys[n] = "columnNameOfCorruptRecord";
    vals[n++] = "_corrupt_record";
    sc_read_opts_t ro = {.format = "csv",
                         .schema = schema,
                         .option_keys = keys,
                         .option_values = vals,
                         .noptions = n};
    sc_df_t *df = NULL, *q = NULL;
    sc_result_t *res = NULL;
    sc_error_t *e = sc_error_new();
    const char *in = x->input;
    /* vin is referenced too: Spark refuses queries that read only the
     * corrupt-record column of a raw CSV. */
    if (schema && e && sc_read(x->s, &ro, &in, 1, &df, e) == SC_OK &&
        sc_df_create_view(df, "split_diagnose", true, e) == SC_OK &&
        sc_sql(x->s,
               "SELECT count(*), first(_corrupt_record, true), count(vin) FROM split_diagnose "
               "WHERE _corrupt_record IS NOT NULL",
               NULL, 0, &q, e) == SC_OK &&
        sc_df_collect(q, &res, e) == SC_OK && sc_result_num_rows(res) == 1) {
        int64_t bad = 0;
        const char *rec = "";
        size_t len = 0;
        sc_result_get_int64(res, 0, 0, &bad, e);
        if (!sc_result_is_null(res, 0, 1))
            sc_result_get_string(res, 0, 1, &rec, &len, e);
        if (bad > 0) {
            char shown[160];
            size_t k = 0;
            for (size_t i = 0; i < len && k + 4 < sizeof shown; i++)
                shown[k++] = rec[i] == '\n' || rec[i] == '\r' ? ' ' : rec[i];
            if (len > k)
                memcpy(shown + k, "...", 4);
            else
                shown[k] = '\0';
            fail(x,
                 "the input has %" PRId64 " malformed record(s) (not the fields of the raw "
                 "layout, or broken quoting); the first: %s",
                 bad, shown);
        }
    }
    sc_result_destroy(res);
    sc_df_destroy(q);
    sc_df_destroy(df);
    sc_error_destroy(e);
    free(schema);
}

static int run_spark(split_t *x)
{
    char *ddl = load_sql(x, "raw_schema.ddl", true);
    char *query = ddl ? load_sql(x, "split.sql", false) : NULL;
    char *ddl_parts = ddl ? cp_strf("%s, `%s` STRING", ddl, PART_COLUMN) : NULL;
    sc_df_t *raw = NULL, *parts = NULL, *back = NULL;
    int rc = -1;
    if (!query || !ddl_parts) {
        if (!x->msg[0])
            fail(x, "out of memory");
        goto done;
    }
    double t0 = cp_now_s();
    if (check_header(x, ddl) != 0)
        goto done;
    const char *in = x->input;
    sc_read_opts_t ro = {.format = "csv",
                         .schema = ddl,
                         .option_keys = read_keys,
                         .option_values = read_values,
                         .noptions = NREAD};
    if (sc_read(x->s, &ro, &in, 1, &raw, x->err) != SC_OK ||
        sc_df_create_view(raw, "split_input", true, x->err) != SC_OK) {
        rc = fail_spark(x, "reading the input");
        goto done;
    }
    sc_param_t params[] = {
        {.name = "seed", .kind = SC_PARAM_INT64, .i = x->seed},
        {.name = "test_ppm", .kind = SC_PARAM_INT64, .i = (int64_t)llround(x->test_fraction * 1e6)},
        {.name = "batches", .kind = SC_PARAM_INT64, .i = (int64_t)x->batches},
    };
    if (sc_sql(x->s, query, params, sizeof params / sizeof params[0], &parts, x->err) != SC_OK ||
        sc_df_create_view(parts, "split_rows", true, x->err) != SC_OK) {
        rc = fail_spark(x, "sql/split.sql");
        goto done;
    }

    /* 1: the input, counted per part. */
    if (count_parts(x, "split_rows", x->expected, "counting the input rows") != 0) {
        if (!strncmp(sc_error_class(x->err), "FAILED_READ_FILE", 16))
            explain_read_failure(x, ddl);
        goto done;
    }
    x->input_rows = 0;
    for (unsigned k = 0; k <= x->batches; k++)
        x->input_rows += x->expected[k];
    cp_log_info("data.split.counted", "rows=%" PRId64 " seconds=%.1f", x->input_rows,
                cp_now_s() - t0);

    /* 2: one pass writes every part. */
    double t1 = cp_now_s();
    const char *part_col = PART_COLUMN;
    sc_write_opts_t wo = {.format = "csv",
                          .mode = "error",
                          .option_keys = write_keys,
                          .option_values = write_values,
                          .noptions = NWRITE,
                          .partition_by = &part_col,
                          .npartition_by = 1};
    if (sc_df_write(parts, &wo, x->tmp_uri, x->err) != SC_OK) {
        rc = fail_spark(x, "writing the parts");
        goto done;
    }
    cp_log_info("data.split.written", "tmp=\"%s\" seconds=%.1f", x->tmp_uri, cp_now_s() - t1);

    /* 3: what was written, read back as any reader will, counted again. */
    double t2 = cp_now_s();
    const char *tmp = x->tmp_uri;
    ro.schema = ddl_parts;
    if (sc_read(x->s, &ro, &tmp, 1, &back, x->err) != SC_OK ||
        sc_df_create_view(back, "split_written", true, x->err) != SC_OK) {
        rc = fail_spark(x, "reading the written parts back");
        goto done;
    }
    if (count_parts(x, "split_written", x->written, "counting the written rows") != 0)
        goto done;
    cp_log_info("data.split.verified", "seconds=%.1f", cp_now_s() - t2);
    rc = 0;
done:
    sc_df_destroy(back);
    sc_df_destroy(parts);
    sc_df_destroy(raw);
    free(ddl_parts);
    free(query);
    free(ddl);
    return rc;
}

/* Every part's written count equals its input count, and they add up. */
static int check_counts(split_t *x)
{
    int64_t total = 0;
    for (unsigned k = 0; k <= x->batches; k++) {
        total += x->written[k];
        if (x->written[k] != x->expected[k]) {
            char name[CP_BATCH_NAME_CAP] = "test";
            if (k > 0)
                cp_batch_name(k, name, sizeof name);
            return fail(x,
                        "%s: %" PRId64 " rows written but %" PRId64
                        " assigned from the input; nothing was moved into place",
                        name, x->written[k], x->expected[k]);
        }
    }
    if (total != x->input_rows)
        return fail(x, "%" PRId64 " rows written, %" PRId64 " read", total, x->input_rows);
    return 0;
}

/* Renames TMP/split_part=P to OUT/test or OUT/train/P. */
static int move_parts(split_t *x)
{
    char *test = cp_strf("%s/test", x->out_path);
    char *train = cp_strf("%s/train", x->out_path);
    int rc = test && train ? 0 : fail(x, "out of memory");
    if (rc == 0 && x->overwrite) {
        bool e = false;
        if ((rc = out_exists(x, test, &e)) == 0 && e)
            rc = out_remove(x, test);
        if (rc == 0 && (rc = out_exists(x, train, &e)) == 0 && e)
            rc = out_remove(x, train);
    }
    if (rc == 0)
        rc = out_mkdirs(x, train);
    for (unsigned k = 0; rc == 0 && k <= x->batches; k++) {
        if (x->written[k] == 0)
            continue;
        char name[CP_BATCH_NAME_CAP] = "test";
        if (k > 0)
            cp_batch_name(k, name, sizeof name);
        char *from = cp_strf("%s/%s=%s", x->tmp_path, PART_COLUMN, name);
        char *to = k == 0 ? cp_strf("%s", test) : cp_strf("%s/%s", train, name);
        rc = from && to ? out_rename(x, from, to) : fail(x, "out of memory");
        free(from);
        free(to);
    }
    if (rc == 0)
        rc = out_remove(x, x->tmp_path);
    free(test);
    free(train);
    return rc;
}

/* ---- command line ---- */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: carprice data split --input PATH --out DIR --batches N\n"
            "                           [--test-fraction F] [--seed S] [--overwrite]\n"
            "                           [--remote sc://HOST:PORT] [--sql-dir DIR]\n"
            "                           [--webhdfs URL] [--user NAME]\n"
            "\n"
            "Splits raw CSV listings (the Kaggle layout, or `carprice data generate` output)\n"
            "through Spark Connect into a test part and N train batches, by a seeded hash of\n"
            "listing_id (rows without one: of their whole content). The same seed and input\n"
            "give the same split. Writes, in the raw layout with a header line:\n"
            "  DIR/test/                         test rows (part files)\n"
            "  DIR/train/batch-00001/ ...        train batches, for `carprice source`\n"
            "Counts each part again from the written files and moves nothing into place\n"
            "unless every part matches the input; prints the counts.\n"
            "\n"
            "  --input PATH       raw CSV file or directory: local, file:// or hdfs://\n"
            "  --out DIR          output directory: local, file:// or hdfs://HOST:PORT/PATH\n"
            "  --batches N        number of train batches, 1..%u\n"
            "  --test-fraction F  fraction of rows in the test part, 0 <= F < 1 (default 0.1)\n"
            "  --seed S           seed of the hash (default 42)\n"
            "  --overwrite        replace DIR/test and DIR/train if they exist\n"
            "  --remote URL       Spark Connect server (default $CARPRICE_SPARK_REMOTE, then\n"
            "                     sc://127.0.0.1:15002)\n"
            "  --sql-dir DIR      raw_schema.ddl and split.sql (default $CARPRICE_SQL_DIR,\n"
            "                     then %s)\n"
            "  --webhdfs URL      NameNode HTTP address for hdfs:// output (default\n"
            "                     $CARPRICE_WEBHDFS_URL, then http://127.0.0.1:9870)\n"
            "  --user NAME        HDFS user (default $CARPRICE_HDFS_USER, then the login name)\n",
            CP_BATCH_MAX, CARPRICE_SQL_DIR);
}

static int parse_int(const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr,
                "carprice data split: %s needs an integer in %" PRId64 "..%" PRId64 ", not '%s'\n",
                opt, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* A path Spark can read: URIs pass through, local paths become absolute
 * file:// URIs (the server runs on this host, in another directory). */
static char *input_uri(split_t *x, const char *path)
{
    if (strstr(path, "://"))
        return strdup(path);
    char *abs = realpath(path, NULL);
    if (!abs) {
        fail(x, "input %s: %s", path, strerror(errno));
        return NULL;
    }
    char *uri = cp_strf("file://%s", abs);
    free(abs);
    return uri;
}

/* Works out where the output goes and how it is reached. */
static int resolve_out(split_t *x)
{
    const char *o = x->out;
    if (strncmp(o, "hdfs://", 7) == 0) {
        const char *p = strchr(o + 7, '/');
        if (!p || !p[1])
            return fail(x, "--out %s: hdfs:// needs a directory path", o);
        x->out_on_hdfs = true;
        x->out_path = strdup(p);
        x->out_uri = strdup(o);
        if (!x->out_path || !x->out_uri)
            return fail(x, "out of memory");
        for (size_t n = strlen(x->out_path); n > 1 && x->out_path[n - 1] == '/'; n--)
            x->out_path[n - 1] = '\0';
        for (size_t n = strlen(x->out_uri); n > 8 && x->out_uri[n - 1] == '/'; n--)
            x->out_uri[n - 1] = '\0';
        x->rerr = cp_rest_error_new();
        cp_hdfs_config_t cfg = {.url = x->webhdfs, .user = x->user};
        if (!x->rerr || cp_hdfs_new(&cfg, &x->h, x->rerr) != CP_REST_OK)
            return fail(x, "WebHDFS client: %s",
                        x->rerr ? cp_rest_error_message(x->rerr) : "out of memory");
    } else {
        if (strncmp(o, "file://", 7) == 0)
            o += 7;
        else if (strstr(o, "://"))
            return fail(x, "--out %s: give a local directory, file:// or hdfs://", x->out);
        if (mkdir_p(o) != 0)
            return fail(x, "cannot create %s: %s", o, strerror(errno));
        x->out_path = realpath(o, NULL);
        if (!x->out_path)
            return fail(x, "output %s: %s", o, strerror(errno));
        x->out_uri = cp_strf("file://%s", x->out_path);
        if (!x->out_uri)
            return fail(x, "out of memory");
    }
    x->tmp_path = cp_strf("%s/.split-tmp-%ld", x->out_path, (long)getpid());
    x->tmp_uri = cp_strf("%s/.split-tmp-%ld", x->out_uri, (long)getpid());
    return x->tmp_path && x->tmp_uri ? 0 : fail(x, "out of memory");
}

static void print_counts(const split_t *x, double secs)
{
    int64_t train = x->input_rows - x->written[0];
    double denom = x->input_rows > 0 ? (double)x->input_rows : 1.0;
    printf("input rows    %" PRId64 "\n", x->input_rows);
    printf("test          %" PRId64 " (%.2f%%)\n", x->written[0],
           100.0 * (double)x->written[0] / denom);
    printf("train         %" PRId64 " in %u batches\n", train, x->batches);
    for (unsigned k = 1; k <= x->batches; k++) {
        char name[CP_BATCH_NAME_CAP];
        cp_batch_name(k, name, sizeof name);
        printf("  %s %" PRId64 "%s\n", name, x->written[k],
               x->written[k] == 0 ? " (empty: no directory)" : "");
    }
    printf("output        %s\n", x->out_uri);
    printf("time          %.1fs\n", secs);
}

int cmd_data_split(int argc, char **argv)
{
    split_t x;
    memset(&x, 0, sizeof x);
    x.test_fraction = 0.1;
    x.seed = 42;
    x.remote = getenv("CARPRICE_SPARK_REMOTE");
    x.sql_dir = getenv("CARPRICE_SQL_DIR");
    int64_t v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--overwrite")) {
            x.overwrite = true;
        } else if (!strcmp(a, "--input") && has_value) {
            x.input = argv[++i];
        } else if (!strcmp(a, "--out") && has_value) {
            x.out = argv[++i];
        } else if (!strcmp(a, "--batches") && has_value) {
            if (parse_int(a, argv[++i], 1, CP_BATCH_MAX, &v) != 0)
                return 2;
            x.batches = (unsigned)v;
        } else if (!strcmp(a, "--seed") && has_value) {
            if (parse_int(a, argv[++i], INT64_MIN, INT64_MAX, &x.seed) != 0)
                return 2;
        } else if (!strcmp(a, "--test-fraction") && has_value) {
            char *end;
            errno = 0;
            x.test_fraction = strtod(argv[++i], &end);
            if (errno || end == argv[i] || *end || !(x.test_fraction >= 0) ||
                !(x.test_fraction < 1)) {
                fprintf(stderr,
                        "carprice data split: --test-fraction needs 0 <= F < 1, not "
                        "'%s'\n",
                        argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--remote") && has_value) {
            x.remote = argv[++i];
        } else if (!strcmp(a, "--sql-dir") && has_value) {
            x.sql_dir = argv[++i];
        } else if (!strcmp(a, "--webhdfs") && has_value) {
            x.webhdfs = argv[++i];
        } else if (!strcmp(a, "--user") && has_value) {
            x.user = argv[++i];
        } else {
            fprintf(stderr,
                    "carprice data split: unknown option or missing value '%s' (see carprice "
                    "data split --help)\n",
                    a);
            return 2;
        }
    }
    if (!x.input || !x.out || !x.batches) {
        fprintf(stderr, "carprice data split: --input, --out and --batches are required (see "
                        "carprice data split --help)\n");
        return 2;
    }
    if (!x.remote || !*x.remote)
        x.remote = "sc://127.0.0.1:15002";
    if (!x.sql_dir || !*x.sql_dir)
        x.sql_dir = CARPRICE_SQL_DIR;

    int status = 1;
    bool tmp_written = false;
    double t0 = cp_now_s();
    char *in_uri = NULL;
    x.expected = calloc(x.batches + 1, sizeof *x.expected);
    x.written = calloc(x.batches + 1, sizeof *x.written);
    if (!x.expected || !x.written) {
        fail(&x, "out of memory");
        goto done;
    }
    if (!(in_uri = input_uri(&x, x.input)))
        goto done;
    x.input = in_uri;
    if (resolve_out(&x) != 0)
        goto done;

    /* Refuse early rather than after an hour of Spark work. */
    if (!x.overwrite) {
        const char *subs[] = {"test", "train"};
        for (size_t i = 0; i < 2; i++) {
            char *p = cp_strf("%s/%s", x.out_path, subs[i]);
            bool e = false;
            int rc = p ? out_exists(&x, p, &e) : fail(&x, "out of memory");
            if (rc == 0 && e) {
                fprintf(stderr,
                        "carprice data split: %s already exists; choose another --out or "
                        "pass --overwrite\n",
                        p);
                free(p);
                status = 2;
                goto done;
            }
            free(p);
            if (rc != 0)
                goto done;
        }
    }
    if (remove_stale_temps(&x) != 0)
        goto done;

    x.err = sc_error_new();
    if (!x.err) {
        fail(&x, "out of memory");
        goto done;
    }
    if (sc_session_new(x.remote, NULL, &x.s, x.err) != SC_OK) {
        fail_spark(&x, "Spark Connect session");
        goto done;
    }
    cp_log_info("data.split.start",
                "input=\"%s\" out=\"%s\" batches=%u test_fraction=%g seed=%" PRId64
                " remote=\"%s\"",
                x.input, x.out_uri, x.batches, x.test_fraction, x.seed, x.remote);
    tmp_written = true;
    if (run_spark(&x) != 0 || check_counts(&x) != 0)
        goto done;
    if (move_parts(&x) != 0)
        goto done;
    tmp_written = false;
    status = 0;
    double secs = cp_now_s() - t0;
    print_counts(&x, secs);
    cp_log_info("data.split.done",
                "rows=%" PRId64 " test=%" PRId64 " train=%" PRId64 " batches=%u seconds=%.1f "
                "out=\"%s\"",
                x.input_rows, x.written[0], x.input_rows - x.written[0], x.batches, secs,
                x.out_uri);
done:
    if (status != 0 && x.msg[0]) {
        cp_log_error("data.split.failed", "error=\"%s\"", x.msg);
        fprintf(stderr, "carprice data split: %s\n", x.msg);
    }
    /* A failed split leaves nothing behind but its counts on stderr. */
    if (tmp_written && x.tmp_path) {
        char keep[sizeof x.msg];
        memcpy(keep, x.msg, sizeof keep);
        out_remove(&x, x.tmp_path);
        memcpy(x.msg, keep, sizeof keep);
    }
    sc_session_destroy(x.s);
    sc_error_destroy(x.err);
    cp_hdfs_destroy(x.h);
    cp_rest_error_destroy(x.rerr);
    free(x.out_path);
    free(x.out_uri);
    free(x.tmp_path);
    free(x.tmp_uri);
    free(x.expected);
    free(x.written);
    free(in_uri);
    return status;
}
