/* A growable byte buffer with a mandatory size cap, used for every network
 * read so that no peer can make us allocate without bound. */
#ifndef CARPRICE_BUF_H
#define CARPRICE_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct {
    char *data; /* always NUL-terminated when non-NULL (terminator not counted) */
    size_t len;
    size_t cap;   /* allocated bytes */
    size_t limit; /* largest len allowed; appends beyond it fail */
} cp_buf_t;

/* Initialises an empty buffer that may grow to `limit` bytes. */
void cp_buf_init(cp_buf_t *b, size_t limit);

/* Appends n bytes. Returns 0, or -1 if the limit would be exceeded or memory
 * ran out (the buffer is unchanged then). */
int cp_buf_append(cp_buf_t *b, const void *p, size_t n);

/* Appends a printf-expanded string. Same returns as cp_buf_append. */
int cp_buf_printf(cp_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cp_buf_vprintf(cp_buf_t *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Empties the buffer, keeping its allocation. */
void cp_buf_reset(cp_buf_t *b);

/* Hands the bytes to the caller (free() them) and leaves the buffer empty. */
char *cp_buf_steal(cp_buf_t *b);

/* Frees the bytes. Accepts a zeroed or already-freed buffer. */
void cp_buf_free(cp_buf_t *b);

#endif
