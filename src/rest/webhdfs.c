/* WebHDFS client: http://<namenode>/webhdfs/v1/<path>?op=...&user.name=... */
#include "webhdfs_internal.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "carprice/log.h"

#define DEFAULT_URL "http://127.0.0.1:9870"
#define PREFIX      "/webhdfs/v1"

struct cp_hdfs_s {
    cp_http_t *http;
    char *user;
    char *user_q; /* escaped for the query string */
    uint64_t rng;
};

cp_rest_code_t cp_hdfs_new(const cp_hdfs_config_t *cfg, cp_hdfs_t **out, cp_rest_error_t *err)
{
    if (!out)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "cp_hdfs_new: out is NULL");
    *out = NULL;
    cp_hdfs_config_t c = {0};
    if (cfg)
        c = *cfg;
    const char *url = c.url;
    if (!url) {
        url = getenv("CARPRICE_WEBHDFS_URL");
        if (!url || !*url)
            url = DEFAULT_URL;
    }
    const char *user = c.user;
    if (!user) {
        user = getenv("CARPRICE_HDFS_USER");
        if (!user || !*user) {
            struct passwd *pw = getpwuid(geteuid());
            user = pw ? pw->pw_name : getenv("USER");
        }
    }
    if (!user || !*user)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "no HDFS user: set CARPRICE_HDFS_USER");
    cp_hdfs_t *h = calloc(1, sizeof *h);
    if (!h)
        return cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
    cp_rest_code_t rc = cp_http_new(url, c.http, &h->http, err);
    if (rc != CP_REST_OK) {
        free(h);
        return rc;
    }
    h->user = strdup(user);
    h->user_q = cp_http_escape_query(user);
    if (!h->user || !h->user_q) {
        cp_hdfs_destroy(h);
        return cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
    }
    h->rng = (uint64_t)cp_rest_now_ms() * 2654435761u ^ (uint64_t)getpid();
    *out = h;
    return CP_REST_OK;
}

void cp_hdfs_destroy(cp_hdfs_t *h)
{
    if (!h)
        return;
    cp_http_destroy(h->http);
    free(h->user);
    free(h->user_q);
    free(h);
}

const char *cp_hdfs_url(const cp_hdfs_t *h)
{
    return h ? cp_http_base_url(h->http) : "";
}

const char *cp_hdfs_user(const cp_hdfs_t *h)
{
    return h ? h->user : "";
}

/* ---- errors ---- */

static const struct {
    const char *exception;
    cp_rest_code_t code;
    bool retriable;
} g_exceptions[] = {
    {"FileNotFoundException", CP_REST_ERR_NOT_FOUND, false},
    {"FileAlreadyExistsException", CP_REST_ERR_EXISTS, false},
    {"AccessControlException", CP_REST_ERR_AUTH, false},
    {"SecurityException", CP_REST_ERR_AUTH, false},
    {"AuthorizationException", CP_REST_ERR_AUTH, false},
    {"IllegalArgumentException", CP_REST_ERR_BAD_REQUEST, false},
    {"HadoopIllegalArgumentException", CP_REST_ERR_BAD_REQUEST, false},
    {"InvalidPathException", CP_REST_ERR_BAD_REQUEST, false},
    {"ParentNotDirectoryException", CP_REST_ERR_BAD_REQUEST, false},
    {"PathIsNotEmptyDirectoryException", CP_REST_ERR_BAD_REQUEST, false},
    {"PathIsNotDirectoryException", CP_REST_ERR_BAD_REQUEST, false},
    {"UnsupportedOperationException", CP_REST_ERR_UNSUPPORTED, false},
    {"SafeModeException", CP_REST_ERR_SERVER, true},
    {"RetriableException", CP_REST_ERR_SERVER, true},
    {"StandbyException", CP_REST_ERR_SERVER, true},
    {"AlreadyBeingCreatedException", CP_REST_ERR_FAILED, true},
    {"RecoveryInProgressException", CP_REST_ERR_FAILED, true},
};

cp_rest_code_t cp_hdfs_error_from_response(long status, const char *body, size_t len,
                                           cp_rest_error_t *err, const char *what)
{
    json_t *j = json_loadb(body ? body : "", body ? len : 0, 0, NULL);
    const json_t *re = json_object_get(j, "RemoteException");
    const char *ex = cp_rest_json_str(re, "exception");
    const char *msg = cp_rest_json_str(re, "message");
    /* body is len bytes, not necessarily NUL-terminated. */
    char start[201];
    cp_rest_printable(start, sizeof start, body, len < 200 ? len : 200);
    if (!ex) {
        cp_rest_code_t code = cp_http_status_error(status, start, err, what);
        json_decref(j);
        return code;
    }
    cp_rest_code_t code = cp_http_status_error(status, NULL, NULL, what);
    bool retriable = code == CP_REST_ERR_SERVER;
    for (size_t i = 0; i < sizeof g_exceptions / sizeof g_exceptions[0]; i++) {
        if (strcmp(ex, g_exceptions[i].exception) == 0) {
            code = g_exceptions[i].code;
            retriable = g_exceptions[i].retriable;
            break;
        }
    }
    char m[600];
    cp_rest_printable(m, sizeof m, msg ? msg : "", 599);
    cp_rest_fail(err, code, "%s: %s: %s (HTTP %ld)", what, ex, m, status);
    cp_rest_error_detail(err, status, ex, msg ? msg : "", retriable);
    json_decref(j);
    return code;
}

/* ---- requests ---- */

/* <PREFIX><escaped path>?op=<op>&user.name=<user><extra>; extra starts with
 * '&' or is "". */
static char *op_url(cp_hdfs_t *h, const char *path, const char *op, const char *extra)
{
    char *p = cp_http_escape_path(path);
    if (!p)
        return NULL;
    cp_buf_t b;
    cp_buf_init(&b, 1 << 20);
    int rc =
        cp_buf_printf(&b, PREFIX "%s?op=%s&user.name=%s%s", p, op, h->user_q, extra ? extra : "");
    free(p);
    if (rc != 0) {
        cp_buf_free(&b);
        return NULL;
    }
    return cp_buf_steal(&b);
}

static cp_rest_code_t check_path(const char *path, cp_rest_error_t *err, const char *what)
{
    if (!path || path[0] != '/')
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "%s: HDFS path must be absolute: '%s'",
                            what, path ? path : "(null)");
    return CP_REST_OK;
}

/* One NameNode call answered with JSON (out may be NULL). */
static cp_rest_code_t nn_call(cp_hdfs_t *h, const char *method, const char *path, const char *op,
                              const char *extra, json_t **out, cp_rest_error_t *err,
                              const char *what)
{
    if (out)
        *out = NULL;
    cp_rest_code_t rc = check_path(path, err, what);
    if (rc != CP_REST_OK)
        return rc;
    char *url = op_url(h, path, op, extra);
    if (!url)
        return cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
    cp_http_request_t req = {.method = method, .url = url};
    cp_http_response_t resp;
    rc = cp_http_do(h->http, &req, &resp, err);
    free(url);
    if (rc == CP_REST_OK && (resp.status < 200 || resp.status > 299)) {
        char w[512];
        snprintf(w, sizeof w, "%s %s", what, path);
        rc = cp_hdfs_error_from_response(resp.status, resp.body.data, resp.body.len, err, w);
    } else if (rc == CP_REST_OK && out) {
        if (resp.body.len == 0)
            *out = json_object(); /* RENAME with options answers with no body */
        else
            rc = cp_rest_json_parse(resp.body.data, resp.body.len, out, err, what);
    }
    cp_http_response_free(&resp);
    return rc;
}

/* {"boolean": b} answers. */
static cp_rest_code_t nn_bool(cp_hdfs_t *h, const char *method, const char *path, const char *op,
                              const char *extra, bool *result, cp_rest_error_t *err,
                              const char *what)
{
    json_t *j;
    cp_rest_code_t rc = nn_call(h, method, path, op, extra, &j, err, what);
    if (rc != CP_REST_OK)
        return rc;
    const json_t *b = json_object_get(j, "boolean");
    if (json_object_size(j) == 0) {
        *result = true;
    } else if (!json_is_boolean(b)) {
        json_decref(j);
        return cp_rest_fail(err, CP_REST_ERR_PROTOCOL, "%s %s: response has no \"boolean\"", what,
                            path);
    } else {
        *result = json_is_true(b);
    }
    json_decref(j);
    return CP_REST_OK;
}

/* ---- status and listing ---- */

cp_hdfs_file_status_t *cp_hdfs_status_from_json(const json_t *fs)
{
    if (!json_is_object(fs))
        return NULL;
    const char *name = cp_rest_json_str0(fs, "pathSuffix");
    const char *owner = cp_rest_json_str0(fs, "owner");
    const char *group = cp_rest_json_str0(fs, "group");
    const char *type = cp_rest_json_str(fs, "type");
    if (!type)
        return NULL;
    size_t nn = strlen(name) + 1, no = strlen(owner) + 1, ng = strlen(group) + 1;
    cp_hdfs_file_status_t *st = calloc(1, sizeof *st + nn + no + ng);
    if (!st)
        return NULL;
    char *s = (char *)(st + 1);
    memcpy(s, name, nn);
    st->name = s;
    memcpy(s + nn, owner, no);
    st->owner = s + nn;
    memcpy(s + nn + no, group, ng);
    st->group = s + nn + no;
    if (strcmp(type, "DIRECTORY") == 0)
        st->type = CP_HDFS_DIRECTORY;
    else if (strcmp(type, "SYMLINK") == 0)
        st->type = CP_HDFS_SYMLINK;
    else
        st->type = CP_HDFS_FILE;
    st->length = cp_rest_json_i64(fs, "length", 0);
    st->modification_time_ms = cp_rest_json_i64(fs, "modificationTime", 0);
    st->access_time_ms = cp_rest_json_i64(fs, "accessTime", 0);
    const char *perm = cp_rest_json_str(fs, "permission");
    st->permission = perm ? (unsigned)strtoul(perm, NULL, 8) : 0;
    st->replication = (int)cp_rest_json_i64(fs, "replication", 0);
    st->block_size = cp_rest_json_i64(fs, "blockSize", 0);
    st->children = cp_rest_json_i64(fs, "childrenNum", 0);
    return st;
}

void cp_hdfs_file_status_free(cp_hdfs_file_status_t *st)
{
    free(st);
}

cp_rest_code_t cp_hdfs_stat(cp_hdfs_t *h, const char *path, cp_hdfs_file_status_t **out,
                            cp_rest_error_t *err)
{
    if (!h || !out)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "stat: missing argument");
    *out = NULL;
    json_t *j;
    cp_rest_code_t rc = nn_call(h, "GET", path, "GETFILESTATUS", NULL, &j, err, "stat");
    if (rc != CP_REST_OK)
        return rc;
    *out = cp_hdfs_status_from_json(json_object_get(j, "FileStatus"));
    json_decref(j);
    if (!*out)
        return cp_rest_fail(err, CP_REST_ERR_PROTOCOL, "stat %s: no valid FileStatus in response",
                            path);
    return CP_REST_OK;
}

cp_rest_code_t cp_hdfs_exists(cp_hdfs_t *h, const char *path, bool *exists, cp_rest_error_t *err)
{
    if (!exists)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "exists: missing argument");
    *exists = false;
    cp_hdfs_file_status_t *st;
    cp_rest_code_t rc = cp_hdfs_stat(h, path, &st, err);
    if (rc == CP_REST_ERR_NOT_FOUND)
        return CP_REST_OK;
    *exists = rc == CP_REST_OK;
    cp_hdfs_file_status_free(st);
    return rc;
}

struct cp_hdfs_list_s {
    cp_hdfs_file_status_t **e;
    size_t n, cap;
};

cp_hdfs_list_t *cp_hdfs_list_new(void)
{
    return calloc(1, sizeof(cp_hdfs_list_t));
}

void cp_hdfs_list_destroy(cp_hdfs_list_t *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->e[i]);
    free(l->e);
    free(l);
}

size_t cp_hdfs_list_count(const cp_hdfs_list_t *l)
{
    return l ? l->n : 0;
}

const cp_hdfs_file_status_t *cp_hdfs_list_at(const cp_hdfs_list_t *l, size_t i)
{
    return l && i < l->n ? l->e[i] : NULL;
}

static bool list_push(cp_hdfs_list_t *l, cp_hdfs_file_status_t *st)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 32;
        cp_hdfs_file_status_t **p = realloc(l->e, nc * sizeof *p);
        if (!p)
            return false;
        l->e = p;
        l->cap = nc;
    }
    l->e[l->n++] = st;
    return true;
}

cp_rest_code_t cp_hdfs_list_add_page(cp_hdfs_list_t *l, const json_t *page, int64_t *remaining,
                                     cp_rest_error_t *err)
{
    const json_t *statuses;
    const json_t *dl = json_object_get(page, "DirectoryListing");
    *remaining = 0;
    if (dl) {
        statuses = json_object_get(json_object_get(dl, "partialListing"), "FileStatuses");
        *remaining = cp_rest_json_i64(dl, "remainingEntries", 0);
    } else {
        statuses = json_object_get(page, "FileStatuses");
    }
    const json_t *arr = json_object_get(statuses, "FileStatus");
    if (!json_is_array(arr))
        return cp_rest_fail(err, CP_REST_ERR_PROTOCOL, "list: response has no FileStatus array");
    size_t i;
    const json_t *fs;
    json_array_foreach(arr, i, fs)
    {
        cp_hdfs_file_status_t *st = cp_hdfs_status_from_json(fs);
        if (!st)
            return cp_rest_fail(err, CP_REST_ERR_PROTOCOL, "list: malformed FileStatus #%zu", i);
        if (!list_push(l, st)) {
            free(st);
            return cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
        }
    }
    if (*remaining > 0 && json_array_size(arr) == 0)
        return cp_rest_fail(err, CP_REST_ERR_PROTOCOL,
                            "list: empty page but %lld entries remaining", (long long)*remaining);
    return CP_REST_OK;
}

cp_rest_code_t cp_hdfs_list(cp_hdfs_t *h, const char *path, cp_hdfs_list_t **out,
                            cp_rest_error_t *err)
{
    if (!h || !out)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "list: missing argument");
    *out = NULL;
    cp_hdfs_list_t *l = cp_hdfs_list_new();
    if (!l)
        return cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
    cp_rest_code_t rc = CP_REST_OK;
    /* LISTSTATUS_BATCH keeps each answer to one page (dfs.ls.limit entries)
     * however large the directory. */
    for (;;) {
        char *extra = NULL;
        if (l->n) {
            char *after = cp_http_escape_query(l->e[l->n - 1]->name);
            size_t n = after ? strlen(after) + 16 : 0;
            extra = after ? malloc(n) : NULL;
            if (extra)
                snprintf(extra, n, "&startAfter=%s", after);
            free(after);
            if (!extra) {
                rc = cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
                break;
            }
        }
        json_t *j;
        rc = nn_call(h, "GET", path, "LISTSTATUS_BATCH", extra, &j, err, "list");
        free(extra);
        if (rc != CP_REST_OK)
            break;
        int64_t remaining;
        size_t before = l->n;
        rc = cp_hdfs_list_add_page(l, j, &remaining, err);
        json_decref(j);
        if (rc != CP_REST_OK || remaining <= 0)
            break;
        if (l->n == before || (l->n == 1 && l->e[0]->name[0] == '\0')) {
            rc = cp_rest_fail(err, CP_REST_ERR_PROTOCOL, "list %s: listing does not advance", path);
            break;
        }
    }
    if (rc != CP_REST_OK) {
        cp_hdfs_list_destroy(l);
        return rc;
    }
    *out = l;
    return CP_REST_OK;
}

/* ---- namespace operations ---- */

cp_rest_code_t cp_hdfs_mkdirs(cp_hdfs_t *h, const char *path, unsigned permission,
                              cp_rest_error_t *err)
{
    if (!h)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "mkdirs: missing argument");
    char extra[32] = "";
    if (permission)
        snprintf(extra, sizeof extra, "&permission=%o", permission & 07777);
    bool ok = false;
    cp_rest_code_t rc = nn_bool(h, "PUT", path, "MKDIRS", extra, &ok, err, "mkdirs");
    if (rc == CP_REST_OK && !ok)
        rc = cp_rest_fail(err, CP_REST_ERR_FAILED, "mkdirs %s: HDFS refused", path);
    return rc;
}

cp_rest_code_t cp_hdfs_rename(cp_hdfs_t *h, const char *src, const char *dst, bool overwrite,
                              cp_rest_error_t *err)
{
    if (!h)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "rename: missing argument");
    cp_rest_code_t rc = check_path(dst, err, "rename");
    if (rc != CP_REST_OK)
        return rc;
    char *d = cp_http_escape_query(dst);
    size_t n = d ? strlen(d) + 64 : 0;
    char *extra = d ? malloc(n) : NULL;
    if (extra)
        snprintf(extra, n, "&destination=%s%s", d, overwrite ? "&renameoptions=OVERWRITE" : "");
    free(d);
    if (!extra)
        return cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
    bool ok = false;
    rc = nn_bool(h, "PUT", src, "RENAME", extra, &ok, err, "rename");
    free(extra);
    if (rc == CP_REST_OK && !ok)
        rc = cp_rest_fail(err, CP_REST_ERR_FAILED,
                          "rename %s to %s: HDFS refused (source missing, destination exists, or "
                          "destination parent missing)",
                          src, dst);
    if (rc == CP_REST_OK)
        cp_log_debug("hdfs.renamed", "src=\"%s\" dst=\"%s\"", src, dst);
    return rc;
}

cp_rest_code_t cp_hdfs_delete(cp_hdfs_t *h, const char *path, bool recursive, bool *deleted,
                              cp_rest_error_t *err)
{
    if (deleted)
        *deleted = false;
    if (!h)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "delete: missing argument");
    if (path && strcmp(path, "/") == 0)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "delete: refusing to delete /");
    bool ok = false;
    cp_rest_code_t rc =
        nn_bool(h, "DELETE", path, "DELETE", recursive ? "&recursive=true" : "&recursive=false",
                &ok, err, "delete");
    if (rc == CP_REST_OK && deleted)
        *deleted = ok;
    return rc;
}

cp_rest_code_t cp_hdfs_content_summary(cp_hdfs_t *h, const char *path,
                                       cp_hdfs_content_summary_t *out, cp_rest_error_t *err)
{
    if (!h || !out)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "content summary: missing argument");
    memset(out, 0, sizeof *out);
    json_t *j;
    cp_rest_code_t rc =
        nn_call(h, "GET", path, "GETCONTENTSUMMARY", NULL, &j, err, "content summary");
    if (rc != CP_REST_OK)
        return rc;
    const json_t *cs = json_object_get(j, "ContentSummary");
    if (!json_is_object(cs)) {
        json_decref(j);
        return cp_rest_fail(err, CP_REST_ERR_PROTOCOL,
                            "content summary %s: response has no ContentSummary", path);
    }
    out->length = cp_rest_json_i64(cs, "length", 0);
    out->file_count = cp_rest_json_i64(cs, "fileCount", 0);
    out->directory_count = cp_rest_json_i64(cs, "directoryCount", 0);
    out->quota = cp_rest_json_i64(cs, "quota", -1);
    out->space_consumed = cp_rest_json_i64(cs, "spaceConsumed", 0);
    out->space_quota = cp_rest_json_i64(cs, "spaceQuota", -1);
    json_decref(j);
    return CP_REST_OK;
}

/* ---- data operations: NameNode redirect, then the DataNode ---- */

typedef struct {
    const void *data;
    size_t len;
    const char *local_path; /* upload from / download to */
    cp_buf_t *buf;          /* download into */
} payload_t;

/* Asks the NameNode where to send/get the data: a 307 with Location (or,
 * with noredirect, a 200 with {"Location": ...}). */
static cp_rest_code_t locate(cp_hdfs_t *h, const char *method, const char *path, const char *op,
                             const char *extra, char **location, cp_rest_error_t *err,
                             const char *what)
{
    *location = NULL;
    cp_rest_code_t rc = check_path(path, err, what);
    if (rc != CP_REST_OK)
        return rc;
    char *url = op_url(h, path, op, extra);
    if (!url)
        return cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
    cp_http_request_t req = {.method = method, .url = url};
    cp_http_response_t resp;
    rc = cp_http_do(h->http, &req, &resp, err);
    free(url);
    if (rc != CP_REST_OK) {
        cp_http_response_free(&resp);
        return rc;
    }
    char w[512];
    snprintf(w, sizeof w, "%s %s", what, path);
    if ((resp.status == 307 || resp.status == 302 || resp.status == 303) && resp.location) {
        *location = resp.location;
        resp.location = NULL;
    } else if (resp.status == 200) {
        json_t *j = json_loadb(resp.body.data, resp.body.len, 0, NULL);
        const char *loc = cp_rest_json_str(j, "Location");
        if (loc)
            *location = strdup(loc);
        json_decref(j);
        if (!loc)
            rc = cp_rest_fail(err, CP_REST_ERR_PROTOCOL, "%s: NameNode gave no DataNode location",
                              w);
        else if (!*location)
            rc = cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
    } else if (resp.status >= 300 && resp.status < 400) {
        rc = cp_rest_fail(err, CP_REST_ERR_PROTOCOL, "%s: redirect without Location", w);
    } else {
        rc = cp_hdfs_error_from_response(resp.status, resp.body.data, resp.body.len, err, w);
    }
    cp_http_response_free(&resp);
    if (rc == CP_REST_OK && strncmp(*location, "http://", 7) != 0 &&
        strncmp(*location, "https://", 8) != 0) {
        free(*location);
        *location = NULL;
        rc = cp_rest_fail(err, CP_REST_ERR_PROTOCOL, "%s: DataNode location is not http(s)", w);
    }
    return rc;
}

/* The DataNode half of create/append/open. */
static cp_rest_code_t transfer(cp_hdfs_t *h, const char *method, const char *location,
                               const payload_t *p, bool no_retry, cp_rest_error_t *err,
                               const char *what, const char *path)
{
    bool download = strcmp(method, "GET") == 0;
    cp_http_request_t req = {
        .method = method,
        .url = location,
        .no_auth = true, /* the DataNode is another host: our credentials stay home */
        .no_retry = no_retry,
    };
    if (download) {
        req.download_path = p->local_path;
        if (p->buf)
            req.max_body_bytes = p->buf->limit;
    } else {
        req.content_type = "application/octet-stream";
        req.upload_path = p->local_path;
        if (!p->local_path) {
            req.body = p->data ? p->data : "";
            req.body_len = p->len;
        }
    }
    cp_http_response_t resp;
    cp_rest_code_t rc = cp_http_do(h->http, &req, &resp, err);
    char w[512];
    snprintf(w, sizeof w, "%s %s", what, path);
    if (rc == CP_REST_ERR_LIMIT && p->buf)
        rc = cp_rest_fail(err, rc, "%s: file is larger than the buffer limit of %zu bytes", w,
                          p->buf->limit);
    else if (rc == CP_REST_OK && (resp.status < 200 || resp.status > 299))
        rc = cp_hdfs_error_from_response(resp.status, resp.body.data, resp.body.len, err, w);
    if (rc == CP_REST_OK && p->buf) {
        /* Hand the bytes over instead of copying them; the caller's limit stays. */
        cp_buf_free(p->buf);
        p->buf->data = resp.body.data;
        p->buf->len = resp.body.len;
        p->buf->cap = resp.body.cap;
        resp.body.data = NULL;
        resp.body.len = resp.body.cap = 0;
    }
    if (rc == CP_REST_OK)
        cp_log_debug("hdfs.transfer", "op=%s path=\"%s\" bytes=%lld ms=%.1f", what, path,
                     (long long)(download ? resp.bytes : (int64_t)p->len), resp.total_ms);
    cp_http_response_free(&resp);
    return rc;
}

static cp_rest_code_t create_impl(cp_hdfs_t *h, const char *path, const payload_t *p,
                                  const cp_hdfs_write_opts_t *opts, cp_rest_error_t *err)
{
    if (!h)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "create: missing argument");
    cp_hdfs_write_opts_t o = {0};
    if (opts)
        o = *opts;
    char extra[96];
    int n = snprintf(extra, sizeof extra, "&overwrite=%s", o.overwrite ? "true" : "false");
    if (o.permission)
        n += snprintf(extra + n, sizeof extra - (size_t)n, "&permission=%o", o.permission & 07777);
    if (o.replication > 0)
        snprintf(extra + n, sizeof extra - (size_t)n, "&replication=%d", o.replication);
    char *loc;
    cp_rest_code_t rc = locate(h, "PUT", path, "CREATE", extra, &loc, err, "create");
    if (rc != CP_REST_OK)
        return rc;
    /* Resending a create could meet our own half-written file: only attempts
     * that never reached the DataNode are repeated. */
    rc = transfer(h, "PUT", loc, p, true, err, "create", path);
    free(loc);
    return rc;
}

cp_rest_code_t cp_hdfs_create(cp_hdfs_t *h, const char *path, const void *data, size_t len,
                              const cp_hdfs_write_opts_t *opts, cp_rest_error_t *err)
{
    if (len && !data)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "create: data is NULL");
    payload_t p = {.data = data, .len = len};
    return create_impl(h, path, &p, opts, err);
}

cp_rest_code_t cp_hdfs_create_from_file(cp_hdfs_t *h, const char *path, const char *local_path,
                                        const cp_hdfs_write_opts_t *opts, cp_rest_error_t *err)
{
    if (!local_path)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "create: local path is NULL");
    payload_t p = {.local_path = local_path};
    return create_impl(h, path, &p, opts, err);
}

cp_rest_code_t cp_hdfs_append(cp_hdfs_t *h, const char *path, const void *data, size_t len,
                              cp_rest_error_t *err)
{
    if (!h || (len && !data))
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "append: missing argument");
    char *loc;
    cp_rest_code_t rc = locate(h, "POST", path, "APPEND", NULL, &loc, err, "append");
    if (rc != CP_REST_OK)
        return rc;
    payload_t p = {.data = data, .len = len};
    rc = transfer(h, "POST", loc, &p, true, err, "append", path);
    free(loc);
    return rc;
}

cp_rest_code_t cp_hdfs_open_to_buf(cp_hdfs_t *h, const char *path, cp_buf_t *out,
                                   cp_rest_error_t *err)
{
    if (!h || !out)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "open: missing argument");
    if (out->limit == 0)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "open: buffer has a zero limit");
    char *loc;
    cp_rest_code_t rc = locate(h, "GET", path, "OPEN", NULL, &loc, err, "open");
    if (rc != CP_REST_OK)
        return rc;
    payload_t p = {.buf = out};
    rc = transfer(h, "GET", loc, &p, false, err, "open", path);
    free(loc);
    return rc;
}

cp_rest_code_t cp_hdfs_open_to_file(cp_hdfs_t *h, const char *path, const char *local_path,
                                    cp_rest_error_t *err)
{
    if (!h || !local_path)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "open: missing argument");
    char *loc;
    cp_rest_code_t rc = locate(h, "GET", path, "OPEN", NULL, &loc, err, "open");
    if (rc != CP_REST_OK)
        return rc;
    payload_t p = {.local_path = local_path};
    rc = transfer(h, "GET", loc, &p, false, err, "open", path);
    free(loc);
    return rc;
}

/* ---- helpers ---- */

static char *join(const char *dir, const char *name)
{
    size_t nd = strlen(dir);
    while (nd > 1 && dir[nd - 1] == '/')
        nd--;
    size_t n = nd + strlen(name) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%.*s%s%s", (int)nd, dir, (nd == 1 && dir[0] == '/') ? "" : "/", name);
    return s;
}

cp_rest_code_t cp_hdfs_list_complete_dirs(cp_hdfs_t *h, const char *dir, const char *marker,
                                          cp_hdfs_list_t **out, cp_rest_error_t *err)
{
    if (!h || !out)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "list complete: missing argument");
    *out = NULL;
    if (!marker)
        marker = "_SUCCESS";
    cp_hdfs_list_t *all, *done = cp_hdfs_list_new();
    if (!done)
        return cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
    cp_rest_code_t rc = cp_hdfs_list(h, dir, &all, err);
    for (size_t i = 0; rc == CP_REST_OK && i < all->n; i++) {
        if (all->e[i]->type != CP_HDFS_DIRECTORY)
            continue;
        char *sub = join(dir, all->e[i]->name);
        char *m = sub ? join(sub, marker) : NULL;
        bool exists = false;
        if (!m)
            rc = cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
        else
            rc = cp_hdfs_exists(h, m, &exists, err);
        free(sub);
        free(m);
        if (rc == CP_REST_OK && exists) {
            if (!list_push(done, all->e[i]))
                rc = cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
            else
                all->e[i] = NULL; /* moved */
        }
    }
    if (rc == CP_REST_OK) {
        /* Drop the moved-out holes before freeing the rest. */
        size_t k = 0;
        for (size_t i = 0; i < all->n; i++)
            if (all->e[i])
                all->e[k++] = all->e[i];
        all->n = k;
    }
    cp_hdfs_list_destroy(all);
    if (rc != CP_REST_OK) {
        cp_hdfs_list_destroy(done);
        return rc;
    }
    *out = done;
    return CP_REST_OK;
}

cp_rest_code_t cp_hdfs_write_atomic(cp_hdfs_t *h, const char *path, const void *data, size_t len,
                                    cp_rest_error_t *err)
{
    if (!h)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "write atomic: missing argument");
    cp_rest_code_t rc = check_path(path, err, "write atomic");
    if (rc != CP_REST_OK)
        return rc;
    const char *slash = strrchr(path, '/');
    const char *base = slash + 1;
    if (!*base)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "write atomic: '%s' names no file", path);
    h->rng ^= h->rng << 13;
    h->rng ^= h->rng >> 7;
    h->rng ^= h->rng << 17;
    size_t n = strlen(path) + 64;
    char *tmp = malloc(n);
    if (!tmp)
        return cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
    /* A leading '.' hides the temporary file from Hadoop and Spark readers. */
    snprintf(tmp, n, "%.*s/.%s.tmp-%ld-%08llx", (int)(slash - path), path, base, (long)getpid(),
             (unsigned long long)(h->rng & 0xffffffffu));
    cp_hdfs_write_opts_t o = {.overwrite = false};
    rc = cp_hdfs_create(h, tmp, data, len, &o, err);
    if (rc == CP_REST_OK)
        rc = cp_hdfs_rename(h, tmp, path, true, err);
    if (rc != CP_REST_OK) {
        cp_rest_error_t *ignored = cp_rest_error_new();
        cp_hdfs_delete(h, tmp, false, NULL, ignored);
        cp_rest_error_destroy(ignored);
    } else {
        cp_log_debug("hdfs.write_atomic", "path=\"%s\" bytes=%zu", path, len);
    }
    free(tmp);
    return rc;
}
