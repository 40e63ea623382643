/* `carprice source` against the real HDFS (WebHDFS at $CARPRICE_WEBHDFS_URL,
 * default http://127.0.0.1:9870): publishing every batch with --once while a
 * reader thread polls for complete batches and checks each one it sees
 * against what was staged; local (copy) and HDFS (move) staging; kill -9 in
 * the middle of a copy, then a restart; the crash states a killed run can
 * leave, built by hand; --interval with SIGTERM; usage errors.
 *
 * argv[1] is the carprice program. Everything lives under a fresh local
 * /tmp/test-source-XXXXXX and HDFS /tmp/test-source-<pid>-<time>, removed at
 * the end (CARPRICE_KEEP_TEST_FILES keeps them). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "batches.h"
#include "carprice/buf.h"
#include "carprice/webhdfs.h"

#define MAX_BATCHES 8
#define MAX_FILES   6

static const char *carprice;
static char local_root[256]; /* local scratch */
static char hdfs_root[256];  /* HDFS scratch */
static cp_hdfs_t *g_h;
static cp_rest_error_t *g_err;

#define OK(call)                                                                                   \
    do {                                                                                           \
        cp_rest_code_t rc_ = (call);                                                               \
        if (rc_ != CP_REST_OK)                                                                     \
            fail_msg("%s -> %s: %s", #call, cp_rest_code_name(rc_), cp_rest_error_message(g_err)); \
    } while (0)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs a shell command; returns its exit status (-1 if it did not exit). */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

/* The whole of a small local file ("" when missing); static storage. */
static const char *slurp(const char *path)
{
    static char buf[65536];
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f) {
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        fclose(f);
    }
    return buf;
}

/* ---- staged batches the tests know ---- */

typedef struct {
    unsigned n;
    size_t nfiles;
    cp_batch_file_t files[MAX_FILES];
    char names[MAX_FILES][64];
} batch_t;

typedef struct {
    batch_t b[MAX_BATCHES];
    size_t n;
} staged_t;

/* Deterministic file content: byte i of file `seed` (cheap, not constant). */
static void fill(char *buf, size_t len, unsigned seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (char)x;
    }
}

static void mkdir_p(const char *path)
{
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(tmp, 0755);
            *p = '/';
        }
    }
    mkdir(tmp, 0755);
}

static void write_local(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* Stages batches 1..nb with nf files each under dir (local, or on HDFS when
 * on_hdfs); sizes grow with the batch and file numbers. Adds the clutter
 * Spark leaves (hidden .crc files, _SUCCESS) that must not be published. */
static void stage(staged_t *s, const char *dir, bool on_hdfs, size_t nb, size_t nf,
                  size_t base_size)
{
    memset(s, 0, sizeof *s);
    s->n = nb;
    size_t max = base_size + (nb + 1) * (nf + 1) * 4099;
    char *data = malloc(max);
    assert_non_null(data);
    for (size_t i = 0; i < nb; i++) {
        batch_t *b = &s->b[i];
        b->n = (unsigned)(i + 1);
        b->nfiles = nf;
        char bname[CP_BATCH_NAME_CAP], bdir[512];
        cp_batch_name(b->n, bname, sizeof bname);
        snprintf(bdir, sizeof bdir, "%s/%s", dir, bname);
        if (on_hdfs)
            OK(cp_hdfs_mkdirs(g_h, bdir, 0, g_err));
        else
            mkdir_p(bdir);
        for (size_t k = 0; k < nf; k++) {
            size_t len = base_size + (i + 1) * (k + 1) * 4099;
            snprintf(b->names[k], sizeof b->names[k], "part-%05zu-test.c000.csv", k);
            b->files[k].name = b->names[k];
            b->files[k].size = (int64_t)len;
            fill(data, len, (unsigned)(b->n * 100 + k));
            char path[600];
            snprintf(path, sizeof path, "%s/%s", bdir, b->names[k]);
            if (on_hdfs)
                OK(cp_hdfs_create(g_h, path, data, len, NULL, g_err));
            else
                write_local(path, data, len);
        }
        char clutter[600];
        snprintf(clutter, sizeof clutter, "%s/_SUCCESS", bdir);
        if (on_hdfs) {
            OK(cp_hdfs_create(g_h, clutter, "", 0, NULL, g_err));
        } else {
            write_local(clutter, "", 0);
            snprintf(clutter, sizeof clutter, "%s/.part-00000-test.c000.csv.crc", bdir);
            write_local(clutter, "crc", 3);
        }
    }
    free(data);
}

static const batch_t *find_batch(const staged_t *s, unsigned n)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->b[i].n == n)
            return &s->b[i];
    return NULL;
}

/* The data files of an HDFS directory (names copied). */
static cp_rest_code_t list_data(cp_hdfs_t *h, cp_rest_error_t *err, const char *dir,
                                cp_batch_file_t **files, size_t *n)
{
    cp_hdfs_list_t *l = NULL;
    *files = NULL;
    *n = 0;
    cp_rest_code_t rc = cp_hdfs_list(h, dir, &l, err);
    if (rc != CP_REST_OK)
        return rc;
    size_t cnt = cp_hdfs_list_count(l);
    *files = calloc(cnt ? cnt : 1, sizeof **files);
    for (size_t i = 0; i < cnt; i++) {
        const cp_hdfs_file_status_t *st = cp_hdfs_list_at(l, i);
        if (st->type == CP_HDFS_FILE && cp_batch_is_data_file(st->name)) {
            (*files)[*n].name = strdup(st->name);
            (*files)[*n].size = st->length;
            (*n)++;
        }
    }
    cp_hdfs_list_destroy(l);
    return CP_REST_OK;
}

/* Names in dest that are neither complete batches nor expected: temporaries
 * and unmarked batch directories. */
static size_t count_leftovers(const char *dest, char *first, size_t cap)
{
    cp_hdfs_list_t *l = NULL;
    if (cp_hdfs_list(g_h, dest, &l, g_err) != CP_REST_OK)
        return 0;
    size_t n = 0;
    for (size_t i = 0; i < cp_hdfs_list_count(l); i++) {
        const char *name = cp_hdfs_list_at(l, i)->name;
        char marker[600];
        snprintf(marker, sizeof marker, "%s/%s/_SUCCESS", dest, name);
        bool exists = false;
        OK(cp_hdfs_exists(g_h, marker, &exists, g_err));
        if (!cp_batch_parse(name, NULL) || !exists) {
            if (n++ == 0 && first)
                snprintf(first, cap, "%s", name);
        }
    }
    cp_hdfs_list_destroy(l);
    return n;
}

/* Checks that dest/batch-N holds exactly b's files, _SUCCESS and _MANIFEST. */
static void assert_published(const char *dest, const batch_t *b)
{
    char bname[CP_BATCH_NAME_CAP], dir[512], why[256];
    cp_batch_name(b->n, bname, sizeof bname);
    snprintf(dir, sizeof dir, "%s/%s", dest, bname);
    cp_batch_file_t *got = NULL;
    size_t ngot = 0;
    OK(list_data(g_h, g_err, dir, &got, &ngot));
    if (!cp_batch_files_match(b->files, b->nfiles, got, ngot, why, sizeof why))
        fail_msg("%s: %s", dir, why);
    cp_batch_files_free(got, ngot);
    cp_hdfs_list_t *l = NULL;
    OK(cp_hdfs_list(g_h, dir, &l, g_err));
    bool marker = false, manifest = false;
    for (size_t i = 0; i < cp_hdfs_list_count(l); i++) {
        const char *name = cp_hdfs_list_at(l, i)->name;
        marker = marker || !strcmp(name, "_SUCCESS");
        manifest = manifest || !strcmp(name, "_MANIFEST");
        if (!cp_batch_is_data_file(name) && strcmp(name, "_SUCCESS") && strcmp(name, "_MANIFEST"))
            fail_msg("%s holds unexpected %s", dir, name);
    }
    cp_hdfs_list_destroy(l);
    assert_true(marker);
    assert_true(manifest);
}

/* ---- the concurrent reader ---- */

typedef struct {
    const char *dest;
    const staged_t *staged;
    volatile int stop;
    long polls;
    long intermediate; /* polls that saw some but not all batches complete */
    long max_complete;
    long violations;
    char first_violation[512];
} reader_t;

static void violation(reader_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void violation(reader_t *r, const char *fmt, ...)
{
    if (r->violations++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->first_violation, sizeof r->first_violation, fmt, ap);
        va_end(ap);
    }
}

/* What a consumer (watch-data) does: take the complete batch directories,
 * read their listings. Every batch it can see must be whole, and complete
 * batches appear in order. */
static void *reader_main(void *arg)
{
    reader_t *r = arg;
    cp_rest_error_t *err = cp_rest_error_new();
    cp_hdfs_t *h = NULL;
    if (cp_hdfs_new(NULL, &h, err) != CP_REST_OK) {
        violation(r, "reader client: %s", cp_rest_error_message(err));
        cp_rest_error_destroy(err);
        return NULL;
    }
    while (!r->stop) {
        cp_hdfs_list_t *done = NULL;
        cp_rest_code_t rc = cp_hdfs_list_complete_dirs(h, r->dest, NULL, &done, err);
        if (rc == CP_REST_ERR_NOT_FOUND) { /* dest not created yet */
            usleep(2000);
            continue;
        }
        if (rc != CP_REST_OK) {
            violation(r, "listing complete dirs: %s", cp_rest_error_message(err));
            continue;
        }
        size_t n = cp_hdfs_list_count(done);
        for (size_t i = 0; i < n; i++) {
            const char *name = cp_hdfs_list_at(done, i)->name;
            unsigned b = 0;
            if (!cp_batch_parse(name, &b)) {
                violation(r, "complete directory with a non-batch name: %s", name);
                continue;
            }
            if (b != i + 1)
                violation(r, "complete batches out of order: %s at position %zu", name, i + 1);
            const batch_t *want = find_batch(r->staged, b);
            if (!want) {
                violation(r, "%s was never staged", name);
                continue;
            }
            char dir[512], why[256];
            snprintf(dir, sizeof dir, "%s/%s", r->dest, name);
            cp_batch_file_t *got = NULL;
            size_t ngot = 0;
            if (list_data(h, err, dir, &got, &ngot) != CP_REST_OK)
                violation(r, "listing %s: %s", dir, cp_rest_error_message(err));
            else if (!cp_batch_files_match(want->files, want->nfiles, got, ngot, why, sizeof why))
                violation(r, "%s is complete but %s", dir, why);
            cp_batch_files_free(got, ngot);
        }
        if (n > 0 && n < r->staged->n)
            r->intermediate++;
        if ((long)n > r->max_complete)
            r->max_complete = (long)n;
        r->polls++;
        cp_hdfs_list_destroy(done);
        usleep(2000);
    }
    cp_hdfs_destroy(h);
    cp_rest_error_destroy(err);
    return NULL;
}

/* Publishes with --once until nothing is left, with a reader polling all
 * along; checks the reader never saw a partial batch. */
static void publish_all_watched(const char *staging_arg, const char *dest, const staged_t *s,
                                const char *tag)
{
    reader_t r = {.dest = dest, .staged = s};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, reader_main, &r), 0);
    int published = 0, status;
    double t0 = now_s();
    char log[512];
    snprintf(log, sizeof log, "%s/%s.log", local_root, tag);
    while ((status = run("'%s' source --staging '%s' --dest '%s' --once 2>>'%s'", carprice,
                         staging_arg, dest, log)) == 0) {
        published++;
        assert_true(published <= (int)s->n);
    }
    double secs = now_s() - t0;
    r.stop = 1;
    pthread_join(t, NULL);
    if (status != 3)
        fail_msg("source exited %d; log:\n%s", status, slurp(log));
    assert_int_equal(published, (int)s->n);
    printf("  %s: %d batches in %.2fs; reader polled %ld times, %ld while publishing was "
           "partway, saw up to %ld complete\n",
           tag, published, secs, r.polls, r.intermediate, r.max_complete);
    if (r.violations)
        fail_msg("reader saw %ld violations, first: %s", r.violations, r.first_violation);
    assert_true(r.polls > 0);
    assert_true(r.intermediate > 0); /* it really watched while batches appeared */
    for (size_t i = 0; i < s->n; i++)
        assert_published(dest, &s->b[i]);
    char first[256] = "";
    size_t left = count_leftovers(dest, first, sizeof first);
    if (left)
        fail_msg("%zu leftovers in %s, first %s", left, dest, first);
    /* Each batch published exactly once: one log line per batch. */
    size_t lines = 0;
    for (const char *p = slurp(log); (p = strstr(p, "event=source.published")); p++)
        lines++;
    assert_int_equal(lines, s->n);
}

/* ---- tests ---- */

static void copy_mode_reader_never_sees_partial_batch(void **state)
{
    (void)state;
    char staging[512], dest[512];
    snprintf(staging, sizeof staging, "%s/copy/train", local_root);
    snprintf(dest, sizeof dest, "%s/copy-raw", hdfs_root);
    staged_t s;
    stage(&s, staging, false, 6, 3, 1 << 20);
    publish_all_watched(staging, dest, &s, "copy");
    /* Staged files stay (copy mode) and the bytes are the same. */
    char path[600], rpath[600];
    snprintf(path, sizeof path, "%s/batch-00003/%s", staging, s.b[2].names[1]);
    snprintf(rpath, sizeof rpath, "%s/batch-00003/%s", dest, s.b[2].names[1]);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    cp_buf_t got;
    cp_buf_init(&got, 64u << 20);
    OK(cp_hdfs_open_to_buf(g_h, rpath, &got, g_err));
    assert_int_equal(got.len, (size_t)st.st_size);
    char *want = malloc(got.len);
    fill(want, got.len, 3 * 100 + 1);
    assert_memory_equal(got.data, want, got.len);
    free(want);
    cp_buf_free(&got);
}

static void move_mode_reader_never_sees_partial_batch(void **state)
{
    (void)state;
    char staging[512], staging_uri[700], dest[512];
    snprintf(staging, sizeof staging, "%s/move/train", hdfs_root);
    const char *uri = getenv("CARPRICE_HDFS_URI");
    snprintf(staging_uri, sizeof staging_uri, "%s%s", uri && *uri ? uri : "hdfs://127.0.0.1:9000",
             staging);
    snprintf(dest, sizeof dest, "%s/move-raw", hdfs_root);
    staged_t s;
    stage(&s, staging, true, 5, 2, 200000);
    publish_all_watched(staging_uri, dest, &s, "move");
    /* Moved, not copied: the staged batch directories are empty of data. */
    for (size_t i = 0; i < s.n; i++) {
        char dir[600];
        snprintf(dir, sizeof dir, "%s/batch-%05u", staging, s.b[i].n);
        cp_batch_file_t *left = NULL;
        size_t nleft = 0;
        OK(list_data(g_h, g_err, dir, &left, &nleft));
        assert_int_equal(nleft, 0);
        cp_batch_files_free(left, nleft);
    }
}

/* Starts carprice source in a child; returns its pid. */
static pid_t spawn_source(const char *staging, const char *dest, const char *mode_flag,
                          const char *mode_value, const char *log)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        if (mode_value)
            execl(carprice, carprice, "source", "--staging", staging, "--dest", dest, mode_flag,
                  mode_value, (char *)NULL);
        else
            execl(carprice, carprice, "source", "--staging", staging, "--dest", dest, mode_flag,
                  (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* The temporary directory of a run and how many data files it holds. */
static bool find_temp(const char *dest, char *name, size_t cap, size_t *files)
{
    cp_hdfs_list_t *l = NULL;
    if (cp_hdfs_list(g_h, dest, &l, g_err) != CP_REST_OK)
        return false;
    bool found = false;
    for (size_t i = 0; i < cp_hdfs_list_count(l) && !found; i++) {
        const char *n = cp_hdfs_list_at(l, i)->name;
        if (cp_batch_parse_tmp(n, NULL, NULL)) {
            snprintf(name, cap, "%s", n);
            found = true;
        }
    }
    cp_hdfs_list_destroy(l);
    if (found && files) {
        char dir[600];
        snprintf(dir, sizeof dir, "%s/%s", dest, name);
        cp_batch_file_t *f = NULL;
        *files = 0;
        if (list_data(g_h, g_err, dir, &f, files) != CP_REST_OK)
            *files = 0;
        cp_batch_files_free(f, *files);
    }
    return found;
}

static void kill9_mid_copy_then_restart(void **state)
{
    (void)state;
    char staging[512], dest[512], log[512];
    snprintf(staging, sizeof staging, "%s/big/train", local_root);
    snprintf(dest, sizeof dest, "%s/big-raw", hdfs_root);
    snprintf(log, sizeof log, "%s/big.log", local_root);
    staged_t s;
    stage(&s, staging, false, 1, 5, 40u << 20); /* ~200 MB: a couple of seconds to copy */

    pid_t pid = spawn_source(staging, dest, "--once", NULL, log);
    char tmpname[128] = "";
    size_t files = 0;
    double t0 = now_s();
    bool killed = false;
    while (now_s() - t0 < 60) {
        if (find_temp(dest, tmpname, sizeof tmpname, &files) && files >= 1) {
            kill(pid, SIGKILL);
            killed = true;
            break;
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            pid = -1;
            break;
        }
        usleep(5000);
    }
    if (pid > 0)
        waitpid(pid, NULL, 0);
    if (!killed)
        fail_msg("source finished before a file appeared in its temporary directory; log:\n%s",
                 slurp(log));
    printf("  killed the source with %zu file(s) in %s\n", files, tmpname);

    /* What the kill left: a temporary directory, nothing published. */
    char name[128];
    assert_true(find_temp(dest, name, sizeof name, NULL));
    char bdir[600];
    snprintf(bdir, sizeof bdir, "%s/batch-00001", dest);
    bool exists = true;
    OK(cp_hdfs_exists(g_h, bdir, &exists, g_err));
    assert_false(exists);

    /* Restart: the temporary goes, the batch is published whole, once. */
    double t1 = now_s();
    int status =
        run("'%s' source --staging '%s' --dest '%s' --once 2>>'%s'", carprice, staging, dest, log);
    if (status != 0)
        fail_msg("restart exited %d; log:\n%s", status, slurp(log));
    int64_t bytes = 0;
    for (size_t k = 0; k < s.b[0].nfiles; k++)
        bytes += s.b[0].files[k].size;
    printf("  restart published %.0f MB in %.2fs\n", (double)bytes / 1e6, now_s() - t1);
    const char *text = slurp(log);
    assert_non_null(strstr(text, "event=source.cleaned"));
    assert_published(dest, &s.b[0]);
    char first[256] = "";
    assert_int_equal(count_leftovers(dest, first, sizeof first), 0);
    assert_int_equal(
        run("'%s' source --staging '%s' --dest '%s' --once 2>>'%s'", carprice, staging, dest, log),
        3);
    /* The last file (the one most likely cut short) has every byte. */
    char rpath[700];
    snprintf(rpath, sizeof rpath, "%s/%s", bdir, s.b[0].names[4]);
    cp_buf_t got;
    cp_buf_init(&got, 64u << 20);
    OK(cp_hdfs_open_to_buf(g_h, rpath, &got, g_err));
    assert_int_equal(got.len, (size_t)s.b[0].files[4].size);
    char *want = malloc(got.len);
    fill(want, got.len, 1 * 100 + 4);
    assert_memory_equal(got.data, want, got.len);
    free(want);
    cp_buf_free(&got);
}

/* Does by hand what a run does up to a point, as a run killed there would
 * leave it: temp dir with manifest, `moved` of the files renamed into it,
 * and (rename_into_place) the temp renamed to the final name. */
static void build_crash_state(const char *staging, const char *dest, const batch_t *b, size_t moved,
                              bool rename_into_place)
{
    char bname[CP_BATCH_NAME_CAP], tname[CP_BATCH_NAME_CAP], tmp[600], path[700];
    cp_batch_name(b->n, bname, sizeof bname);
    cp_batch_tmp_name(b->n, 999999, tname, sizeof tname);
    snprintf(tmp, sizeof tmp, "%s/%s", dest, tname);
    OK(cp_hdfs_mkdirs(g_h, tmp, 0, g_err));
    char *manifest = cp_batch_manifest_format(b->files, b->nfiles);
    snprintf(path, sizeof path, "%s/_MANIFEST", tmp);
    OK(cp_hdfs_create(g_h, path, manifest, strlen(manifest), NULL, g_err));
    free(manifest);
    for (size_t k = 0; k < moved; k++) {
        char from[700];
        snprintf(from, sizeof from, "%s/%s/%s", staging, bname, b->names[k]);
        snprintf(path, sizeof path, "%s/%s", tmp, b->names[k]);
        OK(cp_hdfs_rename(g_h, from, path, false, g_err));
    }
    if (rename_into_place) {
        snprintf(path, sizeof path, "%s/%s", dest, bname);
        OK(cp_hdfs_rename(g_h, tmp, path, false, g_err));
    }
}

static void move_mode_recovers_crash_states(void **state)
{
    (void)state;
    char staging[512], staging_uri[700], dest[512], log[512];
    snprintf(staging, sizeof staging, "%s/crash/train", hdfs_root);
    const char *uri = getenv("CARPRICE_HDFS_URI");
    snprintf(staging_uri, sizeof staging_uri, "%s%s", uri && *uri ? uri : "hdfs://127.0.0.1:9000",
             staging);
    snprintf(dest, sizeof dest, "%s/crash-raw", hdfs_root);
    snprintf(log, sizeof log, "%s/crash.log", local_root);
    staged_t s;
    stage(&s, staging, true, 3, 3, 1000);
    OK(cp_hdfs_mkdirs(g_h, dest, 0, g_err));

    /* Killed mid-move: one of three files already in the temporary. */
    build_crash_state(staging, dest, &s.b[0], 1, false);
    /* Killed between the rename into place and the marker. */
    build_crash_state(staging, dest, &s.b[1], 3, true);
    /* A consumer sees neither. */
    cp_hdfs_list_t *done = NULL;
    OK(cp_hdfs_list_complete_dirs(g_h, dest, NULL, &done, g_err));
    assert_int_equal(cp_hdfs_list_count(done), 0);
    cp_hdfs_list_destroy(done);

    int status = run("'%s' source --staging '%s' --dest '%s' --once 2>>'%s'", carprice, staging_uri,
                     dest, log);
    if (status != 0)
        fail_msg("source exited %d; log:\n%s", status, slurp(log));
    const char *text = slurp(log);
    assert_non_null(strstr(text, "restored_files=1"));
    assert_published(dest, &s.b[0]);

    status = run("'%s' source --staging '%s' --dest '%s' --once 2>>'%s'", carprice, staging_uri,
                 dest, log);
    if (status != 0)
        fail_msg("source exited %d; log:\n%s", status, slurp(log));
    text = slurp(log);
    assert_non_null(strstr(text, "batch=batch-00002 files=3"));
    assert_non_null(strstr(text, "recovered=true"));
    assert_published(dest, &s.b[1]);

    /* Renamed into place, unmarked, and damaged: refused, left unmarked. */
    build_crash_state(staging, dest, &s.b[2], 3, true);
    char victim[700];
    snprintf(victim, sizeof victim, "%s/batch-00003/%s", dest, s.b[2].names[1]);
    OK(cp_hdfs_delete(g_h, victim, false, NULL, g_err));
    status = run("'%s' source --staging '%s' --dest '%s' --once 2>>'%s'", carprice, staging_uri,
                 dest, log);
    assert_int_equal(status, 1);
    text = slurp(log);
    assert_non_null(strstr(text, "does not match"));
    assert_non_null(strstr(text, "is missing"));
    char marker[700];
    snprintf(marker, sizeof marker, "%s/batch-00003/_SUCCESS", dest);
    bool exists = true;
    OK(cp_hdfs_exists(g_h, marker, &exists, g_err));
    assert_false(exists);
}

static void copy_mode_finishes_unmarked_batch_without_manifest(void **state)
{
    (void)state;
    char staging[512], dest[512], log[512];
    snprintf(staging, sizeof staging, "%s/nomanifest/train", local_root);
    snprintf(dest, sizeof dest, "%s/nomanifest-raw", hdfs_root);
    snprintf(log, sizeof log, "%s/nomanifest.log", local_root);
    staged_t s;
    stage(&s, staging, false, 1, 2, 5000);
    /* An unmarked batch-00001 holding exactly the staged files, no manifest
     * (as an older publisher might leave it): verified against staging. */
    char *data = malloc(1 << 20);
    for (size_t k = 0; k < 2; k++) {
        char path[700];
        snprintf(path, sizeof path, "%s/batch-00001/%s", dest, s.b[0].names[k]);
        fill(data, (size_t)s.b[0].files[k].size, 100 + (unsigned)k);
        OK(cp_hdfs_create(g_h, path, data, (size_t)s.b[0].files[k].size, NULL, g_err));
    }
    free(data);
    int status =
        run("'%s' source --staging '%s' --dest '%s' --once 2>>'%s'", carprice, staging, dest, log);
    if (status != 0)
        fail_msg("source exited %d; log:\n%s", status, slurp(log));
    assert_non_null(strstr(slurp(log), "recovered=true"));
    char marker[700];
    snprintf(marker, sizeof marker, "%s/batch-00001/_SUCCESS", dest);
    bool exists = false;
    OK(cp_hdfs_exists(g_h, marker, &exists, g_err));
    assert_true(exists);
}

static void interval_mode_stops_cleanly_on_sigterm(void **state)
{
    (void)state;
    char staging[512], dest[512], log[512];
    snprintf(staging, sizeof staging, "%s/interval/train", local_root);
    snprintf(dest, sizeof dest, "%s/interval-raw", hdfs_root);
    snprintf(log, sizeof log, "%s/interval.log", local_root);
    staged_t s;
    stage(&s, staging, false, 5, 2, 300000);

    /* SIGTERM while batch 2 is being copied: it is finished, then the
     * source exits. */
    pid_t pid = spawn_source(staging, dest, "--interval", "1", log);
    double t0 = now_s();
    char tmpname[128] = "";
    bool in_flight = false;
    while (!in_flight && now_s() - t0 < 30) {
        in_flight = find_temp(dest, tmpname, sizeof tmpname, NULL) &&
                    !strncmp(tmpname, ".batch-00002.", 13);
        if (!in_flight)
            usleep(3000);
    }
    assert_true(in_flight);
    double t1 = now_s();
    kill(pid, SIGTERM);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    double stop_secs = now_s() - t1;
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    printf("  SIGTERM during %s: exited 0 after %.2fs\n", tmpname, stop_secs);
    assert_true(stop_secs < 10);
    assert_published(dest, &s.b[1]);
    assert_non_null(strstr(slurp(log), "stopped_by_signal=true"));

    cp_hdfs_list_t *done = NULL;
    OK(cp_hdfs_list_complete_dirs(g_h, dest, NULL, &done, g_err));
    size_t complete = cp_hdfs_list_count(done);
    cp_hdfs_list_destroy(done);
    assert_int_equal(complete, 2);
    char first[256] = "";
    size_t left = count_leftovers(dest, first, sizeof first);
    if (left)
        fail_msg("%zu leftovers after SIGTERM, first %s", left, first);

    /* A fast interval finishes the rest and exits by itself. */
    int status = run("'%s' source --staging '%s' --dest '%s' --interval 0.1 2>>'%s'", carprice,
                     staging, dest, log);
    assert_int_equal(status, 0);
    for (size_t i = 0; i < s.n; i++)
        assert_published(dest, &s.b[i]);
    assert_int_equal(count_leftovers(dest, first, sizeof first), 0);
}

static void usage_errors(void **state)
{
    (void)state;
    char log[512];
    snprintf(log, sizeof log, "%s/usage.log", local_root);
    assert_int_equal(run("'%s' source --once 2>'%s'", carprice, log), 2);
    assert_non_null(strstr(slurp(log), "--staging is required"));
    assert_int_equal(run("'%s' source --staging /tmp --once --interval 5 2>'%s'", carprice, log),
                     2);
    assert_int_equal(run("'%s' source --staging /tmp --interval -1 2>'%s'", carprice, log), 2);
    assert_int_equal(run("'%s' source --staging /tmp --dest / --once 2>'%s'", carprice, log), 2);
    assert_int_equal(
        run("'%s' source --staging /nonexistent-staging-dir --once 2>'%s'", carprice, log), 1);
    assert_non_null(strstr(slurp(log), "/nonexistent-staging-dir"));
    assert_int_equal(run("'%s' source --help >'%s'", carprice, log), 0);
    assert_non_null(strstr(slurp(log), "--interval"));
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    (void)state;
    snprintf(local_root, sizeof local_root, "/tmp/test-source-XXXXXX");
    if (!mkdtemp(local_root))
        return -1;
    snprintf(hdfs_root, sizeof hdfs_root, "/tmp/test-source-%ld-%ld", (long)getpid(),
             (long)time(NULL));
    g_err = cp_rest_error_new();
    if (cp_hdfs_new(NULL, &g_h, g_err) != CP_REST_OK) {
        fprintf(stderr, "WebHDFS client: %s\n", cp_rest_error_message(g_err));
        return -1;
    }
    if (cp_hdfs_mkdirs(g_h, hdfs_root, 0, g_err) != CP_REST_OK) {
        fprintf(stderr, "HDFS %s: %s (is the stack up? scripts/stack up)\n", hdfs_root,
                cp_rest_error_message(g_err));
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (!getenv("CARPRICE_KEEP_TEST_FILES")) {
        if (g_h)
            cp_hdfs_delete(g_h, hdfs_root, true, NULL, g_err);
        nftw(local_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    cp_hdfs_destroy(g_h);
    cp_rest_error_destroy(g_err);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CARPRICE\n", argv[0]);
        return 2;
    }
    carprice = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(copy_mode_reader_never_sees_partial_batch),
        cmocka_unit_test(move_mode_reader_never_sees_partial_batch),
        cmocka_unit_test(kill9_mid_copy_then_restart),
        cmocka_unit_test(move_mode_recovers_crash_states),
        cmocka_unit_test(copy_mode_finishes_unmarked_batch_without_manifest),
        cmocka_unit_test(interval_mode_stops_cleanly_on_sigterm),
        cmocka_unit_test(usage_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
