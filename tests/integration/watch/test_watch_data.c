/* `carprice watch-data` against the real HDFS and MLflow of the local stack.
 *
 * argv[1] is the carprice program, argv[2] a shell script standing in for
 * `carprice train` (it records its arguments, runs while a "hold" file
 * exists and exits with a chosen status). Every test has its own HDFS base
 * directory, MLflow experiment, lock directory and stand-in directory; the
 * "finished training" state is made with our MLflow client (a run tagged
 * carprice.batches, ended FINISHED). Scratch is removed at the end
 * (CARPRICE_KEEP_TEST_FILES keeps it). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "carprice/buf.h"
#include "carprice/mlflow.h"
#include "carprice/webhdfs.h"

static const char *carprice;
static const char *standin;
static char hdfs_root[256];  /* HDFS scratch of this test program */
static char local_root[256]; /* local scratch */
static const char *hdfs_uri; /* hdfs://HOST:PORT */
static cp_hdfs_t *g_h;
static cp_mlflow_t *g_m;
static cp_rest_error_t *g_err;
static char experiments[16][128];
static size_t nexperiments;

#define OK(call)                                                                                   \
    do {                                                                                           \
        cp_rest_code_t rc_ = (call);                                                               \
        if (rc_ != CP_REST_OK)                                                                     \
            fail_msg("%s -> %s: %s", #call, cp_rest_code_name(rc_), cp_rest_error_message(g_err)); \
    } while (0)

/* One test's world. */
typedef struct {
    char name[64];
    char base[320];  /* HDFS base of this test */
    char raw[400];   /* base/raw: the batches */
    char uri[512];   /* hdfs://HOST:PORT/base/raw */
    char lock[400];  /* base/lock */
    char exp[128];   /* MLflow experiment */
    char dir[400];   /* local: stand-in dir, logs, outputs */
    char out[65536]; /* stdout of the last run */
    char err[65536]; /* stderr of the last run */
} world_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void slurp(const char *path, char *buf, size_t cap)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
}

static bool exists_local(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void touch(const char *path, const char *content)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    assert_int_equal(fclose(f), 0);
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

static void world_init(world_t *w, const char *name)
{
    memset(w, 0, sizeof *w);
    snprintf(w->name, sizeof w->name, "%s", name);
    snprintf(w->base, sizeof w->base, "%s/%s", hdfs_root, name);
    snprintf(w->raw, sizeof w->raw, "%s/raw", w->base);
    snprintf(w->uri, sizeof w->uri, "%s%s", hdfs_uri, w->raw);
    snprintf(w->lock, sizeof w->lock, "%s/lock", w->base);
    snprintf(w->exp, sizeof w->exp, "test-watch-%s-%ld-%ld", name, (long)getpid(),
             (long)time(NULL));
    snprintf(w->dir, sizeof w->dir, "%s/%s", local_root, name);
    assert_int_equal(mkdir(w->dir, 0755), 0);
    if (nexperiments < sizeof experiments / sizeof experiments[0])
        snprintf(experiments[nexperiments++], sizeof experiments[0], "%s", w->exp);
}

/* Lets running stand-ins finish. */
static void world_release(world_t *w)
{
    char p[512];
    snprintf(p, sizeof p, "%s/hold", w->dir);
    unlink(p);
}

/* Runs `env ENV carprice watch-data ARGS` with the world's defaults and the
 * stand-in; stdout/stderr land in w->out / w->err. Returns the exit status. */
static int watch(world_t *w, const char *env, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int watch(world_t *w, const char *env, const char *fmt, ...)
{
    char args[2048] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(args, sizeof args, fmt, ap);
        va_end(ap);
    }
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "env STANDIN_DIR=%s %s %s watch-data --batches %s --experiment %s --lock %s "
             "--log-dir %s/logs --train-cmd %s %s >%s/out 2>%s/err",
             w->dir, env ? env : "", carprice, w->uri, w->exp, w->lock, w->dir, standin, args,
             w->dir, w->dir);
    int st = system(cmd);
    char p[512];
    snprintf(p, sizeof p, "%s/out", w->dir);
    slurp(p, w->out, sizeof w->out);
    snprintf(p, sizeof p, "%s/err", w->dir);
    slurp(p, w->err, sizeof w->err);
    int rc = st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
    size_t olen = strlen(w->out);
    printf("[%s] watch-data %s -> %d: %s%s", w->name, args, rc, w->out,
           olen && w->out[olen - 1] == '\n' ? "" : "\n");
    return rc;
}

/* A batch directory with one data file; complete ones get _SUCCESS last. */
static void add_batch(world_t *w, const char *name, bool complete)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", w->raw, name);
    OK(cp_hdfs_mkdirs(g_h, p, 0, g_err));
    snprintf(p, sizeof p, "%s/%s/part-00000.csv", w->raw, name);
    OK(cp_hdfs_create(g_h, p, "listing_id\n1\n", 13, NULL, g_err));
    if (complete) {
        snprintf(p, sizeof p, "%s/%s/_SUCCESS", w->raw, name);
        OK(cp_hdfs_create(g_h, p, "", 0, NULL, g_err));
    }
}

static void complete_batch(world_t *w, const char *name)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s/_SUCCESS", w->raw, name);
    OK(cp_hdfs_create(g_h, p, "", 0, NULL, g_err));
}

/* A training run as `carprice train` leaves it: tagged with its batches,
 * ended with status. */
static void add_run(world_t *w, const char *batches, cp_mlflow_run_status_t status)
{
    cp_mlflow_experiment_t *e = NULL;
    OK(cp_mlflow_experiment_get_or_create(g_m, w->exp, NULL, &e, g_err));
    cp_mlflow_kv_t tags[] = {
        {"carprice.batches", batches},
        {"carprice.status", status == CP_MLFLOW_RUN_FINISHED ? "finished" : "failed"}};
    cp_mlflow_run_opts_t o = {.experiment_id = cp_mlflow_experiment_id(e),
                              .run_name = "stand-in training",
                              .tags = tags,
                              .n_tags = 2};
    cp_mlflow_run_t *r = NULL;
    OK(cp_mlflow_run_create(g_m, &o, &r, g_err));
    OK(cp_mlflow_run_terminate(g_m, cp_mlflow_run_id(r), status, g_err));
    cp_mlflow_run_destroy(r);
    cp_mlflow_experiment_destroy(e);
    sleep_ms(20); /* distinct start times order the runs */
}

/* The lease files of the world's lock (names into names[], up to 8). */
static size_t leases(world_t *w, char names[][200], size_t cap)
{
    cp_hdfs_list_t *l = NULL;
    cp_rest_code_t rc = cp_hdfs_list(g_h, w->lock, &l, g_err);
    if (rc == CP_REST_ERR_NOT_FOUND)
        return 0;
    OK(rc);
    size_t n = 0;
    for (size_t i = 0; i < cp_hdfs_list_count(l); i++) {
        const char *name = cp_hdfs_list_at(l, i)->name;
        if (strncmp(name, "lease-", 6) != 0)
            continue;
        if (names && n < cap)
            snprintf(names[n], 200, "%s", name);
        n++;
    }
    cp_hdfs_list_destroy(l);
    return n;
}

/* The content of the first lease file ("" when none). */
static void lease_content(world_t *w, char *out, size_t cap)
{
    char names[8][200];
    out[0] = '\0';
    if (leases(w, names, 8) == 0)
        return;
    char p[700];
    snprintf(p, sizeof p, "%s/%s", w->lock, names[0]);
    cp_buf_t b;
    cp_buf_init(&b, 65536);
    OK(cp_hdfs_open_to_buf(g_h, p, &b, g_err));
    snprintf(out, cap, "%s", b.data ? b.data : "");
    cp_buf_free(&b);
}

/* A number after "key": in JSON text (-1 when absent). */
static long json_num(const char *json, const char *key)
{
    char k[64];
    snprintf(k, sizeof k, "\"%s\":", key);
    const char *p = strstr(json, k);
    return p ? atol(p + strlen(k)) : -1;
}

static bool wait_no_lease(world_t *w, double secs)
{
    double end = now_s() + secs;
    while (now_s() < end) {
        if (leases(w, NULL, 0) == 0)
            return true;
        sleep_ms(100);
    }
    return false;
}

static bool wait_file(const char *path, double secs)
{
    double end = now_s() + secs;
    while (now_s() < end) {
        if (exists_local(path))
            return true;
        sleep_ms(50);
    }
    return false;
}

static bool pid_alive(long pid)
{
    char p[64], buf[512];
    snprintf(p, sizeof p, "/proc/%ld/stat", pid);
    slurp(p, buf, sizeof buf);
    const char *rp = strrchr(buf, ')');
    return rp && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
}

/* The stand-in's recorded arguments, one per line. */
static void standin_args(world_t *w, char *buf, size_t cap)
{
    char p[512];
    snprintf(p, sizeof p, "%s/args", w->dir);
    assert_true(wait_file(p, 10));
    slurp(p, buf, cap);
}

static int launches(world_t *w)
{
    char p[512], buf[4096];
    snprintf(p, sizeof p, "%s/launches", w->dir);
    slurp(p, buf, sizeof buf);
    int n = 0;
    for (const char *c = buf; *c; c++)
        n += *c == '\n';
    return n;
}

static void reset_standin(world_t *w)
{
    char p[512];
    snprintf(p, sizeof p, "%s/args", w->dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/launches", w->dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/hold", w->dir);
    touch(p, "");
}

/* ---- tests ---- */

/* No batch directory, then one with only an incomplete batch: nothing new. */
static void test_no_batches(void **state)
{
    (void)state;
    world_t *w = calloc(1, sizeof *w);
    world_init(w, "nobatches");
    assert_int_equal(watch(w, NULL, NULL), 0);
    assert_non_null(strstr(w->out, "nothing new: no complete batches"));
    add_batch(w, "batch-00001", false);
    assert_int_equal(watch(w, NULL, NULL), 0);
    assert_non_null(strstr(w->out, "nothing new"));
    assert_int_equal(launches(w), 0);
    assert_int_equal(leases(w, NULL, 0), 0);
    free(w);
}

/* The whole life: start, already running, finish, covered, new batch. */
static void test_lifecycle(void **state)
{
    (void)state;
    world_t *w = calloc(1, sizeof *w);
    world_init(w, "lifecycle");
    add_batch(w, "batch-00001", true);
    add_batch(w, "batch-00002", true);
    add_batch(w, "batch-00003", false); /* no _SUCCESS: must be ignored */
    reset_standin(w);

    /* Nothing trained yet: every complete batch is new; a training starts. */
    assert_int_equal(watch(w, NULL, "--lease-secs 5 -- --grid gbt.maxDepth=4"), 3);
    assert_non_null(strstr(w->out, "started: training on 2 new of 2 complete batches"));
    char args[4096], expect[1024];
    standin_args(w, args, sizeof args);
    snprintf(expect, sizeof expect,
             "--batches\n%s\n--batch\nbatch-00001\n--batch\nbatch-00002\n--experiment\n%s\n--grid\n"
             "gbt.maxDepth=4\n",
             w->uri, w->exp);
    assert_string_equal(args, expect);
    assert_null(strstr(args, "batch-00003"));

    /* The lease names the wrapper, which outlives watch-data. */
    char lease[8192];
    lease_content(w, lease, sizeof lease);
    assert_non_null(strstr(lease, "\"owner\":\"wrapper\""));
    assert_non_null(strstr(lease, "batch-00001,batch-00002"));
    long wrapper = json_num(lease, "pid");
    assert_true(wrapper > 0 && pid_alive(wrapper));

    /* Twice in a row while it runs: 4, and still one training. */
    assert_int_equal(watch(w, NULL, "--lease-secs 5"), 4);
    assert_non_null(strstr(w->out, "already running"));
    assert_non_null(strstr(w->out, ", running,"));
    /* Longer than a lease: the wrapper renews it. */
    sleep_ms(6000);
    assert_int_equal(leases(w, NULL, 0), 1);
    lease_content(w, lease, sizeof lease);
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    assert_true(json_num(lease, "lease_until_ms") > (long)wall.tv_sec * 1000);
    assert_int_equal(watch(w, NULL, "--lease-secs 5"), 4);
    assert_int_equal(launches(w), 1);

    /* The stand-in exits 0: the lock is released, the log has the status. */
    world_release(w);
    assert_true(wait_no_lease(w, 10));
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "grep -q 'event=watch.train.exited.*status=0' %s/logs/*.log", w->dir);
    assert_int_equal(sh("%s", cmd), 0);

    /* No MLflow run yet (the stand-in logs none): the batches are still new.
     * The same directory given as /PATH on $CARPRICE_HDFS_URI, with a slash. */
    char cmd2[4096];
    snprintf(cmd2, sizeof cmd2,
             "env CARPRICE_HDFS_URI=%s %s watch-data --batches %s/ --experiment %s --lock %s "
             "--dry-run >%s/out 2>%s/err",
             hdfs_uri, carprice, w->raw, w->exp, w->lock, w->dir, w->dir);
    assert_int_equal(sh("%s", cmd2), 3);
    char p2[512];
    snprintf(p2, sizeof p2, "%s/out", w->dir);
    slurp(p2, w->out, sizeof w->out);
    assert_non_null(strstr(w->out, "would start a training on 2 new of 2"));

    /* A finished training covering both: nothing new, twice. */
    add_run(w, "batch-00001,batch-00002", CP_MLFLOW_RUN_FINISHED);
    assert_int_equal(watch(w, NULL, NULL), 0);
    assert_non_null(strstr(w->out, "nothing new: 2 complete batches, all used by run"));
    assert_int_equal(watch(w, NULL, NULL), 0);

    /* batch-00003 completes; a later FAILED run that covered it does not count. */
    complete_batch(w, "batch-00003");
    add_run(w, "batch-00001,batch-00002,batch-00003", CP_MLFLOW_RUN_FAILED);
    reset_standin(w);
    assert_int_equal(watch(w, NULL, "--lease-secs 5"), 3);
    assert_non_null(strstr(w->out, "1 new of 3 complete batches (batch-00003)"));
    standin_args(w, args, sizeof args);
    assert_non_null(strstr(args, "--batch\nbatch-00003\n"));
    world_release(w);
    assert_true(wait_no_lease(w, 10));
    add_run(w, "batch-00001,batch-00002,batch-00003", CP_MLFLOW_RUN_FINISHED);
    assert_int_equal(watch(w, NULL, NULL), 0);
    assert_int_equal(launches(w), 1);
    free(w);
}

/* kill -9 of the wrapper: the training stops with it, the lease (3 s) expires and
 * the next pass takes the lock over. */
static void test_stale_lock(void **state)
{
    (void)state;
    world_t *w = calloc(1, sizeof *w);
    world_init(w, "stale");
    add_batch(w, "batch-00001", true);
    reset_standin(w);
    assert_int_equal(watch(w, NULL, "--lease-secs 3"), 3);
    char lease[8192], args[4096], names[8][200];
    standin_args(w, args, sizeof args);
    lease_content(w, lease, sizeof lease);
    long wrapper = json_num(lease, "pid");
    char p[512], pidbuf[64];
    snprintf(p, sizeof p, "%s/pid", w->dir);
    slurp(p, pidbuf, sizeof pidbuf);
    long trainer = atol(pidbuf);
    assert_true(wrapper > 0 && trainer > 0 && pid_alive(trainer));
    assert_int_equal(leases(w, names, 8), 1);
    char old[200];
    snprintf(old, sizeof old, "%s", names[0]);

    assert_int_equal(kill((pid_t)wrapper, SIGKILL), 0);
    /* The training must not outlive its wrapper (PR_SET_PDEATHSIG). */
    double end = now_s() + 5;
    while (pid_alive(trainer) && now_s() < end)
        sleep_ms(50);
    assert_false(pid_alive(trainer));

    /* Lease still valid: a training is (as far as anyone knows) running. */
    int rc = watch(w, NULL, "--lease-secs 3");
    if (rc == 4)
        assert_non_null(strstr(w->out, "not running"));
    else
        assert_int_equal(rc, 3); /* the lease ran out already on a slow machine */
    if (rc == 4) {
        sleep_ms(3500);
        reset_standin(w);
        assert_int_equal(watch(w, NULL, "--lease-secs 3"), 3);
    }
    assert_non_null(strstr(w->out, "after taking over a stale lock"));
    assert_int_equal(leases(w, names, 8), 1);
    assert_string_not_equal(names[0], old);
    world_release(w);
    assert_true(wait_no_lease(w, 10));
    free(w);
}

/* SIGTERM to the wrapper stops the training and frees the lock at once. */
static void test_sigterm(void **state)
{
    (void)state;
    world_t *w = calloc(1, sizeof *w);
    world_init(w, "sigterm");
    add_batch(w, "batch-00001", true);
    reset_standin(w);
    assert_int_equal(watch(w, NULL, "--lease-secs 60"), 3);
    char lease[8192], args[4096];
    standin_args(w, args, sizeof args);
    lease_content(w, lease, sizeof lease);
    long wrapper = json_num(lease, "pid");
    assert_true(wrapper > 0);
    assert_int_equal(kill((pid_t)wrapper, SIGTERM), 0);
    /* Long before the 60 s lease would run out. */
    assert_true(wait_no_lease(w, 10));
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "grep -q 'event=watch.train.stop reason=signal' %s/logs/*.log && "
             "grep -q 'event=watch.train.exited.*signal=15' %s/logs/*.log",
             w->dir, w->dir);
    assert_int_equal(sh("%s", cmd), 0);
    assert_int_equal(watch(w, NULL, "--dry-run"), 3);
    world_release(w);
    free(w);
}

/* Several watchers at once on a stale lock: at most one starts a training. */
static void test_concurrent_takeover(void **state)
{
    (void)state;
    world_t *w = calloc(1, sizeof *w);
    world_init(w, "race");
    add_batch(w, "batch-00001", true);
    /* A lease whose holder died long ago. */
    char p[600];
    snprintf(p, sizeof p, "%s/lease-deadhost-1-1-0000000000000001.json", w->lock);
    const char *dead = "{\"token\":\"deadhost-1-1-0000000000000001\",\"owner\":\"wrapper\","
                       "\"host\":\"deadhost\",\"pid\":1,\"started_at_ms\":1,"
                       "\"lease_until_ms\":1000,\"lease_ms\":999,\"handle\":\"\",\"batches\":\"\"}";
    OK(cp_hdfs_create(g_h, p, dead, strlen(dead), NULL, g_err));
    int started = 0;
    for (int attempt = 0; attempt < 3 && started == 0; attempt++) {
        reset_standin(w);
        char cmd[8192];
        snprintf(cmd, sizeof cmd,
                 "cd %s && for i in 1 2 3 4; do (env STANDIN_DIR=%s %s watch-data --batches %s "
                 "--experiment %s --lock %s --log-dir %s/logs --train-cmd %s --lease-secs 5 "
                 ">race.out.$i 2>race.err.$i; echo $? >race.rc.$i) & done; wait",
                 w->dir, w->dir, carprice, w->uri, w->exp, w->lock, w->dir, standin);
        assert_int_equal(sh("%s", cmd), 0);
        int other = 0;
        for (int i = 1; i <= 4; i++) {
            char rcp[600], buf[64];
            snprintf(rcp, sizeof rcp, "%s/race.rc.%d", w->dir, i);
            slurp(rcp, buf, sizeof buf);
            int rc = atoi(buf);
            printf("[race] watcher %d -> %d\n", i, rc);
            if (rc == 3)
                started++;
            else if (rc == 4)
                other++;
            else
                fail_msg("watcher %d exited %d", i, rc);
        }
        assert_int_equal(started + other, 4);
        assert_true(started <= 1);
        if (started == 1) {
            snprintf(p, sizeof p, "%s/args", w->dir);
            assert_true(wait_file(p, 10));
            sleep_ms(500);
            assert_int_equal(launches(w), 1);
            assert_int_equal(leases(w, NULL, 0), 1); /* the dead lease is gone */
        }
    }
    assert_int_equal(started, 1);
    world_release(w);
    assert_true(wait_no_lease(w, 10));
    free(w);
}

/* --dry-run tells and starts nothing; with a training running it says 4. */
static void test_dry_run(void **state)
{
    (void)state;
    world_t *w = calloc(1, sizeof *w);
    world_init(w, "dryrun");
    add_batch(w, "batch-00001", true);
    reset_standin(w);
    assert_int_equal(watch(w, NULL, "--dry-run"), 3);
    assert_non_null(strstr(w->out, "dry run: would start a training on 1 new of 1"));
    sleep_ms(500);
    assert_int_equal(launches(w), 0);
    assert_int_equal(leases(w, NULL, 0), 0);
    char p[512];
    snprintf(p, sizeof p, "%s/logs", w->dir);
    assert_false(exists_local(p));

    assert_int_equal(watch(w, NULL, "--lease-secs 5"), 3);
    assert_int_equal(watch(w, NULL, "--dry-run"), 4);
    assert_non_null(strstr(w->out, "dry run: already running"));
    assert_int_equal(launches(w), 1);
    world_release(w);
    assert_true(wait_no_lease(w, 10));
    add_run(w, "batch-00001", CP_MLFLOW_RUN_FINISHED);
    assert_int_equal(watch(w, NULL, "--dry-run"), 0);
    free(w);
}

/* Unreachable services, a program that cannot run, usage errors. */
static void test_errors(void **state)
{
    (void)state;
    world_t *w = calloc(1, sizeof *w);
    world_init(w, "errors");
    add_batch(w, "batch-00001", true);
    reset_standin(w);

    assert_int_equal(
        watch(w, "MLFLOW_TRACKING_URI=http://127.0.0.1:1 MLFLOW_HTTP_REQUEST_MAX_RETRIES=0", NULL),
        1);
    assert_non_null(strstr(w->err, "carprice watch-data: MLflow at http://127.0.0.1:1"));
    assert_int_equal(watch(w, "CARPRICE_WEBHDFS_URL=http://127.0.0.1:1", NULL), 1);
    assert_non_null(strstr(w->err, "carprice watch-data: HDFS at http://127.0.0.1:1"));
    assert_int_equal(launches(w), 0);

    /* A training program that does not exist: an error, and no lock left. */
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "%s watch-data --batches %s --experiment %s --lock %s --log-dir %s/logs "
             "--train-cmd %s/no-such-program >%s/out 2>%s/err",
             carprice, w->uri, w->exp, w->lock, w->dir, w->dir, w->dir, w->dir);
    assert_int_equal(sh("%s", cmd), 1);
    char p[512];
    snprintf(p, sizeof p, "%s/err", w->dir);
    slurp(p, w->err, sizeof w->err);
    assert_non_null(strstr(w->err, "cannot run"));
    assert_non_null(strstr(w->err, "No such file or directory"));
    assert_int_equal(leases(w, NULL, 0), 0);

    assert_int_equal(watch(w, NULL, "--lease-secs 0"), 2);
    assert_int_equal(watch(w, NULL, "--bogus"), 2);
    assert_int_equal(watch(w, NULL, "-- --experiment other"), 2);
    assert_non_null(strstr(w->err, "--experiment is set by watch-data"));
    assert_int_equal(sh("%s watch-data --batches file:///tmp >/dev/null 2>&1", carprice), 2);
    assert_int_equal(
        sh("%s watch-data --help | grep -q '4 a training is already running'", carprice), 0);
    free(w);
}

/* cp_mlflow_run_search, which watch-data's lineage rests on. */
static void test_run_search(void **state)
{
    (void)state;
    world_t *w = calloc(1, sizeof *w);
    world_init(w, "search");
    add_run(w, "batch-00001", CP_MLFLOW_RUN_FINISHED);
    add_run(w, "batch-00001,batch-00002", CP_MLFLOW_RUN_FAILED);
    add_run(w, "batch-00001,batch-00003", CP_MLFLOW_RUN_FINISHED);
    cp_mlflow_experiment_t *e = NULL;
    OK(cp_mlflow_experiment_get_by_name(g_m, w->exp, &e, g_err));
    const char *id = cp_mlflow_experiment_id(e);
    cp_mlflow_run_list_t *l = NULL;
    OK(cp_mlflow_run_search(g_m, &id, 1, NULL, NULL, 0, &l, g_err));
    assert_int_equal(cp_mlflow_run_list_count(l), 3);
    cp_mlflow_run_list_destroy(l);
    OK(cp_mlflow_run_search(g_m, &id, 1,
                            "attributes.status = 'FINISHED' AND tags.`carprice.batches` != ''",
                            "attributes.start_time DESC", 0, &l, g_err));
    assert_int_equal(cp_mlflow_run_list_count(l), 2);
    assert_string_equal(cp_mlflow_run_tag(cp_mlflow_run_list_at(l, 0), "carprice.batches"),
                        "batch-00001,batch-00003");
    assert_string_equal(cp_mlflow_run_tag(cp_mlflow_run_list_at(l, 1), "carprice.batches"),
                        "batch-00001");
    assert_int_equal(cp_mlflow_run_status(cp_mlflow_run_list_at(l, 0)), CP_MLFLOW_RUN_FINISHED);
    assert_null(cp_mlflow_run_list_at(l, 2));
    cp_mlflow_run_list_destroy(l);
    OK(cp_mlflow_run_search(g_m, &id, 1, NULL, "attributes.start_time ASC", 1, &l, g_err));
    assert_int_equal(cp_mlflow_run_list_count(l), 1);
    assert_string_equal(cp_mlflow_run_tag(cp_mlflow_run_list_at(l, 0), "carprice.batches"),
                        "batch-00001");
    cp_mlflow_run_list_destroy(l);
    l = NULL;
    assert_int_equal(cp_mlflow_run_search(g_m, &id, 1, "this is not a filter", NULL, 0, &l, g_err),
                     CP_REST_ERR_BAD_REQUEST);
    assert_null(l);
    assert_int_equal(cp_mlflow_run_search(g_m, NULL, 0, NULL, NULL, 0, &l, g_err),
                     CP_REST_ERR_INVALID_ARG);
    cp_mlflow_experiment_destroy(e);
    free(w);
}

/* ---- setup ---- */

static int setup(void **state)
{
    (void)state;
    g_err = cp_rest_error_new();
    if (!g_err || cp_hdfs_new(NULL, &g_h, g_err) != CP_REST_OK ||
        cp_mlflow_new(NULL, &g_m, g_err) != CP_REST_OK) {
        fprintf(stderr, "clients: %s\n", g_err ? cp_rest_error_message(g_err) : "no memory");
        return -1;
    }
    hdfs_uri = getenv("CARPRICE_HDFS_URI");
    if (!hdfs_uri || !*hdfs_uri)
        hdfs_uri = "hdfs://127.0.0.1:9000";
    snprintf(hdfs_root, sizeof hdfs_root, "/tmp/test-watch-%ld-%ld", (long)getpid(),
             (long)time(NULL));
    snprintf(local_root, sizeof local_root, "/tmp/test-watch-XXXXXX");
    if (!mkdtemp(local_root))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (!getenv("CARPRICE_KEEP_TEST_FILES")) {
        cp_hdfs_delete(g_h, hdfs_root, true, NULL, g_err);
        for (size_t i = 0; i < nexperiments; i++) {
            cp_mlflow_experiment_t *e = NULL;
            if (cp_mlflow_experiment_get_by_name(g_m, experiments[i], &e, g_err) == CP_REST_OK)
                cp_mlflow_experiment_delete(g_m, cp_mlflow_experiment_id(e), g_err);
            cp_mlflow_experiment_destroy(e);
        }
        sh("rm -rf %s", local_root);
    }
    cp_mlflow_destroy(g_m);
    cp_hdfs_destroy(g_h);
    cp_rest_error_destroy(g_err);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s CARPRICE STANDIN\n", argv[0]);
        return 2;
    }
    carprice = argv[1];
    /* Absolute: some tests run watch-data from another directory. */
    static char standin_abs[4096];
    standin = realpath(argv[2], standin_abs) ? standin_abs : argv[2];
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_batches), cmocka_unit_test(test_lifecycle),
        cmocka_unit_test(test_stale_lock), cmocka_unit_test(test_concurrent_takeover),
        cmocka_unit_test(test_dry_run),    cmocka_unit_test(test_errors),
        cmocka_unit_test(test_run_search), cmocka_unit_test(test_sigterm),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
