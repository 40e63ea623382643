/* The libcurl transport shared by the REST clients: one easy handle per
 * client (so connections are reused), bounded bodies, retries with backoff. */
#include "rest_internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "carprice/log.h"

/* Error bodies that arrive while we stream to a file are kept for the message
 * only; beyond this they are cut, not failed. */
#define ERROR_BODY_CAP (64 * 1024)
#define LOCATION_CAP   8192

struct cp_http_s {
    CURL *curl;
    char *base; /* scheme://host[:port][/prefix], no credentials, no trailing '/' */
    cp_http_options_t o;
    char *username;
    char *password;
    char *bearer_header; /* "Authorization: Bearer ..." */
    char *ca_file;
    char *user_agent;
    uint64_t rng;
};

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static CURLcode g_curl_init_rc = CURLE_OK;

static void curl_init_once(void)
{
    g_curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

void cp_http_options_init(cp_http_options_t *o)
{
    memset(o, 0, sizeof *o);
    o->connect_timeout_ms = 10000;
    o->timeout_ms = 120000;
    o->max_retries = 4;
    o->backoff_base_ms = 250;
    o->backoff_max_ms = 8000;
    o->max_body_bytes = 16u << 20;
    o->max_download_bytes = (int64_t)16 << 30;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Splits credentials out of the URL and normalises it. */
static cp_rest_code_t parse_base(cp_http_t *h, const char *url, cp_rest_error_t *err)
{
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG,
                            "base URL must start with http:// or https:// (got a URL of %zu "
                            "bytes with another scheme)",
                            strlen(url));
    CURLU *u = curl_url();
    if (!u)
        return cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
    cp_rest_code_t rc = CP_REST_OK;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
        curl_url_cleanup(u);
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "base URL is not a valid URL");
    }
    char *user = NULL, *pass = NULL, *full = NULL;
    if (curl_url_get(u, CURLUPART_USER, &user, CURLU_URLDECODE) == CURLUE_OK && user && *user &&
        !h->username) {
        h->username = strdup(user);
        if (curl_url_get(u, CURLUPART_PASSWORD, &pass, CURLU_URLDECODE) == CURLUE_OK && pass)
            h->password = strdup(pass);
    }
    curl_url_set(u, CURLUPART_USER, NULL, 0);
    curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
    curl_url_set(u, CURLUPART_QUERY, NULL, 0);
    curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
    if (curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK || !full) {
        rc = cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "base URL is not a valid URL");
    } else {
        size_t n = strlen(full);
        while (n > 0 && full[n - 1] == '/')
            n--;
        h->base = strndup(full, n);
        if (!h->base)
            rc = cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
    }
    curl_free(user);
    curl_free(pass);
    curl_free(full);
    curl_url_cleanup(u);
    return rc;
}

cp_rest_code_t cp_http_new(const char *base_url, const cp_http_options_t *opts, cp_http_t **out,
                           cp_rest_error_t *err)
{
    if (!out)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "cp_http_new: out is NULL");
    *out = NULL;
    if (!base_url || !*base_url)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "cp_http_new: base URL is empty");
    pthread_once(&g_curl_once, curl_init_once);
    if (g_curl_init_rc != CURLE_OK)
        return cp_rest_fail(err, CP_REST_ERR_TRANSPORT, "libcurl initialisation failed: %s",
                            curl_easy_strerror(g_curl_init_rc));
    cp_http_t *h = calloc(1, sizeof *h);
    if (!h)
        return cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
    if (opts)
        h->o = *opts;
    else
        cp_http_options_init(&h->o);
    cp_http_options_t d;
    cp_http_options_init(&d);
    if (h->o.max_body_bytes == 0)
        h->o.max_body_bytes = d.max_body_bytes;
    if (h->o.max_download_bytes <= 0)
        h->o.max_download_bytes = d.max_download_bytes;
    if (h->o.max_retries < 0)
        h->o.max_retries = 0;
    bool nomem = false;
    if (h->o.username && *h->o.username) {
        h->username = strdup(h->o.username);
        h->password = strdup(h->o.password ? h->o.password : "");
        nomem |= !h->username || !h->password;
    }
    cp_rest_code_t rc = parse_base(h, base_url, err);
    if (rc != CP_REST_OK) {
        cp_http_destroy(h);
        return rc;
    }
    if (!h->username && h->o.bearer_token && *h->o.bearer_token) {
        size_t n = strlen(h->o.bearer_token) + 32;
        h->bearer_header = malloc(n);
        if (h->bearer_header)
            snprintf(h->bearer_header, n, "Authorization: Bearer %s", h->o.bearer_token);
        nomem |= !h->bearer_header;
    }
    h->ca_file = dup_or_null(h->o.ca_file);
    nomem |= h->o.ca_file && !h->ca_file;
    h->user_agent = strdup(h->o.user_agent ? h->o.user_agent : "carprice-rest/1");
    nomem |= !h->user_agent;
    /* The copies own the strings now; the options point at them (the caller's
     * may go away). Secrets are reachable only through the fields above. */
    h->o.username = h->username;
    h->o.password = NULL;
    h->o.bearer_token = NULL;
    h->o.ca_file = h->ca_file;
    h->o.user_agent = h->user_agent;
    h->curl = curl_easy_init();
    if (nomem || !h->curl) {
        cp_http_destroy(h);
        return cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
    }
    h->rng = (uint64_t)cp_rest_now_ms() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)h;
    *out = h;
    return CP_REST_OK;
}

static void free_secret(char *s)
{
    if (s) {
        /* Do not leave credentials in freed heap memory. */
        volatile char *p = s;
        while (*p)
            *p++ = 0;
        free(s);
    }
}

void cp_http_destroy(cp_http_t *h)
{
    if (!h)
        return;
    if (h->curl)
        curl_easy_cleanup(h->curl);
    free(h->base);
    free(h->username);
    free_secret(h->password);
    free_secret(h->bearer_header);
    free(h->ca_file);
    free(h->user_agent);
    free(h);
}

const char *cp_http_base_url(const cp_http_t *h)
{
    return h ? h->base : "";
}

const cp_http_options_t *cp_http_options(const cp_http_t *h)
{
    return &h->o;
}

void cp_http_response_free(cp_http_response_t *resp)
{
    if (!resp)
        return;
    cp_buf_free(&resp->body);
    free(resp->location);
    resp->location = NULL;
}

/* ---- escaping ---- */

static char *escape(const char *s, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = malloc(n * 3 + 1);
    if (!out)
        return NULL;
    char *o = out;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = '\0';
    return out;
}

char *cp_http_escape_path(const char *path)
{
    return escape(path ? path : "", true);
}

char *cp_http_escape_query(const char *value)
{
    return escape(value ? value : "", false);
}

/* Copies url into dst with the values of secret-looking query parameters
 * replaced, so URLs can be logged. */
static void redact_url(char *dst, size_t cap, const char *url)
{
    static const char *const secret[] = {"token",     "delegation", "password", "secret",
                                         "signature", "sig",        "key"};
    size_t n = 0;
    const char *q = strchr(url, '?');
    size_t head = q ? (size_t)(q - url) + 1 : strlen(url);
    for (size_t i = 0; i < head && n + 1 < cap; i++)
        dst[n++] = url[i];
    const char *p = q ? q + 1 : NULL;
    while (p && *p && n + 1 < cap) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t klen = eq ? (size_t)(eq - p) : len;
        bool hide = false;
        for (size_t i = 0; i < sizeof secret / sizeof secret[0] && eq; i++) {
            size_t sl = strlen(secret[i]);
            for (size_t j = 0; j + sl <= klen && !hide; j++)
                hide = strncasecmp(p + j, secret[i], sl) == 0;
        }
        size_t copy = hide ? klen + 1 : len;
        for (size_t i = 0; i < copy && n + 1 < cap; i++)
            dst[n++] = p[i];
        if (hide)
            for (const char *r = "***"; *r && n + 1 < cap; r++)
                dst[n++] = *r;
        if (amp && n + 1 < cap)
            dst[n++] = '&';
        p = amp ? amp + 1 : NULL;
    }
    dst[n] = '\0';
}

/* ---- one transfer ---- */

enum { XFER_OK = 0, XFER_LIMIT, XFER_IO, XFER_NOMEM };

typedef struct {
    cp_http_t *h;
    const cp_http_request_t *req;
    cp_http_response_t *resp;
    /* request body */
    FILE *in;
    size_t in_pos;
    /* response body */
    bool decided;
    FILE *out;
    char *tmp_path;
    int fail;
    char fail_detail[256];
} xfer_t;

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud)
{
    xfer_t *x = ud;
    size_t n = size * nmemb;
    if (!x->decided) {
        long status = 0;
        curl_easy_getinfo(x->h->curl, CURLINFO_RESPONSE_CODE, &status);
        x->decided = true;
        if (x->req->download_path && status >= 200 && status < 300) {
            size_t plen = strlen(x->req->download_path) + 48;
            x->tmp_path = malloc(plen);
            if (!x->tmp_path) {
                x->fail = XFER_NOMEM;
                return 0;
            }
            snprintf(x->tmp_path, plen, "%s.part-%ld-%04x", x->req->download_path, (long)getpid(),
                     (unsigned)(x->h->rng & 0xffff));
            x->out = fopen(x->tmp_path, "wb");
            if (!x->out) {
                x->fail = XFER_IO;
                snprintf(x->fail_detail, sizeof x->fail_detail, "cannot create %s: %s", x->tmp_path,
                         strerror(errno));
                free(x->tmp_path);
                x->tmp_path = NULL;
                return 0;
            }
        } else if (x->req->download_path) {
            x->resp->body.limit = ERROR_BODY_CAP;
        }
    }
    x->resp->bytes += (int64_t)n;
    if (x->out) {
        if (x->resp->bytes > x->h->o.max_download_bytes) {
            x->fail = XFER_LIMIT;
            snprintf(x->fail_detail, sizeof x->fail_detail,
                     "download exceeds the limit of %lld bytes",
                     (long long)x->h->o.max_download_bytes);
            return 0;
        }
        if (fwrite(data, 1, n, x->out) != n) {
            x->fail = XFER_IO;
            snprintf(x->fail_detail, sizeof x->fail_detail, "cannot write %s: %s", x->tmp_path,
                     strerror(errno));
            return 0;
        }
        return n;
    }
    if (cp_buf_append(&x->resp->body, data, n) != 0) {
        if (x->req->download_path)
            return n; /* an error body: keep its start only */
        if (x->resp->body.len + n > x->resp->body.limit) {
            x->fail = XFER_LIMIT;
            snprintf(x->fail_detail, sizeof x->fail_detail,
                     "response body exceeds the limit of %zu bytes", x->resp->body.limit);
        } else {
            x->fail = XFER_NOMEM;
        }
        return 0;
    }
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    xfer_t *x = ud;
    size_t n = size * nmemb;
    if (n > 9 && strncasecmp(data, "location:", 9) == 0 && n < LOCATION_CAP) {
        const char *v = data + 9;
        size_t len = n - 9;
        while (len && (*v == ' ' || *v == '\t')) {
            v++;
            len--;
        }
        while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
            len--;
        free(x->resp->location);
        x->resp->location = strndup(v, len);
    }
    return n;
}

static size_t on_read(char *dst, size_t size, size_t nmemb, void *ud)
{
    xfer_t *x = ud;
    size_t cap = size * nmemb;
    if (x->in) {
        size_t got = fread(dst, 1, cap, x->in);
        if (got == 0 && ferror(x->in)) {
            x->fail = XFER_IO;
            snprintf(x->fail_detail, sizeof x->fail_detail, "cannot read %s: %s",
                     x->req->upload_path, strerror(errno));
            return CURL_READFUNC_ABORT;
        }
        return got;
    }
    size_t left = x->req->body_len - x->in_pos;
    size_t n = left < cap ? left : cap;
    if (n)
        memcpy(dst, (const char *)x->req->body + x->in_pos, n);
    x->in_pos += n;
    return n;
}

static int on_seek(void *ud, curl_off_t offset, int origin)
{
    xfer_t *x = ud;
    if (origin != SEEK_SET)
        return CURL_SEEKFUNC_CANTSEEK;
    if (x->in)
        return fseeko(x->in, (off_t)offset, SEEK_SET) == 0 ? CURL_SEEKFUNC_OK : CURL_SEEKFUNC_FAIL;
    if ((size_t)offset > x->req->body_len)
        return CURL_SEEKFUNC_FAIL;
    x->in_pos = (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

static void discard_download(xfer_t *x)
{
    if (x->out) {
        fclose(x->out);
        x->out = NULL;
    }
    if (x->tmp_path) {
        unlink(x->tmp_path);
        free(x->tmp_path);
        x->tmp_path = NULL;
    }
}

static bool sends_auth(const cp_http_t *h, const cp_http_request_t *req)
{
    if (req->no_auth)
        return false;
    if (req->url[0] == '/')
        return true;
    size_t n = strlen(h->base);
    return strncmp(req->url, h->base, n) == 0 && (req->url[n] == '/' || req->url[n] == '\0');
}

static long backoff_ms(cp_http_t *h, int attempt)
{
    long d = h->o.backoff_base_ms;
    for (int i = 1; i < attempt && d < h->o.backoff_max_ms; i++)
        d *= 2;
    if (d > h->o.backoff_max_ms)
        d = h->o.backoff_max_ms;
    if (d <= 1)
        return d;
    /* xorshift64: jitter only needs to decorrelate clients, not be secret. */
    h->rng ^= h->rng << 13;
    h->rng ^= h->rng >> 7;
    h->rng ^= h->rng << 17;
    long half = d / 2;
    return half + (long)(h->rng % (uint64_t)(half + 1));
}

typedef struct {
    CURLcode cc;
    bool connected; /* the connection was made before the failure */
} attempt_result_t;

static attempt_result_t run_once(cp_http_t *h, xfer_t *x, const char *url, const char *method,
                                 int64_t upload_size, struct curl_slist *headers)
{
    CURL *c = h->curl;
    const cp_http_request_t *req = x->req;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(c, CURLOPT_USERAGENT, h->user_agent);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->o.connect_timeout_ms);
    bool streamed = req->upload_path || req->download_path;
    if (streamed && h->o.timeout_ms > 0) {
        /* Large files take as long as they take; what we bound is a stall. */
        long secs = (h->o.timeout_ms + 999) / 1000;
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, secs);
    } else if (h->o.timeout_ms > 0) {
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->o.timeout_ms);
    }
    if (h->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
    if (h->o.insecure_skip_tls) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (sends_auth(h, req) && h->username) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERNAME, h->username);
        curl_easy_setopt(c, CURLOPT_PASSWORD, h->password);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
    if (req->download_path)
        curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)h->o.max_download_bytes);
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else {
        /* Every other verb carries a body, possibly empty, with a length. */
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, x);
        curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(c, CURLOPT_SEEKDATA, x);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)upload_size);
    }
    attempt_result_t r;
    r.cc = curl_easy_perform(c);
    curl_off_t connect_us = 0;
    curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &connect_us);
    r.connected = connect_us > 0;
    if (r.cc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &x->resp->status);
    return r;
}

/* Maps a failed transfer to a code; sets *retry when it is a connection
 * problem worth another attempt. */
static cp_rest_code_t classify(const xfer_t *x, attempt_result_t r, bool *retry, bool *nothing_sent)
{
    *retry = false;
    *nothing_sent = false;
    switch (x->fail) {
    case XFER_LIMIT:
        return CP_REST_ERR_LIMIT;
    case XFER_IO:
        return CP_REST_ERR_IO;
    case XFER_NOMEM:
        return CP_REST_ERR_NOMEM;
    default:
        break;
    }
    switch (r.cc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        *retry = true;
        *nothing_sent = true;
        return CP_REST_ERR_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        /* A connect timeout sent nothing; a slow answer is not retried, since
         * waiting again would only double the wait. */
        *retry = !r.connected;
        *nothing_sent = !r.connected;
        return CP_REST_ERR_TIMEOUT;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        *retry = true;
        return CP_REST_ERR_CONNECT;
    case CURLE_FILESIZE_EXCEEDED:
        return CP_REST_ERR_LIMIT;
    case CURLE_OUT_OF_MEMORY:
        return CP_REST_ERR_NOMEM;
    case CURLE_READ_ERROR:
        return CP_REST_ERR_IO;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return CP_REST_ERR_INVALID_ARG;
    default:
        return CP_REST_ERR_TRANSPORT;
    }
}

cp_rest_code_t cp_http_do(cp_http_t *h, const cp_http_request_t *req, cp_http_response_t *resp,
                          cp_rest_error_t *err)
{
    if (resp) {
        memset(resp, 0, sizeof *resp);
        cp_buf_init(&resp->body, h ? h->o.max_body_bytes : 0);
    }
    if (!h || !req || !req->url || !resp)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "cp_http_do: missing argument");
    const char *method = req->method ? req->method : "GET";
    bool absolute = strncmp(req->url, "http://", 7) == 0 || strncmp(req->url, "https://", 8) == 0;
    if (!absolute && req->url[0] != '/')
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG,
                            "request URL must be absolute or start with '/'");
    if (req->upload_path && req->body)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "request has both body and upload file");

    cp_buf_t url;
    cp_buf_init(&url, 1 << 20);
    if (absolute ? cp_buf_append(&url, req->url, strlen(req->url))
                 : cp_buf_printf(&url, "%s%s", h->base, req->url)) {
        cp_buf_free(&url);
        return cp_rest_fail(err, CP_REST_ERR_LIMIT, "request URL too long");
    }
    char logurl[512];
    redact_url(logurl, sizeof logurl, url.data);

    struct curl_slist *headers = NULL, *tmp;
    char ct[256];
    bool nomem = false;
#define ADD_HEADER(s)                                                                              \
    do {                                                                                           \
        tmp = curl_slist_append(headers, (s));                                                     \
        if (tmp)                                                                                   \
            headers = tmp;                                                                         \
        else                                                                                       \
            nomem = true;                                                                          \
    } while (0)
    ADD_HEADER("Expect:"); /* no 100-continue round trip before bodies */
    if (req->content_type) {
        snprintf(ct, sizeof ct, "Content-Type: %s", req->content_type);
        ADD_HEADER(ct);
    }
    if (h->bearer_header && sends_auth(h, req))
        ADD_HEADER(h->bearer_header);
#undef ADD_HEADER
    if (nomem) {
        curl_slist_free_all(headers);
        cp_buf_free(&url);
        return cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
    }

    int64_t upload_size = (int64_t)req->body_len;
    xfer_t x = {.h = h, .req = req, .resp = resp};
    cp_rest_code_t rc = CP_REST_OK;
    double t0 = cp_rest_mono_ms();
    if (req->upload_path) {
        x.in = fopen(req->upload_path, "rb");
        struct stat st;
        if (!x.in || fstat(fileno(x.in), &st) != 0 || !S_ISREG(st.st_mode)) {
            rc = cp_rest_fail(err, CP_REST_ERR_IO, "cannot read %s: %s", req->upload_path,
                              x.in ? "not a regular file" : strerror(errno));
            goto done;
        }
        upload_size = (int64_t)st.st_size;
    }

    for (int attempt = 1;; attempt++) {
        resp->attempts = attempt;
        resp->status = 0;
        resp->bytes = 0;
        cp_buf_reset(&resp->body);
        resp->body.limit = req->max_body_bytes ? req->max_body_bytes : h->o.max_body_bytes;
        free(resp->location);
        resp->location = NULL;
        x.decided = false;
        x.fail = XFER_OK;
        x.fail_detail[0] = '\0';
        x.in_pos = 0;
        if (x.in)
            rewind(x.in);
        double ta = cp_rest_mono_ms();
        attempt_result_t r = run_once(h, &x, url.data, method, upload_size, headers);
        double ms = cp_rest_mono_ms() - ta;
        bool can_retry = attempt <= h->o.max_retries;
        if (r.cc == CURLE_OK && x.fail == XFER_OK) {
            cp_log_debug("http.request", "method=%s url=\"%s\" status=%ld ms=%.1f bytes=%lld",
                         method, logurl, resp->status, ms, (long long)resp->bytes);
            if (resp->status >= 500 && resp->status <= 599 && can_retry && !req->no_retry) {
                long wait = backoff_ms(h, attempt);
                cp_log_warn("http.retry", "method=%s url=\"%s\" attempt=%d status=%ld wait_ms=%ld",
                            method, logurl, attempt, resp->status, wait);
                discard_download(&x);
                cp_rest_sleep_ms(wait);
                continue;
            }
            rc = CP_REST_OK;
            if (req->download_path && !x.out && resp->status >= 200 && resp->status < 300) {
                /* An empty body never reached on_write: the file is empty. */
                char z = 0;
                if (on_write(&z, 1, 0, &x) != 0 || x.fail != XFER_OK) {
                    rc =
                        cp_rest_fail(err, x.fail == XFER_NOMEM ? CP_REST_ERR_NOMEM : CP_REST_ERR_IO,
                                     "%s", x.fail_detail[0] ? x.fail_detail : "out of memory");
                    discard_download(&x);
                    goto done;
                }
            }
            if (x.out) {
                bool ok = fflush(x.out) == 0 && fsync(fileno(x.out)) == 0;
                ok &= fclose(x.out) == 0;
                x.out = NULL;
                if (!ok || rename(x.tmp_path, req->download_path) != 0) {
                    rc = cp_rest_fail(err, CP_REST_ERR_IO, "cannot write %s: %s",
                                      req->download_path, strerror(errno));
                    discard_download(&x);
                    goto done;
                }
                free(x.tmp_path);
                x.tmp_path = NULL;
            }
            break;
        }
        discard_download(&x);
        bool retry, nothing_sent;
        rc = classify(&x, r, &retry, &nothing_sent);
        const char *why = x.fail_detail[0] ? x.fail_detail : curl_easy_strerror(r.cc);
        if (retry && can_retry && (!req->no_retry || nothing_sent)) {
            long wait = backoff_ms(h, attempt);
            cp_log_warn("http.retry", "method=%s url=\"%s\" attempt=%d error=\"%s\" wait_ms=%ld",
                        method, logurl, attempt, why, wait);
            cp_rest_sleep_ms(wait);
            continue;
        }
        cp_log_debug("http.fail", "method=%s url=\"%s\" attempt=%d error=\"%s\"", method, logurl,
                     attempt, why);
        cp_rest_fail(err, rc, "%s %s: %s%s", method, logurl, why,
                     attempt > 1 ? " (after retries)" : "");
        cp_rest_error_detail(err, 0, NULL, NULL,
                             rc == CP_REST_ERR_CONNECT || rc == CP_REST_ERR_TIMEOUT ||
                                 rc == CP_REST_ERR_TRANSPORT);
        break;
    }
done:
    resp->total_ms = cp_rest_mono_ms() - t0;
    if (!resp->body.data)
        cp_buf_append(&resp->body, "", 0);
    if (x.in)
        fclose(x.in);
    curl_slist_free_all(headers);
    cp_buf_free(&url);
    return rc;
}

cp_rest_code_t cp_http_status_error(long status, const char *body, cp_rest_error_t *err,
                                    const char *what)
{
    cp_rest_code_t code;
    if (status == 400 || status == 422)
        code = CP_REST_ERR_BAD_REQUEST;
    else if (status == 401 || status == 403)
        code = CP_REST_ERR_AUTH;
    else if (status == 404)
        code = CP_REST_ERR_NOT_FOUND;
    else if (status == 409)
        code = CP_REST_ERR_EXISTS;
    else if (status >= 500 && status <= 599)
        code = CP_REST_ERR_SERVER;
    else
        code = CP_REST_ERR_HTTP;
    char start[201];
    cp_rest_printable(start, sizeof start, body, 200);
    cp_rest_fail(err, code, "%s: HTTP %ld%s%s", what, status, start[0] ? ": " : "", start);
    cp_rest_error_detail(err, status, NULL, NULL, code == CP_REST_ERR_SERVER || status == 429);
    return code;
}
