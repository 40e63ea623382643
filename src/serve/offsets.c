/* The committed Kafka offsets of a prediction query, read from its
 * checkpoint. Spark's layout: offsets/<batch> is written before batch <batch>
 * runs (line 1 "v1", line 2 the batch metadata, then one line per source with
 * the offsets the batch ends at); commits/<batch> after it completed. The
 * highest committed batch's offsets are where a successor starts. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carprice/serve.h"

/* The largest all-digit file name in dir, or -1. */
static long long last_batch(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -2;
    long long best = -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (!*n || strspn(n, "0123456789") != strlen(n) || strlen(n) > 18)
            continue;
        long long v = strtoll(n, NULL, 10);
        if (v > best)
            best = v;
    }
    closedir(d);
    return best;
}

int cp_serve_committed_offsets(const char *checkpoint, char **json, char *errbuf, size_t errlen)
{
    *json = NULL;
    if (!checkpoint || !*checkpoint) {
        snprintf(errbuf, errlen, "no checkpoint directory given");
        return -1;
    }
    const char *root = checkpoint;
    if (strncmp(root, "file://", 7) == 0)
        root += 7;
    else if (strstr(root, "://")) {
        snprintf(errbuf, errlen,
                 "%s: only local checkpoints (a path or file://) can be read here; "
                 "read <checkpoint>/predictions/commits and offsets with the HDFS tools",
                 checkpoint);
        return -1;
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/predictions/commits", root);
    long long batch = last_batch(dir);
    if (batch == -2) {
        snprintf(errbuf, errlen, "%s: %s (not a serve checkpoint?)", dir, strerror(errno));
        return -1;
    }
    if (batch < 0) {
        snprintf(errbuf, errlen, "%s: no batch committed yet", dir);
        return -1;
    }
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/predictions/offsets/%lld", root, batch);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    int rc = -1;
    /* Line 3 is the first (our only) source's offsets. */
    for (int i = 0; i < 3; i++) {
        if (getline(&line, &cap, f) < 0) {
            snprintf(errbuf, errlen, "%s: fewer than 3 lines", path);
            goto done;
        }
    }
    line[strcspn(line, "\r\n")] = '\0';
    if (line[0] != '{') {
        snprintf(errbuf, errlen, "%s: line 3 is not Kafka offsets JSON", path);
        goto done;
    }
    *json = line;
    line = NULL;
    rc = 0;
done:
    free(line);
    fclose(f);
    return rc;
}
