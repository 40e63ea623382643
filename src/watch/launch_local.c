/* The local launcher: the training runs as the child of a detached wrapper
 * process that holds the training lock for it.
 *
 *   watch-data ──fork──▶ intermediate (setsid) ──fork──▶ wrapper ──fork+exec──▶ training
 *        ▲  waits for the intermediate,   exits at once     │ renews the lease every lease/3,
 *        └──────── "ok"/"err" line on a pipe ───────────────┘ releases it when training exits
 *
 * The intermediate process exits so that the wrapper is re-parented away from
 * watch-data (which exits right after) and, after setsid, has no controlling
 * terminal. The training gets PR_SET_PDEATHSIG(SIGTERM): if the wrapper is
 * killed, the training stops too, so a lock that expires never leaves an
 * unguarded training behind. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "carprice/log.h"
#include "carprice/util.h"
#include "carprice/watch.h"
#include "watch_internal.h"

/* How long launch() waits for the wrapper to report that the training runs. */
#define LAUNCH_REPORT_TIMEOUT_MS 60000
/* After SIGTERM, how long the wrapper waits before SIGKILL. */
#define STOP_GRACE_MS 30000

static volatile sig_atomic_t g_stop;

static void on_stop(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !g_stop)
        ;
}

/* The start time of pid in clock ticks since boot (field 22 of
 * /proc/<pid>/stat), and its state letter. -1 when the process is gone. */
static long long proc_start_time(long pid, char *state)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces and ')' */
    if (!p)
        return -1;
    p++;
    char st = '?';
    long long start = -1;
    /* After ')': state is field 3, starttime field 22. */
    int field = 2;
    for (char *tok = strtok(p, " "); tok; tok = strtok(NULL, " ")) {
        field++;
        if (field == 3)
            st = tok[0];
        if (field == 22) {
            start = atoll(tok);
            break;
        }
    }
    if (state)
        *state = st;
    return start;
}

/* Writes all of s to fd (best effort). */
static void write_all(int fd, const char *s)
{
    size_t len = strlen(s);
    while (len) {
        ssize_t w = write(fd, s, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        len -= (size_t)w;
    }
}

/* Closes every descriptor from 3 up except keep1 and keep2. */
static void close_others(int keep1, int keep2)
{
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536)
        max = 65536;
    for (int fd = 3; fd < max; fd++)
        if (fd != keep1 && fd != keep2)
            close(fd);
}

/* The training: a child of the wrapper with its output in the log. Reports
 * an exec failure's errno on exec_fd (close-on-exec, so success closes it). */
static void exec_training(const cp_watch_launch_t *spec, pid_t wrapper, int exec_fd)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != wrapper) /* the wrapper died before prctl */
        _exit(127);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    execvp(spec->argv[0], (char *const *)spec->argv);
    int e = errno;
    ssize_t w = write(exec_fd, &e, sizeof e);
    (void)w;
    _exit(127);
}

/* The wrapper's life; never returns. report_fd gets one line for launch(). */
static void run_wrapper(const cp_watch_launch_t *spec, int report_fd)
{
    char line[2048], err[1024];
    char host[CP_WATCH_HOST_MAX];
    cp_watch_hostname(host, sizeof host);
    pid_t self = getpid();
    long long start = proc_start_time((long)self, NULL);
    char handle[CP_WATCH_HANDLE_MAX];
    snprintf(handle, sizeof handle, "local:%s:%ld:%lld", host, (long)self, start);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);

    cp_hdfs_config_t hc = {.url = spec->webhdfs_url, .user = spec->hdfs_user};
    cp_hdfs_t *h = NULL;
    cp_rest_error_t *rerr = cp_rest_error_new();
    if (!rerr || cp_hdfs_new(&hc, &h, rerr) != CP_REST_OK) {
        snprintf(line, sizeof line, "err HDFS client: %s\n",
                 rerr ? cp_rest_error_message(rerr) : "out of memory");
        write_all(report_fd, line);
        _exit(1);
    }
    cp_rest_error_destroy(rerr);
    cp_watch_lock_t *lock = spec->lock;
    /* The lease is ours now: record who holds it before anything else. */
    if (cp_watch_lock_renew(h, lock, "wrapper", (long)self, handle, err, sizeof err) !=
        CP_WATCH_OK) {
        snprintf(line, sizeof line, "err taking over the lease: %s\n", err);
        write_all(report_fd, line);
        cp_watch_lock_release(h, lock, err, sizeof err);
        _exit(1);
    }

    int ep[2];
    if (pipe2(ep, O_CLOEXEC) != 0) {
        snprintf(line, sizeof line, "err pipe: %s\n", strerror(errno));
        write_all(report_fd, line);
        cp_watch_lock_release(h, lock, err, sizeof err);
        _exit(1);
    }
    pid_t child = fork();
    if (child < 0) {
        snprintf(line, sizeof line, "err fork: %s\n", strerror(errno));
        write_all(report_fd, line);
        cp_watch_lock_release(h, lock, err, sizeof err);
        _exit(1);
    }
    if (child == 0) {
        close(ep[0]);
        close(report_fd);
        exec_training(spec, self, ep[1]);
    }
    close(ep[1]);
    int e = 0;
    ssize_t r;
    while ((r = read(ep[0], &e, sizeof e)) < 0 && errno == EINTR)
        ;
    close(ep[0]);
    if (r == (ssize_t)sizeof e) {
        waitpid(child, NULL, 0);
        snprintf(line, sizeof line, "err cannot run %s: %s\n", spec->argv[0], strerror(e));
        write_all(report_fd, line);
        cp_log_error("watch.train.exec_failed", "program=%s error=\"%s\"", spec->argv[0],
                     strerror(e));
        cp_watch_lock_release(h, lock, err, sizeof err);
        _exit(1);
    }
    snprintf(line, sizeof line, "ok %ld %ld %s\n", (long)self, (long)child, handle);
    write_all(report_fd, line);
    close(report_fd);
    cp_log_info("watch.train.started",
                "pid=%ld wrapper_pid=%ld handle=%s lease_ms=%" PRId64 " lock=%s", (long)child,
                (long)self, handle, cp_watch_lock_lease_ms(lock), cp_watch_lock_file(lock));

    int64_t lease_ms = cp_watch_lock_lease_ms(lock);
    int64_t every = lease_ms / 3 > 0 ? lease_ms / 3 : 1;
    int64_t next_renew = cp_watch_now_ms() + every;
    int64_t kill_at = 0; /* when SIGKILL follows a SIGTERM */
    bool lost = false, stopping = false;
    int status = 0;
    for (;;) {
        pid_t w = waitpid(child, &status, WNOHANG);
        if (w == child)
            break;
        if (w < 0 && errno != EINTR) {
            cp_log_error("watch.train.wait_failed", "error=\"%s\"", strerror(errno));
            status = -1;
            break;
        }
        int64_t now = cp_watch_now_ms();
        if (g_stop && !stopping) {
            cp_log_warn("watch.train.stop", "reason=signal pid=%ld", (long)child);
            kill(child, SIGTERM);
            stopping = true;
            kill_at = now + STOP_GRACE_MS;
        }
        if (!lost && now >= next_renew) {
            cp_watch_code_t c = cp_watch_lock_renew(h, lock, NULL, 0, NULL, err, sizeof err);
            if (c == CP_WATCH_OK) {
                next_renew = now + every;
                cp_log_debug("watch.lock.renewed", "file=%s", cp_watch_lock_file(lock));
            } else if (c == CP_WATCH_ERR_LOST) {
                /* Someone may be training already: this one must not go on. */
                lost = true;
                cp_log_error("watch.lock.lost", "error=\"%s\" action=stop_training pid=%ld", err,
                             (long)child);
                if (!stopping) {
                    kill(child, SIGTERM);
                    stopping = true;
                    kill_at = now + STOP_GRACE_MS;
                }
            } else {
                /* Retry soon; the lease still runs. */
                cp_log_warn("watch.lock.renew_failed", "error=\"%s\"", err);
                next_renew = now + 1000;
            }
        }
        if (stopping && kill_at && now >= kill_at) {
            kill(child, SIGKILL);
            kill_at = 0;
        }
        sleep_ms(100);
    }
    if (status == -1)
        cp_log_error("watch.train.exited", "pid=%ld status=unknown", (long)child);
    else if (WIFEXITED(status))
        cp_log_info("watch.train.exited", "pid=%ld status=%d", (long)child, WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        cp_log_error("watch.train.exited", "pid=%ld signal=%d", (long)child, WTERMSIG(status));
    if (!lost) {
        if (cp_watch_lock_release(h, lock, err, sizeof err) != CP_WATCH_OK)
            cp_log_error("watch.lock.release_failed", "error=\"%s\"", err);
    }
    cp_hdfs_destroy(h);
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

/* Reads the wrapper's one-line report (up to cap bytes) within timeout_ms. */
static int read_report(int fd, char *buf, size_t cap, long timeout_ms)
{
    size_t len = 0;
    int64_t end = cp_watch_now_ms() + timeout_ms;
    while (len + 1 < cap) {
        int64_t left = end - cp_watch_now_ms();
        if (left <= 0)
            return -1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int pr = poll(&p, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            return -1;
        ssize_t r = read(fd, buf + len, cap - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
        if (memchr(buf, '\n', len))
            break;
    }
    buf[len] = '\0';
    char *nl = strchr(buf, '\n');
    if (nl)
        *nl = '\0';
    return len ? 0 : -1;
}

static cp_watch_code_t local_launch(cp_watch_launcher_t *self, const cp_watch_launch_t *spec,
                                    char *handle, size_t handle_cap, char *errbuf, size_t errcap)
{
    (void)self;
    if (!spec || !spec->argv || !spec->argv[0] || !spec->log_path || !spec->lock || !handle)
        return cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_INVALID_ARG, "launch: missing argument");
    int logfd = open(spec->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (logfd < 0)
        return cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_SYSTEM, "cannot open log %s: %s",
                             spec->log_path, strerror(errno));
    int rp[2];
    if (pipe2(rp, O_CLOEXEC) != 0) {
        close(logfd);
        return cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_SYSTEM, "pipe: %s", strerror(errno));
    }
    fflush(stdout);
    fflush(stderr);
    pid_t mid = fork();
    if (mid < 0) {
        close(logfd);
        close(rp[0]);
        close(rp[1]);
        return cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_SYSTEM, "fork: %s", strerror(errno));
    }
    if (mid == 0) {
        close(rp[0]);
        setsid();
        pid_t w = fork();
        if (w != 0)
            _exit(w < 0 ? 1 : 0);
        /* The wrapper: stdin from /dev/null, stdout and stderr to the log. */
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0 && devnull != 0) {
            dup2(devnull, 0);
            close(devnull);
        }
        dup2(logfd, 1);
        dup2(logfd, 2);
        close(logfd);
        close_others(rp[1], -1);
        umask(022);
        run_wrapper(spec, rp[1]);
    }
    close(rp[1]);
    close(logfd);
    int st;
    while (waitpid(mid, &st, 0) < 0 && errno == EINTR)
        ;
    char line[1024];
    int rr = read_report(rp[0], line, sizeof line, LAUNCH_REPORT_TIMEOUT_MS);
    close(rp[0]);
    if (rr != 0)
        return cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_SYSTEM,
                             "the training wrapper did not report (see %s)", spec->log_path);
    if (strncmp(line, "ok ", 3) != 0)
        return cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_SYSTEM, "%s",
                             strncmp(line, "err ", 4) == 0 ? line + 4 : line);
    long wpid = 0, tpid = 0;
    int off = 0;
    if (sscanf(line + 3, "%ld %ld %n", &wpid, &tpid, &off) < 2 || off <= 0)
        return cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_SYSTEM, "bad wrapper report '%s'", line);
    snprintf(handle, handle_cap, "%s", line + 3 + off);
    cp_log_info("watch.launch.local", "wrapper_pid=%ld train_pid=%ld log=%s", wpid, tpid,
                spec->log_path);
    return CP_WATCH_OK;
}

static cp_watch_code_t local_is_running(cp_watch_launcher_t *self, const char *handle,
                                        bool *running, char *errbuf, size_t errcap)
{
    (void)self;
    if (!handle || !running || strncmp(handle, "local:", 6) != 0)
        return cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_INVALID_ARG,
                             "not a local launcher handle: '%s'", handle ? handle : "");
    /* local:<host>:<pid>:<start> (the host has no ':' of its own) */
    const char *p = handle + 6;
    const char *c1 = strchr(p, ':');
    char host[CP_WATCH_HOST_MAX], me[CP_WATCH_HOST_MAX];
    long pid;
    long long start;
    if (!c1 || (size_t)(c1 - p) >= sizeof host || sscanf(c1 + 1, "%ld:%lld", &pid, &start) != 2)
        return cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_INVALID_ARG, "bad handle '%s'", handle);
    memcpy(host, p, (size_t)(c1 - p));
    host[c1 - p] = '\0';
    cp_watch_hostname(me, sizeof me);
    if (strcmp(host, me) != 0)
        return cp_watch_fail(errbuf, errcap, CP_WATCH_ERR_INVALID_ARG,
                             "handle '%s' is on another host", handle);
    char state = '?';
    long long now_start = proc_start_time(pid, &state);
    *running = now_start == start && state != 'Z' && state != 'X';
    return CP_WATCH_OK;
}

static void local_destroy(cp_watch_launcher_t *self)
{
    free(self);
}

cp_watch_launcher_t *cp_watch_launcher_local_new(void)
{
    cp_watch_launcher_t *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->name = "local";
    l->launch = local_launch;
    l->is_running = local_is_running;
    l->destroy = local_destroy;
    return l;
}

void cp_watch_launcher_destroy(cp_watch_launcher_t *l)
{
    if (l && l->destroy)
        l->destroy(l);
}
