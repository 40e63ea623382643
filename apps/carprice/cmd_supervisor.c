/* carprice supervisor: runs `carprice serve` instances and rolls out new
 * model versions without a gap (include/carprice/rollout.h, docs/watchers.md). */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "carprice/rollout.h"
#include "commands.h"

static void on_signal(int sig)
{
    (void)sig;
    cp_supervisor_request_stop();
}

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: carprice supervisor --state-dir DIR [--control-port P] [--version NAME/VERSION]\n"
        "                           [--initial-offsets S] [--ready-timeout S] [--stop-timeout S]\n"
        "                           [--query-prefix P] [--carprice PATH] [-- SERVE-ARGS...]\n"
        "\n"
        "Runs `carprice serve` and replaces the served model version on request the way a\n"
        "Kubernetes rolling update with maxUnavailable: 0 does: the new instance starts\n"
        "with its own checkpoint where the old one last committed, and the old one gets\n"
        "SIGTERM only once the new one answers /readyz (else the rollout is aborted and the\n"
        "old one keeps serving). A crashed instance is restarted from its checkpoint with\n"
        "backoff. The serving version, its checkpoint and the rollout history live in\n"
        "DIR/state.json, so a restarted supervisor serves the same version from the same\n"
        "checkpoint. SIGTERM or SIGINT stops every instance gracefully.\n"
        "\n"
        "Control API on 127.0.0.1:P:\n"
        "  GET  /status                       JSON: current version, instances, last rollout,\n"
        "                                     history\n"
        "  POST /rollout?version=NAME/VERSION start a rollout (202; 200 when it already\n"
        "                                     serves; 409 while one runs; 400 bad version)\n"
        "\n"
        "  --state-dir DIR       state.json, instances/<id>/checkpoint and serve.log (required)\n"
        "  --control-port P      control API port (default $CARPRICE_SUPERVISOR_PORT, else\n"
        "                        8090; 0 picks a free one and logs it)\n"
        "  --version V           version to serve when DIR holds no state (NAME/VERSION)\n"
        "  --initial-offsets S   --starting-offsets of the first instance (serve's default\n"
        "                        when absent)\n"
        "  --ready-timeout S     a new instance must be ready within S seconds (default 300)\n"
        "  --stop-timeout S      SIGTERM -> exit bound of an instance before SIGKILL (default\n"
        "                        60)\n"
        "  --query-prefix P      query names are P_<instance id> (default carprice_serve)\n"
        "  --carprice PATH       the program run as `PATH serve` (default this program)\n"
        "  -- SERVE-ARGS         more `carprice serve` flags (topics, --sql-dir, ...); not\n"
        "                        --model, --checkpoint-dir, --http-port, --starting-offsets,\n"
        "                        --query-name, which the supervisor sets\n"
        "\n"
        "Exit status: 0 after a graceful stop; 1 when it cannot start or an instance had to\n"
        "be killed; 2 on bad flags.\n");
}

static int parse_secs(const char *opt, const char *s, long *ms)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > 86400) {
        fprintf(stderr, "carprice supervisor: %s needs seconds in 1 .. 86400, not '%s'\n", opt, s);
        return -1;
    }
    *ms = v * 1000;
    return 0;
}

int cmd_supervisor(int argc, char **argv)
{
    cp_supervisor_opts_t o;
    cp_supervisor_opts_init(&o);
    const char *port_s = getenv("CARPRICE_SUPERVISOR_PORT");
    if (!port_s || !*port_s)
        port_s = "8090";
    static char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        o.carprice = self;
    }
    int i;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool hv = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        if (!hv) {
            fprintf(stderr, "carprice supervisor: unknown option or missing value '%s'\n", a);
            return 2;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--state-dir"))
            o.state_dir = v;
        else if (!strcmp(a, "--control-port"))
            port_s = v;
        else if (!strcmp(a, "--version"))
            o.version = v;
        else if (!strcmp(a, "--initial-offsets"))
            o.initial_offsets = v;
        else if (!strcmp(a, "--query-prefix"))
            o.query_prefix = v;
        else if (!strcmp(a, "--carprice"))
            o.carprice = v;
        else if (!strcmp(a, "--ready-timeout")) {
            if (parse_secs(a, v, &o.ready_timeout_ms) != 0)
                return 2;
        } else if (!strcmp(a, "--stop-timeout")) {
            if (parse_secs(a, v, &o.stop_timeout_ms) != 0)
                return 2;
        } else {
            fprintf(stderr, "carprice supervisor: unknown option '%s'\n", a);
            return 2;
        }
    }
    static const char *const reserved[] = {
        "--model",      "--model-path",       "--checkpoint-dir", "--http-port",
        "--query-name", "--starting-offsets", "--show-offsets",   NULL};
    for (int k = i; k < argc; k++)
        for (const char *const *r = reserved; *r; r++)
            if (!strcmp(argv[k], *r)) {
                fprintf(stderr, "carprice supervisor: %s is set by the supervisor, not after --\n",
                        *r);
                return 2;
            }
    o.serve_args = (const char *const *)(argv + i);
    if (!o.state_dir || !*o.state_dir) {
        fprintf(stderr, "carprice supervisor: --state-dir is required\n");
        return 2;
    }
    if (!o.carprice) {
        fprintf(stderr, "carprice supervisor: cannot find this program; give --carprice PATH\n");
        return 2;
    }
    char *end;
    errno = 0;
    long port = strtol(port_s, &end, 10);
    if (errno || end == port_s || *end || port < 0 || port > 65535) {
        fprintf(stderr, "carprice supervisor: --control-port needs 0 .. 65535, not '%s'\n", port_s);
        return 2;
    }
    o.control_port = (int)port;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    char err[1024];
    if (cp_supervisor_run(&o, err, sizeof err) != 0) {
        fprintf(stderr, "carprice supervisor: %s\n", err);
        return 1;
    }
    return 0;
}
