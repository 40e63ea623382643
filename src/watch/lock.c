/* The training lock on HDFS (docs/watchers.md, "The training lock").
 *
 * The lock is a directory. Each taker writes its own lease file,
 * lease-<token>.json, whose name is never reused, so a file can only ever be
 * written by the one process that created it. Taking the lock is "list,
 * create ours, list again": of two takers, the later one's second listing
 * always sees the earlier one's file (the NameNode is linearizable), so at
 * most one of them keeps the lock; when both see each other both back off
 * and the next pass tries again. Only leases that have expired are ever
 * deleted by someone other than their writer, and a writer never writes after
 * its own lease expired, which is what makes taking over a dead holder's lock
 * safe. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "carprice/log.h"
#include "carprice/util.h"
#include "carprice/watch.h"
#include "watch_internal.h"

#define LEASE_PREFIX "lease-"
#define LEASE_SUFFIX ".json"
/* Largest lease file read back. */
#define LEASE_READ_LIMIT (64u * 1024)

struct cp_watch_lock_s {
    char *dir;
    char *file; /* dir/name */
    cp_watch_lease_t lease;
};

const char *cp_watch_code_name(cp_watch_code_t code)
{
    switch (code) {
    case CP_WATCH_OK:
        return "CP_WATCH_OK";
    case CP_WATCH_ERR_INVALID_ARG:
        return "CP_WATCH_ERR_INVALID_ARG";
    case CP_WATCH_ERR_NOMEM:
        return "CP_WATCH_ERR_NOMEM";
    case CP_WATCH_ERR_REMOTE:
        return "CP_WATCH_ERR_REMOTE";
    case CP_WATCH_ERR_SYSTEM:
        return "CP_WATCH_ERR_SYSTEM";
    case CP_WATCH_ERR_HELD:
        return "CP_WATCH_ERR_HELD";
    case CP_WATCH_ERR_LOST:
        return "CP_WATCH_ERR_LOST";
    }
    return "CP_WATCH_ERR_UNKNOWN";
}

cp_watch_code_t cp_watch_fail(char *errbuf, size_t errcap, cp_watch_code_t code, const char *fmt,
                              ...)
{
    if (errbuf && errcap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errcap, fmt, ap);
        va_end(ap);
    }
    return code;
}

int64_t cp_watch_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cp_watch_hostname(char *out, size_t cap)
{
    if (gethostname(out, cap) != 0 || !out[0])
        snprintf(out, cap, "unknown");
    out[cap - 1] = '\0';
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static bool is_lease_name(const char *name)
{
    size_t n = strlen(name), p = strlen(LEASE_PREFIX), s = strlen(LEASE_SUFFIX);
    return n > p + s && strncmp(name, LEASE_PREFIX, p) == 0 &&
           strcmp(name + n - s, LEASE_SUFFIX) == 0;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

/* Parses a lease file's bytes into l (name and mtime already set). */
static void parse_lease(const char *data, size_t len, cp_watch_lease_t *l)
{
    json_t *j = json_loadb(data, len, 0, NULL);
    l->parsed = false;
    if (!json_is_object(j)) {
        json_decref(j);
        return;
    }
    copy_str(l->token, sizeof l->token, json_string_value(json_object_get(j, "token")));
    copy_str(l->owner, sizeof l->owner, json_string_value(json_object_get(j, "owner")));
    copy_str(l->host, sizeof l->host, json_string_value(json_object_get(j, "host")));
    copy_str(l->handle, sizeof l->handle, json_string_value(json_object_get(j, "handle")));
    copy_str(l->batches, sizeof l->batches, json_string_value(json_object_get(j, "batches")));
    l->pid = (long)json_integer_value(json_object_get(j, "pid"));
    l->started_at_ms = (int64_t)json_integer_value(json_object_get(j, "started_at_ms"));
    l->lease_ms = (int64_t)json_integer_value(json_object_get(j, "lease_ms"));
    json_t *until = json_object_get(j, "lease_until_ms");
    l->parsed = json_is_integer(until) && l->token[0];
    l->lease_until_ms = (int64_t)json_integer_value(until);
    json_decref(j);
}

/* The lease file's JSON (malloc'ed) or NULL. */
static char *lease_json(const cp_watch_lease_t *l)
{
    json_t *j =
        json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:s,s:s}", "token", l->token, "owner", l->owner,
                  "host", l->host, "pid", (json_int_t)l->pid, "started_at_ms",
                  (json_int_t)l->started_at_ms, "lease_until_ms", (json_int_t)l->lease_until_ms,
                  "lease_ms", (json_int_t)l->lease_ms, "handle", l->handle, "batches", l->batches);
    if (!j)
        return NULL;
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    return s;
}

/* Whether a lease is valid at now (unreadable files count from their mtime). */
static bool lease_valid(const cp_watch_lease_t *l, int64_t now, int64_t default_lease_ms)
{
    if (l->parsed)
        return now < l->lease_until_ms;
    return now < l->mtime_ms + default_lease_ms;
}

static cp_watch_code_t remote_fail(char *errbuf, size_t errcap, const char *what, const char *path,
                                   const cp_rest_error_t *err)
{
    return cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_REMOTE, "HDFS: %s %s: %s", what, path,
                         cp_rest_error_message(err));
}

/* Every lease file of dir, read and parsed. *out is malloc'ed (may be NULL
 * when n is 0). */
static cp_watch_code_t read_leases(cp_hdfs_t *h, const char *dir, cp_watch_lease_t **out, size_t *n,
                                   char *errbuf, size_t errcap)
{
    *out = NULL;
    *n = 0;
    cp_rest_error_t *err = cp_rest_error_new();
    if (!err)
        return cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_NOMEM, "out of memory");
    cp_hdfs_list_t *list = NULL;
    cp_rest_code_t rc = cp_hdfs_list(h, dir, &list, err);
    if (rc == CP_REST_ERR_NOT_FOUND) {
        cp_rest_error_destroy(err);
        return CP_WATCH_OK;
    }
    if (rc != CP_REST_OK) {
        cp_watch_code_t c = remote_fail(errbuf, errcap, "listing lock directory", dir, err);
        cp_rest_error_destroy(err);
        return c;
    }
    size_t count = cp_hdfs_list_count(list);
    cp_watch_lease_t *v = count ? calloc(count, sizeof *v) : NULL;
    cp_watch_code_t code = CP_WATCH_OK;
    if (count && !v)
        code = cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_NOMEM, "out of memory");
    cp_buf_t buf;
    cp_buf_init(&buf, LEASE_READ_LIMIT);
    for (size_t i = 0; code == CP_WATCH_OK && i < count; i++) {
        const cp_hdfs_file_status_t *st = cp_hdfs_list_at(list, i);
        if (st->type != CP_HDFS_FILE || !is_lease_name(st->name) ||
            strlen(st->name) >= sizeof v[0].name)
            continue;
        char *path = cp_strf("%s/%s", dir, st->name);
        if (!path) {
            code = cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_NOMEM, "out of memory");
            break;
        }
        cp_buf_reset(&buf);
        rc = cp_hdfs_open_to_buf(h, path, &buf, err);
        if (rc == CP_REST_ERR_NOT_FOUND) { /* released since the listing */
            free(path);
            continue;
        }
        cp_watch_lease_t *l = &v[*n];
        memset(l, 0, sizeof *l);
        copy_str(l->name, sizeof l->name, st->name);
        l->mtime_ms = st->modification_time_ms;
        if (rc == CP_REST_OK)
            parse_lease(buf.data ? buf.data : "", buf.len, l);
        else if (rc != CP_REST_ERR_LIMIT)
            code = remote_fail(errbuf, errcap, "reading lease", path, err);
        free(path);
        if (code == CP_WATCH_OK)
            (*n)++;
    }
    cp_buf_free(&buf);
    cp_hdfs_list_destroy(list);
    cp_rest_error_destroy(err);
    if (code != CP_WATCH_OK) {
        free(v);
        *n = 0;
        return code;
    }
    *out = v;
    return CP_WATCH_OK;
}

static void judge(const cp_watch_lease_t *v, size_t n, int64_t default_lease_ms,
                  cp_watch_lock_state_t *st)
{
    memset(st, 0, sizeof *st);
    st->now_ms = cp_watch_now_ms();
    st->entries = n;
    for (size_t i = 0; i < n; i++) {
        if (!lease_valid(&v[i], st->now_ms, default_lease_ms)) {
            st->stale++;
            continue;
        }
        int64_t until = v[i].parsed ? v[i].lease_until_ms : v[i].mtime_ms + default_lease_ms;
        int64_t best =
            st->holder.parsed ? st->holder.lease_until_ms : st->holder.mtime_ms + default_lease_ms;
        if (!st->held || until > best)
            st->holder = v[i];
        st->held = true;
    }
}

cp_watch_code_t cp_watch_lock_inspect(cp_hdfs_t *h, const char *dir, int64_t default_lease_ms,
                                      cp_watch_lock_state_t *out, char *errbuf, size_t errcap)
{
    if (!h || !dir || !*dir || !out)
        return cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_INVALID_ARG,
                             "lock inspect: missing argument");
    cp_watch_lease_t *v;
    size_t n;
    cp_watch_code_t c = read_leases(h, dir, &v, &n, errbuf, errcap);
    if (c != CP_WATCH_OK)
        return c;
    judge(v, n, default_lease_ms, out);
    free(v);
    return CP_WATCH_OK;
}

/* A token unique across hosts and time: host, pid, time, random bits. */
static void make_token(char *out, size_t cap, const char *host)
{
    unsigned long long r = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(&r, sizeof r, 1, f) != 1)
        r = (unsigned long long)cp_watch_now_ms() * 6364136223846793005ull ^
            (unsigned long long)getpid();
    if (f)
        fclose(f);
    char safe[48];
    size_t j = 0;
    for (size_t i = 0; host[i] && j + 1 < sizeof safe; i++) {
        char ch = host[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-';
        safe[j++] = ok ? ch : '_';
    }
    safe[j] = '\0';
    snprintf(out, cap, "%s-%ld-%" PRId64 "-%016llx", safe, (long)getpid(), cp_watch_now_ms(), r);
}

static cp_watch_code_t write_lease(cp_hdfs_t *h, const char *path, const cp_watch_lease_t *l,
                                   bool exclusive, char *errbuf, size_t errcap)
{
    char *json = lease_json(l);
    if (!json)
        return cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_NOMEM,
                             "lease: cannot encode (out of memory or invalid UTF-8)");
    cp_rest_error_t *err = cp_rest_error_new();
    cp_watch_code_t code = CP_WATCH_OK;
    if (!err) {
        code = cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_NOMEM, "out of memory");
    } else {
        cp_hdfs_write_opts_t wo = {.overwrite = false};
        cp_rest_code_t rc = exclusive ? cp_hdfs_create(h, path, json, strlen(json), &wo, err)
                                      : cp_hdfs_write_atomic(h, path, json, strlen(json), err);
        if (rc != CP_REST_OK)
            code = remote_fail(errbuf, errcap, "writing lease", path, err);
    }
    cp_rest_error_destroy(err);
    free(json);
    return code;
}

static void delete_quietly(cp_hdfs_t *h, const char *dir, const char *name)
{
    char *path = cp_strf("%s/%s", dir, name);
    cp_rest_error_t *err = cp_rest_error_new();
    if (path && err && cp_hdfs_delete(h, path, false, NULL, err) != CP_REST_OK)
        cp_log_warn("watch.lock.delete_failed", "path=%s error=\"%s\"", path,
                    cp_rest_error_message(err));
    cp_rest_error_destroy(err);
    free(path);
}

void cp_watch_lock_destroy(cp_watch_lock_t *l)
{
    if (!l)
        return;
    free(l->dir);
    free(l->file);
    free(l);
}

/* One try of cp_watch_lock_acquire; *raced is set when it lost a race. */
static cp_watch_code_t acquire_once(cp_hdfs_t *h, const cp_watch_lock_opts_t *o,
                                    cp_watch_lock_t **out, cp_watch_lock_state_t *holder,
                                    bool *took_over, bool *raced_out, char *errbuf, size_t errcap)
{
    if (!h || !o || !o->dir || o->dir[0] != '/' || !out || o->lease_ms <= 0)
        return cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_INVALID_ARG,
                             "lock: needs an absolute HDFS directory and a positive lease");
    *out = NULL;
    if (took_over)
        *took_over = false;
    cp_rest_error_t *err = cp_rest_error_new();
    if (!err)
        return cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_NOMEM, "out of memory");
    if (cp_hdfs_mkdirs(h, o->dir, 0, err) != CP_REST_OK) {
        cp_watch_code_t c = remote_fail(errbuf, errcap, "creating lock directory", o->dir, err);
        cp_rest_error_destroy(err);
        return c;
    }
    cp_rest_error_destroy(err);

    /* 1. What is there now. */
    cp_watch_lease_t *first;
    size_t nfirst;
    cp_watch_lock_state_t st;
    cp_watch_code_t code = read_leases(h, o->dir, &first, &nfirst, errbuf, errcap);
    if (code != CP_WATCH_OK)
        return code;
    judge(first, nfirst, o->lease_ms, &st);
    if (holder)
        *holder = st;
    if (st.held) {
        free(first);
        return cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_HELD, "lock %s is held by %s pid %ld",
                             o->dir, st.holder.host, st.holder.pid);
    }

    /* 2. Our own lease file. */
    cp_watch_lock_t *l = calloc(1, sizeof *l);
    if (!l) {
        free(first);
        return cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_NOMEM, "out of memory");
    }
    cp_watch_lease_t *me = &l->lease;
    cp_watch_hostname(me->host, sizeof me->host);
    make_token(me->token, sizeof me->token, me->host);
    snprintf(me->name, sizeof me->name, LEASE_PREFIX "%s" LEASE_SUFFIX, me->token);
    copy_str(me->owner, sizeof me->owner, o->owner ? o->owner : "watch-data");
    copy_str(me->batches, sizeof me->batches, o->batches);
    me->pid = (long)getpid();
    me->lease_ms = o->lease_ms;
    me->started_at_ms = cp_watch_now_ms();
    me->lease_until_ms = me->started_at_ms + o->lease_ms;
    me->parsed = true;
    l->dir = strdup(o->dir);
    l->file = cp_strf("%s/%s", o->dir, me->name);
    if (!l->dir || !l->file) {
        free(first);
        cp_watch_lock_destroy(l);
        return cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_NOMEM, "out of memory");
    }
    code = write_lease(h, l->file, me, true, errbuf, errcap);
    if (code != CP_WATCH_OK) {
        free(first);
        cp_watch_lock_destroy(l);
        return code;
    }

    /* 3. Look again: anything new or changed besides ours means a race. */
    cp_watch_lease_t *second;
    size_t nsecond;
    code = read_leases(h, o->dir, &second, &nsecond, errbuf, errcap);
    if (code != CP_WATCH_OK) {
        delete_quietly(h, o->dir, me->name);
        free(first);
        cp_watch_lock_destroy(l);
        return code;
    }
    bool raced = false;
    for (size_t i = 0; i < nsecond && !raced; i++) {
        if (strcmp(second[i].name, me->name) == 0)
            continue;
        bool seen = false;
        for (size_t k = 0; k < nfirst && !seen; k++)
            seen = strcmp(first[k].name, second[i].name) == 0 &&
                   first[k].mtime_ms == second[i].mtime_ms;
        raced = !seen;
    }
    *raced_out = raced;
    if (raced) {
        delete_quietly(h, o->dir, me->name);
        judge(second, nsecond, o->lease_ms, &st);
        if (holder)
            *holder = st;
        free(first);
        free(second);
        cp_watch_lock_destroy(l);
        cp_log_info("watch.lock.contended", "dir=%s", o->dir);
        return cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_HELD,
                             "lock %s: another watcher took it at the same moment", o->dir);
    }

    /* 4. Ours. The expired leases first seen are dead: remove them. */
    for (size_t k = 0; k < nfirst; k++) {
        cp_log_warn("watch.lock.takeover",
                    "dir=%s stale=%s holder_host=%s holder_pid=%ld lease_until_ms=%" PRId64, o->dir,
                    first[k].name, first[k].host, first[k].pid, first[k].lease_until_ms);
        delete_quietly(h, o->dir, first[k].name);
    }
    if (took_over)
        *took_over = nfirst > 0;
    if (holder) {
        judge(second, nsecond, o->lease_ms, holder);
    }
    free(first);
    free(second);
    cp_log_info("watch.lock.acquired", "file=%s lease_ms=%" PRId64, l->file, o->lease_ms);
    *out = l;
    return CP_WATCH_OK;
}

cp_watch_code_t cp_watch_lock_acquire(cp_hdfs_t *h, const cp_watch_lock_opts_t *o,
                                      cp_watch_lock_t **out, cp_watch_lock_state_t *holder,
                                      bool *took_over, char *errbuf, size_t errcap)
{
    /* Takers that raced all back off; each tries again after a random pause
     * so that one of them usually goes first and wins. Safety never depends
     * on the pauses, only the chance that a pass gets the lock does. */
    unsigned seed = (unsigned)getpid() ^ (unsigned)cp_watch_now_ms();
    cp_watch_code_t code = CP_WATCH_OK;
    for (int attempt = 0; attempt < 4; attempt++) {
        bool raced = false;
        code = acquire_once(h, o, out, holder, took_over, &raced, errbuf, errcap);
        if (!raced)
            break;
        sleep_ms(50 + (long)(rand_r(&seed) % 250u) * (attempt + 1));
    }
    return code;
}

cp_watch_code_t cp_watch_lock_renew(cp_hdfs_t *h, cp_watch_lock_t *l, const char *owner, long pid,
                                    const char *handle, char *errbuf, size_t errcap)
{
    if (!h || !l)
        return cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_INVALID_ARG,
                             "lock renew: missing argument");
    cp_watch_lease_t *me = &l->lease;
    /* Never write after our lease ended (less a margin for the request's own
     * time): a watcher may already have taken the lock over. */
    int64_t margin = me->lease_ms / 10 < 5000 ? me->lease_ms / 10 : 5000;
    int64_t now = cp_watch_now_ms();
    if (now >= me->lease_until_ms - margin)
        return cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_LOST,
                             "lease %s expired %" PRId64 " ms ago", l->file,
                             now - me->lease_until_ms);
    cp_rest_error_t *err = cp_rest_error_new();
    if (!err)
        return cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_NOMEM, "out of memory");
    bool exists = false;
    cp_rest_code_t rc = cp_hdfs_exists(h, l->file, &exists, err);
    if (rc != CP_REST_OK) {
        cp_watch_code_t c = remote_fail(errbuf, errcap, "checking lease", l->file, err);
        cp_rest_error_destroy(err);
        return c;
    }
    cp_rest_error_destroy(err);
    if (!exists)
        return cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_LOST, "lease %s is gone", l->file);
    cp_watch_lease_t next = *me;
    if (owner)
        copy_str(next.owner, sizeof next.owner, owner);
    if (pid > 0)
        next.pid = pid;
    if (handle)
        copy_str(next.handle, sizeof next.handle, handle);
    next.lease_until_ms = now + me->lease_ms;
    cp_watch_code_t code = write_lease(h, l->file, &next, false, errbuf, errcap);
    if (code == CP_WATCH_OK)
        *me = next;
    return code;
}

cp_watch_code_t cp_watch_lock_release(cp_hdfs_t *h, cp_watch_lock_t *l, char *errbuf, size_t errcap)
{
    if (!h || !l)
        return cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_INVALID_ARG,
                             "lock release: missing argument");
    cp_rest_error_t *err = cp_rest_error_new();
    if (!err)
        return cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_NOMEM, "out of memory");
    cp_watch_code_t code = CP_WATCH_OK;
    if (cp_hdfs_delete(h, l->file, false, NULL, err) != CP_REST_OK)
        code = remote_fail(errbuf, errcap, "deleting lease", l->file, err);
    else
        cp_log_info("watch.lock.released", "file=%s", l->file);
    cp_rest_error_destroy(err);
    return code;
}

const char *cp_watch_lock_file(const cp_watch_lock_t *l)
{
    return l ? l->file : "";
}

const cp_watch_lease_t *cp_watch_lock_lease(const cp_watch_lock_t *l)
{
    return l ? &l->lease : NULL;
}

int64_t cp_watch_lock_lease_ms(const cp_watch_lock_t *l)
{
    return l ? l->lease.lease_ms : 0;
}
