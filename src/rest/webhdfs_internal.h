/* Private parts of the WebHDFS client, reached by the unit tests. */
#ifndef CARPRICE_WEBHDFS_INTERNAL_H
#define CARPRICE_WEBHDFS_INTERNAL_H

#include "carprice/webhdfs.h"
#include "rest_internal.h"

/* Turns a non-2xx WebHDFS answer into an error: the RemoteException body
 * ({"RemoteException": {"exception": ..., "javaClassName": ..., "message":
 * ...}}) decides the code when present, the HTTP status otherwise. */
cp_rest_code_t cp_hdfs_error_from_response(long status, const char *body, size_t len,
                                           cp_rest_error_t *err, const char *what);

/* A FileStatus JSON object as one malloc'ed block (free with free()).
 * NULL when it is malformed or memory ran out. */
cp_hdfs_file_status_t *cp_hdfs_status_from_json(const json_t *fs);

/* Appends the entries of one LISTSTATUS_BATCH page ({"DirectoryListing":
 * ...}) or LISTSTATUS answer ({"FileStatuses": ...}) to l and sets
 * *remaining (0 when the listing is complete). */
cp_rest_code_t cp_hdfs_list_add_page(cp_hdfs_list_t *l, const json_t *page, int64_t *remaining,
                                     cp_rest_error_t *err);

/* An empty list (NULL when out of memory). */
cp_hdfs_list_t *cp_hdfs_list_new(void);

#endif
