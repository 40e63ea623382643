/* Test support: produce to and drain Kafka topics of the local stack. */
#ifndef CARPRICE_TEST_KAFKA_UTIL_H
#define CARPRICE_TEST_KAFKA_UTIL_H

#include <stddef.h>

/* The broker: $CARPRICE_KAFKA_BOOTSTRAP or 127.0.0.1:9092. */
const char *tk_bootstrap(void);

/* Produces n (key, value) messages (a NULL value: a tombstone) and waits
 * for all acknowledgements.
 * Returns 0, or -1 with a message on stderr. */
int tk_produce(const char *topic, const char *const *keys, const char *const *values, size_t n);

/* One consumed message; key/value are NUL-terminated copies. */
typedef struct {
    char *key;
    char *value;
} tk_msg_t;

/* Reads a topic from the beginning until `want` messages arrived or
 * timeout_ms passed; returns how many were read into *out (free with
 * tk_msgs_free). */
size_t tk_consume(const char *topic, size_t want, long timeout_ms, tk_msg_t **out);

void tk_msgs_free(tk_msg_t *msgs, size_t n);

/* A topic name unique to this process: prefix.<time>.<pid>. Static buffer. */
const char *tk_unique_topic(const char *prefix);

#endif
