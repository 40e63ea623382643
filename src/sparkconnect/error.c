#include "error_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

sc_error_t *sc_error_new(void)
{
    return calloc(1, sizeof(sc_error_t));
}

void sc_error_destroy(sc_error_t *err)
{
    free(err);
}

void sc_error_clear(sc_error_t *err)
{
    if (err)
        memset(err, 0, sizeof *err);
}

sc_code_t sc_error_set(sc_error_t *err, sc_code_t code, const char *fmt, ...)
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

static void copy_field(char *dst, size_t cap, const char *src)
{
    if (!src)
        return;
    snprintf(dst, cap, "%s", src);
}

void sc_error_set_detail(sc_error_t *err, int grpc_status, const char *error_class,
                         const char *sqlstate, bool retriable)
{
    if (!err)
        return;
    err->grpc_status = grpc_status;
    err->retriable = retriable;
    copy_field(err->error_class, sizeof err->error_class, error_class);
    copy_field(err->sqlstate, sizeof err->sqlstate, sqlstate);
}

sc_code_t sc_error_code(const sc_error_t *err)
{
    return err ? err->code : SC_OK;
}

const char *sc_error_message(const sc_error_t *err)
{
    return err ? err->message : "";
}

int sc_error_grpc_status(const sc_error_t *err)
{
    return err ? err->grpc_status : 0;
}

const char *sc_error_class(const sc_error_t *err)
{
    return err ? err->error_class : "";
}

const char *sc_error_sqlstate(const sc_error_t *err)
{
    return err ? err->sqlstate : "";
}

bool sc_error_retriable(const sc_error_t *err)
{
    return err && err->retriable;
}

const char *sc_code_name(sc_code_t code)
{
    static const char *const names[] = {
        "SC_OK",         "SC_ERR_INVALID_ARG",  "SC_ERR_NOMEM",       "SC_ERR_TRANSPORT",
        "SC_ERR_SERVER", "SC_ERR_PROTOCOL",     "SC_ERR_UNSUPPORTED", "SC_ERR_TIMEOUT",
        "SC_ERR_LIMIT",  "SC_ERR_SESSION_LOST", "SC_ERR_NOT_FOUND",
    };
    if ((unsigned)code < sizeof names / sizeof names[0])
        return names[code];
    return "SC_ERR_UNKNOWN";
}
