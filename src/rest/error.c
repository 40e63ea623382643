#include "rest_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cp_rest_error_s {
    cp_rest_code_t code;
    long http_status;
    bool retriable;
    char message[1024];
    char remote_code[128];
    char remote_message[1024];
};

cp_rest_error_t *cp_rest_error_new(void)
{
    return calloc(1, sizeof(cp_rest_error_t));
}

void cp_rest_error_destroy(cp_rest_error_t *err)
{
    free(err);
}

void cp_rest_error_clear(cp_rest_error_t *err)
{
    if (err)
        memset(err, 0, sizeof *err);
}

cp_rest_code_t cp_rest_fail(cp_rest_error_t *err, cp_rest_code_t code, const char *fmt, ...)
{
    if (!err)
        return code;
    memset(err, 0, sizeof *err);
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return code;
}

void cp_rest_error_detail(cp_rest_error_t *err, long http_status, const char *remote_code,
                          const char *remote_message, bool retriable)
{
    if (!err)
        return;
    err->http_status = http_status;
    err->retriable = retriable;
    if (remote_code)
        cp_rest_printable(err->remote_code, sizeof err->remote_code, remote_code,
                          sizeof err->remote_code - 1);
    if (remote_message)
        cp_rest_printable(err->remote_message, sizeof err->remote_message, remote_message,
                          sizeof err->remote_message - 1);
}

void cp_rest_error_set_retriable(cp_rest_error_t *err, bool retriable)
{
    if (err)
        err->retriable = retriable;
}

cp_rest_code_t cp_rest_error_code(const cp_rest_error_t *err)
{
    return err ? err->code : CP_REST_OK;
}

const char *cp_rest_error_message(const cp_rest_error_t *err)
{
    return err ? err->message : "";
}

long cp_rest_error_http_status(const cp_rest_error_t *err)
{
    return err ? err->http_status : 0;
}

const char *cp_rest_error_remote_code(const cp_rest_error_t *err)
{
    return err ? err->remote_code : "";
}

const char *cp_rest_error_remote_message(const cp_rest_error_t *err)
{
    return err ? err->remote_message : "";
}

bool cp_rest_error_retriable(const cp_rest_error_t *err)
{
    return err && err->retriable;
}

static const struct {
    const char *name;
    const char *text;
} g_codes[] = {
    [CP_REST_OK] = {"CP_REST_OK", "success"},
    [CP_REST_ERR_INVALID_ARG] = {"CP_REST_ERR_INVALID_ARG", "invalid argument"},
    [CP_REST_ERR_NOMEM] = {"CP_REST_ERR_NOMEM", "out of memory"},
    [CP_REST_ERR_CONNECT] = {"CP_REST_ERR_CONNECT", "could not connect to the server"},
    [CP_REST_ERR_TIMEOUT] = {"CP_REST_ERR_TIMEOUT", "timed out"},
    [CP_REST_ERR_TRANSPORT] = {"CP_REST_ERR_TRANSPORT", "transfer failed"},
    [CP_REST_ERR_SERVER] = {"CP_REST_ERR_SERVER", "server error"},
    [CP_REST_ERR_HTTP] = {"CP_REST_ERR_HTTP", "unexpected HTTP status"},
    [CP_REST_ERR_AUTH] = {"CP_REST_ERR_AUTH", "not authorised"},
    [CP_REST_ERR_NOT_FOUND] = {"CP_REST_ERR_NOT_FOUND", "resource not found"},
    [CP_REST_ERR_EXISTS] = {"CP_REST_ERR_EXISTS", "resource already exists"},
    [CP_REST_ERR_BAD_REQUEST] = {"CP_REST_ERR_BAD_REQUEST", "request rejected by the server"},
    [CP_REST_ERR_PROTOCOL] = {"CP_REST_ERR_PROTOCOL", "malformed response"},
    [CP_REST_ERR_LIMIT] = {"CP_REST_ERR_LIMIT", "size limit exceeded"},
    [CP_REST_ERR_IO] = {"CP_REST_ERR_IO", "local file error"},
    [CP_REST_ERR_FAILED] = {"CP_REST_ERR_FAILED", "operation failed"},
    [CP_REST_ERR_UNSUPPORTED] = {"CP_REST_ERR_UNSUPPORTED", "not supported"},
};

const char *cp_rest_strerror(cp_rest_code_t code)
{
    if ((unsigned)code < sizeof g_codes / sizeof g_codes[0])
        return g_codes[code].text;
    return "unknown error";
}

const char *cp_rest_code_name(cp_rest_code_t code)
{
    if ((unsigned)code < sizeof g_codes / sizeof g_codes[0])
        return g_codes[code].name;
    return "CP_REST_ERR_UNKNOWN";
}
