/* carprice_data: a generator of synthetic used-car listings in the exact raw
 * layout of the Kaggle "US used cars" file (used_cars_data.csv): the same 66
 * columns, header, quoting, units, placeholders and missing-value patterns,
 * with prices that follow the model documented in docs/data.md.
 *
 * Output is deterministic for a seed, and every row depends only on (seed,
 * row index), so any range of rows can be produced on its own (in parallel
 * or in chunks) and concatenated into the same file. */
#ifndef CARPRICE_DATA_H
#define CARPRICE_DATA_H

#include <stdint.h>
#include <stdio.h>

#include "carprice/buf.h"

/* Result codes; 0 is success. */
typedef enum {
    CP_DATA_OK = 0,
    CP_DATA_ERR_ARG = 1,   /* invalid argument */
    CP_DATA_ERR_NOMEM = 2, /* allocation failed or buffer limit reached */
    CP_DATA_ERR_IO = 3,    /* writing the output failed */
} cp_data_err_t;

/* A static description of a result code. */
const char *cp_data_strerror(int err);

#define CP_DATA_NCOLUMNS 66

/* The name of column i (0-based, file order), or NULL if i is out of range. */
const char *cp_data_column_name(int i);

/* The header line exactly as in the raw file, with its trailing "\n". Static. */
const char *cp_data_header_line(void);

/* Listing ids are unique for row indices below this bound. */
#define CP_DATA_MAX_UNIQUE_ROWS (UINT64_C(1) << 27)

typedef struct cp_data_gen_s cp_data_gen_t;

/* Creates a generator for `seed`. On success stores it in *out and returns 0;
 * returns CP_DATA_ERR_NOMEM if memory ran out. Not thread-safe: use one
 * generator per thread (creating one is cheap). */
int cp_data_gen_new(uint64_t seed, cp_data_gen_t **out);

/* Frees a generator. Accepts NULL. */
void cp_data_gen_destroy(cp_data_gen_t *g);

/* Appends row `row` (one CSV record, possibly spanning several physical lines
 * because of quoted line breaks, terminated by "\n") to `out`. Returns 0, or
 * CP_DATA_ERR_NOMEM if `out` could not grow (it is then left unchanged). */
int cp_data_gen_append_row(cp_data_gen_t *g, uint64_t row, cp_buf_t *out);

/* What cp_data_generate did. */
typedef struct {
    uint64_t rows;  /* records written */
    uint64_t bytes; /* bytes written, header included */
    double seconds; /* wall-clock time spent */
} cp_data_stats_t;

/* Streams rows [first_row, first_row + nrows) to `out`, preceded by the header
 * line when `header` is non-zero, using a constant amount of memory. Does not
 * close or flush-sync `out` beyond fflush. Fills *stats (may be NULL) even on
 * failure. Returns 0 or a cp_data_err_t; on failure writes a one-line reason
 * to errbuf (may be NULL). */
int cp_data_generate(uint64_t seed, uint64_t first_row, uint64_t nrows, int header, FILE *out,
                     cp_data_stats_t *stats, char *errbuf, size_t errlen);

#endif
