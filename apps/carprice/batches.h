/* Train batches as `carprice data split` stages them and `carprice source`
 * publishes them: directory names, temporary names, the manifest published
 * with each batch, and the decision of what to publish next.
 *
 * Everything here is pure (no I/O) so that it is unit-tested on its own
 * (tests/unit/batches). The protocol these pieces serve is in docs/batches.md. */
#ifndef CARPRICE_BATCHES_H
#define CARPRICE_BATCHES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Batches are numbered 1..CP_BATCH_MAX and named "batch-" + five digits. */
#define CP_BATCH_MAX 99999u
/* Room for "batch-NNNNN" and for ".batch-NNNNN.tmp-<pid>" with any pid. */
#define CP_BATCH_NAME_CAP 48

/* Written last into a published batch; readers wait for it. */
#define CP_BATCH_MARKER "_SUCCESS"
/* Written first into a batch's temporary directory: the data files and their
 * sizes, so that a batch found renamed but unmarked can be verified. */
#define CP_BATCH_MANIFEST "_MANIFEST"

/* Writes "batch-NNNNN" for n into buf. Returns 0, or -1 when n is outside
 * 1..CP_BATCH_MAX or cap is too small. */
int cp_batch_name(unsigned n, char *buf, size_t cap);

/* True when name is exactly "batch-" followed by five digits naming 1..MAX;
 * then *n (may be NULL) is the number. */
bool cp_batch_parse(const char *name, unsigned *n);

/* Writes ".batch-NNNNN.tmp-<pid>" into buf: the hidden name a batch is
 * assembled under before it is renamed into place. Returns 0 or -1. */
int cp_batch_tmp_name(unsigned n, long pid, char *buf, size_t cap);

/* True when name has the form cp_batch_tmp_name writes; fills *n and *pid
 * (either may be NULL). */
bool cp_batch_parse_tmp(const char *name, unsigned *n, long *pid);

/* Whether a file of a batch directory is data to publish: not hidden ('.',
 * e.g. Hadoop's .crc files) and not a marker or summary ('_'). Spark's file
 * readers skip the same names. */
bool cp_batch_is_data_file(const char *name);

/* One data file of a batch. */
typedef struct {
    char *name;
    int64_t size;
} cp_batch_file_t;

/* Frees an array of files and their names. Accepts NULL. */
void cp_batch_files_free(cp_batch_file_t *files, size_t n);

/* Sorts files by name (byte order). */
void cp_batch_files_sort(cp_batch_file_t *files, size_t n);

/* The manifest text for files:
 *   carprice-batch-manifest 1
 *   <size> <name>            (one line per file, sorted by name)
 * Returns a malloc'd string, or NULL when out of memory or when a name is
 * empty or contains a line break (it could not be read back). */
char *cp_batch_manifest_format(const cp_batch_file_t *files, size_t n);

/* Parses manifest text (len bytes, need not be NUL-terminated). On success
 * *files (free with cp_batch_files_free) holds *n entries in file order and
 * 0 is returned; -1 when the text is not a manifest or out of memory. */
int cp_batch_manifest_parse(const char *text, size_t len, cp_batch_file_t **files, size_t *n);

/* Whether got holds exactly the names and sizes of want (any order). When
 * not, why (may be NULL) receives the first difference, e.g.
 * "part-0001.csv: 10 bytes, expected 12". */
bool cp_batch_files_match(const cp_batch_file_t *want, size_t nwant, const cp_batch_file_t *got,
                          size_t ngot, char *why, size_t whycap);

/* A batch directory found under the publish destination. */
typedef struct {
    unsigned n;
    bool complete; /* it holds CP_BATCH_MARKER */
} cp_batch_published_t;

typedef enum {
    CP_SOURCE_IDLE = 0, /* every staged batch is published */
    CP_SOURCE_PUBLISH,  /* publish *batch: copy, rename, mark */
    CP_SOURCE_FINISH,   /* *batch was renamed into place but not marked: verify, mark */
} cp_source_action_t;

/* The resume decision: the lowest staged batch whose published directory is
 * not complete. FINISH when that directory exists (a run died between the
 * rename and the marker), PUBLISH when it does not. staged and published may
 * be in any order; *remaining (may be NULL) counts the staged batches not yet
 * complete, including the one chosen. */
cp_source_action_t cp_source_next(const unsigned *staged, size_t nstaged,
                                  const cp_batch_published_t *published, size_t npublished,
                                  unsigned *batch, size_t *remaining);

#endif
