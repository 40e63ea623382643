/* carprice source: publishes staged train batches to HDFS one at a time, so
 * that a batch becomes visible only when complete.
 *
 * Publishing batch N (docs/batches.md has the whole protocol):
 *   1. dest/.batch-N.tmp-<pid>/ is created and _MANIFEST (names and sizes of
 *      the data files) written into it;
 *   2. the data files go into it: copied through WebHDFS from a local staging
 *      directory, or renamed into it from a staging directory on the same HDFS;
 *   3. its listing is checked against the manifest;
 *   4. it is renamed to dest/batch-N;
 *   5. dest/batch-N/_SUCCESS is written, last.
 * Each run starts by tidying what a killed run left: temporary directories
 * are removed (files renamed out of an HDFS staging directory are first put
 * back), and a batch renamed into place but not marked is checked against
 * its manifest and marked. Readers take only directories with _SUCCESS. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "batches.h"
#include "carprice/log.h"
#include "carprice/webhdfs.h"
#include "carprice/util.h"
#include "commands.h"

/* Exit status of --once when every staged batch is already published. */
#define EXIT_NOTHING_LEFT 3
/* Largest manifest read back (a batch of thousands of files fits). */
#define MANIFEST_LIMIT (4u << 20)

typedef struct {
    bool staging_on_hdfs; /* files are renamed, not copied */
    char *staging;        /* absolute local path, or a path on HDFS */
    char *dest;           /* path on HDFS */
    long pid;
    cp_hdfs_t *h;
    cp_rest_error_t *err;
    char msg[2048]; /* why the last step failed */
    bool retriable; /* whether trying again later may work */
    int64_t files;  /* of the last batch published */
    int64_t bytes;
    bool recovered; /* the last batch was finished, not published */
} source_t;

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static int fail(source_t *s, bool retriable, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(source_t *s, bool retriable, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->msg, sizeof s->msg, fmt, ap);
    va_end(ap);
    s->retriable = retriable;
    return -1;
}

/* A WebHDFS failure: what we were doing, then the client's message. */
static int fail_hdfs(source_t *s, const char *what, const char *path)
{
    return fail(s, cp_rest_error_retriable(s->err), "%s %s: %s", what, path,
                cp_rest_error_message(s->err));
}

static int fail_nomem(source_t *s)
{
    return fail(s, false, "out of memory");
}

/* ---- listings ---- */

/* Appends a file entry (name copied). */
static int push_file(source_t *s, cp_batch_file_t **files, size_t *n, size_t *cap, const char *name,
                     int64_t size)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        cp_batch_file_t *bigger = realloc(*files, ncap * sizeof *bigger);
        if (!bigger)
            return fail_nomem(s);
        *files = bigger;
        *cap = ncap;
    }
    char *copy = strdup(name);
    if (!copy)
        return fail_nomem(s);
    (*files)[*n].name = copy;
    (*files)[*n].size = size;
    (*n)++;
    return 0;
}

/* The data files of an HDFS directory, sorted by name. */
static int hdfs_data_files(source_t *s, const char *dir, cp_batch_file_t **files, size_t *n)
{
    *files = NULL;
    *n = 0;
    size_t cap = 0;
    cp_hdfs_list_t *l = NULL;
    if (cp_hdfs_list(s->h, dir, &l, s->err) != CP_REST_OK)
        return fail_hdfs(s, "listing", dir);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < cp_hdfs_list_count(l); i++) {
        const cp_hdfs_file_status_t *st = cp_hdfs_list_at(l, i);
        if (st->type == CP_HDFS_FILE && cp_batch_is_data_file(st->name))
            rc = push_file(s, files, n, &cap, st->name, st->length);
    }
    cp_hdfs_list_destroy(l);
    if (rc != 0) {
        cp_batch_files_free(*files, *n);
        *files = NULL;
        *n = 0;
        return rc;
    }
    cp_batch_files_sort(*files, *n);
    return 0;
}

/* The data files of a local directory, sorted by name. */
static int local_data_files(source_t *s, const char *dir, cp_batch_file_t **files, size_t *n)
{
    *files = NULL;
    *n = 0;
    size_t cap = 0;
    DIR *d = opendir(dir);
    if (!d)
        return fail(s, false, "cannot read %s: %s", dir, strerror(errno));
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (!cp_batch_is_data_file(e->d_name))
            continue;
        char *p = cp_strf("%s/%s", dir, e->d_name);
        struct stat st;
        if (!p)
            rc = fail_nomem(s);
        else if (stat(p, &st) != 0)
            rc = fail(s, false, "cannot stat %s: %s", p, strerror(errno));
        else if (S_ISREG(st.st_mode))
            rc = push_file(s, files, n, &cap, e->d_name, (int64_t)st.st_size);
        free(p);
    }
    closedir(d);
    if (rc != 0) {
        cp_batch_files_free(*files, *n);
        *files = NULL;
        *n = 0;
        return rc;
    }
    cp_batch_files_sort(*files, *n);
    return 0;
}

static int staged_files(source_t *s, const char *batch_dir, cp_batch_file_t **files, size_t *n)
{
    return s->staging_on_hdfs ? hdfs_data_files(s, batch_dir, files, n)
                              : local_data_files(s, batch_dir, files, n);
}

/* The numbers of the batch directories under staging. */
static int list_staged(source_t *s, unsigned **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    int rc = 0;
    if (s->staging_on_hdfs) {
        cp_hdfs_list_t *l = NULL;
        if (cp_hdfs_list(s->h, s->staging, &l, s->err) != CP_REST_OK)
            return fail_hdfs(s, "listing staging directory", s->staging);
        for (size_t i = 0; rc == 0 && i < cp_hdfs_list_count(l); i++) {
            const cp_hdfs_file_status_t *st = cp_hdfs_list_at(l, i);
            unsigned b;
            if (st->type != CP_HDFS_DIRECTORY || !cp_batch_parse(st->name, &b))
                continue;
            if (*n == cap) {
                cap = cap ? cap * 2 : 16;
                unsigned *bigger = realloc(*out, cap * sizeof *bigger);
                if (!bigger) {
                    rc = fail_nomem(s);
                    break;
                }
                *out = bigger;
            }
            (*out)[(*n)++] = b;
        }
        cp_hdfs_list_destroy(l);
    } else {
        DIR *d = opendir(s->staging);
        if (!d)
            return fail(s, false, "cannot read staging directory %s: %s", s->staging,
                        strerror(errno));
        struct dirent *e;
        while (rc == 0 && (e = readdir(d)) != NULL) {
            unsigned b;
            if (!cp_batch_parse(e->d_name, &b))
                continue;
            char *p = cp_strf("%s/%s", s->staging, e->d_name);
            struct stat st;
            bool is_dir = p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
            free(p);
            if (!is_dir)
                continue;
            if (*n == cap) {
                cap = cap ? cap * 2 : 16;
                unsigned *bigger = realloc(*out, cap * sizeof *bigger);
                if (!bigger) {
                    rc = fail_nomem(s);
                    break;
                }
                *out = bigger;
            }
            (*out)[(*n)++] = b;
        }
        closedir(d);
    }
    if (rc != 0) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

typedef struct {
    cp_batch_published_t *published;
    size_t npublished;
    char **temps; /* names of temporary directories */
    size_t ntemps;
} dest_state_t;

static void dest_state_free(dest_state_t *d)
{
    free(d->published);
    for (size_t i = 0; i < d->ntemps; i++)
        free(d->temps[i]);
    free(d->temps);
    memset(d, 0, sizeof *d);
}

/* What dest holds: batch directories (marked or not) and temporaries. A
 * missing dest holds nothing. */
static int dest_state(source_t *s, dest_state_t *d)
{
    memset(d, 0, sizeof *d);
    cp_hdfs_list_t *l = NULL;
    cp_rest_code_t rc = cp_hdfs_list(s->h, s->dest, &l, s->err);
    if (rc == CP_REST_ERR_NOT_FOUND)
        return 0;
    if (rc != CP_REST_OK)
        return fail_hdfs(s, "listing", s->dest);
    size_t n = cp_hdfs_list_count(l);
    d->published = n ? calloc(n, sizeof *d->published) : NULL;
    d->temps = n ? calloc(n, sizeof *d->temps) : NULL;
    int ret = n && (!d->published || !d->temps) ? fail_nomem(s) : 0;
    for (size_t i = 0; ret == 0 && i < n; i++) {
        const cp_hdfs_file_status_t *st = cp_hdfs_list_at(l, i);
        unsigned b;
        if (st->type != CP_HDFS_DIRECTORY)
            continue;
        if (cp_batch_parse(st->name, &b)) {
            char *marker = cp_strf("%s/%s/%s", s->dest, st->name, CP_BATCH_MARKER);
            bool exists = false;
            if (!marker)
                ret = fail_nomem(s);
            else if (cp_hdfs_exists(s->h, marker, &exists, s->err) != CP_REST_OK)
                ret = fail_hdfs(s, "checking", marker);
            free(marker);
            d->published[d->npublished].n = b;
            d->published[d->npublished].complete = exists;
            d->npublished++;
        } else if (cp_batch_parse_tmp(st->name, NULL, NULL)) {
            if (!(d->temps[d->ntemps] = strdup(st->name)))
                ret = fail_nomem(s);
            else
                d->ntemps++;
        }
    }
    cp_hdfs_list_destroy(l);
    if (ret != 0)
        dest_state_free(d);
    return ret;
}

/* ---- recovery ---- */

/* Removes a temporary directory left by a run that died. Files renamed into
 * it from an HDFS staging directory go back there first, so nothing staged is
 * lost; copies are simply deleted (the staged originals are untouched). */
static int clean_temp(source_t *s, const char *name)
{
    unsigned b = 0;
    long pid = 0;
    cp_batch_parse_tmp(name, &b, &pid);
    char bname[CP_BATCH_NAME_CAP];
    cp_batch_name(b, bname, sizeof bname);
    char *tmp = cp_strf("%s/%s", s->dest, name);
    char *staged = cp_strf("%s/%s", s->staging, bname);
    cp_batch_file_t *files = NULL;
    size_t nfiles = 0, restored = 0;
    int rc = tmp && staged ? 0 : fail_nomem(s);
    if (rc == 0 && s->staging_on_hdfs) {
        rc = hdfs_data_files(s, tmp, &files, &nfiles);
        if (rc == 0 && nfiles && cp_hdfs_mkdirs(s->h, staged, 0, s->err) != CP_REST_OK)
            rc = fail_hdfs(s, "creating", staged);
        for (size_t i = 0; rc == 0 && i < nfiles; i++) {
            char *from = cp_strf("%s/%s", tmp, files[i].name);
            char *to = cp_strf("%s/%s", staged, files[i].name);
            cp_hdfs_file_status_t *st = NULL;
            cp_rest_code_t c = CP_REST_OK;
            if (!from || !to) {
                rc = fail_nomem(s);
            } else if ((c = cp_hdfs_stat(s->h, to, &st, s->err)) == CP_REST_OK) {
                /* Both copies exist: only possible if someone staged the file
                 * again. Keep the staged one when it is the same size. */
                if (st->length != files[i].size)
                    rc = fail(s, false,
                              "%s and %s differ (%" PRId64 " and %" PRId64
                              " bytes); resolve by hand",
                              from, to, files[i].size, st->length);
                else if (cp_hdfs_delete(s->h, from, false, NULL, s->err) != CP_REST_OK)
                    rc = fail_hdfs(s, "deleting", from);
            } else if (c != CP_REST_ERR_NOT_FOUND) {
                rc = fail_hdfs(s, "checking", to);
            } else if (cp_hdfs_rename(s->h, from, to, false, s->err) != CP_REST_OK) {
                rc = fail_hdfs(s, "moving back", from);
            } else {
                restored++;
            }
            cp_hdfs_file_status_free(st);
            free(from);
            free(to);
        }
    }
    if (rc == 0 && cp_hdfs_delete(s->h, tmp, true, NULL, s->err) != CP_REST_OK)
        rc = fail_hdfs(s, "deleting", tmp);
    if (rc == 0)
        cp_log_info("source.cleaned", "tmp=\"%s\" batch=%s left_by_pid=%ld restored_files=%zu", tmp,
                    bname, pid, restored);
    cp_batch_files_free(files, nfiles);
    free(tmp);
    free(staged);
    return rc;
}

/* Reads dir/_MANIFEST. Sets *found false (not an error) when it is absent. */
static int read_manifest(source_t *s, const char *dir, cp_batch_file_t **files, size_t *n,
                         bool *found)
{
    *files = NULL;
    *n = 0;
    *found = false;
    char *path = cp_strf("%s/%s", dir, CP_BATCH_MANIFEST);
    if (!path)
        return fail_nomem(s);
    cp_buf_t buf;
    cp_buf_init(&buf, MANIFEST_LIMIT);
    int rc = 0;
    cp_rest_code_t c = cp_hdfs_open_to_buf(s->h, path, &buf, s->err);
    if (c == CP_REST_OK) {
        *found = true;
        if (cp_batch_manifest_parse(buf.data ? buf.data : "", buf.len, files, n) != 0)
            rc = fail(s, false, "%s is not a batch manifest", path);
    } else if (c != CP_REST_ERR_NOT_FOUND) {
        rc = fail_hdfs(s, "reading", path);
    }
    cp_buf_free(&buf);
    free(path);
    return rc;
}

/* Writes dir/_SUCCESS; one that already exists counts as written. */
static int write_marker(source_t *s, const char *dir)
{
    char *path = cp_strf("%s/%s", dir, CP_BATCH_MARKER);
    if (!path)
        return fail_nomem(s);
    cp_hdfs_write_opts_t wo = {.overwrite = false};
    cp_rest_code_t c = cp_hdfs_create(s->h, path, "", 0, &wo, s->err);
    int rc = c == CP_REST_OK || c == CP_REST_ERR_EXISTS ? 0 : fail_hdfs(s, "writing", path);
    free(path);
    return rc;
}

/* dest/batch-N exists without _SUCCESS: a run died between the rename and
 * the marker. Its data files must match its manifest (or, without one, the
 * staged copies) before it is marked. */
static int finish(source_t *s, unsigned b)
{
    char bname[CP_BATCH_NAME_CAP];
    cp_batch_name(b, bname, sizeof bname);
    char *dir = cp_strf("%s/%s", s->dest, bname);
    char *staged = cp_strf("%s/%s", s->staging, bname);
    cp_batch_file_t *want = NULL, *got = NULL;
    size_t nwant = 0, ngot = 0;
    bool found = false;
    char why[512];
    int rc = dir && staged ? 0 : fail_nomem(s);
    if (rc == 0)
        rc = read_manifest(s, dir, &want, &nwant, &found);
    if (rc == 0 && !found) {
        if (s->staging_on_hdfs)
            rc = fail(s, false,
                      "%s has no %s and no %s, so it cannot be verified; move it aside and "
                      "rerun",
                      dir, CP_BATCH_MARKER, CP_BATCH_MANIFEST);
        else
            rc = staged_files(s, staged, &want, &nwant);
    }
    if (rc == 0)
        rc = hdfs_data_files(s, dir, &got, &ngot);
    if (rc == 0 && !cp_batch_files_match(want, nwant, got, ngot, why, sizeof why))
        rc = fail(s, false,
                  "%s has no %s and does not match what was published (%s); move it aside "
                  "and rerun",
                  dir, CP_BATCH_MARKER, why);
    if (rc == 0)
        rc = write_marker(s, dir);
    if (rc == 0) {
        s->files = (int64_t)ngot;
        s->bytes = 0;
        for (size_t i = 0; i < ngot; i++)
            s->bytes += got[i].size;
        s->recovered = true;
    }
    cp_batch_files_free(want, nwant);
    cp_batch_files_free(got, ngot);
    free(dir);
    free(staged);
    return rc;
}

/* ---- publishing ---- */

static int publish(source_t *s, unsigned b)
{
    char bname[CP_BATCH_NAME_CAP], tname[CP_BATCH_NAME_CAP];
    cp_batch_name(b, bname, sizeof bname);
    cp_batch_tmp_name(b, s->pid, tname, sizeof tname);
    char *staged = cp_strf("%s/%s", s->staging, bname);
    char *tmp = cp_strf("%s/%s", s->dest, tname);
    char *final = cp_strf("%s/%s", s->dest, bname);
    char *manifest_path = cp_strf("%s/%s", tmp ? tmp : "", CP_BATCH_MANIFEST);
    cp_batch_file_t *files = NULL, *got = NULL;
    size_t nfiles = 0, ngot = 0;
    char *manifest = NULL;
    char why[512];
    cp_hdfs_write_opts_t wo = {.overwrite = false};
    int rc = staged && tmp && final && manifest_path ? 0 : fail_nomem(s);

    if (rc == 0)
        rc = staged_files(s, staged, &files, &nfiles);
    if (rc == 0 && nfiles == 0)
        rc = fail(s, false, "staged batch %s has no data files", staged);
    if (rc == 0 && !(manifest = cp_batch_manifest_format(files, nfiles)))
        rc = fail(s, false,
                  "cannot write a manifest for %s (out of memory or a file name "
                  "with a line break)",
                  staged);
    if (rc == 0 && cp_hdfs_mkdirs(s->h, tmp, 0, s->err) != CP_REST_OK)
        rc = fail_hdfs(s, "creating", tmp);
    if (rc == 0 &&
        cp_hdfs_create(s->h, manifest_path, manifest, strlen(manifest), &wo, s->err) != CP_REST_OK)
        rc = fail_hdfs(s, "writing", manifest_path);
    for (size_t i = 0; rc == 0 && i < nfiles; i++) {
        char *from = cp_strf("%s/%s", staged, files[i].name);
        char *to = cp_strf("%s/%s", tmp, files[i].name);
        if (!from || !to)
            rc = fail_nomem(s);
        else if (s->staging_on_hdfs)
            rc = cp_hdfs_rename(s->h, from, to, false, s->err) == CP_REST_OK
                     ? 0
                     : fail_hdfs(s, "moving", from);
        else
            rc = cp_hdfs_create_from_file(s->h, to, from, &wo, s->err) == CP_REST_OK
                     ? 0
                     : fail_hdfs(s, "copying", from);
        free(from);
        free(to);
    }
    /* The directory must hold exactly the manifest's files before anyone can
     * see it under its final name. */
    if (rc == 0)
        rc = hdfs_data_files(s, tmp, &got, &ngot);
    if (rc == 0 && !cp_batch_files_match(files, nfiles, got, ngot, why, sizeof why))
        rc = fail(s, false, "%s does not match %s after the copy: %s", tmp, staged, why);
    if (rc == 0) {
        /* A plain HDFS rename onto an existing directory would move ours
         * inside it; the plan chose PUBLISH because there is none. */
        bool exists = true;
        if (cp_hdfs_exists(s->h, final, &exists, s->err) != CP_REST_OK)
            rc = fail_hdfs(s, "checking", final);
        else if (exists)
            rc = fail(s, false, "%s appeared while publishing (is another source running?)", final);
    }
    if (rc == 0 && cp_hdfs_rename(s->h, tmp, final, false, s->err) != CP_REST_OK)
        rc = fail_hdfs(s, "renaming", tmp);
    if (rc == 0)
        rc = write_marker(s, final);
    if (rc == 0) {
        s->files = (int64_t)nfiles;
        s->bytes = 0;
        for (size_t i = 0; i < nfiles; i++)
            s->bytes += files[i].size;
        s->recovered = false;
    }
    cp_batch_files_free(files, nfiles);
    cp_batch_files_free(got, ngot);
    free(manifest);
    free(manifest_path);
    free(staged);
    free(tmp);
    free(final);
    return rc;
}

typedef enum { CYCLE_PUBLISHED, CYCLE_IDLE, CYCLE_FAILED } cycle_t;

/* Tidies dest, then publishes (or finishes) the next batch. *left is the
 * number of staged batches still unpublished afterwards. */
static cycle_t cycle(source_t *s, size_t *left)
{
    dest_state_t d;
    unsigned *staged = NULL;
    size_t nstaged = 0, remaining = 0;
    *left = 0;
    if (dest_state(s, &d) != 0)
        return CYCLE_FAILED;
    cycle_t result = CYCLE_FAILED;
    for (size_t i = 0; i < d.ntemps; i++)
        if (clean_temp(s, d.temps[i]) != 0)
            goto done;
    if (list_staged(s, &staged, &nstaged) != 0)
        goto done;
    unsigned b = 0;
    cp_source_action_t act =
        cp_source_next(staged, nstaged, d.published, d.npublished, &b, &remaining);
    if (act == CP_SOURCE_IDLE) {
        result = CYCLE_IDLE;
        goto done;
    }
    char bname[CP_BATCH_NAME_CAP];
    cp_batch_name(b, bname, sizeof bname);
    double t0 = cp_now_s();
    if ((act == CP_SOURCE_FINISH ? finish(s, b) : publish(s, b)) != 0) {
        /* Say which batch, keeping the detail. */
        size_t blen = strlen(bname) + 2, mlen = strlen(s->msg);
        if (blen + mlen >= sizeof s->msg)
            mlen = sizeof s->msg - blen - 1;
        memmove(s->msg + blen, s->msg, mlen);
        memcpy(s->msg, bname, blen - 2);
        memcpy(s->msg + blen - 2, ": ", 2);
        s->msg[blen + mlen] = '\0';
        goto done;
    }
    *left = remaining - 1;
    cp_log_info("source.published",
                "batch=%s files=%" PRId64 " bytes=%" PRId64 " seconds=%.3f mode=%s "
                "recovered=%s left=%zu dest=\"%s/%s\"",
                bname, s->files, s->bytes, cp_now_s() - t0, s->staging_on_hdfs ? "move" : "copy",
                s->recovered ? "true" : "false", *left, s->dest, bname);
    result = CYCLE_PUBLISHED;
done:
    free(staged);
    dest_state_free(&d);
    return result;
}

/* ---- command line ---- */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: carprice source --staging DIR [--dest PATH] [--interval SECONDS | --once]\n"
            "                       [--webhdfs URL] [--user NAME]\n"
            "\n"
            "Publishes the staged train batches (DIR/batch-NNNNN/, as `carprice data split`\n"
            "writes them under OUT/train) to HDFS PATH/batch-NNNNN/, lowest number first, one\n"
            "at a time and atomically: a batch is assembled under a hidden temporary name,\n"
            "renamed into place, and marked complete with _SUCCESS last. A restart resumes:\n"
            "temporaries of a killed run are removed, a batch renamed but not marked is\n"
            "verified and marked. Run one source per destination.\n"
            "\n"
            "  --staging DIR     staged batches: a local directory (files are copied through\n"
            "                    WebHDFS and stay staged) or hdfs://HOST:PORT/PATH on the same\n"
            "                    HDFS (files are renamed into place: nothing is copied, the\n"
            "                    staged batch directory is left empty)\n"
            "  --dest PATH       HDFS directory of published batches (default /carprice/raw;\n"
            "                    hdfs://HOST:PORT/PATH is accepted)\n"
            "  --interval S      publish one batch every S seconds until all are published\n"
            "                    (default 60); SIGTERM or SIGINT stops after the batch in flight\n"
            "  --once            publish one batch and exit: 0 when one was published, 3 when\n"
            "                    nothing was left\n"
            "  --webhdfs URL     NameNode HTTP address (default $CARPRICE_WEBHDFS_URL, then\n"
            "                    http://127.0.0.1:9870)\n"
            "  --user NAME       HDFS user (default $CARPRICE_HDFS_USER, then the login name)\n"
            "\n"
            "Exit status: 0 done, 1 error, 2 usage, 3 (--once) nothing left to publish.\n"
            "Logs one line per published batch (event=source.published).\n");
}

/* "hdfs://authority/path" or "/path" -> a malloc'd "/path" without trailing
 * slashes; NULL when it is neither. */
static char *hdfs_path(const char *arg)
{
    const char *p = arg;
    if (strncmp(arg, "hdfs://", 7) == 0) {
        p = strchr(arg + 7, '/');
        if (!p)
            return NULL;
    } else if (strstr(arg, "://")) {
        return NULL;
    }
    if (*p != '/')
        return NULL;
    char *out = strdup(p);
    if (!out)
        return NULL;
    for (size_t n = strlen(out); n > 1 && out[n - 1] == '/'; n--)
        out[n - 1] = '\0';
    return out;
}

static int parse_seconds(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v > 0) || v > 86400.0 * 365)
        return -1;
    *out = v;
    return 0;
}

/* Sleeps up to secs; returns early once a stop is requested. */
static void pause_for(double secs)
{
    double until = cp_now_s() + secs;
    while (!stop_requested) {
        double left = until - cp_now_s();
        if (left <= 0)
            break;
        if (left > 0.2)
            left = 0.2;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)(left * 1e9)};
        nanosleep(&ts, NULL);
    }
}

int cmd_source(int argc, char **argv)
{
    const char *staging_arg = NULL, *dest_arg = "/carprice/raw", *url = NULL, *user = NULL;
    double interval = 60;
    bool once = false, have_interval = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--once")) {
            once = true;
        } else if (!strcmp(a, "--staging") && has_value) {
            staging_arg = argv[++i];
        } else if (!strcmp(a, "--dest") && has_value) {
            dest_arg = argv[++i];
        } else if (!strcmp(a, "--interval") && has_value) {
            if (parse_seconds(argv[++i], &interval) != 0) {
                fprintf(stderr,
                        "carprice source: --interval needs a positive number of "
                        "seconds, not '%s'\n",
                        argv[i]);
                return 2;
            }
            have_interval = true;
        } else if (!strcmp(a, "--webhdfs") && has_value) {
            url = argv[++i];
        } else if (!strcmp(a, "--user") && has_value) {
            user = argv[++i];
        } else {
            fprintf(stderr,
                    "carprice source: unknown option or missing value '%s' (see carprice "
                    "source --help)\n",
                    a);
            return 2;
        }
    }
    if (!staging_arg || !*staging_arg) {
        fprintf(stderr, "carprice source: --staging is required (see carprice source --help)\n");
        return 2;
    }
    if (once && have_interval) {
        fprintf(stderr, "carprice source: give --once or --interval, not both\n");
        return 2;
    }

    source_t s = {.pid = (long)getpid()};
    int status = 1;
    s.dest = hdfs_path(dest_arg);
    if (!s.dest || !strcmp(s.dest, "/")) {
        fprintf(stderr,
                "carprice source: --dest '%s': give an HDFS directory, /PATH or "
                "hdfs://HOST:PORT/PATH\n",
                dest_arg);
        status = 2;
        goto done;
    }
    if (strncmp(staging_arg, "hdfs://", 7) == 0) {
        s.staging_on_hdfs = true;
        s.staging = hdfs_path(staging_arg);
        if (!s.staging) {
            fprintf(stderr, "carprice source: --staging '%s': hdfs:// needs a path\n", staging_arg);
            status = 2;
            goto done;
        }
    } else {
        const char *p = staging_arg;
        if (strncmp(p, "file://", 7) == 0)
            p += 7;
        else if (strstr(p, "://")) {
            fprintf(stderr,
                    "carprice source: --staging '%s': give a local directory, file:// "
                    "or hdfs://\n",
                    staging_arg);
            status = 2;
            goto done;
        }
        s.staging = realpath(p, NULL);
        if (!s.staging) {
            fprintf(stderr, "carprice source: staging directory %s: %s\n", p, strerror(errno));
            goto done;
        }
    }
    s.err = cp_rest_error_new();
    cp_hdfs_config_t cfg = {.url = url, .user = user};
    if (!s.err || cp_hdfs_new(&cfg, &s.h, s.err) != CP_REST_OK) {
        fprintf(stderr, "carprice source: WebHDFS client: %s\n",
                s.err ? cp_rest_error_message(s.err) : "out of memory");
        goto done;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    char how[48];
    if (once)
        snprintf(how, sizeof how, "once=true");
    else
        snprintf(how, sizeof how, "interval=%g", interval);
    cp_log_info("source.start", "staging=\"%s\" dest=\"%s\" mode=%s webhdfs=\"%s\" user=\"%s\" %s",
                s.staging, s.dest, s.staging_on_hdfs ? "move" : "copy", cp_hdfs_url(s.h),
                cp_hdfs_user(s.h), how);
    int64_t published = 0;
    for (;;) {
        size_t left = 0;
        cycle_t c = cycle(&s, &left);
        if (c == CYCLE_PUBLISHED) {
            published++;
            if (once || left == 0) {
                status = 0;
                break;
            }
        } else if (c == CYCLE_IDLE) {
            if (once)
                cp_log_info("source.idle", "dest=\"%s\" reason=\"nothing left to publish\"",
                            s.dest);
            status = once ? EXIT_NOTHING_LEFT : 0;
            break;
        } else if (once || !s.retriable) {
            cp_log_error("source.failed", "retriable=%s error=\"%s\"",
                         s.retriable ? "true" : "false", s.msg);
            fprintf(stderr, "carprice source: %s\n", s.msg);
            status = 1;
            break;
        } else {
            /* HDFS unreachable or failing: the next cycle tidies and retries. */
            cp_log_warn("source.retry", "in_seconds=%.3g error=\"%s\"", interval, s.msg);
        }
        if (stop_requested) {
            status = 0;
            break;
        }
        pause_for(interval);
        if (stop_requested) {
            status = 0;
            break;
        }
    }
    if (!once || status == 0)
        cp_log_info("source.stop", "published=%" PRId64 " stopped_by_signal=%s", published,
                    stop_requested ? "true" : "false");
done:
    cp_hdfs_destroy(s.h);
    cp_rest_error_destroy(s.err);
    free(s.staging);
    free(s.dest);
    return status;
}
