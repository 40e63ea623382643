/* `carprice requests` against the real Kafka broker of the local stack: runs
 * the program on a small raw CSV fixture (multi-line descriptions, doubled
 * quotes, empty fields), consumes both topics and checks what arrived:
 *   - exactly the reported number of messages on each topic (high watermarks),
 *     no duplicate ids, ids equal to --ids-out, prices equal to --prices-out;
 *   - every valid request has the documented schema and carries its row's
 *     raw text exactly (empty fields null, price absent);
 *   - the malformed ones are as many as the ratio asks and each is rejected
 *     by a strict validator; every kind appears;
 *   - prices only for the asked fraction of valid requests, each equal to its
 *     row's price and set at least --price-delay-ms after its request;
 *   - directories of Spark part files, --rate, --limit, SIGTERM (summary, the
 *     due prices flushed), an unterminated quote (exit 1 after finishing what
 *     was sent), bad flags (exit 2), an unreachable broker (exit 1).
 *
 * Arguments: the carprice program and the fixture CSV. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "carprice/csv.h"
#include "carprice/data.h"
#include "carprice/requests.h"
#include "kafka_util.h"

static const char *carprice_bin;
static const char *fixture_path;
static char tmpdir[256];

/* The fixture's data rows: NROWS x 66 raw fields. */
#define MAX_ROWS 64
static char *rows[MAX_ROWS][CP_DATA_NCOLUMNS];
static size_t nrows;

static int column_index(const char *name)
{
    for (int c = 0; c < CP_DATA_NCOLUMNS; c++)
        if (strcmp(cp_data_column_name(c), name) == 0)
            return c;
    return -1;
}

static void load_fixture(void)
{
    FILE *f = fopen(fixture_path, "rb");
    assert_non_null(f);
    cp_csv_reader_t *r;
    assert_int_equal(cp_csv_reader_new(f, fixture_path, 0, &r), CP_CSV_OK);
    assert_int_equal(cp_csv_read(r), CP_CSV_OK);
    for (int c = 0; c < CP_DATA_NCOLUMNS; c++)
        assert_string_equal(cp_csv_field(r, (size_t)c, NULL), cp_data_column_name(c));
    int rc;
    while ((rc = cp_csv_read(r)) == CP_CSV_OK) {
        assert_true(nrows < MAX_ROWS);
        assert_int_equal(cp_csv_nfields(r), CP_DATA_NCOLUMNS);
        for (int c = 0; c < CP_DATA_NCOLUMNS; c++)
            rows[nrows][c] = strdup(cp_csv_field(r, (size_t)c, NULL));
        nrows++;
    }
    assert_int_equal(rc, CP_CSV_END);
    cp_csv_reader_destroy(r);
    fclose(f);
}

/* ---- running the program ---------------------------------------------------- */

typedef struct {
    char out[8192]; /* stdout */
    int status;     /* exit status, or 128 + signal */
    double seconds;
} run_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs carprice with args (NULL-terminated, without the program name). With
 * term_after_ms > 0, sends SIGTERM that long after the start. */
static void run(run_t *res, int term_after_ms, const char *const *args)
{
    const char *argv[64];
    size_t n = 0;
    argv[n++] = carprice_bin;
    while (*args && n < 63)
        argv[n++] = *args++;
    argv[n] = NULL;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    double t0 = now_s();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv(carprice_bin, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    size_t got = 0;
    int termed = 0;
    for (;;) {
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        int wait = 200;
        if (term_after_ms > 0 && !termed) {
            double left = term_after_ms - (now_s() - t0) * 1000;
            if (left <= 0) {
                kill(pid, SIGTERM);
                termed = 1;
            } else if (left < wait) {
                wait = (int)left + 1;
            }
        }
        int pr = poll(&p, 1, wait);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0)
            continue;
        ssize_t r = read(fds[0], res->out + got, sizeof res->out - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    res->out[got] = '\0';
    close(fds[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    res->seconds = now_s() - t0;
    res->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static uint64_t summary(const run_t *res, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "%s=", key);
    const char *p = strstr(res->out, pat);
    if (!p)
        fail_msg("no %s in the summary: %s", key, res->out);
    return strtoull(p + strlen(pat), NULL, 10);
}

/* ---- Kafka helpers ------------------------------------------------------------ */

static rd_kafka_t *client(void)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", tk_bootstrap(), errstr, sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    assert_non_null(rk);
    return rk;
}

/* Messages in a topic: the sum of its partitions' high watermarks (fresh
 * topics, no transactions, so offsets count messages). */
static int64_t topic_messages(const char *topic)
{
    rd_kafka_t *rk = client();
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    assert_int_equal(rd_kafka_metadata(rk, 0, t, &md, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(md->topic_cnt, 1);
    int64_t total = 0;
    for (int p = 0; p < md->topics[0].partition_cnt; p++) {
        int64_t lo, hi;
        assert_int_equal(rd_kafka_query_watermark_offsets(rk, topic, md->topics[0].partitions[p].id,
                                                          &lo, &hi, 10000),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
        total += hi;
    }
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    rd_kafka_destroy(rk);
    return total;
}

/* Best effort: tests leave no topics behind. */
static void delete_topics(const char *a, const char *b)
{
    rd_kafka_t *rk = client();
    rd_kafka_DeleteTopic_t *del[2] = {rd_kafka_DeleteTopic_new(a), rd_kafka_DeleteTopic_new(b)};
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DeleteTopics(rk, del, 2, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 15000);
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_DeleteTopic_destroy_array(del, 2);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
}

typedef struct {
    char req[160], price[160], run_id[64], ids[300], prices[300];
} names_t;

static void make_names(names_t *n, const char *what)
{
    snprintf(n->req, sizeof n->req, "%s", tk_unique_topic("carprice.test.requests"));
    snprintf(n->price, sizeof n->price, "%s", tk_unique_topic("carprice.test.prices"));
    snprintf(n->run_id, sizeof n->run_id, "%s%d", what, (int)getpid());
    snprintf(n->ids, sizeof n->ids, "%s/%s.ids", tmpdir, what);
    snprintf(n->prices, sizeof n->prices, "%s/%s.prices", tmpdir, what);
}

/* ---- reading back ---------------------------------------------------------------- */

static size_t read_lines(const char *path, char ***out)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = 0, cap = 16;
    char **lines = malloc(cap * sizeof *lines);
    char buf[512];
    while (fgets(buf, sizeof buf, f)) {
        buf[strcspn(buf, "\n")] = '\0';
        if (n == cap)
            lines = realloc(lines, (cap *= 2) * sizeof *lines);
        lines[n++] = strdup(buf);
    }
    fclose(f);
    *out = lines;
    return n;
}

static void free_lines(char **lines, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

static int in_lines(char **lines, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(lines[i], s) == 0)
            return 1;
    return 0;
}

/* The row number in an id "<run>-<row>". */
static size_t row_of(const char *id)
{
    const char *dash = strrchr(id, '-');
    assert_non_null(dash);
    return (size_t)strtoull(dash + 1, NULL, 10);
}

/* A strict validator, as serve's should be: returns 1 and the record if the
 * value is a well-formed request with plausible values. */
static int valid_request(const char *value, size_t len, json_t **out)
{
    *out = NULL;
    if (len > ((size_t)1 << 20))
        return 0;
    json_error_t e;
    json_t *j = json_loadb(value, len, 0, &e);
    if (!j)
        return 0;
    json_t *rec = json_object_get(j, "record");
    int ok = json_is_string(json_object_get(j, "request_id")) &&
             json_is_integer(json_object_get(j, "sent_at_ms")) && json_is_object(rec);
    if (ok) {
        const char *y = json_string_value(json_object_get(rec, "year"));
        const char *m = json_string_value(json_object_get(rec, "mileage"));
        double year = y ? strtod(y, NULL) : NAN, mileage = m ? strtod(m, NULL) : 0;
        ok = y && year >= 1950 && year <= 2100 && mileage >= 0 && mileage <= 1e6;
    }
    if (!ok) {
        json_decref(j);
        return 0;
    }
    *out = j;
    return 1;
}

/* Checks that a valid request carries exactly the raw row it names. */
static void check_request_matches_row(json_t *j, const char *key, size_t *row_out)
{
    assert_string_equal(json_string_value(json_object_get(j, "request_id")), key);
    assert_int_equal(json_object_size(j), 3);
    size_t row = row_of(key);
    assert_true(row < nrows);
    json_t *rec = json_object_get(j, "record");
    assert_int_equal(json_object_size(rec), CP_DATA_NCOLUMNS - 1);
    for (int c = 0; c < CP_DATA_NCOLUMNS; c++) {
        const char *name = cp_data_column_name(c);
        json_t *v = json_object_get(rec, name);
        if (strcmp(name, "price") == 0) {
            assert_null(v);
        } else if (rows[row][c][0] == '\0') {
            assert_true(json_is_null(v));
        } else {
            assert_true(json_is_string(v));
            assert_string_equal(json_string_value(v), rows[row][c]);
        }
    }
    *row_out = row;
}

/* ---- tests ------------------------------------------------------------------------- */

static void sends_requests_prices_and_malformed_as_documented(void **state)
{
    (void)state;
    names_t n;
    make_names(&n, "full");
    const int delay_ms = 1500;
    const char *args[] = {"requests",
                          "--input",
                          fixture_path,
                          "--bootstrap",
                          tk_bootstrap(),
                          "--requests-topic",
                          n.req,
                          "--prices-topic",
                          n.price,
                          "--price-fraction",
                          "0.5",
                          "--price-delay-ms",
                          "1500",
                          "--malformed-ratio",
                          "0.4",
                          "--seed",
                          "3",
                          "--run-id",
                          n.run_id,
                          "--ids-out",
                          n.ids,
                          "--prices-out",
                          n.prices,
                          NULL};
    run_t res;
    run(&res, 0, args);
    printf("summary: %s", res.out);
    assert_int_equal(res.status, 0);

    const uint64_t valid = summary(&res, "requests_sent"), bad = summary(&res, "malformed_sent"),
                   prices = summary(&res, "prices_sent");
    assert_int_equal(summary(&res, "delivery_failures"), 0);
    assert_int_equal(summary(&res, "interrupted"), 0);
    assert_int_equal(valid + bad, nrows);
    /* Ratios within rounding. */
    assert_true(bad >= (uint64_t)floor(nrows * 0.4) && bad <= (uint64_t)ceil(nrows * 0.4));
    assert_true(prices >= (uint64_t)floor(valid * 0.5) && prices <= (uint64_t)ceil(valid * 0.5));
    assert_true(bad >= CP_REQ_BAD_NKINDS); /* room for every kind */

    /* Exactly that many messages, and all of them readable. */
    assert_int_equal(topic_messages(n.req), (int64_t)nrows);
    assert_int_equal(topic_messages(n.price), (int64_t)prices);
    tk_msg_t *reqs, *prs;
    assert_int_equal(tk_consume(n.req, nrows, 30000, &reqs), nrows);
    assert_int_equal(tk_consume(n.price, prices, 30000, &prs), prices);

    char **ids, **plines;
    size_t nids = read_lines(n.ids, &ids), nplines = read_lines(n.prices, &plines);
    assert_int_equal(nids, valid);
    assert_int_equal(nplines, prices);

    int64_t sent_at[MAX_ROWS] = {0};
    int seen[MAX_ROWS] = {0}, is_valid[MAX_ROWS] = {0};
    size_t nvalid = 0, nbad = 0, oversized = 0, not_json = 0;
    for (size_t i = 0; i < nrows; i++) {
        const char *key = reqs[i].key;
        assert_non_null(key);
        assert_true(strncmp(key, n.run_id, strlen(n.run_id)) == 0); /* malformed ones too */
        size_t row = row_of(key);
        assert_true(row < nrows);
        assert_false(seen[row]); /* no duplicates */
        seen[row] = 1;
        json_t *j;
        if (valid_request(reqs[i].value, strlen(reqs[i].value), &j)) {
            check_request_matches_row(j, key, &row);
            assert_true(in_lines(ids, nids, key));
            sent_at[row] = json_integer_value(json_object_get(j, "sent_at_ms"));
            is_valid[row] = 1;
            nvalid++;
            json_decref(j);
        } else {
            assert_false(in_lines(ids, nids, key));
            json_error_t e;
            json_t *any = json_loads(reqs[i].value, 0, &e);
            if (!any)
                not_json++;
            json_decref(any);
            if (strlen(reqs[i].value) > ((size_t)1 << 20))
                oversized++;
            nbad++;
        }
    }
    assert_int_equal(nvalid, valid);
    assert_int_equal(nbad, bad);
    assert_true(oversized >= 1);
    assert_true(not_json >= 2); /* not JSON and truncated */

    /* Prices: one per chosen valid request, the row's price, late enough. */
    int priced[MAX_ROWS] = {0};
    for (size_t i = 0; i < prices; i++) {
        json_error_t e;
        json_t *j = json_loads(prs[i].value, 0, &e);
        assert_non_null(j);
        assert_int_equal(json_object_size(j), 3);
        const char *id = json_string_value(json_object_get(j, "request_id"));
        assert_non_null(id);
        assert_string_equal(id, prs[i].key);
        size_t row = row_of(id);
        assert_true(row < nrows && is_valid[row]);
        assert_false(priced[row]);
        priced[row] = 1;
        json_t *price = json_object_get(j, "price");
        assert_true(json_is_number(price));
        assert_true(
            fabs(json_number_value(price) - strtod(rows[row][column_index("price")], NULL)) < 1e-6);
        json_t *set = json_object_get(j, "set_at_ms");
        assert_true(json_is_integer(set));
        assert_true(json_integer_value(set) - sent_at[row] >= delay_ms);
        char line[256];
        snprintf(line, sizeof line, "%s,%s", id, rows[row][column_index("price")]);
        assert_true(in_lines(plines, nplines, line));
        json_decref(j);
    }

    free_lines(ids, nids);
    free_lines(plines, nplines);
    tk_msgs_free(reqs, nrows);
    tk_msgs_free(prs, prices);
    delete_topics(n.req, n.price);
}

static void write_part(const char *dir, const char *name, size_t from, size_t to)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *out = fopen(path, "w");
    assert_non_null(out);
    /* Rewrites the rows with minimal quoting, as Spark's CSV writer does. */
    for (int c = 0; c < CP_DATA_NCOLUMNS; c++)
        fprintf(out, "%s%s", c ? "," : "", cp_data_column_name(c));
    fputc('\n', out);
    for (size_t r = from; r < to; r++) {
        for (int c = 0; c < CP_DATA_NCOLUMNS; c++) {
            const char *v = rows[r][c];
            if (c)
                fputc(',', out);
            if (strpbrk(v, ",\"\n\r")) {
                fputc('"', out);
                for (; *v; v++) {
                    if (*v == '"')
                        fputc('"', out);
                    fputc(*v, out);
                }
                fputc('"', out);
            } else {
                fputs(v, out);
            }
        }
        fputc('\n', out);
    }
    fclose(out);
}

static void reads_spark_part_files_at_a_rate(void **state)
{
    (void)state;
    names_t n;
    make_names(&n, "parts");
    char dir[300], path[400];
    snprintf(dir, sizeof dir, "%s/split", tmpdir);
    assert_int_equal(mkdir(dir, 0755), 0);
    write_part(dir, "part-00000-abc.csv", 0, 5);
    write_part(dir, "part-00001-abc.csv", 5, 5); /* header only */
    write_part(dir, "part-00002-abc.csv", 5, nrows);
    snprintf(path, sizeof path, "%s/_SUCCESS", dir);
    fclose(fopen(path, "w"));
    snprintf(path, sizeof path, "%s/.part-00000-abc.csv.crc", dir);
    FILE *crc = fopen(path, "w");
    fputs("not csv\n", crc);
    fclose(crc);
    snprintf(path, sizeof path, "%s/part-00003-abc.csv", dir);
    fclose(fopen(path, "w")); /* empty partition: no header at all */

    const char *args[] = {"requests", "--input",          dir,     "--requests-topic",
                          n.req,      "--prices-topic",   n.price, "--rate",
                          "20",       "--limit",          "10",    "--price-fraction",
                          "1",        "--price-delay-ms", "200",   "--run-id",
                          n.run_id,   "--ids-out",        n.ids,   NULL};
    run_t res;
    run(&res, 0, args);
    printf("summary: %s", res.out);
    assert_int_equal(res.status, 0);
    assert_int_equal(summary(&res, "requests_sent"), 10);
    assert_int_equal(summary(&res, "malformed_sent"), 0);
    assert_int_equal(summary(&res, "prices_sent"), 10);
    assert_true(res.seconds >= 9 / 20.0); /* the rate was kept */
    assert_int_equal(topic_messages(n.req), 10);
    assert_int_equal(topic_messages(n.price), 10);

    /* Rows in file order across the parts, each exactly its row. */
    tk_msg_t *reqs;
    assert_int_equal(tk_consume(n.req, 10, 30000, &reqs), 10);
    for (size_t i = 0; i < 10; i++) {
        json_t *j;
        assert_true(valid_request(reqs[i].value, strlen(reqs[i].value), &j));
        size_t row;
        check_request_matches_row(j, reqs[i].key, &row);
        assert_int_equal(row, i);
        json_decref(j);
    }
    tk_msgs_free(reqs, 10);
    delete_topics(n.req, n.price);
}

static void sigterm_delivers_what_was_produced(void **state)
{
    (void)state;
    names_t n;
    make_names(&n, "term");
    /* 16 rows at 4/s take 4 s; stop after 1.3 s. Prices are due at once, so
     * each delivered request's price must still go out. */
    const char *args[] = {
        "requests", "--input",  fixture_path, "--requests-topic", n.req, "--prices-topic",
        n.price,    "--rate",   "4",          "--price-fraction", "1",   "--price-delay-ms",
        "0",        "--run-id", n.run_id,     "--ids-out",        n.ids, NULL};
    run_t res;
    run(&res, 1300, args);
    printf("summary: %s", res.out);
    assert_int_equal(res.status, 0);
    assert_int_equal(summary(&res, "interrupted"), 1);
    uint64_t sent = summary(&res, "requests_sent");
    assert_true(sent >= 3 && sent < nrows);
    assert_true(res.seconds < 3.5);
    assert_int_equal(summary(&res, "prices_sent"), sent);
    assert_int_equal(topic_messages(n.req), (int64_t)sent);
    assert_int_equal(topic_messages(n.price), (int64_t)sent);
    char **ids;
    assert_int_equal(read_lines(n.ids, &ids), sent);
    free_lines(ids, sent);
    delete_topics(n.req, n.price);
}

static void bad_input_stops_reading_but_finishes_the_run(void **state)
{
    (void)state;
    names_t n;
    make_names(&n, "broken");
    /* The fixture, then a record whose quote never closes. */
    char path[400];
    snprintf(path, sizeof path, "%s/broken.csv", tmpdir);
    FILE *in = fopen(fixture_path, "rb"), *out = fopen(path, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[4096];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, got, out), got);
    fputs("X,\"never closed\nmore text\n", out);
    fclose(in);
    fclose(out);
    const char *args[] = {"requests", "--input",
                          path,       "--requests-topic",
                          n.req,      "--prices-topic",
                          n.price,    "--price-fraction",
                          "1",        "--price-delay-ms",
                          "300",      "--run-id",
                          n.run_id,   NULL};
    run_t res;
    run(&res, 0, args);
    printf("summary: %s", res.out);
    assert_int_equal(res.status, 1);
    assert_int_equal(summary(&res, "requests_sent"), nrows);
    assert_int_equal(summary(&res, "prices_sent"), nrows);
    assert_int_equal(summary(&res, "prices_dropped"), 0);
    assert_int_equal(topic_messages(n.req), (int64_t)nrows);
    assert_int_equal(topic_messages(n.price), (int64_t)nrows);
    delete_topics(n.req, n.price);
}

static void bad_arguments_and_unreachable_broker(void **state)
{
    (void)state;
    static const char *const bad[][6] = {
        {"requests", NULL},
        {"requests", "--input", "x.csv", "--rate", "-1", NULL},
        {"requests", "--input", "x.csv", "--price-fraction", "1.5", NULL},
        {"requests", "--input", "x.csv", "--malformed-ratio", "abc", NULL},
        {"requests", "--input", "x.csv", "--frobnicate", NULL},
        {"requests", "--input", "x.csv", "--run-id", "has space", NULL},
        {"requests", "--input", "x.csv", "--producer-option", "novalue", NULL},
        {"requests", "--input", "x.csv", "--limit", NULL},
    };
    run_t res;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        run(&res, 0, bad[i]);
        assert_int_equal(res.status, 2);
        assert_string_equal(res.out, ""); /* errors go to stderr */
    }
    const char *help[] = {"requests", "--help", NULL};
    run(&res, 0, help);
    assert_int_equal(res.status, 0);
    assert_non_null(strstr(res.out, "--price-delay-ms"));

    const char *missing[] = {"requests", "--input", "/nonexistent/raw.csv", NULL};
    run(&res, 0, missing);
    assert_int_equal(res.status, 1);

    /* Not a raw file: the header lacks the raw columns. */
    char path[400];
    snprintf(path, sizeof path, "%s/notraw.csv", tmpdir);
    FILE *f = fopen(path, "w");
    fputs("a,b\n1,2\n", f);
    fclose(f);
    const char *notraw[] = {"requests", "--input", path, NULL};
    run(&res, 0, notraw);
    assert_int_equal(res.status, 1);

    const char *nobroker[] = {"requests",    "--input",     fixture_path,
                              "--bootstrap", "127.0.0.1:1", NULL};
    run(&res, 0, nobroker);
    assert_int_equal(res.status, 1);
    assert_true(res.seconds < 30);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s CARPRICE FIXTURE.csv\n", argv[0]);
        return 2;
    }
    carprice_bin = argv[1];
    fixture_path = argv[2];
    snprintf(tmpdir, sizeof tmpdir, "/tmp/carprice-test-requests.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    load_fixture();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sends_requests_prices_and_malformed_as_documented),
        cmocka_unit_test(reads_spark_part_files_at_a_rate),
        cmocka_unit_test(sigterm_delivers_what_was_produced),
        cmocka_unit_test(bad_input_stops_reading_but_finishes_the_run),
        cmocka_unit_test(bad_arguments_and_unreachable_broker),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    for (size_t r = 0; r < nrows; r++)
        for (int c = 0; c < CP_DATA_NCOLUMNS; c++)
            free(rows[r][c]);
    return rc;
}
