#include "rest_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void cp_rest_printable(char *dst, size_t cap, const char *s, size_t max)
{
    if (!cap)
        return;
    size_t n = 0;
    for (; s && n < max && n + 1 < cap && *s; s++) {
        unsigned char c = (unsigned char)*s;
        dst[n++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    dst[n] = '\0';
}

int64_t cp_rest_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double cp_rest_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

void cp_rest_sleep_ms(long ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

cp_rest_code_t cp_rest_json_parse(const char *body, size_t len, json_t **out, cp_rest_error_t *err,
                                  const char *what)
{
    json_error_t je;
    *out = NULL;
    json_t *v = json_loadb(body ? body : "", body ? len : 0, JSON_REJECT_DUPLICATES, &je);
    if (!v || !json_is_object(v)) {
        char start[81];
        cp_rest_printable(start, sizeof start, body, len < 80 ? len : 80);
        json_decref(v);
        if (v)
            return cp_rest_fail(err, CP_REST_ERR_PROTOCOL, "%s: response is not a JSON object: %s",
                                what, start);
        return cp_rest_fail(err, CP_REST_ERR_PROTOCOL,
                            "%s: malformed JSON response (%s at byte %d): %s", what, je.text,
                            je.position, start);
    }
    *out = v;
    return CP_REST_OK;
}

const char *cp_rest_json_str(const json_t *obj, const char *key)
{
    const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

const char *cp_rest_json_str0(const json_t *obj, const char *key)
{
    const char *s = cp_rest_json_str(obj, key);
    return s ? s : "";
}

int64_t cp_rest_json_i64(const json_t *obj, const char *key, int64_t dflt)
{
    const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d >= -9.2e18 && d <= 9.2e18)
            return (int64_t)d;
        return dflt;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        long long n = strtoll(s, &end, 10);
        if (errno == 0 && end != s && *end == '\0')
            return (int64_t)n;
    }
    return dflt;
}

bool cp_rest_json_value_double(const json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return true;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strcmp(s, "NaN") == 0) {
            *out = NAN;
            return true;
        }
        if (strcmp(s, "Infinity") == 0) {
            *out = INFINITY;
            return true;
        }
        if (strcmp(s, "-Infinity") == 0) {
            *out = -INFINITY;
            return true;
        }
    }
    return false;
}

json_t *cp_rest_json_double(double v)
{
    if (isnan(v))
        return json_string("NaN");
    if (isinf(v))
        return json_string(v > 0 ? "Infinity" : "-Infinity");
    return json_real(v);
}

json_t *cp_rest_json_set_str(json_t *obj, const char *key, const char *value)
{
    if (!obj || !value)
        return obj;
    json_t *v = json_string(value);
    if (!v || json_object_set_new(obj, key, v) != 0) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

char *cp_rest_json_dump(const json_t *v)
{
    /* Jansson prints reals with 17 significant digits: they round-trip. */
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

long cp_rest_utf8_chars(const char *s)
{
    long n = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        int extra;
        unsigned min;
        if (c < 0x80) {
            extra = 0;
            min = 0;
        } else if ((c & 0xe0) == 0xc0) {
            extra = 1;
            min = 0x80;
            c &= 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            extra = 2;
            min = 0x800;
            c &= 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            extra = 3;
            min = 0x10000;
            c &= 0x07;
        } else {
            return -1;
        }
        p++;
        for (int i = 0; i < extra; i++, p++) {
            if ((*p & 0xc0) != 0x80)
                return -1;
            c = (c << 6) | (*p & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return -1;
        n++;
    }
    return n;
}

const char *cp_rest_json_kv_lookup(const json_t *arr, const char *key)
{
    size_t i;
    const json_t *e;
    const char *found = NULL;
    if (!json_is_array(arr))
        return NULL;
    json_array_foreach(arr, i, e)
    {
        const char *k = cp_rest_json_str(e, "key");
        if (k && strcmp(k, key) == 0)
            found = cp_rest_json_str0(e, "value");
    }
    return found;
}

bool cp_rest_json_kv_at(const json_t *arr, size_t i, const char **key, const char **value)
{
    const json_t *e = json_is_array(arr) ? json_array_get(arr, i) : NULL;
    if (!e)
        return false;
    *key = cp_rest_json_str0(e, "key");
    *value = cp_rest_json_str0(e, "value");
    return true;
}
