/* Batch names, manifests and the resume decision (see batches.h). */
#include "batches.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MANIFEST_HEADER "carprice-batch-manifest 1\n"

int cp_batch_name(unsigned n, char *buf, size_t cap)
{
    if (n == 0 || n > CP_BATCH_MAX || !buf)
        return -1;
    int len = snprintf(buf, cap, "batch-%05u", n);
    return len < 0 || (size_t)len >= cap ? -1 : 0;
}

/* Parses exactly five digits naming 1..CP_BATCH_MAX; returns the character
 * after them, or NULL. */
static const char *parse_number(const char *s, unsigned *n)
{
    unsigned v = 0;
    for (int i = 0; i < 5; i++) {
        if (s[i] < '0' || s[i] > '9')
            return NULL;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v == 0)
        return NULL;
    if (n)
        *n = v;
    return s + 5;
}

bool cp_batch_parse(const char *name, unsigned *n)
{
    if (!name || strncmp(name, "batch-", 6) != 0)
        return false;
    const char *end = parse_number(name + 6, n);
    return end && *end == '\0';
}

int cp_batch_tmp_name(unsigned n, long pid, char *buf, size_t cap)
{
    if (n == 0 || n > CP_BATCH_MAX || pid <= 0 || !buf)
        return -1;
    int len = snprintf(buf, cap, ".batch-%05u.tmp-%ld", n, pid);
    return len < 0 || (size_t)len >= cap ? -1 : 0;
}

bool cp_batch_parse_tmp(const char *name, unsigned *n, long *pid)
{
    if (!name || strncmp(name, ".batch-", 7) != 0)
        return false;
    const char *p = parse_number(name + 7, n);
    if (!p || strncmp(p, ".tmp-", 5) != 0)
        return false;
    p += 5;
    if (*p < '1' || *p > '9')
        return false;
    errno = 0;
    char *end;
    long v = strtol(p, &end, 10);
    if (errno || *end != '\0')
        return false;
    if (pid)
        *pid = v;
    return true;
}

bool cp_batch_is_data_file(const char *name)
{
    return name && *name && *name != '.' && *name != '_';
}

void cp_batch_files_free(cp_batch_file_t *files, size_t n)
{
    if (!files)
        return;
    for (size_t i = 0; i < n; i++)
        free(files[i].name);
    free(files);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const cp_batch_file_t *)a)->name, ((const cp_batch_file_t *)b)->name);
}

void cp_batch_files_sort(cp_batch_file_t *files, size_t n)
{
    if (n > 1)
        qsort(files, n, sizeof *files, by_name);
}

char *cp_batch_manifest_format(const cp_batch_file_t *files, size_t n)
{
    size_t cap = sizeof MANIFEST_HEADER;
    for (size_t i = 0; i < n; i++) {
        const char *name = files[i].name;
        if (!name || !*name || strpbrk(name, "\r\n") || files[i].size < 0)
            return NULL;
        cap += strlen(name) + 24;
    }
    /* Sort a copy of the entries (names stay borrowed). */
    cp_batch_file_t *sorted = n ? malloc(n * sizeof *sorted) : NULL;
    char *text = malloc(cap);
    if ((n && !sorted) || !text) {
        free(sorted);
        free(text);
        return NULL;
    }
    if (n)
        memcpy(sorted, files, n * sizeof *sorted);
    cp_batch_files_sort(sorted, n);
    size_t len = (size_t)snprintf(text, cap, "%s", MANIFEST_HEADER);
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len, "%" PRId64 " %s\n", sorted[i].size,
                                sorted[i].name);
    free(sorted);
    return text;
}

int cp_batch_manifest_parse(const char *text, size_t len, cp_batch_file_t **files, size_t *n)
{
    if (!text || !files || !n)
        return -1;
    *files = NULL;
    *n = 0;
    size_t hlen = strlen(MANIFEST_HEADER);
    if (len < hlen || memcmp(text, MANIFEST_HEADER, hlen) != 0)
        return -1;
    const char *p = text + hlen, *end = text + len;
    size_t lines = 0;
    for (const char *q = p; q < end; q++)
        lines += *q == '\n';
    cp_batch_file_t *out = lines ? calloc(lines, sizeof *out) : NULL;
    if (lines && !out)
        return -1;
    size_t k = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            goto bad; /* a manifest ends with a line break */
        /* "<size> <name>" */
        int64_t size = 0;
        const char *q = p;
        if (q == nl || *q < '0' || *q > '9')
            goto bad;
        while (q < nl && *q >= '0' && *q <= '9') {
            int digit = *q++ - '0';
            if (size > (INT64_MAX - digit) / 10)
                goto bad;
            size = size * 10 + digit;
        }
        if (q >= nl || *q != ' ' || q + 1 == nl)
            goto bad;
        q++;
        size_t nlen = (size_t)(nl - q);
        if (memchr(q, '\0', nlen))
            goto bad;
        out[k].name = malloc(nlen + 1);
        if (!out[k].name)
            goto bad;
        memcpy(out[k].name, q, nlen);
        out[k].name[nlen] = '\0';
        out[k].size = size;
        k++;
        p = nl + 1;
    }
    *files = out;
    *n = k;
    return 0;
bad:
    cp_batch_files_free(out, lines);
    return -1;
}

bool cp_batch_files_match(const cp_batch_file_t *want, size_t nwant, const cp_batch_file_t *got,
                          size_t ngot, char *why, size_t whycap)
{
    char dummy[1];
    if (!why || !whycap) {
        why = dummy;
        whycap = sizeof dummy;
    }
    why[0] = '\0';
    for (size_t i = 0; i < nwant; i++) {
        const cp_batch_file_t *g = NULL;
        for (size_t j = 0; j < ngot && !g; j++)
            if (strcmp(got[j].name, want[i].name) == 0)
                g = &got[j];
        if (!g) {
            snprintf(why, whycap, "%s is missing", want[i].name);
            return false;
        }
        if (g->size != want[i].size) {
            snprintf(why, whycap, "%s: %" PRId64 " bytes, expected %" PRId64, want[i].name, g->size,
                     want[i].size);
            return false;
        }
    }
    /* Every wanted name was found once; equal counts then mean no extras,
     * unless got repeats a name (which a directory listing cannot). */
    if (ngot != nwant) {
        for (size_t j = 0; j < ngot; j++) {
            bool known = false;
            for (size_t i = 0; i < nwant && !known; i++)
                known = strcmp(got[j].name, want[i].name) == 0;
            if (!known) {
                snprintf(why, whycap, "%s is not expected", got[j].name);
                return false;
            }
        }
        snprintf(why, whycap, "%zu files, expected %zu", ngot, nwant);
        return false;
    }
    return true;
}

cp_source_action_t cp_source_next(const unsigned *staged, size_t nstaged,
                                  const cp_batch_published_t *published, size_t npublished,
                                  unsigned *batch, size_t *remaining)
{
    unsigned best = 0;
    bool best_exists = false;
    size_t left = 0;
    for (size_t i = 0; i < nstaged; i++) {
        unsigned n = staged[i];
        bool exists = false, complete = false;
        for (size_t j = 0; j < npublished; j++) {
            if (published[j].n == n) {
                exists = true;
                complete = complete || published[j].complete;
            }
        }
        if (complete)
            continue;
        /* Count each staged number once even if listed twice. */
        bool dup = false;
        for (size_t k = 0; k < i && !dup; k++)
            dup = staged[k] == n;
        if (dup)
            continue;
        left++;
        if (best == 0 || n < best) {
            best = n;
            best_exists = exists;
        }
    }
    if (remaining)
        *remaining = left;
    if (best == 0)
        return CP_SOURCE_IDLE;
    if (batch)
        *batch = best;
    return best_exists ? CP_SOURCE_FINISH : CP_SOURCE_PUBLISH;
}
