/* Query results of the Spark Connect client library.
 *
 * An sc_result_t is a table: a schema (column names and types) and every row
 * the server sent, accumulated from any number of Arrow IPC streams. Values
 * are read cell by cell with typed getters; strings and binaries are borrowed
 * from the result and stay valid until sc_result_destroy.
 *
 * Types: each column has one sc_type_t. Arrow types this library does not
 * decode (list, struct, map, interval, ...) give SC_TYPE_UNSUPPORTED: the
 * other columns still decode, and reading a cell of such a column fails with
 * SC_ERR_UNSUPPORTED. sc_result_col_arrow_type names the Arrow type.
 *
 * Threads: appending is not thread-safe. Once the last stream is appended,
 * any number of threads may read the same result concurrently (the getters
 * do not modify it). */
#ifndef SPARKCONNECT_RESULT_H
#define SPARKCONNECT_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sparkconnect/error.h"

typedef struct sc_result_s sc_result_t;

typedef enum {
    SC_TYPE_NULL, /* Spark NullType: every cell is NULL */
    SC_TYPE_BOOL, /* sc_result_get_bool */
    SC_TYPE_INT8, /* sc_result_get_int64 reads all four integer widths */
    SC_TYPE_INT16,
    SC_TYPE_INT32,
    SC_TYPE_INT64,
    SC_TYPE_FLOAT, /* sc_result_get_double reads FLOAT and DOUBLE */
    SC_TYPE_DOUBLE,
    SC_TYPE_DECIMAL,   /* sc_result_get_decimal, sc_result_get_decimal_str */
    SC_TYPE_STRING,    /* sc_result_get_string (Arrow Utf8 and LargeUtf8) */
    SC_TYPE_BINARY,    /* sc_result_get_binary (Arrow Binary and LargeBinary) */
    SC_TYPE_DATE,      /* sc_result_get_date: days since 1970-01-01 */
    SC_TYPE_TIMESTAMP, /* sc_result_get_timestamp: microseconds since the epoch, UTC */
    SC_TYPE_UNSUPPORTED,
} sc_type_t;

/* A 128-bit two's-complement integer: value = hi * 2^64 + lo. */
typedef struct {
    uint64_t lo;
    int64_t hi;
} sc_int128_t;

/* A decimal cell: the value is unscaled * 10^-scale. */
typedef struct {
    sc_int128_t unscaled;
    int32_t precision;
    int32_t scale;
} sc_decimal_t;

/* Default for sc_result_set_limit: 1 GiB of stored column data. */
#define SC_RESULT_DEFAULT_LIMIT ((size_t)1 << 30)

/* Allocates an empty result (no columns, no rows). NULL when out of memory.
 * Free it with sc_result_destroy. */
sc_result_t *sc_result_new(void);

/* Frees a result and everything borrowed from it. Accepts NULL. */
void sc_result_destroy(sc_result_t *r);

/* Caps the bytes the result may hold (column data and bookkeeping). An append
 * that would go beyond it fails with SC_ERR_LIMIT and adds nothing. 0 means no
 * cap. The default is SC_RESULT_DEFAULT_LIMIT. */
void sc_result_set_limit(sc_result_t *r, size_t max_bytes);

/* Bytes the result currently holds, as counted against the limit. */
size_t sc_result_memory_bytes(const sc_result_t *r);

/* Row and column counts; 0 for NULL or before any stream was appended. */
size_t sc_result_num_rows(const sc_result_t *r);
size_t sc_result_num_cols(const sc_result_t *r);

/* Name of column col, borrowed from r; NULL when col is out of range. Names
 * are as Spark sent them and need not be unique. */
const char *sc_result_col_name(const sc_result_t *r, size_t col);

/* Type of column col; SC_TYPE_UNSUPPORTED also when col is out of range. */
sc_type_t sc_result_col_type(const sc_result_t *r, size_t col);

/* The column's Arrow type as text, e.g. "int64", "decimal128(10, 2)",
 * "timestamp[us, tz=UTC]", "list<item: int32>". Borrowed from r; NULL when
 * col is out of range. */
const char *sc_result_col_arrow_type(const sc_result_t *r, size_t col);

/* Whether the schema marks the column nullable; false when out of range. */
bool sc_result_col_nullable(const sc_result_t *r, size_t col);

/* Time zone of a TIMESTAMP column, borrowed from r: "" for a zone-less
 * (TIMESTAMP_NTZ) column, for other types and when col is out of range. */
const char *sc_result_col_timezone(const sc_result_t *r, size_t col);

/* Precision and scale of a DECIMAL column. SC_ERR_INVALID_ARG when col is out
 * of range or not DECIMAL. */
sc_code_t sc_result_col_decimal(const sc_result_t *r, size_t col, int32_t *precision,
                                int32_t *scale, sc_error_t *err);

/* Index of the first column named exactly `name` (case-sensitive) in *out.
 * SC_ERR_NOT_FOUND when there is none; SC_ERR_INVALID_ARG for NULL arguments. */
sc_code_t sc_result_col_index(const sc_result_t *r, const char *name, size_t *out, sc_error_t *err);

/* True when the cell is NULL. False when it holds a value, and also when row or
 * col is out of range or the column is SC_TYPE_UNSUPPORTED (the getters report
 * those cases as errors). Every cell of an SC_TYPE_NULL column is NULL. */
bool sc_result_is_null(const sc_result_t *r, size_t row, size_t col);

/* Typed getters. Each returns SC_OK and fills its out-parameters, or:
 *   SC_ERR_INVALID_ARG  row/col out of range, a NULL out-parameter, a column of
 *                       another type, or a NULL cell (check sc_result_is_null);
 *   SC_ERR_UNSUPPORTED  the column's Arrow type is not decoded by this library.
 * Out-parameters are zeroed on failure. */
sc_code_t sc_result_get_bool(const sc_result_t *r, size_t row, size_t col, bool *out,
                             sc_error_t *err);

/* INT8, INT16, INT32 and INT64 cells, widened to int64_t. */
sc_code_t sc_result_get_int64(const sc_result_t *r, size_t row, size_t col, int64_t *out,
                              sc_error_t *err);

/* FLOAT and DOUBLE cells, widened to double. */
sc_code_t sc_result_get_double(const sc_result_t *r, size_t row, size_t col, double *out,
                               sc_error_t *err);

/* STRING cells: *ptr points at len bytes of UTF-8 as Spark sent them, borrowed
 * from r and NOT NUL-terminated (print with "%.*s"). Never NULL on success. */
sc_code_t sc_result_get_string(const sc_result_t *r, size_t row, size_t col, const char **ptr,
                               size_t *len, sc_error_t *err);

/* BINARY cells: *ptr points at len bytes borrowed from r. Never NULL on success. */
sc_code_t sc_result_get_binary(const sc_result_t *r, size_t row, size_t col, const uint8_t **ptr,
                               size_t *len, sc_error_t *err);

/* DATE cells as days since 1970-01-01 (negative before). Arrow date64
 * (milliseconds) is floored to whole days; SC_ERR_UNSUPPORTED when the day
 * count does not fit in int32_t. */
sc_code_t sc_result_get_date(const sc_result_t *r, size_t row, size_t col, int32_t *days,
                             sc_error_t *err);

/* TIMESTAMP cells as microseconds since 1970-01-01T00:00:00Z, whatever the
 * column's time zone (the zone only says how to display it). Other Arrow units
 * are converted (nanoseconds floored); SC_ERR_UNSUPPORTED when the value does
 * not fit in int64_t microseconds. */
sc_code_t sc_result_get_timestamp(const sc_result_t *r, size_t row, size_t col, int64_t *micros,
                                  sc_error_t *err);

/* DECIMAL cells: unscaled integer plus the column's precision and scale. */
sc_code_t sc_result_get_decimal(const sc_result_t *r, size_t row, size_t col, sc_decimal_t *out,
                                sc_error_t *err);

/* DECIMAL cells as text ("-123.45", "0.001", "12300" for scale -2) written to
 * buf and NUL-terminated. SC_ERR_LIMIT when cap is too small (buf then holds a
 * truncated prefix); 48 bytes always suffice for scales within [0, precision]. */
sc_code_t sc_result_get_decimal_str(const sc_result_t *r, size_t row, size_t col, char *buf,
                                    size_t cap, sc_error_t *err);

/* Renders any cell as text for display, NUL-terminated in buf: "NULL",
 * "true"/"false", integers, shortest round-trip floats ("NaN", "Infinity"),
 * decimals, strings as their raw bytes, binaries as "0x" + hex, dates as
 * "YYYY-MM-DD", timestamps as "YYYY-MM-DD HH:MM:SS[.ffffff]" in UTC with a "Z"
 * suffix when the column has a time zone. SC_ERR_LIMIT when cap is too small
 * (buf holds a truncated prefix); other errors as for the getters. */
sc_code_t sc_result_format_value(const sc_result_t *r, size_t row, size_t col, char *buf,
                                 size_t cap, sc_error_t *err);

/* A static lower-case name for a type, e.g. "timestamp". */
const char *sc_type_name(sc_type_t type);

#endif
