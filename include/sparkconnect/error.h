/* Errors of the Spark Connect client library.
 *
 * Every fallible sc_ call returns an sc_code_t (SC_OK = 0) and, when the
 * caller passes a non-NULL sc_error_t, fills it with the detail: a message,
 * the gRPC status, and for errors raised by Spark its error class and SQL state.
 * An error object is reused across calls; each failing call overwrites it. */
#ifndef SPARKCONNECT_ERROR_H
#define SPARKCONNECT_ERROR_H

#include <stdbool.h>

typedef enum {
    SC_OK = 0,
    SC_ERR_INVALID_ARG,  /* the caller passed something unusable */
    SC_ERR_NOMEM,        /* an allocation failed */
    SC_ERR_TRANSPORT,    /* the RPC failed below Spark (connection, TLS, deadline) */
    SC_ERR_SERVER,       /* Spark raised an error: see error class / SQL state */
    SC_ERR_PROTOCOL,     /* the server's reply was malformed (protobuf, Arrow) */
    SC_ERR_UNSUPPORTED,  /* a type or feature this library does not handle */
    SC_ERR_TIMEOUT,      /* a deadline or wait expired */
    SC_ERR_LIMIT,        /* a size limit was exceeded */
    SC_ERR_SESSION_LOST, /* the server no longer knows our session (restarted) */
    SC_ERR_NOT_FOUND,    /* a named object (query, model, column) does not exist */
} sc_code_t;

typedef struct sc_error_s sc_error_t;

/* Allocates an empty error object; NULL when out of memory. */
sc_error_t *sc_error_new(void);

/* Frees an error object. Accepts NULL. */
void sc_error_destroy(sc_error_t *err);

/* Clears the error back to SC_OK. Accepts NULL. */
void sc_error_clear(sc_error_t *err);

/* Accessors. Strings are borrowed from err, valid until its next use; they are
 * "" (never NULL) when absent. */
sc_code_t sc_error_code(const sc_error_t *err);
const char *sc_error_message(const sc_error_t *err);
int sc_error_grpc_status(const sc_error_t *err);      /* 0 (OK) when not an RPC failure */
const char *sc_error_class(const sc_error_t *err);    /* e.g. "TABLE_OR_VIEW_NOT_FOUND"; for
                                                       * JVM errors without one, the exception
                                                       * class ("java.util.NoSuchElementException") */
const char *sc_error_sqlstate(const sc_error_t *err); /* e.g. "42P01" */
bool sc_error_retriable(const sc_error_t *err);       /* true when retrying may succeed */

/* A static name for a code, e.g. "SC_ERR_SERVER". */
const char *sc_code_name(sc_code_t code);

#endif
