/* sc_result_t: accessors over the batches arrow.c stored. Every stored batch
 * was range-checked when decoded, so reads here index without re-checking. */
#include "arrow_internal.h"
#include "error_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

sc_result_t *sc_result_new(void)
{
    sc_result_t *r = calloc(1, sizeof *r);
    if (r)
        r->limit = SC_RESULT_DEFAULT_LIMIT;
    return r;
}

void sc_result_destroy(sc_result_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nbatches; i++)
        free(r->batches[i]);
    free(r->batches);
    free(r->starts);
    sc_schema_free(&r->schema);
    free(r);
}

void sc_result_set_limit(sc_result_t *r, size_t max_bytes)
{
    if (r)
        r->limit = max_bytes;
}

size_t sc_result_memory_bytes(const sc_result_t *r)
{
    return r ? r->bytes : 0;
}

size_t sc_result_num_rows(const sc_result_t *r)
{
    return r ? r->nrows : 0;
}

size_t sc_result_num_cols(const sc_result_t *r)
{
    return r ? r->schema.ncols : 0;
}

static const sc_column_t *column(const sc_result_t *r, size_t col)
{
    return r && col < r->schema.ncols ? &r->schema.cols[col] : NULL;
}

const char *sc_result_col_name(const sc_result_t *r, size_t col)
{
    const sc_column_t *c = column(r, col);
    return c ? c->name : NULL;
}

sc_type_t sc_result_col_type(const sc_result_t *r, size_t col)
{
    const sc_column_t *c = column(r, col);
    return c ? c->type : SC_TYPE_UNSUPPORTED;
}

const char *sc_result_col_arrow_type(const sc_result_t *r, size_t col)
{
    const sc_column_t *c = column(r, col);
    return c ? c->arrow_type : NULL;
}

bool sc_result_col_nullable(const sc_result_t *r, size_t col)
{
    const sc_column_t *c = column(r, col);
    return c && c->nullable;
}

const char *sc_result_col_timezone(const sc_result_t *r, size_t col)
{
    const sc_column_t *c = column(r, col);
    return c && c->type == SC_TYPE_TIMESTAMP ? c->timezone : "";
}

sc_code_t sc_result_col_decimal(const sc_result_t *r, size_t col, int32_t *precision,
                                int32_t *scale, sc_error_t *err)
{
    const sc_column_t *c = column(r, col);
    if (!c || c->type != SC_TYPE_DECIMAL || !precision || !scale)
        return sc_error_set(err, SC_ERR_INVALID_ARG,
                            "sc_result_col_decimal: column %zu is not a decimal column", col);
    *precision = c->precision;
    *scale = c->scale;
    return SC_OK;
}

sc_code_t sc_result_col_index(const sc_result_t *r, const char *name, size_t *out, sc_error_t *err)
{
    if (!r || !name || !out)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "sc_result_col_index: NULL argument");
    size_t len = strlen(name);
    for (size_t i = 0; i < r->schema.ncols; i++) {
        const sc_column_t *c = &r->schema.cols[i];
        if (c->name_len == len && memcmp(c->name, name, len) == 0) {
            *out = i;
            return SC_OK;
        }
    }
    return sc_error_set(err, SC_ERR_NOT_FOUND, "result has no column named '%s'", name);
}

const char *sc_type_name(sc_type_t type)
{
    static const char *const names[] = {
        "null",   "bool",    "int8",   "int16",  "int32", "int64",     "float",
        "double", "decimal", "string", "binary", "date",  "timestamp", "unsupported",
    };
    if ((unsigned)type < sizeof names / sizeof names[0])
        return names[type];
    return "unknown";
}

/* ------------------------------------------------------------------- Cells */

typedef struct {
    const sc_column_t *col;
    const sc_colview_t *view;
    size_t i; /* row within the batch */
} cell_t;

/* Finds the batch holding `row`: the last one starting at or before it. */
static cell_t locate(const sc_result_t *r, size_t row, size_t col)
{
    size_t lo = 0, hi = r->nbatches;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->starts[mid] <= row)
            lo = mid;
        else
            hi = mid;
    }
    return (cell_t){&r->schema.cols[col], &r->batches[lo]->cols[col], row - r->starts[lo]};
}

static bool bit_set(const uint8_t *bits, size_t i)
{
    return (bits[i / 8] >> (i % 8)) & 1;
}

static bool cell_is_null(const cell_t *c)
{
    if (c->col->type == SC_TYPE_NULL)
        return true;
    if (c->col->type == SC_TYPE_UNSUPPORTED)
        return false;
    return c->view->validity && !bit_set(c->view->validity, c->i);
}

bool sc_result_is_null(const sc_result_t *r, size_t row, size_t col)
{
    if (!r || col >= r->schema.ncols || row >= r->nrows)
        return false;
    cell_t c = locate(r, row, col);
    return cell_is_null(&c);
}

/* Finds a cell that exists and is not of an unsupported type. */
static sc_code_t cell_any(const sc_result_t *r, size_t row, size_t col, cell_t *c, const char *fn,
                          sc_error_t *err)
{
    if (!r)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "%s: NULL result", fn);
    if (col >= r->schema.ncols)
        return sc_error_set(err, SC_ERR_INVALID_ARG,
                            "%s: column %zu is out of range (the result has %zu columns)", fn, col,
                            r->schema.ncols);
    if (row >= r->nrows)
        return sc_error_set(err, SC_ERR_INVALID_ARG,
                            "%s: row %zu is out of range (the result has %zu rows)", fn, row,
                            r->nrows);
    const sc_column_t *cd = &r->schema.cols[col];
    if (cd->type == SC_TYPE_UNSUPPORTED)
        return sc_error_set(err, SC_ERR_UNSUPPORTED,
                            "%s: column '%s' has Arrow type %s, which this library does not decode",
                            fn, cd->name, cd->arrow_type);
    *c = locate(r, row, col);
    return SC_OK;
}

/* As cell_any, and the column must be of type a or b and the cell not NULL. */
static sc_code_t cell_typed(const sc_result_t *r, size_t row, size_t col, sc_type_t a, sc_type_t b,
                            cell_t *c, const char *fn, sc_error_t *err)
{
    sc_code_t rc = cell_any(r, row, col, c, fn, err);
    if (rc != SC_OK)
        return rc;
    if (c->col->type != a && c->col->type != b)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "%s: column '%s' is of type %s", fn,
                            c->col->name, sc_type_name(c->col->type));
    if (cell_is_null(c))
        return sc_error_set(err, SC_ERR_INVALID_ARG, "%s: row %zu of column '%s' is NULL", fn, row,
                            c->col->name);
    return SC_OK;
}

static int64_t read_int(const cell_t *c)
{
    const uint8_t *p = c->view->values + c->i * c->col->width;
    switch (c->col->width) {
    case 1:
        return (int64_t)(p[0] ^ 0x80u) - 0x80;
    case 2:
        return (int64_t)(sc_ld_u16(p) ^ 0x8000u) - 0x8000;
    case 4:
        return sc_ld_i32(p);
    default:
        return sc_ld_i64(p);
    }
}

static double read_double(const cell_t *c)
{
    if (c->col->width == 4) {
        uint32_t bits = sc_ld_u32(c->view->values + 4 * c->i);
        float f;
        memcpy(&f, &bits, sizeof f);
        return f;
    }
    uint64_t bits = sc_ld_u64(c->view->values + 8 * c->i);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static void read_bytes(const cell_t *c, const uint8_t **ptr, size_t *len)
{
    const uint8_t *offs = c->view->values;
    int64_t a, b;
    if (c->col->width == 4) {
        a = sc_ld_i32(offs + 4 * c->i);
        b = sc_ld_i32(offs + 4 * (c->i + 1));
    } else {
        a = sc_ld_i64(offs + 8 * c->i);
        b = sc_ld_i64(offs + 8 * (c->i + 1));
    }
    /* Offsets were checked to be non-negative, non-decreasing and in range. */
    *len = (size_t)(b - a);
    *ptr = *len ? c->view->data + a : (const uint8_t *)"";
}

static sc_int128_t read_decimal(const cell_t *c)
{
    const uint8_t *p = c->view->values + c->i * c->col->width;
    sc_int128_t v;
    if (c->col->width == 16) {
        v.lo = sc_ld_u64(p);
        v.hi = sc_ld_i64(p + 8);
        return v;
    }
    int64_t x = c->col->width == 8 ? sc_ld_i64(p) : sc_ld_i32(p);
    v.lo = (uint64_t)x;
    v.hi = x < 0 ? -1 : 0;
    return v;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* The cell's value in microseconds, false when it does not fit. */
static bool read_micros(const cell_t *c, int64_t *out)
{
    int64_t v = sc_ld_i64(c->view->values + 8 * c->i);
    switch (c->col->unit) {
    case SC_TIME_SEC:
        if (v > INT64_MAX / 1000000 || v < INT64_MIN / 1000000)
            return false;
        *out = v * 1000000;
        return true;
    case SC_TIME_MILLI:
        if (v > INT64_MAX / 1000 || v < INT64_MIN / 1000)
            return false;
        *out = v * 1000;
        return true;
    case SC_TIME_MICRO:
        *out = v;
        return true;
    default:
        *out = floor_div(v, 1000);
        return true;
    }
}

static bool read_days(const cell_t *c, int32_t *out)
{
    if (c->col->unit == SC_DATE_DAY) {
        *out = sc_ld_i32(c->view->values + 4 * c->i);
        return true;
    }
    int64_t days = floor_div(sc_ld_i64(c->view->values + 8 * c->i), 86400000);
    if (days > INT32_MAX || days < INT32_MIN)
        return false;
    *out = (int32_t)days;
    return true;
}

sc_code_t sc_result_get_bool(const sc_result_t *r, size_t row, size_t col, bool *out,
                             sc_error_t *err)
{
    cell_t c;
    if (!out)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "sc_result_get_bool: NULL out");
    *out = false;
    sc_code_t rc = cell_typed(r, row, col, SC_TYPE_BOOL, SC_TYPE_BOOL, &c, __func__, err);
    if (rc == SC_OK)
        *out = bit_set(c.view->values, c.i);
    return rc;
}

sc_code_t sc_result_get_int64(const sc_result_t *r, size_t row, size_t col, int64_t *out,
                              sc_error_t *err)
{
    cell_t c;
    if (!out)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "sc_result_get_int64: NULL out");
    *out = 0;
    sc_code_t rc = cell_any(r, row, col, &c, __func__, err);
    if (rc != SC_OK)
        return rc;
    sc_type_t t = c.col->type;
    if (t != SC_TYPE_INT8 && t != SC_TYPE_INT16 && t != SC_TYPE_INT32 && t != SC_TYPE_INT64)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "%s: column '%s' is of type %s", __func__,
                            c.col->name, sc_type_name(t));
    if (cell_is_null(&c))
        return sc_error_set(err, SC_ERR_INVALID_ARG, "%s: row %zu of column '%s' is NULL", __func__,
                            row, c.col->name);
    *out = read_int(&c);
    return SC_OK;
}

sc_code_t sc_result_get_double(const sc_result_t *r, size_t row, size_t col, double *out,
                               sc_error_t *err)
{
    cell_t c;
    if (!out)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "sc_result_get_double: NULL out");
    *out = 0;
    sc_code_t rc = cell_typed(r, row, col, SC_TYPE_FLOAT, SC_TYPE_DOUBLE, &c, __func__, err);
    if (rc == SC_OK)
        *out = read_double(&c);
    return rc;
}

sc_code_t sc_result_get_string(const sc_result_t *r, size_t row, size_t col, const char **ptr,
                               size_t *len, sc_error_t *err)
{
    cell_t c;
    if (!ptr || !len)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "sc_result_get_string: NULL out");
    *ptr = NULL;
    *len = 0;
    sc_code_t rc = cell_typed(r, row, col, SC_TYPE_STRING, SC_TYPE_STRING, &c, __func__, err);
    if (rc == SC_OK) {
        const uint8_t *p;
        read_bytes(&c, &p, len);
        *ptr = (const char *)p;
    }
    return rc;
}

sc_code_t sc_result_get_binary(const sc_result_t *r, size_t row, size_t col, const uint8_t **ptr,
                               size_t *len, sc_error_t *err)
{
    cell_t c;
    if (!ptr || !len)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "sc_result_get_binary: NULL out");
    *ptr = NULL;
    *len = 0;
    sc_code_t rc = cell_typed(r, row, col, SC_TYPE_BINARY, SC_TYPE_BINARY, &c, __func__, err);
    if (rc == SC_OK)
        read_bytes(&c, ptr, len);
    return rc;
}

sc_code_t sc_result_get_date(const sc_result_t *r, size_t row, size_t col, int32_t *days,
                             sc_error_t *err)
{
    cell_t c;
    if (!days)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "sc_result_get_date: NULL out");
    *days = 0;
    sc_code_t rc = cell_typed(r, row, col, SC_TYPE_DATE, SC_TYPE_DATE, &c, __func__, err);
    if (rc == SC_OK && !read_days(&c, days))
        rc = sc_error_set(err, SC_ERR_UNSUPPORTED,
                          "%s: row %zu of column '%s' is a date out of the int32 day range",
                          __func__, row, c.col->name);
    return rc;
}

sc_code_t sc_result_get_timestamp(const sc_result_t *r, size_t row, size_t col, int64_t *micros,
                                  sc_error_t *err)
{
    cell_t c;
    if (!micros)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "sc_result_get_timestamp: NULL out");
    *micros = 0;
    sc_code_t rc = cell_typed(r, row, col, SC_TYPE_TIMESTAMP, SC_TYPE_TIMESTAMP, &c, __func__, err);
    if (rc == SC_OK && !read_micros(&c, micros)) {
        *micros = 0;
        rc = sc_error_set(err, SC_ERR_UNSUPPORTED,
                          "%s: row %zu of column '%s' does not fit in int64 microseconds", __func__,
                          row, c.col->name);
    }
    return rc;
}

sc_code_t sc_result_get_decimal(const sc_result_t *r, size_t row, size_t col, sc_decimal_t *out,
                                sc_error_t *err)
{
    cell_t c;
    if (!out)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "sc_result_get_decimal: NULL out");
    memset(out, 0, sizeof *out);
    sc_code_t rc = cell_typed(r, row, col, SC_TYPE_DECIMAL, SC_TYPE_DECIMAL, &c, __func__, err);
    if (rc == SC_OK) {
        out->unscaled = read_decimal(&c);
        out->precision = c.col->precision;
        out->scale = c.col->scale;
    }
    return rc;
}

/* ---------------------------------------------------------------- Rendering */

/* A bounded writer that always keeps buf NUL-terminated. */
typedef struct {
    char *buf;
    size_t cap;
    size_t len;
    bool truncated;
} out_t;

static void out_mem(out_t *o, const void *p, size_t n)
{
    size_t room = o->cap - 1 - o->len;
    if (n > room) {
        n = room;
        o->truncated = true;
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

static void out_str(out_t *o, const char *s)
{
    out_mem(o, s, strlen(s));
}

static void out_fmt(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void out_fmt(out_t *o, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        out_mem(o, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void out_repeat(out_t *o, char ch, size_t n)
{
    for (size_t i = 0; i < n && !o->truncated; i++)
        out_mem(o, &ch, 1);
}

/* Decimal digits of |v| into digits (at least 40 bytes), most significant
 * first and NUL-terminated; returns their count. */
static size_t int128_digits(sc_int128_t v, bool *negative, char *digits)
{
    uint64_t hi = (uint64_t)v.hi, lo = v.lo;
    *negative = v.hi < 0;
    if (*negative) { /* two's-complement negation; 2^127 stays representable unsigned */
        hi = ~hi;
        lo = ~lo + 1;
        if (lo == 0)
            hi++;
    }
    uint32_t limb[4] = {(uint32_t)(hi >> 32), (uint32_t)hi, (uint32_t)(lo >> 32), (uint32_t)lo};
    char rev[40];
    size_t n = 0;
    for (;;) {
        uint64_t rem = 0;
        bool zero = true;
        for (int k = 0; k < 4; k++) {
            uint64_t cur = rem << 32 | limb[k];
            limb[k] = (uint32_t)(cur / 10);
            rem = cur % 10;
            zero = zero && limb[k] == 0;
        }
        rev[n++] = (char)('0' + rem);
        if (zero)
            break;
    }
    for (size_t i = 0; i < n; i++)
        digits[i] = rev[n - 1 - i];
    digits[n] = '\0';
    return n;
}

static void fmt_decimal(out_t *o, sc_int128_t v, int32_t scale)
{
    char digits[41];
    bool negative;
    size_t n = int128_digits(v, &negative, digits);
    bool zero = n == 1 && digits[0] == '0';
    if (negative && !zero)
        out_str(o, "-");
    if (scale <= 0) {
        out_str(o, digits);
        if (!zero)
            out_repeat(o, '0', (size_t) - (int64_t)scale);
        return;
    }
    size_t s = (size_t)scale;
    if (n > s) {
        out_mem(o, digits, n - s);
        out_str(o, ".");
        out_str(o, digits + (n - s));
    } else {
        out_str(o, "0.");
        out_repeat(o, '0', s - n);
        out_str(o, digits);
    }
}

/* Shortest text that reads back as the same value, Spark style ("1.0"). */
static void fmt_double(out_t *o, double v, bool is_float)
{
    if (isnan(v)) {
        out_str(o, "NaN");
        return;
    }
    if (isinf(v)) {
        out_str(o, v < 0 ? "-Infinity" : "Infinity");
        return;
    }
    char tmp[40];
    for (int prec = is_float ? 6 : 15; prec <= (is_float ? 9 : 17); prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (is_float ? strtof(tmp, NULL) == (float)v : strtod(tmp, NULL) == v)
            break;
    }
    if (!strpbrk(tmp, ".en"))
        strcat(tmp, ".0");
    out_str(o, tmp);
}

/* Proleptic Gregorian calendar date of a day count since 1970-01-01. */
static void civil_from_days(int64_t days, int64_t *year, unsigned *month, unsigned *day)
{
    int64_t z = days + 719468; /* days since 0000-03-01 */
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                      /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                    /* March = 0 */
    *day = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *month = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *year = yoe + era * 400 + (*month <= 2);
}

static void fmt_date(out_t *o, int64_t days)
{
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    if (y >= 0 && y <= 9999)
        out_fmt(o, "%04" PRId64 "-%02u-%02u", y, m, d);
    else
        out_fmt(o, "%" PRId64 "-%02u-%02u", y, m, d);
}

static void fmt_timestamp(out_t *o, int64_t micros, bool zoned)
{
    const int64_t per_day = 86400000000;
    int64_t days = floor_div(micros, per_day);
    int64_t rem = micros % per_day; /* not micros - days * per_day: that overflows */
    if (rem < 0)
        rem += per_day;
    fmt_date(o, days);
    int64_t secs = rem / 1000000, frac = rem % 1000000;
    out_fmt(o, " %02d:%02d:%02d", (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
    if (frac) {
        char f[8];
        snprintf(f, sizeof f, "%06d", (int)frac);
        for (int i = 5; i > 0 && f[i] == '0'; i--)
            f[i] = '\0';
        out_fmt(o, ".%s", f);
    }
    if (zoned)
        out_str(o, "Z");
}

static sc_code_t finish(out_t *o, sc_code_t rc, const char *fn, sc_error_t *err)
{
    if (rc != SC_OK) {
        o->buf[0] = '\0';
        return rc;
    }
    if (o->truncated)
        return sc_error_set(err, SC_ERR_LIMIT, "%s: the value does not fit in %zu bytes", fn,
                            o->cap);
    return SC_OK;
}

sc_code_t sc_result_get_decimal_str(const sc_result_t *r, size_t row, size_t col, char *buf,
                                    size_t cap, sc_error_t *err)
{
    if (!buf || cap == 0)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "%s: no output buffer", __func__);
    out_t o = {buf, cap, 0, false};
    buf[0] = '\0';
    cell_t c;
    sc_code_t rc = cell_typed(r, row, col, SC_TYPE_DECIMAL, SC_TYPE_DECIMAL, &c, __func__, err);
    if (rc == SC_OK)
        fmt_decimal(&o, read_decimal(&c), c.col->scale);
    return finish(&o, rc, __func__, err);
}

sc_code_t sc_result_format_value(const sc_result_t *r, size_t row, size_t col, char *buf,
                                 size_t cap, sc_error_t *err)
{
    if (!buf || cap == 0)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "%s: no output buffer", __func__);
    out_t o = {buf, cap, 0, false};
    buf[0] = '\0';
    cell_t c;
    sc_code_t rc = cell_any(r, row, col, &c, __func__, err);
    if (rc != SC_OK)
        return finish(&o, rc, __func__, err);
    if (cell_is_null(&c)) {
        out_str(&o, "NULL");
        return finish(&o, SC_OK, __func__, err);
    }
    const uint8_t *p;
    size_t n;
    int32_t days;
    int64_t micros;
    switch (c.col->type) {
    case SC_TYPE_BOOL:
        out_str(&o, bit_set(c.view->values, c.i) ? "true" : "false");
        break;
    case SC_TYPE_INT8:
    case SC_TYPE_INT16:
    case SC_TYPE_INT32:
    case SC_TYPE_INT64:
        out_fmt(&o, "%" PRId64, read_int(&c));
        break;
    case SC_TYPE_FLOAT:
    case SC_TYPE_DOUBLE:
        fmt_double(&o, read_double(&c), c.col->type == SC_TYPE_FLOAT);
        break;
    case SC_TYPE_DECIMAL:
        fmt_decimal(&o, read_decimal(&c), c.col->scale);
        break;
    case SC_TYPE_STRING:
        read_bytes(&c, &p, &n);
        out_mem(&o, p, n);
        break;
    case SC_TYPE_BINARY:
        read_bytes(&c, &p, &n);
        out_str(&o, "0x");
        for (size_t i = 0; i < n && !o.truncated; i++)
            out_fmt(&o, "%02x", p[i]);
        break;
    case SC_TYPE_DATE:
        if (!read_days(&c, &days))
            rc = sc_error_set(err, SC_ERR_UNSUPPORTED, "%s: date out of range", __func__);
        else
            fmt_date(&o, days);
        break;
    case SC_TYPE_TIMESTAMP:
        if (!read_micros(&c, &micros))
            rc = sc_error_set(err, SC_ERR_UNSUPPORTED, "%s: timestamp out of range", __func__);
        else
            fmt_timestamp(&o, micros, c.col->timezone[0] != '\0');
        break;
    default: /* NULL and UNSUPPORTED were handled above */
        break;
    }
    return finish(&o, rc, __func__, err);
}
