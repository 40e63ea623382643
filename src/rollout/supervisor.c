/* The local supervisor: runs `carprice serve` children and replaces one
 * version with another like a Kubernetes rolling update with
 * maxUnavailable: 0 (docs/watchers.md).
 *
 * One thread, one loop: poll() on the control socket with a short timeout,
 * then reap children, advance the rollout, probe /readyz and restart crashed
 * instances. The control API answers one request per connection; a request
 * must arrive whole within 2 s, so a slow client stalls the loop at most that
 * long. State that must survive the supervisor (the serving version, its
 * checkpoint, the rollout history) is written to <state_dir>/state.json by
 * write-then-rename. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "carprice/log.h"
#include "carprice/serve.h"
#include "carprice/util.h"
#include "rollout_internal.h"

#define MAX_HISTORY     20
#define PROBE_EVERY_S   1.0
#define STABLE_AFTER_S  60.0 /* an instance up this long restarts with the first backoff again */
#define BACKOFF_FIRST_S 1.0
#define REQUEST_MAX     8192

static volatile sig_atomic_t g_stop;

void cp_supervisor_request_stop(void)
{
    g_stop = 1;
}

void cp_supervisor_opts_init(cp_supervisor_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->query_prefix = "carprice_serve";
    o->ready_timeout_ms = 300000;
    o->stop_timeout_ms = 60000;
    o->backoff_max_ms = 30000;
}

typedef struct {
    bool used;
    int id;
    pid_t pid; /* 0: not running */
    char version[160];
    char ckpt[PATH_MAX];
    char log[PATH_MAX];
    char offsets[PATH_MAX + 16]; /* --starting-offsets value, "" for serve's default */
    off_t log_from;              /* the port line of this start is after this offset */
    int port;
    bool ready;
    int restarts;
    double spawned_s, ready_since_s, last_probe_s;
    double restart_at_s; /* when pid == 0: start again at this time */
    double backoff_s;
    bool stopping; /* we sent SIGTERM */
    double kill_at_s;
} inst_t;

typedef enum { PH_NONE, PH_WAIT_READY, PH_STOP_OLD, PH_ABORT } phase_t;

typedef struct {
    const cp_supervisor_opts_t *o;
    char state_path[PATH_MAX];
    inst_t cur, cand;
    int next_id;
    char current_version[160];
    bool has_last;
    cp_rollout_record_t last;
    cp_rollout_record_t hist[MAX_HISTORY];
    size_t nhist;
    phase_t phase;
    double deadline_s;
    int lfd;
    bool killed_any;
} sup_t;

/* ---- state.json ---- */

static int save_state(sup_t *s)
{
    json_t *inst = json_pack("{s:i, s:s, s:s, s:s, s:s, s:i}", "id", s->cur.id, "version",
                             s->cur.version, "checkpoint", s->cur.ckpt, "log", s->cur.log,
                             "starting_offsets", s->cur.offsets, "pid", (int)s->cur.pid);
    json_t *hist = json_array();
    for (size_t i = 0; i < s->nhist; i++)
        json_array_append_new(hist, cp_rollout_record_to_json(&s->hist[i]));
    json_t *root = json_pack("{s:s, s:i, s:o, s:o}", "current_version", s->current_version,
                             "next_id", s->next_id, "instance", inst, "history", hist);
    if (root && s->has_last)
        json_object_set_new(root, "last_rollout", cp_rollout_record_to_json(&s->last));
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", s->state_path);
    int rc = -1;
    if (root && json_dump_file(root, tmp, JSON_INDENT(2)) == 0) {
        int fd = open(tmp, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            fsync(fd);
            close(fd);
        }
        rc = rename(tmp, s->state_path);
    }
    json_decref(root);
    if (rc != 0)
        cp_log_error("supervisor.state_write_failed", "path=%s errno=\"%s\"", s->state_path,
                     strerror(errno));
    return rc;
}

static bool pid_runs_checkpoint(pid_t pid, const char *ckpt)
{
    char path[64], buf[8192];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return false;
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    buf[n] = '\0';
    return strstr(buf, " serve ") && strstr(buf, ckpt);
}

/* Returns 0 (state loaded or none), -1 on a corrupt state file. */
static int load_state(sup_t *s, char *errbuf, size_t errlen)
{
    json_error_t je;
    json_t *root = json_load_file(s->state_path, 0, &je);
    if (!root) {
        if (access(s->state_path, F_OK) != 0)
            return 0;
        snprintf(errbuf, errlen, "%s: %s (line %d)", s->state_path, je.text, je.line);
        return -1;
    }
    json_t *inst = json_object_get(root, "instance");
    const char *cv = json_string_value(json_object_get(root, "current_version"));
    if (!cv || !json_is_object(inst)) {
        snprintf(errbuf, errlen, "%s: no current_version or instance", s->state_path);
        json_decref(root);
        return -1;
    }
    snprintf(s->current_version, sizeof s->current_version, "%s", cv);
    s->next_id = (int)json_integer_value(json_object_get(root, "next_id"));
    inst_t *c = &s->cur;
    c->used = true;
    c->id = (int)json_integer_value(json_object_get(inst, "id"));
    const char *v;
    if ((v = json_string_value(json_object_get(inst, "version"))))
        snprintf(c->version, sizeof c->version, "%s", v);
    if ((v = json_string_value(json_object_get(inst, "checkpoint"))))
        snprintf(c->ckpt, sizeof c->ckpt, "%s", v);
    if ((v = json_string_value(json_object_get(inst, "log"))))
        snprintf(c->log, sizeof c->log, "%s", v);
    if ((v = json_string_value(json_object_get(inst, "starting_offsets"))))
        snprintf(c->offsets, sizeof c->offsets, "%s", v);
    pid_t old = (pid_t)json_integer_value(json_object_get(inst, "pid"));
    json_t *hist = json_object_get(root, "history");
    for (size_t i = 0; i < json_array_size(hist) && s->nhist < MAX_HISTORY; i++)
        cp_rollout_record_from_json(json_array_get(hist, i), &s->hist[s->nhist++]);
    json_t *last = json_object_get(root, "last_rollout");
    if (json_is_object(last)) {
        s->has_last = true;
        cp_rollout_record_from_json(last, &s->last);
        if (strcmp(s->last.result, "running") == 0) {
            snprintf(s->last.result, sizeof s->last.result, "failed");
            snprintf(s->last.reason, sizeof s->last.reason,
                     "the supervisor stopped during the rollout");
            s->last.finished_ms = cp_rollout_now_ms();
        }
    }
    json_decref(root);
    if (s->next_id <= c->id)
        s->next_id = c->id + 1;
    /* A supervisor killed with SIGKILL may leave its serve behind (when the
     * parent-death signal did not reach it): never run two on one checkpoint. */
    if (old > 0 && pid_runs_checkpoint(old, c->ckpt)) {
        cp_log_warn("supervisor.stale_instance", "pid=%d checkpoint=%s action=sigterm", (int)old,
                    c->ckpt);
        kill(old, SIGTERM);
        double t0 = cp_now_s();
        while (kill(old, 0) == 0 && cp_now_s() - t0 < s->o->stop_timeout_ms / 1000.0)
            usleep(200000);
        if (kill(old, 0) == 0)
            kill(old, SIGKILL);
    }
    cp_log_info("supervisor.state_loaded", "version=%s checkpoint=%s history=%zu",
                s->current_version, c->ckpt, s->nhist);
    return 0;
}

/* ---- instances ---- */

static int mkdirs(const char *path)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static void inst_init(sup_t *s, inst_t *in, const char *version, const char *offsets)
{
    memset(in, 0, sizeof *in);
    in->used = true;
    in->id = s->next_id++;
    snprintf(in->version, sizeof in->version, "%s", version);
    snprintf(in->ckpt, sizeof in->ckpt, "%s/instances/%d/checkpoint", s->o->state_dir, in->id);
    snprintf(in->log, sizeof in->log, "%s/instances/%d/serve.log", s->o->state_dir, in->id);
    snprintf(in->offsets, sizeof in->offsets, "%s", offsets ? offsets : "");
}

static int inst_spawn(sup_t *s, inst_t *in)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/instances/%d", s->o->state_dir, in->id);
    if (mkdirs(dir) != 0) {
        cp_log_error("supervisor.mkdir_failed", "dir=%s errno=\"%s\"", dir, strerror(errno));
        return -1;
    }
    int logfd = open(in->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (logfd < 0) {
        cp_log_error("supervisor.log_open_failed", "path=%s errno=\"%s\"", in->log,
                     strerror(errno));
        return -1;
    }
    struct stat st;
    in->log_from = fstat(logfd, &st) == 0 ? st.st_size : 0;
    char qname[200];
    snprintf(qname, sizeof qname, "%s_%d", s->o->query_prefix, in->id);
    const char *argv[128];
    size_t n = 0;
    argv[n++] = s->o->carprice;
    argv[n++] = "serve";
    argv[n++] = "--model";
    argv[n++] = in->version;
    argv[n++] = "--checkpoint-dir";
    argv[n++] = in->ckpt;
    argv[n++] = "--http-port";
    argv[n++] = "0";
    argv[n++] = "--query-name";
    argv[n++] = qname;
    if (in->offsets[0]) {
        argv[n++] = "--starting-offsets";
        argv[n++] = in->offsets;
    }
    for (const char *const *a = s->o->serve_args; a && *a && n < 127; a++)
        argv[n++] = *a;
    argv[n] = NULL;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        cp_log_error("supervisor.fork_failed", "errno=\"%s\"", strerror(errno));
        close(logfd);
        return -1;
    }
    if (pid == 0) {
        /* The instance must not outlive a supervisor that died without
         * stopping it: the next supervisor would start a second one. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        dup2(logfd, 1);
        dup2(logfd, 2);
        signal(SIGPIPE, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execv(s->o->carprice, (char *const *)argv);
        dprintf(2, "supervisor: exec %s: %s\n", s->o->carprice, strerror(errno));
        _exit(127);
    }
    close(logfd);
    in->pid = pid;
    in->port = 0;
    in->ready = false;
    in->stopping = false;
    in->spawned_s = cp_now_s();
    in->last_probe_s = 0;
    cp_log_info("supervisor.instance_started",
                "id=%d pid=%d version=%s checkpoint=%s starting_offsets=\"%s\" log=%s", in->id,
                (int)pid, in->version, in->ckpt, in->offsets, in->log);
    return 0;
}

static void inst_term(sup_t *s, inst_t *in)
{
    if (in->pid > 0 && !in->stopping) {
        kill(in->pid, SIGTERM);
        in->stopping = true;
        in->kill_at_s = cp_now_s() + s->o->stop_timeout_ms / 1000.0;
        cp_log_info("supervisor.instance_stopping", "id=%d pid=%d version=%s", in->id, (int)in->pid,
                    in->version);
    }
}

/* The port of the latest start, from the log line serve writes. */
static void inst_find_port(inst_t *in)
{
    static const char key[] = "event=serve.http addr=127.0.0.1:";
    int fd = open(in->log, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char buf[65536];
    ssize_t n = pread(fd, buf, sizeof buf - 1, in->log_from);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = '\0';
    const char *p = strstr(buf, key);
    if (p)
        in->port = atoi(p + sizeof key - 1);
}

/* GET path on 127.0.0.1:port; the status, 0 when nothing answered in time. */
static int probe(int port, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int status = 0;
    char req[256], buf[512];
    int len = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 && write(fd, req, (size_t)len) == len) {
        ssize_t n = read(fd, buf, sizeof buf - 1);
        if (n > 0) {
            buf[n] = '\0';
            if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
                status = 0;
        }
    }
    close(fd);
    return status;
}

static void inst_probe(inst_t *in, double now)
{
    if (in->pid <= 0 || in->stopping || now - in->last_probe_s < PROBE_EVERY_S)
        return;
    in->last_probe_s = now;
    if (!in->port)
        inst_find_port(in);
    if (!in->port)
        return;
    bool ready = probe(in->port, "/readyz") == 200;
    if (ready != in->ready) {
        cp_log_info(ready ? "supervisor.instance_ready" : "supervisor.instance_not_ready",
                    "id=%d pid=%d version=%s port=%d after_s=%.1f", in->id, (int)in->pid,
                    in->version, in->port, now - in->spawned_s);
        if (ready)
            in->ready_since_s = now;
    }
    in->ready = ready;
}

/* ---- rollouts ---- */

static void history_add(sup_t *s, const cp_rollout_record_t *r)
{
    if (s->nhist == MAX_HISTORY) {
        memmove(s->hist, s->hist + 1, (MAX_HISTORY - 1) * sizeof *s->hist);
        s->nhist--;
    }
    s->hist[s->nhist++] = *r;
}

static void rollout_finish(sup_t *s, bool ok, const char *reason)
{
    s->last.finished_ms = cp_rollout_now_ms();
    snprintf(s->last.result, sizeof s->last.result, "%s", ok ? "succeeded" : "failed");
    snprintf(s->last.reason, sizeof s->last.reason, "%s", reason ? reason : "");
    if (ok) {
        s->cur = s->cand;
        snprintf(s->current_version, sizeof s->current_version, "%s", s->cur.version);
    }
    memset(&s->cand, 0, sizeof s->cand);
    s->phase = PH_NONE;
    history_add(s, &s->last);
    save_state(s);
    cp_log(ok ? CP_LOG_INFO : CP_LOG_ERROR,
           ok ? "supervisor.rollout_done" : "supervisor.rollout_failed",
           "from=%s to=%s kind=%s ready_s=%.3f total_s=%.3f old_exit=%d reason=\"%s\"",
           s->last.from, s->last.to, s->last.kind,
           s->last.ready_ms ? (double)(s->last.ready_ms - s->last.started_ms) / 1000.0 : -1.0,
           (double)(s->last.finished_ms - s->last.started_ms) / 1000.0, s->last.old_exit,
           s->last.reason);
}

static bool valid_version(const char *v)
{
    const char *slash = strrchr(v, '/');
    if (!slash || slash == v || !slash[1] || strlen(v) >= 160)
        return false;
    for (const char *p = slash + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '"' || *p == '\\')
            return false;
    return true;
}

/* Starts a rollout; returns the HTTP status for the control API. */
static int rollout_start(sup_t *s, const char *version, const char *kind, char *msg, size_t len)
{
    if (!valid_version(version)) {
        snprintf(msg, len, "version must be NAME/VERSION (a number), not '%s'", version);
        return 400;
    }
    if (strcmp(kind, "rollout") != 0 && strcmp(kind, "rollback") != 0) {
        snprintf(msg, len, "kind must be rollout or rollback, not '%s'", kind);
        return 400;
    }
    if (s->phase != PH_NONE) {
        snprintf(msg, len, "a rollout to %s is running", s->cand.version);
        return 409;
    }
    if (strcmp(version, s->current_version) == 0) {
        snprintf(msg, len, "%s already serves", version);
        return 200;
    }
    /* The new instance continues where the old one last committed; before
     * its first commit, from where the old one started. */
    char from[PATH_MAX + 16], err[256];
    char *json = NULL;
    if (cp_serve_committed_offsets(s->cur.ckpt, &json, err, sizeof err) == 0)
        snprintf(from, sizeof from, "checkpoint:%s", s->cur.ckpt);
    else
        snprintf(from, sizeof from, "%s", s->cur.offsets);
    free(json);
    inst_init(s, &s->cand, version, from);
    memset(&s->last, 0, sizeof s->last);
    s->has_last = true;
    snprintf(s->last.from, sizeof s->last.from, "%s", s->current_version);
    snprintf(s->last.to, sizeof s->last.to, "%.159s", version);
    snprintf(s->last.kind, sizeof s->last.kind, "%.15s", kind);
    snprintf(s->last.result, sizeof s->last.result, "running");
    s->last.started_ms = cp_rollout_now_ms();
    s->last.old_exit = -1;
    cp_log_info("supervisor.rollout_started", "from=%s to=%s kind=%s id=%d starting_offsets=%s",
                s->last.from, version, kind, s->cand.id, from);
    s->phase = PH_WAIT_READY;
    s->deadline_s = cp_now_s() + s->o->ready_timeout_ms / 1000.0;
    save_state(s);
    if (inst_spawn(s, &s->cand) != 0) {
        rollout_finish(s, false, "could not start the new instance");
        snprintf(msg, len, "could not start the new instance");
        return 500;
    }
    snprintf(msg, len, "rollout to %s started", version);
    return 202;
}

static void rollout_tick(sup_t *s, double now)
{
    switch (s->phase) {
    case PH_NONE:
        break;
    case PH_WAIT_READY:
        if (s->cand.ready) {
            s->last.ready_ms = cp_rollout_now_ms();
            if (s->cur.pid > 0) {
                inst_term(s, &s->cur);
                s->phase = PH_STOP_OLD;
            } else {
                rollout_finish(s, true, NULL); /* the old one is down, waiting for a restart */
            }
        } else if (now > s->deadline_s) {
            snprintf(s->last.reason, sizeof s->last.reason,
                     "the new instance was not ready within %ld s (log %.300s)",
                     s->o->ready_timeout_ms / 1000, s->cand.log);
            inst_term(s, &s->cand);
            s->phase = PH_ABORT;
        }
        break;
    case PH_STOP_OLD:
    case PH_ABORT:
        break; /* finished when the child is reaped */
    }
}

static void on_exit_status(sup_t *s, pid_t pid, int st)
{
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    double now = cp_now_s();
    inst_t *in = s->cur.pid == pid ? &s->cur : s->cand.pid == pid ? &s->cand : NULL;
    if (!in)
        return;
    cp_log(code == 0 && in->stopping ? CP_LOG_INFO : CP_LOG_WARN, "supervisor.instance_exited",
           "id=%d pid=%d version=%s status=%d requested=%d", in->id, (int)pid, in->version, code,
           in->stopping);
    bool was_stopping = in->stopping;
    in->pid = 0;
    in->ready = false;
    in->stopping = false;
    if (in == &s->cand) {
        if (s->phase == PH_ABORT) {
            rollout_finish(s, false, s->last.reason);
        } else if (s->phase == PH_WAIT_READY) {
            char why[512];
            snprintf(why, sizeof why,
                     "the new instance exited with status %d before it was ready (log %.300s)",
                     code, in->log);
            rollout_finish(s, false, why);
        }
        return;
    }
    if (s->phase == PH_STOP_OLD && was_stopping) {
        s->last.old_exit = code;
        rollout_finish(s, true, NULL);
        return;
    }
    if (g_stop)
        return;
    /* A crash: start again from the same checkpoint, with backoff. */
    if (in->ready_since_s > 0 && now - in->ready_since_s > STABLE_AFTER_S)
        in->backoff_s = 0;
    in->backoff_s = in->backoff_s <= 0 ? BACKOFF_FIRST_S : in->backoff_s * 2;
    if (in->backoff_s > s->o->backoff_max_ms / 1000.0)
        in->backoff_s = s->o->backoff_max_ms / 1000.0;
    in->restart_at_s = now + in->backoff_s;
    in->ready_since_s = 0;
    cp_log_warn("supervisor.instance_restart_scheduled", "id=%d version=%s in_s=%.1f", in->id,
                in->version, in->backoff_s);
}

static void reap(sup_t *s)
{
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
        on_exit_status(s, pid, st);
}

static void restart_crashed(sup_t *s, double now)
{
    inst_t *in = &s->cur;
    if (!in->used || in->pid > 0 || now < in->restart_at_s)
        return;
    in->restarts++;
    if (inst_spawn(s, in) != 0)
        in->restart_at_s = now + s->o->backoff_max_ms / 1000.0;
    else
        save_state(s);
}

static void kill_overdue(sup_t *s, double now)
{
    inst_t *all[] = {&s->cur, &s->cand};
    for (int i = 0; i < 2; i++) {
        inst_t *in = all[i];
        if (in->pid > 0 && in->stopping && now > in->kill_at_s) {
            cp_log_error("supervisor.instance_killed",
                         "id=%d pid=%d reason=\"no exit within %ld ms\"", in->id, (int)in->pid,
                         s->o->stop_timeout_ms);
            kill(in->pid, SIGKILL);
            in->kill_at_s = now + 3600;
            s->killed_any = true;
        }
    }
}

/* ---- control API ---- */

static json_t *inst_json(const inst_t *in, const char *role)
{
    return json_pack("{s:i, s:i, s:s, s:s, s:i, s:b, s:i, s:s, s:s}", "id", in->id, "pid",
                     (int)in->pid, "version", in->version, "role", role, "http_port", in->port,
                     "ready", in->ready, "restarts", in->restarts, "checkpoint", in->ckpt, "log",
                     in->log);
}

static char *status_json(const sup_t *s)
{
    json_t *insts = json_array();
    if (s->cur.used)
        json_array_append_new(insts, inst_json(&s->cur, "current"));
    if (s->phase != PH_NONE && s->cand.used)
        json_array_append_new(insts, inst_json(&s->cand, "candidate"));
    json_t *hist = json_array();
    for (size_t i = 0; i < s->nhist; i++)
        json_array_append_new(hist, cp_rollout_record_to_json(&s->hist[i]));
    json_t *root = json_pack("{s:s, s:b, s:s, s:o, s:o}", "current_version", s->current_version,
                             "rollout_running", s->phase != PH_NONE, "state_dir", s->o->state_dir,
                             "instances", insts, "history", hist);
    if (root && s->has_last)
        json_object_set_new(root, "last_rollout", cp_rollout_record_to_json(&s->last));
    char *out = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    return out;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The percent-decoded value of key in a query string, or false. */
static bool query_get(const char *q, const char *key, char *out, size_t len)
{
    size_t kl = strlen(key);
    while (q && *q) {
        const char *end = strchr(q, '&');
        size_t n = end ? (size_t)(end - q) : strlen(q);
        if (n > kl && strncmp(q, key, kl) == 0 && q[kl] == '=') {
            size_t o = 0;
            for (size_t i = kl + 1; i < n && o + 1 < len; i++) {
                int h, l;
                if (q[i] == '%' && i + 2 < n && (h = hexval(q[i + 1])) >= 0 &&
                    (l = hexval(q[i + 2])) >= 0) {
                    out[o++] = (char)(h * 16 + l);
                    i += 2;
                } else {
                    out[o++] = q[i] == '+' ? ' ' : q[i];
                }
            }
            out[o] = '\0';
            return true;
        }
        q = end ? end + 1 : NULL;
    }
    return false;
}

static void reply(int fd, int status, const char *body)
{
    const char *text = status == 200   ? "OK"
                       : status == 202 ? "Accepted"
                       : status == 400 ? "Bad Request"
                       : status == 404 ? "Not Found"
                       : status == 405 ? "Method Not Allowed"
                       : status == 409 ? "Conflict"
                                       : "Internal Server Error";
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: "
                     "%zu\r\nConnection: close\r\n\r\n",
                     status, text, strlen(body));
    if (write(fd, head, (size_t)n) == n)
        (void)!write(fd, body, strlen(body));
}

static void reply_msg(int fd, int status, const char *msg)
{
    json_t *o = json_pack("{s:s}", status < 300 ? "message" : "error", msg);
    char *b = o ? json_dumps(o, JSON_COMPACT) : NULL;
    reply(fd, status, b ? b : "{}");
    free(b);
    json_decref(o);
}

static void serve_client(sup_t *s, int fd)
{
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    char buf[REQUEST_MAX + 1];
    size_t got = 0;
    while (got < REQUEST_MAX) {
        ssize_t n = read(fd, buf + got, REQUEST_MAX - got);
        if (n <= 0)
            break;
        got += (size_t)n;
        buf[got] = '\0';
        if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
            break;
    }
    buf[got] = '\0';
    char method[16], target[2048];
    if (sscanf(buf, "%15s %2047s HTTP/1.%*d", method, target) != 2) {
        reply_msg(fd, 400, "malformed request");
        return;
    }
    char *q = strchr(target, '?');
    if (q)
        *q++ = '\0';
    if (strcmp(target, "/status") == 0 || strcmp(target, "/healthz") == 0) {
        if (strcmp(method, "GET") != 0) {
            reply_msg(fd, 405, "use GET");
            return;
        }
        char *b = status_json(s);
        reply(fd, b ? 200 : 500, b ? b : "{\"error\":\"out of memory\"}");
        free(b);
    } else if (strcmp(target, "/rollout") == 0) {
        if (strcmp(method, "POST") != 0) {
            reply_msg(fd, 405, "use POST");
            return;
        }
        char version[256], kind[32], msg[512];
        if (!query_get(q, "version", version, sizeof version)) {
            reply_msg(fd, 400, "missing ?version=NAME/VERSION");
            return;
        }
        if (!query_get(q, "kind", kind, sizeof kind))
            snprintf(kind, sizeof kind, "rollout");
        int status = rollout_start(s, version, kind, msg, sizeof msg);
        reply_msg(fd, status, msg);
    } else {
        reply_msg(fd, 404, "try GET /status or POST /rollout?version=NAME/VERSION");
    }
}

static int listen_on(int port, int *bound, char *errbuf, size_t errlen)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(errbuf, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) != 0) {
        snprintf(errbuf, errlen, "control port 127.0.0.1:%d: %s", port, strerror(errno));
        close(fd);
        return -1;
    }
    *bound = ntohs(a.sin_port);
    return fd;
}

/* ---- the loop ---- */

static void shutdown_all(sup_t *s)
{
    cp_log_info("supervisor.stopping", "instances=%d", (s->cur.pid > 0) + (s->cand.pid > 0));
    inst_term(s, &s->cur);
    inst_term(s, &s->cand);
    while (s->cur.pid > 0 || s->cand.pid > 0) {
        reap(s);
        kill_overdue(s, cp_now_s());
        usleep(100000);
    }
    if (s->phase != PH_NONE)
        rollout_finish(s, false, "the supervisor stopped during the rollout");
    save_state(s);
}

int cp_supervisor_run(const cp_supervisor_opts_t *o, char *errbuf, size_t errlen)
{
    if (!o->state_dir || !*o->state_dir || !o->carprice) {
        snprintf(errbuf, errlen, "a state directory and the carprice program are required");
        return -1;
    }
    static sup_t sup; /* large; one supervisor per process */
    sup_t *s = &sup;
    memset(s, 0, sizeof *s);
    s->o = o;
    s->next_id = 1;
    s->lfd = -1;
    if (mkdirs(o->state_dir) != 0) {
        snprintf(errbuf, errlen, "state directory %s: %s", o->state_dir, strerror(errno));
        return -1;
    }
    snprintf(s->state_path, sizeof s->state_path, "%s/state.json", o->state_dir);
    if (load_state(s, errbuf, errlen) != 0)
        return -1;
    if (!s->cur.used) {
        if (!o->version || !valid_version(o->version)) {
            snprintf(errbuf, errlen,
                     "%s holds no state: give the version to serve first (--version "
                     "NAME/VERSION)",
                     o->state_dir);
            return -1;
        }
        inst_init(s, &s->cur, o->version, o->initial_offsets);
        snprintf(s->current_version, sizeof s->current_version, "%s", o->version);
    } else if (o->version && strcmp(o->version, s->current_version) != 0) {
        cp_log_warn("supervisor.version_ignored",
                    "given=%s serving=%s reason=\"the saved state wins; roll out to change it\"",
                    o->version, s->current_version);
    }
    int port = 0;
    s->lfd = listen_on(o->control_port, &port, errbuf, errlen);
    if (s->lfd < 0)
        return -1;
    cp_log_info("supervisor.control", "addr=127.0.0.1:%d state=%s", port, s->state_path);
    signal(SIGPIPE, SIG_IGN);
    if (inst_spawn(s, &s->cur) != 0) {
        snprintf(errbuf, errlen, "could not start the first instance (see the log above)");
        close(s->lfd);
        return -1;
    }
    save_state(s);
    while (!g_stop) {
        struct pollfd p = {.fd = s->lfd, .events = POLLIN};
        int r = poll(&p, 1, 200);
        if (r > 0 && (p.revents & POLLIN)) {
            int c = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
            if (c >= 0) {
                serve_client(s, c);
                close(c);
            }
        }
        double now = cp_now_s();
        reap(s);
        inst_probe(&s->cur, now);
        if (s->phase != PH_NONE)
            inst_probe(&s->cand, now);
        rollout_tick(s, now);
        restart_crashed(s, now);
        kill_overdue(s, now);
    }
    close(s->lfd);
    shutdown_all(s);
    cp_log_info("supervisor.stopped", "killed_any=%d", s->killed_any);
    if (s->killed_any) {
        snprintf(errbuf, errlen, "an instance did not stop within %ld ms and was killed",
                 o->stop_timeout_ms);
        return -1;
    }
    return 0;
}
