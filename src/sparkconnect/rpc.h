/* Private: gRPC transport for Spark Connect over the gRPC core C API.
 *
 * One channel per session; gRPC channels are thread-safe, and every call gets
 * its own completion queue, so calls may run concurrently from several
 * threads (the ensemble trainer fits models in parallel this way). */
#ifndef SPARKCONNECT_RPC_H
#define SPARKCONNECT_RPC_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error_internal.h"

typedef struct {
    char *host;
    int port;
    char *token;      /* bearer token, or NULL */
    char *user_id;    /* user context; defaults to $USER */
    char *session_id; /* fixed session id, or NULL for a new UUID */
    bool use_ssl;
} sc_conninfo_t;

/* Parses "sc://host[:port][/;key=value;...]". Keys: token, user_id, use_ssl,
 * session_id, user_agent (ignored). Unknown keys are an error. */
sc_code_t sc_conninfo_parse(const char *url, sc_conninfo_t *out, sc_error_t *err);
void sc_conninfo_free(sc_conninfo_t *ci);

typedef struct sc_channel_s sc_channel_t;

sc_code_t sc_channel_open(const sc_conninfo_t *ci, size_t max_recv_bytes, sc_channel_t **out,
                          sc_error_t *err);
void sc_channel_close(sc_channel_t *ch);

/* Called for each response message of a call, on the calling thread. Return
 * SC_OK to continue; anything else cancels the call and becomes its result. */
typedef sc_code_t (*sc_rpc_msg_fn)(const uint8_t *data, size_t len, void *opaque, sc_error_t *err);

/* Calls `method` (e.g. "/spark.connect.SparkConnectService/ExecutePlan") with
 * one request and streams every response to fn. timeout_ms <= 0 means no
 * deadline. Retries with backoff and jitter while the server is UNAVAILABLE
 * and no response has been delivered yet. On failure err carries the gRPC
 * status and, for errors Spark raised, its error class and SQL state. */
sc_code_t sc_rpc_call(sc_channel_t *ch, const char *method, const ProtobufCMessage *req,
                      long timeout_ms, sc_rpc_msg_fn fn, void *opaque, sc_error_t *err);

/* Requests cancellation of every call in flight on the channel (used by
 * interrupt-all paths and shutdown). */
void sc_channel_cancel_all(sc_channel_t *ch);

#endif
