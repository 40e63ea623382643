/* Arrow IPC stream reader: turns the bytes of a Spark Connect ArrowBatch into
 * rows of an sc_result_t.
 *
 * Everything here reads untrusted bytes. The FlatBuffers reader checks every
 * offset against the metadata's bounds and, on the first bad one, sets a
 * sticky `bad` flag and returns defaults, so parsing code can read fields
 * straight through and check the flag once at the end of each message. Buffer
 * ranges and string offsets are checked against the message body before
 * anything is copied, so the getters in result.c can trust stored batches. */
#include "arrow_internal.h"
#include "error_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- FlatBuffers */

typedef struct {
    const uint8_t *p;
    size_t n;
    bool bad; /* sticky: set by the first out-of-bounds or inconsistent read */
} fb_t;

typedef struct {
    size_t pos;     /* start of the table (its soffset to the vtable) */
    size_t vt;      /* start of its vtable */
    size_t vt_len;  /* vtable bytes */
    size_t inl_len; /* bytes of the table's inline part */
    bool ok;        /* false when absent or malformed: every field reads as its default */
} fb_table_t;

typedef struct {
    size_t start; /* position of element 0 */
    size_t count;
} fb_vec_t;

static bool fb_has(const fb_t *b, size_t pos, size_t size)
{
    return pos <= b->n && size <= b->n - pos;
}

static fb_table_t fb_table_at(fb_t *b, size_t pos)
{
    fb_table_t t = {0};
    if (b->bad || !fb_has(b, pos, 4)) {
        b->bad = true;
        return t;
    }
    /* pos < 2^31 (metadata length is an int32), so this arithmetic cannot overflow. */
    int64_t vt = (int64_t)pos - (int64_t)sc_ld_i32(b->p + pos);
    if (vt < 0 || !fb_has(b, (size_t)vt, 4)) {
        b->bad = true;
        return t;
    }
    size_t vt_len = sc_ld_u16(b->p + vt);
    size_t inl_len = sc_ld_u16(b->p + vt + 2);
    if (vt_len < 4 || vt_len % 2 != 0 || !fb_has(b, (size_t)vt, vt_len) || inl_len < 4 ||
        !fb_has(b, pos, inl_len)) {
        b->bad = true;
        return t;
    }
    t.pos = pos;
    t.vt = (size_t)vt;
    t.vt_len = vt_len;
    t.inl_len = inl_len;
    t.ok = true;
    return t;
}

static fb_table_t fb_root(fb_t *b)
{
    if (!fb_has(b, 0, 4)) {
        b->bad = true;
        return (fb_table_t){0};
    }
    return fb_table_at(b, sc_ld_u32(b->p));
}

/* Position of field `id` (holding `size` bytes) in table t; 0 when absent. */
static size_t fb_field(fb_t *b, const fb_table_t *t, unsigned id, size_t size)
{
    if (!t->ok)
        return 0;
    size_t slot = 4 + 2 * (size_t)id;
    if (slot + 2 > t->vt_len)
        return 0;
    size_t off = sc_ld_u16(b->p + t->vt + slot);
    if (off == 0)
        return 0;
    if (off < 4 || size > t->inl_len || off > t->inl_len - size) {
        b->bad = true;
        return 0;
    }
    return t->pos + off;
}

static bool fb_present(fb_t *b, const fb_table_t *t, unsigned id)
{
    return fb_field(b, t, id, 4) != 0;
}

static unsigned fb_u8(fb_t *b, const fb_table_t *t, unsigned id, unsigned def)
{
    size_t f = fb_field(b, t, id, 1);
    return f ? b->p[f] : def;
}

static int fb_i16(fb_t *b, const fb_table_t *t, unsigned id, int def)
{
    size_t f = fb_field(b, t, id, 2);
    if (!f)
        return def;
    unsigned v = sc_ld_u16(b->p + f);
    return v < 0x8000 ? (int)v : (int)v - 0x10000;
}

static int32_t fb_i32(fb_t *b, const fb_table_t *t, unsigned id, int32_t def)
{
    size_t f = fb_field(b, t, id, 4);
    return f ? sc_ld_i32(b->p + f) : def;
}

static int64_t fb_i64(fb_t *b, const fb_table_t *t, unsigned id, int64_t def)
{
    size_t f = fb_field(b, t, id, 8);
    return f ? sc_ld_i64(b->p + f) : def;
}

/* Follows the uoffset stored at `at` (4 bytes, already bounds-checked) to an
 * object that must have at least 4 bytes; 0 when bad. */
static size_t fb_deref(fb_t *b, size_t at)
{
    size_t off = sc_ld_u32(b->p + at);
    if (off == 0 || off > b->n - at || !fb_has(b, at + off, 4)) {
        b->bad = true;
        return 0;
    }
    return at + off;
}

static fb_table_t fb_sub_table(fb_t *b, const fb_table_t *t, unsigned id)
{
    size_t f = fb_field(b, t, id, 4);
    if (!f)
        return (fb_table_t){0};
    size_t target = fb_deref(b, f);
    if (!target)
        return (fb_table_t){0};
    return fb_table_at(b, target);
}

/* A vector of `elem`-byte elements; count 0 when absent or bad. */
static fb_vec_t fb_vector(fb_t *b, const fb_table_t *t, unsigned id, size_t elem)
{
    fb_vec_t v = {0};
    size_t f = fb_field(b, t, id, 4);
    if (!f)
        return v;
    size_t target = fb_deref(b, f);
    if (!target)
        return v;
    size_t count = sc_ld_u32(b->p + target);
    if (count > (b->n - target - 4) / elem) {
        b->bad = true;
        return v;
    }
    v.start = target + 4;
    v.count = count;
    return v;
}

/* A string field; *s is NULL and *len 0 when absent or bad. */
static void fb_string(fb_t *b, const fb_table_t *t, unsigned id, const uint8_t **s, size_t *len)
{
    fb_vec_t v = fb_vector(b, t, id, 1);
    *s = v.start ? b->p + v.start : NULL;
    *len = v.count;
}

static fb_table_t fb_vec_table(fb_t *b, const fb_vec_t *v, size_t i)
{
    if (i >= v->count)
        return (fb_table_t){0};
    size_t target = fb_deref(b, v->start + 4 * i);
    if (!target)
        return (fb_table_t){0};
    return fb_table_at(b, target);
}

/* ------------------------------------------------------------- Arrow format */

/* Field ids of the tables we read (Arrow format/Schema.fbs, Message.fbs). */
enum { MSG_VERSION = 0, MSG_HEADER_TYPE = 1, MSG_HEADER = 2, MSG_BODY_LENGTH = 3 };
enum { HDR_SCHEMA = 1, HDR_DICTIONARY_BATCH = 2, HDR_RECORD_BATCH = 3 };
enum { SCHEMA_ENDIANNESS = 0, SCHEMA_FIELDS = 1 };
enum {
    FIELD_NAME = 0,
    FIELD_NULLABLE = 1,
    FIELD_TYPE_TYPE = 2,
    FIELD_TYPE = 3,
    FIELD_DICTIONARY = 4,
    FIELD_CHILDREN = 5
};
enum { RB_LENGTH = 0, RB_NODES = 1, RB_BUFFERS = 2, RB_COMPRESSION = 3 };
enum { METADATA_V4 = 3, METADATA_V5 = 4 };

/* Members of the Type union. */
enum {
    T_NULL = 1,
    T_INT,
    T_FLOAT,
    T_BINARY,
    T_UTF8,
    T_BOOL,
    T_DECIMAL,
    T_DATE,
    T_TIME,
    T_TIMESTAMP,
    T_INTERVAL,
    T_LIST,
    T_STRUCT,
    T_UNION,
    T_FIXED_SIZE_BINARY,
    T_FIXED_SIZE_LIST,
    T_MAP,
    T_DURATION,
    T_LARGE_BINARY,
    T_LARGE_UTF8,
    T_LARGE_LIST,
    T_RUN_END_ENCODED,
    T_BINARY_VIEW,
    T_UTF8_VIEW,
    T_LIST_VIEW,
    T_LARGE_LIST_VIEW
};

#define MAX_NESTING   64
#define MAX_TYPE_DESC (64 * 1024)

static const char *time_unit_name(int unit)
{
    static const char *const names[] = {"s", "ms", "us", "ns"};
    return unit >= 0 && unit <= 3 ? names[unit] : "?";
}

/* ------------------------------------------------------------------- Schema */

typedef struct {
    fb_t *b;
    int version;
    size_t budget; /* Field tables we may still visit; stops shared-subtree blowups */
    sc_error_t *err;
    const char *colname; /* top-level column being parsed, for messages */
    char *desc;          /* type description being built */
    size_t dlen;
    size_t dcap;
    bool dfull;  /* the description outgrew MAX_TYPE_DESC (or memory) */
    bool dnomem; /* ... because memory ran out */
} schema_ctx_t;

static void desc_add(schema_ctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void desc_add(schema_ctx_t *c, const char *fmt, ...)
{
    if (c->dfull)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(c->desc + c->dlen, c->dcap - c->dlen, fmt, ap);
        va_end(ap);
        if (n < 0 || c->dlen + (size_t)n >= MAX_TYPE_DESC) {
            c->dfull = true;
            c->desc[c->dlen] = '\0';
            return;
        }
        if (c->dlen + (size_t)n < c->dcap) {
            c->dlen += (size_t)n;
            return;
        }
        size_t ncap = c->dcap * 2;
        while (ncap <= c->dlen + (size_t)n)
            ncap *= 2;
        char *nd = realloc(c->desc, ncap);
        if (!nd) {
            c->dfull = true;
            c->dnomem = true;
            c->desc[c->dlen] = '\0';
            return;
        }
        c->desc = nd;
        c->dcap = ncap;
    }
}

static int clamp_name_len(size_t len)
{
    return len > 256 ? 256 : (int)len;
}

/* Walks one Field (and its children): adds its FieldNode and Buffer counts to
 * *nodes and *buffers and its description to c->desc. For a top-level field
 * (col != NULL) also fills in how the column is decoded. */
static sc_code_t walk_field(schema_ctx_t *c, const fb_table_t *field, int depth, size_t *nodes,
                            size_t *buffers, sc_column_t *col)
{
    fb_t *b = c->b;
    if (depth > MAX_NESTING)
        return sc_error_set(c->err, SC_ERR_UNSUPPORTED,
                            "Arrow schema: column '%s' nests types deeper than %d levels",
                            c->colname, MAX_NESTING);
    if (c->budget == 0)
        return sc_error_set(c->err, SC_ERR_PROTOCOL,
                            "Arrow schema: more fields than the metadata can hold (column '%s')",
                            c->colname);
    c->budget--;
    if (!field->ok)
        return sc_error_set(c->err, SC_ERR_PROTOCOL, "Arrow schema: malformed field in column '%s'",
                            c->colname);
    if (fb_present(b, field, FIELD_DICTIONARY))
        return sc_error_set(
            c->err, SC_ERR_UNSUPPORTED,
            "Arrow schema: column '%s' is dictionary-encoded, which is not supported", c->colname);

    unsigned tt = fb_u8(b, field, FIELD_TYPE_TYPE, 0);
    fb_table_t ty = fb_sub_table(b, field, FIELD_TYPE);
    fb_vec_t children = fb_vector(b, field, FIELD_CHILDREN, 4);
    size_t own_buffers = 2;
    sc_type_t st = SC_TYPE_UNSUPPORTED;
    uint8_t width = 0, unit = 0;
    int32_t precision = 0, scale = 0;
    const uint8_t *tz = NULL;
    size_t tz_len = 0;

    switch (tt) {
    case T_NULL:
        own_buffers = 0;
        st = SC_TYPE_NULL;
        desc_add(c, "null");
        break;
    case T_INT: {
        int32_t bits = fb_i32(b, &ty, 0, 0);
        bool is_signed = fb_u8(b, &ty, 1, 0) != 0;
        desc_add(c, "%sint%" PRId32, is_signed ? "" : "u", bits);
        if (is_signed) {
            static const sc_type_t by_width[] = {
                SC_TYPE_INT8,        SC_TYPE_INT16,       SC_TYPE_UNSUPPORTED, SC_TYPE_INT32,
                SC_TYPE_UNSUPPORTED, SC_TYPE_UNSUPPORTED, SC_TYPE_UNSUPPORTED, SC_TYPE_INT64};
            if (bits == 8 || bits == 16 || bits == 32 || bits == 64) {
                width = (uint8_t)(bits / 8);
                st = by_width[width - 1];
            }
        }
        break;
    }
    case T_FLOAT: {
        int prec = fb_i16(b, &ty, 0, 0);
        desc_add(c, "%s",
                 prec == 0   ? "float16"
                 : prec == 1 ? "float32"
                 : prec == 2 ? "float64"
                             : "float?");
        if (prec == 1) {
            st = SC_TYPE_FLOAT;
            width = 4;
        } else if (prec == 2) {
            st = SC_TYPE_DOUBLE;
            width = 8;
        }
        break;
    }
    case T_BINARY:
    case T_LARGE_BINARY:
    case T_UTF8:
    case T_LARGE_UTF8:
        own_buffers = 3;
        width = (tt == T_LARGE_BINARY || tt == T_LARGE_UTF8) ? 8 : 4;
        st = (tt == T_BINARY || tt == T_LARGE_BINARY) ? SC_TYPE_BINARY : SC_TYPE_STRING;
        desc_add(c, "%s%s", width == 8 ? "large_" : "", st == SC_TYPE_BINARY ? "binary" : "utf8");
        break;
    case T_BOOL:
        st = SC_TYPE_BOOL;
        desc_add(c, "bool");
        break;
    case T_DECIMAL: {
        precision = fb_i32(b, &ty, 0, 0);
        scale = fb_i32(b, &ty, 1, 0);
        int32_t bits = fb_i32(b, &ty, 2, 128);
        desc_add(c, "decimal%" PRId32 "(%" PRId32 ", %" PRId32 ")", bits, precision, scale);
        int32_t max_precision = bits == 32 ? 9 : bits == 64 ? 18 : bits == 128 ? 38 : 0;
        /* The scale bound only keeps rendering bounded; Spark's scales are 0..38. */
        if (precision >= 1 && precision <= max_precision && scale >= -100 && scale <= 100) {
            st = SC_TYPE_DECIMAL;
            width = (uint8_t)(bits / 8);
        }
        break;
    }
    case T_DATE: {
        int u = fb_i16(b, &ty, 0, SC_DATE_MILLI);
        desc_add(c, "%s",
                 u == SC_DATE_DAY     ? "date32[day]"
                 : u == SC_DATE_MILLI ? "date64[ms]"
                                      : "date?");
        if (u == SC_DATE_DAY || u == SC_DATE_MILLI) {
            st = SC_TYPE_DATE;
            unit = (uint8_t)u;
            width = u == SC_DATE_DAY ? 4 : 8;
        }
        break;
    }
    case T_TIMESTAMP: {
        int u = fb_i16(b, &ty, 0, SC_TIME_SEC);
        fb_string(b, &ty, 1, &tz, &tz_len);
        if (tz_len > 0)
            desc_add(c, "timestamp[%s, tz=%.*s]", time_unit_name(u), clamp_name_len(tz_len),
                     (const char *)tz);
        else
            desc_add(c, "timestamp[%s]", time_unit_name(u));
        if (u >= SC_TIME_SEC && u <= SC_TIME_NANO) {
            st = SC_TYPE_TIMESTAMP;
            unit = (uint8_t)u;
            width = 8;
        }
        break;
    }
    case T_TIME: {
        int u = fb_i16(b, &ty, 0, SC_TIME_MILLI);
        desc_add(c, "time%" PRId32 "[%s]", fb_i32(b, &ty, 1, 32), time_unit_name(u));
        break;
    }
    case T_INTERVAL: {
        int u = fb_i16(b, &ty, 0, 0);
        desc_add(c, "interval[%s]",
                 u == 0   ? "year_month"
                 : u == 1 ? "day_time"
                 : u == 2 ? "month_day_nano"
                          : "?");
        break;
    }
    case T_DURATION:
        desc_add(c, "duration[%s]", time_unit_name(fb_i16(b, &ty, 0, SC_TIME_MILLI)));
        break;
    case T_FIXED_SIZE_BINARY:
        desc_add(c, "fixed_size_binary(%" PRId32 ")", fb_i32(b, &ty, 0, 0));
        break;
    case T_LIST:
    case T_LARGE_LIST:
    case T_MAP:
        desc_add(c, "%s", tt == T_LIST ? "list" : tt == T_LARGE_LIST ? "large_list" : "map");
        break;
    case T_STRUCT:
        own_buffers = 1;
        desc_add(c, "struct");
        break;
    case T_FIXED_SIZE_LIST:
        own_buffers = 1;
        desc_add(c, "fixed_size_list(%" PRId32 ")", fb_i32(b, &ty, 0, 0));
        break;
    case T_UNION: {
        int mode = fb_i16(b, &ty, 0, 0);
        /* Before V5 unions also had a validity bitmap. */
        own_buffers = (mode == 1 ? 2 : 1) + (c->version < METADATA_V5 ? 1 : 0);
        desc_add(c, "%s", mode == 1 ? "dense_union" : "sparse_union");
        break;
    }
    case T_RUN_END_ENCODED:
        own_buffers = 0;
        desc_add(c, "run_end_encoded");
        break;
    case T_LIST_VIEW:
    case T_LARGE_LIST_VIEW:
        own_buffers = 3;
        desc_add(c, "%s", tt == T_LIST_VIEW ? "list_view" : "large_list_view");
        break;
    case T_BINARY_VIEW:
    case T_UTF8_VIEW:
        /* Their buffer count lives in each batch's variadicBufferCounts;
         * without it we cannot find the buffers of the columns after them. */
        return sc_error_set(c->err, SC_ERR_UNSUPPORTED,
                            "Arrow schema: column '%s' uses the %s type, which is not supported",
                            c->colname, tt == T_BINARY_VIEW ? "binary_view" : "utf8_view");
    default:
        return sc_error_set(c->err, SC_ERR_UNSUPPORTED,
                            "Arrow schema: column '%s' has unknown Arrow type id %u", c->colname,
                            tt);
    }
    if (b->bad)
        return sc_error_set(c->err, SC_ERR_PROTOCOL, "Arrow schema: malformed type of column '%s'",
                            c->colname);

    size_t n = 1, nb = own_buffers;
    if (children.count > 0) {
        desc_add(c, "<");
        for (size_t i = 0; i < children.count; i++) {
            fb_table_t child = fb_vec_table(b, &children, i);
            const uint8_t *cname;
            size_t cname_len;
            fb_string(b, &child, FIELD_NAME, &cname, &cname_len);
            desc_add(c, "%s%.*s: ", i ? ", " : "", clamp_name_len(cname_len),
                     cname ? (const char *)cname : "");
            size_t cn = 0, cb = 0;
            sc_code_t rc = walk_field(c, &child, depth + 1, &cn, &cb, NULL);
            if (rc != SC_OK)
                return rc;
            n += cn;
            nb += cb;
        }
        desc_add(c, ">");
    }
    if (b->bad)
        return sc_error_set(c->err, SC_ERR_PROTOCOL,
                            "Arrow schema: malformed child field in column '%s'", c->colname);
    *nodes += n;
    *buffers += nb;

    if (col) {
        /* Nested values of otherwise supported types are not decoded. */
        if (children.count > 0 && st != SC_TYPE_UNSUPPORTED)
            st = SC_TYPE_UNSUPPORTED;
        col->type = st;
        col->nullable = fb_u8(b, field, FIELD_NULLABLE, 0) != 0;
        col->width = width;
        col->unit = unit;
        col->precision = precision;
        col->scale = scale;
        col->timezone = malloc(tz_len + 1);
        if (!col->timezone)
            return sc_error_set(c->err, SC_ERR_NOMEM, "out of memory reading the Arrow schema");
        if (tz_len)
            memcpy(col->timezone, tz, tz_len);
        col->timezone[tz_len] = '\0';
    }
    return SC_OK;
}

void sc_schema_free(sc_schema_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->ncols; i++) {
        free(s->cols[i].name);
        free(s->cols[i].arrow_type);
        free(s->cols[i].timezone);
    }
    free(s->cols);
    memset(s, 0, sizeof *s);
}

static size_t schema_bytes(const sc_schema_t *s)
{
    size_t total = s->ncols * sizeof(sc_column_t);
    for (size_t i = 0; i < s->ncols; i++)
        total +=
            s->cols[i].name_len + strlen(s->cols[i].arrow_type) + strlen(s->cols[i].timezone) + 3;
    return total;
}

/* Parses a Schema table; `room` bounds what its column array may take. */
static sc_code_t parse_schema(fb_t *b, const fb_table_t *st, int version, size_t room,
                              sc_schema_t *out, sc_error_t *err)
{
    memset(out, 0, sizeof *out);
    int endianness = fb_i16(b, st, SCHEMA_ENDIANNESS, 0);
    fb_vec_t fields = fb_vector(b, st, SCHEMA_FIELDS, 4);
    if (b->bad)
        return sc_error_set(err, SC_ERR_PROTOCOL, "Arrow schema: malformed field list");
    if (endianness != 0)
        return sc_error_set(err, SC_ERR_UNSUPPORTED,
                            "Arrow schema: big-endian data is not supported");
    if (fields.count > room / sizeof(sc_column_t))
        return sc_error_set(err, SC_ERR_LIMIT,
                            "result exceeds its size limit: the Arrow schema has %zu columns",
                            fields.count);

    schema_ctx_t c = {.b = b, .version = version, .budget = b->n / 4 + 1, .err = err};
    c.dcap = 64;
    c.desc = malloc(c.dcap);
    out->cols = calloc(fields.count ? fields.count : 1, sizeof(sc_column_t));
    if (!c.desc || !out->cols) {
        free(c.desc);
        free(out->cols);
        out->cols = NULL;
        return sc_error_set(err, SC_ERR_NOMEM, "out of memory reading the Arrow schema");
    }

    sc_code_t rc = SC_OK;
    for (size_t i = 0; i < fields.count && rc == SC_OK; i++) {
        sc_column_t *col = &out->cols[i];
        out->ncols = i + 1; /* so sc_schema_free frees a partially filled column */
        fb_table_t f = fb_vec_table(b, &fields, i);
        const uint8_t *name;
        size_t name_len;
        fb_string(b, &f, FIELD_NAME, &name, &name_len);
        /* Our API hands out NUL-terminated names: keep what a C string can show. */
        const uint8_t *nul = name ? memchr(name, '\0', name_len) : NULL;
        if (nul)
            name_len = (size_t)(nul - name);
        col->name = malloc(name_len + 1);
        if (!col->name) {
            rc = sc_error_set(err, SC_ERR_NOMEM, "out of memory reading the Arrow schema");
            break;
        }
        if (name_len)
            memcpy(col->name, name, name_len);
        col->name[name_len] = '\0';
        col->name_len = name_len;
        col->first_node = out->nnodes;
        col->first_buffer = out->nbuffers;

        c.colname = col->name;
        c.dlen = 0;
        c.dfull = false;
        c.desc[0] = '\0';
        rc = walk_field(&c, &f, 0, &out->nnodes, &out->nbuffers, col);
        if (rc != SC_OK)
            break;
        if (c.dnomem) {
            rc = sc_error_set(err, SC_ERR_NOMEM, "out of memory reading the Arrow schema");
            break;
        }
        if (c.dfull) {
            rc = sc_error_set(err, SC_ERR_UNSUPPORTED,
                              "Arrow schema: the type of column '%s' is too large to describe",
                              col->name);
            break;
        }
        col->arrow_type = strdup(c.desc);
        if (!col->arrow_type)
            rc = sc_error_set(err, SC_ERR_NOMEM, "out of memory reading the Arrow schema");
    }
    free(c.desc);
    if (rc == SC_OK && b->bad)
        rc = sc_error_set(err, SC_ERR_PROTOCOL, "Arrow schema: malformed flatbuffer");
    if (rc != SC_OK)
        sc_schema_free(out);
    return rc;
}

/* Index of the first column where a and b differ, or a->ncols when equal.
 * Nullability is ignored: it does not change how values decode. */
static size_t schema_diff(const sc_schema_t *a, const sc_schema_t *b)
{
    size_t n = a->ncols < b->ncols ? a->ncols : b->ncols;
    for (size_t i = 0; i < n; i++) {
        const sc_column_t *x = &a->cols[i], *y = &b->cols[i];
        if (x->name_len != y->name_len || memcmp(x->name, y->name, x->name_len) != 0 ||
            x->type != y->type || strcmp(x->arrow_type, y->arrow_type) != 0)
            return i;
    }
    return a->ncols == b->ncols ? a->ncols : n;
}

/* ------------------------------------------------------------ Record batches */

typedef struct {
    size_t off; /* in the body */
    size_t len; /* bytes to copy; 0 = none */
} span_t;

typedef struct {
    span_t validity, values, data;
} col_plan_t;

static size_t pad8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

static bool add_size(size_t *total, size_t n)
{
    if (n > SIZE_MAX - 7)
        return false;
    n = pad8(n);
    if (*total > SIZE_MAX - n)
        return false;
    *total += n;
    return true;
}

/* Reads Buffer i of the batch, checked against the body. */
static bool get_buffer(const fb_t *b, const fb_vec_t *buffers, size_t i, size_t body_len, span_t *s)
{
    const uint8_t *p = b->p + buffers->start + 16 * i;
    int64_t off = sc_ld_i64(p), len = sc_ld_i64(p + 8);
    if (off < 0 || len < 0 || (uint64_t)off > body_len || (uint64_t)len > body_len - (size_t)off)
        return false;
    s->off = (size_t)off;
    s->len = (size_t)len;
    return true;
}

static int64_t load_offset(const uint8_t *p, size_t width, size_t i)
{
    return width == 4 ? sc_ld_i32(p + 4 * i) : sc_ld_i64(p + 8 * i);
}

/* Plans which bytes of the body column `col` needs, checking every range. */
static sc_code_t plan_column(const sc_column_t *col, const fb_t *b, const fb_vec_t *nodes,
                             const fb_vec_t *buffers, const uint8_t *body, size_t body_len,
                             int64_t rows, col_plan_t *plan, sc_error_t *err)
{
    memset(plan, 0, sizeof *plan);
    if (col->type == SC_TYPE_UNSUPPORTED)
        return SC_OK;
    const uint8_t *node = b->p + nodes->start + 16 * col->first_node;
    int64_t length = sc_ld_i64(node), null_count = sc_ld_i64(node + 8);
    if (length != rows)
        return sc_error_set(err, SC_ERR_PROTOCOL,
                            "Arrow record batch: column '%s' has %" PRId64
                            " values in a batch of %" PRId64 " rows",
                            col->name, length, rows);
    if (null_count < 0 || null_count > length)
        return sc_error_set(err, SC_ERR_PROTOCOL,
                            "Arrow record batch: column '%s' has a null count of %" PRId64
                            " for %" PRId64 " values",
                            col->name, null_count, length);
    if (col->type == SC_TYPE_NULL || rows == 0)
        return SC_OK;

    size_t n = (size_t)rows; /* rows <= body_len or we fail below, see bitmap check */
    size_t nbuf = (col->type == SC_TYPE_STRING || col->type == SC_TYPE_BINARY) ? 3 : 2;
    span_t bufs[3];
    for (size_t i = 0; i < nbuf; i++) {
        if (!get_buffer(b, buffers, col->first_buffer + i, body_len, &bufs[i]))
            return sc_error_set(err, SC_ERR_PROTOCOL,
                                "Arrow record batch: buffer %zu of column '%s' lies outside the "
                                "%zu-byte message body",
                                i, col->name, body_len);
    }
    size_t bitmap_bytes = n / 8 + (n % 8 != 0);
    if (null_count > 0) {
        if (bufs[0].len < bitmap_bytes)
            return sc_error_set(err, SC_ERR_PROTOCOL,
                                "Arrow record batch: validity bitmap of column '%s' has %zu bytes, "
                                "%zu rows need %zu",
                                col->name, bufs[0].len, n, bitmap_bytes);
        plan->validity = (span_t){bufs[0].off, bitmap_bytes};
    }

    size_t need;
    if (col->type == SC_TYPE_BOOL)
        need = bitmap_bytes;
    else if (nbuf == 3)
        need = n > body_len / col->width ? SIZE_MAX : (n + 1) * col->width;
    else
        need = n > body_len / col->width ? SIZE_MAX : n * col->width;
    if (bufs[1].len < need)
        return sc_error_set(err, SC_ERR_PROTOCOL,
                            "Arrow record batch: %s buffer of column '%s' is too short for %zu "
                            "rows (%zu bytes)",
                            nbuf == 3 ? "offsets" : "values", col->name, n, bufs[1].len);
    plan->values = (span_t){bufs[1].off, need};
    if (nbuf == 3) {
        const uint8_t *offs = body + bufs[1].off;
        int64_t prev = load_offset(offs, col->width, 0);
        if (prev < 0)
            return sc_error_set(err, SC_ERR_PROTOCOL,
                                "Arrow record batch: column '%s' has a negative first offset",
                                col->name);
        for (size_t i = 1; i <= n; i++) {
            int64_t cur = load_offset(offs, col->width, i);
            if (cur < prev)
                return sc_error_set(
                    err, SC_ERR_PROTOCOL,
                    "Arrow record batch: offsets of column '%s' decrease at row %zu", col->name,
                    i - 1);
            prev = cur;
        }
        if ((uint64_t)prev > bufs[2].len)
            return sc_error_set(err, SC_ERR_PROTOCOL,
                                "Arrow record batch: column '%s' refers to %" PRId64
                                " bytes of a %zu-byte data buffer",
                                col->name, prev, bufs[2].len);
        plan->data = (span_t){bufs[2].off, (size_t)prev};
    }
    return SC_OK;
}

static uint8_t *place(uint8_t **cursor, const uint8_t *body, span_t s)
{
    uint8_t *dst = *cursor;
    if (s.len)
        memcpy(dst, body + s.off, s.len);
    *cursor += pad8(s.len);
    return dst;
}

/* Decodes one RecordBatch message into a stored batch (*out NULL when it has
 * no rows). `room` is how many bytes the result may still grow by. */
static sc_code_t decode_batch(const sc_schema_t *s, fb_t *b, const fb_table_t *rb,
                              const uint8_t *body, size_t body_len, size_t room, sc_batch_t **out,
                              sc_error_t *err)
{
    *out = NULL;
    int64_t rows = fb_i64(b, rb, RB_LENGTH, 0);
    if (fb_present(b, rb, RB_COMPRESSION)) {
        fb_table_t comp = fb_sub_table(b, rb, RB_COMPRESSION);
        unsigned codec = fb_u8(b, &comp, 0, 0);
        return sc_error_set(err, SC_ERR_UNSUPPORTED,
                            "Arrow record batch is compressed (%s), which is not supported",
                            codec == 0   ? "LZ4_FRAME"
                            : codec == 1 ? "ZSTD"
                                         : "unknown codec");
    }
    fb_vec_t nodes = fb_vector(b, rb, RB_NODES, 16);
    fb_vec_t buffers = fb_vector(b, rb, RB_BUFFERS, 16);
    if (b->bad)
        return sc_error_set(err, SC_ERR_PROTOCOL, "Arrow record batch: malformed flatbuffer");
    if (rows < 0)
        return sc_error_set(err, SC_ERR_PROTOCOL, "Arrow record batch: negative row count %" PRId64,
                            rows);
    if ((uint64_t)rows > SIZE_MAX / 2)
        return sc_error_set(err, SC_ERR_LIMIT,
                            "Arrow record batch of %" PRId64 " rows is too large", rows);
    if (nodes.count != s->nnodes || buffers.count != s->nbuffers)
        return sc_error_set(err, SC_ERR_PROTOCOL,
                            "Arrow record batch has %zu field nodes and %zu buffers; its schema "
                            "needs %zu and %zu",
                            nodes.count, buffers.count, s->nnodes, s->nbuffers);

    size_t nplans = s->ncols ? s->ncols : 1;
    col_plan_t *plans = calloc(nplans, sizeof *plans);
    if (!plans)
        return sc_error_set(err, SC_ERR_NOMEM, "out of memory decoding an Arrow record batch");
    size_t head = sizeof(sc_batch_t) + s->ncols * sizeof(sc_colview_t);
    size_t total = 0;
    sc_code_t rc = SC_OK;
    if (!add_size(&total, head))
        rc = sc_error_set(err, SC_ERR_LIMIT, "Arrow record batch is too large");
    for (size_t i = 0; i < s->ncols && rc == SC_OK; i++) {
        rc = plan_column(&s->cols[i], b, &nodes, &buffers, body, body_len, rows, &plans[i], err);
        if (rc == SC_OK &&
            (!add_size(&total, plans[i].validity.len) || !add_size(&total, plans[i].values.len) ||
             !add_size(&total, plans[i].data.len)))
            rc = sc_error_set(err, SC_ERR_LIMIT, "Arrow record batch is too large");
    }
    if (rc != SC_OK || rows == 0) {
        free(plans);
        return rc;
    }
    /* The batch's slot in the result's index arrays counts too. */
    size_t accounted = total + sizeof(sc_batch_t *) + sizeof(size_t);
    if (accounted > room) {
        free(plans);
        return sc_error_set(err, SC_ERR_LIMIT,
                            "result exceeds its size limit: a record batch of %" PRId64
                            " rows needs %zu bytes, %zu remain (see sc_result_set_limit)",
                            rows, accounted, room);
    }
    sc_batch_t *batch = malloc(total);
    if (!batch) {
        free(plans);
        return sc_error_set(err, SC_ERR_NOMEM, "out of memory storing %zu bytes of Arrow data",
                            total);
    }
    batch->nrows = (size_t)rows;
    batch->bytes = accounted;
    uint8_t *cursor = (uint8_t *)batch + pad8(head);
    for (size_t i = 0; i < s->ncols; i++) {
        sc_colview_t *v = &batch->cols[i];
        v->validity = plans[i].validity.len ? place(&cursor, body, plans[i].validity) : NULL;
        v->values = plans[i].values.len ? place(&cursor, body, plans[i].values) : NULL;
        v->data = plans[i].data.len ? place(&cursor, body, plans[i].data) : NULL;
    }
    free(plans);
    *out = batch;
    return SC_OK;
}

/* ----------------------------------------------------------------- Messages */

typedef struct {
    fb_t fb; /* the Message flatbuffer */
    unsigned header_type;
    fb_table_t header;
    int version;
    const uint8_t *body;
    size_t body_len;
    size_t at; /* offset of the message in the stream, for messages */
} ipc_msg_t;

/* Reads the message at *pos. *end is set at the end of the stream (an
 * end-of-stream marker or simply no more bytes). */
static sc_code_t next_message(const uint8_t *data, size_t len, size_t *pos, ipc_msg_t *m, bool *end,
                              sc_error_t *err)
{
    size_t p = *pos;
    *end = false;
    memset(m, 0, sizeof *m);
    m->at = p;
    if (p == len) {
        *end = true;
        return SC_OK;
    }
    if (len - p < 4)
        return sc_error_set(err, SC_ERR_PROTOCOL,
                            "Arrow IPC stream truncated at byte %zu of %zu (incomplete message "
                            "prefix)",
                            p, len);
    uint32_t word = sc_ld_u32(data + p);
    p += 4;
    if (word == 0xFFFFFFFFu) { /* continuation marker; the legacy format omits it */
        if (len - p < 4)
            return sc_error_set(err, SC_ERR_PROTOCOL,
                                "Arrow IPC stream truncated at byte %zu of %zu (incomplete "
                                "message length)",
                                p, len);
        word = sc_ld_u32(data + p);
        p += 4;
    }
    if (word == 0) {
        if (p != len)
            return sc_error_set(err, SC_ERR_PROTOCOL,
                                "Arrow IPC stream has %zu bytes after its end-of-stream marker",
                                len - p);
        *pos = p;
        *end = true;
        return SC_OK;
    }
    if (word > INT32_MAX || word > len - p)
        return sc_error_set(err, SC_ERR_PROTOCOL,
                            "Arrow IPC message at byte %zu claims %" PRIu32
                            " bytes of metadata; only %zu remain",
                            m->at, word, len - p);
    m->fb = (fb_t){.p = data + p, .n = word};
    p += word;
    fb_table_t msg = fb_root(&m->fb);
    m->version = fb_i16(&m->fb, &msg, MSG_VERSION, 0);
    m->header_type = fb_u8(&m->fb, &msg, MSG_HEADER_TYPE, 0);
    m->header = fb_sub_table(&m->fb, &msg, MSG_HEADER);
    int64_t body_len = fb_i64(&m->fb, &msg, MSG_BODY_LENGTH, 0);
    if (m->fb.bad || !m->header.ok)
        return sc_error_set(err, SC_ERR_PROTOCOL,
                            "Arrow IPC message at byte %zu has malformed metadata", m->at);
    if (m->version != METADATA_V4 && m->version != METADATA_V5)
        return sc_error_set(err, SC_ERR_UNSUPPORTED,
                            "Arrow IPC message at byte %zu uses metadata version V%d; only V4 and "
                            "V5 are supported",
                            m->at, m->version + 1);
    if (body_len < 0 || (uint64_t)body_len > len - p)
        return sc_error_set(err, SC_ERR_PROTOCOL,
                            "Arrow IPC message at byte %zu claims a body of %" PRId64
                            " bytes; only %zu remain",
                            m->at, body_len, len - p);
    m->body = data + p;
    m->body_len = (size_t)body_len;
    *pos = p + (size_t)body_len;
    return SC_OK;
}

/* --------------------------------------------------------------- Appending */

static sc_code_t stage(sc_batch_t ***staged, size_t *n, size_t *cap, sc_batch_t *batch,
                       sc_error_t *err)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        sc_batch_t **nb = realloc(*staged, ncap * sizeof *nb);
        if (!nb)
            return sc_error_set(err, SC_ERR_NOMEM, "out of memory decoding Arrow data");
        *staged = nb;
        *cap = ncap;
    }
    (*staged)[(*n)++] = batch;
    return SC_OK;
}

static sc_code_t reserve_index(sc_result_t *res, size_t more, sc_error_t *err)
{
    if (res->nbatches + more <= res->cap_batches)
        return SC_OK;
    size_t ncap = res->cap_batches ? res->cap_batches : 16;
    while (ncap < res->nbatches + more)
        ncap *= 2;
    sc_batch_t **nb = realloc(res->batches, ncap * sizeof *nb);
    if (!nb)
        return sc_error_set(err, SC_ERR_NOMEM, "out of memory indexing Arrow batches");
    res->batches = nb;
    size_t *ns = realloc(res->starts, ncap * sizeof *ns);
    if (!ns)
        return sc_error_set(err, SC_ERR_NOMEM, "out of memory indexing Arrow batches");
    res->starts = ns;
    res->cap_batches = ncap;
    return SC_OK;
}

sc_code_t sc_result_append_ipc(sc_result_t *res, const uint8_t *data, size_t len, sc_error_t *err)
{
    if (!res || (!data && len))
        return sc_error_set(err, SC_ERR_INVALID_ARG, "sc_result_append_ipc: NULL argument");
    if (len == 0)
        return sc_error_set(err, SC_ERR_PROTOCOL, "empty Arrow IPC stream");

    size_t pos = 0;
    ipc_msg_t m;
    bool end;
    sc_code_t rc = next_message(data, len, &pos, &m, &end, err);
    if (rc != SC_OK)
        return rc;
    if (end)
        return sc_error_set(err, SC_ERR_PROTOCOL, "Arrow IPC stream has no schema message");
    if (m.header_type != HDR_SCHEMA)
        return sc_error_set(err, SC_ERR_PROTOCOL,
                            "Arrow IPC stream starts with message type %u, not a schema",
                            m.header_type);

    size_t limit = res->limit ? res->limit : SIZE_MAX;
    size_t used = res->bytes;
    sc_schema_t schema;
    /* A later stream's schema is only compared and freed: bound it by the cap. */
    size_t schema_room = res->has_schema ? limit : limit >= used ? limit - used : 0;
    rc = parse_schema(&m.fb, &m.header, m.version, schema_room, &schema, err);
    if (rc != SC_OK)
        return rc;
    const sc_schema_t *use = &schema;
    if (res->has_schema) {
        size_t i = schema_diff(&res->schema, &schema);
        if (i < res->schema.ncols || i < schema.ncols) {
            if (res->schema.ncols != schema.ncols)
                rc = sc_error_set(err, SC_ERR_PROTOCOL,
                                  "Arrow stream has %zu columns; earlier ones had %zu",
                                  schema.ncols, res->schema.ncols);
            else
                rc = sc_error_set(err, SC_ERR_PROTOCOL,
                                  "Arrow stream column %zu is '%s' %s; earlier streams had '%s' %s",
                                  i, schema.cols[i].name, schema.cols[i].arrow_type,
                                  res->schema.cols[i].name, res->schema.cols[i].arrow_type);
            sc_schema_free(&schema);
            return rc;
        }
        use = &res->schema;
    } else {
        size_t sb = schema_bytes(&schema);
        if (sb > limit || used > limit - sb) {
            sc_schema_free(&schema);
            return sc_error_set(err, SC_ERR_LIMIT,
                                "result exceeds its size limit of %zu bytes with its schema alone",
                                limit);
        }
        used += sb;
    }

    sc_batch_t **staged = NULL;
    size_t nstaged = 0, cap = 0, rows = 0;
    for (;;) {
        rc = next_message(data, len, &pos, &m, &end, err);
        if (rc != SC_OK || end)
            break;
        if (m.header_type == HDR_RECORD_BATCH) {
            sc_batch_t *batch;
            size_t room = limit >= used ? limit - used : 0;
            rc = decode_batch(use, &m.fb, &m.header, m.body, m.body_len, room, &batch, err);
            if (rc != SC_OK)
                break;
            if (!batch)
                continue; /* no rows: validated, nothing to keep */
            if (batch->nrows > SIZE_MAX / 2 - res->nrows - rows) {
                free(batch);
                rc = sc_error_set(err, SC_ERR_LIMIT, "result has too many rows");
                break;
            }
            rc = stage(&staged, &nstaged, &cap, batch, err);
            if (rc != SC_OK) {
                free(batch);
                break;
            }
            used += batch->bytes;
            rows += batch->nrows;
        } else if (m.header_type == HDR_SCHEMA) {
            rc = sc_error_set(err, SC_ERR_PROTOCOL,
                              "Arrow IPC stream has a second schema message at byte %zu", m.at);
            break;
        } else if (m.header_type == HDR_DICTIONARY_BATCH) {
            rc = sc_error_set(err, SC_ERR_UNSUPPORTED,
                              "Arrow IPC stream has a dictionary batch; dictionary-encoded data is "
                              "not supported");
            break;
        } else {
            rc = sc_error_set(err, SC_ERR_UNSUPPORTED,
                              "Arrow IPC message at byte %zu has type %u; only schemas and record "
                              "batches are supported",
                              m.at, m.header_type);
            break;
        }
    }
    if (rc == SC_OK)
        rc = reserve_index(res, nstaged, err);
    if (rc != SC_OK) {
        for (size_t i = 0; i < nstaged; i++)
            free(staged[i]);
        free(staged);
        sc_schema_free(&schema);
        return rc;
    }

    /* Commit: nothing below can fail. */
    if (!res->has_schema) {
        res->schema = schema;
        res->has_schema = true;
    } else {
        sc_schema_free(&schema);
    }
    for (size_t i = 0; i < nstaged; i++) {
        res->starts[res->nbatches] = res->nrows;
        res->batches[res->nbatches++] = staged[i];
        res->nrows += staged[i]->nrows;
    }
    res->bytes = used;
    free(staged);
    return SC_OK;
}
