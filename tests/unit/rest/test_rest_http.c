/* The HTTP layer against a local fake server: retries, limits, timeouts,
 * refused connections, auth, streamed files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "carprice/http.h"
#include "carprice/log.h"
#include "fake_server.h"
#include "rest_internal.h"

typedef struct {
    atomic_int hits;
    atomic_int flaky;
    char auth[256];
    char last_body[256];
    size_t last_len;
} server_state_t;

static void handler(void *ud, const fake_req_t *req, fake_resp_t *resp)
{
    server_state_t *s = ud;
    atomic_fetch_add(&s->hits, 1);
    const char *auth = fake_header(req, "Authorization");
    snprintf(s->auth, sizeof s->auth, "%s", auth ? auth : "");
    if (strcmp(req->path, "/ok") == 0) {
        fake_reply(resp, 200, "{\"ok\":true}");
    } else if (strcmp(req->path, "/flaky") == 0) {
        /* 500, 503, then success. */
        int n = atomic_fetch_add(&s->flaky, 1);
        if (n < 2)
            fake_reply(resp, n == 0 ? 500 : 503, "{\"error_code\":\"INTERNAL_ERROR\"}");
        else
            fake_reply(resp, 200, "{\"ok\":true}");
    } else if (strcmp(req->path, "/always500") == 0) {
        fake_reply(resp, 500, "oops");
    } else if (strcmp(req->path, "/missing") == 0) {
        fake_reply(resp, 404, "{\"error_code\":\"RESOURCE_DOES_NOT_EXIST\",\"message\":\"no\"}");
    } else if (strcmp(req->path, "/big") == 0) {
        size_t n = 3u << 20;
        resp->body = malloc(n);
        memset(resp->body, 'a', n);
        resp->body_len = n;
    } else if (strcmp(req->path, "/slow") == 0) {
        resp->delay_ms = 1500;
        fake_reply(resp, 200, "{}");
    } else if (strcmp(req->path, "/echo") == 0) {
        size_t n =
            req->body_len < sizeof s->last_body - 1 ? req->body_len : sizeof s->last_body - 1;
        memcpy(s->last_body, req->body, n);
        s->last_body[n] = '\0';
        s->last_len = req->body_len;
        resp->status = 201;
        resp->body = malloc(req->body_len + 1);
        memcpy(resp->body, req->body, req->body_len);
        resp->body_len = req->body_len;
    } else if (strcmp(req->path, "/empty") == 0) {
        resp->status = 200;
    } else if (strcmp(req->path, "/redirect") == 0) {
        resp->status = 307;
        snprintf(resp->location, sizeof resp->location, "http://elsewhere:1/x?op=CREATE");
    } else {
        fake_reply(resp, 404, "no route");
    }
}

typedef struct {
    fake_server_t *srv;
    server_state_t st;
    cp_http_t *h;
    cp_rest_error_t *err;
} fixture_t;

static cp_http_t *client(const char *url, long timeout_ms)
{
    cp_http_options_t o;
    cp_http_options_init(&o);
    o.max_retries = 3;
    o.backoff_base_ms = 20;
    o.backoff_max_ms = 100;
    o.timeout_ms = timeout_ms;
    o.connect_timeout_ms = 2000;
    o.max_body_bytes = 1u << 20;
    cp_http_t *h;
    assert_int_equal(cp_http_new(url, &o, &h, NULL), CP_REST_OK);
    return h;
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    f->srv = fake_start(handler, &f->st);
    assert_non_null(f->srv);
    f->h = client(fake_url(f->srv), 500);
    f->err = cp_rest_error_new();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    cp_http_destroy(f->h);
    fake_stop(f->srv);
    cp_rest_error_destroy(f->err);
    free(f);
    return 0;
}

static void ok_request(void **state)
{
    fixture_t *f = *state;
    cp_http_response_t r;
    cp_http_request_t req = {.url = "/ok"};
    assert_int_equal(cp_http_do(f->h, &req, &r, f->err), CP_REST_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "{\"ok\":true}");
    assert_int_equal(r.attempts, 1);
    cp_http_response_free(&r);
}

static void retries_5xx_then_succeeds(void **state)
{
    fixture_t *f = *state;
    cp_http_response_t r;
    cp_http_request_t req = {.method = "POST",
                             .url = "/flaky",
                             .body = "{}",
                             .body_len = 2,
                             .content_type = "application/json"};
    assert_int_equal(cp_http_do(f->h, &req, &r, f->err), CP_REST_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.attempts, 3);
    assert_int_equal(atomic_load(&f->st.hits), 3);
    cp_http_response_free(&r);
}

static void gives_up_after_max_retries(void **state)
{
    fixture_t *f = *state;
    cp_http_response_t r;
    cp_http_request_t req = {.url = "/always500"};
    assert_int_equal(cp_http_do(f->h, &req, &r, f->err), CP_REST_OK);
    assert_int_equal(r.status, 500);
    assert_int_equal(r.attempts, 4); /* 1 + max_retries */
    assert_int_equal(atomic_load(&f->st.hits), 4);
    assert_int_equal(cp_http_status_error(r.status, r.body.data, f->err, "t"), CP_REST_ERR_SERVER);
    assert_true(cp_rest_error_retriable(f->err));
    assert_non_null(strstr(cp_rest_error_message(f->err), "oops"));
    cp_http_response_free(&r);
}

static void no_retry_flag_and_4xx_are_sent_once(void **state)
{
    fixture_t *f = *state;
    cp_http_response_t r;
    cp_http_request_t req = {.url = "/always500", .no_retry = true};
    assert_int_equal(cp_http_do(f->h, &req, &r, f->err), CP_REST_OK);
    assert_int_equal(r.attempts, 1);
    cp_http_response_free(&r);
    cp_http_request_t req2 = {.url = "/missing"};
    assert_int_equal(cp_http_do(f->h, &req2, &r, f->err), CP_REST_OK);
    assert_int_equal(r.status, 404);
    assert_int_equal(r.attempts, 1);
    assert_int_equal(atomic_load(&f->st.hits), 2);
    cp_http_response_free(&r);
}

static void oversized_body_is_refused(void **state)
{
    fixture_t *f = *state;
    cp_http_response_t r;
    cp_http_request_t req = {.url = "/big"};
    assert_int_equal(cp_http_do(f->h, &req, &r, f->err), CP_REST_ERR_LIMIT);
    assert_non_null(strstr(cp_rest_error_message(f->err), "limit"));
    assert_int_equal(r.attempts, 1); /* not retried */
    assert_true(r.body.len <= (1u << 20));
    cp_http_response_free(&r);
    /* A per-request cap can raise it. */
    cp_http_request_t req2 = {.url = "/big", .max_body_bytes = 4u << 20};
    assert_int_equal(cp_http_do(f->h, &req2, &r, f->err), CP_REST_OK);
    assert_int_equal(r.body.len, 3u << 20);
    cp_http_response_free(&r);
}

static void slow_server_times_out_without_retry(void **state)
{
    fixture_t *f = *state;
    cp_http_response_t r;
    cp_http_request_t req = {.url = "/slow"};
    double t0 = cp_rest_mono_ms();
    assert_int_equal(cp_http_do(f->h, &req, &r, f->err), CP_REST_ERR_TIMEOUT);
    double ms = cp_rest_mono_ms() - t0;
    assert_true(ms >= 400 && ms < 1400);
    assert_int_equal(r.attempts, 1);
    assert_true(cp_rest_error_retriable(f->err));
    assert_int_equal(cp_rest_error_http_status(f->err), 0);
    cp_http_response_free(&r);
}

static void refused_connection_is_retried_with_backoff(void **state)
{
    (void)state;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", fake_closed_port());
    cp_http_t *h = client(url, 500);
    cp_rest_error_t *err = cp_rest_error_new();
    cp_http_response_t r;
    cp_http_request_t req = {.method = "POST", .url = "/x", .no_retry = true};
    double t0 = cp_rest_mono_ms();
    assert_int_equal(cp_http_do(h, &req, &r, err), CP_REST_ERR_CONNECT);
    double ms = cp_rest_mono_ms() - t0;
    /* Nothing was sent, so even a no_retry request is tried again: 3 waits of
     * at least 10, 20 and 40 ms (half of 20, 40, 80 with jitter). */
    assert_int_equal(r.attempts, 4);
    assert_true(ms >= 70);
    assert_true(cp_rest_error_retriable(err));
    assert_non_null(strstr(cp_rest_error_message(err), "after retries"));
    cp_http_response_free(&r);
    cp_http_destroy(h);
    cp_rest_error_destroy(err);
}

/* Runs fn with stderr captured at debug level; returns what was logged. */
static char *capture_logs(void (*fn)(fixture_t *), fixture_t *f)
{
    char path[] = "/tmp/cp_rest_logXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    cp_log_level_t lv = cp_log_get_level();
    cp_log_set_level(CP_LOG_DEBUG);
    fn(f);
    cp_log_set_level(lv);
    dup2(saved, STDERR_FILENO);
    close(saved);
    off_t n = lseek(fd, 0, SEEK_END);
    char *text = calloc(1, (size_t)n + 1);
    assert_int_equal(pread(fd, text, (size_t)n, 0), n);
    close(fd);
    unlink(path);
    return text;
}

static void do_auth_requests(fixture_t *f)
{
    cp_http_response_t r;
    cp_http_request_t req = {.url = "/flaky"}; /* also logs a retry */
    assert_int_equal(cp_http_do(f->h, &req, &r, f->err), CP_REST_OK);
    cp_http_response_free(&r);
}

static void credentials_are_sent_and_never_logged(void **state)
{
    fixture_t *f = *state;
    cp_http_options_t o;
    cp_http_options_init(&o);
    o.backoff_base_ms = 1;
    o.bearer_token = "s3cr3t-t0ken";
    cp_http_destroy(f->h);
    assert_int_equal(cp_http_new(fake_url(f->srv), &o, &f->h, NULL), CP_REST_OK);
    char *logs = capture_logs(do_auth_requests, f);
    assert_string_equal(f->st.auth, "Bearer s3cr3t-t0ken");
    assert_non_null(strstr(logs, "event=http.retry"));
    assert_null(strstr(logs, "s3cr3t"));
    free(logs);

    /* Basic auth from the URL's user-info: moved out of the URL. */
    char url[128];
    snprintf(url, sizeof url, "http://bob:pa%%24%%24word@127.0.0.1:%d/", fake_port(f->srv));
    cp_http_destroy(f->h);
    assert_int_equal(cp_http_new(url, NULL, &f->h, NULL), CP_REST_OK);
    assert_null(strstr(cp_http_base_url(f->h), "bob"));
    assert_null(strstr(cp_http_base_url(f->h), "word"));
    char *logs2 = capture_logs(do_auth_requests, f);
    /* "bob:pa$$word" in base64 */
    assert_string_equal(f->st.auth, "Basic Ym9iOnBhJCR3b3Jk");
    assert_null(strstr(logs2, "word"));
    assert_null(strstr(logs2, "Ym9i"));
    free(logs2);
}

static void credentials_stay_off_other_hosts(void **state)
{
    fixture_t *f = *state;
    cp_http_options_t o;
    cp_http_options_init(&o);
    o.bearer_token = "tok";
    /* The base names a host; the same server reached by another name must
     * not receive the token. */
    char base[64], other[96];
    snprintf(base, sizeof base, "http://localhost:%d", fake_port(f->srv));
    snprintf(other, sizeof other, "http://127.0.0.1:%d/ok", fake_port(f->srv));
    cp_http_destroy(f->h);
    assert_int_equal(cp_http_new(base, &o, &f->h, NULL), CP_REST_OK);
    cp_http_response_t r;
    cp_http_request_t req = {.url = other};
    assert_int_equal(cp_http_do(f->h, &req, &r, f->err), CP_REST_OK);
    assert_string_equal(f->st.auth, "");
    cp_http_response_free(&r);
    cp_http_request_t req2 = {.url = "/ok", .no_auth = true};
    assert_int_equal(cp_http_do(f->h, &req2, &r, f->err), CP_REST_OK);
    assert_string_equal(f->st.auth, "");
    cp_http_response_free(&r);
    cp_http_request_t req3 = {.url = "/ok"};
    assert_int_equal(cp_http_do(f->h, &req3, &r, f->err), CP_REST_OK);
    assert_string_equal(f->st.auth, "Bearer tok");
    cp_http_response_free(&r);
}

static void redirects_are_not_followed(void **state)
{
    fixture_t *f = *state;
    cp_http_response_t r;
    cp_http_request_t req = {.method = "PUT", .url = "/redirect"};
    assert_int_equal(cp_http_do(f->h, &req, &r, f->err), CP_REST_OK);
    assert_int_equal(r.status, 307);
    assert_string_equal(r.location, "http://elsewhere:1/x?op=CREATE");
    cp_http_response_free(&r);
}

static void files_stream_both_ways(void **state)
{
    fixture_t *f = *state;
    char dir[] = "/tmp/cp_rest_filesXXXXXX";
    assert_non_null(mkdtemp(dir));
    char src[128], dst[128];
    snprintf(src, sizeof src, "%s/in.bin", dir);
    snprintf(dst, sizeof dst, "%s/out.bin", dir);
    FILE *fp = fopen(src, "wb");
    for (int i = 0; i < 100000; i++)
        fputc(i * 7 & 0xff, fp);
    fclose(fp);
    cp_http_response_t r;
    cp_http_request_t req = {
        .method = "PUT", .url = "/echo", .upload_path = src, .download_path = dst};
    assert_int_equal(cp_http_do(f->h, &req, &r, f->err), CP_REST_OK);
    assert_int_equal(r.status, 201);
    assert_int_equal(f->st.last_len, 100000);
    assert_int_equal(r.body.len, 0); /* went to the file */
    cp_http_response_free(&r);
    struct stat st;
    assert_int_equal(stat(dst, &st), 0);
    assert_int_equal(st.st_size, 100000);
    fp = fopen(dst, "rb");
    for (int i = 0; i < 100000; i++)
        assert_int_equal(fgetc(fp), i * 7 & 0xff);
    fclose(fp);
    unlink(dst);

    /* An empty 200 body makes an empty file. */
    cp_http_request_t req2 = {.url = "/empty", .download_path = dst};
    assert_int_equal(cp_http_do(f->h, &req2, &r, f->err), CP_REST_OK);
    assert_int_equal(stat(dst, &st), 0);
    assert_int_equal(st.st_size, 0);
    cp_http_response_free(&r);
    unlink(dst);

    /* An error answer leaves no file (not even a temporary one) and keeps
     * the body for the message. */
    cp_http_request_t req3 = {.url = "/missing", .download_path = dst};
    assert_int_equal(cp_http_do(f->h, &req3, &r, f->err), CP_REST_OK);
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(r.body.data, "RESOURCE_DOES_NOT_EXIST"));
    assert_int_equal(stat(dst, &st), -1);
    cp_http_response_free(&r);

    /* A missing upload file is a local error. */
    cp_http_request_t req4 = {.method = "PUT", .url = "/echo", .upload_path = "/nonexistent/x"};
    assert_int_equal(cp_http_do(f->h, &req4, &r, f->err), CP_REST_ERR_IO);
    cp_http_response_free(&r);
    unlink(src);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "ls -A %s | wc -l", dir);
    FILE *ls = popen(cmd, "r");
    int left = -1;
    assert_int_equal(fscanf(ls, "%d", &left), 1);
    pclose(ls);
    assert_int_equal(left, 0);
    rmdir(dir);
}

static void bad_arguments(void **state)
{
    fixture_t *f = *state;
    cp_http_t *h;
    assert_int_equal(cp_http_new("ftp://x", NULL, &h, f->err), CP_REST_ERR_INVALID_ARG);
    assert_int_equal(cp_http_new("", NULL, &h, f->err), CP_REST_ERR_INVALID_ARG);
    cp_http_response_t r;
    cp_http_request_t req = {.url = "relative"};
    assert_int_equal(cp_http_do(f->h, &req, &r, f->err), CP_REST_ERR_INVALID_ARG);
    cp_http_response_free(&r);
    cp_http_destroy(NULL);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(ok_request),
        T(retries_5xx_then_succeeds),
        T(gives_up_after_max_retries),
        T(no_retry_flag_and_4xx_are_sent_once),
        T(oversized_body_is_refused),
        T(slow_server_times_out_without_retry),
        cmocka_unit_test(refused_connection_is_retried_with_backoff),
        T(credentials_are_sent_and_never_logged),
        T(credentials_stay_off_other_hosts),
        T(redirects_are_not_followed),
        T(files_stream_both_ways),
        T(bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
