/* carprice watch-data: one pass (cron-style) of the data watcher. Starts a
 * training when complete batches landed on HDFS that the latest successful
 * training did not use, unless a training holds the lock (docs/watchers.md). */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "carprice/log.h"
#include "carprice/mlflow.h"
#include "carprice/util.h"
#include "carprice/watch.h"
#include "carprice/webhdfs.h"
#include "commands.h"

#define EXIT_NOTHING_NEW 0
#define EXIT_ERROR       1
#define EXIT_USAGE       2
#define EXIT_STARTED     3
#define EXIT_RUNNING     4

#define DEFAULT_LOCK  "/carprice/locks/train.lock"
#define DEFAULT_LEASE 120

static void usage(FILE *out)
{
    fprintf(out,
            "usage: carprice watch-data [--batches DIR] [--experiment NAME] [--lock PATH]\n"
            "                           [--lease-secs N] [--log-dir DIR] [--dry-run]\n"
            "                           [--carprice PATH | --train-cmd PROG] [-- TRAIN-ARGS...]\n"
            "\n"
            "One pass of the data watcher (run it from cron or a loop). Lists the complete\n"
            "batches (subdirectories with _SUCCESS) of DIR, reads the batches of the latest\n"
            "FINISHED training run in the MLflow experiment (tag carprice.batches), and if\n"
            "some complete batches are new, takes the training lock and starts\n"
            "  PROG --batches DIR --batch B... --experiment NAME TRAIN-ARGS...\n"
            "(PROG = `carprice train`) detached, then exits at once. The detached wrapper\n"
            "renews the lock's lease every N/3 s and releases it when the training exits;\n"
            "a lock whose lease expired (its holder died) is taken over.\n"
            "\n"
            "  --batches DIR    hdfs://HOST:PORT/PATH, or /PATH on $CARPRICE_HDFS_URI\n"
            "                   (default $CARPRICE_HDFS_URI/carprice/raw)\n"
            "  --experiment NAME MLflow experiment of the trainings (default carprice;\n"
            "                   server $MLFLOW_TRACKING_URI)\n"
            "  --lock PATH      HDFS directory of the training lock (default " DEFAULT_LOCK ")\n"
            "  --lease-secs N   lease length, 1..86400 (default %d)\n"
            "  --log-dir DIR    where training logs go (default $CARPRICE_STATE_DIR/train-logs,\n"
            "                   else ./.run/train-logs)\n"
            "  --dry-run        say what would happen and exit with the same status; start\n"
            "                   nothing, take no lock\n"
            "  --carprice PATH  the carprice program to launch (default /proc/self/exe)\n"
            "  --train-cmd PROG run PROG instead of `carprice train` (tests, wrappers)\n"
            "  -- ARGS...       more flags for the training, e.g. --grid gbt.maxDepth=4,6\n"
            "\n"
            "WebHDFS: $CARPRICE_WEBHDFS_URL (default http://127.0.0.1:9870), user\n"
            "$CARPRICE_HDFS_USER.\n"
            "\n"
            "Exit status: 0 nothing new, 3 training started, 4 a training is already running\n"
            "(lock held, lease valid), 1 error (one line on stderr), 2 usage.\n",
            DEFAULT_LEASE);
}

/* hdfs://HOST:PORT/PATH or /PATH into the URI given to the training and the
 * path read through WebHDFS (both malloc'ed). */
static int split_batches_dir(const char *dir, char **uri, char **path)
{
    *uri = *path = NULL;
    if (strncmp(dir, "hdfs://", 7) == 0) {
        const char *slash = strchr(dir + 7, '/');
        if (!slash || slash == dir + 7 || !slash[1]) {
            fprintf(stderr,
                    "carprice watch-data: --batches needs hdfs://HOST:PORT/PATH, not '%s'\n", dir);
            return -1;
        }
        *uri = strdup(dir);
        *path = strdup(slash);
    } else if (dir[0] == '/') {
        const char *base = getenv("CARPRICE_HDFS_URI");
        if (!base || !*base) {
            fprintf(stderr,
                    "carprice watch-data: --batches %s needs $CARPRICE_HDFS_URI "
                    "(or give hdfs://HOST:PORT%s)\n",
                    dir, dir);
            return -1;
        }
        size_t bl = strlen(base);
        *uri = cp_strf("%.*s%s", (int)(bl && base[bl - 1] == '/' ? bl - 1 : bl), base, dir);
        *path = strdup(dir);
    } else {
        fprintf(stderr, "carprice watch-data: --batches needs hdfs://HOST:PORT/PATH, not '%s'\n",
                dir);
        return -1;
    }
    if (!*uri || !*path) {
        fprintf(stderr, "carprice watch-data: out of memory\n");
        return -1;
    }
    /* No trailing slash: WebHDFS paths and the training's batch URIs are
     * built by appending "/name". */
    size_t n = strlen(*path);
    while (n > 1 && (*path)[n - 1] == '/')
        (*path)[--n] = '\0';
    n = strlen(*uri);
    while (n > 1 && (*uri)[n - 1] == '/')
        (*uri)[--n] = '\0';
    return 0;
}

static void fmt_time(int64_t ms, char *out, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void report(const cp_watch_data_result_t *r, bool dry, const char *batches_uri)
{
    const char *pre = dry ? "dry run: " : "";
    switch (r->outcome) {
    case CP_WATCH_DATA_NOTHING_NEW:
        if (r->complete == 0)
            printf("%snothing new: no complete batches in %s\n", pre, batches_uri);
        else
            printf("%snothing new: %zu complete batches, all used by run %s\n", pre, r->complete,
                   r->last_run);
        break;
    case CP_WATCH_DATA_STARTED:
        if (dry)
            printf("dry run: would start a training on %zu new of %zu complete batches (%s)%s\n",
                   r->fresh, r->complete, r->new_batches ? r->new_batches : "",
                   r->took_over ? ", taking over a stale lock" : "");
        else
            printf("started: training on %zu new of %zu complete batches (%s)%s; handle %s; "
                   "log %s\n",
                   r->fresh, r->complete, r->new_batches ? r->new_batches : "",
                   r->took_over ? " after taking over a stale lock" : "", r->handle, r->log_path);
        break;
    case CP_WATCH_DATA_RUNNING: {
        const cp_watch_lease_t *hl = &r->lock.holder;
        char until[32];
        fmt_time(hl->parsed ? hl->lease_until_ms : hl->mtime_ms, until, sizeof until);
        const char *alive = !r->holder_running_known ? ""
                            : r->holder_running      ? ", running"
                                                     : ", not running: lease expires soon";
        if (!r->lock.held)
            printf("%salready running: another watcher is starting a training at this moment; "
                   "%zu new batches wait\n",
                   pre, r->fresh);
        else
            printf("%salready running: training held by %s pid %ld on %s%s, lease until %s; %zu "
                   "new batches wait (%s)\n",
                   pre, hl->owner[0] ? hl->owner : "?", hl->pid, hl->host[0] ? hl->host : "?",
                   alive, until, r->fresh, r->new_batches ? r->new_batches : "");
        break;
    }
    }
}

int cmd_watch_data(int argc, char **argv)
{
    const char *batches = NULL, *experiment = "carprice", *lock = DEFAULT_LOCK;
    const char *log_dir = NULL, *carprice = "/proc/self/exe", *train_cmd = NULL;
    long lease = DEFAULT_LEASE;
    bool dry = false;
    int extra_at = argc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--")) {
            extra_at = i + 1;
            break;
        } else if (!strcmp(a, "--batches") && has) {
            batches = argv[++i];
        } else if (!strcmp(a, "--experiment") && has) {
            experiment = argv[++i];
        } else if (!strcmp(a, "--lock") && has) {
            lock = argv[++i];
        } else if (!strcmp(a, "--log-dir") && has) {
            log_dir = argv[++i];
        } else if (!strcmp(a, "--carprice") && has) {
            carprice = argv[++i];
        } else if (!strcmp(a, "--train-cmd") && has) {
            train_cmd = argv[++i];
        } else if (!strcmp(a, "--lease-secs") && has) {
            char *end;
            errno = 0;
            lease = strtol(argv[++i], &end, 10);
            if (errno || *end || end == argv[i] || lease < 1 || lease > 86400) {
                fprintf(stderr, "carprice watch-data: --lease-secs must be 1..86400, not '%s'\n",
                        argv[i]);
                return EXIT_USAGE;
            }
        } else if (!strcmp(a, "--dry-run")) {
            dry = true;
        } else {
            fprintf(stderr,
                    "carprice watch-data: unknown option or missing value '%s' (see "
                    "--help)\n",
                    a);
            return EXIT_USAGE;
        }
    }
    if (!*experiment || lock[0] != '/' || (train_cmd && !*train_cmd) || !*carprice) {
        fprintf(stderr, "carprice watch-data: --experiment must not be empty, --lock must be an "
                        "absolute HDFS path, programs must be named\n");
        return EXIT_USAGE;
    }

    /* These are the watcher's to set: a training logging elsewhere, or on
     * other batches, would never be seen as covering them. */
    static const char *const owned[] = {"--experiment", "--batches", "--batch", "--input"};
    for (int i = extra_at; i < argc; i++) {
        for (size_t k = 0; k < sizeof owned / sizeof owned[0]; k++) {
            if (strcmp(argv[i], owned[k]) == 0) {
                fprintf(stderr,
                        "carprice watch-data: %s is set by watch-data, not after '--' (use "
                        "watch-data's own flag)\n",
                        owned[k]);
                return EXIT_USAGE;
            }
        }
    }

    char *default_batches = NULL, *default_logs = NULL;
    if (!batches) {
        const char *base = getenv("CARPRICE_HDFS_URI");
        if (!base || !*base) {
            fprintf(stderr, "carprice watch-data: give --batches hdfs://HOST:PORT/PATH or set "
                            "$CARPRICE_HDFS_URI\n");
            return EXIT_USAGE;
        }
        default_batches = cp_strf("%s/carprice/raw", base);
        batches = default_batches;
    }
    if (!log_dir) {
        const char *state = getenv("CARPRICE_STATE_DIR");
        default_logs =
            state && *state ? cp_strf("%s/train-logs", state) : strdup("./.run/train-logs");
        log_dir = default_logs;
    }
    char *uri = NULL, *path = NULL;
    if (!batches || !log_dir || split_batches_dir(batches, &uri, &path) != 0) {
        free(default_batches);
        free(default_logs);
        free(uri);
        free(path);
        return batches && log_dir ? EXIT_USAGE : EXIT_ERROR;
    }
    /* The program as a path that still works from the detached wrapper. */
    char exe[PATH_MAX];
    if (!train_cmd && strcmp(carprice, "/proc/self/exe") == 0) {
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n > 0) {
            exe[n] = '\0';
            if (!strstr(exe, " (deleted)"))
                carprice = exe;
        }
    }
    const char *train_carprice[] = {carprice, "train", NULL};
    const char *train_other[] = {train_cmd, NULL};
    cp_watch_data_opts_t o = {.batches_uri = uri,
                              .batches_path = path,
                              .experiment = experiment,
                              .lock_dir = lock,
                              .lease_ms = (int64_t)lease * 1000,
                              .log_dir = log_dir,
                              .train = train_cmd ? train_other : train_carprice,
                              .extra = (const char *const *)argv + extra_at,
                              .dry_run = dry};

    int status = EXIT_ERROR;
    char errbuf[2048] = "";
    cp_rest_error_t *err = cp_rest_error_new();
    cp_hdfs_t *h = NULL;
    cp_mlflow_t *m = NULL;
    cp_watch_launcher_t *launcher = cp_watch_launcher_local_new();
    cp_watch_data_result_t res;
    memset(&res, 0, sizeof res);
    if (!err || !launcher) {
        fprintf(stderr, "carprice watch-data: out of memory\n");
        goto done;
    }
    if (cp_hdfs_new(NULL, &h, err) != CP_REST_OK) {
        fprintf(stderr, "carprice watch-data: HDFS client: %s\n", cp_rest_error_message(err));
        goto done;
    }
    if (cp_mlflow_new(NULL, &m, err) != CP_REST_OK) {
        fprintf(stderr, "carprice watch-data: MLflow client: %s\n", cp_rest_error_message(err));
        goto done;
    }
    cp_log_info("watch.data.start", "batches=%s experiment=%s lock=%s lease_s=%ld dry_run=%d", uri,
                experiment, lock, lease, dry);
    cp_watch_code_t c = cp_watch_data_run(&o, h, m, launcher, &res, errbuf, sizeof errbuf);
    if (c != CP_WATCH_OK) {
        fprintf(stderr, "carprice watch-data: %s\n", errbuf);
        cp_log_error("watch.data.failed", "error=\"%s\"", errbuf);
        goto done;
    }
    report(&res, dry, uri);
    fflush(stdout);
    switch (res.outcome) {
    case CP_WATCH_DATA_NOTHING_NEW:
        status = EXIT_NOTHING_NEW;
        break;
    case CP_WATCH_DATA_STARTED:
        status = EXIT_STARTED;
        break;
    case CP_WATCH_DATA_RUNNING:
        status = EXIT_RUNNING;
        break;
    }
    cp_log_info("watch.data.done", "status=%d complete=%zu new=%zu dry_run=%d", status,
                res.complete, res.fresh, dry);
done:
    cp_watch_data_result_free(&res);
    cp_watch_launcher_destroy(launcher);
    cp_mlflow_destroy(m);
    cp_hdfs_destroy(h);
    cp_rest_error_destroy(err);
    free(default_batches);
    free(default_logs);
    free(uri);
    free(path);
    return status;
}
