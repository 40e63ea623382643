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
} cp_audit_t;

/* Reads the ids (one per line, blank lines ignored) from ids_path and the
 * whole topic (and dlq_topic, when not NULL: a request serve rejected is
 * answered by its dead letter, not lost) from the beginning until every id
 * is answered, or until
 * idle_ms pass without a new message after the topic's end was reached, or
 * max_ms pass in all. Returns 0 (see *out), -1 with one line in err. */
int cp_audit_predictions(const char *bootstrap, const char *topic, const char *dlq_topic,
                         const char *ids_path, long idle_ms, long max_ms, cp_audit_t *out,
                         char *err, size_t errlen);

#endif
