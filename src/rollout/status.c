/* The JSON of rollout records and of the supervisor's GET /status. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rollout_internal.h"

int64_t cp_rollout_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *cp_rollout_strerror(cp_rollout_code_t code)
{
    switch (code) {
    case CP_ROLLOUT_OK:
        return "ok";
    case CP_ROLLOUT_ERR_INVALID_ARG:
        return "invalid argument";
    case CP_ROLLOUT_ERR_NOMEM:
        return "out of memory";
    case CP_ROLLOUT_ERR_UNREACHABLE:
        return "deployer unreachable";
    case CP_ROLLOUT_ERR_BUSY:
        return "a rollout is already running";
    case CP_ROLLOUT_ERR_REFUSED:
        return "request refused by the deployer";
    case CP_ROLLOUT_ERR_PROTOCOL:
        return "unexpected answer from the deployer";
    case CP_ROLLOUT_ERR_TIMEOUT:
        return "timed out";
    }
    return "unknown error";
}

json_t *cp_rollout_record_to_json(const cp_rollout_record_t *r)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:i}", "from", r->from, "to", r->to,
                     "kind", r->kind, "result", r->result, "reason", r->reason, "started_ms",
                     (json_int_t)r->started_ms, "ready_ms", (json_int_t)r->ready_ms, "finished_ms",
                     (json_int_t)r->finished_ms, "old_exit", r->old_exit);
}

static void copy_str(const json_t *o, const char *key, char *dst, size_t len)
{
    const char *v = json_string_value(json_object_get(o, key));
    snprintf(dst, len, "%s", v ? v : "");
}

static int64_t get_int(const json_t *o, const char *key, int64_t dflt)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

void cp_rollout_record_from_json(const json_t *o, cp_rollout_record_t *r)
{
    memset(r, 0, sizeof *r);
    copy_str(o, "from", r->from, sizeof r->from);
    copy_str(o, "to", r->to, sizeof r->to);
    copy_str(o, "kind", r->kind, sizeof r->kind);
    copy_str(o, "result", r->result, sizeof r->result);
    copy_str(o, "reason", r->reason, sizeof r->reason);
    r->started_ms = get_int(o, "started_ms", 0);
    r->ready_ms = get_int(o, "ready_ms", 0);
    r->finished_ms = get_int(o, "finished_ms", 0);
    r->old_exit = (int)get_int(o, "old_exit", -1);
}

void cp_rollout_status_free(cp_rollout_status_t *st)
{
    if (!st)
        return;
    free(st->instances);
    free(st->history);
    st->instances = NULL;
    st->history = NULL;
    st->n_instances = st->n_history = 0;
}

cp_rollout_code_t cp_rollout_status_parse(const char *json, cp_rollout_status_t *st, char *errbuf,
                                          size_t errlen)
{
    memset(st, 0, sizeof *st);
    json_error_t je;
    json_t *o = json_loads(json, 0, &je);
    if (!json_is_object(o)) {
        if (errbuf)
            snprintf(errbuf, errlen, "status is not a JSON object: %s", je.text);
        json_decref(o);
        return CP_ROLLOUT_ERR_PROTOCOL;
    }
    copy_str(o, "current_version", st->current_version, sizeof st->current_version);
    st->rollout_running = json_is_true(json_object_get(o, "rollout_running"));
    json_t *last = json_object_get(o, "last_rollout");
    if (json_is_object(last)) {
        st->has_last = true;
        cp_rollout_record_from_json(last, &st->last);
    }
    json_t *insts = json_object_get(o, "instances"), *hist = json_object_get(o, "history");
    size_t ni = json_array_size(insts), nh = json_array_size(hist);
    st->instances = calloc(ni + 1, sizeof *st->instances);
    st->history = calloc(nh + 1, sizeof *st->history);
    if (!st->instances || !st->history) {
        cp_rollout_status_free(st);
        json_decref(o);
        if (errbuf)
            snprintf(errbuf, errlen, "out of memory");
        return CP_ROLLOUT_ERR_NOMEM;
    }
    for (size_t i = 0; i < ni; i++) {
        json_t *e = json_array_get(insts, i);
        cp_rollout_instance_t *in = &st->instances[i];
        in->id = (int)get_int(e, "id", 0);
        in->pid = (int)get_int(e, "pid", 0);
        in->http_port = (int)get_int(e, "http_port", 0);
        in->restarts = (int)get_int(e, "restarts", 0);
        in->ready = json_is_true(json_object_get(e, "ready"));
        copy_str(e, "version", in->version, sizeof in->version);
        copy_str(e, "role", in->role, sizeof in->role);
        copy_str(e, "checkpoint", in->checkpoint, sizeof in->checkpoint);
    }
    st->n_instances = ni;
    for (size_t i = 0; i < nh; i++)
        cp_rollout_record_from_json(json_array_get(hist, i), &st->history[i]);
    st->n_history = nh;
    json_decref(o);
    return CP_ROLLOUT_OK;
}
