/* The request and managers'-price simulator (`carprice requests`).
 *
 * One thread reads raw CSV rows, turns each into a request (or, for a chosen
 * fraction, a malformed message) and hands it to one idempotent librdkafka
 * producer. Requests that will later get their manager's price enter a FIFO
 * with the wall-clock time at which the price becomes due; a price leaves the
 * FIFO when it is due and its request was acknowledged, so a price never
 * reaches Kafka before its request. Delivery reports arrive on this thread
 * (from rd_kafka_poll/flush) and do all the counting and the --ids-out and
 * --prices-out writing, so the counts and files describe what Kafka holds. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "carprice/csv.h"
#include "carprice/data.h"
#include "carprice/json.h"
#include "carprice/log.h"
#include "carprice/requests.h"

#define NCOLS               CP_DATA_NCOLUMNS
#define PROGRESS_EVERY_MS   10000
#define MAX_LOGGED_SKIPS    10
#define MAX_LOGGED_FAILURES 10

void cp_req_sim_config_init(cp_req_sim_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->bootstrap = "127.0.0.1:9092";
    cfg->requests_topic = "carprice.requests";
    cfg->prices_topic = "carprice.prices";
    cfg->price_fraction = 0.5;
    cfg->price_delay_ms = 5000;
}

static int64_t real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- input: one file, stdin, or a directory of part files ----------------- */

typedef struct {
    char **paths;
    size_t npaths, next;
    FILE *f;
    cp_csv_reader_t *csv;
    const char *path; /* of the open file */
    size_t max_record;
    int col[NCOLS];  /* header position of each raw column */
    size_t ncols_in; /* fields in the header */
} source_t;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_part_file(const char *name)
{
    size_t n = strlen(name);
    return strncmp(name, "part-", 5) == 0 && n > 9 && strcmp(name + n - 4, ".csv") == 0;
}

static int add_path(source_t *s, const char *dir, const char *name)
{
    char **p = realloc(s->paths, (s->npaths + 1) * sizeof *p);
    if (!p)
        return -1;
    s->paths = p;
    size_t len = (dir ? strlen(dir) + 1 : 0) + strlen(name) + 1;
    char *full = malloc(len);
    if (!full)
        return -1;
    if (dir)
        snprintf(full, len, "%s/%s", dir, name);
    else
        snprintf(full, len, "%s", name);
    s->paths[s->npaths++] = full;
    return 0;
}

static int source_open(source_t *s, const char *input, size_t max_record, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->max_record = max_record;
    struct stat st;
    if (strcmp(input, "-") == 0)
        return add_path(s, NULL, "-") ? CP_REQ_ERR_NOMEM : 0;
    if (stat(input, &st) != 0) {
        snprintf(err, errlen, "%s: %s", input, strerror(errno));
        return CP_REQ_ERR_INPUT;
    }
    if (!S_ISDIR(st.st_mode))
        return add_path(s, NULL, input) ? CP_REQ_ERR_NOMEM : 0;
    DIR *d = opendir(input);
    if (!d) {
        snprintf(err, errlen, "%s: %s", input, strerror(errno));
        return CP_REQ_ERR_INPUT;
    }
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL)
        if (is_part_file(e->d_name) && add_path(s, input, e->d_name) != 0) {
            rc = CP_REQ_ERR_NOMEM;
            break;
        }
    closedir(d);
    if (rc)
        return rc;
    if (s->npaths == 0) {
        snprintf(err, errlen, "%s: no part-*.csv files in this directory", input);
        return CP_REQ_ERR_INPUT;
    }
    qsort(s->paths, s->npaths, sizeof *s->paths, cmp_str);
    return 0;
}

static void source_close_file(source_t *s)
{
    cp_csv_reader_destroy(s->csv);
    s->csv = NULL;
    if (s->f && s->f != stdin)
        fclose(s->f);
    s->f = NULL;
}

static void source_close(source_t *s)
{
    source_close_file(s);
    for (size_t i = 0; i < s->npaths; i++)
        free(s->paths[i]);
    free(s->paths);
    s->paths = NULL;
}

/* Maps the header of the file just opened. Returns 0, 1 if the file is empty
 * (no header), or an error. */
static int source_header(source_t *s, char *err, size_t errlen)
{
    int rc = cp_csv_read(s->csv);
    if (rc == CP_CSV_END)
        return 1;
    if (rc != CP_CSV_OK) {
        snprintf(err, errlen, "%s", cp_csv_error(s->csv));
        return rc == CP_CSV_ERR_NOMEM ? CP_REQ_ERR_NOMEM : CP_REQ_ERR_INPUT;
    }
    s->ncols_in = cp_csv_nfields(s->csv);
    for (int c = 0; c < NCOLS; c++) {
        const char *want = cp_data_column_name(c);
        s->col[c] = -1;
        for (size_t i = 0; i < s->ncols_in; i++) {
            const char *h = cp_csv_field(s->csv, i, NULL);
            /* A header written by hand may pad names with spaces. */
            while (*h == ' ')
                h++;
            size_t hl = strlen(h);
            while (hl && h[hl - 1] == ' ')
                hl--;
            if (hl == strlen(want) && memcmp(h, want, hl) == 0) {
                s->col[c] = (int)i;
                break;
            }
        }
        if (s->col[c] < 0) {
            snprintf(err, errlen,
                     "%s: the header has no column '%s' (is this a raw used_cars_data.csv file "
                     "with its header line?)",
                     s->path, want);
            return CP_REQ_ERR_INPUT;
        }
    }
    return 0;
}

/* Opens the next input file that has a header (files without one are empty
 * Spark partitions). Returns 0, 1 when no file is left, or an error. */
static int source_open_next(source_t *s, char *err, size_t errlen)
{
    while (s->next < s->npaths) {
        s->path = s->paths[s->next++];
        if (strcmp(s->path, "-") == 0) {
            s->f = stdin;
        } else if (!(s->f = fopen(s->path, "rb"))) {
            snprintf(err, errlen, "%s: %s", s->path, strerror(errno));
            return CP_REQ_ERR_INPUT;
        }
        int rc = cp_csv_reader_new(s->f, s->path, s->max_record, &s->csv);
        if (rc != CP_CSV_OK) {
            snprintf(err, errlen, "%s: %s", s->path, cp_csv_strerror(rc));
            return CP_REQ_ERR_NOMEM;
        }
        rc = source_header(s, err, errlen);
        if (rc != 1)
            return rc;
        source_close_file(s);
    }
    return 1;
}

/* Reads the next data record. Returns 0 with a record, 1 at the end of all
 * input, or an error with a message in err. */
static int source_next(source_t *s, char *err, size_t errlen)
{
    for (;;) {
        if (!s->csv) {
            int rc = source_open_next(s, err, errlen);
            if (rc)
                return rc;
        }
        int rc = cp_csv_read(s->csv);
        if (rc == CP_CSV_OK)
            return 0;
        if (rc == CP_CSV_END) {
            source_close_file(s);
            continue;
        }
        snprintf(err, errlen, "%s", cp_csv_error(s->csv));
        return rc == CP_CSV_ERR_NOMEM ? CP_REQ_ERR_NOMEM : CP_REQ_ERR_INPUT;
    }
}

/* ---- prices waiting for their time ---------------------------------------- */

enum { REQ_PENDING = 0, REQ_DELIVERED = 1, REQ_FAILED = 2 };

typedef struct {
    uint64_t seq;   /* row number of the request */
    int64_t due_ms; /* wall clock */
    int state;      /* of the request's delivery */
    char price[40]; /* JSON number text */
} price_entry_t;

typedef struct {
    price_entry_t *e;
    size_t head, count, cap;
} price_queue_t;

static price_entry_t *pq_at(price_queue_t *q, size_t i)
{
    return &q->e[(q->head + i) % q->cap];
}

static price_entry_t *pq_push(price_queue_t *q)
{
    if (q->count == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 1024;
        price_entry_t *e = malloc(cap * sizeof *e);
        if (!e)
            return NULL;
        for (size_t i = 0; i < q->count; i++)
            e[i] = *pq_at(q, i);
        free(q->e);
        q->e = e;
        q->cap = cap;
        q->head = 0;
    }
    price_entry_t *p = pq_at(q, q->count);
    q->count++;
    return p;
}

static void pq_pop(price_queue_t *q)
{
    q->head = (q->head + 1) % q->cap;
    q->count--;
}

/* Entries are pushed in row order, so a binary search finds a row's entry. */
static price_entry_t *pq_find(price_queue_t *q, uint64_t seq)
{
    size_t lo = 0, hi = q->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        price_entry_t *e = pq_at(q, mid);
        if (e->seq == seq)
            return e;
        if (e->seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* ---- the run ---------------------------------------------------------------- */

/* What a delivery report is about: the low 2 bits of its opaque; the row
 * number is in the other bits. */
enum { MSG_PRICE = 0, MSG_REQUEST = 1, MSG_REQUEST_PRICED = 2, MSG_MALFORMED = 3 };

typedef struct {
    const cp_req_sim_config_t *cfg;
    rd_kafka_t *rk;
    rd_kafka_topic_t *req_topic, *price_topic;
    cp_req_sim_stats_t st;
    price_queue_t pq;
    FILE *ids_out, *prices_out;
    int out_error; /* writing one of the files failed */
    double t0;
    double last_request_ack; /* mono_s of the last requests-topic acknowledgement */
    int fatal;
    char fatal_msg[512];
    cp_buf_t msg;
} sim_t;

static int stop_level(const sim_t *s)
{
    return s->cfg->stop ? (int)*s->cfg->stop : 0;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    sim_t *s = opaque;
    uintptr_t tag = (uintptr_t)m->_private;
    int type = (int)(tag & 3);
    uint64_t seq = (uint64_t)(tag >> 2);
    int ok = m->err == RD_KAFKA_RESP_ERR_NO_ERROR;

    if (!ok) {
        s->st.delivery_failures++;
        if (s->st.delivery_failures <= MAX_LOGGED_FAILURES)
            cp_log_warn("requests.delivery_failed", "topic=%s key=\"%.*s\" error=\"%s\"",
                        rd_kafka_topic_name(m->rkt), (int)(m->key_len < 200 ? m->key_len : 200),
                        m->key ? (const char *)m->key : "", rd_kafka_err2str(m->err));
    }
    if (type != MSG_PRICE)
        s->last_request_ack = mono_s();
    switch (type) {
    case MSG_REQUEST_PRICED: {
        price_entry_t *e = pq_find(&s->pq, seq);
        if (e)
            e->state = ok ? REQ_DELIVERED : REQ_FAILED;
    }
        /* fall through */
    case MSG_REQUEST:
        if (ok) {
            s->st.requests_sent++;
            if (s->ids_out && (fwrite(m->key, 1, m->key_len, s->ids_out) != m->key_len ||
                               fputc('\n', s->ids_out) == EOF))
                s->out_error = 1;
        }
        break;
    case MSG_MALFORMED:
        if (ok)
            s->st.malformed_sent++;
        break;
    default:
        if (ok) {
            s->st.prices_sent++;
            if (s->prices_out) {
                /* The price text sits between "price": and the next comma of
                 * the value we encoded ourselves. */
                const char *v = m->payload, *p = NULL, *end = NULL;
                static const char tagstr[] = ",\"price\":";
                for (size_t i = 0; i + sizeof tagstr - 1 < m->len; i++)
                    if (memcmp(v + i, tagstr, sizeof tagstr - 1) == 0) {
                        p = v + i + sizeof tagstr - 1;
                        break;
                    }
                if (p)
                    end = memchr(p, ',', m->len - (size_t)(p - v));
                if (!p || !end || fwrite(m->key, 1, m->key_len, s->prices_out) != m->key_len ||
                    fputc(',', s->prices_out) == EOF ||
                    fwrite(p, 1, (size_t)(end - p), s->prices_out) != (size_t)(end - p) ||
                    fputc('\n', s->prices_out) == EOF)
                    s->out_error = 1;
            }
        }
        break;
    }
}

/* Copies text for a quoted logfmt value: double quotes become single ones
 * and control characters spaces, so that one event stays one parsable line. */
static const char *log_text(char *dst, size_t n, const char *src)
{
    size_t i = 0;
    for (; src && src[i] && i + 1 < n; i++) {
        char c = src[i];
        dst[i] = c == '"' ? '\'' : (unsigned char)c < 0x20 ? ' ' : c;
    }
    dst[i] = '\0';
    return dst;
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    sim_t *s = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[400];
        rd_kafka_fatal_error(rk, why, sizeof why);
        snprintf(s->fatal_msg, sizeof s->fatal_msg, "Kafka producer failed: %s", why);
        s->fatal = 1;
        char text[400];
        cp_log_error("requests.kafka_fatal", "error=\"%s\"", log_text(text, sizeof text, why));
        return;
    }
    char text[512];
    cp_log_warn("requests.kafka_error", "error=%s reason=\"%s\"",
                rd_kafka_err2name((rd_kafka_resp_err_t)err), log_text(text, sizeof text, reason));
}

/* librdkafka's own log lines, as logfmt events. Runs on librdkafka's
 * threads; cp_log is thread-safe. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    cp_log_level_t l = level <= 3 ? CP_LOG_ERROR : level <= 4 ? CP_LOG_WARN : CP_LOG_DEBUG;
    if (level == 5 || level == 6)
        l = CP_LOG_INFO;
    char text[512];
    cp_log(l, "requests.librdkafka", "facility=%s message=\"%s\"", fac,
           log_text(text, sizeof text, buf));
}

static int set_conf(rd_kafka_conf_t *conf, const char *k, const char *v, char *err, size_t errlen)
{
    char why[256];
    if (rd_kafka_conf_set(conf, k, v, why, sizeof why) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "producer setting %s: %s", k, why);
        return -1;
    }
    return 0;
}

static int producer_new(sim_t *s, char *err, size_t errlen)
{
    const cp_req_sim_config_t *c = s->cfg;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* Throughput: batches of up to 10k messages gathered for 10 ms,
     * compressed (requests are JSON text, lz4 is cheap). Oversized malformed
     * requests are just over 1 MiB, so requests up to 8 MiB must pass; the
     * local broker accepts 10 MiB. */
    static const char *const defaults[][2] = {
        {"enable.idempotence", "true"},
        {"acks", "all"},
        {"linger.ms", "10"},
        {"batch.num.messages", "10000"},
        {"batch.size", "4194304"},
        {"compression.codec", "lz4"},
        {"message.max.bytes", "8388608"},
        {"queue.buffering.max.messages", "1000000"},
        {"message.timeout.ms", "120000"},
        {"client.id", "carprice-requests"},
    };
    if (set_conf(conf, "bootstrap.servers", c->bootstrap, err, errlen) != 0)
        goto fail;
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
        if (set_conf(conf, defaults[i][0], defaults[i][1], err, errlen) != 0)
            goto fail;
    for (size_t i = 0; i < c->n_producer_options; i++) {
        const char *o = c->producer_options[i];
        const char *eq = strchr(o, '=');
        char key[128];
        if (!eq || eq == o || (size_t)(eq - o) >= sizeof key) {
            snprintf(err, errlen, "producer option '%s' is not KEY=VALUE", o);
            goto fail;
        }
        memcpy(key, o, (size_t)(eq - o));
        key[eq - o] = '\0';
        if (set_conf(conf, key, eq + 1, err, errlen) != 0)
            goto fail;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_set_opaque(conf, s);
    char why[512];
    s->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof why);
    if (!s->rk) {
        snprintf(err, errlen, "cannot create the Kafka producer: %s", why);
        goto fail;
    }
    conf = NULL; /* owned by rk now */
    s->req_topic = rd_kafka_topic_new(s->rk, c->requests_topic, NULL);
    s->price_topic = rd_kafka_topic_new(s->rk, c->prices_topic, NULL);
    if (!s->req_topic || !s->price_topic) {
        snprintf(err, errlen, "cannot create topic handles: %s",
                 rd_kafka_err2str(rd_kafka_last_error()));
        return CP_REQ_ERR_KAFKA;
    }
    /* Fail early and clearly when no broker answers, instead of queueing
     * messages that time out minutes later. */
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(s->rk, 0, s->req_topic, &md, 10000);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "cannot reach Kafka at %s: %s", c->bootstrap, rd_kafka_err2str(e));
        return CP_REQ_ERR_KAFKA;
    }
    rd_kafka_metadata_destroy(md);
    return 0;
fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    return s->rk ? CP_REQ_ERR_KAFKA : CP_REQ_ERR_ARG;
}

/* Produces one message, waiting while librdkafka's queue is full. Returns 0,
 * or -1 if it was not queued (counted as a delivery failure). */
static int produce(sim_t *s, rd_kafka_topic_t *t, const char *key, size_t klen, const void *val,
                   size_t vlen, int64_t ts_ms, uintptr_t tag)
{
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            s->rk, RD_KAFKA_V_RKT(t), RD_KAFKA_V_KEY(key, klen),
            RD_KAFKA_V_VALUE((void *)val, vlen), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_TIMESTAMP(ts_ms), RD_KAFKA_V_OPAQUE((void *)tag), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            return 0;
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL && !s->fatal && stop_level(s) < 2) {
            rd_kafka_poll(s->rk, 10);
            continue;
        }
        s->st.delivery_failures++;
        if (s->st.delivery_failures <= MAX_LOGGED_FAILURES)
            cp_log_warn("requests.produce_failed", "topic=%s key=\"%.*s\" error=\"%s\"",
                        rd_kafka_topic_name(t), (int)klen, key, rd_kafka_err2str(e));
        return -1;
    }
}

static void request_id(char *out, size_t n, const char *run_id, uint64_t seq)
{
    snprintf(out, n, "%s-%08" PRIu64, run_id, seq);
}

/* Sends the prices that are due and whose request was acknowledged; drops
 * those whose request failed. */
static void send_due_prices(sim_t *s)
{
    int64_t now = real_ms();
    while (s->pq.count) {
        price_entry_t *e = pq_at(&s->pq, 0);
        if (e->state == REQ_FAILED) {
            s->st.prices_dropped++;
            pq_pop(&s->pq);
            continue;
        }
        if (e->due_ms > now || e->state == REQ_PENDING)
            return;
        char id[160];
        request_id(id, sizeof id, s->cfg->run_id, e->seq);
        cp_buf_reset(&s->msg);
        if (cp_req_encode_price(&s->msg, id, e->price, now) != CP_REQ_OK) {
            s->st.prices_dropped++;
        } else {
            produce(s, s->price_topic, id, strlen(id), s->msg.data, s->msg.len, now,
                    (uintptr_t)MSG_PRICE);
        }
        pq_pop(&s->pq);
    }
}

/* The price of a row as JSON number text in out, or 0 if it has none. */
static int row_price(const char *v, size_t len, char *out, size_t outlen)
{
    if (!v || len == 0)
        return 0;
    if (len < outlen && cp_json_is_number(v, len)) {
        memcpy(out, v, len);
        out[len] = '\0';
        return 1;
    }
    char *end = NULL;
    double d = strtod(v, &end);
    while (end && *end == ' ')
        end++;
    if (!end || end == v || *end != '\0' || !isfinite(d))
        return 0;
    snprintf(out, outlen, "%.15g", d);
    return cp_json_is_number(out, strlen(out));
}

/* Whether item i of a stream is chosen when `frac` of them should be: the
 * chosen ones are spread evenly, and any n consecutive items hold
 * floor(n * frac) or ceil(n * frac) of them. `phase` in [0, 1) shifts them. */
static int choose(uint64_t i, double frac, double phase)
{
    if (frac <= 0)
        return 0;
    if (frac >= 1)
        return 1;
    return floor((double)(i + 1) * frac + phase) > floor((double)i * frac + phase);
}

static double seed_phase(uint64_t seed, uint64_t salt)
{
    uint64_t z = seed + salt * UINT64_C(0x9E3779B97F4A7C15);
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

static void log_progress(sim_t *s, uint64_t rows)
{
    double el = mono_s() - s->t0;
    cp_log_info("requests.progress",
                "rows=%" PRIu64 " requests_sent=%" PRIu64 " malformed_sent=%" PRIu64
                " prices_sent=%" PRIu64 " prices_waiting=%zu delivery_failures=%" PRIu64
                " elapsed_s=%.1f rows_per_s=%.0f",
                rows, s->st.requests_sent, s->st.malformed_sent, s->st.prices_sent, s->pq.count,
                s->st.delivery_failures, el, el > 0 ? (double)rows / el : 0.0);
}

/* Waits up to ms for events (deliveries), in slices short enough to notice a
 * stop request. */
static void wait_events(sim_t *s, double ms)
{
    if (ms <= 0) {
        rd_kafka_poll(s->rk, 0);
        return;
    }
    int slice = ms > 100 ? 100 : (int)ceil(ms);
    rd_kafka_poll(s->rk, slice);
}

static int check_config(const cp_req_sim_config_t *c, char *err, size_t errlen)
{
    if (!c->input || !*c->input) {
        snprintf(err, errlen, "no input given");
        return CP_REQ_ERR_ARG;
    }
    if (!c->bootstrap || !*c->bootstrap || !c->requests_topic || !*c->requests_topic ||
        !c->prices_topic || !*c->prices_topic || !c->run_id || !*c->run_id) {
        snprintf(err, errlen, "bootstrap, topics and run id must not be empty");
        return CP_REQ_ERR_ARG;
    }
    if (strlen(c->run_id) > 100) {
        snprintf(err, errlen, "run id longer than 100 characters");
        return CP_REQ_ERR_ARG;
    }
    if (!(c->rate >= 0) || !(c->price_fraction >= 0 && c->price_fraction <= 1) ||
        !(c->malformed_ratio >= 0 && c->malformed_ratio <= 1) || c->price_delay_ms < 0) {
        snprintf(err, errlen, "rate, fractions or delay out of range");
        return CP_REQ_ERR_ARG;
    }
    return 0;
}

static FILE *open_out(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f)
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
    else
        setvbuf(f, NULL, _IOFBF, 1 << 20);
    return f;
}

static int close_out(FILE *f, const char *path, char *err, size_t errlen, int rc)
{
    if (!f)
        return rc;
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        if (rc == 0 || rc == CP_REQ_ERR_DELIVERY) {
            snprintf(err, errlen, "%s: write failed", path);
            return CP_REQ_ERR_IO;
        }
    }
    return rc;
}

/* Delivers everything queued; with stop level 2 gives up at once (the rest
 * is purged and reported as failed). */
static void drain(sim_t *s)
{
    while (rd_kafka_outq_len(s->rk) > 0) {
        if (stop_level(s) >= 2 || s->fatal) {
            rd_kafka_purge(s->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
            rd_kafka_flush(s->rk, 5000);
            return;
        }
        rd_kafka_flush(s->rk, 100);
    }
}

int cp_req_sim_run(const cp_req_sim_config_t *cfg, cp_req_sim_stats_t *stats, char *errbuf,
                   size_t errlen)
{
    char errtmp[512] = "";
    char *err = errbuf && errlen ? errbuf : errtmp;
    size_t elen = errbuf && errlen ? errlen : sizeof errtmp;
    err[0] = '\0';
    if (stats)
        memset(stats, 0, sizeof *stats);
    if (!cfg) {
        snprintf(err, elen, "no configuration");
        return CP_REQ_ERR_ARG;
    }
    int rc = check_config(cfg, err, elen);
    if (rc)
        return rc;

    sim_t s;
    memset(&s, 0, sizeof s);
    s.cfg = cfg;
    s.t0 = mono_s();
    s.last_request_ack = s.t0;
    /* Room for the oversized malformed kind. */
    cp_buf_init(&s.msg, CP_REQ_MAX_REQUEST_BYTES +
                            (cfg->max_record ? cfg->max_record : CP_CSV_DEFAULT_MAX_RECORD) +
                            (1 << 20));
    source_t src;
    rc = source_open(&src, cfg->input, cfg->max_record, err, elen);
    if (rc) {
        source_close(&src);
        cp_buf_free(&s.msg);
        return rc;
    }
    if (cfg->ids_out && !(s.ids_out = open_out(cfg->ids_out, err, elen)))
        rc = CP_REQ_ERR_IO;
    if (!rc && cfg->prices_out && !(s.prices_out = open_out(cfg->prices_out, err, elen)))
        rc = CP_REQ_ERR_IO;
    /* Check the input before touching Kafka: a wrong file must not create
     * topics or connections. */
    if (!rc) {
        int r = source_open_next(&src, err, elen);
        if (r > 1)
            rc = r;
    }
    if (!rc)
        rc = producer_new(&s, err, elen);
    if (rc)
        goto done;

    cp_log_info("requests.start",
                "input=\"%s\" files=%zu bootstrap=%s requests_topic=%s prices_topic=%s rate=%g "
                "limit=%" PRIu64 " price_fraction=%g price_delay_ms=%" PRId64
                " malformed_ratio=%g run_id=%s",
                cfg->input, src.npaths, cfg->bootstrap, cfg->requests_topic, cfg->prices_topic,
                cfg->rate, cfg->limit, cfg->price_fraction, cfg->price_delay_ms,
                cfg->malformed_ratio, cfg->run_id);

    const double price_phase = seed_phase(cfg->seed, 1), bad_phase = seed_phase(cfg->seed, 2);
    cp_req_field_t fields[NCOLS];
    int price_col = -1;
    for (int c = 0; c < NCOLS; c++)
        if (strcmp(cp_data_column_name(c), "price") == 0)
            price_col = c;
    uint64_t seq = 0, nvalid_priced = 0, nbad = 0;
    double next_progress = s.t0 + PROGRESS_EVERY_MS / 1000.0;
    char id[160];

    /* ---- send rows ---- */
    while (!stop_level(&s) && !s.fatal && (!cfg->limit || seq < cfg->limit)) {
        int r = source_next(&src, err, elen);
        if (r == 1)
            break;
        if (r) {
            rc = r;
            break;
        }
        s.st.rows_read++;
        if (cp_csv_nfields(src.csv) != src.ncols_in) {
            s.st.rows_skipped++;
            if (s.st.rows_skipped <= MAX_LOGGED_SKIPS)
                cp_log_warn("requests.row_skipped",
                            "file=\"%s\" line=%" PRIu64 " fields=%zu expected=%zu", src.path,
                            cp_csv_record_line(src.csv), cp_csv_nfields(src.csv), src.ncols_in);
            continue;
        }
        /* Keep to the rate: row `seq` leaves at t0 + seq / rate. */
        if (cfg->rate > 0) {
            double due = s.t0 + (double)seq / cfg->rate;
            for (double now = mono_s(); now < due && !stop_level(&s); now = mono_s()) {
                send_due_prices(&s);
                double wait = (due - now) * 1000.0;
                if (wait < 1.0)
                    break; /* sub-millisecond: go now, the schedule stays absolute */
                wait_events(&s, wait);
            }
            if (stop_level(&s))
                break;
        }

        const char *pv = NULL;
        size_t pl = 0, nf = 0;
        for (int c = 0; c < NCOLS; c++) {
            size_t len;
            const char *v = cp_csv_field(src.csv, (size_t)src.col[c], &len);
            if (c == price_col) {
                pv = v;
                pl = len;
                continue;
            }
            fields[nf].name = cp_data_column_name(c);
            fields[nf].value = v;
            fields[nf].len = len;
            nf++;
        }
        request_id(id, sizeof id, cfg->run_id, seq);
        size_t idlen = strlen(id);
        int64_t now_ms = real_ms();
        cp_buf_reset(&s.msg);
        if (choose(seq, cfg->malformed_ratio, bad_phase)) {
            int kind = (int)(nbad % CP_REQ_BAD_NKINDS);
            unsigned variant = (unsigned)(nbad / CP_REQ_BAD_NKINDS);
            nbad++;
            rc = cp_req_encode_malformed(&s.msg, kind, variant, id, now_ms, fields, nf);
            if (rc) {
                snprintf(err, elen, "encoding a malformed request: %s", cp_req_strerror(rc));
                break;
            }
            produce(&s, s.req_topic, id, idlen, s.msg.data, s.msg.len, now_ms,
                    ((uintptr_t)seq << 2) | MSG_MALFORMED);
        } else {
            char price[40];
            int priced = row_price(pv, pl, price, sizeof price) &&
                         choose(nvalid_priced++, cfg->price_fraction, price_phase);
            rc = cp_req_encode_request(&s.msg, id, now_ms, fields, nf);
            if (rc) {
                snprintf(err, elen, "%s:%" PRIu64 ": encoding the request: %s", src.path,
                         cp_csv_record_line(src.csv), cp_req_strerror(rc));
                break;
            }
            if (priced) {
                price_entry_t *e = pq_push(&s.pq);
                if (!e) {
                    rc = CP_REQ_ERR_NOMEM;
                    snprintf(err, elen, "out of memory for the price queue");
                    break;
                }
                e->seq = seq;
                e->due_ms = now_ms + cfg->price_delay_ms;
                e->state = REQ_PENDING;
                memcpy(e->price, price, sizeof e->price);
            }
            if (produce(&s, s.req_topic, id, idlen, s.msg.data, s.msg.len, now_ms,
                        ((uintptr_t)seq << 2) | (priced ? MSG_REQUEST_PRICED : MSG_REQUEST)) != 0 &&
                priced)
                pq_find(&s.pq, seq)->state = REQ_FAILED;
        }
        seq++;
        if ((seq & 31) == 0) {
            rd_kafka_poll(s.rk, 0);
            send_due_prices(&s);
            double now = mono_s();
            if (now >= next_progress) {
                log_progress(&s, seq);
                next_progress = now + PROGRESS_EVERY_MS / 1000.0;
            }
        }
    }
    s.st.interrupted = stop_level(&s) > 0;
    cp_log_debug("requests.input_done", "rows=%" PRIu64 " elapsed_s=%.3f waiting=%d", seq,
                 mono_s() - s.t0, rd_kafka_outq_len(s.rk));

    /* ---- deliver the rest ---- */
    /* Bad input ends the reading, not the run: the requests already sent
     * still get their prices. */
    if (!stop_level(&s) && !s.fatal && (!rc || rc == CP_REQ_ERR_INPUT)) {
        /* Every chosen price, each at its time. */
        while (s.pq.count && !stop_level(&s) && !s.fatal) {
            send_due_prices(&s);
            if (!s.pq.count)
                break;
            price_entry_t *e = pq_at(&s.pq, 0);
            double wait = e->state == REQ_PENDING ? 100.0 : (double)(e->due_ms - real_ms());
            wait_events(&s, wait);
            double now = mono_s();
            if (now >= next_progress) {
                log_progress(&s, seq);
                next_progress = now + PROGRESS_EVERY_MS / 1000.0;
            }
        }
        s.st.interrupted = stop_level(&s) > 0;
    }
    /* Stopped (or failed): what was produced, then the prices already due. */
    drain(&s);
    send_due_prices(&s);
    drain(&s);
    s.st.prices_dropped += s.pq.count;
    s.pq.count = 0;

    if (s.fatal && !rc) {
        rc = CP_REQ_ERR_KAFKA;
        snprintf(err, elen, "%s", s.fatal_msg);
    }
    if (!rc && s.st.delivery_failures) {
        rc = CP_REQ_ERR_DELIVERY;
        snprintf(err, elen, "%" PRIu64 " messages were not delivered", s.st.delivery_failures);
    }

done:
    if (s.req_topic)
        rd_kafka_topic_destroy(s.req_topic);
    if (s.price_topic)
        rd_kafka_topic_destroy(s.price_topic);
    if (s.rk)
        rd_kafka_destroy(s.rk);
    rc = close_out(s.ids_out, cfg->ids_out, err, elen, rc);
    rc = close_out(s.prices_out, cfg->prices_out, err, elen, rc);
    if (s.out_error && (rc == 0 || rc == CP_REQ_ERR_DELIVERY)) {
        rc = CP_REQ_ERR_IO;
        snprintf(err, elen, "writing --ids-out or --prices-out failed");
    }
    double end = mono_s();
    s.st.elapsed_s = end - s.t0;
    s.st.send_s = s.last_request_ack - s.t0;
    if (stats)
        *stats = s.st;
    source_close(&src);
    free(s.pq.e);
    cp_buf_free(&s.msg);
    return rc;
}
