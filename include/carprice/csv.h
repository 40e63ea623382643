/* A streaming RFC 4180 CSV record reader over a FILE *.
 *
 * Reads one record at a time in constant memory (bounded by a maximum record
 * size), so files of any length stream through. Handles quoted fields with
 * embedded separators, line breaks and doubled quotes, LF and CRLF line ends,
 * a leading UTF-8 byte order mark and a last record without a line end. It is
 * lenient where the real-world files are sloppy and strict where data would be
 * lost:
 *   - a quote inside an unquoted field is kept as a literal character;
 *   - text after a closing quote (`"ab"c`) is appended to the field (`abc`);
 *   - a bare CR outside quotes ends a record, like LF or CRLF;
 *   - empty lines between records are skipped (as Spark and pandas do);
 *   - end of input inside a quoted field is an error (CP_CSV_ERR_QUOTE) whose
 *     message names the line of the opening quote; a record longer than the
 *     limit (CP_CSV_ERR_TOOBIG) names the line the record starts on.
 * Errors are sticky: once cp_csv_read failed, it keeps returning that error.
 *
 * A reader is not thread-safe; use one per thread. */
#ifndef CARPRICE_CSV_H
#define CARPRICE_CSV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
    CP_CSV_OK = 0,         /* a record was read */
    CP_CSV_END = 1,        /* no more records (not an error) */
    CP_CSV_ERR_ARG = 2,    /* invalid argument */
    CP_CSV_ERR_NOMEM = 3,  /* allocation failed */
    CP_CSV_ERR_IO = 4,     /* reading the input failed */
    CP_CSV_ERR_QUOTE = 5,  /* input ended inside a quoted field */
    CP_CSV_ERR_TOOBIG = 6, /* a record is longer than the reader's limit */
} cp_csv_err_t;

/* A static description of a result code. */
const char *cp_csv_strerror(int err);

/* The record size limit used when 0 is passed to cp_csv_reader_new. */
#define CP_CSV_DEFAULT_MAX_RECORD ((size_t)4 << 20)

typedef struct cp_csv_reader_s cp_csv_reader_t;

/* Creates a reader of `in`, which stays owned by the caller (not closed by
 * the reader; do not read it elsewhere meanwhile). `name` (copied; NULL means
 * "input") prefixes error messages. `max_record` bounds one record in bytes:
 * field contents plus one byte per field (0 = CP_CSV_DEFAULT_MAX_RECORD).
 * Returns 0 and stores the reader in *out, or CP_CSV_ERR_ARG/CP_CSV_ERR_NOMEM. */
int cp_csv_reader_new(FILE *in, const char *name, size_t max_record, cp_csv_reader_t **out);

/* Frees a reader. Accepts NULL. */
void cp_csv_reader_destroy(cp_csv_reader_t *r);

/* Reads the next record. Returns CP_CSV_OK, CP_CSV_END when the input is
 * exhausted, or an error code with a one-line message in cp_csv_error. The
 * fields of the previous record become invalid. */
int cp_csv_read(cp_csv_reader_t *r);

/* The number of fields of the current record (at least 1 after CP_CSV_OK). */
size_t cp_csv_nfields(const cp_csv_reader_t *r);

/* Field i of the current record, NUL-terminated (it may also contain NUL
 * bytes; *len, if len is non-NULL, gives its true length). An empty field is
 * "" (length 0); a field the record does not have (i >= nfields) is NULL.
 * Borrowed: valid until the next cp_csv_read or destroy. */
const char *cp_csv_field(const cp_csv_reader_t *r, size_t i, size_t *len);

/* 1 if field i was quoted in the input (so `""` can be told from an empty
 * field), 0 if not or if there is no field i. */
int cp_csv_field_quoted(const cp_csv_reader_t *r, size_t i);

/* The physical line (1-based) on which the current record starts. */
uint64_t cp_csv_record_line(const cp_csv_reader_t *r);

/* How many records were read so far (the header, if any, included). */
uint64_t cp_csv_records(const cp_csv_reader_t *r);

/* The message of the last error ("NAME:LINE: what happened"), or "" if none.
 * Borrowed for the reader's lifetime. */
const char *cp_csv_error(const cp_csv_reader_t *r);

#endif
