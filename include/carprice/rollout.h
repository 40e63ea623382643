/* Rollouts of `carprice serve`: the deployer interface that `carprice
 * watch-model` talks to, and the local supervisor behind it.
 *
 * A deployer knows which model version serves and can replace it with
 * another one without a gap: the new instance starts where the old one last
 * committed, and the old one stops only once the new one is ready (a
 * Kubernetes rolling update with maxUnavailable: 0). Today the only deployer
 * is the local supervisor (`carprice supervisor`), reached over HTTP on its
 * 127.0.0.1 control port; a Kubernetes Deployment will come behind the same
 * calls. docs/watchers.md describes both programs.
 *
 * Every fallible call returns a cp_rollout_code_t (0 = OK) and, when errbuf
 * is given, one line of detail. Handles are not thread-safe. */
#ifndef CARPRICE_ROLLOUT_H
#define CARPRICE_ROLLOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    CP_ROLLOUT_OK = 0,
    CP_ROLLOUT_ERR_INVALID_ARG, /* the caller passed something unusable */
    CP_ROLLOUT_ERR_NOMEM,       /* an allocation failed */
    CP_ROLLOUT_ERR_UNREACHABLE, /* the deployer did not answer */
    CP_ROLLOUT_ERR_BUSY,        /* a rollout is already running */
    CP_ROLLOUT_ERR_REFUSED,     /* the deployer refused the request (bad version, ...) */
    CP_ROLLOUT_ERR_PROTOCOL,    /* the answer was not what the API promises */
    CP_ROLLOUT_ERR_TIMEOUT,     /* a wait ran out */
} cp_rollout_code_t;

/* A static one-line description of a code. */
const char *cp_rollout_strerror(cp_rollout_code_t code);

/* One rollout, as the deployer remembers it. Strings are "" when unknown;
 * times are epoch ms, 0 when the step has not happened. */
typedef struct {
    char from[160];   /* version served before, "" for the first deployment */
    char to[160];     /* version rolled out */
    char kind[16];    /* "rollout" or "rollback" */
    char result[16];  /* "running", "succeeded" or "failed" */
    char reason[512]; /* why it failed */
    int64_t started_ms;
    int64_t ready_ms;    /* the new instance answered /readyz */
    int64_t finished_ms; /* the old instance exited (or the rollout was aborted) */
    int old_exit;        /* exit status of the old instance, 128+signal, -1 unknown */
} cp_rollout_record_t;

/* One running `carprice serve`. */
typedef struct {
    int id;
    int pid; /* 0 while waiting for a restart */
    char version[160];
    char role[16]; /* "current" or "candidate" (the new instance of a rollout) */
    int http_port; /* 0 until the instance logged it */
    bool ready;
    int restarts;
    char checkpoint[512];
} cp_rollout_instance_t;

/* A snapshot of the deployer. Free with cp_rollout_status_free. */
typedef struct {
    char current_version[160]; /* "" when nothing serves yet */
    bool rollout_running;
    bool has_last; /* last is meaningful */
    cp_rollout_record_t last;
    cp_rollout_instance_t *instances;
    size_t n_instances;
    cp_rollout_record_t *history; /* finished rollouts, oldest first */
    size_t n_history;
} cp_rollout_status_t;

void cp_rollout_status_free(cp_rollout_status_t *st);

/* Parses the JSON that the supervisor's GET /status returns into st (zeroed
 * first). Returns CP_ROLLOUT_OK or CP_ROLLOUT_ERR_PROTOCOL. */
cp_rollout_code_t cp_rollout_status_parse(const char *json, cp_rollout_status_t *st, char *errbuf,
                                          size_t errlen);

/* ---- the deployer ---- */

typedef struct cp_deployer_s cp_deployer_t;

/* A deployer backed by the local supervisor listening on 127.0.0.1:port.
 * Nothing is sent yet. */
cp_rollout_code_t cp_deployer_local_new(int port, cp_deployer_t **out, char *errbuf, size_t errlen);

/* Frees the handle. Accepts NULL. */
void cp_deployer_destroy(cp_deployer_t *d);

/* The version (NAME/VERSION) that serves, copied into out ("" when none). */
cp_rollout_code_t cp_deployer_current_version(cp_deployer_t *d, char *out, size_t outlen,
                                              char *errbuf, size_t errlen);

/* Starts replacing the serving version with `version` (NAME/VERSION); kind is
 * "rollout" or "rollback" (recorded in the history). Returns at once:
 * CP_ROLLOUT_ERR_BUSY when a rollout runs, CP_ROLLOUT_ERR_REFUSED for a
 * malformed version. Follow it with cp_deployer_wait. */
cp_rollout_code_t cp_deployer_rollout(cp_deployer_t *d, const char *version, const char *kind,
                                      char *errbuf, size_t errlen);

/* The deployer's state into st (free with cp_rollout_status_free). */
cp_rollout_code_t cp_deployer_status(cp_deployer_t *d, cp_rollout_status_t *st, char *errbuf,
                                     size_t errlen);

/* Polls the status until no rollout runs (then st holds the final status) or
 * timeout_ms passed (CP_ROLLOUT_ERR_TIMEOUT, st holds the last status). */
cp_rollout_code_t cp_deployer_wait(cp_deployer_t *d, long timeout_ms, cp_rollout_status_t *st,
                                   char *errbuf, size_t errlen);

/* ---- the local supervisor ---- */

typedef struct {
    const char *state_dir;         /* required: state.json, instance checkpoints and logs */
    int control_port;              /* 127.0.0.1 port of the control API; 0 picks one (logged) */
    const char *carprice;          /* the carprice program to run as `serve`; required */
    const char *version;           /* NAME/VERSION to serve when state_dir holds no state */
    const char *initial_offsets;   /* --starting-offsets of the very first instance, or NULL */
    const char *const *serve_args; /* more `carprice serve` flags (topics, ...), NULL-ended */
    const char *query_prefix; /* instance query names are <prefix>_<id>; default carprice_serve */
    long ready_timeout_ms;    /* a new instance must be ready within this; default 300000 */
    long stop_timeout_ms;     /* SIGTERM -> exit bound before SIGKILL; default 60000 */
    long backoff_max_ms;      /* cap of the crash-restart backoff; default 30000 */
} cp_supervisor_opts_t;

/* Fills o with the defaults above. */
void cp_supervisor_opts_init(cp_supervisor_opts_t *o);

/* Runs the supervisor until cp_supervisor_request_stop; then stops every
 * instance gracefully. Returns 0 after a clean stop, -1 with one line in
 * errbuf when it could not start (bad state, port taken) or an instance had
 * to be killed. */
int cp_supervisor_run(const cp_supervisor_opts_t *o, char *errbuf, size_t errlen);

/* Asks cp_supervisor_run to stop. Async-signal-safe. */
void cp_supervisor_request_stop(void);

/* ---- live error of a version, for the rollback check ---- */

typedef struct {
    double mae;  /* mean absolute error over the pairs, NaN when count is 0 */
    long count;  /* joined (prediction, price) pairs */
    int windows; /* non-overlapping metric windows used */
} cp_live_error_t;

/* Reads the metrics topic (messages of docs/messages.md) and combines the
 * windows of model_name/model_version that lie inside [from_ms, to_ms) into
 * one MAE: sliding windows overlap, so a set of non-overlapping ones is
 * chosen (earliest first) and their MAEs are weighted by count. Messages
 * written before from_ms are not read (a window
 * inside the range is written after it ends). Returns 0, or -1 with one
 * line in errbuf (Kafka unreachable, topic missing). */
int cp_live_error(const char *bootstrap, const char *topic, const char *model_name,
                  const char *model_version, int64_t from_ms, int64_t to_ms, cp_live_error_t *out,
                  char *errbuf, size_t errlen);

#endif
