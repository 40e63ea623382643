/* Helpers for the Arrow reader tests: fixture loading and a small builder of
 * Arrow IPC streams, so tests can hand-craft both valid and broken messages.
 *
 * The builder writes FlatBuffers front to back: a table's vtable just before
 * it, every field in an 8-byte slot, and children after their parent (uoffsets
 * only point forward). Real writers lay things out differently; a reader that
 * follows offsets must not care. */
#ifndef ARROW_TEST_UTIL_H
#define ARROW_TEST_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ bytes */

typedef struct {
    uint8_t *p;
    size_t n;
    size_t cap;
} bytes_t;

static inline size_t bt_put(bytes_t *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p)
            abort();
        b->cap = cap;
    }
    size_t at = b->n;
    if (src)
        memcpy(b->p + at, src, n);
    else
        memset(b->p + at, 0, n);
    b->n += n;
    return at;
}

static inline void bt_pad(bytes_t *b, size_t align)
{
    while (b->n % align)
        bt_put(b, "", 1);
}

static inline void bt_set(bytes_t *b, size_t at, uint64_t v, size_t width)
{
    for (size_t i = 0; i < width; i++)
        b->p[at + i] = (uint8_t)(v >> (8 * i));
}

static inline size_t bt_le(bytes_t *b, uint64_t v, size_t width)
{
    size_t at = bt_put(b, NULL, width);
    bt_set(b, at, v, width);
    return at;
}

static inline uint32_t bt_get32(const bytes_t *b, size_t at)
{
    return (uint32_t)b->p[at] | (uint32_t)b->p[at + 1] << 8 | (uint32_t)b->p[at + 2] << 16 |
           (uint32_t)b->p[at + 3] << 24;
}

static inline void bt_free(bytes_t *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* Reads tests/unit/sparkconnect_arrow/fixtures/<name>; aborts when missing. */
static inline bytes_t load_fixture(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", FIXTURE_DIR, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open fixture %s\n", path);
        abort();
    }
    bytes_t b = {0};
    uint8_t buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        bt_put(&b, buf, n);
    fclose(f);
    return b;
}

/* ------------------------------------------------------------- FlatBuffers */

/* A table whose field i (bit i of `present`) sits in slot i. */
static inline size_t fbw_table(bytes_t *b, unsigned nfields, unsigned present)
{
    bt_pad(b, 4);
    size_t vt = b->n;
    bt_le(b, 4 + 2 * nfields, 2);
    bt_le(b, 4 + 8 * nfields, 2);
    for (unsigned i = 0; i < nfields; i++)
        bt_le(b, (present >> i) & 1 ? 4 + 8 * i : 0, 2);
    bt_pad(b, 4);
    size_t t = b->n;
    bt_le(b, t - vt, 4);
    bt_put(b, NULL, 8 * nfields);
    return t;
}

static inline size_t fbw_slot(size_t table, unsigned i)
{
    return table + 4 + 8 * i;
}

static inline void fbw_scalar(bytes_t *b, size_t table, unsigned i, uint64_t v, size_t width)
{
    bt_set(b, fbw_slot(table, i), v, width);
}

/* Points the uoffset at `at` to `target` (which must come later). */
static inline void fbw_ref_at(bytes_t *b, size_t at, size_t target)
{
    bt_set(b, at, target - at, 4);
}

static inline void fbw_ref(bytes_t *b, size_t table, unsigned i, size_t target)
{
    fbw_ref_at(b, fbw_slot(table, i), target);
}

static inline size_t fbw_string(bytes_t *b, const char *s)
{
    bt_pad(b, 4);
    size_t at = bt_le(b, strlen(s), 4);
    bt_put(b, s, strlen(s) + 1);
    return at;
}

/* A vector of count elements of elem bytes (zeroed when data is NULL). */
static inline size_t fbw_vector(bytes_t *b, size_t count, size_t elem, const void *data)
{
    bt_pad(b, 8);
    bt_put(b, NULL, 4); /* so the elements are 8-aligned */
    size_t at = bt_le(b, count, 4);
    bt_put(b, data, count * elem);
    return at;
}

static inline size_t fbw_vec_elem(size_t vec, size_t i)
{
    return vec + 4 + 4 * i;
}

/* --------------------------------------------------------------- Arrow IPC */

enum {
    AT_NULL = 1,
    AT_INT = 2,
    AT_FLOAT = 3,
    AT_BINARY = 4,
    AT_UTF8 = 5,
    AT_BOOL = 6,
    AT_DECIMAL = 7,
    AT_DATE = 8,
    AT_TIMESTAMP = 10,
    AT_LIST = 12,
    AT_STRUCT = 13,
    AT_BINARY_VIEW = 23,
};

typedef struct tfield_s {
    const char *name;
    unsigned type;      /* AT_* or any Type union id */
    int32_t p0, p1, p2; /* Int: bits, signed; Float: precision; Decimal: precision, scale,
                           bits; Date/Timestamp: unit */
    const char *tz;     /* Timestamp */
    bool dictionary;    /* adds a DictionaryEncoding */
    bool no_type_table; /* omits the type table */
    size_t nchildren;
    const struct tfield_s *children;
} tfield_t;

static inline size_t tw_field(bytes_t *b, const tfield_t *f);

static inline size_t tw_type(bytes_t *b, const tfield_t *f)
{
    size_t t;
    switch (f->type) {
    case AT_INT:
        t = fbw_table(b, 2, 3);
        fbw_scalar(b, t, 0, (uint32_t)f->p0, 4);
        fbw_scalar(b, t, 1, f->p1 ? 1 : 0, 1);
        return t;
    case AT_FLOAT:
    case AT_DATE:
        t = fbw_table(b, 1, 1);
        fbw_scalar(b, t, 0, (uint16_t)f->p0, 2);
        return t;
    case AT_DECIMAL:
        t = fbw_table(b, 3, 7);
        fbw_scalar(b, t, 0, (uint32_t)f->p0, 4);
        fbw_scalar(b, t, 1, (uint32_t)f->p1, 4);
        fbw_scalar(b, t, 2, (uint32_t)f->p2, 4);
        return t;
    case AT_TIMESTAMP:
        t = fbw_table(b, 2, f->tz ? 3 : 1);
        fbw_scalar(b, t, 0, (uint16_t)f->p0, 2);
        if (f->tz)
            fbw_ref(b, t, 1, fbw_string(b, f->tz));
        return t;
    default:
        return fbw_table(b, 0, 0);
    }
}

static inline size_t tw_field(bytes_t *b, const tfield_t *f)
{
    unsigned present =
        1 | 2 | 4 | (f->no_type_table ? 0 : 8) | (f->dictionary ? 16 : 0) | (f->nchildren ? 32 : 0);
    size_t t = fbw_table(b, 6, present);
    fbw_scalar(b, t, 1, 1, 1);
    fbw_scalar(b, t, 2, f->type, 1);
    fbw_ref(b, t, 0, fbw_string(b, f->name));
    if (!f->no_type_table)
        fbw_ref(b, t, 3, tw_type(b, f));
    if (f->dictionary) {
        size_t d = fbw_table(b, 1, 1);
        fbw_scalar(b, d, 0, 7, 8);
        fbw_ref(b, t, 4, d);
    }
    if (f->nchildren) {
        size_t v = fbw_vector(b, f->nchildren, 4, NULL);
        fbw_ref(b, t, 5, v);
        for (size_t i = 0; i < f->nchildren; i++)
            fbw_ref_at(b, fbw_vec_elem(v, i), tw_field(b, &f->children[i]));
    }
    return t;
}

/* Starts a Message flatbuffer; returns the header slot to point at. */
static inline size_t tw_message(bytes_t *m, int version, unsigned header_type, int64_t body_len)
{
    bt_le(m, 0, 4); /* root uoffset, patched below */
    size_t msg = fbw_table(m, 4, 0xF);
    fbw_ref_at(m, 0, msg);
    fbw_scalar(m, msg, 0, (uint16_t)version, 2);
    fbw_scalar(m, msg, 1, header_type, 1);
    fbw_scalar(m, msg, 3, (uint64_t)body_len, 8);
    return fbw_slot(msg, 2);
}

/* Frames a message: continuation marker, length, metadata padded to 8, body. */
static inline void tw_frame(bytes_t *s, bytes_t *meta, const void *body, size_t body_len)
{
    bt_pad(meta, 8);
    bt_le(s, 0xFFFFFFFFu, 4);
    bt_le(s, meta->n, 4);
    bt_put(s, meta->p, meta->n);
    if (body_len)
        bt_put(s, body, body_len);
    bt_free(meta);
}

static inline void tw_schema_ex(bytes_t *s, const tfield_t *fields, size_t n, int version,
                                int endianness)
{
    bytes_t m = {0};
    size_t hdr = tw_message(&m, version, 1, 0);
    size_t sch = fbw_table(&m, 2, 3);
    fbw_ref_at(&m, hdr, sch);
    fbw_scalar(&m, sch, 0, (uint16_t)endianness, 2);
    size_t v = fbw_vector(&m, n, 4, NULL);
    fbw_ref(&m, sch, 1, v);
    for (size_t i = 0; i < n; i++)
        fbw_ref_at(&m, fbw_vec_elem(v, i), tw_field(&m, &fields[i]));
    tw_frame(s, &m, NULL, 0);
}

static inline void tw_schema(bytes_t *s, const tfield_t *fields, size_t n)
{
    tw_schema_ex(s, fields, n, 4, 0);
}

typedef struct {
    int64_t length;
    const int64_t *nodes; /* (length, null_count) pairs */
    size_t nnodes;
    const int64_t *buffers; /* (offset, length) pairs */
    size_t nbuffers;
    const void *body;
    size_t body_len;
    int64_t declared_body_len; /* -1: body_len */
    int compression;           /* -1: none, else the codec */
    int version;               /* 0: V5 */
} tbatch_t;

static inline void tw_batch(bytes_t *s, const tbatch_t *bt)
{
    bytes_t m = {0};
    int64_t declared = bt->declared_body_len != -1 ? bt->declared_body_len : (int64_t)bt->body_len;
    size_t hdr = tw_message(&m, bt->version ? bt->version : 4, 3, declared);
    size_t rb = fbw_table(&m, 4, bt->compression >= 0 ? 0xF : 0x7);
    fbw_ref_at(&m, hdr, rb);
    fbw_scalar(&m, rb, 0, (uint64_t)bt->length, 8);
    uint8_t pair[16];
    size_t nv = fbw_vector(&m, bt->nnodes, 16, NULL);
    for (size_t i = 0; i < bt->nnodes; i++) {
        for (int k = 0; k < 16; k++)
            pair[k] = (uint8_t)((uint64_t)bt->nodes[2 * i + (size_t)k / 8] >> (8 * (k % 8)));
        memcpy(m.p + nv + 4 + 16 * i, pair, 16);
    }
    fbw_ref(&m, rb, 1, nv);
    size_t bv = fbw_vector(&m, bt->nbuffers, 16, NULL);
    for (size_t i = 0; i < bt->nbuffers; i++) {
        for (int k = 0; k < 16; k++)
            pair[k] = (uint8_t)((uint64_t)bt->buffers[2 * i + (size_t)k / 8] >> (8 * (k % 8)));
        memcpy(m.p + bv + 4 + 16 * i, pair, 16);
    }
    fbw_ref(&m, rb, 2, bv);
    if (bt->compression >= 0) {
        size_t c = fbw_table(&m, 2, 3);
        fbw_scalar(&m, c, 0, (uint8_t)bt->compression, 1);
        fbw_ref(&m, rb, 3, c);
    }
    tw_frame(s, &m, bt->body, bt->body_len);
}

/* A message of any header type whose header is an empty table. */
static inline void tw_empty_message(bytes_t *s, unsigned header_type)
{
    bytes_t m = {0};
    size_t hdr = tw_message(&m, 4, header_type, 0);
    fbw_ref_at(&m, hdr, fbw_table(&m, 0, 0));
    tw_frame(s, &m, NULL, 0);
}

static inline void tw_eos(bytes_t *s)
{
    bt_le(s, 0xFFFFFFFFu, 4);
    bt_le(s, 0, 4);
}

#endif
