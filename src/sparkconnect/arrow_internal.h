/* Private: the Arrow IPC reader and the storage behind sc_result_t.
 *
 * Layout: each stored record batch is ONE allocation holding its header, one
 * sc_colview_t per column and then the bytes of the buffers the supported
 * columns need (validity only when the batch has nulls), copied out of the IPC
 * message. Nothing is allocated per cell. Batches without rows are not stored,
 * so `starts` (first row of each batch) is strictly increasing and a row is
 * found by binary search. */
#ifndef SPARKCONNECT_ARROW_INTERNAL_H
#define SPARKCONNECT_ARROW_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sparkconnect/error.h"
#include "sparkconnect/result.h"

/* Arrow units as the format numbers them. */
enum { SC_DATE_DAY = 0, SC_DATE_MILLI = 1 };
enum { SC_TIME_SEC = 0, SC_TIME_MILLI = 1, SC_TIME_MICRO = 2, SC_TIME_NANO = 3 };

typedef struct {
    char *name; /* NUL-terminated copy; name_len excludes the NUL */
    size_t name_len;
    char *arrow_type; /* description of the full Arrow type, also used to compare schemas */
    char *timezone;   /* "" unless a zoned timestamp; never NULL */
    sc_type_t type;
    bool nullable;
    uint8_t width; /* bytes per value; for STRING/BINARY bytes per offset (4 or 8) */
    uint8_t unit;  /* SC_DATE_* or SC_TIME_* */
    int32_t precision;
    int32_t scale;
    size_t first_node;   /* index of the column's FieldNode in a RecordBatch */
    size_t first_buffer; /* index of its first Buffer */
} sc_column_t;

typedef struct {
    size_t ncols;
    sc_column_t *cols;
    size_t nnodes;   /* FieldNodes a RecordBatch of this schema carries */
    size_t nbuffers; /* Buffers likewise */
} sc_schema_t;

typedef struct {
    const uint8_t *validity; /* NULL: no nulls in this batch */
    const uint8_t *values;   /* fixed-width values, bit-packed bools, or offsets */
    const uint8_t *data;     /* STRING/BINARY bytes */
} sc_colview_t;

typedef struct {
    size_t nrows;
    size_t bytes; /* size of this allocation, counted against the limit */
    sc_colview_t cols[];
} sc_batch_t;

struct sc_result_s {
    bool has_schema;
    sc_schema_t schema;
    sc_batch_t **batches;
    size_t *starts; /* starts[i] = first row of batches[i] */
    size_t nbatches;
    size_t cap_batches;
    size_t nrows;
    size_t bytes; /* batch allocations + schema + index arrays */
    size_t limit; /* 0 = none */
};

/* Decodes one complete Arrow IPC stream (a Spark Connect ArrowBatch.data) and
 * appends its rows to res. The first stream fixes the schema; later ones must
 * have the same column names and types (SC_ERR_PROTOCOL otherwise). The bytes
 * are copied; data may be freed on return. All or nothing: on any error res is
 * unchanged. Errors: SC_ERR_PROTOCOL for malformed bytes, SC_ERR_UNSUPPORTED
 * for compression, dictionaries, big-endian data or types whose layout is
 * unknown, SC_ERR_LIMIT past sc_result_set_limit, SC_ERR_NOMEM. */
sc_code_t sc_result_append_ipc(sc_result_t *res, const uint8_t *data, size_t len, sc_error_t *err);

/* Frees what a schema owns and zeroes it. */
void sc_schema_free(sc_schema_t *s);

/* Little-endian loads from possibly unaligned bytes. */
static inline uint16_t sc_ld_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (unsigned)p[1] << 8);
}

static inline uint32_t sc_ld_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t sc_ld_u64(const uint8_t *p)
{
    return (uint64_t)sc_ld_u32(p) | (uint64_t)sc_ld_u32(p + 4) << 32;
}

/* Two's-complement reinterpretation without implementation-defined casts. */
static inline int64_t sc_u64_to_i64(uint64_t v)
{
    return v <= INT64_MAX ? (int64_t)v : -(int64_t)(~v) - 1;
}

static inline int32_t sc_ld_i32(const uint8_t *p)
{
    uint32_t v = sc_ld_u32(p);
    return v <= INT32_MAX ? (int32_t)v : -(int32_t)(~v) - 1;
}

static inline int64_t sc_ld_i64(const uint8_t *p)
{
    return sc_u64_to_i64(sc_ld_u64(p));
}

#endif
