/* Audit of a serving run: every request id sent is compared with the
 * prediction messages on Kafka (key = request id, value with model_version),
 * giving sent / answered / lost / duplicated and answers per model version.
 * Used by `carprice audit` (the summary of `make demo`). */
#ifndef CARPRICE_AUDIT_H
#define CARPRICE_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#define CP_AUDIT_MAX_VERSIONS 32

typedef struct {
    int64_t sent;         /* distinct request ids given */
    int64_t answered;     /* ids with at least one prediction */
    int64_t rejected;     /* ids without a prediction but with a dead letter */
    int64_t lost;         /* ids with neither */
    int64_t duplicated;   /* ids answered more than once */
    int64_t messages;     /* prediction messages read (all keys) */
    int64_t dead_letters; /* dead-letter messages read (all keys) */
    int64_t foreign;      /* messages for ids not in the list */
    size_t nversions;
    char versions[CP_AUDIT_MAX_VERSIONS][32];
    int64_t version_answers[CP_AUDIT_MAX_VERSIONS]; /* messages per model_version */
    /* Earliest and latest request_ts_ms (the request's send time) among each
     * version's answers to listed ids; 0 when a message had none. */
    int64_t version_first_request_ms[CP_AUDIT_MAX_VERSIONS];
    int64_t version_last_request_ms[CP_AUDIT_MAX_VERSIONS];
} cp_audit_t;

/* One model version's live metrics (docs/live-metrics.md): how many window
 * messages it has, and the latest window (greatest window_end_ms; the larger
 * count on a tie). A null metric (e.g. r2 with constant prices) is NaN. */
typedef struct {
    char version[32];
    int64_t windows;
    int64_t window_start_ms, window_end_ms;
    int64_t count;
    double mae, rmse, mape, r2;
} cp_audit_window_t;

typedef struct {
    int64_t messages; /* metrics messages read */
    int64_t invalid;  /* messages without a version or a window */
    size_t nversions;
    cp_audit_window_t versions[CP_AUDIT_MAX_VERSIONS];
} cp_audit_metrics_t;

/* Reads the ids (one per line, blank lines ignored) from ids_path and the
 * whole topic (and dlq_topic, when not NULL: a request serve rejected is
 * answered by its dead letter, not lost) from the beginning until every id
 * is answered, or until
 * idle_ms pass without a new message after the topic's end was reached, or
 * max_ms pass in all. Returns 0 (see *out), -1 with one line in err. */
int cp_audit_predictions(const char *bootstrap, const char *topic, const char *dlq_topic,
                         const char *ids_path, long idle_ms, long max_ms, cp_audit_t *out,
                         char *err, size_t errlen);

/* Reads the live-metrics topic from the beginning to its end (bounded by
 * max_ms) and summarises it per model version. A topic that does not exist
 * holds nothing. Returns 0 (see *out), -1 with one line in err. */
int cp_audit_metrics(const char *bootstrap, const char *topic, long max_ms, cp_audit_metrics_t *out,
                     char *err, size_t errlen);

#endif
