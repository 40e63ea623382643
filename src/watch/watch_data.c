/* One pass of `carprice watch-data`: complete batches on HDFS against the
 * batches of the latest successful training in MLflow; a training through the
 * launcher when some are new and the training lock is free. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "carprice/log.h"
#include "carprice/util.h"
#include "carprice/watch.h"
#include "watch_internal.h"

/* The runs that count as "the latest successful training". */
#define FINISHED_TRAININGS "attributes.status = 'FINISHED' AND tags.`carprice.batches` != ''"
#define BATCHES_TAG        "carprice.batches"

void cp_watch_data_result_free(cp_watch_data_result_t *res)
{
    if (!res)
        return;
    free(res->new_batches);
    free(res->all_batches);
    res->new_batches = NULL;
    res->all_batches = NULL;
}

/* Whether name is one of the comma-separated items of list. */
static bool in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return true;
        if (!comma)
            break;
        p = comma + 1;
    }
    return false;
}

/* Appends ",name" (or "name") to *s. */
static int append_item(char **s, const char *name)
{
    char *next = *s ? cp_strf("%s,%s", *s, name) : strdup(name);
    if (!next)
        return -1;
    free(*s);
    *s = next;
    return 0;
}

static int mkdir_p(const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* The batch list of the latest FINISHED training run ("" when none; *list
 * malloc'ed). */
static cp_watch_code_t trained_batches(const cp_watch_data_opts_t *o, cp_mlflow_t *m,
                                       cp_watch_data_result_t *res, char **list, char *errbuf,
                                       size_t errcap)
{
    *list = NULL;
    cp_rest_error_t *err = cp_rest_error_new();
    if (!err)
        return cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_NOMEM, "out of memory");
    cp_mlflow_experiment_t *exp = NULL;
    cp_rest_code_t rc = cp_mlflow_experiment_get_by_name(m, o->experiment, &exp, err);
    if (rc == CP_REST_ERR_NOT_FOUND) { /* nothing was ever trained there */
        cp_rest_error_destroy(err);
        *list = strdup("");
        return *list ? CP_WATCH_OK
                     : cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_NOMEM, "out of memory");
    }
    cp_mlflow_run_list_t *runs = NULL;
    if (rc == CP_REST_OK) {
        const char *id = cp_mlflow_experiment_id(exp);
        rc = cp_mlflow_run_search(m, &id, 1, FINISHED_TRAININGS, "attributes.start_time DESC", 1,
                                  &runs, err);
    }
    cp_watch_code_t code = CP_WATCH_OK;
    if (rc != CP_REST_OK) {
        code = cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_REMOTE, "MLflow at %s: %s",
                             cp_mlflow_tracking_uri(m), cp_rest_error_message(err));
    } else {
        const cp_mlflow_run_t *r = cp_mlflow_run_list_at(runs, 0);
        const char *tag = r ? cp_mlflow_run_tag(r, BATCHES_TAG) : NULL;
        if (r)
            snprintf(res->last_run, sizeof res->last_run, "%s", cp_mlflow_run_id(r));
        *list = strdup(tag ? tag : "");
        if (!*list)
            code = cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_NOMEM, "out of memory");
    }
    cp_mlflow_run_list_destroy(runs);
    cp_mlflow_experiment_destroy(exp);
    cp_rest_error_destroy(err);
    return code;
}

/* The training command: train... --batches URI --batch B... --experiment E
 * extra... (malloc'ed array of borrowed strings, NULL-terminated). */
static const char **training_argv(const cp_watch_data_opts_t *o, const cp_hdfs_list_t *batches)
{
    size_t nt = 0, ne = 0, nb = cp_hdfs_list_count(batches);
    while (o->train[nt])
        nt++;
    while (o->extra && o->extra[ne])
        ne++;
    const char **v = calloc(nt + 2 + 2 * nb + 2 + ne + 1, sizeof *v);
    if (!v)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < nt; i++)
        v[k++] = o->train[i];
    v[k++] = "--batches";
    v[k++] = o->batches_uri;
    for (size_t i = 0; i < nb; i++) {
        v[k++] = "--batch";
        v[k++] = cp_hdfs_list_at(batches, i)->name;
    }
    v[k++] = "--experiment";
    v[k++] = o->experiment;
    for (size_t i = 0; i < ne; i++)
        v[k++] = o->extra[i];
    v[k] = NULL;
    return v;
}

/* Whether the launcher can tell that the holder still runs. */
static void judge_holder(cp_watch_launcher_t *launcher, cp_watch_data_result_t *res)
{
    bool running = false;
    if (launcher && launcher->is_running && res->lock.held && res->lock.holder.handle[0] &&
        launcher->is_running(launcher, res->lock.holder.handle, &running, NULL, 0) == CP_WATCH_OK) {
        res->holder_running_known = true;
        res->holder_running = running;
    }
}

static cp_watch_code_t start_training(const cp_watch_data_opts_t *o, cp_hdfs_t *h,
                                      cp_watch_launcher_t *launcher, const cp_hdfs_list_t *batches,
                                      cp_watch_data_result_t *res, char *errbuf, size_t errcap)
{
    if (mkdir_p(o->log_dir) != 0)
        return cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_SYSTEM, "cannot create log dir %s: %s",
                             o->log_dir, strerror(errno));
    char stamp[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(res->log_path, sizeof res->log_path, "%s/train-%s-%ld.log", o->log_dir, stamp,
             (long)getpid());

    cp_watch_lock_opts_t lo = {.dir = o->lock_dir,
                               .lease_ms = o->lease_ms,
                               .owner = "watch-data",
                               .batches = res->all_batches};
    cp_watch_lock_t *lock = NULL;
    cp_watch_code_t code =
        cp_watch_lock_acquire(h, &lo, &lock, &res->lock, &res->took_over, errbuf, errcap);
    if (code == CP_WATCH_ERR_HELD) {
        res->outcome = CP_WATCH_DATA_RUNNING;
        judge_holder(launcher, res);
        return CP_WATCH_OK;
    }
    if (code != CP_WATCH_OK)
        return code;

    const char **argv = training_argv(o, batches);
    if (!argv) {
        cp_watch_lock_release(h, lock, NULL, 0);
        cp_watch_lock_destroy(lock);
        return cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_NOMEM, "out of memory");
    }
    cp_watch_launch_t spec = {.argv = argv,
                              .log_path = res->log_path,
                              .lock_dir = o->lock_dir,
                              .lock = lock,
                              .webhdfs_url = cp_hdfs_url(h),
                              .hdfs_user = cp_hdfs_user(h)};
    code = launcher->launch(launcher, &spec, res->handle, sizeof res->handle, errbuf, errcap);
    free(argv);
    if (code != CP_WATCH_OK) {
        /* Nothing runs: the lock must not wait for its lease to expire. The
         * wrapper may have released it already; a second delete is harmless. */
        cp_watch_lock_release(h, lock, NULL, 0);
        cp_watch_lock_destroy(lock);
        return code;
    }
    cp_watch_lock_destroy(lock); /* the wrapper holds it now */
    res->outcome = CP_WATCH_DATA_STARTED;
    return CP_WATCH_OK;
}

cp_watch_code_t cp_watch_data_run(const cp_watch_data_opts_t *o, cp_hdfs_t *h, cp_mlflow_t *m,
                                  cp_watch_launcher_t *launcher, cp_watch_data_result_t *res,
                                  char *errbuf, size_t errcap)
{
    if (!res)
        return cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_INVALID_ARG, "missing result");
    memset(res, 0, sizeof *res);
    if (!o || !h || !m || !o->batches_uri || !o->batches_path || !o->experiment || !o->lock_dir ||
        !o->train || !o->train[0] || !o->log_dir || o->lease_ms <= 0 ||
        (!o->dry_run && (!launcher || !launcher->launch)))
        return cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_INVALID_ARG,
                             "watch-data: missing option");

    /* 1. Complete batches. */
    cp_rest_error_t *err = cp_rest_error_new();
    if (!err)
        return cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_NOMEM, "out of memory");
    cp_hdfs_list_t *batches = NULL;
    cp_rest_code_t rc = cp_hdfs_list_complete_dirs(h, o->batches_path, NULL, &batches, err);
    if (rc == CP_REST_ERR_NOT_FOUND) {
        cp_rest_error_destroy(err);
        cp_log_info("watch.data.nothing_new", "reason=no_batch_dir dir=%s", o->batches_path);
        res->outcome = CP_WATCH_DATA_NOTHING_NEW;
        return CP_WATCH_OK;
    }
    if (rc != CP_REST_OK) {
        cp_watch_code_t c =
            cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_REMOTE, "HDFS at %s: listing %s: %s",
                          cp_hdfs_url(h), o->batches_path, cp_rest_error_message(err));
        cp_rest_error_destroy(err);
        return c;
    }
    cp_rest_error_destroy(err);
    res->complete = cp_hdfs_list_count(batches);
    cp_watch_code_t code = CP_WATCH_OK;
    if (res->complete == 0) {
        cp_log_info("watch.data.nothing_new", "reason=no_complete_batches dir=%s", o->batches_path);
        res->outcome = CP_WATCH_DATA_NOTHING_NEW;
        goto done;
    }

    /* 2. What the latest successful training used. */
    char *trained = NULL;
    code = trained_batches(o, m, res, &trained, errbuf, errcap);
    if (code != CP_WATCH_OK)
        goto done;
    for (size_t i = 0; i < res->complete; i++) {
        const char *name = cp_hdfs_list_at(batches, i)->name;
        bool old = in_list(trained, name);
        if (append_item(&res->all_batches, name) != 0 ||
            (!old && append_item(&res->new_batches, name) != 0)) {
            code = cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_NOMEM, "out of memory");
            break;
        }
        if (old)
            res->trained++;
        else
            res->fresh++;
    }
    free(trained);
    if (code != CP_WATCH_OK)
        goto done;
    cp_log_info("watch.data.batches", "complete=%zu trained=%zu new=%zu last_run=%s", res->complete,
                res->trained, res->fresh, res->last_run[0] ? res->last_run : "-");
    if (res->fresh == 0) {
        res->outcome = CP_WATCH_DATA_NOTHING_NEW;
        goto done;
    }

    /* 3. Start a training unless one runs. */
    if (o->dry_run) {
        code = cp_watch_lock_inspect(h, o->lock_dir, o->lease_ms, &res->lock, errbuf, errcap);
        if (code == CP_WATCH_OK) {
            res->outcome = res->lock.held ? CP_WATCH_DATA_RUNNING : CP_WATCH_DATA_STARTED;
            res->took_over = !res->lock.held && res->lock.stale > 0;
            judge_holder(launcher, res);
        }
        goto done;
    }
    code = start_training(o, h, launcher, batches, res, errbuf, errcap);
done:
    cp_hdfs_list_destroy(batches);
    return code;
}
