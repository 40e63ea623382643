/* Streaming RFC 4180 reader (see include/carprice/csv.h).
 *
 * Input is read in large blocks; the inner loops scan spans of the block with
 * memchr/byte loops and append whole spans to the record, so the cost per
 * byte stays a few instructions even for long quoted descriptions. A record's
 * fields live back to back in one buffer, each NUL-terminated, and are
 * addressed by offset because the buffer may move while it grows. */
#include "carprice/csv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define INPUT_BLOCK ((size_t)256 << 10)

typedef struct {
    size_t off; /* into rec */
    size_t len;
    int quoted;
} csv_field_t;

struct cp_csv_reader_s {
    FILE *in;
    char *name;
    size_t max_record;

    unsigned char *ib; /* input block */
    size_t ipos, ilen;
    int eof;
    int at_start; /* nothing consumed yet: a BOM may follow */

    uint64_t line; /* physical line of the next unread byte, 1-based */
    uint64_t rec_line;
    uint64_t nrecords;

    char *rec;
    size_t rec_len, rec_cap;
    csv_field_t *fields;
    size_t nfields, fields_cap;

    int err; /* sticky error, 0 if none */
    char errmsg[320];
};

const char *cp_csv_strerror(int err)
{
    switch (err) {
    case CP_CSV_OK:
        return "ok";
    case CP_CSV_END:
        return "end of input";
    case CP_CSV_ERR_ARG:
        return "invalid argument";
    case CP_CSV_ERR_NOMEM:
        return "out of memory";
    case CP_CSV_ERR_IO:
        return "read error";
    case CP_CSV_ERR_QUOTE:
        return "unterminated quoted field";
    case CP_CSV_ERR_TOOBIG:
        return "record too long";
    default:
        return "unknown error";
    }
}

int cp_csv_reader_new(FILE *in, const char *name, size_t max_record, cp_csv_reader_t **out)
{
    if (!out)
        return CP_CSV_ERR_ARG;
    *out = NULL;
    if (!in)
        return CP_CSV_ERR_ARG;
    cp_csv_reader_t *r = calloc(1, sizeof *r);
    if (!r)
        return CP_CSV_ERR_NOMEM;
    r->in = in;
    r->name = strdup(name ? name : "input");
    r->ib = malloc(INPUT_BLOCK);
    if (!r->name || !r->ib) {
        cp_csv_reader_destroy(r);
        return CP_CSV_ERR_NOMEM;
    }
    r->max_record = max_record ? max_record : CP_CSV_DEFAULT_MAX_RECORD;
    r->line = 1;
    r->at_start = 1;
    *out = r;
    return CP_CSV_OK;
}

void cp_csv_reader_destroy(cp_csv_reader_t *r)
{
    if (!r)
        return;
    free(r->name);
    free(r->ib);
    free(r->rec);
    free(r->fields);
    free(r);
}

/* Records a sticky error whose message points at `line`. */
__attribute__((format(printf, 4, 5))) static int fail(cp_csv_reader_t *r, int err, uint64_t line,
                                                      const char *fmt, ...)
{
    int n = snprintf(r->errmsg, sizeof r->errmsg, "%s:%" PRIu64 ": ", r->name, line);
    if (n < 0 || (size_t)n >= sizeof r->errmsg)
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->errmsg + n, sizeof r->errmsg - (size_t)n, fmt, ap);
    va_end(ap);
    r->err = err;
    return err;
}

/* Makes input available. Returns 1 if ipos < ilen afterwards, 0 at end of
 * input, or a negative value after recording a read error. */
static int fill(cp_csv_reader_t *r)
{
    if (r->ipos < r->ilen)
        return 1;
    if (r->eof)
        return 0;
    r->ipos = 0;
    errno = 0;
    r->ilen = fread(r->ib, 1, INPUT_BLOCK, r->in);
    if (r->ilen == 0) {
        if (ferror(r->in)) {
            fail(r, CP_CSV_ERR_IO, r->line, "read failed: %s", strerror(errno ? errno : EIO));
            return -1;
        }
        r->eof = 1;
        return 0;
    }
    if (r->at_start) {
        r->at_start = 0;
        /* A UTF-8 byte order mark is not part of the first field. A block is
         * far longer than 3 bytes, so a short first read means a short file. */
        if (r->ilen >= 3 && memcmp(r->ib, "\xEF\xBB\xBF", 3) == 0)
            r->ipos = 3;
        if (r->ipos == r->ilen)
            return fill(r);
    }
    return 1;
}

/* The next byte without consuming it, -1 at end of input, -2 on error. */
static int peek(cp_csv_reader_t *r)
{
    int f = fill(r);
    if (f <= 0)
        return f == 0 ? -1 : -2;
    return r->ib[r->ipos];
}

static int rec_reserve(cp_csv_reader_t *r, size_t more)
{
    /* +1 for the NUL of the field being built. */
    if (more > r->max_record || r->rec_len + more + 1 > r->max_record)
        return fail(r, CP_CSV_ERR_TOOBIG, r->rec_line,
                    "record longer than %zu bytes (still going on line %" PRIu64 ")", r->max_record,
                    r->line);
    size_t need = r->rec_len + more + 1;
    if (need <= r->rec_cap)
        return 0;
    size_t cap = r->rec_cap ? r->rec_cap : 4096;
    while (cap < need)
        cap *= 2;
    if (cap > r->max_record)
        cap = r->max_record;
    char *p = realloc(r->rec, cap);
    if (!p)
        return fail(r, CP_CSV_ERR_NOMEM, r->rec_line, "out of memory for a record of %zu bytes",
                    need);
    r->rec = p;
    r->rec_cap = cap;
    return 0;
}

static int rec_append(cp_csv_reader_t *r, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    int rc = rec_reserve(r, n);
    if (rc)
        return rc;
    memcpy(r->rec + r->rec_len, p, n);
    r->rec_len += n;
    return 0;
}

static int field_end(cp_csv_reader_t *r, size_t off, int quoted)
{
    int rc = rec_reserve(r, 0);
    if (rc)
        return rc;
    if (r->nfields == r->fields_cap) {
        size_t cap = r->fields_cap ? r->fields_cap * 2 : 64;
        csv_field_t *f = realloc(r->fields, cap * sizeof *f);
        if (!f)
            return fail(r, CP_CSV_ERR_NOMEM, r->rec_line, "out of memory for %zu fields", cap);
        r->fields = f;
        r->fields_cap = cap;
    }
    r->fields[r->nfields].off = off;
    r->fields[r->nfields].len = r->rec_len - off;
    r->fields[r->nfields].quoted = quoted;
    r->nfields++;
    r->rec[r->rec_len++] = '\0';
    return 0;
}

static uint64_t count_lf(const unsigned char *p, size_t n)
{
    uint64_t lines = 0;
    const unsigned char *end = p + n;
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        lines++;
        p++;
    }
    return lines;
}

/* Reads the body of a quoted field; the opening quote is consumed. Stops
 * after the closing quote. */
static int read_quoted(cp_csv_reader_t *r)
{
    uint64_t open_line = r->line;
    for (;;) {
        int f = fill(r);
        if (f < 0)
            return r->err;
        if (f == 0)
            return fail(r, CP_CSV_ERR_QUOTE, open_line,
                        "unterminated quoted field: the quote opened here is still open at "
                        "the end of input (line %" PRIu64 ")",
                        r->line);
        const unsigned char *p = r->ib + r->ipos;
        size_t avail = r->ilen - r->ipos;
        const unsigned char *q = memchr(p, '"', avail);
        size_t span = q ? (size_t)(q - p) : avail;
        r->line += count_lf(p, span);
        int rc = rec_append(r, p, span);
        if (rc)
            return rc;
        r->ipos += span;
        if (!q)
            continue;
        r->ipos++; /* the quote */
        int c = peek(r);
        if (c == -2)
            return r->err;
        if (c != '"')
            return 0; /* closing quote */
        r->ipos++;    /* doubled quote: one literal quote */
        if ((rc = rec_append(r, "\"", 1)) != 0)
            return rc;
    }
}

/* Reads unquoted text up to a separator, CR, LF or end of input, none of
 * which is consumed. Stores the terminator (or -1 at end) in *term. */
static int read_unquoted(cp_csv_reader_t *r, int *term)
{
    for (;;) {
        int f = fill(r);
        if (f < 0)
            return r->err;
        if (f == 0) {
            *term = -1;
            return 0;
        }
        const unsigned char *p = r->ib + r->ipos;
        size_t avail = r->ilen - r->ipos, i = 0;
        while (i < avail && p[i] != ',' && p[i] != '\n' && p[i] != '\r')
            i++;
        int rc = rec_append(r, p, i);
        if (rc)
            return rc;
        r->ipos += i;
        if (i < avail) {
            *term = p[i];
            return 0;
        }
    }
}

int cp_csv_read(cp_csv_reader_t *r)
{
    if (!r)
        return CP_CSV_ERR_ARG;
    if (r->err)
        return r->err;
    r->rec_len = 0;
    r->nfields = 0;

    /* Skip empty lines before the record. */
    for (;;) {
        int c = peek(r);
        if (c == -2)
            return r->err;
        if (c == -1)
            return CP_CSV_END;
        if (c == '\n') {
            r->ipos++;
            r->line++;
        } else if (c == '\r') {
            r->ipos++;
            c = peek(r);
            if (c == -2)
                return r->err;
            if (c == '\n')
                r->ipos++;
            r->line++;
        } else {
            break;
        }
    }
    r->rec_line = r->line;

    for (;;) {
        size_t off = r->rec_len;
        int quoted = 0, term, rc, c = peek(r);
        if (c == -2)
            return r->err;
        if (c == '"') {
            r->ipos++;
            quoted = 1;
            if ((rc = read_quoted(r)) != 0)
                return rc;
        }
        if ((rc = read_unquoted(r, &term)) != 0)
            return rc;
        if ((rc = field_end(r, off, quoted)) != 0)
            return rc;
        if (term == ',') {
            r->ipos++;
            continue;
        }
        if (term == '\n') {
            r->ipos++;
            r->line++;
        } else if (term == '\r') {
            r->ipos++;
            c = peek(r);
            if (c == -2)
                return r->err;
            if (c == '\n')
                r->ipos++;
            r->line++;
        }
        break;
    }
    r->nrecords++;
    return CP_CSV_OK;
}

size_t cp_csv_nfields(const cp_csv_reader_t *r)
{
    return r ? r->nfields : 0;
}

const char *cp_csv_field(const cp_csv_reader_t *r, size_t i, size_t *len)
{
    if (!r || i >= r->nfields) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = r->fields[i].len;
    return r->rec + r->fields[i].off;
}

int cp_csv_field_quoted(const cp_csv_reader_t *r, size_t i)
{
    return r && i < r->nfields ? r->fields[i].quoted : 0;
}

uint64_t cp_csv_record_line(const cp_csv_reader_t *r)
{
    return r ? r->rec_line : 0;
}

uint64_t cp_csv_records(const cp_csv_reader_t *r)
{
    return r ? r->nrecords : 0;
}

const char *cp_csv_error(const cp_csv_reader_t *r)
{
    return r && r->err ? r->errmsg : "";
}
