/* The health and metrics HTTP server of carprice serve (see httpd.h). */
#define _GNU_SOURCE
#include "httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS      32
#define READ_DEADLINE  5.0 /* seconds to send the request head */
#define WRITE_DEADLINE 5.0 /* seconds to take the response */
#define MAX_BODY       (1u << 20)

typedef struct {
    int fd; /* -1: free slot */
    char in[CP_HTTPD_MAX_REQUEST];
    size_t in_len;
    char *out; /* response being written, NULL while reading */
    size_t out_len, out_off;
    double deadline;
} conn_t;

struct cp_httpd_s {
    int listen_fd;
    int wake[2]; /* a byte on wake[1] stops the thread */
    int port;
    cp_httpd_handler_fn fn;
    void *opaque;
    pthread_t thread;
    conn_t conns[MAX_CONNS];
};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The end of the line starting at p (pointing at '\n'), or NULL. */
static const char *line_end(const char *p, const char *end)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    return nl;
}

int cp_httpd_parse(const char *buf, size_t len, char *method, size_t method_len, char *path,
                   size_t path_len)
{
    const char *end = buf + len;
    const char *eol = line_end(buf, end);
    if (!eol)
        return len >= CP_HTTPD_MAX_REQUEST ? -1 : 0;
    const char *le = eol > buf && eol[-1] == '\r' ? eol - 1 : eol;
    /* method SP target SP HTTP/1.x */
    const char *p = buf;
    while (p < le && is_tchar(*p))
        p++;
    size_t mlen = (size_t)(p - buf);
    if (mlen == 0 || mlen >= method_len || p >= le || *p != ' ')
        return -1;
    const char *target = ++p;
    while (p<le && * p> ' ' && *p < 0x7f)
        p++;
    size_t tlen = (size_t)(p - target);
    if (tlen == 0 || *target != '/' || p >= le || *p != ' ')
        return -1;
    p++;
    if (le - p != 8 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1'))
        return -1;
    /* Header lines up to an empty line; each must be "name: value". */
    const char *line = eol + 1;
    for (;;) {
        if (line >= end)
            return len >= CP_HTTPD_MAX_REQUEST ? -1 : 0;
        eol = line_end(line, end);
        if (!eol)
            return len >= CP_HTTPD_MAX_REQUEST ? -1 : 0;
        le = eol > line && eol[-1] == '\r' ? eol - 1 : eol;
        if (le == line)
            break;
        const char *q = line;
        while (q < le && is_tchar(*q))
            q++;
        if (q == line || q >= le || *q != ':')
            return -1;
        for (const char *c = q + 1; c < le; c++)
            if ((unsigned char)*c < ' ' && *c != '\t')
                return -1;
        line = eol + 1;
    }
    size_t plen = strcspn(target, "? ");
    if (plen > tlen)
        plen = tlen;
    if (plen >= path_len)
        return -1;
    memcpy(method, buf, mlen);
    method[mlen] = '\0';
    memcpy(path, target, plen);
    path[plen] = '\0';
    return 1;
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Unknown";
    }
}

/* Builds the full response into c->out. */
static void respond(conn_t *c, int status, const char *ctype, const char *body, size_t body_len,
                    bool head)
{
    cp_buf_t b;
    cp_buf_init(&b, MAX_BODY + 1024);
    if (cp_buf_printf(&b,
                      "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                      "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
                      status, reason_phrase(status), ctype ? ctype : "text/plain; charset=utf-8",
                      body_len) != 0 ||
        (!head && cp_buf_append(&b, body, body_len) != 0)) {
        cp_buf_free(&b);
        static const char oom[] = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
                                  "Connection: close\r\n\r\n";
        c->out = strdup(oom);
        c->out_len = c->out ? sizeof oom - 1 : 0;
    } else {
        c->out_len = b.len;
        c->out = cp_buf_steal(&b);
    }
    c->out_off = 0;
    c->deadline = mono_s() + WRITE_DEADLINE;
}

static void respond_text(conn_t *c, int status, const char *text)
{
    respond(c, status, NULL, text, strlen(text), false);
}

static void handle(cp_httpd_t *h, conn_t *c)
{
    char method[16], path[1024];
    int rc = cp_httpd_parse(c->in, c->in_len, method, sizeof method, path, sizeof path);
    if (rc == 0)
        return;
    if (rc < 0) {
        respond_text(c, 400, "bad request\n");
        return;
    }
    bool head = strcmp(method, "HEAD") == 0;
    if (!head && strcmp(method, "GET") != 0) {
        respond_text(c, 405, "only GET and HEAD\n");
        return;
    }
    cp_buf_t body;
    cp_buf_init(&body, MAX_BODY);
    const char *ctype = NULL;
    int status = h->fn(path, &body, &ctype, h->opaque);
    respond(c, status, ctype, body.data ? body.data : "", body.len, head);
    cp_buf_free(&body);
}

static void conn_close(conn_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->out);
    c->fd = -1;
    c->out = NULL;
    c->in_len = c->out_len = c->out_off = 0;
}

static void accept_all(cp_httpd_t *h)
{
    for (;;) {
        int fd = accept4(h->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        conn_t *slot = NULL;
        for (int i = 0; i < MAX_CONNS && !slot; i++)
            if (h->conns[i].fd < 0)
                slot = &h->conns[i];
        if (!slot) { /* full: shed the newcomer rather than an active one */
            close(fd);
            continue;
        }
        slot->fd = fd;
        slot->in_len = 0;
        slot->deadline = mono_s() + READ_DEADLINE;
    }
}

static void on_readable(cp_httpd_t *h, conn_t *c)
{
    ssize_t n = read(c->fd, c->in + c->in_len, sizeof c->in - c->in_len);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        conn_close(c);
        return;
    }
    if (n < 0)
        return;
    c->in_len += (size_t)n;
    handle(h, c);
}

static void on_writable(conn_t *c)
{
    ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        conn_close(c);
        return;
    }
    c->out_off += (size_t)n;
    if (c->out_off == c->out_len) {
        shutdown(c->fd, SHUT_WR);
        conn_close(c);
    }
}

static void *server_main(void *arg)
{
    cp_httpd_t *h = arg;
    struct pollfd pfd[MAX_CONNS + 2];
    int idx[MAX_CONNS + 2];
    for (;;) {
        size_t n = 0;
        pfd[n++] = (struct pollfd){.fd = h->wake[0], .events = POLLIN};
        pfd[n++] = (struct pollfd){.fd = h->listen_fd, .events = POLLIN};
        for (int i = 0; i < MAX_CONNS; i++) {
            conn_t *c = &h->conns[i];
            if (c->fd < 0)
                continue;
            idx[n] = i;
            pfd[n++] = (struct pollfd){.fd = c->fd, .events = c->out ? POLLOUT : POLLIN};
        }
        int rc = poll(pfd, n, 250);
        if (rc < 0 && errno != EINTR)
            break;
        if (pfd[0].revents)
            break;
        if (pfd[1].revents & POLLIN)
            accept_all(h);
        for (size_t k = 2; k < n && rc > 0; k++) {
            conn_t *c = &h->conns[idx[k]];
            if (c->fd != pfd[k].fd)
                continue;
            if (pfd[k].revents & (POLLERR | POLLNVAL)) {
                conn_close(c);
            } else if (c->out && (pfd[k].revents & (POLLOUT | POLLHUP))) {
                on_writable(c);
            } else if (!c->out && (pfd[k].revents & (POLLIN | POLLHUP))) {
                on_readable(h, c);
                if (c->fd >= 0 && c->out)
                    on_writable(c);
            }
        }
        double now = mono_s();
        for (int i = 0; i < MAX_CONNS; i++) {
            conn_t *c = &h->conns[i];
            if (c->fd < 0 || now < c->deadline)
                continue;
            if (!c->out && c->in_len > 0) { /* slow client: tell it, once */
                respond_text(c, 408, "request timeout\n");
                on_writable(c);
                if (c->fd >= 0 && c->out)
                    conn_close(c);
            } else {
                conn_close(c);
            }
        }
    }
    return NULL;
}

int cp_httpd_start(int port, cp_httpd_handler_fn fn, void *opaque, cp_httpd_t **out, char *errbuf,
                   size_t errlen)
{
    *out = NULL;
    if (port < 0 || port > 65535 || !fn) {
        snprintf(errbuf, errlen, "http: bad port %d", port);
        return -1;
    }
    cp_httpd_t *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(errbuf, errlen, "http: out of memory");
        return -1;
    }
    h->fn = fn;
    h->opaque = opaque;
    h->wake[0] = h->wake[1] = -1;
    for (int i = 0; i < MAX_CONNS; i++)
        h->conns[i].fd = -1;
    h->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (h->listen_fd < 0 ||
        setsockopt(h->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(h->listen_fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(h->listen_fd, 64) != 0 ||
        getsockname(h->listen_fd, (struct sockaddr *)&a, &alen) != 0) {
        snprintf(errbuf, errlen, "http: cannot listen on 127.0.0.1:%d: %s", port, strerror(errno));
        goto fail;
    }
    h->port = ntohs(a.sin_port);
    if (pipe2(h->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        snprintf(errbuf, errlen, "http: pipe: %s", strerror(errno));
        goto fail;
    }
    if (pthread_create(&h->thread, NULL, server_main, h) != 0) {
        snprintf(errbuf, errlen, "http: cannot start its thread");
        goto fail;
    }
    *out = h;
    return 0;
fail:
    if (h->listen_fd >= 0)
        close(h->listen_fd);
    if (h->wake[0] >= 0) {
        close(h->wake[0]);
        close(h->wake[1]);
    }
    free(h);
    return -1;
}

int cp_httpd_port(const cp_httpd_t *h)
{
    return h ? h->port : 0;
}

void cp_httpd_stop(cp_httpd_t *h)
{
    if (!h)
        return;
    ssize_t w;
    do
        w = write(h->wake[1], "x", 1);
    while (w < 0 && errno == EINTR);
    pthread_join(h->thread, NULL);
    for (int i = 0; i < MAX_CONNS; i++)
        conn_close(&h->conns[i]);
    close(h->listen_fd);
    close(h->wake[0]);
    close(h->wake[1]);
    free(h);
}
