/* The deployer interface and its local-supervisor implementation: HTTP to
 * the supervisor's control API on 127.0.0.1. A Kubernetes implementation
 * adds another ops table. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "carprice/http.h"
#include "carprice/util.h"
#include "rollout_internal.h"

typedef struct {
    cp_rollout_code_t (*status)(cp_deployer_t *d, cp_rollout_status_t *st, char *errbuf,
                                size_t errlen);
    cp_rollout_code_t (*rollout)(cp_deployer_t *d, const char *version, const char *kind,
                                 char *errbuf, size_t errlen);
    void (*destroy)(cp_deployer_t *d);
} deployer_ops_t;

struct cp_deployer_s {
    const deployer_ops_t *ops;
    cp_http_t *http; /* local supervisor */
    cp_rest_error_t *err;
};

static void seterr(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void seterr(char *errbuf, size_t errlen, const char *fmt, ...)
{
    if (!errbuf || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}

/* ---- local supervisor ---- */

static cp_rollout_code_t local_call(cp_deployer_t *d, const char *method, const char *url,
                                    cp_http_response_t *resp, char *errbuf, size_t errlen)
{
    cp_http_request_t req = {.method = method, .url = url, .no_retry = !strcmp(method, "POST")};
    if (cp_http_do(d->http, &req, resp, d->err) != CP_REST_OK) {
        seterr(errbuf, errlen, "supervisor at %s: %s", cp_http_base_url(d->http),
               cp_rest_error_message(d->err));
        return CP_ROLLOUT_ERR_UNREACHABLE;
    }
    return CP_ROLLOUT_OK;
}

static cp_rollout_code_t local_status(cp_deployer_t *d, cp_rollout_status_t *st, char *errbuf,
                                      size_t errlen)
{
    memset(st, 0, sizeof *st);
    cp_http_response_t resp;
    cp_rollout_code_t rc = local_call(d, "GET", "/status", &resp, errbuf, errlen);
    if (rc == CP_ROLLOUT_OK && resp.status != 200) {
        seterr(errbuf, errlen, "supervisor GET /status: HTTP %ld: %.200s", resp.status,
               resp.body.data ? resp.body.data : "");
        rc = CP_ROLLOUT_ERR_PROTOCOL;
    }
    if (rc == CP_ROLLOUT_OK)
        rc = cp_rollout_status_parse(resp.body.data ? resp.body.data : "", st, errbuf, errlen);
    cp_http_response_free(&resp);
    return rc;
}

static cp_rollout_code_t local_rollout(cp_deployer_t *d, const char *version, const char *kind,
                                       char *errbuf, size_t errlen)
{
    char *v = cp_http_escape_query(version), *k = cp_http_escape_query(kind);
    char *url = v && k ? cp_strf("/rollout?version=%s&kind=%s", v, k) : NULL;
    free(v);
    free(k);
    if (!url) {
        seterr(errbuf, errlen, "out of memory");
        return CP_ROLLOUT_ERR_NOMEM;
    }
    cp_http_response_t resp;
    cp_rollout_code_t rc = local_call(d, "POST", url, &resp, errbuf, errlen);
    free(url);
    if (rc != CP_ROLLOUT_OK)
        return rc;
    const char *body = resp.body.data ? resp.body.data : "";
    if (resp.status == 409) {
        seterr(errbuf, errlen, "%.300s", body);
        rc = CP_ROLLOUT_ERR_BUSY;
    } else if (resp.status == 400) {
        seterr(errbuf, errlen, "%.300s", body);
        rc = CP_ROLLOUT_ERR_REFUSED;
    } else if (resp.status != 200 && resp.status != 202) {
        seterr(errbuf, errlen, "supervisor POST /rollout: HTTP %ld: %.300s", resp.status, body);
        rc = CP_ROLLOUT_ERR_PROTOCOL;
    }
    cp_http_response_free(&resp);
    return rc;
}

static void local_destroy(cp_deployer_t *d)
{
    cp_http_destroy(d->http);
    cp_rest_error_destroy(d->err);
}

static const deployer_ops_t local_ops = {local_status, local_rollout, local_destroy};

cp_rollout_code_t cp_deployer_local_new(int port, cp_deployer_t **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    if (port <= 0 || port > 65535) {
        seterr(errbuf, errlen, "control port must be 1..65535, not %d", port);
        return CP_ROLLOUT_ERR_INVALID_ARG;
    }
    cp_deployer_t *d = calloc(1, sizeof *d);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    cp_http_options_t ho;
    cp_http_options_init(&ho);
    ho.connect_timeout_ms = 3000;
    ho.timeout_ms = 15000;
    ho.max_retries = 2;
    ho.max_body_bytes = 1 << 20;
    if (!d || !(d->err = cp_rest_error_new()) ||
        cp_http_new(url, &ho, &d->http, d->err) != CP_REST_OK) {
        seterr(errbuf, errlen, "deployer: %s",
               d && d->err ? cp_rest_error_message(d->err) : "out of memory");
        if (d)
            cp_rest_error_destroy(d->err);
        free(d);
        return CP_ROLLOUT_ERR_NOMEM;
    }
    d->ops = &local_ops;
    *out = d;
    return CP_ROLLOUT_OK;
}

/* ---- the interface ---- */

void cp_deployer_destroy(cp_deployer_t *d)
{
    if (!d)
        return;
    d->ops->destroy(d);
    free(d);
}

cp_rollout_code_t cp_deployer_status(cp_deployer_t *d, cp_rollout_status_t *st, char *errbuf,
                                     size_t errlen)
{
    return d->ops->status(d, st, errbuf, errlen);
}

cp_rollout_code_t cp_deployer_current_version(cp_deployer_t *d, char *out, size_t outlen,
                                              char *errbuf, size_t errlen)
{
    cp_rollout_status_t st;
    cp_rollout_code_t rc = d->ops->status(d, &st, errbuf, errlen);
    if (rc == CP_ROLLOUT_OK)
        snprintf(out, outlen, "%s", st.current_version);
    cp_rollout_status_free(&st);
    return rc;
}

cp_rollout_code_t cp_deployer_rollout(cp_deployer_t *d, const char *version, const char *kind,
                                      char *errbuf, size_t errlen)
{
    if (!version || !*version) {
        seterr(errbuf, errlen, "no version to roll out");
        return CP_ROLLOUT_ERR_INVALID_ARG;
    }
    return d->ops->rollout(d, version, kind ? kind : "rollout", errbuf, errlen);
}

cp_rollout_code_t cp_deployer_wait(cp_deployer_t *d, long timeout_ms, cp_rollout_status_t *st,
                                   char *errbuf, size_t errlen)
{
    double t0 = cp_now_s();
    memset(st, 0, sizeof *st);
    for (;;) {
        cp_rollout_status_free(st);
        cp_rollout_code_t rc = d->ops->status(d, st, errbuf, errlen);
        if (rc != CP_ROLLOUT_OK)
            return rc;
        if (!st->rollout_running)
            return CP_ROLLOUT_OK;
        if ((cp_now_s() - t0) * 1000.0 > (double)timeout_ms) {
            seterr(errbuf, errlen, "rollout to %s still running after %ld ms", st->last.to,
                   timeout_ms);
            return CP_ROLLOUT_ERR_TIMEOUT;
        }
        usleep(500000);
    }
}
