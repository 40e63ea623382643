/* The WebHDFS client against the real NameNode/DataNode of the local stack
 * (scripts/stack up). What it writes is read back through the Hadoop CLI
 * (FsShell over hdfs://, not WebHDFS) and compared byte for byte.
 *
 * Environment: CARPRICE_WEBHDFS_URL (default http://127.0.0.1:9870),
 * CARPRICE_HDFS_USER (default: the current user), CARPRICE_HDFS_URI (default
 * hdfs://127.0.0.1:9000), CARPRICE_HADOOP_JARS (default
 * <cache>/jars/hadoop-<version>). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "carprice/webhdfs.h"
#include "live_util.h"

static cp_hdfs_t *g_h;
static cp_rest_error_t *g_err;
static char g_base[128]; /* HDFS directory of this run */
static char g_tmp[256];  /* local scratch */

#define OK(call)                                                                                   \
    do {                                                                                           \
        cp_rest_code_t rc_ = (call);                                                               \
        if (rc_ != CP_REST_OK)                                                                     \
            fail_msg("%s -> %s: %s", #call, cp_rest_code_name(rc_), cp_rest_error_message(g_err)); \
    } while (0)

static int setup(void **state)
{
    (void)state;
    g_err = cp_rest_error_new();
    if (cp_hdfs_new(NULL, &g_h, g_err) != CP_REST_OK) {
        fprintf(stderr, "cannot create client: %s\n", cp_rest_error_message(g_err));
        return -1;
    }
    snprintf(g_base, sizeof g_base, "/tmp/carprice-it/%ld-%ld", (long)time(NULL), (long)getpid());
    snprintf(g_tmp, sizeof g_tmp, "/tmp/cp_hdfs_live_%ld", (long)getpid());
    mkdir(g_tmp, 0755);
    bool ex;
    if (cp_hdfs_exists(g_h, "/", &ex, g_err) != CP_REST_OK) {
        fprintf(stderr, "WebHDFS at %s is not answering (%s); run scripts/stack up\n",
                cp_hdfs_url(g_h), cp_rest_error_message(g_err));
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    bool deleted;
    if (cp_hdfs_delete(g_h, g_base, true, &deleted, g_err) != CP_REST_OK)
        fprintf(stderr, "cleanup of %s failed: %s\n", g_base, cp_rest_error_message(g_err));
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_tmp);
    cp_hdfs_destroy(g_h);
    cp_rest_error_destroy(g_err);
    return 0;
}

static void write_random(const char *path, size_t n, unsigned seed)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    uint32_t x = seed * 2654435761u + 7;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        fputc((int)(x & 0xff), fp);
    }
    fclose(fp);
}

static char *path_in(const char *rel)
{
    static char buf[4][300];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", g_base, rel);
    return p;
}

/* Runs FsShell -cat over hdfs:// for each path, concatenated into out. */
static void hadoop_cat(const char *const *paths, size_t n, const char *out)
{
    const char *uri = getenv("CARPRICE_HDFS_URI");
    if (!uri || !*uri)
        uri = "hdfs://127.0.0.1:9000";
    char jars[600];
    const char *j = getenv("CARPRICE_HADOOP_JARS");
    if (j && *j)
        snprintf(jars, sizeof jars, "%s", j);
    else
        snprintf(jars, sizeof jars, "%s/jars/hadoop-%s", live_cache_dir(), CARPRICE_HADOOP_VERSION);
    /* A private, empty core-site.xml: the CLI insists on finding one. */
    char conf[400], site[500];
    snprintf(conf, sizeof conf, "%s/hadoop-conf", g_tmp);
    mkdir(conf, 0755);
    snprintf(site, sizeof site, "%s/core-site.xml", conf);
    FILE *fp = fopen(site, "w");
    assert_non_null(fp);
    fputs("<?xml version=\"1.0\"?><configuration/>\n", fp);
    fclose(fp);
    char cmd[4096];
    int len = snprintf(cmd, sizeof cmd,
                       "HADOOP_USER_NAME='%s' java -cp '%s:%s/*' org.apache.hadoop.fs.FsShell "
                       "-fs '%s' -cat",
                       cp_hdfs_user(g_h), conf, jars, uri);
    for (size_t i = 0; i < n; i++)
        len += snprintf(cmd + len, sizeof cmd - (size_t)len, " '%s'", paths[i]);
    snprintf(cmd + len, sizeof cmd - (size_t)len, " > '%s' 2>'%s.err'", out, out);
    double t = live_now_ms();
    int status = system(cmd);
    live_measure("hdfs.hadoop_cli.cat_ms", live_now_ms() - t, "ms");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char show[700];
        snprintf(show, sizeof show, "tail -5 '%s.err' >&2", out);
        (void)system(show);
        fail_msg("hadoop CLI failed: %s", cmd);
    }
}

static void concat_files(const char *const *in, size_t n, const char *out)
{
    FILE *o = fopen(out, "wb");
    assert_non_null(o);
    for (size_t i = 0; i < n; i++) {
        FILE *f = fopen(in[i], "rb");
        assert_non_null(f);
        int c;
        while ((c = fgetc(f)) != EOF)
            fputc(c, o);
        fclose(f);
    }
    fclose(o);
}

static void writes_read_back_through_hadoop(void **state)
{
    (void)state;
    OK(cp_hdfs_mkdirs(g_h, g_base, 0755, g_err));
    cp_hdfs_file_status_t *st;
    OK(cp_hdfs_stat(g_h, g_base, &st, g_err));
    assert_int_equal(st->type, CP_HDFS_DIRECTORY);
    assert_int_equal(st->permission, 0755);
    assert_string_equal(st->owner, cp_hdfs_user(g_h));
    cp_hdfs_file_status_free(st);

    /* A small file, appended to. */
    const char *head = "vin,price\n1HGCM82633A004352,18995\n";
    const char *tail = "5YJ3E1EA7KF317000,41990\n";
    OK(cp_hdfs_create(g_h, path_in("small.csv"), head, strlen(head), NULL, g_err));
    OK(cp_hdfs_append(g_h, path_in("small.csv"), tail, strlen(tail), g_err));
    char small_local[400];
    snprintf(small_local, sizeof small_local, "%s/small.csv", g_tmp);
    FILE *fp = fopen(small_local, "wb");
    fputs(head, fp);
    fputs(tail, fp);
    fclose(fp);

    /* A large file streamed from disk (several packets, one block). */
    const size_t big = 24u << 20;
    char big_local[400];
    snprintf(big_local, sizeof big_local, "%s/big.bin", g_tmp);
    write_random(big_local, big, 42);
    double t = live_now_ms();
    OK(cp_hdfs_create_from_file(g_h, path_in("data/big.bin"), big_local, NULL, g_err));
    double ms = live_now_ms() - t;
    live_measure("hdfs.create_from_file.MB_per_s", big / 1e6 / (ms / 1000.0), "MB/s");

    /* A name that needs escaping. */
    const char *odd = "name with spaces & \xc3\xa9\xe2\x82\xac?#%.txt";
    OK(cp_hdfs_create(g_h, path_in(odd), "odd", 3, NULL, g_err));

    /* Atomic replacement. */
    OK(cp_hdfs_write_atomic(g_h, path_in("state.json"), "{\"v\":1}", 7, g_err));
    OK(cp_hdfs_write_atomic(g_h, path_in("state.json"), "{\"v\":2}\n", 8, g_err));
    char state_local[400];
    snprintf(state_local, sizeof state_local, "%s/state.json", g_tmp);
    fp = fopen(state_local, "wb");
    fputs("{\"v\":2}\n", fp);
    fclose(fp);

    /* Read back by Hadoop's own client (RPC + data transfer protocol). */
    const char *hdfs_paths[] = {path_in("small.csv"), path_in("data/big.bin"), path_in(odd),
                                path_in("state.json")};
    char odd_local[400];
    snprintf(odd_local, sizeof odd_local, "%s/odd.txt", g_tmp);
    fp = fopen(odd_local, "wb");
    fputs("odd", fp);
    fclose(fp);
    const char *locals[] = {small_local, big_local, odd_local, state_local};
    char want[400], got[400];
    snprintf(want, sizeof want, "%s/want.bin", g_tmp);
    snprintf(got, sizeof got, "%s/got.bin", g_tmp);
    concat_files(locals, 4, want);
    hadoop_cat(hdfs_paths, 4, got);
    assert_true(live_files_equal(want, got));

    /* And by us: to a buffer and to a file. */
    cp_buf_t b;
    cp_buf_init(&b, 1 << 20);
    OK(cp_hdfs_open_to_buf(g_h, path_in("small.csv"), &b, g_err));
    assert_int_equal(b.len, strlen(head) + strlen(tail));
    assert_memory_equal(b.data, head, strlen(head));
    assert_int_equal(cp_hdfs_open_to_buf(g_h, path_in("data/big.bin"), &b, g_err),
                     CP_REST_ERR_LIMIT);
    cp_buf_free(&b);
    char back[400];
    snprintf(back, sizeof back, "%s/back.bin", g_tmp);
    t = live_now_ms();
    OK(cp_hdfs_open_to_file(g_h, path_in("data/big.bin"), back, g_err));
    ms = live_now_ms() - t;
    live_measure("hdfs.open_to_file.MB_per_s", big / 1e6 / (ms / 1000.0), "MB/s");
    assert_true(live_files_equal(big_local, back));

    cp_hdfs_content_summary_t cs;
    OK(cp_hdfs_content_summary(g_h, g_base, &cs, g_err));
    assert_int_equal(cs.file_count, 4);
    assert_int_equal(cs.directory_count, 2);
    assert_int_equal(cs.length, (int64_t)(big + strlen(head) + strlen(tail) + 3 + 8));
}

static void namespace_operations_and_errors(void **state)
{
    (void)state;
    char dir[300];
    snprintf(dir, sizeof dir, "%s/ns", g_base);
    OK(cp_hdfs_mkdirs(g_h, dir, 0, g_err));
    char a[400], b2[400];
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b2, sizeof b2, "%s/b", dir);
    OK(cp_hdfs_create(g_h, a, "A", 1, NULL, g_err));
    OK(cp_hdfs_create(g_h, b2, "B", 1, NULL, g_err));

    /* Existing file without overwrite: FileAlreadyExistsException. */
    assert_int_equal(cp_hdfs_create(g_h, a, "x", 1, NULL, g_err), CP_REST_ERR_EXISTS);
    assert_string_equal(cp_rest_error_remote_code(g_err), "FileAlreadyExistsException");
    cp_hdfs_write_opts_t ow = {.overwrite = true, .permission = 0600};
    OK(cp_hdfs_create(g_h, a, "AA", 2, &ow, g_err));
    cp_hdfs_file_status_t *st;
    OK(cp_hdfs_stat(g_h, a, &st, g_err));
    assert_int_equal(st->length, 2);
    assert_int_equal(st->permission, 0600);
    cp_hdfs_file_status_free(st);

    /* Missing files: FileNotFoundException with the server's message. */
    char missing[400];
    snprintf(missing, sizeof missing, "%s/missing", dir);
    cp_buf_t b;
    cp_buf_init(&b, 100);
    assert_int_equal(cp_hdfs_open_to_buf(g_h, missing, &b, g_err), CP_REST_ERR_NOT_FOUND);
    assert_string_equal(cp_rest_error_remote_code(g_err), "FileNotFoundException");
    assert_int_equal(cp_rest_error_http_status(g_err), 404);
    assert_non_null(strstr(cp_rest_error_remote_message(g_err), "missing"));
    cp_buf_free(&b);
    assert_int_equal(cp_hdfs_append(g_h, missing, "x", 1, g_err), CP_REST_ERR_NOT_FOUND);
    assert_int_equal(cp_hdfs_stat(g_h, missing, &st, g_err), CP_REST_ERR_NOT_FOUND);
    cp_hdfs_list_t *l;
    assert_int_equal(cp_hdfs_list(g_h, missing, &l, g_err), CP_REST_ERR_NOT_FOUND);

    /* A directory below a file. */
    char under[500];
    snprintf(under, sizeof under, "%s/sub", a);
    cp_rest_code_t rc = cp_hdfs_mkdirs(g_h, under, 0, g_err);
    assert_int_not_equal(rc, CP_REST_OK);
    assert_string_not_equal(cp_rest_error_remote_code(g_err), "");
    printf("mkdirs under a file: %s / %s\n", cp_rest_code_name(rc), cp_rest_error_message(g_err));

    /* Plain rename refuses to replace; with overwrite it replaces. */
    assert_int_equal(cp_hdfs_rename(g_h, b2, a, false, g_err), CP_REST_ERR_FAILED);
    OK(cp_hdfs_rename(g_h, b2, a, true, g_err));
    cp_buf_init(&b, 100);
    OK(cp_hdfs_open_to_buf(g_h, a, &b, g_err));
    assert_string_equal(b.data, "B");
    cp_buf_free(&b);
    bool ex;
    OK(cp_hdfs_exists(g_h, b2, &ex, g_err));
    assert_false(ex);
    rc = cp_hdfs_rename(g_h, missing, b2, true, g_err);
    assert_int_equal(rc, CP_REST_ERR_NOT_FOUND);

    /* Deleting a non-empty directory needs recursive. */
    bool deleted;
    rc = cp_hdfs_delete(g_h, dir, false, &deleted, g_err);
    assert_int_not_equal(rc, CP_REST_OK);
    printf("non-recursive delete of a directory: %s / %s\n", cp_rest_code_name(rc),
           cp_rest_error_message(g_err));
    OK(cp_hdfs_delete(g_h, dir, true, &deleted, g_err));
    assert_true(deleted);
    OK(cp_hdfs_delete(g_h, dir, true, &deleted, g_err));
    assert_false(deleted);
}

static void batches_with_success_markers(void **state)
{
    (void)state;
    char raw[300];
    snprintf(raw, sizeof raw, "%s/raw", g_base);
    char p[400];
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/batch-%05d", raw, i);
        OK(cp_hdfs_mkdirs(g_h, p, 0, g_err));
        snprintf(p, sizeof p, "%s/batch-%05d/part-00000.csv", raw, i);
        OK(cp_hdfs_create(g_h, p, "x\n", 2, NULL, g_err));
        if (i != 2) { /* batch 2 is still being written */
            snprintf(p, sizeof p, "%s/batch-%05d/_SUCCESS", raw, i);
            OK(cp_hdfs_create(g_h, p, "", 0, NULL, g_err));
        }
    }
    /* 1200 entries: more than one LISTSTATUS_BATCH page (dfs.ls.limit 1000). */
    char many[300];
    snprintf(many, sizeof many, "%s/many", g_base);
    OK(cp_hdfs_mkdirs(g_h, many, 0, g_err));
    double t = live_now_ms();
    for (int i = 0; i < 1200; i++) {
        snprintf(p, sizeof p, "%s/f%04d", many, i);
        OK(cp_hdfs_mkdirs(g_h, p, 0, g_err));
    }
    live_measure("hdfs.mkdirs.mean_ms", (live_now_ms() - t) / 1200, "ms");
    cp_hdfs_list_t *l;
    t = live_now_ms();
    OK(cp_hdfs_list(g_h, many, &l, g_err));
    live_measure("hdfs.list_1200.ms", live_now_ms() - t, "ms");
    assert_int_equal(cp_hdfs_list_count(l), 1200);
    for (size_t i = 0; i < 1200; i++) {
        char name[16];
        snprintf(name, sizeof name, "f%04zu", i);
        assert_string_equal(cp_hdfs_list_at(l, i)->name, name);
    }
    cp_hdfs_list_destroy(l);

    OK(cp_hdfs_list_complete_dirs(g_h, raw, NULL, &l, g_err));
    assert_int_equal(cp_hdfs_list_count(l), 3);
    assert_string_equal(cp_hdfs_list_at(l, 0)->name, "batch-00000");
    assert_string_equal(cp_hdfs_list_at(l, 1)->name, "batch-00001");
    assert_string_equal(cp_hdfs_list_at(l, 2)->name, "batch-00003");
    assert_int_equal(cp_hdfs_list_at(l, 2)->type, CP_HDFS_DIRECTORY);
    cp_hdfs_list_destroy(l);
    snprintf(p, sizeof p, "%s/batch-00002/_SUCCESS", raw);
    OK(cp_hdfs_write_atomic(g_h, p, "", 0, g_err));
    OK(cp_hdfs_list_complete_dirs(g_h, raw, "_SUCCESS", &l, g_err));
    assert_int_equal(cp_hdfs_list_count(l), 4);
    cp_hdfs_list_destroy(l);
    /* The atomic write left no temporary file. */
    snprintf(p, sizeof p, "%s/batch-00002", raw);
    OK(cp_hdfs_list(g_h, p, &l, g_err));
    assert_int_equal(cp_hdfs_list_count(l), 2);
    cp_hdfs_list_destroy(l);
}

static void server_down(void **state)
{
    (void)state;
    cp_http_options_t o;
    cp_http_options_init(&o);
    o.max_retries = 2;
    o.backoff_base_ms = 10;
    cp_hdfs_config_t c = {.url = "http://127.0.0.1:1", .http = &o};
    cp_hdfs_t *h;
    OK(cp_hdfs_new(&c, &h, g_err));
    bool ex;
    assert_int_equal(cp_hdfs_exists(h, "/", &ex, g_err), CP_REST_ERR_CONNECT);
    cp_hdfs_destroy(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(writes_read_back_through_hadoop),
        cmocka_unit_test(namespace_operations_and_errors),
        cmocka_unit_test(batches_with_success_markers),
        cmocka_unit_test(server_down),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
