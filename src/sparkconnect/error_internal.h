/* Private: how the library fills sc_error_t. */
#ifndef SPARKCONNECT_ERROR_INTERNAL_H
#define SPARKCONNECT_ERROR_INTERNAL_H

#include "sparkconnect/error.h"

struct sc_error_s {
    sc_code_t code;
    int grpc_status;
    bool retriable;
    char message[1024];
    char error_class[128];
    char sqlstate[16];
};

/* Sets code and message (printf-style) on err if non-NULL, clearing the other
 * fields, and returns code so callers can `return sc_error_set(...)`. */
sc_code_t sc_error_set(sc_error_t *err, sc_code_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fills the Spark-specific fields after sc_error_set. Any may be NULL. */
void sc_error_set_detail(sc_error_t *err, int grpc_status, const char *error_class,
                         const char *sqlstate, bool retriable);

#endif
