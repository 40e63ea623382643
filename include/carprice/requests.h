/* carprice_kafka: the request and managers'-price simulator behind
 * `carprice requests`, and the encoders of the messages it sends. The
 * message formats are documented in docs/messages.md.
 *
 * Request (topic carprice.requests, key = request id):
 *   {"request_id":"<id>","sent_at_ms":<epoch ms>,
 *    "record":{"vin":"...",...}}       every raw column except price, as the
 *                                      raw CSV text; an empty field is null
 * Price (topic carprice.prices, key = request id):
 *   {"request_id":"<id>","price":<number>,"set_at_ms":<epoch ms>} */
#ifndef CARPRICE_REQUESTS_H
#define CARPRICE_REQUESTS_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "carprice/buf.h"

/* Result codes; 0 is success. */
typedef enum {
    CP_REQ_OK = 0,
    CP_REQ_ERR_ARG = 1,      /* invalid argument or configuration */
    CP_REQ_ERR_NOMEM = 2,    /* allocation failed or a buffer limit was reached */
    CP_REQ_ERR_INPUT = 3,    /* the input could not be opened or is not valid raw CSV */
    CP_REQ_ERR_IO = 4,       /* writing --ids-out / --prices-out failed */
    CP_REQ_ERR_KAFKA = 5,    /* the producer could not be created or failed fatally */
    CP_REQ_ERR_DELIVERY = 6, /* some messages were not delivered */
} cp_req_err_t;

/* A static description of a result code. */
const char *cp_req_strerror(int err);

/* ---- message encoders ---------------------------------------------------- */

/* One raw column of a request: `value` is the raw text (len bytes; NUL bytes
 * allowed), or NULL for a missing value, encoded as JSON null. */
typedef struct {
    const char *name;
    const char *value;
    size_t len;
} cp_req_field_t;

/* Appends a request message value to `out`. Fields are written in the order
 * given; a NULL value or an empty one (len 0) becomes null. Returns 0, or
 * CP_REQ_ERR_NOMEM if `out` reached its limit (it may hold a partial
 * message then; reset it). */
int cp_req_encode_request(cp_buf_t *out, const char *request_id, int64_t sent_at_ms,
                          const cp_req_field_t *fields, size_t nfields);

/* Appends a price message value. `price` must be the text of a JSON number
 * (cp_json_is_number); it is copied verbatim. Returns 0, CP_REQ_ERR_ARG if
 * price is not a JSON number, or CP_REQ_ERR_NOMEM. */
int cp_req_encode_price(cp_buf_t *out, const char *request_id, const char *price,
                        int64_t set_at_ms);

/* Kinds of malformed request, in the order the simulator cycles through. */
typedef enum {
    CP_REQ_BAD_NOT_JSON = 0,   /* plain text, not JSON at all */
    CP_REQ_BAD_TRUNCATED = 1,  /* a valid request cut in half */
    CP_REQ_BAD_MISSING = 2,    /* JSON without a required field */
    CP_REQ_BAD_WRONG_TYPE = 3, /* a required field of the wrong JSON type */
    CP_REQ_BAD_ABSURD = 4,     /* valid shape, impossible values (mileage < 0, year 1800, ...) */
    CP_REQ_BAD_OVERSIZED = 5,  /* a valid-looking request larger than CP_REQ_MAX_REQUEST_BYTES */
    CP_REQ_BAD_NKINDS = 6
} cp_req_bad_kind_t;

/* The largest request value a consumer must accept: 1 MiB. Oversized
 * malformed requests are a little larger than this. */
#define CP_REQ_MAX_REQUEST_BYTES ((size_t)1 << 20)

/* The name of a kind ("not_json", "truncated_json", "missing_field",
 * "wrong_type", "absurd_value", "oversized"), or NULL if out of range. */
const char *cp_req_bad_kind_name(int kind);

/* How many variants of a kind exist (each kind has a few ways to be wrong;
 * the simulator cycles through them too). 0 if kind is out of range. */
unsigned cp_req_bad_variants(int kind);

/* Appends a malformed request of `kind` and `variant` (taken modulo the
 * kind's variant count) built from a real request (same id, time, fields) so
 * that it looks like traffic. `out` needs a limit above
 * CP_REQ_MAX_REQUEST_BYTES + 64 KiB for the oversized kind. Returns 0,
 * CP_REQ_ERR_ARG for an unknown kind, or CP_REQ_ERR_NOMEM. */
int cp_req_encode_malformed(cp_buf_t *out, int kind, unsigned variant, const char *request_id,
                            int64_t sent_at_ms, const cp_req_field_t *fields, size_t nfields);

/* ---- the simulator ------------------------------------------------------- */

typedef struct {
    const char *input;          /* a raw CSV file, a directory of part-*.csv files, or "-" */
    const char *bootstrap;      /* Kafka bootstrap servers */
    const char *requests_topic; /* default carprice.requests */
    const char *prices_topic;   /* default carprice.prices */
    double rate;                /* requests per second; 0 = as fast as possible */
    uint64_t limit;             /* rows to send; 0 = all */
    double price_fraction;      /* 0..1 of valid requests later followed by their price */
    int64_t price_delay_ms;     /* a price is sent this long after its request */
    double malformed_ratio;     /* 0..1 of rows sent as malformed messages instead */
    uint64_t seed;              /* spreads the price and malformed choices */
    const char *run_id;         /* request ids are "<run_id>-<row number>" */
    const char *ids_out;        /* NULL, or a file for every delivered valid request id */
    const char *prices_out;     /* NULL, or a file for "request_id,price" of delivered prices */
    size_t max_record;          /* CSV record limit in bytes; 0 = CP_CSV_DEFAULT_MAX_RECORD */
    const char *const *producer_options; /* "key=value" librdkafka settings applied last */
    size_t n_producer_options;
    /* Set non-zero (e.g. by a signal handler) to stop: reading stops, what
     * was produced and the prices already due are delivered, the rest of the
     * prices are dropped. Set it to 2 or more to also stop waiting for
     * deliveries (they count as failed). May be NULL. */
    volatile sig_atomic_t *stop;
} cp_req_sim_config_t;

/* Fills a configuration with the defaults (strings point to static text). */
void cp_req_sim_config_init(cp_req_sim_config_t *cfg);

typedef struct {
    uint64_t rows_read;         /* data records read from the input */
    uint64_t rows_skipped;      /* records whose field count differs from the header */
    uint64_t requests_sent;     /* valid requests acknowledged by Kafka */
    uint64_t malformed_sent;    /* malformed requests acknowledged */
    uint64_t prices_sent;       /* prices acknowledged */
    uint64_t prices_dropped;    /* chosen prices not sent (stopped early, request undelivered) */
    uint64_t delivery_failures; /* messages Kafka did not acknowledge */
    double elapsed_s;           /* wall time of the whole run */
    double send_s;              /* from start until the last request was acknowledged */
    int interrupted;            /* 1 if stopped through cfg->stop */
} cp_req_sim_stats_t;

/* Runs the simulator until the input (or --limit) is exhausted, every chosen
 * price was sent, and every message was acknowledged or failed. Progress is
 * logged to stderr. Fills *stats (may be NULL) even on failure. Returns 0,
 * CP_REQ_ERR_DELIVERY if any message failed, or another code with a one-line
 * reason in errbuf (may be NULL). Runs on the calling thread, which also runs
 * the delivery and error callbacks (from its polls), so cfg->stop is the only
 * thing another thread or a signal handler should touch. */
int cp_req_sim_run(const cp_req_sim_config_t *cfg, cp_req_sim_stats_t *stats, char *errbuf,
                   size_t errlen);

#endif
