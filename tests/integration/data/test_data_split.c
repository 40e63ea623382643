/* `carprice data split` against the real Spark Connect server
 * ($CARPRICE_SPARK_REMOTE, default sc://127.0.0.1:15002) and HDFS
 * ($CARPRICE_HDFS_URI, default hdfs://127.0.0.1:9000; WebHDFS for cleanup).
 *
 * The input is `carprice data generate --rows 2000` plus hand-written rows
 * that carry the hard cases of the raw layout: line breaks (\n, \r\n, a lone
 * \r) and doubled quotes inside quoted fields, commas, leading and trailing
 * spaces, a field that is a single quote character, UTF-8, a 50k-character
 * description, rows without listing_id (keyed by content), two rows sharing a
 * listing_id, an empty first column, a row of empty fields.
 *
 * argv[1] is the carprice program, argv[2] the sql/ directory. Local files go
 * under /tmp/test-split-XXXXXX, HDFS files under /tmp/test-split-<pid>-<time>;
 * both are removed at the end (CARPRICE_KEEP_TEST_FILES keeps them). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "carprice/webhdfs.h"
#include "sparkconnect/dataframe.h"
#include "sparkconnect/session.h"

#define NCOLS    66
#define GEN_ROWS 2000
#define BATCHES  4

static const char *carprice, *sql_dir;
static char local_root[256], hdfs_root[256], hdfs_uri[256];
static char *columns[NCOLS];
static char *ddl; /* the schema string */
static sc_session_t *g_s;
static sc_error_t *g_err;
static cp_hdfs_t *g_h;
static cp_rest_error_t *g_rerr;
static bool split_a_done;

/* ---- the hand-written rows ---- */

#define NHAND 15
static char *hand[NHAND][NCOLS]; /* NULL = empty field */
static char long_description[50001];

static int col_index(const char *name)
{
    for (int i = 0; i < NCOLS; i++)
        if (columns[i] && !strcmp(columns[i], name))
            return i;
    fprintf(stderr, "no column %s in raw_schema.ddl\n", name);
    abort();
}

static void set(int row, const char *col, const char *value)
{
    char **cell = &hand[row][col_index(col)];
    free(*cell);
    *cell = value ? strdup(value) : NULL;
}

/* A plausible listing, then one hard case per row. trimId tags each row
 * ("tTEST01".."tTEST15") so the tests can find them again. */
static void build_hand_rows(void)
{
    for (size_t i = 0; i < sizeof long_description - 1; i++)
        long_description[i] = i % 97 == 96 ? '\n' : (char)('a' + i % 26);
    long_description[sizeof long_description - 1] = '\0';
    for (int r = 0; r < NHAND; r++) {
        char vin[32], id[32], tag[32];
        snprintf(vin, sizeof vin, "TESTVIN00000000%02d", r + 1);
        snprintf(id, sizeof id, "9900000%02d", r + 1);
        snprintf(tag, sizeof tag, "tTEST%02d", r + 1);
        set(r, "vin", vin);
        set(r, "listing_id", id);
        set(r, "trimId", tag);
        set(r, "make_name", "Honda");
        set(r, "model_name", "Civic");
        set(r, "year", "2018");
        set(r, "price", "17995.0");
        set(r, "mileage", "35120.0");
        set(r, "body_type", "Sedan");
        set(r, "city", "Columbus");
        set(r, "dealer_zip", "04101");
        set(r, "is_new", "False");
        set(r, "fuel_tank_volume", "12.4 gal");
        set(r, "power", "158 hp @ 6,500 RPM");
        set(r, "description", "Clean title, one owner.");
    }
    set(0, "description", "Line one\nLine two, with a comma\nHe said \"hi\"\n\nafter a blank");
    set(1, "description", "Windows line\r\nbreaks\r\ninside\r\n");
    set(2, "description", "a lone\rcarriage return");
    set(2, "trim_name", "CR only\rhere");
    set(3, "city", "  Spaced City  ");
    set(3, "exterior_color", " leading");
    set(4, "trim_name", "\"");
    set(4, "major_options", "['Leather Seats', \"Driver's \"\"Pkg\"\"\", 'A, B']");
    set(5, "model_name", "\xc5\xa0koda \xe2\x80\x93 5 \xe2\x82\xac"); /* Škoda – 5 € */
    set(6, "listing_id", NULL);                                       /* keyed by content */
    for (int c = 0; c < NCOLS; c++)                                   /* only vin, tag, text */
        if (strcmp(columns[c], "vin") && strcmp(columns[c], "trimId"))
            set(7, columns[c], NULL);
    set(7, "description", "only\nvin");
    set(8, "listing_id", "990000099"); /* rows 9 and 10 share a listing */
    set(9, "listing_id", "990000099");
    set(9, "price", "18995.0");
    set(10, "listing_id", "   "); /* blank: keyed by content */
    set(11, "description", long_description);
    set(12, "description", "C:\\path\\\"quoted\\\" \\ end\\");
    set(13, "vin", NULL); /* the line starts with a comma */
    set(14, "description", "ends with a line break\n");
}

/* Writes one field: quoted (quotes doubled) when it holds a comma, a quote
 * or a line break, as the raw file and Spark's writer do. */
static void put_field(FILE *f, const char *v)
{
    if (!v)
        return;
    if (!strpbrk(v, ",\"\r\n")) {
        fputs(v, f);
        return;
    }
    fputc('"', f);
    for (const char *p = v; *p; p++) {
        if (*p == '"')
            fputc('"', f);
        fputc(*p, f);
    }
    fputc('"', f);
}

static void put_hand_rows(FILE *f)
{
    for (int r = 0; r < NHAND; r++) {
        for (int c = 0; c < NCOLS; c++) {
            if (c)
                fputc(',', f);
            put_field(f, hand[r][c]);
        }
        fputc('\n', f);
    }
}

static void put_header(FILE *f)
{
    for (int c = 0; c < NCOLS; c++)
        fprintf(f, "%s%s", c ? "," : "", columns[c]);
    fputc('\n', f);
}

/* ---- helpers ---- */

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

/* The whole of a file (malloc'd, NUL-terminated; *len may be NULL). */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (len)
            *len = 0;
        return strdup("");
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    buf[got] = '\0';
    if (len)
        *len = got;
    return buf;
}

static void spark_ok(sc_code_t rc, const char *what)
{
    if (rc != SC_OK)
        fail_msg("%s: %s %s", what, sc_code_name(rc), sc_error_message(g_err));
}

static void sql_exec(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sql_exec(const char *fmt, ...)
{
    char q[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q, sizeof q, fmt, ap);
    va_end(ap);
    sc_df_t *df = NULL;
    spark_ok(sc_sql(g_s, q, NULL, 0, &df, g_err), q);
    sc_df_destroy(df);
}

/* The first cell of a one-row integer query. */
static int64_t sql_int(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int64_t sql_int(const char *fmt, ...)
{
    char q[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q, sizeof q, fmt, ap);
    va_end(ap);
    sc_df_t *df = NULL;
    sc_result_t *res = NULL;
    spark_ok(sc_sql(g_s, q, NULL, 0, &df, g_err), q);
    spark_ok(sc_df_collect(df, &res, g_err), q);
    int64_t v = -1;
    assert_int_equal(sc_result_num_rows(res), 1);
    spark_ok(sc_result_get_int64(res, 0, 0, &v, g_err), q);
    sc_result_destroy(res);
    sc_df_destroy(df);
    return v;
}

/* Registers a raw-layout CSV read of path as a view, with the options the
 * raw layout needs (stated here independently of the program's). */
static void read_view(const char *view, const char *path)
{
    const char *keys[] = {"header", "multiLine", "quote", "escape", "mode"};
    const char *vals[] = {"true", "true", "\"", "\"", "FAILFAST"};
    sc_read_opts_t ro = {
        .format = "csv", .schema = ddl, .option_keys = keys, .option_values = vals, .noptions = 5};
    sc_df_t *df = NULL;
    spark_ok(sc_read(g_s, &ro, &path, 1, &df, g_err), path);
    spark_ok(sc_df_create_view(df, view, true, g_err), view);
    sc_df_destroy(df);
}

/* Views <prefix>_test, <prefix>_b1.. and <prefix>_parts (part, columns...)
 * over a split's output directory (a URI). */
static void parts_view(const char *prefix, const char *out_uri)
{
    char view[64], path[512], q[4096];
    snprintf(view, sizeof view, "%s_test", prefix);
    snprintf(path, sizeof path, "%s/test", out_uri);
    read_view(view, path);
    int len = snprintf(q, sizeof q,
                       "CREATE OR REPLACE TEMP VIEW %s_parts AS SELECT 'test' AS part, * FROM "
                       "%s_test",
                       prefix, prefix);
    for (int b = 1; b <= BATCHES; b++) {
        snprintf(view, sizeof view, "%s_b%d", prefix, b);
        snprintf(path, sizeof path, "%s/train/batch-%05d", out_uri, b);
        read_view(view, path);
        len += snprintf(q + len, sizeof q - (size_t)len,
                        " UNION ALL SELECT 'batch-%05d' AS part, * FROM %s", b, view);
    }
    sql_exec("%s", q);
}

/* Compares the collected rows tagged tTEST.. with the hand-written ones,
 * field by field. Columns of res are (optionally a leading part, then) the
 * 66 raw columns. */
static void assert_hand_rows(sc_result_t *res, size_t first_col)
{
    assert_int_equal(sc_result_num_rows(res), NHAND);
    int tag_col = col_index("trimId");
    bool seen[NHAND] = {false};
    for (size_t r = 0; r < sc_result_num_rows(res); r++) {
        const char *tag;
        size_t len;
        spark_ok(sc_result_get_string(res, r, first_col + (size_t)tag_col, &tag, &len, g_err),
                 "tag");
        /* "tTEST07" -> 6; Spark's strings are not NUL-terminated. */
        assert_int_equal(len, 7);
        int h = (tag[5] - '0') * 10 + (tag[6] - '0') - 1;
        assert_true(h >= 0 && h < NHAND);
        assert_false(seen[h]);
        seen[h] = true;
        for (int c = 0; c < NCOLS; c++) {
            size_t col = first_col + (size_t)c;
            const char *want = hand[h][c];
            if (!want) {
                if (!sc_result_is_null(res, r, col))
                    fail_msg("row %s column %s: expected empty (NULL), got a value", tag,
                             columns[c]);
                continue;
            }
            if (sc_result_is_null(res, r, col))
                fail_msg("row %.*s column %s: expected '%.40s', got NULL", 7, tag, columns[c],
                         want);
            const char *got;
            size_t glen;
            spark_ok(sc_result_get_string(res, r, col, &got, &glen, g_err), columns[c]);
            if (glen != strlen(want) || memcmp(got, want, glen) != 0)
                fail_msg("row %.*s column %s: expected '%.60s' (%zu bytes), got '%.*s' (%zu)", 7,
                         tag, columns[c], want, strlen(want), (int)(glen > 60 ? 60 : glen), got,
                         glen);
        }
    }
}

/* Counts the split printed on stdout: [0] test, [k] batch k, and the input. */
static void parse_counts(const char *text, int64_t *counts, int64_t *input)
{
    const char *p = strstr(text, "input rows");
    assert_non_null(p);
    *input = strtoll(p + 10, NULL, 10);
    p = strstr(text, "\ntest ");
    assert_non_null(p);
    counts[0] = strtoll(p + 6, NULL, 10);
    for (int b = 1; b <= BATCHES; b++) {
        char key[32];
        snprintf(key, sizeof key, "batch-%05d ", b);
        p = strstr(text, key);
        assert_non_null(p);
        counts[b] = strtoll(p + strlen(key), NULL, 10);
    }
}

/* ---- tests ---- */

/* Spark reads back exactly the rows written, every field in place, although
 * the file has far more lines than rows. */
static void spark_reads_exactly_the_written_rows(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "file://%s/small.csv", local_root);
    size_t len = 0;
    char *text = slurp(path + 7, &len);
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    free(text);
    read_view("small", path);
    int64_t rows = sql_int("SELECT count(*) FROM small");
    printf("  %d rows written on %zu lines; Spark reads %" PRId64 "\n", NHAND, lines - 1, rows);
    assert_true(lines - 1 > NHAND + 100);
    assert_int_equal(rows, NHAND);

    sc_df_t *df = NULL;
    sc_result_t *res = NULL;
    spark_ok(sc_sql(g_s, "SELECT * FROM small", NULL, 0, &df, g_err), "select");
    spark_ok(sc_df_collect(df, &res, g_err), "collect");
    assert_int_equal(sc_result_num_cols(res), NCOLS);
    assert_hand_rows(res, 0);
    sc_result_destroy(res);
    sc_df_destroy(df);
}

static void split_to_hdfs_keeps_every_row_once(void **state)
{
    (void)state;
    char out[600], log[512], errlog[512];
    snprintf(out, sizeof out, "%s%s/a", hdfs_uri, hdfs_root);
    snprintf(log, sizeof log, "%s/split-a.out", local_root);
    snprintf(errlog, sizeof errlog, "%s/split-a.err", local_root);
    int status = run("'%s' data split --input '%s/input.csv' --out '%s' --batches %d --seed 7 "
                     "--sql-dir '%s' > '%s' 2> '%s'",
                     carprice, local_root, out, BATCHES, sql_dir, log, errlog);
    if (status != 0) {
        char *e = slurp(errlog, NULL);
        fail_msg("split exited %d:\n%s", status, e);
    }
    char *text = slurp(log, NULL);
    printf("%s", text);
    int64_t printed[BATCHES + 1], input = 0;
    parse_counts(text, printed, &input);
    free(text);
    split_a_done = true;

    char in_path[512];
    snprintf(in_path, sizeof in_path, "file://%s/input.csv", local_root);
    read_view("inp", in_path);
    parts_view("a", out);

    /* Counts: input = test + batches, each as printed. */
    int64_t total = sql_int("SELECT count(*) FROM inp");
    assert_int_equal(total, GEN_ROWS + NHAND);
    assert_int_equal(input, total);
    assert_int_equal(sql_int("SELECT count(*) FROM a_parts"), total);
    int64_t sum = 0;
    for (int k = 0; k <= BATCHES; k++) {
        int64_t n = k == 0 ? sql_int("SELECT count(*) FROM a_test")
                           : sql_int("SELECT count(*) FROM a_b%d", k);
        assert_int_equal(n, printed[k]);
        assert_true(n > 0);
        sum += n;
    }
    assert_int_equal(sum, total);
    double frac = (double)printed[0] / (double)total;
    assert_true(frac > 0.06 && frac < 0.14);

    /* Rows: the union of the parts is the input, as a multiset of whole rows
     * (every one of the 66 columns compared). */
    const char *cols = "* EXCEPT (part)";
    assert_int_equal(
        sql_int("SELECT count(*) FROM (SELECT * FROM inp EXCEPT ALL SELECT %s FROM a_parts)", cols),
        0);
    assert_int_equal(
        sql_int("SELECT count(*) FROM (SELECT %s FROM a_parts EXCEPT ALL SELECT * FROM inp)", cols),
        0);
    /* Keys: no listing in two parts (pairwise disjoint), and the two rows
     * sharing a listing went together. */
    assert_int_equal(sql_int("SELECT count(*) FROM (SELECT listing_id FROM a_parts WHERE "
                             "listing_id IS NOT NULL GROUP BY listing_id HAVING "
                             "count(DISTINCT part) > 1)"),
                     0);
    assert_int_equal(
        sql_int("SELECT count(DISTINCT part) FROM a_parts WHERE listing_id = '990000099'"), 1);
    assert_int_equal(sql_int("SELECT count(*) FROM a_parts WHERE listing_id = '990000099'"), 2);
    assert_int_equal(sql_int("SELECT count(DISTINCT listing_id) FROM a_parts"),
                     sql_int("SELECT count(DISTINCT listing_id) FROM inp"));

    /* The hard rows, field by field, wherever they landed. */
    sc_df_t *df = NULL;
    sc_result_t *res = NULL;
    spark_ok(sc_sql(g_s, "SELECT * FROM a_parts WHERE trimId LIKE 'tTEST%'", NULL, 0, &df, g_err),
             "hand rows");
    spark_ok(sc_df_collect(df, &res, g_err), "collect");
    assert_hand_rows(res, 1);
    sc_result_destroy(res);
    sc_df_destroy(df);
}

static void split_is_reproducible(void **state)
{
    (void)state;
    if (!split_a_done)
        skip();
    char out_b[600], out_c[600], errlog[512];
    snprintf(out_b, sizeof out_b, "%s%s/b", hdfs_uri, hdfs_root);
    snprintf(out_c, sizeof out_c, "%s%s/c", hdfs_uri, hdfs_root);
    snprintf(errlog, sizeof errlog, "%s/split-bc.err", local_root);
    assert_int_equal(run("'%s' data split --input '%s/input.csv' --out '%s' --batches %d "
                         "--seed 7 --sql-dir '%s' > /dev/null 2>> '%s'",
                         carprice, local_root, out_b, BATCHES, sql_dir, errlog),
                     0);
    assert_int_equal(run("'%s' data split --input '%s/input.csv' --out '%s' --batches %d "
                         "--seed 8 --sql-dir '%s' > /dev/null 2>> '%s'",
                         carprice, local_root, out_c, BATCHES, sql_dir, errlog),
                     0);
    parts_view("b", out_b);
    parts_view("c", out_c);
    /* Same seed: every row in the same part (part compared with the row). */
    assert_int_equal(
        sql_int("SELECT count(*) FROM (SELECT * FROM a_parts EXCEPT ALL SELECT * FROM b_parts)"),
        0);
    assert_int_equal(
        sql_int("SELECT count(*) FROM (SELECT * FROM b_parts EXCEPT ALL SELECT * FROM a_parts)"),
        0);
    /* Another seed: another assignment. */
    int64_t moved =
        sql_int("SELECT count(*) FROM (SELECT * FROM a_parts EXCEPT ALL SELECT * FROM c_parts)");
    printf("  seed 8 puts %" PRId64 " of %d rows in another part than seed 7\n", moved,
           GEN_ROWS + NHAND);
    assert_true(moved > (GEN_ROWS + NHAND) / 2);
}

/* Splits the raw records of a CSV text at unquoted line breaks. */
static size_t records(char *text, size_t len, char ***out)
{
    size_t cap = 1024, n = 0, start = 0;
    char **r = malloc(cap * sizeof *r);
    bool quoted = false;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '"')
            quoted = !quoted;
        else if (text[i] == '\n' && !quoted) {
            text[i] = '\0';
            if (n == cap)
                r = realloc(r, (cap *= 2) * sizeof *r);
            r[n++] = text + start;
            start = i + 1;
        }
    }
    assert_false(quoted);
    assert_int_equal(start, len); /* every record ends with a line break */
    *out = r;
    return n;
}

static int by_text(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct {
    char **recs;
    size_t n, cap;
    char *bufs[64];
    size_t nbufs;
    const char *header;
    size_t files;
} collected_t;

/* Adds the records of every part file under dir (recursively); checks each
 * file starts with the header. */
static void collect_dir(collected_t *c, const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            collect_dir(c, path);
            continue;
        }
        if (strncmp(e->d_name, "part-", 5) != 0)
            continue;
        size_t len;
        char *text = slurp(path, &len);
        assert_true(c->nbufs < 64);
        c->bufs[c->nbufs++] = text;
        char **r;
        size_t n = records(text, len, &r);
        assert_true(n >= 1);
        assert_string_equal(r[0], c->header);
        for (size_t i = 1; i < n; i++) {
            if (c->n == c->cap)
                c->recs = realloc(c->recs, (c->cap = c->cap ? c->cap * 2 : 4096) * sizeof(char *));
            c->recs[c->n++] = r[i];
        }
        free(r);
        c->files++;
    }
    closedir(d);
}

/* A local split writes the raw layout byte for byte: every written record
 * is one of the input's records, unchanged, and none is missing. */
static void split_local_output_is_byte_identical(void **state)
{
    (void)state;
    char out[512], errlog[512];
    snprintf(out, sizeof out, "%s/local-out", local_root);
    snprintf(errlog, sizeof errlog, "%s/split-local.err", local_root);
    int status = run("'%s' data split --input '%s/input.csv' --out '%s' --batches %d --seed 7 "
                     "--sql-dir '%s' > /dev/null 2> '%s'",
                     carprice, local_root, out, BATCHES, sql_dir, errlog);
    if (status != 0)
        fail_msg("split exited %d:\n%s", status, slurp(errlog, NULL));

    /* Layout. */
    struct stat st;
    char p[700];
    snprintf(p, sizeof p, "%s/test", out);
    assert_int_equal(stat(p, &st), 0);
    for (int b = 1; b <= BATCHES; b++) {
        snprintf(p, sizeof p, "%s/train/batch-%05d", out, b);
        assert_int_equal(stat(p, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
    }
    DIR *d = opendir(out);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, ".split-tmp", 10) == 0)
            fail_msg("temporary %s left in %s", e->d_name, out);
    closedir(d);

    char in_path[512];
    snprintf(in_path, sizeof in_path, "%s/input.csv", local_root);
    size_t len;
    char *in_text = slurp(in_path, &len);
    char **in;
    size_t nin = records(in_text, len, &in);
    collected_t c = {.header = in[0]};
    collect_dir(&c, out);
    printf("  %zu input records, %zu written in %zu part files\n", nin - 1, c.n, c.files);
    assert_int_equal(c.n, nin - 1);
    qsort(in + 1, nin - 1, sizeof *in, by_text);
    qsort(c.recs, c.n, sizeof *c.recs, by_text);
    for (size_t i = 0; i < c.n; i++)
        if (strcmp(in[i + 1], c.recs[i]) != 0)
            fail_msg("record differs:\n in: %.200s\nout: %.200s", in[i + 1], c.recs[i]);
    /* No field came out as "" (an empty value written quoted). */
    for (size_t i = 0; i < c.n; i++)
        assert_null(strstr(c.recs[i], ",\"\","));
    free(in);
    free(in_text);
    free(c.recs);
    for (size_t i = 0; i < c.nbufs; i++)
        free(c.bufs[i]);
}

static void split_refuses_existing_output_unless_overwrite(void **state)
{
    (void)state;
    char out[512], errlog[512];
    snprintf(out, sizeof out, "%s/local-out", local_root);
    snprintf(errlog, sizeof errlog, "%s/split-again.err", local_root);
    int status = run("'%s' data split --input '%s/small.csv' --out '%s' --batches 2 --sql-dir "
                     "'%s' > /dev/null 2> '%s'",
                     carprice, local_root, out, sql_dir, errlog);
    assert_int_equal(status, 2);
    char *e = slurp(errlog, NULL);
    assert_non_null(strstr(e, "--overwrite"));
    free(e);
    status = run("'%s' data split --input '%s/small.csv' --out '%s' --batches 2 --sql-dir '%s' "
                 "--overwrite > /dev/null 2> '%s'",
                 carprice, local_root, out, sql_dir, errlog);
    assert_int_equal(status, 0);
    /* The old batches 3 and 4 are gone with the old train/. */
    char p[700];
    struct stat st;
    snprintf(p, sizeof p, "%s/train/batch-00003", out);
    assert_int_not_equal(stat(p, &st), 0);
    snprintf(p, sizeof p, "%s/train/batch-00001", out);
    assert_int_equal(stat(p, &st), 0);
}

/* Fails with status `want`, a message containing `needle`, and no output. */
static void assert_split_fails(const char *args, int want, const char *needle)
{
    char out[512], errlog[512];
    snprintf(out, sizeof out, "%s/bad-out", local_root);
    snprintf(errlog, sizeof errlog, "%s/split-bad.err", local_root);
    run("rm -rf '%s'", out);
    int status = run("'%s' data split %s --out '%s' --sql-dir '%s' > /dev/null 2> '%s'", carprice,
                     args, out, sql_dir, errlog);
    char *e = slurp(errlog, NULL);
    if (status != want || !strstr(e, needle))
        fail_msg("split %s: status %d (want %d), stderr:\n%s", args, status, want, e);
    free(e);
    char p[700];
    struct stat st;
    snprintf(p, sizeof p, "%s/train", out);
    assert_int_not_equal(stat(p, &st), 0);
    snprintf(p, sizeof p, "%s/test", out);
    assert_int_not_equal(stat(p, &st), 0);
    DIR *d = opendir(out);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL)
            if (strncmp(de->d_name, ".split-tmp", 10) == 0)
                fail_msg("temporary %s left after a failed split", de->d_name);
        closedir(d);
    }
}

static void split_rejects_bad_input(void **state)
{
    (void)state;
    char path[512], args[1024];
    /* A header that is not the raw layout's. */
    snprintf(path, sizeof path, "%s/renamed.csv", local_root);
    FILE *f = fopen(path, "w");
    for (int c = 0; c < NCOLS; c++)
        fprintf(f, "%s%s", c ? "," : "", c == 5 ? "bodytype" : columns[c]);
    fputc('\n', f);
    put_hand_rows(f);
    fclose(f);
    snprintf(args, sizeof args, "--input '%s' --batches 2", path);
    assert_split_fails(args, 1, "header column 6 is 'bodytype'");

    /* A record with one field too many. */
    snprintf(path, sizeof path, "%s/malformed.csv", local_root);
    f = fopen(path, "w");
    put_header(f);
    put_hand_rows(f);
    for (int c = 0; c <= NCOLS; c++)
        fputs(c ? ",x" : "x", f);
    fputc('\n', f);
    fclose(f);
    snprintf(args, sizeof args, "--input '%s' --batches 2", path);
    assert_split_fails(args, 1, "1 malformed record");

    assert_split_fails("--input /nonexistent/raw.csv --batches 2", 1, "/nonexistent/raw.csv");
    snprintf(args, sizeof args, "--input '%s/small.csv' --batches 0", local_root);
    assert_split_fails(args, 2, "--batches");
    snprintf(args, sizeof args, "--input '%s/small.csv' --batches 2 --test-fraction 1", local_root);
    assert_split_fails(args, 2, "--test-fraction");
    snprintf(args, sizeof args, "--input '%s/small.csv'", local_root);
    assert_split_fails(args, 2, "required");
}

/* ---- setup ---- */

static int load_columns(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/raw_schema.ddl", sql_dir);
    char *text = slurp(path, NULL);
    size_t cap = strlen(text) + 1, len = 0;
    ddl = calloc(cap, 1);
    int n = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "--", 2) == 0)
            continue;
        len += (size_t)snprintf(ddl + len, cap - len, "%s ", line);
        char *a = strchr(line, '`'), *b = a ? strchr(a + 1, '`') : NULL;
        if (a && b && n < NCOLS)
            columns[n++] = strndup(a + 1, (size_t)(b - a - 1));
    }
    free(text);
    return n == NCOLS ? 0 : -1;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static int group_setup(void **state)
{
    (void)state;
    if (load_columns() != 0) {
        fprintf(stderr, "cannot read %d columns from %s/raw_schema.ddl\n", NCOLS, sql_dir);
        return -1;
    }
    build_hand_rows();
    snprintf(local_root, sizeof local_root, "/tmp/test-split-XXXXXX");
    if (!mkdtemp(local_root))
        return -1;
    snprintf(hdfs_root, sizeof hdfs_root, "/tmp/test-split-%ld-%ld", (long)getpid(),
             (long)time(NULL));
    const char *u = getenv("CARPRICE_HDFS_URI");
    snprintf(hdfs_uri, sizeof hdfs_uri, "%s", u && *u ? u : "hdfs://127.0.0.1:9000");

    /* small.csv: the hand-written rows; input.csv: generated rows + them. */
    char path[512];
    snprintf(path, sizeof path, "%s/small.csv", local_root);
    FILE *f = fopen(path, "w");
    put_header(f);
    put_hand_rows(f);
    fclose(f);
    if (run("'%s' data generate --rows %d --seed 11 --out '%s/input.csv' 2>/dev/null", carprice,
            GEN_ROWS, local_root) != 0) {
        fprintf(stderr, "carprice data generate failed\n");
        return -1;
    }
    snprintf(path, sizeof path, "%s/input.csv", local_root);
    char *gen = slurp(path, NULL);
    char *nl = strchr(gen, '\n');
    size_t hlen = nl ? (size_t)(nl - gen) : 0;
    char header[4096];
    FILE *hf = fmemopen(header, sizeof header, "w");
    put_header(hf);
    fclose(hf);
    if (strncmp(gen, header, hlen) != 0 || hlen + 1 != strlen(header)) {
        fprintf(stderr, "the generator's header differs from raw_schema.ddl\n");
        free(gen);
        return -1;
    }
    free(gen);
    f = fopen(path, "a");
    put_hand_rows(f);
    fclose(f);

    g_err = sc_error_new();
    const char *remote = getenv("CARPRICE_SPARK_REMOTE");
    if (sc_session_new(remote && *remote ? remote : "sc://127.0.0.1:15002", NULL, &g_s, g_err) !=
            SC_OK ||
        sc_session_ping(g_s, g_err) != SC_OK) {
        fprintf(stderr, "Spark Connect: %s (is the stack up? scripts/stack up)\n",
                sc_error_message(g_err));
        return -1;
    }
    g_rerr = cp_rest_error_new();
    if (cp_hdfs_new(NULL, &g_h, g_rerr) != CP_REST_OK)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (!getenv("CARPRICE_KEEP_TEST_FILES")) {
        if (g_h)
            cp_hdfs_delete(g_h, hdfs_root, true, NULL, g_rerr);
        if (local_root[0])
            nftw(local_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    cp_hdfs_destroy(g_h);
    cp_rest_error_destroy(g_rerr);
    sc_session_destroy(g_s);
    sc_error_destroy(g_err);
    for (int r = 0; r < NHAND; r++)
        for (int c = 0; c < NCOLS; c++)
            free(hand[r][c]);
    for (int c = 0; c < NCOLS; c++)
        free(columns[c]);
    free(ddl);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s CARPRICE SQL_DIR\n", argv[0]);
        return 2;
    }
    carprice = argv[1];
    sql_dir = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spark_reads_exactly_the_written_rows),
        cmocka_unit_test(split_to_hdfs_keeps_every_row_once),
        cmocka_unit_test(split_is_reproducible),
        cmocka_unit_test(split_local_output_is_byte_identical),
        cmocka_unit_test(split_refuses_existing_output_unless_overwrite),
        cmocka_unit_test(split_rejects_bad_input),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
