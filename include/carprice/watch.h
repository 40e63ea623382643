/* The watchers' building blocks (docs/watchers.md):
 *
 *  - a training lock on HDFS that survives crashes: a lock directory holding
 *    one lease file per holder, taken by "create, then list again" and
 *    released by deleting the file; a lease that is not renewed expires and
 *    the lock is then taken over safely;
 *  - launchers, which start a training away from the watcher (a detached
 *    local process now, a Kubernetes Job later) behind one interface;
 *  - `watch-data`'s pass itself: which complete batches are new since the
 *    latest successful training, and whether to start one.
 *
 * Errors: fallible calls return a cp_watch_code_t and write one line into a
 * caller's errbuf (errcap bytes, may be NULL/0).
 *
 * Threads: nothing here is thread-safe; the lock and launcher objects belong
 * to one thread. */
#ifndef CARPRICE_WATCH_H
#define CARPRICE_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carprice/mlflow.h"
#include "carprice/webhdfs.h"

typedef enum {
    CP_WATCH_OK = 0,
    CP_WATCH_ERR_INVALID_ARG, /* unusable argument */
    CP_WATCH_ERR_NOMEM,       /* an allocation failed */
    CP_WATCH_ERR_REMOTE,      /* HDFS or MLflow failed or could not be reached */
    CP_WATCH_ERR_SYSTEM,      /* a local system call failed (fork, files, ...) */
    CP_WATCH_ERR_HELD,        /* the lock is held by someone else with a valid lease */
    CP_WATCH_ERR_LOST,        /* our lease expired or our lease file is gone */
} cp_watch_code_t;

/* A static name such as "CP_WATCH_ERR_HELD". */
const char *cp_watch_code_name(cp_watch_code_t code);

/* ---- the training lock ---- */

/* Bounds of the strings kept from a lease file. */
#define CP_WATCH_HOST_MAX    256
#define CP_WATCH_HANDLE_MAX  512
#define CP_WATCH_BATCHES_MAX 8192

/* What a lease file says (or what could be made of it). */
typedef struct {
    char name[160];  /* file name in the lock directory */
    char token[128]; /* unique per acquisition */
    char owner[64];  /* "watch-data", "wrapper", ... */
    char host[CP_WATCH_HOST_MAX];
    long pid;
    int64_t started_at_ms;
    int64_t lease_until_ms; /* writer's wall clock */
    int64_t lease_ms;
    char handle[CP_WATCH_HANDLE_MAX]; /* the launcher's handle; "" before the launch */
    char batches[CP_WATCH_BATCHES_MAX];
    int64_t mtime_ms; /* the NameNode's modification time of the file */
    bool parsed;      /* false: unreadable content (a writer died mid-write) */
} cp_watch_lease_t;

/* The lock as seen by cp_watch_lock_inspect. */
typedef struct {
    size_t entries;          /* lease files present */
    bool held;               /* some lease is still valid */
    cp_watch_lease_t holder; /* the valid lease with the latest expiry, when held */
    size_t stale;            /* expired or unreadable lease files */
    int64_t now_ms;          /* the clock the leases were judged by */
} cp_watch_lock_state_t;

typedef struct cp_watch_lock_s cp_watch_lock_t;

typedef struct {
    const char *dir;     /* the lock directory on HDFS (created when missing) */
    int64_t lease_ms;    /* lease length; renew at least every lease_ms / 3 */
    const char *owner;   /* who takes it, e.g. "watch-data" */
    const char *batches; /* what the holder works on, for humans; may be NULL */
} cp_watch_lock_opts_t;

/* Reads every lease file of dir and judges them by the local clock. A lease
 * is valid until lease_until_ms; an unreadable file until its mtime plus
 * default_lease_ms. A missing directory is an empty lock. */
cp_watch_code_t cp_watch_lock_inspect(cp_hdfs_t *h, const char *dir, int64_t default_lease_ms,
                                      cp_watch_lock_state_t *out, char *errbuf, size_t errcap);

/* Takes the lock: lists dir (CP_WATCH_ERR_HELD when a lease is valid), creates
 * our own uniquely named lease file, then lists again: if any file appeared or
 * changed besides ours and the expired ones first seen, another taker raced
 * us, our file is removed and the result is CP_WATCH_ERR_HELD; otherwise the
 * expired files are deleted and the lock is ours. holder (may be NULL)
 * receives the state seen when the lock is held. *took_over is set when
 * expired leases were replaced (may be NULL). On success *out belongs to the
 * caller. */
cp_watch_code_t cp_watch_lock_acquire(cp_hdfs_t *h, const cp_watch_lock_opts_t *opts,
                                      cp_watch_lock_t **out, cp_watch_lock_state_t *holder,
                                      bool *took_over, char *errbuf, size_t errcap);

/* Extends the lease by lease_ms from now and records owner/pid/handle (each
 * may be NULL/0 to keep the previous value). CP_WATCH_ERR_LOST when the lease
 * had already expired (someone may have taken over: stop working) or our file
 * is gone; nothing is written then. */
cp_watch_code_t cp_watch_lock_renew(cp_hdfs_t *h, cp_watch_lock_t *l, const char *owner, long pid,
                                    const char *handle, char *errbuf, size_t errcap);

/* Deletes our lease file (the lock is free). Deleting an already missing file
 * is fine. */
cp_watch_code_t cp_watch_lock_release(cp_hdfs_t *h, cp_watch_lock_t *l, char *errbuf,
                                      size_t errcap);

/* Frees the object; the lease file is left as it is. Accepts NULL. */
void cp_watch_lock_destroy(cp_watch_lock_t *l);

/* Accessors; strings are borrowed from l. */
const char *cp_watch_lock_file(const cp_watch_lock_t *l); /* full HDFS path of our lease */
const cp_watch_lease_t *cp_watch_lock_lease(const cp_watch_lock_t *l);
int64_t cp_watch_lock_lease_ms(const cp_watch_lock_t *l);

/* Milliseconds since the epoch (wall clock), as used for leases. */
int64_t cp_watch_now_ms(void);

/* ---- launchers ---- */

/* What to launch. The launched side owns the lock from then on: it renews the
 * lease every lease/3 while the training runs and releases it when the
 * training exits (a launcher that cannot do that must not accept the lock). */
typedef struct {
    const char *const *argv; /* the training command, NULL-terminated; argv[0] the program */
    const char *log_path;    /* receives the training's stdout+stderr and the wrapper's events */
    const char *lock_dir;    /* the HDFS lock directory the lease lives in */
    cp_watch_lock_t *lock;   /* the held lock (its lease file and length are copied) */
    const char *webhdfs_url; /* how the launched side reaches HDFS: NULL for the defaults */
    const char *hdfs_user;   /* of cp_hdfs_new ($CARPRICE_WEBHDFS_URL, ...) */
} cp_watch_launch_t;

typedef struct cp_watch_launcher_s cp_watch_launcher_t;

/* A launcher is a table of operations over its own state. A handle is a
 * string that outlives the launching process (it is stored in the lease file)
 * so that another watcher can ask about it later. */
struct cp_watch_launcher_s {
    const char *name; /* "local", "kubernetes", ... */
    /* Starts the training and returns once it runs (or failed to start).
     * handle receives the launcher's handle. */
    cp_watch_code_t (*launch)(cp_watch_launcher_t *self, const cp_watch_launch_t *spec,
                              char *handle, size_t handle_cap, char *errbuf, size_t errcap);
    /* Whether the training behind handle still runs. CP_WATCH_ERR_INVALID_ARG
     * for a handle this launcher cannot judge (another host, another kind). */
    cp_watch_code_t (*is_running)(cp_watch_launcher_t *self, const char *handle, bool *running,
                                  char *errbuf, size_t errcap);
    void (*destroy)(cp_watch_launcher_t *self); /* frees self */
    void *state;
};

/* The local launcher: the training runs as a child of a detached wrapper
 * process (double fork, setsid; stdin from /dev/null, stdout+stderr appended to
 * log_path). The wrapper renews the lease, stops the training with SIGTERM if
 * the lease is lost, releases the lock when the training exits and logs its
 * exit status; the training gets SIGTERM if the wrapper dies (so a killed
 * wrapper never leaves an unlocked training behind). launch() returns when
 * the training program has been executed, or with the exec error. Handles
 * are "local:<host>:<wrapper pid>:<wrapper start time in clock ticks>". NULL
 * when out of memory. */
cp_watch_launcher_t *cp_watch_launcher_local_new(void);

/* Frees a launcher through its destroy. Accepts NULL. */
void cp_watch_launcher_destroy(cp_watch_launcher_t *l);

/* ---- the watch-data pass ---- */

typedef struct {
    const char *batches_uri;  /* hdfs://HOST:PORT/PATH, given to the training */
    const char *batches_path; /* the same PATH, read through WebHDFS */
    const char *experiment;   /* MLflow experiment of the trainings */
    const char *lock_dir;     /* HDFS lock directory */
    int64_t lease_ms;         /* lease length */
    const char *log_dir;      /* local directory of training logs (created) */
    const char *const *train; /* the training command before its flags, e.g.
                                 {"/usr/bin/carprice", "train", NULL} */
    const char *const *extra; /* more training flags, NULL-terminated (may be NULL) */
    bool dry_run;             /* decide and report, start nothing, take no lock */
} cp_watch_data_opts_t;

typedef enum {
    CP_WATCH_DATA_NOTHING_NEW = 0, /* every complete batch is covered (or none exist) */
    CP_WATCH_DATA_STARTED = 3,     /* a training was started (dry run: would be) */
    CP_WATCH_DATA_RUNNING = 4,     /* new batches, but a training holds the lock */
} cp_watch_data_outcome_t;

typedef struct {
    cp_watch_data_outcome_t outcome;
    size_t complete;            /* complete batches on HDFS */
    size_t trained;             /* of them, covered by the latest successful training */
    size_t fresh;               /* new ones */
    char last_run[64];          /* the latest FINISHED training's run id, "" if none */
    char *new_batches;          /* comma-separated names (malloc'ed; may be NULL) */
    char *all_batches;          /* every complete batch, comma-separated (malloc'ed; may be NULL) */
    bool took_over;             /* a stale lock was replaced */
    cp_watch_lock_state_t lock; /* the lock as last seen */
    char handle[CP_WATCH_HANDLE_MAX];
    char log_path[4096];
    bool holder_running_known; /* the launcher could judge the holder's handle */
    bool holder_running;
} cp_watch_data_result_t;

/* One pass of watch-data. The clients are borrowed. Returns CP_WATCH_OK with
 * res->outcome set, or an error with one line in errbuf. Free res with
 * cp_watch_data_result_free. */
cp_watch_code_t cp_watch_data_run(const cp_watch_data_opts_t *o, cp_hdfs_t *h, cp_mlflow_t *m,
                                  cp_watch_launcher_t *launcher, cp_watch_data_result_t *res,
                                  char *errbuf, size_t errcap);
void cp_watch_data_result_free(cp_watch_data_result_t *res);

#endif
