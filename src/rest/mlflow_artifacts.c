/* Artifacts through the tracking server's proxy (mlflow server
 * --serve-artifacts): PUT/GET <service>/<root>/<path>, GET <service>?path=. */
#include "mlflow_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "carprice/log.h"

/* Deeper trees than this are refused, so a hostile listing cannot recurse
 * without end. */
#define MAX_DEPTH 64

static char *join2(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *s = malloc(na + nb + 2);
    if (!s)
        return NULL;
    memcpy(s, a, na);
    size_t n = na;
    if (na && nb)
        s[n++] = '/';
    memcpy(s + n, b, nb);
    s[n + nb] = '\0';
    return s;
}

static char *strip_slashes(const char *s, size_t len)
{
    while (len && *s == '/') {
        s++;
        len--;
    }
    while (len && s[len - 1] == '/')
        len--;
    return strndup(s, len);
}

cp_rest_code_t cp_mlflow_artifact_location(const char *artifact_uri, const char *tracking_uri,
                                           char **service, char **root, cp_rest_error_t *err)
{
    static const char scheme[] = "mlflow-artifacts:";
    static const char anchor[] = MLFLOW_ARTIFACTS_API;
    *service = *root = NULL;
    if (!artifact_uri || !*artifact_uri)
        return cp_rest_fail(err, CP_REST_ERR_PROTOCOL, "run has no artifact_uri");
    if (strncmp(artifact_uri, scheme, sizeof scheme - 1) == 0) {
        const char *rest = artifact_uri + sizeof scheme - 1;
        if (strncmp(rest, "//", 2) == 0) {
            /* mlflow-artifacts://host:port/path: that host, the tracking URI's
             * scheme and path prefix (as MLflow's own client resolves it). */
            const char *netloc = rest + 2;
            const char *slash = strchr(netloc, '/');
            size_t nlen = slash ? (size_t)(slash - netloc) : strlen(netloc);
            const char *sep = strstr(tracking_uri, "://");
            if (!sep)
                return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "bad tracking URI");
            const char *tpath = strchr(sep + 3, '/');
            size_t slen = (size_t)(sep - tracking_uri);
            size_t n = slen + 3 + nlen + (tpath ? strlen(tpath) : 0) + sizeof anchor;
            *service = malloc(n);
            if (*service) {
                if (nlen)
                    snprintf(*service, n, "%.*s://%.*s%s%s", (int)slen, tracking_uri, (int)nlen,
                             netloc, tpath ? tpath : "", anchor);
                else
                    snprintf(*service, n, "%s%s", tracking_uri, anchor);
            }
            rest = slash ? slash : "";
        } else {
            *service = join2(tracking_uri, anchor + 1);
        }
        *root = strip_slashes(rest, strlen(rest));
    } else if (strncmp(artifact_uri, "http://", 7) == 0 ||
               strncmp(artifact_uri, "https://", 8) == 0) {
        const char *a = strstr(artifact_uri, anchor);
        if (!a || (a[sizeof anchor - 1] != '/' && a[sizeof anchor - 1] != '\0'))
            goto unsupported;
        *service = strndup(artifact_uri, (size_t)(a - artifact_uri) + sizeof anchor - 1);
        const char *rest = a + sizeof anchor - 1;
        *root = strip_slashes(rest, strlen(rest));
    } else {
        goto unsupported;
    }
    if (!*service || !*root) {
        free(*service);
        free(*root);
        *service = *root = NULL;
        return cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
    }
    return CP_REST_OK;
unsupported:
    return cp_rest_fail(err, CP_REST_ERR_UNSUPPORTED,
                        "the run's artifact URI '%.200s' is not served by the tracking server; "
                        "start it with --serve-artifacts and an mlflow-artifacts: root",
                        artifact_uri);
}

cp_rest_code_t cp_mlflow_artifact_path_clean(const char *path, char **out, cp_rest_error_t *err)
{
    *out = NULL;
    cp_buf_t b;
    cp_buf_init(&b, 1 << 16);
    const char *p = path ? path : "";
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.')) {
            cp_buf_free(&b);
            return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG,
                                "artifact path '%.200s' has a '.' or '..' segment", path);
        }
        if ((b.len && cp_buf_append(&b, "/", 1)) || cp_buf_append(&b, p, len)) {
            cp_buf_free(&b);
            return cp_rest_fail(err, CP_REST_ERR_LIMIT, "artifact path too long");
        }
        p += len;
    }
    *out = cp_buf_steal(&b);
    if (!*out)
        return cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
    return CP_REST_OK;
}

/* The proxy service URL and the run's root below it. */
static cp_rest_code_t run_location(cp_mlflow_t *m, const char *run_id, char **service, char **root,
                                   cp_rest_error_t *err)
{
    cp_mlflow_run_t *run;
    cp_rest_code_t rc = cp_mlflow_run_get(m, run_id, &run, err);
    if (rc != CP_REST_OK)
        return rc;
    rc = cp_mlflow_artifact_location(cp_mlflow_run_artifact_uri(run), cp_mlflow_tracking_uri(m),
                                     service, root, err);
    cp_mlflow_run_destroy(run);
    return rc;
}

/* <service>/<escaped root/rel>. */
static char *artifact_url(const char *service, const char *root, const char *rel)
{
    char *full = join2(root, rel);
    char *esc = full ? cp_http_escape_path(full) : NULL;
    char *url = esc ? join2(service, esc) : NULL;
    free(full);
    free(esc);
    return url;
}

static cp_rest_code_t check_status(cp_http_response_t *resp, cp_rest_error_t *err, const char *what)
{
    if (resp->status >= 200 && resp->status <= 299)
        return CP_REST_OK;
    return cp_mlflow_error_from_response(resp->status, resp->body.data, resp->body.len, err, what);
}

static cp_rest_code_t put_file(cp_mlflow_t *m, const char *service, const char *root,
                               const char *local_file, const char *rel, cp_rest_error_t *err)
{
    char *url = artifact_url(service, root, rel);
    if (!url)
        return cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
    cp_http_request_t req = {
        .method = "PUT",
        .url = url,
        .content_type = "application/octet-stream",
        .upload_path = local_file,
    };
    cp_http_response_t resp;
    cp_rest_code_t rc = cp_http_do(m->http, &req, &resp, err);
    if (rc == CP_REST_OK)
        rc = check_status(&resp, err, "upload artifact");
    if (rc == CP_REST_OK)
        cp_log_debug("mlflow.artifact.uploaded", "path=\"%s\" bytes=%lld ms=%.1f", rel,
                     (long long)resp.bytes, resp.total_ms);
    cp_http_response_free(&resp);
    free(url);
    return rc;
}

static const char *base_name(const char *path)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    const char *p = path + n;
    while (p > path && p[-1] != '/')
        p--;
    return p;
}

cp_rest_code_t cp_mlflow_artifact_upload_file(cp_mlflow_t *m, const char *run_id,
                                              const char *local_file, const char *artifact_dir,
                                              cp_rest_error_t *err)
{
    if (!m || !run_id || !local_file)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "upload artifact: missing argument");
    struct stat st;
    if (stat(local_file, &st) != 0 || !S_ISREG(st.st_mode))
        return cp_rest_fail(err, CP_REST_ERR_IO, "upload artifact: %s is not a readable file",
                            local_file);
    char *dir, *service = NULL, *root = NULL, *rel = NULL;
    cp_rest_code_t rc = cp_mlflow_artifact_path_clean(artifact_dir, &dir, err);
    if (rc != CP_REST_OK)
        return rc;
    /* A trailing '/' would make the base name empty. */
    char *name = strdup(base_name(local_file));
    if (name) {
        size_t n = strlen(name);
        while (n && name[n - 1] == '/')
            name[--n] = '\0';
    }
    if (!name || !*name)
        rc = cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "upload artifact: no file name in %s",
                          local_file);
    if (rc == CP_REST_OK)
        rc = run_location(m, run_id, &service, &root, err);
    if (rc == CP_REST_OK && !(rel = join2(dir, name)))
        rc = cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
    if (rc == CP_REST_OK)
        rc = put_file(m, service, root, local_file, rel, err);
    free(name);
    free(rel);
    free(dir);
    free(service);
    free(root);
    return rc;
}

static cp_rest_code_t upload_tree(cp_mlflow_t *m, const char *service, const char *root,
                                  const char *local, const char *rel, int depth, size_t *files,
                                  cp_rest_error_t *err)
{
    if (depth > MAX_DEPTH)
        return cp_rest_fail(err, CP_REST_ERR_LIMIT, "upload artifacts: %s is nested too deeply",
                            local);
    struct dirent **ents;
    int n = scandir(local, &ents, NULL, alphasort);
    if (n < 0)
        return cp_rest_fail(err, CP_REST_ERR_IO, "upload artifacts: cannot read %s: %s", local,
                            strerror(errno));
    cp_rest_code_t rc = CP_REST_OK;
    for (int i = 0; i < n; i++) {
        const char *name = ents[i]->d_name;
        if (rc != CP_REST_OK || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        char *lpath = join2(local, name), *rpath = join2(rel, name);
        struct stat lst, st;
        if (!lpath || !rpath) {
            rc = cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
        } else if (lstat(lpath, &lst) != 0) {
            rc = cp_rest_fail(err, CP_REST_ERR_IO, "upload artifacts: %s: %s", lpath,
                              strerror(errno));
        } else if (S_ISDIR(lst.st_mode)) {
            rc = upload_tree(m, service, root, lpath, rpath, depth + 1, files, err);
        } else if (stat(lpath, &st) == 0 && S_ISREG(st.st_mode)) {
            rc = put_file(m, service, root, lpath, rpath, err);
            if (rc == CP_REST_OK)
                (*files)++;
        } else {
            cp_log_debug("mlflow.artifact.skipped", "path=\"%s\" reason=not_a_regular_file", lpath);
        }
        free(lpath);
        free(rpath);
    }
    for (int i = 0; i < n; i++)
        free(ents[i]);
    free(ents);
    return rc;
}

cp_rest_code_t cp_mlflow_artifact_upload_dir(cp_mlflow_t *m, const char *run_id,
                                             const char *local_dir, const char *artifact_dir,
                                             size_t *files, cp_rest_error_t *err)
{
    size_t count = 0;
    if (files)
        *files = 0;
    if (!m || !run_id || !local_dir)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "upload artifacts: missing argument");
    struct stat st;
    if (stat(local_dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return cp_rest_fail(err, CP_REST_ERR_IO, "upload artifacts: %s is not a directory",
                            local_dir);
    char *dir, *service = NULL, *root = NULL;
    cp_rest_code_t rc = cp_mlflow_artifact_path_clean(artifact_dir, &dir, err);
    if (rc != CP_REST_OK)
        return rc;
    double t0 = cp_rest_mono_ms();
    rc = run_location(m, run_id, &service, &root, err);
    if (rc == CP_REST_OK)
        rc = upload_tree(m, service, root, local_dir, dir, 0, &count, err);
    if (rc == CP_REST_OK)
        cp_log_info("mlflow.artifacts.uploaded", "run_id=%s dir=\"%s\" files=%zu ms=%.0f", run_id,
                    dir, count, cp_rest_mono_ms() - t0);
    if (files)
        *files = count;
    free(dir);
    free(service);
    free(root);
    return rc;
}

/* ---- listing ---- */

typedef struct {
    char *path;
    bool is_dir;
    int64_t size;
} file_entry_t;

struct cp_mlflow_file_list_s {
    file_entry_t *e;
    size_t n;
};

static int by_path(const void *a, const void *b)
{
    return strcmp(((const file_entry_t *)a)->path, ((const file_entry_t *)b)->path);
}

void cp_mlflow_file_list_destroy(cp_mlflow_file_list_t *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->e[i].path);
    free(l->e);
    free(l);
}

size_t cp_mlflow_file_list_count(const cp_mlflow_file_list_t *l)
{
    return l ? l->n : 0;
}

const char *cp_mlflow_file_list_path(const cp_mlflow_file_list_t *l, size_t i)
{
    return l && i < l->n ? l->e[i].path : NULL;
}

bool cp_mlflow_file_list_is_dir(const cp_mlflow_file_list_t *l, size_t i)
{
    return l && i < l->n && l->e[i].is_dir;
}

int64_t cp_mlflow_file_list_size(const cp_mlflow_file_list_t *l, size_t i)
{
    return l && i < l->n ? l->e[i].size : -1;
}

/* Lists rel (clean) below root. */
static cp_rest_code_t list_at(cp_mlflow_t *m, const char *service, const char *root,
                              const char *rel, cp_mlflow_file_list_t **out, cp_rest_error_t *err)
{
    const char *what = "list artifacts";
    *out = NULL;
    char *full = join2(root, rel);
    char *q = full ? cp_http_escape_query(full) : NULL;
    size_t n = q ? strlen(service) + strlen(q) + 8 : 0;
    char *url = q ? malloc(n) : NULL;
    if (url)
        snprintf(url, n, "%s?path=%s", service, q);
    free(full);
    free(q);
    if (!url)
        return cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
    cp_http_request_t req = {.method = "GET", .url = url};
    cp_http_response_t resp;
    json_t *j = NULL;
    cp_rest_code_t rc = cp_http_do(m->http, &req, &resp, err);
    if (rc == CP_REST_OK)
        rc = check_status(&resp, err, what);
    if (rc == CP_REST_OK)
        rc = cp_rest_json_parse(resp.body.data, resp.body.len, &j, err, what);
    cp_http_response_free(&resp);
    free(url);
    if (rc != CP_REST_OK)
        return rc;
    json_t *files = json_object_get(j, "files");
    cp_mlflow_file_list_t *l = calloc(1, sizeof *l);
    size_t count = json_array_size(files);
    if (l && count)
        l->e = calloc(count, sizeof *l->e);
    if (!l || (count && !l->e)) {
        free(l);
        json_decref(j);
        return cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
    }
    if (files && !json_is_array(files))
        rc = cp_rest_fail(err, CP_REST_ERR_PROTOCOL, "%s: \"files\" is not an array", what);
    for (size_t i = 0; rc == CP_REST_OK && i < count; i++) {
        const json_t *f = json_array_get(files, i);
        const char *name = cp_rest_json_str(f, "path");
        /* The proxy returns base names; anything else would let the server
         * steer our downloads outside the target directory. */
        if (!name || !*name || strchr(name, '/') || strcmp(name, ".") == 0 ||
            strcmp(name, "..") == 0) {
            rc = cp_rest_fail(err, CP_REST_ERR_PROTOCOL, "%s: invalid entry name '%.100s'", what,
                              name ? name : "(none)");
            break;
        }
        l->e[i].path = join2(rel, name);
        if (!l->e[i].path) {
            rc = cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
            break;
        }
        l->n++;
        const json_t *d = json_object_get(f, "is_dir");
        l->e[i].is_dir = json_is_true(d);
        l->e[i].size = l->e[i].is_dir ? -1 : cp_rest_json_i64(f, "file_size", -1);
    }
    json_decref(j);
    if (rc != CP_REST_OK) {
        cp_mlflow_file_list_destroy(l);
        return rc;
    }
    if (l->n > 1)
        qsort(l->e, l->n, sizeof *l->e, by_path);
    *out = l;
    return CP_REST_OK;
}

cp_rest_code_t cp_mlflow_artifact_list(cp_mlflow_t *m, const char *run_id, const char *path,
                                       cp_mlflow_file_list_t **out, cp_rest_error_t *err)
{
    if (!m || !run_id || !out)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "list artifacts: missing argument");
    *out = NULL;
    char *rel, *service = NULL, *root = NULL;
    cp_rest_code_t rc = cp_mlflow_artifact_path_clean(path, &rel, err);
    if (rc != CP_REST_OK)
        return rc;
    rc = run_location(m, run_id, &service, &root, err);
    if (rc == CP_REST_OK)
        rc = list_at(m, service, root, rel, out, err);
    free(rel);
    free(service);
    free(root);
    return rc;
}

/* ---- download ---- */

static cp_rest_code_t mkdirs_local(const char *path, cp_rest_error_t *err)
{
    char *p = strdup(path);
    if (!p)
        return cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            cp_rest_code_t rc =
                cp_rest_fail(err, CP_REST_ERR_IO, "cannot create %s: %s", p, strerror(errno));
            free(p);
            return rc;
        }
        *s = '/';
    }
    struct stat st;
    cp_rest_code_t rc = CP_REST_OK;
    if (mkdir(p, 0777) != 0 && (errno != EEXIST || stat(p, &st) != 0 || !S_ISDIR(st.st_mode)))
        rc = cp_rest_fail(err, CP_REST_ERR_IO, "cannot create directory %s", p);
    free(p);
    return rc;
}

static cp_rest_code_t get_file(cp_mlflow_t *m, const char *service, const char *root,
                               const char *rel, const char *local, cp_rest_error_t *err)
{
    char *url = artifact_url(service, root, rel);
    if (!url)
        return cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
    cp_http_request_t req = {.method = "GET", .url = url, .download_path = local};
    cp_http_response_t resp;
    cp_rest_code_t rc = cp_http_do(m->http, &req, &resp, err);
    if (rc == CP_REST_OK)
        rc = check_status(&resp, err, "download artifact");
    if (rc == CP_REST_OK)
        cp_log_debug("mlflow.artifact.downloaded", "path=\"%s\" bytes=%lld ms=%.1f", rel,
                     (long long)resp.bytes, resp.total_ms);
    cp_http_response_free(&resp);
    free(url);
    return rc;
}

static cp_rest_code_t download_at(cp_mlflow_t *m, const char *service, const char *root,
                                  const char *rel, const char *local, bool known_dir, int depth,
                                  cp_rest_error_t *err)
{
    if (depth > MAX_DEPTH)
        return cp_rest_fail(err, CP_REST_ERR_LIMIT, "download artifacts: tree too deep at %s", rel);
    cp_mlflow_file_list_t *l;
    cp_rest_code_t rc = list_at(m, service, root, rel, &l, err);
    if (rc != CP_REST_OK)
        return rc;
    if (l->n == 0 && !known_dir && *rel) {
        /* Listing a file gives nothing: fetch it as a file. */
        cp_mlflow_file_list_destroy(l);
        return get_file(m, service, root, rel, local, err);
    }
    rc = mkdirs_local(local, err);
    for (size_t i = 0; rc == CP_REST_OK && i < l->n; i++) {
        char *child = join2(local, base_name(l->e[i].path));
        if (!child) {
            rc = cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
            break;
        }
        if (l->e[i].is_dir)
            rc = download_at(m, service, root, l->e[i].path, child, true, depth + 1, err);
        else
            rc = get_file(m, service, root, l->e[i].path, child, err);
        free(child);
    }
    cp_mlflow_file_list_destroy(l);
    return rc;
}

cp_rest_code_t cp_mlflow_artifact_download(cp_mlflow_t *m, const char *run_id,
                                           const char *artifact_path, const char *local_path,
                                           cp_rest_error_t *err)
{
    if (!m || !run_id || !local_path || !*local_path)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "download artifacts: missing argument");
    char *rel, *service = NULL, *root = NULL;
    cp_rest_code_t rc = cp_mlflow_artifact_path_clean(artifact_path, &rel, err);
    if (rc != CP_REST_OK)
        return rc;
    double t0 = cp_rest_mono_ms();
    rc = run_location(m, run_id, &service, &root, err);
    if (rc == CP_REST_OK)
        rc = download_at(m, service, root, rel, local_path, false, 0, err);
    if (rc == CP_REST_OK)
        cp_log_info("mlflow.artifacts.downloaded", "run_id=%s path=\"%s\" ms=%.0f", run_id, rel,
                    cp_rest_mono_ms() - t0);
    free(rel);
    free(service);
    free(root);
    return rc;
}
