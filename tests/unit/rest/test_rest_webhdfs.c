/* The WebHDFS client against an in-process imitation of a NameNode and
 * DataNode: redirects, paging, RemoteException errors, helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "carprice/webhdfs.h"
#include "fake_server.h"
#include "rest_internal.h"

#define MAX_FILES 64

typedef struct {
    char path[256];
    bool dir;
    char *data;
    size_t len;
} node_t;

typedef struct {
    pthread_mutex_t mu;
    node_t n[MAX_FILES];
    int count;
    int port;
    char user[64];
    int list_pages;
    int creates_redirected;
    bool nn_saw_data; /* the NameNode must never receive file bytes */
} hdfs_state_t;

static node_t *find(hdfs_state_t *s, const char *path)
{
    for (int i = 0; i < s->count; i++)
        if (strcmp(s->n[i].path, path) == 0)
            return &s->n[i];
    return NULL;
}

static node_t *add(hdfs_state_t *s, const char *path, bool dir)
{
    node_t *n = &s->n[s->count++];
    memset(n, 0, sizeof *n);
    snprintf(n->path, sizeof n->path, "%s", path);
    n->dir = dir;
    return n;
}

static void remote_exception(fake_resp_t *resp, int status, const char *ex, const char *msg)
{
    char buf[512];
    snprintf(buf, sizeof buf,
             "{\"RemoteException\":{\"exception\":\"%s\",\"javaClassName\":\"x.%s\","
             "\"message\":\"%s\"}}",
             ex, ex, msg);
    fake_reply(resp, status, buf);
}

static void status_json(char *buf, size_t cap, const node_t *n, const char *suffix)
{
    snprintf(buf, cap,
             "{\"pathSuffix\":\"%s\",\"type\":\"%s\",\"length\":%zu,\"owner\":\"alice\","
             "\"group\":\"supergroup\",\"permission\":\"%s\",\"replication\":1,"
             "\"modificationTime\":1700000000000,\"blockSize\":134217728}",
             suffix, n->dir ? "DIRECTORY" : "FILE", n->len, n->dir ? "755" : "644");
}

static int by_path(const void *a, const void *b)
{
    return strcmp((*(node_t *const *)a)->path, (*(node_t *const *)b)->path);
}

/* Children of dir, sorted by name as HDFS lists them. */
static int children(hdfs_state_t *s, const char *dir, node_t **out)
{
    int k = 0;
    size_t dl = strcmp(dir, "/") == 0 ? 0 : strlen(dir);
    for (int i = 0; i < s->count; i++) {
        const char *p = s->n[i].path;
        if (strncmp(p, dir, dl) == 0 && p[dl] == '/' && p[dl + 1] && !strchr(p + dl + 1, '/'))
            out[k++] = &s->n[i];
    }
    qsort(out, (size_t)k, sizeof *out, by_path);
    return k;
}

static void namenode(hdfs_state_t *s, const fake_req_t *req, fake_resp_t *resp)
{
    const char *path = req->path + strlen("/webhdfs/v1");
    const char *op = fake_arg(req, "op");
    const char *user = fake_arg(req, "user.name");
    snprintf(s->user, sizeof s->user, "%s", user ? user : "");
    if (req->body_len)
        s->nn_saw_data = true;
    node_t *n = find(s, path);
    char buf[8192];
    if (strcmp(op, "GETFILESTATUS") == 0) {
        if (!n) {
            remote_exception(resp, 404, "FileNotFoundException", "File does not exist");
            return;
        }
        char st[512];
        status_json(st, sizeof st, n, "");
        snprintf(buf, sizeof buf, "{\"FileStatus\":%s}", st);
        fake_reply(resp, 200, buf);
    } else if (strcmp(op, "LISTSTATUS_BATCH") == 0) {
        if (!n) {
            remote_exception(resp, 404, "FileNotFoundException", "File does not exist");
            return;
        }
        s->list_pages++;
        node_t *kids[MAX_FILES];
        int k = children(s, path, kids);
        const char *after = fake_arg(req, "startAfter");
        int start = 0;
        while (after && start < k && strcmp(strrchr(kids[start]->path, '/') + 1, after) <= 0)
            start++;
        int end = start + 2 < k ? start + 2 : k; /* pages of 2 */
        int len = snprintf(buf, sizeof buf,
                           "{\"DirectoryListing\":{\"partialListing\":{\"FileStatuses\":{"
                           "\"FileStatus\":[");
        for (int i = start; i < end; i++) {
            char st[512];
            status_json(st, sizeof st, kids[i], strrchr(kids[i]->path, '/') + 1);
            len += snprintf(buf + len, sizeof buf - (size_t)len, "%s%s", i > start ? "," : "", st);
        }
        snprintf(buf + len, sizeof buf - (size_t)len, "]}},\"remainingEntries\":%d}}", k - end);
        fake_reply(resp, 200, buf);
    } else if (strcmp(op, "MKDIRS") == 0) {
        if (n && !n->dir) {
            remote_exception(resp, 403, "FileAlreadyExistsException", "Path is a file");
            return;
        }
        if (!n)
            add(s, path, true);
        fake_reply(resp, 200, "{\"boolean\":true}");
    } else if (strcmp(op, "CREATE") == 0 || strcmp(op, "APPEND") == 0 || strcmp(op, "OPEN") == 0) {
        bool create = strcmp(op, "CREATE") == 0;
        const char *ow = fake_arg(req, "overwrite");
        if (create && n && !(ow && strcmp(ow, "true") == 0)) {
            remote_exception(resp, 403, "FileAlreadyExistsException", "File already exists");
            return;
        }
        if (!create && !n) {
            remote_exception(resp, 404, "FileNotFoundException", "File does not exist");
            return;
        }
        if (create)
            s->creates_redirected++;
        resp->status = 307;
        snprintf(resp->location, sizeof resp->location,
                 "http://127.0.0.1:%d/dn/webhdfs/v1%s?op=%s&namenoderpcaddress=x", s->port, path,
                 op);
    } else if (strcmp(op, "RENAME") == 0) {
        const char *dst = fake_arg(req, "destination");
        const char *opts = fake_arg(req, "renameoptions");
        node_t *d = find(s, dst);
        if (!n) {
            fake_reply(resp, 200, "{\"boolean\":false}");
            return;
        }
        if (d && !(opts && strcmp(opts, "OVERWRITE") == 0)) {
            fake_reply(resp, 200, "{\"boolean\":false}");
            return;
        }
        if (d) {
            free(d->data);
            *d = s->n[--s->count];
            n = find(s, path);
            if (!n) { /* cannot happen: path was found above and d != n */
                fake_reply(resp, 500, "{}");
                return;
            }
        }
        snprintf(n->path, sizeof n->path, "%s", dst);
        if (opts)
            resp->status = 200; /* rename2 answers with an empty body */
        else
            fake_reply(resp, 200, "{\"boolean\":true}");
    } else if (strcmp(op, "DELETE") == 0) {
        if (!n) {
            fake_reply(resp, 200, "{\"boolean\":false}");
            return;
        }
        free(n->data);
        *n = s->n[--s->count];
        fake_reply(resp, 200, "{\"boolean\":true}");
    } else if (strcmp(op, "GETCONTENTSUMMARY") == 0) {
        fake_reply(resp, 200,
                   "{\"ContentSummary\":{\"directoryCount\":2,\"fileCount\":3,\"length\":24930,"
                   "\"quota\":-1,\"spaceConsumed\":24930,\"spaceQuota\":-1}}");
    } else {
        remote_exception(resp, 400, "IllegalArgumentException", "Invalid value for op");
    }
}

static void datanode(hdfs_state_t *s, const fake_req_t *req, fake_resp_t *resp)
{
    const char *path = req->path + strlen("/dn/webhdfs/v1");
    const char *op = fake_arg(req, "op");
    node_t *n = find(s, path);
    if (strcmp(op, "CREATE") == 0) {
        if (!n)
            n = add(s, path, false);
        free(n->data);
        n->data = malloc(req->body_len + 1);
        memcpy(n->data, req->body, req->body_len);
        n->len = req->body_len;
        resp->status = 201;
    } else if (strcmp(op, "APPEND") == 0) {
        n->data = realloc(n->data, n->len + req->body_len + 1);
        memcpy(n->data + n->len, req->body, req->body_len);
        n->len += req->body_len;
        resp->status = 200;
    } else {
        resp->status = 200;
        resp->body = malloc(n->len + 1);
        memcpy(resp->body, n->data, n->len);
        resp->body_len = n->len;
    }
}

static void handler(void *ud, const fake_req_t *req, fake_resp_t *resp)
{
    hdfs_state_t *s = ud;
    pthread_mutex_lock(&s->mu);
    if (strncmp(req->path, "/dn/", 4) == 0)
        datanode(s, req, resp);
    else
        namenode(s, req, resp);
    pthread_mutex_unlock(&s->mu);
}

typedef struct {
    fake_server_t *srv;
    hdfs_state_t st;
    cp_hdfs_t *h;
    cp_rest_error_t *err;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    pthread_mutex_init(&f->st.mu, NULL);
    add(&f->st, "/", true);
    f->srv = fake_start(handler, &f->st);
    assert_non_null(f->srv);
    f->st.port = fake_port(f->srv);
    cp_http_options_t o;
    cp_http_options_init(&o);
    o.backoff_base_ms = 5;
    cp_hdfs_config_t c = {.url = fake_url(f->srv), .user = "carprice svc", .http = &o};
    assert_int_equal(cp_hdfs_new(&c, &f->h, NULL), CP_REST_OK);
    f->err = cp_rest_error_new();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    cp_hdfs_destroy(f->h);
    fake_stop(f->srv);
    for (int i = 0; i < f->st.count; i++)
        free(f->st.n[i].data);
    cp_rest_error_destroy(f->err);
    free(f);
    return 0;
}

static void files_through_the_datanode(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(cp_hdfs_mkdirs(f->h, "/carprice", 0755, f->err), CP_REST_OK);
    assert_string_equal(f->st.user, "carprice svc");
    assert_int_equal(cp_hdfs_create(f->h, "/carprice/a.csv", "id,price\n", 9, NULL, f->err),
                     CP_REST_OK);
    assert_int_equal(f->st.creates_redirected, 1);
    assert_false(f->st.nn_saw_data);
    assert_int_equal(cp_hdfs_create(f->h, "/carprice/a.csv", "x", 1, NULL, f->err),
                     CP_REST_ERR_EXISTS);
    assert_string_equal(cp_rest_error_remote_code(f->err), "FileAlreadyExistsException");
    assert_int_equal(cp_hdfs_append(f->h, "/carprice/a.csv", "1,2\n", 4, f->err), CP_REST_OK);
    cp_buf_t b;
    cp_buf_init(&b, 1024);
    assert_int_equal(cp_hdfs_open_to_buf(f->h, "/carprice/a.csv", &b, f->err), CP_REST_OK);
    assert_int_equal(b.len, 13);
    assert_string_equal(b.data, "id,price\n1,2\n");
    cp_buf_free(&b);
    cp_buf_init(&b, 5);
    assert_int_equal(cp_hdfs_open_to_buf(f->h, "/carprice/a.csv", &b, f->err), CP_REST_ERR_LIMIT);
    cp_buf_free(&b);
    cp_hdfs_write_opts_t ow = {.overwrite = true};
    assert_int_equal(cp_hdfs_create(f->h, "/carprice/a.csv", "new", 3, &ow, f->err), CP_REST_OK);

    char local[] = "/tmp/cp_hdfs_fileXXXXXX";
    int fd = mkstemp(local);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(cp_hdfs_open_to_file(f->h, "/carprice/a.csv", local, f->err), CP_REST_OK);
    struct stat st;
    assert_int_equal(stat(local, &st), 0);
    assert_int_equal(st.st_size, 3);
    assert_int_equal(cp_hdfs_create_from_file(f->h, "/carprice/b.csv", local, NULL, f->err),
                     CP_REST_OK);
    unlink(local);

    cp_hdfs_file_status_t *fs;
    assert_int_equal(cp_hdfs_stat(f->h, "/carprice/b.csv", &fs, f->err), CP_REST_OK);
    assert_int_equal(fs->type, CP_HDFS_FILE);
    assert_int_equal(fs->length, 3);
    assert_int_equal(fs->permission, 0644);
    cp_hdfs_file_status_free(fs);
    assert_int_equal(cp_hdfs_open_to_buf(f->h, "/carprice/none", &b, f->err),
                     CP_REST_ERR_NOT_FOUND);
    assert_string_equal(cp_rest_error_remote_code(f->err), "FileNotFoundException");
    assert_non_null(strstr(cp_rest_error_message(f->err), "/carprice/none"));
    bool ex;
    assert_int_equal(cp_hdfs_exists(f->h, "/carprice/none", &ex, f->err), CP_REST_OK);
    assert_false(ex);
    assert_int_equal(cp_hdfs_exists(f->h, "/carprice", &ex, f->err), CP_REST_OK);
    assert_true(ex);
}

static void listing_pages_and_helpers(void **state)
{
    fixture_t *f = *state;
    /* batch-1 and batch-3 are complete, batch-2 is not, x.txt is a file. */
    const char *dirs[] = {"/raw", "/raw/batch-1", "/raw/batch-2", "/raw/batch-3"};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(cp_hdfs_mkdirs(f->h, dirs[i], 0, f->err), CP_REST_OK);
    assert_int_equal(cp_hdfs_create(f->h, "/raw/batch-1/_SUCCESS", "", 0, NULL, f->err),
                     CP_REST_OK);
    assert_int_equal(cp_hdfs_create(f->h, "/raw/batch-3/_SUCCESS", "", 0, NULL, f->err),
                     CP_REST_OK);
    assert_int_equal(cp_hdfs_create(f->h, "/raw/x.txt", "x", 1, NULL, f->err), CP_REST_OK);
    cp_hdfs_list_t *l;
    assert_int_equal(cp_hdfs_list(f->h, "/raw", &l, f->err), CP_REST_OK);
    assert_int_equal(cp_hdfs_list_count(l), 4);
    assert_int_equal(f->st.list_pages, 2);
    assert_string_equal(cp_hdfs_list_at(l, 3)->name, "x.txt");
    cp_hdfs_list_destroy(l);
    assert_int_equal(cp_hdfs_list_complete_dirs(f->h, "/raw", NULL, &l, f->err), CP_REST_OK);
    assert_int_equal(cp_hdfs_list_count(l), 2);
    assert_string_equal(cp_hdfs_list_at(l, 0)->name, "batch-1");
    assert_string_equal(cp_hdfs_list_at(l, 1)->name, "batch-3");
    cp_hdfs_list_destroy(l);
    assert_int_equal(cp_hdfs_list_complete_dirs(f->h, "/nope", NULL, &l, f->err),
                     CP_REST_ERR_NOT_FOUND);

    assert_int_equal(cp_hdfs_write_atomic(f->h, "/raw/state.json", "{\"v\":1}", 7, f->err),
                     CP_REST_OK);
    assert_int_equal(cp_hdfs_write_atomic(f->h, "/raw/state.json", "{\"v\":2}", 7, f->err),
                     CP_REST_OK);
    cp_buf_t b;
    cp_buf_init(&b, 100);
    assert_int_equal(cp_hdfs_open_to_buf(f->h, "/raw/state.json", &b, f->err), CP_REST_OK);
    assert_string_equal(b.data, "{\"v\":2}");
    cp_buf_free(&b);
    /* No temporary file is left behind. */
    assert_int_equal(cp_hdfs_list(f->h, "/raw", &l, f->err), CP_REST_OK);
    assert_int_equal(cp_hdfs_list_count(l), 5);
    for (size_t i = 0; i < cp_hdfs_list_count(l); i++)
        assert_int_not_equal(cp_hdfs_list_at(l, i)->name[0], '.');
    cp_hdfs_list_destroy(l);

    assert_int_equal(cp_hdfs_rename(f->h, "/raw/x.txt", "/raw/state.json", false, f->err),
                     CP_REST_ERR_FAILED);
    assert_int_equal(cp_hdfs_rename(f->h, "/raw/x.txt", "/raw/y.txt", false, f->err), CP_REST_OK);
    bool deleted;
    assert_int_equal(cp_hdfs_delete(f->h, "/raw/y.txt", false, &deleted, f->err), CP_REST_OK);
    assert_true(deleted);
    assert_int_equal(cp_hdfs_delete(f->h, "/raw/y.txt", false, &deleted, f->err), CP_REST_OK);
    assert_false(deleted);
    assert_int_equal(cp_hdfs_delete(f->h, "/", true, &deleted, f->err), CP_REST_ERR_INVALID_ARG);
    cp_hdfs_content_summary_t cs;
    assert_int_equal(cp_hdfs_content_summary(f->h, "/raw", &cs, f->err), CP_REST_OK);
    assert_int_equal(cs.file_count, 3);
    assert_int_equal(cs.quota, -1);
    assert_int_equal(cp_hdfs_stat(f->h, "relative/path", NULL, f->err), CP_REST_ERR_INVALID_ARG);
}

static void server_down(void **state)
{
    (void)state;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", fake_closed_port());
    cp_http_options_t o;
    cp_http_options_init(&o);
    o.max_retries = 1;
    o.backoff_base_ms = 1;
    cp_hdfs_config_t c = {.url = url, .user = "u", .http = &o};
    cp_hdfs_t *h;
    assert_int_equal(cp_hdfs_new(&c, &h, NULL), CP_REST_OK);
    cp_rest_error_t *err = cp_rest_error_new();
    bool ex;
    assert_int_equal(cp_hdfs_exists(h, "/x", &ex, err), CP_REST_ERR_CONNECT);
    assert_true(cp_rest_error_retriable(err));
    cp_hdfs_destroy(h);
    cp_rest_error_destroy(err);
}

static void default_user_and_url(void **state)
{
    (void)state;
    unsetenv("CARPRICE_WEBHDFS_URL");
    setenv("CARPRICE_HDFS_USER", "svc", 1);
    cp_hdfs_t *h;
    assert_int_equal(cp_hdfs_new(NULL, &h, NULL), CP_REST_OK);
    assert_string_equal(cp_hdfs_url(h), "http://127.0.0.1:9870");
    assert_string_equal(cp_hdfs_user(h), "svc");
    cp_hdfs_destroy(h);
    unsetenv("CARPRICE_HDFS_USER");
    assert_int_equal(cp_hdfs_new(NULL, &h, NULL), CP_REST_OK);
    assert_true(strlen(cp_hdfs_user(h)) > 0);
    cp_hdfs_destroy(h);
    cp_hdfs_destroy(NULL);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(files_through_the_datanode),
        T(listing_pages_and_helpers),
        cmocka_unit_test(server_down),
        cmocka_unit_test(default_user_and_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
