/* A C client for HDFS over WebHDFS (the NameNode's REST API, /webhdfs/v1),
 * with the two helpers the watchers need: listing complete batch directories
 * and writing a small file atomically.
 *
 * Data operations (create, append, open) follow the NameNode's redirect to a
 * DataNode themselves, so data never passes through the NameNode. Requests
 * carry `user.name` (simple authentication).
 *
 * Errors: every fallible call returns a cp_rest_code_t (see carprice/http.h);
 * the optional cp_rest_error_t carries the class and message of the server's
 * RemoteException, e.g. "FileNotFoundException" (CP_REST_ERR_NOT_FOUND).
 *
 * Ownership: inputs are copied; results belong to the caller and the strings
 * they hold are borrowed for the result's lifetime.
 *
 * Threads: a cp_hdfs_t is not thread-safe; use one per thread. */
#ifndef CARPRICE_WEBHDFS_H
#define CARPRICE_WEBHDFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carprice/buf.h"
#include "carprice/http.h"

typedef struct cp_hdfs_s cp_hdfs_t;

typedef struct {
    /* The NameNode's HTTP address. NULL: $CARPRICE_WEBHDFS_URL, else
     * http://127.0.0.1:9870. */
    const char *url;
    /* The HDFS user. NULL: $CARPRICE_HDFS_USER, else the current user's name. */
    const char *user;
    /* Transport options; NULL for cp_http_options_init's defaults. */
    const cp_http_options_t *http;
} cp_hdfs_config_t;

/* Creates a client. cfg may be NULL. No request is sent until the first call. */
cp_rest_code_t cp_hdfs_new(const cp_hdfs_config_t *cfg, cp_hdfs_t **out, cp_rest_error_t *err);

/* Frees the client. Accepts NULL. */
void cp_hdfs_destroy(cp_hdfs_t *h);

/* The NameNode URL and the user name in use, borrowed from h. */
const char *cp_hdfs_url(const cp_hdfs_t *h);
const char *cp_hdfs_user(const cp_hdfs_t *h);

typedef enum {
    CP_HDFS_FILE = 0,
    CP_HDFS_DIRECTORY,
    CP_HDFS_SYMLINK,
} cp_hdfs_type_t;

/* One file's status. Strings are borrowed from the object holding it. */
typedef struct {
    const char *name; /* the last path component ("" for cp_hdfs_stat) */
    cp_hdfs_type_t type;
    int64_t length;
    int64_t modification_time_ms;
    int64_t access_time_ms;
    const char *owner;
    const char *group;
    unsigned permission; /* e.g. 0755 */
    int replication;
    int64_t block_size;
    int64_t children; /* directories: number of entries, else 0 */
} cp_hdfs_file_status_t;

/* The status of path. CP_REST_ERR_NOT_FOUND when it does not exist. Free *out
 * with cp_hdfs_file_status_free. */
cp_rest_code_t cp_hdfs_stat(cp_hdfs_t *h, const char *path, cp_hdfs_file_status_t **out,
                            cp_rest_error_t *err);
void cp_hdfs_file_status_free(cp_hdfs_file_status_t *st);

/* Sets *exists; a missing path is not an error. */
cp_rest_code_t cp_hdfs_exists(cp_hdfs_t *h, const char *path, bool *exists, cp_rest_error_t *err);

typedef struct cp_hdfs_list_s cp_hdfs_list_t;

/* Lists a directory, page by page, sorted by name (HDFS order). */
cp_rest_code_t cp_hdfs_list(cp_hdfs_t *h, const char *path, cp_hdfs_list_t **out,
                            cp_rest_error_t *err);
void cp_hdfs_list_destroy(cp_hdfs_list_t *l);
size_t cp_hdfs_list_count(const cp_hdfs_list_t *l);
/* Borrowed from l; NULL past the end. */
const cp_hdfs_file_status_t *cp_hdfs_list_at(const cp_hdfs_list_t *l, size_t i);

/* Creates a directory and its missing parents; permission 0 = server default. */
cp_rest_code_t cp_hdfs_mkdirs(cp_hdfs_t *h, const char *path, unsigned permission,
                              cp_rest_error_t *err);

typedef struct {
    bool overwrite;      /* replace an existing file (else CP_REST_ERR_EXISTS) */
    unsigned permission; /* 0 = server default */
    int replication;     /* 0 = server default */
} cp_hdfs_write_opts_t;

/* Creates a file with the given bytes. opts may be NULL (no overwrite). */
cp_rest_code_t cp_hdfs_create(cp_hdfs_t *h, const char *path, const void *data, size_t len,
                              const cp_hdfs_write_opts_t *opts, cp_rest_error_t *err);

/* Creates a file from a local file, streamed. */
cp_rest_code_t cp_hdfs_create_from_file(cp_hdfs_t *h, const char *path, const char *local_path,
                                        const cp_hdfs_write_opts_t *opts, cp_rest_error_t *err);

/* Appends bytes to an existing file. Never resent automatically: a failure may
 * or may not have appended. */
cp_rest_code_t cp_hdfs_append(cp_hdfs_t *h, const char *path, const void *data, size_t len,
                              cp_rest_error_t *err);

/* Reads a whole file into out, which must be initialised; its limit bounds
 * the read (CP_REST_ERR_LIMIT when the file is larger). */
cp_rest_code_t cp_hdfs_open_to_buf(cp_hdfs_t *h, const char *path, cp_buf_t *out,
                                   cp_rest_error_t *err);

/* Streams a whole file to local_path (temporary name, renamed when complete). */
cp_rest_code_t cp_hdfs_open_to_file(cp_hdfs_t *h, const char *path, const char *local_path,
                                    cp_rest_error_t *err);

/* Renames src to dst. With overwrite an existing dst file (or empty
 * directory) is replaced atomically. CP_REST_ERR_FAILED when HDFS refuses
 * without saying why (plain rename: dst exists or its parent is missing). */
cp_rest_code_t cp_hdfs_rename(cp_hdfs_t *h, const char *src, const char *dst, bool overwrite,
                              cp_rest_error_t *err);

/* Deletes path (a directory only with recursive). deleted may be NULL; it is
 * set false when there was nothing to delete, which is not an error. */
cp_rest_code_t cp_hdfs_delete(cp_hdfs_t *h, const char *path, bool recursive, bool *deleted,
                              cp_rest_error_t *err);

typedef struct {
    int64_t length;
    int64_t file_count;
    int64_t directory_count;
    int64_t quota; /* -1 when none */
    int64_t space_consumed;
    int64_t space_quota; /* -1 when none */
} cp_hdfs_content_summary_t;

cp_rest_code_t cp_hdfs_content_summary(cp_hdfs_t *h, const char *path,
                                       cp_hdfs_content_summary_t *out, cp_rest_error_t *err);

/* ---- helpers for the watchers ---- */

/* The subdirectories of dir that contain a file named marker (NULL:
 * "_SUCCESS"), sorted by name. A missing dir is CP_REST_ERR_NOT_FOUND. */
cp_rest_code_t cp_hdfs_list_complete_dirs(cp_hdfs_t *h, const char *dir, const char *marker,
                                          cp_hdfs_list_t **out, cp_rest_error_t *err);

/* Writes path so that readers see either the old content or all of the new:
 * the bytes go to a hidden temporary file in the same directory, which is
 * then renamed over path. The temporary file is removed on failure. */
cp_rest_code_t cp_hdfs_write_atomic(cp_hdfs_t *h, const char *path, const void *data, size_t len,
                                    cp_rest_error_t *err);

#endif
